"""Versions module (version_information_endpoint.asciidoc) and Credentials, per version."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from emulator.coverage import checked
from emulator.ocpi.models.base import OcpiModel, Open, refuse
from emulator.ocpi.models.common import (
    BusinessDetails,
    BusinessDetailsV221,
    CountryCode,
    InterfaceRole,
    PartyId,
)
from emulator.ocpi.types import URL, Ci, note

VersionNumber = Annotated[
    str, Open("VersionNumber", "2.0", "2.1", "2.1.1", "2.2", "2.2.1", "2.3.0")
]
ModuleID = Annotated[
    str,
    Open(
        "ModuleID",
        "cdrs",
        "chargingprofiles",
        "commands",
        "credentials",
        "hubclientinfo",
        "locations",
        "sessions",
        "tariffs",
        "tokens",
        # Packages of 2.3.0 that the ModuleID table does not list.
        "payments",
        "invoicereconciliation",
    ),
]

# Printable, non-whitespace ASCII (credentials.asciidoc, Credentials.token).
CredentialsToken = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[!-~]+$")
]


class Version(OcpiModel):
    version: VersionNumber
    url: URL


class Endpoint(OcpiModel):
    identifier: ModuleID
    role: InterfaceRole
    url: URL


class EndpointV211(OcpiModel):
    identifier: ModuleID
    url: URL


class VersionDetails(OcpiModel):
    version: VersionNumber
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]


class VersionDetailsV211(OcpiModel):
    version: VersionNumber
    endpoints: Annotated[list[EndpointV211], Field(min_length=1)]


ROLES_221 = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")
ROLES_230 = ("CPO", "EMSP", "NAP", "NSP", "OTHER", "SCSP")
ROLE_ENUM = {"2.2.1": ROLES_221, "2.3.0": ROLES_230}


def _role_checker(allowed: tuple[str, ...], version: str):  # type: ignore[no-untyped-def]
    def check(value: str) -> str:
        checked("OCPI-18", "OCPI-19")
        if value in allowed:
            return value
        if value == "PTP":
            # terminology.asciidoc names the PTP role; the Role enum has no such value.
            note("OCPI-19", f"role 'PTP' is not in the {version} Role enum (accepted)")
            return value
        if value == "HUB":
            # 2.3.0 removed HUB: a hub sets hub_party_id and lists the parties it reaches.
            refuse(
                "enum",
                f"role 'HUB' does not exist in OCPI {version}: a hub sets hub_party_id and "
                "lists the parties it reaches as roles",
                "OCPI-18",
            )
        raise PydanticCustomError(
            "enum",
            "role must be one of {allowed} in OCPI {version}",
            {"allowed": ", ".join(allowed), "version": version},
        )

    return check


class CredentialsRoleV221(OcpiModel):
    role: str
    business_details: BusinessDetailsV221
    party_id: PartyId
    country_code: CountryCode

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        return _role_checker(ROLES_221, "2.2.1")(value)


class CredentialsRoleV230(OcpiModel):
    role: str
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        return _role_checker(ROLES_230, "2.3.0")(value)


class CredentialsV221(OcpiModel):
    token: CredentialsToken
    url: URL
    roles: Annotated[list[CredentialsRoleV221], Field(min_length=1)]


class CredentialsV230(OcpiModel):
    token: CredentialsToken
    url: URL
    hub_party_id: Annotated[str, Ci(5)] | None = None
    roles: Annotated[list[CredentialsRoleV230], Field(min_length=1)]


class CredentialsV211(OcpiModel):
    token: CredentialsToken
    url: URL
    business_details: BusinessDetailsV221
    party_id: PartyId
    country_code: CountryCode


Credentials = CredentialsV211 | CredentialsV221 | CredentialsV230

CREDENTIALS_MODEL: dict[str, type[OcpiModel]] = {
    "2.1.1": CredentialsV211,
    "2.2.1": CredentialsV221,
    "2.3.0": CredentialsV230,
}

DETAILS_MODEL: dict[str, type[OcpiModel]] = {
    "2.1.1": VersionDetailsV211,
    "2.2.1": VersionDetails,
    "2.3.0": VersionDetails,
}

Direction = Literal["in", "out"]
