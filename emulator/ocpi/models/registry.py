"""Which model class parses which OCPI object in which version.

``model_for("2.3.0", "Tariff")`` is how version-independent code (module handlers, the journey,
conformance checks) finds the right class. An object that does not exist in a version (for
example ``Terminal`` in 2.1.1, ``CdrToken`` in 2.1.1, ``CommandResult`` in 2.1.1, where the
callback is a CommandResponse) raises :class:`KeyError`. The table names module and class;
the module is imported when a model of it is first asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator.ocpi.models.base import OcpiModel

_V211: dict[str, tuple[str, str]] = {
    "Location": ("locations", "LocationV211"),
    "EVSE": ("locations", "EVSEV211"),
    "Connector": ("locations", "ConnectorV211"),
    "Session": ("sessions", "SessionV211"),
    "CDR": ("cdrs", "CDRV211"),
    "Tariff": ("tariffs", "TariffV211"),
    "Token": ("tokens", "TokenV211"),
    "AuthorizationInfo": ("tokens", "AuthorizationInfoV211"),
    "LocationReferences": ("tokens", "LocationReferencesV211"),
    "CommandResponse": ("commands", "CommandResponseV211"),
    "StartSession": ("commands", "StartSessionV211"),
    "StopSession": ("commands", "StopSessionV211"),
    "ReserveNow": ("commands", "ReserveNowV211"),
    "UnlockConnector": ("commands", "UnlockConnectorV211"),
    "ChargingPeriod": ("cdrs", "ChargingPeriodV211"),
}

_V221: dict[str, tuple[str, str]] = {
    "Location": ("locations", "LocationV221"),
    "EVSE": ("locations", "EVSEV221"),
    "Connector": ("locations", "ConnectorV221"),
    "Session": ("sessions", "SessionV221"),
    "ChargingPreferences": ("sessions", "ChargingPreferences"),
    "CDR": ("cdrs", "CDRV221"),
    "Tariff": ("tariffs", "TariffV221"),
    "Token": ("tokens", "TokenV221"),
    "AuthorizationInfo": ("tokens", "AuthorizationInfoV221"),
    "LocationReferences": ("tokens", "LocationReferences"),
    "CommandResponse": ("commands", "CommandResponse"),
    "CommandResult": ("commands", "CommandResult"),
    "StartSession": ("commands", "StartSessionV221"),
    "StopSession": ("commands", "StopSession"),
    "ReserveNow": ("commands", "ReserveNowV221"),
    "CancelReservation": ("commands", "CancelReservation"),
    "UnlockConnector": ("commands", "UnlockConnector"),
    "Price": ("common", "PriceV221"),
    "ChargingPeriod": ("cdrs", "ChargingPeriod"),
    "CdrToken": ("cdrs", "CdrTokenV221"),
    # The Payments module on 2.2.1 (Payter's "Direct Payment 2.2.1" extension).
    "Terminal": ("payments", "Terminal"),
    "TerminalActivation": ("payments", "TerminalActivation"),
    "FinancialAdviceConfirmation": ("payments", "FinancialAdviceConfirmationV221"),
}

_V230: dict[str, tuple[str, str]] = {
    **_V221,
    "Location": ("locations", "LocationV230"),
    "EVSE": ("locations", "EVSEV230"),
    "Connector": ("locations", "ConnectorV230"),
    "Session": ("sessions", "SessionV230"),
    "CDR": ("cdrs", "CDRV230"),
    "Tariff": ("tariffs", "TariffV230"),
    "Token": ("tokens", "TokenV230"),
    "AuthorizationInfo": ("tokens", "AuthorizationInfoV230"),
    "StartSession": ("commands", "StartSessionV230"),
    "ReserveNow": ("commands", "ReserveNowV230"),
    "Price": ("common", "PriceV230"),
    "CdrToken": ("cdrs", "CdrTokenV230"),
    "Terminal": ("payments", "Terminal"),
    "TerminalActivation": ("payments", "TerminalActivation"),
    "FinancialAdviceConfirmation": ("payments", "FinancialAdviceConfirmation"),
}

_WHERE: dict[str, dict[str, tuple[str, str]]] = {
    "2.1.1": _V211,
    "2.2.1": _V221,
    "2.3.0": _V230,
}


def model_for(version: str, name: str) -> type[OcpiModel]:
    """The model of object ``name`` (as the spec names it) in OCPI ``version``.

    Raises :class:`KeyError` for an unknown version or an object the version does not have.
    """
    found = _FOUND.get((version, name))
    if found is not None:
        return found
    try:
        module, cls = _WHERE[version][name]
    except KeyError:
        raise KeyError(f"OCPI {version} has no {name} object") from None
    # The model modules are imported on first use: a server that never sees a CDR never
    # builds the CDR classes (start-up stays near the import floor).
    found = getattr(importlib.import_module(f"emulator.ocpi.models.{module}"), cls)
    _FOUND[(version, name)] = found
    return found


# (version, name) -> model, once imported: import_module costs a lock and a lookup per call.
_FOUND: dict[tuple[str, str], type[OcpiModel]] = {}
