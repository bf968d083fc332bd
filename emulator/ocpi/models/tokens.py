"""Tokens module objects (mod_tokens.asciidoc; 2.1.1: mod_tokens.md).

2.2.1 and 2.3.0 differ only in TokenType (2.3.0 adds ``EMAID`` and makes it an OpenEnum).
2.1.1 has no owner ids, calls the contract id ``auth_id`` and has a smaller AuthorizationInfo.
"""

from __future__ import annotations

from typing import Annotated, Literal

from emulator.ocpi.models.base import Lenient, OcpiModel, Open
from emulator.ocpi.models.common import CountryCode, DisplayText, Id36, PartyId
from emulator.ocpi.types import DateTime, Str

TOKEN_TYPES_V211 = ("OTHER", "RFID")
TOKEN_TYPES_V221 = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
TOKEN_TYPES_V230 = ("AD_HOC_USER", "APP_USER", "EMAID", "OTHER", "RFID")

TokenTypeV211 = Annotated[str, Lenient("TokenType", *TOKEN_TYPES_V211)]
TokenTypeV221 = Annotated[str, Lenient("TokenType", *TOKEN_TYPES_V221)]
TokenTypeV230 = Annotated[str, Open("TokenType", *TOKEN_TYPES_V230)]

WhitelistType = Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
AllowedType = Literal["ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"]
# Defined by the Sessions module (charging preferences); used here by Token.
ProfileType = Literal["CHEAP", "FAST", "GREEN", "REGULAR"]


class EnergyContract(OcpiModel):
    supplier_name: Annotated[str, Str(64)]
    contract_id: Annotated[str, Str(64)] | None = None


class LocationReferences(OcpiModel):
    """Body of a real-time authorization request (2.2.1/2.3.0)."""

    location_id: Id36
    evse_uids: list[Id36] | None = None


class LocationReferencesV211(OcpiModel):
    location_id: Annotated[str, Str(39)]
    evse_uids: list[Annotated[str, Str(39)]] | None = None
    connector_ids: list[Annotated[str, Str(36)]] | None = None


class _Token(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    uid: Id36
    contract_id: Id36
    visual_number: Annotated[str, Str(64)] | None = None
    issuer: Annotated[str, Str(64)]
    group_id: Id36 | None = None
    valid: bool
    whitelist: WhitelistType
    language: Annotated[str, Str(2)] | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class TokenV221(_Token):
    type: TokenTypeV221


class TokenV230(_Token):
    type: TokenTypeV230


class TokenV211(OcpiModel):
    uid: Annotated[str, Str(36)]
    type: TokenTypeV211
    auth_id: Annotated[str, Str(36)]
    visual_number: Annotated[str, Str(64)] | None = None
    issuer: Annotated[str, Str(64)]
    valid: bool
    whitelist: WhitelistType
    language: Annotated[str, Str(2)] | None = None
    last_updated: DateTime


class _AuthorizationInfo(OcpiModel):
    allowed: AllowedType
    location: LocationReferences | None = None
    authorization_reference: Id36 | None = None
    info: DisplayText | None = None


class AuthorizationInfoV221(_AuthorizationInfo):
    token: TokenV221


class AuthorizationInfoV230(_AuthorizationInfo):
    token: TokenV230


class AuthorizationInfoV211(OcpiModel):
    allowed: AllowedType
    location: LocationReferencesV211 | None = None
    info: DisplayText | None = None
