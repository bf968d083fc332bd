"""Tariffs module objects (mod_tariffs.asciidoc; 2.1.1: mod_tariffs.md).

2.3.0 adds ``tax_included`` (required), turns ``min_price``/``max_price`` into PriceLimit and,
in the Payments package, adds ``preauthorize_amount``. 2.2.1 prices its limits with the 2.2.1
Price. 2.1.1 has no owner ids, type, limits, VAT, validity period or current/reservation
restrictions. How a tariff is applied is in :mod:`emulator.ocpi.pricing`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from emulator.ocpi.models.base import OcpiModel
from emulator.ocpi.models.common import (
    CountryCode,
    DisplayText,
    HourMinute,
    Id36,
    PartyId,
    PriceLimit,
    PriceV221,
)
from emulator.ocpi.models.locations import EnergyMixV211, EnergyMixV221, EnergyMixV230
from emulator.ocpi.types import URL, DateTime, Number, Str

TariffDimensionType = Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
TariffType = Literal["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]
TaxIncluded = Literal["YES", "NO", "N/A"]
ReservationRestrictionType = Literal["RESERVATION", "RESERVATION_EXPIRES"]
DayOfWeek = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]

LocalDate = Annotated[
    str,
    StringConstraints(
        max_length=10, pattern=r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
    ),
]
"""``string(10)`` date ``YYYY-MM-DD`` in the Location's local time (TariffRestrictions)."""


class PriceComponent(OcpiModel):
    """Price per unit of one dimension. 2.2.1: excluding VAT; 2.3.0: per ``tax_included``."""

    type: TariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: int


class PriceComponentV211(OcpiModel):
    type: TariffDimensionType
    price: Number
    step_size: int


class TariffRestrictionsV211(OcpiModel):
    start_time: HourMinute | None = None
    end_time: HourMinute | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[DayOfWeek] | None = None


class TariffRestrictions(TariffRestrictionsV211):
    """All set fields must match (logical AND); they switch an element on and off during a
    session rather than selecting it for the whole session."""

    min_current: Number | None = None
    max_current: Number | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class TariffElementV211(OcpiModel):
    price_components: Annotated[list[PriceComponentV211], Field(min_length=1)]
    restrictions: TariffRestrictionsV211 | None = None


class _Tariff(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    id: Id36
    currency: Annotated[str, Str(3)]
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    last_updated: DateTime


class TariffV221(_Tariff):
    min_price: PriceV221 | None = None
    max_price: PriceV221 | None = None
    energy_mix: EnergyMixV221 | None = None


class TariffV230(_Tariff):
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    # Payments package only: what a Payment Terminal Provider should pre-authorize.
    preauthorize_amount: Number | None = None
    tax_included: TaxIncluded
    energy_mix: EnergyMixV230 | None = None


class TariffV211(OcpiModel):
    id: Annotated[str, Str(36)]
    currency: Annotated[str, Str(3)]
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    elements: Annotated[list[TariffElementV211], Field(min_length=1)]
    energy_mix: EnergyMixV211 | None = None
    last_updated: DateTime
