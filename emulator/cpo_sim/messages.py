"""The request bodies the simulated CPO receives, as pydantic models.

Only what a CPO receives from an eMSP or PTP (mod_commands, mod_tokens, mod_payments): the
command bodies, Tokens, Terminals and Financial Advice Confirmations, for 2.2.1 and 2.3.0
(where they differ only in the TokenType values). Parsing is permissive the project's way
(:mod:`emulator.ocpi.models.base`): unknown fields are kept, closed enums are checked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from emulator.ocpi.models.base import OcpiModel
from emulator.ocpi.models.common import (
    CountryCode,
    Id36,
    PartyId,
    PriceV221,
    PriceV230,
)
from emulator.ocpi.types import URL, CiString, DateTime, String, note

TOKEN_TYPES_221 = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
TOKEN_TYPES_230 = ("AD_HOC_USER", "APP_USER", "EMAID", "OTHER", "RFID")
WhitelistType = Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
COMMAND_TYPES = (
    "CANCEL_RESERVATION",
    "RESERVE_NOW",
    "START_SESSION",
    "STOP_SESSION",
    "UNLOCK_CONNECTOR",
)


def token_type_ok(value: str, version: str) -> bool:
    """TokenType is an enum in 2.2.1 and an OpenEnum in 2.3.0 (types.asciidoc)."""
    if version == "2.2.1":
        return value in TOKEN_TYPES_221
    if value not in TOKEN_TYPES_230:
        note("OCPI-11b", f"{value!r} is not a listed TokenType value (accepted: OpenEnum)")
    return True


class Token(OcpiModel):
    """mod_tokens, Token (2.2.1 and 2.3.0)."""

    country_code: CountryCode
    party_id: PartyId
    uid: Id36
    type: String(20)
    contract_id: Id36
    visual_number: String(64) | None = None
    issuer: String(64)
    group_id: Id36 | None = None
    valid: bool
    whitelist: WhitelistType
    language: String(2) | None = None
    default_profile_type: Literal["CHEAP", "FAST", "GREEN", "REGULAR"] | None = None
    energy_contract: dict[str, Any] | None = None
    last_updated: DateTime


class TokenPatch(OcpiModel):
    """A Token PATCH: any field, and last_updated, which a PATCH SHALL carry (mod_tokens)."""

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    uid: Id36 | None = None
    type: String(20) | None = None
    contract_id: Id36 | None = None
    visual_number: String(64) | None = None
    issuer: String(64) | None = None
    group_id: Id36 | None = None
    valid: bool | None = None
    whitelist: WhitelistType | None = None
    language: String(2) | None = None
    last_updated: DateTime | None = None


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: Id36
    evse_uid: Id36 | None = None
    connector_id: Id36 | None = None
    authorization_reference: Id36 | None = None


class StopSession(OcpiModel):
    response_url: URL
    session_id: Id36


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: Id36
    location_id: Id36
    evse_uid: Id36 | None = None
    authorization_reference: Id36 | None = None


class CancelReservation(OcpiModel):
    response_url: URL
    reservation_id: Id36


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: Id36
    evse_uid: Id36
    connector_id: Id36


COMMAND_MODELS: dict[str, type[OcpiModel]] = {
    "START_SESSION": StartSession,
    "STOP_SESSION": StopSession,
    "RESERVE_NOW": ReserveNow,
    "CANCEL_RESERVATION": CancelReservation,
    "UNLOCK_CONNECTOR": UnlockConnector,
}


class GeoLocation(OcpiModel):
    latitude: String(10)
    longitude: String(11)


class Terminal(OcpiModel):
    """mod_payments, Terminal. ``last_updated`` is required by the table but the spec's own
    minimal create example has none, so a missing one is accepted."""

    terminal_id: Id36
    customer_reference: Id36 | None = None
    party_id: PartyId | None = None
    country_code: CountryCode | None = None
    address: CiString(45) | None = None
    city: CiString(45) | None = None
    postal_code: CiString(10) | None = None
    state: CiString(20) | None = None
    country: CiString(3) | None = None
    coordinates: GeoLocation | None = None
    invoice_base_url: URL | None = None
    invoice_creator: Literal["CPO", "PTP"] | None = None
    reference: Id36 | None = None
    location_ids: list[Id36] | None = None
    evse_uids: list[Id36] | None = None
    last_updated: DateTime | None = None


class FinancialAdviceConfirmation(OcpiModel):
    """mod_payments, FinancialAdviceConfirmation. ``total_costs`` is a Price; both the 2.3.0
    shape and the 2.2.1 shape of the spec's own examples are accepted (ocpi.md §4.4)."""

    id: Id36
    authorization_reference: Id36
    total_costs: PriceV230 | PriceV221
    currency: CiString(3)
    eft_data: Annotated[list[Annotated[CiString(255), Field(min_length=1)]], Field(min_length=1)]
    capture_status_code: Literal["SUCCESS", "PARTIAL_SUCCESS", "FAILED"]
    capture_status_message: CiString(255) | None = None
    last_updated: DateTime

    @field_validator("total_costs")
    @classmethod
    def _price(cls, value: PriceV230 | PriceV221) -> PriceV230 | PriceV221:
        if isinstance(value, PriceV221):
            note("OCPI-40", "total_costs uses the 2.2.1 Price shape (excl_vat/incl_vat)")
        return value
