"""Classes used by several modules (types.asciidoc and friends)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from emulator.ocpi.models.base import OcpiModel, OpenEnum
from emulator.ocpi.types import URL, CiString, Number, String

CountryCode = CiString(2)
PartyId = CiString(3)
Id36 = CiString(36)


class DisplayText(OcpiModel):
    language: Annotated[str, StringConstraints(max_length=2)]
    text: String(512)


class GeoLocation(OcpiModel):
    latitude: Annotated[
        str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")
    ]
    longitude: Annotated[
        str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")
    ]


ImageCategory = OpenEnum(
    "ImageCategory", "CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"
)


class Image(OcpiModel):
    url: URL
    thumbnail: URL | None = None
    category: ImageCategory
    type: CiString(4)
    width: Annotated[int, Field(ge=0, le=99999)] | None = None
    height: Annotated[int, Field(ge=0, le=99999)] | None = None


class BusinessDetails(OcpiModel):
    name: String(100)
    website: URL | None = None
    logo: Image | None = None


class PriceV221(OcpiModel):
    """2.2.1 Price: amounts excluding and including VAT."""

    excl_vat: Number
    incl_vat: Number | None = None


class TaxAmount(OcpiModel):
    name: String()
    account_number: String() | None = None
    percentage: Number | None = None
    amount: Number


class PriceV230(OcpiModel):
    """2.3.0 Price: amount before taxes and the list of taxes (breaking change from 2.2.1)."""

    before_taxes: Number
    taxes: list[TaxAmount] | None = None


class PriceLimit(OcpiModel):
    """2.3.0 Tariff min_price / max_price."""

    before_taxes: Number
    after_taxes: Number | None = None


InterfaceRole = Literal["SENDER", "RECEIVER"]
