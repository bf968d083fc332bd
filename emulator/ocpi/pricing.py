"""Tariff pricing and CDR arithmetic, on JSON-shaped objects (mod_tariffs, mod_cdrs).

Everything here is a pure function over plain dicts as they arrive on the wire (numbers as
``Decimal``, ``int`` or ``float``, date-times as ``datetime`` or OCPI strings); pydantic model
instances are accepted too. Money is ``Decimal`` throughout, never float.

How a tariff is applied (mod_tariffs §Tariff object, §TariffRestrictions, mod_cdrs §step_size):

* For each dimension, the first TariffElement whose restrictions all match and that has a
  PriceComponent of that dimension applies; if none does, the dimension is free.
* Restrictions are evaluated per charging period at its start, and switch an element on and
  off during the session: time of day and dates in the Location's time zone (an ``end_time``
  before ``start_time`` wraps past midnight, ``00:00`` as end means the end of the day),
  cumulative kWh and cumulative duration since the session start, day of week, and power and
  current when the period carries those dimensions.
* Periods are split where a restriction can change (a time of day, midnight, a duration or a
  kWh threshold), sharing their volumes in proportion to time, so that a period crossing 18:00
  is priced on both sides of it. A CPO SHALL start a new period at such moments anyway.
* FLAT is billed once per session, from the first element with a FLAT component that matches
  (and once more for a reservation, from the reservation elements).
* ``step_size`` is applied once per session, to the total billed quantity: ENERGY in Wh, and
  once for TIME and PARKING_TIME together in seconds. The spec's examples round only the
  dimension of the last time-based period (parking when the session ends parking, charging
  time otherwise) with the step of the last component used, and bill the rounding at that
  component's price. Reservation time is rounded on its own.
* Taxes: 2.2.1 prices exclude VAT and each component's ``vat`` percentage is added on top;
  2.3.0 follows ``tax_included``: ``YES`` prices include the taxes (``vat``, when given, is
  taken out to find the amount before taxes), ``NO`` adds ``vat`` as a TaxAmount named "VAT",
  ``N/A`` means no taxes. Without ``vat`` no tax is computed. 2.1.1 has no VAT.
* ``min_price``/``max_price`` bound the total before and after taxes.

Rounding: the spec leaves price rounding to law, contracts and currency (mod_tariffs §Tariff
object note). Amounts are computed exactly and rounded once, at the end, to ``money_places``
decimals with ``rounding`` (default: 2 places, ROUND_HALF_UP). Each tax rate's amount is
rounded on its own; in 2.3.0 the amount after taxes is then the rounded amount before taxes
plus the rounded taxes (for ``tax_included`` YES the other way round), so that the Price adds
up; in 2.2.1 ``excl_vat`` and ``incl_vat`` are each rounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from emulator.coverage import checks
from emulator.findings import Problem
from emulator.money import currency_prefix
from emulator.ocpi.types import ci_equal, parse_datetime_or_none

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
_KWH_EPSILON = Decimal("0.000000001")
_UNIT_EPSILON = Decimal("0.000001")
_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
# Dimensions whose volume is a quantity over the period (shared out when a period is split);
# the others (power, current, state of charge) are levels and are copied.
_ADDITIVE = frozenset(
    {"ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "TIME", "PARKING_TIME", "RESERVATION_TIME"}
)
_TIME_DIMENSIONS = ("TIME", "PARKING_TIME", "RESERVATION_TIME")

TaxMode = Literal["excl", "incl", "none"]
PriceLimitName = Literal["min_price", "max_price"]
PriceValue = dict[str, Any] | Decimal
"""A Price in a version's shape: a dict for 2.2.1 and 2.3.0, a number for 2.1.1."""


# --- small helpers ----------------------------------------------------------------------------


def _plain(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="python", exclude_none=True, by_alias=True)
    return obj


def _dec(value: Any) -> Decimal | None:
    """A JSON number as Decimal (None for missing or non-numbers)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6


def _hm(value: Any) -> int | None:
    """Minutes since midnight of an ``HH:MM`` string."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    try:
        hours, minutes = int(value[:2]), int(value[3:])
    except ValueError:
        return None
    return hours * 60 + minutes


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _round(value: Decimal, places: int | None, rounding: str) -> Decimal:
    if places is None:
        return value
    return value.quantize(Decimal(1).scaleb(-places), rounding=rounding)


def _round_up_to_step(units: Decimal, step: int) -> Decimal:
    """``units`` rounded up to a multiple of ``step`` (mod_tariffs §PriceComponent)."""
    step = max(step, 1)
    # Sharing periods out can leave a remainder far below any meter's precision.
    steady = units.quantize(_UNIT_EPSILON, rounding=ROUND_HALF_EVEN)
    steps = math.ceil(steady / step)
    return Decimal(steps * step)


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tax:
    """One tax of a cost: the 2.3.0 TaxAmount, per rate."""

    percentage: Decimal | None
    amount: Decimal
    name: str = "VAT"

    def as_tax_amount(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "amount": self.amount}
        if self.percentage is not None:
            out["percentage"] = self.percentage
        return out


@dataclass(frozen=True)
class Cost:
    """An amount of money before and after taxes, with the taxes per rate."""

    before_taxes: Decimal = ZERO
    after_taxes: Decimal = ZERO
    taxes: tuple[Tax, ...] = ()

    def price(self, version: str) -> PriceValue:
        """This cost as a Price of ``version`` (2.1.1: a number excluding VAT)."""
        if version == "2.1.1":
            return self.before_taxes
        if version == "2.2.1":
            return {"excl_vat": self.before_taxes, "incl_vat": self.after_taxes}
        out: dict[str, Any] = {"before_taxes": self.before_taxes}
        if self.taxes:
            out["taxes"] = [t.as_tax_amount() for t in self.taxes]
        return out


