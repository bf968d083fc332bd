"""Sessions module objects (mod_sessions.asciidoc; 2.1.1: mod_sessions.md).

2.2.1 and 2.3.0 differ in the Price shape of ``total_cost`` and the TokenType of ``cdr_token``.
2.1.1 has ``start_datetime``/``end_datetime``, ``auth_id``, an embedded Location and a plain
number ``total_cost`` (excluding VAT).
"""

from __future__ import annotations

from typing import Annotated, Literal

from emulator.ocpi.models.base import OcpiModel
from emulator.ocpi.models.cdrs import (
    AuthMethod,
    AuthMethodV211,
    CdrTokenV221,
    CdrTokenV230,
    ChargingPeriod,
    ChargingPeriodV211,
)
from emulator.ocpi.models.common import CountryCode, Id36, PartyId, PriceV221, PriceV230
from emulator.ocpi.models.locations import LocationV211
from emulator.ocpi.models.tokens import ProfileType
from emulator.ocpi.types import DateTime, Number, Str

# The Reservation prose says "RESERVED"; the enum value is RESERVATION.
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"]
SessionStatusV211 = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING"]
ChargingPreferencesResponse = Literal[
    "ACCEPTED",
    "DEPARTURE_REQUIRED",
    "ENERGY_NEED_REQUIRED",
    "NOT_POSSIBLE",
    "PROFILE_TYPE_NOT_SUPPORTED",
]

__all__ = [
    "ChargingPreferences",
    "ChargingPreferencesResponse",
    "ProfileType",
    "SessionStatus",
    "SessionStatusV211",
    "SessionV211",
    "SessionV221",
    "SessionV230",
]


class ChargingPreferences(OcpiModel):
    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None
    discharge_allowed: bool | None = None


class _Session(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    id: Id36
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    auth_method: AuthMethod
    authorization_reference: Id36 | None = None
    location_id: Id36
    # "#NA" while a reservation has no EVSE assigned.
    evse_uid: Id36
    connector_id: Id36
    meter_id: Annotated[str, Str(255)] | None = None
    currency: Annotated[str, Str(3)]
    charging_periods: list[ChargingPeriod] | None = None
    status: SessionStatus
    last_updated: DateTime


class SessionV221(_Session):
    cdr_token: CdrTokenV221
    # Omitted does not mean free; 0 does.
    total_cost: PriceV221 | None = None


class SessionV230(_Session):
    cdr_token: CdrTokenV230
    total_cost: PriceV230 | None = None


class SessionV211(OcpiModel):
    id: Annotated[str, Str(36)]
    start_datetime: DateTime
    end_datetime: DateTime | None = None
    kwh: Number
    auth_id: Annotated[str, Str(36)]
    auth_method: AuthMethodV211
    location: LocationV211
    meter_id: Annotated[str, Str(255)] | None = None
    currency: Annotated[str, Str(3)]
    charging_periods: list[ChargingPeriodV211] | None = None
    # Excluding VAT.
    total_cost: Number | None = None
    status: SessionStatusV211
    last_updated: DateTime
