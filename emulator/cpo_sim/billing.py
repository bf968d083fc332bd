"""What the simulated CPO bills for a session under a tariff (mod_tariffs, mod_cdrs).

The CPO's side of the arithmetic, kept small and exact so that the CDR's totals add up:

* Quantities come in the units the CDR reports: energy in whole Wh, charging and parking time
  in whole seconds. The ``step_size`` is applied once per session to the totals: ENERGY on
  its own, TIME and PARKING_TIME together with the step of the last one used (mod_cdrs,
  step_size rules).
* Hours are reported with 4 decimals (types.asciidoc, number), and time is billed on exactly
  the hours reported, so ``price * total_time`` recomputes the time cost from the CDR.
* Each dimension's cost is rounded to cents, its VAT too; the totals are the sums. The spec
  says nothing about price rounding (ocpi.md §3.3); cents per dimension is the common choice.
* ``min_price``/``max_price`` bound the total (mod_tariffs, Tariff); a bounded total is the
  only case where the total differs from the sum of the dimensions.

The tariffs are those of the fixtures, 2.3.0 shape with ``tax_included`` NO: component prices
exclude VAT and ``vat`` is the percentage. Elements with restrictions are not evaluated (the
fixtures have none) and are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
HOURS_PLACES = Decimal("0.0001")
DIMENSIONS = ("FLAT", "ENERGY", "TIME", "PARKING_TIME")


def hours(seconds: int) -> Decimal:
    """Seconds as OCPI hours with 4 decimals."""
    return (Decimal(seconds) / 3600).quantize(HOURS_PLACES, rounding=ROUND_HALF_UP)


def kwh(wh: int) -> Decimal:
    return Decimal(wh) / 1000


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _round_up(value: int, step: int) -> int:
    if step <= 1:
        return value
    return int((Decimal(value) / step).to_integral_value(rounding=ROUND_CEILING)) * step


@dataclass
class Cost:
    """An amount before taxes and its taxes by percentage."""

    before_taxes: Decimal = Decimal("0.00")
    taxes: dict[Decimal, Decimal] = field(default_factory=dict)

    @property
    def after_taxes(self) -> Decimal:
        return self.before_taxes + sum(self.taxes.values(), Decimal(0))

    def add(self, other: Cost) -> Cost:
        taxes = dict(self.taxes)
        for pct, amount in other.taxes.items():
            taxes[pct] = taxes.get(pct, Decimal(0)) + amount
        return Cost(self.before_taxes + other.before_taxes, taxes)

    def tax_list(self) -> list[dict[str, Any]]:
        """TaxAmount objects (2.3.0 Price.taxes)."""
        return [
            {"name": "VAT", "percentage": pct, "amount": amount}
            for pct, amount in sorted(self.taxes.items())
        ]


@dataclass(frozen=True)
class Component:
    type: str
    price: Decimal
    vat: Decimal | None
    step_size: int


@dataclass
class Bill:
    """The costs of one session so far (or in the end)."""

    currency: str
    dimensions: dict[str, Cost]
    total: Cost
    # Billed quantities after step_size: Wh, and seconds of TIME and PARKING_TIME.
    billed_wh: int
    billed_time_s: int
    billed_parking_s: int
    bounded: str | None = None  # "min_price" / "max_price" when a bound set the total

    def cost(self, dimension: str) -> Cost | None:
        return self.dimensions.get(dimension)


def components(tariff: dict[str, Any]) -> dict[str, Component]:
    """For each dimension, the component of the first element that prices it (mod_tariffs,
    TariffElement: the first matching element with that dimension applies)."""
    found: dict[str, Component] = {}
    for element in tariff.get("elements") or []:
        if element.get("restrictions"):
            continue
        for pc in element.get("price_components") or []:
            kind = pc["type"]
            if kind in found:
                continue
            vat = pc.get("vat")
            found[kind] = Component(
                kind,
                Decimal(str(pc["price"])),
                None if vat is None else Decimal(str(vat)),
                int(pc.get("step_size") or 1),
            )
    return found


def _priced(component: Component, quantity: Decimal) -> Cost:
    before = _cents(component.price * quantity)
    taxes: dict[Decimal, Decimal] = {}
    if component.vat is not None:
        taxes[component.vat] = _cents(before * component.vat / 100)
    return Cost(before, taxes)


def bill(
    tariff: dict[str, Any],
    *,
    energy_wh: int,
    time_s: int,
    parking_s: int,
    bounded: bool = True,
) -> Bill:
    """Price a session that used ``energy_wh`` while charging ``time_s`` seconds and parking
    (not charging) ``parking_s`` seconds."""
    comps = components(tariff)
    billed_wh = energy_wh
    if "ENERGY" in comps:
        billed_wh = _round_up(energy_wh, comps["ENERGY"].step_size)
    billed_time, billed_parking = time_s, parking_s
    # TIME and PARKING_TIME share one rounding, with the step of the last one used.
    last = "PARKING_TIME" if parking_s > 0 and "PARKING_TIME" in comps else "TIME"
    if last in comps:
        total = time_s + parking_s if {"TIME", "PARKING_TIME"} <= comps.keys() else None
        if total is not None:
            extra = _round_up(total, comps[last].step_size) - total
        else:
            own = time_s if last == "TIME" else parking_s
            extra = _round_up(own, comps[last].step_size) - own
        if last == "TIME":
            billed_time += extra
        else:
            billed_parking += extra
    dims: dict[str, Cost] = {}
    if "FLAT" in comps:
        dims["FLAT"] = _priced(comps["FLAT"], Decimal(1))
    if "ENERGY" in comps:
        dims["ENERGY"] = _priced(comps["ENERGY"], kwh(billed_wh))
    if "TIME" in comps:
        dims["TIME"] = _priced(comps["TIME"], hours(billed_time))
    if "PARKING_TIME" in comps:
        dims["PARKING_TIME"] = _priced(comps["PARKING_TIME"], hours(billed_parking))
    total_cost = Cost()
    for cost in dims.values():
        total_cost = total_cost.add(cost)
    which = None
    if bounded:
        total_cost, which = _bounded(tariff, total_cost)
    return Bill(
        currency=str(tariff.get("currency", "EUR")),
        dimensions=dims,
        total=total_cost,
        billed_wh=billed_wh,
        billed_time_s=billed_time,
        billed_parking_s=billed_parking,
        bounded=which,
    )


def _bounded(tariff: dict[str, Any], total: Cost) -> tuple[Cost, str | None]:
    """Apply min_price / max_price (2.3.0 PriceLimit: both bounds apply)."""
    for key, too_far in (
        ("max_price", lambda limit, value: value > limit),
        ("min_price", lambda limit, value: value < limit),
    ):
        limit = tariff.get(key)
        if not limit:
            continue
        before = Decimal(str(limit["before_taxes"]))
        after = limit.get("after_taxes")
        after_d = None if after is None else Decimal(str(after))
        if too_far(before, total.before_taxes) or (
            after_d is not None and too_far(after_d, total.after_taxes)
        ):
            tax = (after_d - before) if after_d is not None else Decimal("0.00")
            pct = _single_rate(total)
            return Cost(before, {pct: tax} if tax else {}), key
    return total, None


def _single_rate(total: Cost) -> Decimal:
    return next(iter(sorted(total.taxes)), Decimal("0"))


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
