"""What the simulated CPO bills for a session under a tariff (mod_tariffs, mod_cdrs).

The tariff arithmetic itself is the project's one implementation, :mod:`emulator.ocpi.pricing`
(element selection, restrictions, ``step_size`` once per session, taxes per ``tax_included``,
``min_price``/``max_price``), applied to the session's charging periods exactly as the CDR
reports them. So a peer that recomputes the cost from the CDR gets the CDR's numbers.

What the CPO adds here:

* The CDR's ``total_cost`` is the sum of its per-dimension costs (``total_fixed_cost``,
  ``total_energy_cost``, ``total_time_cost``, ``total_parking_cost``), each rounded to cents
  with its taxes, so the totals add up to the cent. Only a ``min_price``/``max_price`` bound
  makes the total differ from that sum (mod_tariffs, Tariff).
* Quantities are reported the way the CDR needs them: energy in whole Wh as kWh, time in
  hours with 4 decimals (types.asciidoc, number).
* :func:`stop_limit`: the amount at which a card session must stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from emulator.ocpi import pricing

HOURS_PLACES = Decimal("0.0001")

# CDR cost field → the TariffDimensionType it prices, and the CostBreakdown attribute.
DIMENSIONS = (
    ("total_fixed_cost", "FLAT", "fixed"),
    ("total_energy_cost", "ENERGY", "energy"),
    ("total_time_cost", "TIME", "time"),
    ("total_parking_cost", "PARKING_TIME", "parking"),
)


def hours(seconds: int) -> Decimal:
    """Seconds as OCPI hours with 4 decimals."""
    return (Decimal(seconds) / 3600).quantize(HOURS_PLACES, rounding=ROUND_HALF_UP)


def kwh(wh: int) -> Decimal:
    return Decimal(wh) / 1000


@dataclass(frozen=True)
class Bill:
    """The costs of one session so far (or in the end), per CDR cost field and in total."""

    currency: str
    costs: dict[str, pricing.Cost]  # CDR field → cost, for the dimensions the tariff prices
    total: pricing.Cost
    bounded: str | None = None  # "min_price" / "max_price" when a bound set the total


def bill(
    tariff: dict[str, Any],
    periods: list[dict[str, Any]],
    *,
    start: datetime,
    end: datetime,
    time_zone: str,
    bounded: bool = True,
) -> Bill:
    """Price the CDR-style ``periods`` of a session from ``start`` to ``end``."""
    breakdown = pricing.price_session(
        tariff,
        periods,
        version="2.3.0",
        time_zone=time_zone,
        start=start,
        end=end,
        apply_price_limits=bounded,
    )
    priced = {
        pc.get("type")
        for element in tariff.get("elements") or []
        for pc in element.get("price_components") or []
    }
    costs = {
        field: getattr(breakdown, attr)
        for field, dimension, attr in DIMENSIONS
        if dimension in priced
    }
    total = breakdown.total if breakdown.price_limit else _sum(costs.values())
    return Bill(str(tariff.get("currency", "EUR")), costs, total, breakdown.price_limit)


def _sum(costs: Any) -> pricing.Cost:
    before = Decimal("0.00")
    taxes: dict[tuple[str, Decimal | None], Decimal] = {}
    for cost in costs:
        before += cost.before_taxes
        for tax in cost.taxes:
            key = (tax.name, tax.percentage)
            taxes[key] = taxes.get(key, Decimal(0)) + tax.amount
    tax_list = tuple(pricing.Tax(pct, amount, name) for (name, pct), amount in taxes.items())
    return pricing.Cost(before, before + sum(taxes.values(), Decimal(0)), tax_list)


def price(cost: pricing.Cost) -> dict[str, Any]:
    """The stored (2.3.0) Price of a cost; :func:`~emulator.cpo_sim.catalog.price_v221`
    derives the 2.2.1 one."""
    return {"before_taxes": cost.before_taxes, "taxes": [t.as_tax_amount() for t in cost.taxes]}


def stop_limit(tariff: dict[str, Any]) -> Decimal | None:
    """The amount (after taxes) at which a card session must end: what the terminal
    pre-authorized (``preauthorize_amount``, 2.3.0 Payments) and never above ``max_price``."""
    limits = []
    if tariff.get("preauthorize_amount") is not None:
        limits.append(Decimal(str(tariff["preauthorize_amount"])))
    max_price = tariff.get("max_price")
    if max_price:
        after = max_price.get("after_taxes")
        limits.append(Decimal(str(after if after is not None else max_price["before_taxes"])))
    return min(limits) if limits else None
