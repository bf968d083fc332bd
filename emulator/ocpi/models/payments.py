"""Payments module objects (mod_payments.asciidoc): OCPI 2.3.0's Payments package, and the
same module on 2.2.1 (Payter's "Direct Payment 2.2.1": the module's text was first written for
2.2.1, its example URLs say so; on 2.2.1 its Price is 2.2.1's ``excl_vat``/``incl_vat``).

The PTP owns Terminals and FinancialAdviceConfirmations (FACs). Two places where the module's
own examples disagree with its tables are handled here:

* ``Terminal.last_updated`` is required by the table, but the minimal-create and assignment
  examples leave it out. It is optional in the model; callers that care report its absence.
* ``FinancialAdviceConfirmation.total_costs`` is a 2.3.0 Price, but every FAC example uses the
  2.2.1 shape (``excl_vat``/``incl_vat``). Both are accepted in either version; the shape of
  the other version is noted as rule OCPI-40.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag

from emulator.ocpi.models.base import OcpiModel
from emulator.ocpi.models.common import (
    CountryCode,
    GeoLocation,
    Id36,
    PartyId,
    PriceV221,
    PriceV230,
)
from emulator.ocpi.types import URL, Ci, DateTime, note

InvoiceCreator = Literal["CPO", "PTP"]
CaptureStatusCode = Literal["SUCCESS", "PARTIAL_SUCCESS", "FAILED"]

# CiString[1..255]: ASCII only, so a currency sign such as "€" is not allowed.
EftLine = Annotated[Annotated[str, Ci(255)], Field(min_length=1)]


class TerminalActivation(OcpiModel):
    """Body of ``POST {terminals}/activate``: a Terminal without ``terminal_id``.

    The PTP assigns the id; a CPO that sends one anyway has it type-checked and kept.
    """

    terminal_id: Id36 | None = None
    customer_reference: Id36 | None = None
    party_id: PartyId | None = None
    country_code: CountryCode | None = None
    address: Annotated[str, Ci(45)] | None = None
    city: Annotated[str, Ci(45)] | None = None
    postal_code: Annotated[str, Ci(10)] | None = None
    state: Annotated[str, Ci(20)] | None = None
    country: Annotated[str, Ci(3)] | None = None
    coordinates: GeoLocation | None = None
    # With invoice_creator CPO, the invoice is at invoice_base_url + authorization_reference.
    invoice_base_url: URL | None = None
    invoice_creator: InvoiceCreator | None = None
    # The PTP's mapping value, for example a serial number from the OEM.
    reference: Id36 | None = None
    location_ids: list[Id36] | None = None
    evse_uids: list[Id36] | None = None
    # Required by the table; optional here because the spec's own examples omit it.
    last_updated: DateTime | None = None


class Terminal(TerminalActivation):
    terminal_id: Id36


def _price_shape(value: Any) -> str:
    if isinstance(value, dict) and "before_taxes" not in value and "excl_vat" in value:
        return "2.2.1"
    if isinstance(value, PriceV221):
        return "2.2.1"
    return "2.3.0"


def _noting_other_shape(version: str) -> Callable[[Any], Any]:
    def check(value: PriceV230 | PriceV221) -> PriceV230 | PriceV221:
        shape = "2.2.1" if isinstance(value, PriceV221) else "2.3.0"
        if shape != version:
            fields = "excl_vat/incl_vat" if shape == "2.2.1" else "before_taxes/taxes"
            why = " (accepted: the spec's own examples do)" if version == "2.3.0" else " (accepted)"
            note(
                "OCPI-40",
                f"FinancialAdviceConfirmation.total_costs uses the {shape} Price shape "
                f"({fields}) in {version}{why}",
            )
        return value

    return check


FacPrice = Annotated[
    Annotated[PriceV230, Tag("2.3.0")] | Annotated[PriceV221, Tag("2.2.1")],
    Discriminator(_price_shape),
    AfterValidator(_noting_other_shape("2.3.0")),
]
FacPriceV221 = Annotated[
    Annotated[PriceV230, Tag("2.3.0")] | Annotated[PriceV221, Tag("2.2.1")],
    Discriminator(_price_shape),
    AfterValidator(_noting_other_shape("2.2.1")),
]


class FinancialAdviceConfirmation(OcpiModel):
    """2.3.0: ``total_costs`` is a 2.3.0 Price (the 2.2.1 shape of the examples is accepted)."""

    id: Id36
    # The value the PTP gave in StartSession; also in the Session and the CDR.
    authorization_reference: Id36
    # What was actually captured: a consumer price including VAT.
    total_costs: FacPrice
    currency: Annotated[str, Ci(3)]
    eft_data: Annotated[list[EftLine], Field(min_length=1)]
    capture_status_code: CaptureStatusCode
    capture_status_message: Annotated[Annotated[str, Ci(255)], Field(min_length=1)] | None = None
    last_updated: DateTime


class FinancialAdviceConfirmationV221(FinancialAdviceConfirmation):
    """2.2.1: ``total_costs`` is a 2.2.1 Price (the 2.3.0 shape is accepted, noted)."""

    total_costs: FacPriceV221
