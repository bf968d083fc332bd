"""CDRs module objects (mod_cdrs.asciidoc; 2.1.1: mod_cdrs.md), also used by Sessions.

2.2.1 and 2.3.0 differ in the Price shape of every cost field, in the embedded Tariffs and in the
enums of CdrToken/CdrLocation. 2.1.1 embeds the Location, identifies the token by ``auth_id``,
has a plain-number ``total_cost`` (excluding VAT) and ends with ``stop_date_time``.
The arithmetic checks of a CDR are in :func:`emulator.ocpi.pricing.check_cdr_totals`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from emulator.ocpi.models.base import OcpiModel
from emulator.ocpi.models.common import (
    CountryCode,
    GeoLocation,
    Id36,
    PartyId,
    PriceV221,
    PriceV230,
)
from emulator.ocpi.models.locations import (
    ConnectorFormat,
    ConnectorTypeV221,
    ConnectorTypeV230,
    LocationV211,
    PowerType,
)
from emulator.ocpi.models.tariffs import TariffV211, TariffV221, TariffV230
from emulator.ocpi.models.tokens import TokenTypeV221, TokenTypeV230
from emulator.ocpi.types import Ci, DateTime, Number, Str, Tolerant, note

AuthMethod = Literal["AUTH_REQUEST", "COMMAND", "WHITELIST"]
AuthMethodV211 = Literal["AUTH_REQUEST", "WHITELIST"]
CdrDimensionType = Literal[
    "CURRENT",
    "ENERGY",
    "ENERGY_EXPORT",
    "ENERGY_IMPORT",
    "MAX_CURRENT",
    "MIN_CURRENT",
    "MAX_POWER",
    "MIN_POWER",
    "PARKING_TIME",
    "POWER",
    "RESERVATION_TIME",
    "STATE_OF_CHARGE",
    "TIME",
]
CdrDimensionTypeV211 = Literal[
    "ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"
]
SESSION_ONLY_DIMENSIONS = frozenset(
    {"CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"}
)
"""CdrDimensionTypes that a Session may carry but a CDR SHALL NOT (mod_cdrs)."""

# CdrLocation copies Location.address/state, but the errata that raised those limits
# (45 → 255, 20 → 45) did not raise them here: accept the longer copies with a note.
_CDR_ADDRESS = Annotated[
    str, Tolerant(45, 255, "CdrLocation.address; only Location.address was raised")
]
_CDR_STATE = Annotated[str, Tolerant(20, 45, "CdrLocation.state; only Location.state was raised")]


class CdrDimension(OcpiModel):
    type: CdrDimensionType
    volume: Number


class CdrDimensionV211(OcpiModel):
    type: CdrDimensionTypeV211
    volume: Number


class ChargingPeriod(OcpiModel):
    """A period ends where the next one starts; the last ends with the session."""

    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: Id36 | None = None


class ChargingPeriodV211(OcpiModel):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimensionV211], Field(min_length=1)]


class SignedValue(OcpiModel):
    nature: Annotated[str, Ci(32)]
    # string(512) in the original texts; the errata raised it to 5000.
    plain_data: Annotated[str, Str(5000)]
    signed_data: Annotated[str, Str(5000)]


class SignedData(OcpiModel):
    encoding_method: Annotated[str, Ci(36)]
    encoding_method_version: int | None = None
    public_key: Annotated[str, Str(512)] | None = None
    signed_values: Annotated[list[SignedValue], Field(min_length=1)]
    url: Annotated[str, Str(512)] | None = None


class _CdrToken(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    uid: Id36
    contract_id: Id36


class CdrTokenV221(_CdrToken):
    type: TokenTypeV221


class CdrTokenV230(_CdrToken):
    type: TokenTypeV230


class _CdrLocation(OcpiModel):
    id: Id36
    name: Annotated[str, Str(255)] | None = None
    address: _CDR_ADDRESS
    city: Annotated[str, Str(45)]
    postal_code: Annotated[str, Str(10)] | None = None
    state: _CDR_STATE | None = None
    country: Annotated[str, Str(3)]
    coordinates: GeoLocation
    # "#NA" for a reservation-only CDR (no EVSE assigned).
    evse_uid: Id36
    evse_id: Annotated[str, Ci(48)]
    connector_id: Id36
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class CdrLocationV221(_CdrLocation):
    connector_standard: ConnectorTypeV221


class CdrLocationV230(_CdrLocation):
    connector_standard: ConnectorTypeV230


class _CDR(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    # 39 leaves room for a credit CDR's suffix; a normal CDR id is at most 36.
    id: Annotated[str, Ci(39)]
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: Id36 | None = None
    auth_method: AuthMethod
    authorization_reference: Id36 | None = None
    meter_id: Annotated[str, Str(255)] | None = None
    currency: Annotated[str, Str(3)]
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    signed_data: SignedData | None = None
    total_energy: Number
    total_time: Number
    total_parking_time: Number | None = None
    remark: Annotated[str, Str(255)] | None = None
    invoice_reference_id: Annotated[str, Ci(39)] | None = None
    credit: bool | None = None
    credit_reference_id: Annotated[str, Ci(39)] | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _credit_fields(self) -> _CDR:
        # mod_cdrs §Credit CDRs, checklist #37.
        if self.credit and not self.credit_reference_id:
            note("OCPI-37", "a credit CDR (credit = true) needs credit_reference_id")
        if not self.credit and len(self.id) > 36:
            note("OCPI-37", f"a normal (non-credit) CDR id is at most 36 characters: {self.id!r}")
        return self


class CDRV221(_CDR):
    cdr_token: CdrTokenV221
    cdr_location: CdrLocationV221
    tariffs: list[TariffV221] | None = None
    total_cost: PriceV221
    total_fixed_cost: PriceV221 | None = None
    total_energy_cost: PriceV221 | None = None
    total_time_cost: PriceV221 | None = None
    total_parking_cost: PriceV221 | None = None
    total_reservation_cost: PriceV221 | None = None


class CDRV230(_CDR):
    cdr_token: CdrTokenV230
    cdr_location: CdrLocationV230
    tariffs: list[TariffV230] | None = None
    total_cost: PriceV230
    total_fixed_cost: PriceV230 | None = None
    total_energy_cost: PriceV230 | None = None
    total_time_cost: PriceV230 | None = None
    total_parking_cost: PriceV230 | None = None
    total_reservation_cost: PriceV230 | None = None


class CDRV211(OcpiModel):
    id: Annotated[str, Ci(36)]
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: Annotated[str, Str(36)]
    auth_method: AuthMethodV211
    location: LocationV211
    meter_id: Annotated[str, Str(255)] | None = None
    currency: Annotated[str, Str(3)]
    tariffs: list[TariffV211] | None = None
    charging_periods: Annotated[list[ChargingPeriodV211], Field(min_length=1)]
    # Excluding VAT.
    total_cost: Number
    total_energy: Number
    total_time: Number
    total_parking_time: Number | None = None
    remark: Annotated[str, Str(255)] | None = None
    last_updated: DateTime
