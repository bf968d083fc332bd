"""Classes used by several modules (types.asciidoc and friends)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from emulator.coverage import checked
from emulator.ocpi.models.base import Lenient, OcpiModel, Open, refuse
from emulator.ocpi.types import URL, Ci, Number, Str, note

# ISO 3166-1 alpha-2 and the ISO 15118 party id: exactly 2 and 3 characters (checklist #10).
CountryCode = Annotated[str, Ci(2, min_length=2)]
PartyId = Annotated[str, Ci(3, min_length=3)]
Id36 = Annotated[str, Ci(36)]


class DisplayText(OcpiModel):
    language: Annotated[str, StringConstraints(max_length=2)]
    text: Annotated[str, Str(512)]


class GeoLocation(OcpiModel):
    latitude: Annotated[
        str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")
    ]
    longitude: Annotated[
        str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")
    ]


IMAGE_CATEGORIES = ("CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER")
ImageCategory = Annotated[str, Open("ImageCategory", *IMAGE_CATEGORIES)]


class Image(OcpiModel):
    url: URL
    thumbnail: URL | None = None
    category: ImageCategory
    type: Annotated[str, Ci(4)]
    width: Annotated[int, Field(ge=0, le=99999)] | None = None
    height: Annotated[int, Field(ge=0, le=99999)] | None = None


class BusinessDetails(OcpiModel):
    name: Annotated[str, Str(100)]
    website: URL | None = None
    logo: Image | None = None


class ImageV221(Image):
    """Image of 2.1.1/2.2.1, where ImageCategory is still a closed enum."""

    category: Annotated[str, Lenient("ImageCategory", *IMAGE_CATEGORIES)]


class BusinessDetailsV221(BusinessDetails):
    logo: ImageV221 | None = None


_PRICE_V221_FIELDS = ("excl_vat", "incl_vat")
_PRICE_V230_FIELDS = ("before_taxes", "taxes")


def _check_price_shape(data: Any, *, own: str, foreign: tuple[str, ...], what: str) -> Any:
    """Refuse a Price of the other version's shape (types.asciidoc §Price; checklist #40).

    2.2.1 has ``excl_vat``/``incl_vat``, 2.3.0 ``before_taxes``/``taxes``: a breaking change,
    so an object of one version carrying the other's shape is invalid. An object that has its
    own version's amount plus stray fields of the other shape is accepted with a note.
    """
    checked("OCPI-40")
    if isinstance(data, dict):
        strays = [key for key in foreign if key in data]
        if strays and own not in data:
            refuse(
                "price_shape",
                f"{what} has the shape of the other OCPI version ({', '.join(strays)} "
                f"instead of {own})",
                "OCPI-40",
            )
        if strays:
            note("OCPI-40", f"{what} mixes both Price shapes ({own} and {', '.join(strays)})")
    return data


class PriceV221(OcpiModel):
    """2.2.1 Price: amounts excluding and including VAT."""

    excl_vat: Number
    incl_vat: Number | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        return _check_price_shape(
            data, own="excl_vat", foreign=_PRICE_V230_FIELDS, what="a 2.2.1 Price"
        )


class TaxAmount(OcpiModel):
    name: Annotated[str, Str()]
    account_number: Annotated[str, Str()] | None = None
    percentage: Number | None = None
    amount: Number


class PriceV230(OcpiModel):
    """2.3.0 Price: amount before taxes and the list of taxes (breaking change from 2.2.1)."""

    before_taxes: Number
    taxes: list[TaxAmount] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        return _check_price_shape(
            data, own="before_taxes", foreign=_PRICE_V221_FIELDS, what="a 2.3.0 Price"
        )


class PriceLimit(OcpiModel):
    """2.3.0 Tariff min_price / max_price."""

    before_taxes: Number
    after_taxes: Number | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        return _check_price_shape(
            data, own="before_taxes", foreign=_PRICE_V221_FIELDS, what="a 2.3.0 PriceLimit"
        )


def _check_hour_minute(value: str) -> str:
    # "24:00" is a common way to write the end of the day; the regex only allows 00:00.
    if value == "24:00":
        note("OCPI-10", "'24:00' is not a valid time of day (the spec writes 00:00)")
    return value


HourMinute = Annotated[
    str,
    StringConstraints(max_length=5, pattern=r"^(([0-1][0-9]|2[0-3]):[0-5][0-9]|24:00)$"),
    AfterValidator(_check_hour_minute),
]
"""``string(5)`` time of day ``HH:MM`` (RegularHours, TariffRestrictions)."""

InterfaceRole = Literal["SENDER", "RECEIVER"]