@dataclass(frozen=True)
class PricedItem:
    """One priced piece of a session: a quantity of one dimension under one component."""

    dimension: str  # FLAT, ENERGY, TIME, PARKING_TIME, RESERVATION_TIME
    start: datetime
    quantity: Decimal  # kWh, hours, or 1 for FLAT
    price: Decimal  # per unit, as in the tariff
    vat: Decimal | None
    element: int  # index in Tariff.elements
    before_taxes: Decimal  # exact, not rounded
    after_taxes: Decimal
    step: bool = False  # the rounding up to step_size


@dataclass(frozen=True)
class CostBreakdown:
    """What a session costs under a tariff, per dimension and in total.

    ``energy_kwh``, ``time_h``, ``parking_h`` and ``reservation_h`` are the measured totals of
    the periods; the ``billed_*`` quantities are what was priced, after step_size. ``fixed``
    holds the FLAT fee, ``reservation`` the reservation's FLAT and time. ``total`` is bounded
    by the tariff's min/max price (``price_limit`` says which one applied).
    """

    version: str
    currency: str | None
    energy_kwh: Decimal
    time_h: Decimal
    parking_h: Decimal
    reservation_h: Decimal
    billed_energy_kwh: Decimal
    billed_time_h: Decimal
    billed_parking_h: Decimal
    billed_reservation_h: Decimal
    fixed: Cost
    energy: Cost
    time: Cost
    parking: Cost
    reservation: Cost
    total: Cost
    price_limit: PriceLimitName | None = None
    items: tuple[PricedItem, ...] = field(default=(), repr=False)

    @property
    def total_before_taxes(self) -> Decimal:
        return self.total.before_taxes

    @property
    def total_after_taxes(self) -> Decimal:
        return self.total.after_taxes

    def to_price(self, version: str | None = None) -> PriceValue:
        """The total as a Price of ``version`` (default: the version it was computed for)."""
        return self.total.price(version or self.version)

    @property
    def total_fixed_cost(self) -> PriceValue:
        return self.fixed.price(self.version)

    @property
    def total_energy_cost(self) -> PriceValue:
        return self.energy.price(self.version)

    @property
    def total_time_cost(self) -> PriceValue:
        return self.time.price(self.version)

    @property
    def total_parking_cost(self) -> PriceValue:
        return self.parking.price(self.version)

    @property
    def total_reservation_cost(self) -> PriceValue:
        return self.reservation.price(self.version)


# --- tariff choice and pre-authorization --------------------------------------------------------

_TYPE_PREFERENCE = {"AD_HOC_PAYMENT": 0, None: 1, "REGULAR": 2}


def tariff_is_active(tariff: Mapping[str, Any] | BaseModel, now: datetime) -> bool:
    """Whether ``now`` is within the tariff's ``start_date_time``/``end_date_time``."""
    data = _plain(tariff)
    begin = parse_datetime_or_none(data.get("start_date_time"))
    end = parse_datetime_or_none(data.get("end_date_time"))
    return (begin is None or begin <= now) and (end is None or now < end)


