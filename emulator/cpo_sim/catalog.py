"""The simulated CPO's Locations and Tariffs: fixtures in, OCPI objects per version out.

The fixtures are written in the OCPI 2.3.0 shape. The 2.2.1 shape is derived here, field by
field from the changelog (ocpi.md §4.10): Locations lose what 2.3.0 added (``parking_places``,
``help_phone``, ``EVSE.parking``, ``EVSE.accepted_service_providers``,
``Connector.capabilities``); Tariffs lose ``tax_included`` and ``preauthorize_amount``, and
``min_price``/``max_price`` turn from PriceLimit into the 2.2.1 Price (``excl_vat``,
``incl_vat``). Money goes the same way through :func:`price_for`.

Pure functions over plain dicts; nothing here touches the store or the network.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

from emulator import jsonio
from emulator.settings import version_key

# Capabilities that tell a PTP the EVSE takes ad-hoc card payments (mod_locations, Capability).
CARD_PAYMENT = frozenset(
    {
        "CHIP_CARD_SUPPORT",
        "CONTACTLESS_CARD_SUPPORT",
        "CREDIT_CARD_PAYABLE",
        "DEBIT_CARD_PAYABLE",
        "PED_TERMINAL",
    }
)

_LOCATION_230_ONLY = ("parking_places", "help_phone")
_EVSE_230_ONLY = ("parking", "accepted_service_providers")
_CONNECTOR_230_ONLY = ("capabilities",)
_TARIFF_230_ONLY = ("tax_included", "preauthorize_amount")


def modern(version: str) -> bool:
    """2.3.0 shapes (Price with taxes, PriceLimit, Parking...)?"""
    return version_key(version) >= (2, 3)


# --- fixtures --------------------------------------------------------------------------------


def fixtures_dir(path: Path | None) -> Any:
    """The directory to read: the given one, or the packaged ``fixtures/cpo_sim``."""
    if path is not None:
        return path
    from emulator.fixtures import fixtures_dir as bundled

    return bundled() / "cpo_sim"


def load(path: Path | None, name: str) -> list[dict[str, Any]]:
    text = fixtures_dir(path).joinpath(name).read_text(encoding="utf-8")
    data = jsonio.loads(text)
    if not isinstance(data, list):
        raise ValueError(f"{name}: a JSON list of objects was expected")
    return data


def stamp_owner(obj: dict[str, Any], country_code: str, party_id: str) -> dict[str, Any]:
    """Locations and Tariffs carry the owning CPO's ids first (mod_locations, mod_tariffs)."""
    return {"country_code": country_code, "party_id": party_id, **obj}


# --- per-version shapes ----------------------------------------------------------------------


def location_for(location: dict[str, Any], version: str) -> dict[str, Any]:
    if modern(version):
        return location
    out = {k: v for k, v in location.items() if k not in _LOCATION_230_ONLY}
    out["evses"] = [evse_for(e, version) for e in location.get("evses") or []]
    return out


def evse_for(evse: dict[str, Any], version: str) -> dict[str, Any]:
    if modern(version):
        return evse
    out = {k: v for k, v in evse.items() if k not in _EVSE_230_ONLY}
    out["connectors"] = [connector_for(c, version) for c in evse.get("connectors") or []]
    return out


def connector_for(connector: dict[str, Any], version: str) -> dict[str, Any]:
    if modern(version):
        return connector
    return {k: v for k, v in connector.items() if k not in _CONNECTOR_230_ONLY}


def tariff_for(tariff: dict[str, Any], version: str) -> dict[str, Any]:
    if modern(version):
        return tariff
    out = {k: v for k, v in tariff.items() if k not in _TARIFF_230_ONLY}
    for key in ("min_price", "max_price"):
        limit = tariff.get(key)
        if limit is not None:
            # 2.2.1 Price: excl_vat 1, incl_vat ? (types.asciidoc).
            price: dict[str, Any] = {"excl_vat": limit["before_taxes"]}
            if limit.get("after_taxes") is not None:
                price["incl_vat"] = limit["after_taxes"]
            out[key] = price
    return out


def price_for(before_taxes: Decimal, taxes: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """A Price: 2.3.0 ``before_taxes`` + ``taxes[]``, 2.2.1 ``excl_vat`` + ``incl_vat``."""
    if modern(version):
        return {"before_taxes": before_taxes, "taxes": taxes}
    return {
        "excl_vat": before_taxes,
        "incl_vat": before_taxes + sum((Decimal(t["amount"]) for t in taxes), Decimal(0)),
    }


# --- look-ups ---------------------------------------------------------------------------------


def find_evse(location: dict[str, Any], evse_uid: str) -> dict[str, Any] | None:
    wanted = evse_uid.casefold()
    return next(
        (e for e in location.get("evses") or [] if str(e["uid"]).casefold() == wanted), None
    )


def find_connector(evse: dict[str, Any], connector_id: str) -> dict[str, Any] | None:
    wanted = connector_id.casefold()
    return next(
        (c for c in evse.get("connectors") or [] if str(c["id"]).casefold() == wanted), None
    )


def takes_cards(evse: dict[str, Any]) -> bool:
    return bool(CARD_PAYMENT & set(evse.get("capabilities") or []))


def cdr_location(
    location: dict[str, Any], evse: dict[str, Any], connector: dict[str, Any]
) -> dict[str, Any]:
    """CdrLocation as it is at session start (mod_cdrs, CdrLocation)."""
    out: dict[str, Any] = {"id": location["id"]}
    if location.get("name"):
        out["name"] = location["name"]
    # CdrLocation.address stays string(45) in every erratum (ocpi.md §3.3).
    out["address"] = str(location["address"])[:45]
    out["city"] = location["city"]
    for key in ("postal_code", "state"):
        if location.get(key):
            out[key] = location[key]
    out["country"] = location["country"]
    out["coordinates"] = copy.deepcopy(location["coordinates"])
    out["evse_uid"] = evse["uid"]
    out["evse_id"] = evse.get("evse_id") or evse["uid"]
    out["connector_id"] = connector["id"]
    out["connector_standard"] = connector["standard"]
    out["connector_format"] = connector["format"]
    out["connector_power_type"] = connector["power_type"]
    return out


# --- Sessions and CDRs: Price fields per version ------------------------------------------------

_SESSION_PRICES = ("total_cost",)
_CDR_PRICES = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def price_v221(price: dict[str, Any]) -> dict[str, Any]:
    """A 2.3.0 Price (before_taxes + taxes[]) as the 2.2.1 Price (excl_vat + incl_vat)."""
    before = Decimal(str(price["before_taxes"]))
    taxes = sum((Decimal(str(t["amount"])) for t in price.get("taxes") or []), Decimal(0))
    return {"excl_vat": before, "incl_vat": before + taxes}


def _prices_for(obj: dict[str, Any], fields: tuple[str, ...], version: str) -> dict[str, Any]:
    if modern(version):
        return obj
    out = dict(obj)
    for key in fields:
        if out.get(key) is not None:
            out[key] = price_v221(out[key])
    return out


def session_for(session: dict[str, Any], version: str) -> dict[str, Any]:
    return _prices_for(session, _SESSION_PRICES, version)


def cdr_for(cdr: dict[str, Any], version: str) -> dict[str, Any]:
    out = _prices_for(cdr, _CDR_PRICES, version)
    if not modern(version) and out.get("tariffs"):
        out["tariffs"] = [tariff_for(t, version) for t in out["tariffs"]]
    return out