def select_tariff(
    tariffs: Iterable[Mapping[str, Any] | BaseModel],
    connector_tariff_ids: Sequence[str] | None,
    *,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The tariff a card-paying driver gets at a connector, or None.

    The spec does not say which of a connector's ``tariff_ids`` a PTP uses (spec/ocpi.md
    §4.9 #6); this follows DESIGN.md: ``AD_HOC_PAYMENT`` first, then a tariff without ``type``
    (valid for all sessions), then ``REGULAR``. Profile tariffs are never chosen. Tariffs
    outside their validity period at ``now`` are skipped. Ties go to the connector's order.
    Tariff ids are CiStrings and are compared case-insensitively.
    """
    wanted = list(connector_tariff_ids or ())
    best: tuple[int, int] | None = None
    chosen: dict[str, Any] | None = None
    for tariff in tariffs:
        data = _plain(tariff)
        position = next((i for i, tid in enumerate(wanted) if ci_equal(tid, data.get("id"))), None)
        if position is None:
            continue
        rank = _TYPE_PREFERENCE.get(data.get("type"))
        if rank is None:
            continue
        if now is not None and not tariff_is_active(data, now):
            continue
        if best is None or (rank, position) < best:
            best, chosen = (rank, position), data
    return chosen


def preauthorization_amount(tariff: Mapping[str, Any] | BaseModel, default: Decimal) -> Decimal:
    """What to pre-authorize on the card for a session under ``tariff`` (DESIGN.md).

    ``preauthorize_amount`` (2.3.0 Payments package), else ``max_price`` including taxes
    (2.3.0 PriceLimit ``after_taxes``, else ``before_taxes``; 2.2.1 Price ``incl_vat``, else
    ``excl_vat``), else ``default``.
    """
    data = _plain(tariff)
    amount = _dec(data.get("preauthorize_amount"))
    if amount is not None:
        return amount
    limit = data.get("max_price")
    if isinstance(limit, Mapping):
        for key in ("after_taxes", "before_taxes", "incl_vat", "excl_vat"):
            value = _dec(limit.get(key))
            if value is not None:
                return value
    return default


# --- periods ------------------------------------------------------------------------------------


@dataclass
class _Period:
    start: datetime
    end: datetime
    volumes: dict[str, Decimal]
    tariff_id: str | None = None
    # Cumulative values at the start of the period.
    energy_before: Decimal = ZERO


def _periods(raw: Sequence[Any], start: datetime, end: datetime | None) -> list[_Period]:
    parsed: list[_Period] = []
    for item in raw:
        data = _plain(item)
        begin = parse_datetime_or_none(data.get("start_date_time"))
        if begin is None:
            continue
        volumes: dict[str, Decimal] = {}
        for dim in data.get("dimensions") or ():
            kind, volume = dim.get("type"), _dec(dim.get("volume"))
            if not isinstance(kind, str) or volume is None:
                continue
            if kind in _ADDITIVE:
                volumes[kind] = volumes.get(kind, ZERO) + volume
            else:
                volumes[kind] = volume
        parsed.append(_Period(begin, begin, volumes, data.get("tariff_id")))
    parsed.sort(key=lambda p: p.start)
    energy = ZERO
    for i, period in enumerate(parsed):
        if i + 1 < len(parsed):
            period.end = parsed[i + 1].start
        elif end is not None:
            period.end = end
        else:
            hours = sum((period.volumes.get(d, ZERO) for d in _TIME_DIMENSIONS), ZERO)
            period.end = period.start + timedelta(seconds=float(hours * 3600))
        period.end = max(period.end, period.start)
        period.energy_before = energy
        energy += period.volumes.get("ENERGY", ZERO)
    return parsed


def _restrictions(elements: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e.get("restrictions") or {} for e in elements]


@dataclass
class _Cuts:
    """Where a period is cut: each instant with the share of the period before it."""

    period: _Period
    span_s: Decimal
    at: dict[datetime, Decimal] = field(default_factory=dict)

    def add(self, instant: datetime, fraction: Decimal | None = None) -> None:
        if self.period.start < instant < self.period.end:
            if fraction is None:
                share = _seconds(instant - self.period.start) / self.span_s
                self.at.setdefault(instant, share)
            else:
                self.at[instant] = fraction  # exact for a kWh threshold


# The longest charging period priced: one day at a time is walked for the time-of-day cuts, so
# a period into year 9999 (a peer's mistake) would cost millions of steps, then overflow.
MAX_PERIOD = timedelta(days=366)


def _split(
    periods: list[_Period],
    elements: Sequence[Mapping[str, Any]],
    zone: ZoneInfo,
    session_start: datetime,
) -> list[_Period]:
    """Split periods where a restriction of ``elements`` may switch on or off."""
    restrictions = _restrictions(elements)
    times: set[int] = set()
    durations: set[Decimal] = set()
    thresholds: set[Decimal] = set()
    for r in restrictions:
        for key in ("start_time", "end_time"):
            minutes = _hm(r.get(key))
            if minutes is not None:
                times.add(minutes)
        if r.get("day_of_week") or r.get("start_date") or r.get("end_date"):
            times.add(0)
        for key, bucket in (
            ("min_duration", durations),
            ("max_duration", durations),
            ("min_kwh", thresholds),
            ("max_kwh", thresholds),
        ):
            value = _dec(r.get(key))
            if value is not None:
                bucket.add(value)

    out: list[_Period] = []
    for period in periods:
        span = period.end - period.start
        if span <= timedelta(0):
            out.append(period)
            continue
        if span > MAX_PERIOD:
            raise ValueError(f"a charging period of more than {MAX_PERIOD.days} days is not priced")
        span_s = _seconds(span)
        cuts = _Cuts(period, span_s)
        add = cuts.add
        day = period.start.astimezone(zone).date()
        while day <= period.end.astimezone(zone).date():
            for minutes in times:
                if minutes >= 24 * 60:  # "24:00": the end of this day
                    local = datetime.combine(day + timedelta(days=1), time(0), zone)
                else:
                    local = datetime.combine(day, time(minutes // 60, minutes % 60), zone)
                add(local.astimezone(UTC))
            day += timedelta(days=1)
        for seconds in durations:
            add(session_start + timedelta(seconds=float(seconds)))
        delta = period.volumes.get("ENERGY", ZERO)
        if delta > 0:
            for kwh in thresholds:
                if period.energy_before < kwh < period.energy_before + delta:
                    fraction = (kwh - period.energy_before) / delta
                    micro = (fraction * span_s * 10**6).to_integral_value(ROUND_HALF_EVEN)
                    add(period.start + timedelta(microseconds=int(micro)), fraction)
        if not cuts.at:
            out.append(period)
            continue
        bounds = [(period.start, ZERO), *sorted(cuts.at.items()), (period.end, Decimal(1))]
        for (t0, f0), (t1, f1) in pairwise(bounds):
            share = f1 - f0
            volumes = {k: (v * share if k in _ADDITIVE else v) for k, v in period.volumes.items()}
            energy_before = period.energy_before + period.volumes.get("ENERGY", ZERO) * f0
            out.append(_Period(t0, t1, volumes, period.tariff_id, energy_before))
    return out


# --- restriction matching -----------------------------------------------------------------------


def _level(
    volumes: Mapping[str, Decimal], average: str, low: str, high: str, want: str
) -> Decimal | None:
    """The power or current of a period for a min (``want`` = low) or max restriction."""
    if average in volumes:
        return volumes[average]
    first, second = (low, high) if want == low else (high, low)
    return volumes.get(first, volumes.get(second))


def _matches(
    restrictions: Mapping[str, Any],
    period: _Period,
    zone: ZoneInfo,
    session_start: datetime,
    reservation: str | None,
) -> bool:
    """Whether an element's restrictions hold at the start of ``period`` (all ANDed)."""
    if restrictions.get("reservation") != reservation:
        return False
    local = period.start.astimezone(zone)
    minute = Decimal(local.hour * 60 + local.minute) + Decimal(local.second) / 60
    begin, end = _hm(restrictions.get("start_time")), _hm(restrictions.get("end_time"))
    if end is not None and end in (0, 24 * 60):
        end = 24 * 60  # "00:00" as end_time: until the end of the day
    if begin is not None and end is not None:
        if begin < end:
            if not begin <= minute < end:
                return False
        elif begin > end:  # wraps past midnight
            if not (minute >= begin or minute < end):
                return False
    elif begin is not None:
        if minute < begin:
            return False
    elif end is not None and minute >= end:
        return False
    start_date, end_date = (
        _date(restrictions.get("start_date")),
        _date(restrictions.get("end_date")),
    )
    if start_date is not None and local.date() < start_date:
        return False
    if end_date is not None and local.date() >= end_date:
        return False
    days = restrictions.get("day_of_week")
    if days and _WEEKDAYS[local.weekday()] not in days:
        return False
    energy = period.energy_before.quantize(_KWH_EPSILON, rounding=ROUND_HALF_EVEN)
    min_kwh, max_kwh = _dec(restrictions.get("min_kwh")), _dec(restrictions.get("max_kwh"))
    if min_kwh is not None and energy < min_kwh:
        return False
    if max_kwh is not None and energy >= max_kwh:
        return False
    duration = _seconds(period.start - session_start)
    min_s, max_s = _dec(restrictions.get("min_duration")), _dec(restrictions.get("max_duration"))
    if min_s is not None and duration < min_s:
        return False
    if max_s is not None and duration >= max_s:
        return False
    for unit, average, low, high in (
        ("power", "POWER", "MIN_POWER", "MAX_POWER"),
        ("current", "CURRENT", "MIN_CURRENT", "MAX_CURRENT"),
    ):
        lower, upper = _dec(restrictions.get(f"min_{unit}")), _dec(restrictions.get(f"max_{unit}"))
        if lower is not None:
            level = _level(period.volumes, average, low, high, low)
            if level is not None and level < lower:
                return False
        if upper is not None:
            level = _level(period.volumes, average, low, high, high)
            if level is not None and level >= upper:
                return False
    return True


def _component(
    elements: Sequence[Mapping[str, Any]],
    component_type: str,
    period: _Period,
    zone: ZoneInfo,
    session_start: datetime,
    reservations: Sequence[str | None],
) -> tuple[int, Mapping[str, Any]] | None:
    """The first matching element with a component of ``component_type``, and that component."""
    for reservation in reservations:
        for index, element in enumerate(elements):
            component = next(
                (
                    c
                    for c in element.get("price_components") or ()
                    if c.get("type") == component_type
                ),
                None,
            )
            if component is None:
                continue
            if _matches(
                element.get("restrictions") or {}, period, zone, session_start, reservation
            ):
                return index, component
    return None


# --- money accumulation -------------------------------------------------------------------------


@dataclass
class _Money:
    before: Decimal = ZERO
    after: Decimal = ZERO
    taxes: dict[Decimal | None, Decimal] = field(default_factory=dict)

    def add(self, before: Decimal, after: Decimal, vat: Decimal | None, taxed: bool) -> None:
        self.before += before
        self.after += after
        if taxed:
            self.taxes[vat] = self.taxes.get(vat, ZERO) + (after - before)

    def __iadd__(self, other: _Money) -> _Money:
        self.before += other.before
        self.after += other.after
        for rate, amount in other.taxes.items():
            self.taxes[rate] = self.taxes.get(rate, ZERO) + amount
        return self


def _tax_mode(tariff: Mapping[str, Any], version: str) -> TaxMode:
    if version == "2.1.1":
        return "none"
    if version == "2.3.0":
        included = tariff.get("tax_included")
        if included == "YES":
            return "incl"
        if included == "N/A":
            return "none"
    return "excl"


def _apply_tax(
    amount: Decimal, vat: Decimal | None, mode: TaxMode
) -> tuple[Decimal, Decimal, bool]:
    """(before taxes, after taxes, whether a tax was computed) for ``amount`` at ``vat`` %."""
    if mode == "none" or vat is None:
        return amount, amount, False
    factor = 1 + vat / HUNDRED
    if mode == "incl":
        return amount / factor, amount, True
    return amount, amount * factor, True


def _limit_value(limit: Any, keys: tuple[str, str]) -> Decimal | None:
    if not isinstance(limit, Mapping):
        return None
    for key in keys:
        value = _dec(limit.get(key))
        if value is not None:
            return value
    return None


def _bound(total: _Money, tariff: Mapping[str, Any]) -> tuple[_Money, PriceLimitName | None]:
    """Apply ``min_price``/``max_price``: both the before- and after-tax bounds hold."""
    before_keys, after_keys = ("before_taxes", "excl_vat"), ("after_taxes", "incl_vat")
    applied: PriceLimitName | None = None
    before, after = total.before, total.after
    bounds: tuple[tuple[PriceLimitName, Any], ...] = (("max_price", min), ("min_price", max))
    for name, pick in bounds:
        limit = tariff.get(name)
        low_b, low_a = _limit_value(limit, before_keys), _limit_value(limit, after_keys)
        new_b = before if low_b is None else pick(before, low_b)
        new_a = after if low_a is None else pick(after, low_a)
        if new_b == before and new_a == after:
            continue
        applied = name
        # A bound on one side only moves the other side in proportion.
        if low_a is None and before:
            new_a = after * new_b / before
        if low_b is None and after:
            new_b = before * new_a / after
        before, after = new_b, new_a
    if applied is None:
        return total, None
    taxes_now = after - before
    old_taxes = sum(total.taxes.values(), ZERO)
    if old_taxes:
        taxes = {rate: amount * taxes_now / old_taxes for rate, amount in total.taxes.items()}
    else:
        taxes = {None: taxes_now} if taxes_now else {}
    return _Money(before, after, taxes), applied


def _finish(money: _Money, version: str, mode: TaxMode, places: int | None, rounding: str) -> Cost:
    taxes = tuple(
        Tax(rate, _round(amount, places, rounding)) for rate, amount in money.taxes.items()
    )
    tax_sum = sum((t.amount for t in taxes), ZERO)
    if version == "2.3.0" and mode == "incl":
        after = _round(money.after, places, rounding)
        return Cost(after - tax_sum, after, taxes)
    if version == "2.3.0":
        before = _round(money.before, places, rounding)
        return Cost(before, before + tax_sum, taxes)
    return Cost(
        _round(money.before, places, rounding), _round(money.after, places, rounding), taxes
    )


# --- pricing ------------------------------------------------------------------------------------

_CATEGORY = {
    "ENERGY": "energy",
    "TIME": "time",
    "PARKING_TIME": "parking",
    "RESERVATION_TIME": "reservation",
}
_UNITS_PER_QUANTITY = {
    "ENERGY": Decimal(1000),
    "TIME": Decimal(3600),
    "PARKING_TIME": Decimal(3600),
    "RESERVATION_TIME": Decimal(3600),
}


def price_session(
    tariff: Mapping[str, Any] | BaseModel,
    periods: Sequence[Mapping[str, Any] | BaseModel],
    *,
    version: str,
    time_zone: str,
    start: datetime | str,
    end: datetime | str | None = None,
    reservation_expired: bool = False,
    apply_price_limits: bool = True,
    split_periods: bool = True,
    money_places: int | None = 2,
    rounding: str = ROUND_HALF_UP,
) -> CostBreakdown:
    """The cost of a session with ``periods`` (OCPI ChargingPeriods) under ``tariff``.

    ``periods``: ``{"start_date_time", "dimensions": [{"type", "volume"}], "tariff_id"?}``
    with ENERGY in kWh and TIME, PARKING_TIME and RESERVATION_TIME in hours; a period ends
    where the next starts, the last at ``end`` (or after its own time volumes).
    ``time_zone`` is the Location's IANA time zone for the time-of-day, date and weekday
    restrictions; ``start`` is the session start for the duration restrictions.
    ``reservation_expired`` bills reservation time under RESERVATION_EXPIRES elements first.
    The rules are in the module docstring. An unknown ``time_zone`` raises
    :class:`zoneinfo.ZoneInfoNotFoundError`.
    """
    data = _plain(tariff)
    zone = ZoneInfo(time_zone)
    session_start = parse_datetime_or_none(start)
    if session_start is None:
        raise ValueError(f"start {start!r} is not a date-time")
    session_end = parse_datetime_or_none(end)
    elements: list[Mapping[str, Any]] = list(data.get("elements") or ())
    mode = _tax_mode(data, version)

    timeline = _periods(periods, session_start, session_end)
    if split_periods:
        timeline = _split(timeline, elements, zone, session_start)

    items: list[PricedItem] = []
    money = {name: _Money() for name in ("fixed", "energy", "time", "parking", "reservation")}
    reservation_kinds: tuple[str | None, ...] = (
        ("RESERVATION_EXPIRES", "RESERVATION") if reservation_expired else ("RESERVATION",)
    )

    def bill(
        dimension: str,
        category: str,
        start_at: datetime,
        quantity: Decimal,
        index: int,
        component: Mapping[str, Any],
        step: bool = False,
    ) -> None:
        price = _dec(component.get("price")) or ZERO
        vat = _dec(component.get("vat")) if version != "2.1.1" else None
        before, after, taxed = _apply_tax(quantity * price, vat, mode)
        money[category].add(before, after, vat, taxed)
        items.append(
            PricedItem(dimension, start_at, quantity, price, vat, index, before, after, step)
        )

    # FLAT: once for the session and once for a reservation (mod_tariffs §TariffDimensionType).
    charging = [p for p in timeline if any(k != "RESERVATION_TIME" for k in p.volumes)]
    if not timeline:
        charging = [_Period(session_start, session_start, {})]
    reserved = [p for p in timeline if "RESERVATION_TIME" in p.volumes]
    for candidates, kinds, category in (
        (charging, (None,), "fixed"),
        (reserved, reservation_kinds, "reservation"),
    ):
        for period in candidates:
            found = _component(elements, "FLAT", period, zone, session_start, kinds)
            if found is not None:
                bill("FLAT", category, period.start, Decimal(1), found[0], found[1])
                break

    # Quantities per period, each under the first matching element with that dimension.
    totals = {d: ZERO for d in _CATEGORY}
    last: dict[str, tuple[PricedItem, Mapping[str, Any]]] = {}
    last_time: tuple[PricedItem, Mapping[str, Any]] | None = None
    for period in timeline:
        for dimension, category in _CATEGORY.items():
            quantity = period.volumes.get(dimension, ZERO)
            totals[dimension] += quantity
            if quantity <= 0:
                continue
            if dimension == "RESERVATION_TIME":
                found = _component(elements, "TIME", period, zone, session_start, reservation_kinds)
            else:
                found = _component(elements, dimension, period, zone, session_start, (None,))
            if found is None:
                continue  # no matching element: this dimension is free here
            bill(dimension, category, period.start, quantity, found[0], found[1])
            last[dimension] = (items[-1], found[1])
            if dimension in ("TIME", "PARKING_TIME"):
                last_time = last[dimension]

    # step_size, once per session on the billed total (mod_cdrs §step_size).
    billed = {d: sum((i.quantity for i in items if i.dimension == d), ZERO) for d in _CATEGORY}
    rounded = [last.get("ENERGY"), last_time, last.get("RESERVATION_TIME")]
    for entry in rounded:
        if entry is None:
            continue
        item, component = entry
        per = _UNITS_PER_QUANTITY[item.dimension]
        units = billed[item.dimension] * per
        step = int(_dec(component.get("step_size")) or 1)
        extra = (_round_up_to_step(units, step) - units) / per
        if extra > 0:
            category = _CATEGORY[item.dimension]
            bill(item.dimension, category, item.start, extra, item.element, component, step=True)
            billed[item.dimension] += extra

    total = _Money()
    for part in money.values():
        total += part
    limit: PriceLimitName | None = None
    if apply_price_limits:
        total, limit = _bound(total, data)

    def finish(m: _Money) -> Cost:
        return _finish(m, version, mode, money_places, rounding)

    return CostBreakdown(
        version=version,
        currency=data.get("currency"),
        energy_kwh=totals["ENERGY"],
        time_h=totals["TIME"],
        parking_h=totals["PARKING_TIME"],
        reservation_h=totals["RESERVATION_TIME"],
        billed_energy_kwh=billed["ENERGY"],
        billed_time_h=billed["TIME"],
        billed_parking_h=billed["PARKING_TIME"],
        billed_reservation_h=billed["RESERVATION_TIME"],
        fixed=finish(money["fixed"]),
        energy=finish(money["energy"]),
        time=finish(money["time"]),
        parking=finish(money["parking"]),
        reservation=finish(money["reservation"]),
        total=finish(total),
        price_limit=limit,
        items=tuple(items),
    )


# --- tariff text for the terminal ---------------------------------------------------------------

_WEEKDAY_SHORT = {day: day[:3].title() for day in _WEEKDAYS}


def _amount_text(value: Decimal) -> str:
    cents = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if value != cents:
        # Keep sub-cent unit prices such as 0.345 per kWh exact, up to 4 decimals.
        for places in ("0.001", "0.0001"):
            if value == value.quantize(Decimal(places)):
                return str(value.quantize(Decimal(places)))
    return str(cents)


def _money_text(value: Decimal, currency: str, symbol: bool) -> str:
    sign = "-" if value < 0 else ""
    text = _amount_text(abs(value))
    return f"{sign}{currency_prefix(currency, sign=symbol)}{text}"


def _number_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _span(low: str | None, high: str | None, *, after: str, below: str, between: str) -> str:
    if low is not None and high is not None:
        return between.format(low=low, high=high)
    if low is not None:
        return after.format(low=low)
    if high is not None:
        return below.format(high=high)
    return ""


def _duration_text(seconds: Decimal | None) -> str | None:
    if seconds is None:
        return None
    if seconds % 60 == 0:
        return f"{_number_text(seconds / 60)} min"
    return f"{_number_text(seconds)} s"


def _restriction_text(restrictions: Mapping[str, Any]) -> str:
    parts: list[str] = []

    def num(key: str) -> str | None:
        value = _dec(restrictions.get(key))
        return None if value is None else _number_text(value)

    start, end = restrictions.get("start_time"), restrictions.get("end_time")
    parts.append(
        _span(start, end, after="from {low}", below="until {high}", between="from {low} to {high}")
    )
    days = list(restrictions.get("day_of_week") or ())
    if days:
        if set(days) == set(_WEEKDAYS[:5]):
            parts.append("on weekdays")
        elif set(days) == set(_WEEKDAYS[5:]):
            parts.append("at weekends")
        else:
            ordered = [d for d in _WEEKDAYS if d in days]
            parts.append("on " + ", ".join(_WEEKDAY_SHORT[d] for d in ordered))
    parts.append(
        _span(
            restrictions.get("start_date"),
            restrictions.get("end_date"),
            after="from {low}",
            below="before {high}",
            between="from {low} until {high}",
        )
    )
    parts.append(
        _span(
            _duration_text(_dec(restrictions.get("min_duration"))),
            _duration_text(_dec(restrictions.get("max_duration"))),
            after="after {low}",
            below="for the first {high}",
            between="from {low} to {high}",
        )
    )
    for unit, key in (("kWh", "kwh"), ("kW", "power"), ("A", "current")):
        low, high = num(f"min_{key}"), num(f"max_{key}")
        if key == "kwh":
            text = _span(
                low,
                high,
                after="after {low} " + unit,
                below="up to {high} " + unit,
                between="from {low} to {high} " + unit,
            )
        else:
            text = _span(
                low,
                high,
                after="at {low} " + unit + " or more",
                below="below {high} " + unit,
                between="from {low} to {high} " + unit,
            )
        parts.append(text)
    reservation = restrictions.get("reservation")
    if reservation == "RESERVATION":
        parts.append("while reserved")
    elif reservation == "RESERVATION_EXPIRES":
        parts.append("when a reservation expires")
    return " ".join(p for p in parts if p)


def tariff_languages(tariff: Mapping[str, Any] | BaseModel) -> list[str]:
    """The languages of ``tariff_alt_text``, in order, without repeats.

    Payter's terminal offers its UI in the languages of the tariff (spec/ocpi.md §8).
    """
    data = _plain(tariff)
    out: list[str] = []
    for text in data.get("tariff_alt_text") or ():
        language = text.get("language")
        if isinstance(language, str) and language not in out:
            out.append(language)
    return out


def tariff_lines(
    tariff: Mapping[str, Any] | BaseModel,
    *,
    language: str,
    currency_symbol: bool = True,
    version: str | None = None,
) -> list[str]:
    """Lines for a terminal's tariff screen, such as "€0.35 per kWh", "incl. 21% VAT".

    Prices are shown as the driver pays them: a price excluding VAT (2.2.1, or 2.3.0 with
    ``tax_included`` NO) is shown with its ``vat`` added, and a last line says which taxes are
    included. Time prices are per minute when that is a whole number of cents, else per hour.
    Unit prices are rounded to whole cents as a price display shows them; when that changed
    one, a last line gives the exact prices ("Exact: €0.5445 per kWh").
    Restrictions follow the price ("after 60 min", "from 18:00 to 07:00").
    Without elements, the ``tariff_alt_text`` in ``language`` (else the first one) is shown.
    The lines are in English; ``version`` defaults to 2.3.0 when ``tax_included`` is present.
    """
    data = _plain(tariff)
    if version is None:
        version = "2.3.0" if "tax_included" in data else "2.2.1"
    currency = str(data.get("currency") or "")
    elements = list(data.get("elements") or ())
    if not elements:
        texts = list(data.get("tariff_alt_text") or ())
        chosen = next(
            (t for t in texts if str(t.get("language", "")).casefold() == language.casefold()),
            texts[0] if texts else None,
        )
        return [chosen["text"]] if chosen and chosen.get("text") else []

    mode = _tax_mode(data, version)
    components = [c for e in elements for c in e.get("price_components") or ()]
    if components and all((_dec(c.get("price")) or ZERO) == 0 for c in components):
        return ["Free of charge"]

    lines: list[str] = []
    exact_prices: list[str] = []
    vats: set[Decimal] = set()
    for element in elements:
        condition = _restriction_text(element.get("restrictions") or {})
        for component in element.get("price_components") or ():
            price = _dec(component.get("price")) or ZERO
            vat = _dec(component.get("vat")) if version != "2.1.1" else None
            if vat is not None and mode != "none":
                vats.add(vat)
                if mode == "excl":
                    price = price * (1 + vat / HUNDRED)
            kind = component.get("type")
            unit = ""
            if kind == "ENERGY":
                unit = "per kWh"
            elif kind in ("TIME", "PARKING_TIME"):
                per_minute = price / 60
                if per_minute == per_minute.quantize(CENT):
                    price, unit = per_minute, "per minute"
                else:
                    unit = "per hour"
                if kind == "PARKING_TIME":
                    unit += " parking"
            if unit:
                # As a price display shows it: whole cents; the exact price on a detail line.
                shown = price.quantize(CENT, rounding=ROUND_HALF_UP)
                text = f"{_money_text(shown, currency, currency_symbol)} {unit}"
                if shown != price:
                    exact = f"{_money_text(price, currency, currency_symbol)} {unit}"
                    if exact not in exact_prices:
                        exact_prices.append(exact)
            elif kind == "FLAT":
                # One amount, charged as such: whole cents.
                fee = price.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
                text = f"{_money_text(fee, currency, currency_symbol)} per session"
            else:
                continue
            line = f"{text} {condition}" if condition else text
            if line not in lines:
                lines.append(line)

    for name, word in (("min_price", "minimum"), ("max_price", "maximum")):
        limit = data.get(name)
        amount = _limit_value(limit, ("after_taxes", "incl_vat")) or _limit_value(
            limit, ("before_taxes", "excl_vat")
        )
        if amount is not None:
            lines.append(f"{word} {_money_text(amount, currency, currency_symbol)} per session")

    if vats:
        rates = "/".join(f"{_number_text(v)}%" for v in sorted(vats))
        lines.append(f"incl. {rates} VAT")
    elif mode == "incl":
        lines.append("incl. taxes")
    elif version == "2.3.0" and mode == "excl":
        lines.append("excl. taxes")
    if exact_prices:
        lines.append("Exact: " + ", ".join(exact_prices))
    return lines


# --- CDR arithmetic -----------------------------------------------------------------------------

_LOCAL_TIME_KEYS = ("start_time", "end_time", "start_date", "end_date", "day_of_week")


def _price_amounts(value: Any, version: str) -> tuple[Decimal | None, Decimal | None]:
    """(before taxes, after taxes) of a Price as received; None where it cannot be read."""
    if version == "2.1.1":
        return _dec(value), None
    if not isinstance(value, Mapping):
        return None, None
    if version == "2.2.1":
        return _dec(value.get("excl_vat")), _dec(value.get("incl_vat"))
    before = _dec(value.get("before_taxes"))
    if before is None:
        return None, None
    taxes = [_dec(t.get("amount")) for t in value.get("taxes") or () if isinstance(t, Mapping)]
    return before, before + sum((t for t in taxes if t is not None), ZERO)


def price_with_taxes(value: Any, version: str) -> Decimal | None:
    """What a Price (as received) comes to with taxes: 2.3.0 ``before_taxes`` plus the
    ``taxes``, 2.2.1 ``incl_vat`` (else ``excl_vat``), a 2.1.1 number as it is."""
    before, after = _price_amounts(value, version)
    return after if after is not None else before


def _cdr_tariff(cdr: Mapping[str, Any], tariff: Any) -> Mapping[str, Any] | None:
    if tariff is not None:
        return _plain(tariff)
    embedded = [_plain(t) for t in cdr.get("tariffs") or ()]
    if len(embedded) == 1:
        return embedded[0]
    referenced = {
        str(p.get("tariff_id")).casefold()
        for p in cdr.get("charging_periods") or ()
        if p.get("tariff_id")
    }
    if len(referenced) == 1:
        wanted = referenced.pop()
        return next((t for t in embedded if str(t.get("id", "")).casefold() == wanted), None)
    return None


@checks("OCPI-38")
def check_cdr_totals(
    cdr: Mapping[str, Any] | BaseModel,
    *,
    version: str,
    tariff: Mapping[str, Any] | BaseModel | None = None,
    tolerance: Decimal = Decimal("0.01"),
    energy_tolerance: Decimal = Decimal("0.01"),
    time_tolerance: Decimal = Decimal("0.01"),
    time_zone: str | None = None,
) -> list[Problem]:
    """Check the arithmetic of a CDR (checklist 5.4 #38; period order: #33).

    * ``total_energy`` ≈ the sum of the ENERGY volumes (kWh), and ENERGY volumes that look
      like Wh (one period over 1000, or the totals a factor 1000 apart);
    * ``total_time`` ≈ end - start in hours, ``total_parking_time`` ≤ ``total_time`` and ≈ the
      sum of the PARKING_TIME volumes;
    * no Session-only dimensions (CURRENT, ENERGY_EXPORT, ENERGY_IMPORT, POWER,
      STATE_OF_CHARGE) in the periods;
    * charging periods in chronological order, within the session (OCPI-33);
    * ``total_cost`` (and the per-dimension costs it gives, unless a min/max price applied)
      recomputed with :func:`price_session` under ``tariff``, else the CDR's own tariff (the
      only one, or the one all periods name), within ``tolerance``. Without ``time_zone`` a
      tariff with time-of-day, date or weekday restrictions cannot be applied (CdrLocation has
      no time zone) and the cost is not checked. A credit CDR's costs are negated.

    Returns the problems; the caller decides their severity.
    """
    # The CDR model module is imported when a CDR is first checked (lazy model imports).
    from emulator.ocpi.models.cdrs import SESSION_ONLY_DIMENSIONS

    data = _plain(cdr)
    problems: list[Problem] = []
    start = parse_datetime_or_none(data.get("start_date_time"))
    end = parse_datetime_or_none(
        data.get("stop_date_time" if version == "2.1.1" else "end_date_time")
    )
    periods = list(data.get("charging_periods") or ())

    # Order and span of the periods.
    previous: datetime | None = None
    for i, period in enumerate(periods):
        begin = parse_datetime_or_none(period.get("start_date_time"))
        if begin is None:
            continue
        pointer = f"/charging_periods/{i}/start_date_time"
        if previous is not None and begin <= previous:
            problems.append(
                Problem("OCPI-33", "charging periods are not in chronological order", pointer)
            )
        if (start is not None and begin < start) or (end is not None and begin > end):
            problems.append(
                Problem("OCPI-38", "charging period starts outside the session", pointer)
            )
        previous = begin if previous is None else max(previous, begin)

    # Dimensions.
    energy_sum = parking_sum = ZERO
    has_parking = False
    wh_flagged = False
    for i, period in enumerate(periods):
        for j, dim in enumerate(period.get("dimensions") or ()):
            kind, volume = dim.get("type"), _dec(dim.get("volume"))
            pointer = f"/charging_periods/{i}/dimensions/{j}"
            if kind in SESSION_ONLY_DIMENSIONS:
                problems.append(
                    Problem(
                        "OCPI-38",
                        f"{kind} is a Session-only dimension, not for a CDR",
                        f"{pointer}/type",
                    )
                )
            if volume is None:
                continue
            if kind == "ENERGY":
                energy_sum += volume
                if volume > 1000:
                    wh_flagged = True
                    problems.append(
                        Problem(
                            "OCPI-38",
                            f"ENERGY volume {volume} looks like Wh; ENERGY is in kWh",
                            f"{pointer}/volume",
                        )
                    )
            elif kind == "PARKING_TIME":
                parking_sum += volume
                has_parking = True

    total_energy = _dec(data.get("total_energy"))
    if total_energy is not None and abs(energy_sum - total_energy) > energy_tolerance:
        near = energy_tolerance * 1000
        if total_energy and abs(energy_sum - total_energy * 1000) <= near:
            problems.append(
                Problem(
                    "OCPI-38",
                    f"the ENERGY volumes add up to {energy_sum}, 1000 times "
                    f"total_energy {total_energy}: they look like Wh",
                    "/charging_periods",
                )
            )
        elif energy_sum and abs(total_energy - energy_sum * 1000) <= near:
            problems.append(
                Problem(
                    "OCPI-38",
                    f"total_energy {total_energy} is 1000 times the ENERGY "
                    f"volumes ({energy_sum}): it looks like Wh",
                    "/total_energy",
                )
            )
        elif not wh_flagged:
            problems.append(
                Problem(
                    "OCPI-38",
                    f"total_energy {total_energy} kWh differs from the sum of "
                    f"the ENERGY volumes ({energy_sum} kWh)",
                    "/total_energy",
                )
            )

    total_time = _dec(data.get("total_time"))
    if total_time is not None and start is not None and end is not None:
        hours = _seconds(end - start) / 3600
        if abs(total_time - hours) > time_tolerance:
            problems.append(
                Problem(
                    "OCPI-38",
                    f"total_time {total_time} h differs from end - start "
                    f"({hours.quantize(Decimal('0.0001'))} h)",
                    "/total_time",
                )
            )
    total_parking = _dec(data.get("total_parking_time"))
    if total_parking is not None:
        if total_time is not None and total_parking > total_time + time_tolerance:
            problems.append(
                Problem(
                    "OCPI-38",
                    f"total_parking_time {total_parking} h exceeds total_time {total_time} h",
                    "/total_parking_time",
                )
            )
        if has_parking and abs(total_parking - parking_sum) > time_tolerance:
            problems.append(
                Problem(
                    "OCPI-38",
                    f"total_parking_time {total_parking} h differs from the sum "
                    f"of the PARKING_TIME volumes ({parking_sum} h)",
                    "/total_parking_time",
                )
            )

    problems.extend(_check_costs(data, version, tariff, start, end, periods, tolerance, time_zone))
    return problems


def _check_costs(
    data: Mapping[str, Any],
    version: str,
    tariff: Any,
    start: datetime | None,
    end: datetime | None,
    periods: list[Any],
    tolerance: Decimal,
    time_zone: str | None,
) -> list[Problem]:
    applied = _cdr_tariff(data, tariff)
    if applied is None or start is None:
        return []
    if time_zone is None:
        local = any(
            (e.get("restrictions") or {}).get(k)
            for e in applied.get("elements") or ()
            for k in _LOCAL_TIME_KEYS
        )
        if local:
            return []
        time_zone = "UTC"
    try:
        breakdown = price_session(
            applied, periods, version=version, time_zone=time_zone, start=start, end=end
        )
    except (ZoneInfoNotFoundError, ValueError, OverflowError):
        # An unusable time zone, a session of more than a year, a restriction beyond any
        # date: the cost cannot be recomputed.
        return []
    sign = Decimal(-1) if data.get("credit") else Decimal(1)
    # The spec leaves rounding to the parties: a CPO may round every dimension, and every
    # charging period, to cents (and its tax per dimension) before adding up. Each rounding
    # moves a total by at most half a cent, so a total of n rounded parts may be off by n
    # cents (41.34 + 8.70 = 50.04 against 50.02 exact is two parts, taxes included).
    parts = sum(
        1
        for price in (
            breakdown.fixed,
            breakdown.energy,
            breakdown.time,
            breakdown.parking,
            breakdown.reservation,
        )
        if price.before_taxes
    )
    per_period = max(1, len(periods))
    slack_total = max(tolerance, Decimal("0.01") * max(1, parts) * per_period)
    slack_part = max(tolerance, Decimal("0.01") * per_period)
    fields = [("total_cost", breakdown.total)]
    if breakdown.price_limit is None:
        fields += [
            ("total_fixed_cost", breakdown.fixed),
            ("total_energy_cost", breakdown.energy),
            ("total_time_cost", breakdown.time),
            ("total_parking_cost", breakdown.parking),
            ("total_reservation_cost", breakdown.reservation),
        ]
    names = {"2.2.1": ("excl_vat", "incl_vat")}.get(version, ("before_taxes", "after taxes"))
    problems: list[Problem] = []
    for name, expected in fields:
        if name not in data:
            continue
        before, after = _price_amounts(data[name], version)
        for label, got, want in (
            (names[0], before, expected.before_taxes * sign),
            (names[1], after, expected.after_taxes * sign),
        ):
            slack = slack_total if name == "total_cost" else slack_part
            if got is None or abs(got - want) <= slack:
                continue
            what = name if version == "2.1.1" else f"{name} ({label})"
            problems.append(
                Problem(
                    "OCPI-38",
                    f"{what} is {got} but tariff {applied.get('id')!r} gives "
                    f"{want} for these charging periods",
                    f"/{name}",
                )
            )
    return problems
