"""Tariff pricing and CDR arithmetic, against amounts computed by hand."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from emulator.ocpi.models.cdrs import CDRV230
from emulator.ocpi.pricing import (
    check_cdr_totals,
    preauthorization_amount,
    price_session,
    select_tariff,
    tariff_languages,
    tariff_lines,
)

D = Decimal


def component(kind: str, price: str, step: int = 1, vat: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": D(price), "step_size": step}
    if vat is not None:
        out["vat"] = D(vat)
    return out


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def tariff(*elements: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "PYT",
        "id": fields.pop("id", "T-1"),
        "currency": "EUR",
        "elements": list(elements),
        "last_updated": "2025-01-01T00:00:00Z",
        **fields,
    }


def period(start: str, **dimensions: Any) -> dict[str, Any]:
    return {
        "start_date_time": start,
        "dimensions": [{"type": k, "volume": D(str(v))} for k, v in dimensions.items()],
    }


def hours(minutes: int) -> Decimal:
    return D(minutes) / 60


# --- price_session --------------------------------------------------------------------------------


def test_energy_time_flat_and_parking_in_221() -> None:
    t = tariff(
        element(component("FLAT", "1.00", vat="21")),
        element(component("ENERGY", "0.30", vat="21")),
        element(component("TIME", "2.40", step=60, vat="21")),
        element(component("PARKING_TIME", "6.00", step=300, vat="21")),
    )
    periods = [
        period("2025-03-04T13:00:00Z", ENERGY="20.5", TIME="1.5"),
        period("2025-03-04T14:30:00Z", PARKING_TIME=hours(22)),
    ]
    cost = price_session(
        t,
        periods,
        version="2.2.1",
        time_zone="Europe/Amsterdam",
        start="2025-03-04T13:00:00Z",
        end="2025-03-04T14:52:00Z",
    )
    # 1.00 + 20.5 x 0.30 + 1.5 x 2.40 + 25 min (22 rounded up to 5 min) x 6.00 / h
    assert cost.fixed.before_taxes == D("1.00")
    assert cost.energy.before_taxes == D("6.15")
    assert cost.time.before_taxes == D("3.60")
    assert cost.parking.before_taxes == D("2.50")
    assert cost.total.before_taxes == D("13.25")
    # 13.25 x 1.21 = 16.0325
    assert cost.total.after_taxes == D("16.03")
    assert cost.to_price() == {"excl_vat": D("13.25"), "incl_vat": D("16.03")}
    assert cost.total_fixed_cost == {"excl_vat": D("1.00"), "incl_vat": D("1.21")}
    assert cost.total_parking_cost == {"excl_vat": D("2.50"), "incl_vat": D("3.03")}
    # The charging time is not rounded: only the last time-based dimension is.
    assert cost.billed_time_h == D("1.5")
    assert cost.billed_parking_h * 60 == pytest.approx(25)
    assert cost.energy_kwh == D("20.5")
    assert cost.parking_h * 60 == pytest.approx(22)


def test_time_is_rounded_up_to_a_five_minute_step_when_the_session_ends_charging() -> None:
    t = tariff(element(component("TIME", "3.00", step=300)), tax_included="N/A")
    cost = price_session(
        t,
        [period("2025-03-04T10:00:00Z", TIME=hours(41))],
        version="2.3.0",
        time_zone="UTC",
        start="2025-03-04T10:00:00Z",
    )
    assert cost.billed_time_h == D("0.75")
    assert cost.total.before_taxes == D("2.25")  # 45 min x 3.00 / h


def test_time_and_parking_share_one_step_applied_to_the_last_time_dimension() -> None:
    t = tariff(
        element(component("TIME", "2.40", step=600), component("PARKING_TIME", "6.00", step=600)),
        tax_included="N/A",
    )
    periods = [
        period("2025-03-04T10:00:00Z", TIME=hours(23)),
        period("2025-03-04T10:23:00Z", PARKING_TIME=hours(14)),
    ]
    cost = price_session(
        t,
        periods,
        version="2.3.0",
        time_zone="UTC",
        start="2025-03-04T10:00:00Z",
        end="2025-03-04T10:37:00Z",
    )
    # 23 min charging as measured, 14 min parking rounded up to 20 min.
    assert cost.time.before_taxes == D("0.92")
    assert cost.parking.before_taxes == D("2.00")
    assert cost.total.before_taxes == D("2.92")


def test_energy_step_applies_once_to_the_session_total_at_the_last_price() -> None:
    t = tariff(
        element(component("ENERGY", "0.40", step=500), start_time="18:00"),
        element(component("ENERGY", "0.25", step=500)),
        tax_included="N/A",
    )
    periods = [
        period("2025-03-04T17:00:00Z", ENERGY="6.2"),
        period("2025-03-04T18:00:00Z", ENERGY="1.1"),
    ]
    cost = price_session(
        t,
        periods,
        version="2.3.0",
        time_zone="UTC",
        start="2025-03-04T17:00:00Z",
        end="2025-03-04T18:30:00Z",
    )
    # 7.3 kWh rounded up to 7.5; the extra 0.2 kWh at the price after 18:00.
    assert cost.billed_energy_kwh == D("7.5")
    assert cost.total.before_taxes == D("2.07")  # 6.2 x 0.25 + 1.3 x 0.40


EVENING = tariff(
    element(component("ENERGY", "0.50"), start_time="18:00", end_time="07:00"),
    element(component("ENERGY", "0.30")),
    tax_included="YES",
)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # 17:30-18:30 in Amsterdam: winter (UTC+1) and summer (UTC+2).
        ("2025-01-15T16:30:00Z", "2025-01-15T17:30:00Z"),
        ("2025-07-15T15:30:00Z", "2025-07-15T16:30:00Z"),
    ],
)
def test_a_period_crossing_18h_local_time_is_priced_on_both_sides(start: str, end: str) -> None:
    cost = price_session(
        EVENING,
        [period(start, ENERGY=10, TIME=1)],
        version="2.3.0",
        time_zone="Europe/Amsterdam",
        start=start,
        end=end,
    )
    assert cost.total.after_taxes == D("4.00")  # 5 kWh x 0.30 + 5 kWh x 0.50
    assert [i.price for i in cost.items] == [D("0.30"), D("0.50")]


def test_the_time_zone_decides_where_18h_is() -> None:
    periods = [period("2025-01-15T16:30:00Z", ENERGY=10, TIME=1)]
    kwargs: dict[str, Any] = {
        "version": "2.3.0",
        "start": "2025-01-15T16:30:00Z",
        "end": "2025-01-15T17:30:00Z",
    }
    assert price_session(EVENING, periods, time_zone="UTC", **kwargs).total.after_taxes == D("3.00")


def test_periods_already_split_by_the_cpo_give_the_same_price() -> None:
    periods = [
        period("2025-01-15T16:30:00Z", ENERGY=5, TIME="0.5"),
        period("2025-01-15T17:00:00Z", ENERGY=5, TIME="0.5"),
    ]
    for split in (True, False):
        cost = price_session(
            EVENING,
            periods,
            version="2.3.0",
            time_zone="Europe/Amsterdam",
            start="2025-01-15T16:30:00Z",
            end="2025-01-15T17:30:00Z",
            split_periods=split,
        )
        assert cost.total.after_taxes == D("4.00")


def test_a_restriction_window_wraps_past_midnight() -> None:
    # 06:45-07:45 local: 15 minutes still in the 18:00-07:00 window.
    cost = price_session(
        EVENING,
        [period("2025-01-15T05:45:00Z", ENERGY=10, TIME=1)],
        version="2.3.0",
        time_zone="Europe/Amsterdam",
        start="2025-01-15T05:45:00Z",
        end="2025-01-15T06:45:00Z",
    )
    assert cost.total.after_taxes == D("3.50")  # 2.5 x 0.50 + 7.5 x 0.30


def test_a_min_duration_element_starts_charging_after_an_hour() -> None:
    t = tariff(element(component("TIME", "3.00", step=60), min_duration=3600), tax_included="N/A")
    cost = price_session(
        t,
        [period("2025-03-04T10:00:00Z", TIME=hours(100))],
        version="2.3.0",
        time_zone="UTC",
        start="2025-03-04T10:00:00Z",
        end="2025-03-04T11:40:00Z",
    )
    assert cost.billed_time_h * 60 == pytest.approx(40)
    assert cost.total.before_taxes == D("2.00")  # 40 min x 3.00 / h; the first hour is free


def test_max_kwh_switches_the_price_within_a_period() -> None:
    t = tariff(
        element(component("ENERGY", "0.20"), max_kwh=10),
        element(component("ENERGY", "0.40")),
        tax_included="N/A",
    )
    cost = price_session(
        t,
        [period("2025-03-04T10:00:00Z", ENERGY=15, TIME=1)],
        version="2.3.0",
        time_zone="UTC",
        start="2025-03-04T10:00:00Z",
        end="2025-03-04T11:00:00Z",
    )
    assert cost.total.before_taxes == D("4.00")  # 10 x 0.20 + 5 x 0.40


def test_day_of_week_switches_at_local_midnight() -> None:
    t = tariff(
        element(component("TIME", "6.00"), day_of_week=["SUNDAY"]),
        element(component("TIME", "3.00")),
        tax_included="N/A",
    )
    # Sunday 23:30 to Monday 00:30 in Amsterdam.
    cost = price_session(
        t,
        [period("2025-03-09T22:30:00Z", TIME=1)],
        version="2.3.0",
        time_zone="Europe/Amsterdam",
        start="2025-03-09T22:30:00Z",
        end="2025-03-09T23:30:00Z",
    )
    assert cost.total.before_taxes == D("4.50")


def test_power_restrictions_use_the_periods_power_dimensions() -> None:
    t = tariff(
        element(component("ENERGY", "0.60"), min_power=50),
        element(component("ENERGY", "0.35")),
        tax_included="N/A",
    )
    periods = [
        period("2025-03-04T10:00:00Z", ENERGY=20, MIN_POWER=60, MAX_POWER=120),
        period("2025-03-04T10:20:00Z", ENERGY=5, MAX_POWER=11),
    ]
    cost = price_session(t, periods, version="2.3.0", time_zone="UTC", start="2025-03-04T10:00:00Z")
    assert cost.total.before_taxes == D("13.75")  # 20 x 0.60 + 5 x 0.35


@pytest.mark.parametrize(
    ("version", "included", "price", "vat", "expected"),
    [
        ("2.2.1", None, "0.30", "21", {"excl_vat": D("3.00"), "incl_vat": D("3.63")}),
        ("2.2.1", None, "0.30", None, {"excl_vat": D("3.00"), "incl_vat": D("3.00")}),
        (
            "2.3.0",
            "NO",
            "0.30",
            "21",
            {
                "before_taxes": D("3.00"),
                "taxes": [{"name": "VAT", "percentage": D(21), "amount": D("0.63")}],
            },
        ),
        (
            "2.3.0",
            "YES",
            "0.35",
            "21",
            # 3.50 includes 21 %: 3.50 / 1.21 = 2.8926 before taxes, 0.6074 tax.
            {
                "before_taxes": D("2.89"),
                "taxes": [{"name": "VAT", "percentage": D(21), "amount": D("0.61")}],
            },
        ),
        ("2.3.0", "N/A", "0.35", "21", {"before_taxes": D("3.50")}),
        ("2.3.0", "NO", "0.30", None, {"before_taxes": D("3.00")}),
        ("2.1.1", None, "0.30", "21", D("3.00")),
    ],
)
def test_taxes_per_version_and_tax_included(
    version: str, included: str | None, price: str, vat: str | None, expected: Any
) -> None:
    fields = {"tax_included": included} if included else {}
    t = tariff(element(component("ENERGY", price, vat=vat)), **fields)
    cost = price_session(
        t,
        [period("2025-03-04T10:00:00Z", ENERGY=10)],
        version=version,
        time_zone="UTC",
        start="2025-03-04T10:00:00Z",
    )
    assert cost.to_price() == expected


def test_tax_included_yes_keeps_the_consumer_amount() -> None:
    t = tariff(element(component("ENERGY", "0.35", vat="21")), tax_included="YES")
    cost = price_session(
        t,
        [period("2025-03-04T10:00:00Z", ENERGY=10)],
        version="2.3.0",
        time_zone="UTC",
        start="2025-03-04T10:00:00Z",
    )
    assert cost.total.after_taxes == D("3.50")
    assert cost.total.before_taxes + cost.total.taxes[0].amount == D("3.50")


def test_each_vat_rate_is_its_own_tax() -> None:
    t = tariff(
        element(component("FLAT", "1.00", vat="9"), component("ENERGY", "0.30", vat="21")),
        tax_included="NO",
    )
    cost = price_session(
        t,
        [period("2025-03-04T10:00:00Z", ENERGY=10)],
        version="2.3.0",
        time_zone="UTC",
        start="2025-03-04T10:00:00Z",
    )
    assert cost.total.before_taxes == D("4.00")
    assert {t.percentage: t.amount for t in cost.total.taxes} == {D(9): D("0.09"), D(21): D("0.63")}
    assert cost.total.after_taxes == D("4.72")


def test_max_and_min_price_bound_the_total() -> None:
    t = tariff(
        element(component("ENERGY", "0.30", vat="21")),
        tax_included="NO",
        max_price={"before_taxes": D("5.00"), "after_taxes": D("6.05")},
        min_price={"before_taxes": D("1.00"), "after_taxes": D("1.21")},
    )

    def total(kwh: int) -> Any:
        return price_session(
            t,
            [period("2025-03-04T10:00:00Z", ENERGY=kwh)],
            version="2.3.0",
            time_zone="UTC",
            start="2025-03-04T10:00:00Z",
        )

    high = total(30)
    assert high.price_limit == "max_price"
    assert (high.total.before_taxes, high.total.after_taxes) == (D("5.00"), D("6.05"))
    assert high.energy.before_taxes == D("9.00")  # the parts are not bounded
    low = total(1)
    assert low.price_limit == "min_price"
    assert (low.total.before_taxes, low.total.after_taxes) == (D("1.00"), D("1.21"))
    assert total(10).price_limit is None
    unbounded = price_session(
        t,
        [period("2025-03-04T10:00:00Z", ENERGY=30)],
        version="2.3.0",
        time_zone="UTC",
        start="2025-03-04T10:00:00Z",
        apply_price_limits=False,
    )
    assert unbounded.total.before_taxes == D("9.00")


def test_reservation_time_and_fee_come_from_reservation_elements() -> None:
    t = tariff(
        element(
            component("FLAT", "1.50"),
            component("TIME", "6.00", step=600),
            reservation="RESERVATION",
        ),
        element(component("FLAT", "0.40")),
        element(component("ENERGY", "0.30")),
    )
    periods = [
        period("2025-03-04T09:00:00Z", RESERVATION_TIME=hours(17)),
        period("2025-03-04T09:17:00Z", ENERGY=12, TIME="0.5"),
    ]
    cost = price_session(
        t,
        periods,
        version="2.2.1",
        time_zone="UTC",
        start="2025-03-04T09:00:00Z",
        end="2025-03-04T09:47:00Z",
    )
    # Reservation 1.50 + 20 min (17 rounded up to 10 min) x 6.00 / h; start fee; energy.
    assert cost.reservation.before_taxes == D("3.50")
    assert cost.fixed.before_taxes == D("0.40")
    assert cost.energy.before_taxes == D("3.60")
    assert cost.time.before_taxes == D("0.00")  # charging time has no component
    assert cost.total.before_taxes == D("7.50")


def test_an_expired_reservation_bills_the_expiry_elements_and_no_start_fee() -> None:
    t = tariff(
        element(component("TIME", "2.00"), reservation="RESERVATION"),
        element(component("FLAT", "3.00"), reservation="RESERVATION_EXPIRES"),
        element(component("FLAT", "0.40")),
        element(component("ENERGY", "0.30")),
    )
    periods = [period("2025-03-04T09:00:00Z", RESERVATION_TIME=1)]
    kwargs: dict[str, Any] = {
        "version": "2.2.1",
        "time_zone": "UTC",
        "start": "2025-03-04T09:00:00Z",
        "end": "2025-03-04T10:00:00Z",
    }
    expired = price_session(t, periods, reservation_expired=True, **kwargs)
    assert expired.total.before_taxes == D("5.00")
    assert expired.fixed.before_taxes == D("0.00")
    assert price_session(t, periods, **kwargs).total.before_taxes == D("2.00")


def test_without_periods_only_the_flat_fee_is_due() -> None:
    t = tariff(element(component("FLAT", "1.00"), component("ENERGY", "0.30")), tax_included="N/A")
    cost = price_session(t, [], version="2.3.0", time_zone="UTC", start="2025-03-04T09:00:00Z")
    assert cost.to_price() == {"before_taxes": D("1.00")}


def test_rounding_is_a_parameter() -> None:
    t = tariff(element(component("ENERGY", "0.25")), tax_included="N/A")
    periods = [period("2025-03-04T09:00:00Z", ENERGY="0.5")]
    kwargs: dict[str, Any] = {
        "version": "2.3.0",
        "time_zone": "UTC",
        "start": "2025-03-04T09:00:00Z",
    }
    assert price_session(t, periods, **kwargs).total.before_taxes == D("0.13")
    even = price_session(t, periods, rounding=ROUND_HALF_EVEN, **kwargs)
    assert even.total.before_taxes == D("0.12")
    exact = price_session(t, periods, money_places=None, **kwargs)
    assert exact.total.before_taxes == D("0.125")


def test_numbers_may_arrive_as_ints_floats_or_decimals() -> None:
    t = tariff(
        {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]},
        tax_included="N/A",
    )
    periods = [
        {
            "start_date_time": datetime(2025, 3, 4, 9, tzinfo=UTC),
            "dimensions": [{"type": "ENERGY", "volume": 7}],
        }
    ]
    cost = price_session(t, periods, version="2.3.0", time_zone="UTC", start="2025-03-04T09:00:00Z")
    assert cost.total.before_taxes == D("2.10")
    assert isinstance(cost.total.before_taxes, Decimal)


# --- tariff choice and pre-authorization ----------------------------------------------------------


def test_preauthorize_amount_comes_first() -> None:
    t = tariff(
        preauthorize_amount=D("40"), max_price={"before_taxes": 60, "after_taxes": D("72.6")}
    )
    assert preauthorization_amount(t, D("50.00")) == D("40")


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ({"before_taxes": 60, "after_taxes": D("72.6")}, D("72.6")),
        ({"before_taxes": 60}, D("60")),
        ({"excl_vat": 60, "incl_vat": D("72.6")}, D("72.6")),
        ({"excl_vat": 60}, D("60")),
    ],
)
def test_else_the_max_price_including_taxes(limit: dict[str, Any], expected: Decimal) -> None:
    assert preauthorization_amount(tariff(max_price=limit), D("50.00")) == expected


def test_else_the_default() -> None:
    assert preauthorization_amount(tariff(), D("50.00")) == D("50.00")


def test_tariff_choice_prefers_ad_hoc_then_untyped_then_regular() -> None:
    regular = tariff(id="REG", type="REGULAR")
    untyped = tariff(id="ANY")
    ad_hoc = tariff(id="ADHOC", type="AD_HOC_PAYMENT")
    cheap = tariff(id="CHEAP", type="PROFILE_CHEAP")
    ids = ["CHEAP", "REG", "ANY", "ADHOC"]
    assert select_tariff([cheap, regular, untyped, ad_hoc], ids)["id"] == "ADHOC"
    assert select_tariff([cheap, regular, untyped], ids)["id"] == "ANY"
    assert select_tariff([cheap, regular], ids)["id"] == "REG"
    assert select_tariff([cheap], ids) is None


def test_tariff_choice_only_looks_at_the_connectors_tariffs() -> None:
    ad_hoc = tariff(id="ADHOC", type="AD_HOC_PAYMENT")
    regular = tariff(id="REG", type="REGULAR")
    assert select_tariff([ad_hoc, regular], ["reg"])["id"] == "REG"  # CiString: any case
    assert select_tariff([ad_hoc, regular], []) is None


def test_tariff_choice_skips_tariffs_outside_their_validity() -> None:
    old = tariff(id="OLD", type="AD_HOC_PAYMENT", end_date_time="2025-03-01T00:00:00Z")
    new = tariff(id="NEW", type="AD_HOC_PAYMENT", start_date_time="2025-03-01T00:00:00Z")
    fallback = tariff(id="REG", type="REGULAR")
    every = [old, new, fallback]
    ids = ["OLD", "NEW", "REG"]
    assert select_tariff(every, ids, now=datetime(2025, 2, 1, tzinfo=UTC))["id"] == "OLD"
    assert select_tariff(every, ids, now=datetime(2025, 3, 1, tzinfo=UTC))["id"] == "NEW"
    assert select_tariff([old, fallback], ids, now=datetime(2025, 4, 1, tzinfo=UTC))["id"] == "REG"


# --- tariff text ----------------------------------------------------------------------------------


def test_tariff_lines_show_consumer_prices_and_conditions() -> None:
    t = tariff(
        element(component("FLAT", "1.00", vat="21")),
        element(component("ENERGY", "0.35", vat="21")),
        element(component("TIME", "3.00", vat="21"), min_duration=3600),
        tax_included="YES",
        max_price={"before_taxes": D("41.32"), "after_taxes": D("50.00")},
    )
    assert tariff_lines(t, language="en") == [
        "€1.00 per session",
        "€0.35 per kWh",
        "€0.05 per minute after 60 min",
        "maximum €50.00 per session",
        "incl. 21% VAT",
    ]


def test_tariff_lines_add_vat_to_prices_that_exclude_it() -> None:
    t = tariff(
        element(component("ENERGY", "0.25", vat="20")),
        element(
            component("PARKING_TIME", "5.00", vat="20"),
            start_time="09:00",
            end_time="18:00",
            day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
        ),
    )
    assert tariff_lines(t, language="en") == [
        "€0.30 per kWh",
        "€0.10 per minute parking from 09:00 to 18:00 on weekdays",
        "incl. 20% VAT",
    ]


def test_tariff_lines_for_other_currencies_and_hourly_prices() -> None:
    t = tariff(
        element(component("ENERGY", "0.50")),
        element(component("TIME", "2.00")),
        tax_included="N/A",
        currency="CHF",
    )
    assert tariff_lines(t, language="de") == ["CHF 0.50 per kWh", "CHF 2.00 per hour"]
    euro = tariff(element(component("ENERGY", "0.35")), tax_included="NO")
    assert tariff_lines(euro, language="en", currency_symbol=False) == [
        "EUR 0.35 per kWh",
        "excl. taxes",
    ]


def test_tariff_lines_round_unit_prices_to_cents_and_give_the_exact_ones_apart() -> None:
    # The demo's tariff: 0.45 and 0.60 excl. 21 % VAT are 0.5445 per kWh and 0.726 per hour.
    t = tariff(
        element(component("ENERGY", "0.45", vat="21")),
        element(component("TIME", "0.60", vat="21")),
        element(component("PARKING_TIME", "3.00", vat="21")),
        tax_included="NO",
    )
    assert tariff_lines(t, language="en") == [
        "€0.54 per kWh",
        "€0.73 per hour",
        "€3.63 per hour parking",
        "incl. 21% VAT",
        "Exact: €0.5445 per kWh, €0.726 per hour",
    ]


def test_tariff_lines_for_a_free_tariff() -> None:
    assert tariff_lines(tariff(element(component("FLAT", "0.00"))), language="en") == [
        "Free of charge"
    ]


def test_tariff_lines_fall_back_to_the_alternative_text() -> None:
    t = tariff(
        tariff_alt_text=[
            {"language": "en", "text": "0.45 per kWh, card payment"},
            {"language": "nl", "text": "0,45 per kWh, betalen met pas"},
        ]
    )
    t["elements"] = []
    assert tariff_lines(t, language="nl") == ["0,45 per kWh, betalen met pas"]
    assert tariff_lines(t, language="fr") == ["0.45 per kWh, card payment"]


def test_tariff_languages_in_order_without_repeats() -> None:
    texts = [{"language": code, "text": "x"} for code in ("en", "nl", "en", "de")]
    assert tariff_languages(tariff(tariff_alt_text=texts)) == ["en", "nl", "de"]
    assert tariff_languages(tariff()) == []


# --- CDR arithmetic -------------------------------------------------------------------------------

CDR_TARIFF = tariff(
    element(component("FLAT", "1.00", vat="21")),
    element(component("ENERGY", "0.30", vat="21")),
    element(component("PARKING_TIME", "6.00", step=300, vat="21")),
    tax_included="NO",
)


def vat(before: str, tax: str) -> dict[str, Any]:
    return {
        "before_taxes": D(before),
        "taxes": [{"name": "VAT", "percentage": 21, "amount": D(tax)}],
    }


def good_cdr() -> dict[str, Any]:
    """80 minutes: 60 charging 15 kWh, 20 parking. 1.00 + 4.50 + 2.00 = 7.50, VAT 1.575."""
    return {
        "country_code": "NL",
        "party_id": "PYT",
        "id": "CDR-1",
        "start_date_time": "2025-03-04T10:00:00Z",
        "end_date_time": "2025-03-04T11:20:00Z",
        "cdr_token": {
            "country_code": "NL",
            "party_id": "PTR",
            "uid": "TX-1",
            "type": "AD_HOC_USER",
            "contract_id": "TX-1",
        },
        "auth_method": "COMMAND",
        "cdr_location": {
            "id": "LOC-7",
            "address": "Stationsplein 12",
            "city": "Utrecht",
            "country": "NLD",
            "coordinates": {"latitude": "52.089444", "longitude": "5.110278"},
            "evse_uid": "EVSE-1",
            "evse_id": "NL*PYT*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "tariffs": [copy.deepcopy(CDR_TARIFF)],
        "charging_periods": [
            period("2025-03-04T10:00:00Z", ENERGY=15, TIME=1),
            period("2025-03-04T11:00:00Z", PARKING_TIME="0.3333"),
        ],
        "total_cost": vat("7.50", "1.58"),
        "total_fixed_cost": vat("1.00", "0.21"),
        "total_energy_cost": vat("4.50", "0.95"),
        "total_parking_cost": vat("2.00", "0.42"),
        "total_energy": D(15),
        "total_time": D("1.3333"),
        "total_parking_time": D("0.3333"),
        "last_updated": "2025-03-04T11:21:00Z",
    }


def pointers(problems: list[Any]) -> list[tuple[str, str | None]]:
    return [(p.rule, p.pointer) for p in problems]


def test_a_consistent_cdr_has_no_problems() -> None:
    assert check_cdr_totals(good_cdr(), version="2.3.0") == []


def test_a_cdr_model_instance_is_checked_the_same_way() -> None:
    assert check_cdr_totals(CDRV230.model_validate(good_cdr()), version="2.3.0") == []


def test_total_energy_must_match_the_energy_volumes() -> None:
    cdr = good_cdr()
    cdr["total_energy"] = D("15.5")
    assert pointers(check_cdr_totals(cdr, version="2.3.0")) == [("OCPI-38", "/total_energy")]


def test_energy_volumes_in_wh_are_flagged() -> None:
    cdr = good_cdr()
    cdr["charging_periods"][0]["dimensions"][0]["volume"] = D(15000)
    found = pointers(check_cdr_totals(cdr, version="2.3.0"))
    assert ("OCPI-38", "/charging_periods/0/dimensions/0/volume") in found
    assert ("OCPI-38", "/charging_periods") in found
    assert ("OCPI-38", "/total_energy") not in found


def test_total_energy_in_wh_is_flagged() -> None:
    cdr = good_cdr()
    cdr["total_energy"] = D(15000)
    problems = check_cdr_totals(cdr, version="2.3.0")
    assert pointers(problems) == [("OCPI-38", "/total_energy")]
    assert "Wh" in problems[0].message


def test_total_time_must_match_the_session_span() -> None:
    cdr = good_cdr()
    cdr["total_time"] = D(2)
    assert pointers(check_cdr_totals(cdr, version="2.3.0")) == [("OCPI-38", "/total_time")]


def test_parking_time_cannot_exceed_total_time() -> None:
    cdr = good_cdr()
    cdr["total_parking_time"] = D("1.5")
    found = check_cdr_totals(cdr, version="2.3.0")
    assert pointers(found) == [("OCPI-38", "/total_parking_time")] * 2
    assert "exceeds" in found[0].message


def test_session_only_dimensions_are_flagged() -> None:
    cdr = good_cdr()
    cdr["charging_periods"][0]["dimensions"] += [
        {"type": "STATE_OF_CHARGE", "volume": 80},
        {"type": "POWER", "volume": D("11.2")},
    ]
    assert pointers(check_cdr_totals(cdr, version="2.3.0")) == [
        ("OCPI-38", "/charging_periods/0/dimensions/2/type"),
        ("OCPI-38", "/charging_periods/0/dimensions/3/type"),
    ]


def test_total_cost_is_recomputed_from_the_embedded_tariff() -> None:
    cdr = good_cdr()
    cdr["total_cost"] = vat("8.00", "1.68")
    found = check_cdr_totals(cdr, version="2.3.0")
    assert pointers(found) == [("OCPI-38", "/total_cost")] * 2
    assert "7.50" in found[0].message
    cdr["total_cost"] = vat("7.51", "1.58")  # within the tolerance
    assert check_cdr_totals(cdr, version="2.3.0") == []


def test_missing_taxes_are_a_cost_problem() -> None:
    cdr = good_cdr()
    cdr["total_cost"] = {"before_taxes": D("7.50")}
    assert pointers(check_cdr_totals(cdr, version="2.3.0")) == [("OCPI-38", "/total_cost")]


def test_a_given_tariff_overrides_the_embedded_one() -> None:
    dearer = copy.deepcopy(CDR_TARIFF)
    dearer["elements"][1]["price_components"][0]["price"] = D("0.50")
    found = pointers(check_cdr_totals(good_cdr(), version="2.3.0", tariff=dearer))
    assert ("OCPI-38", "/total_cost") in found
    assert ("OCPI-38", "/total_energy_cost") in found


def test_periods_out_of_order_break_ocpi_33() -> None:
    cdr = good_cdr()
    cdr["charging_periods"].reverse()
    assert pointers(check_cdr_totals(cdr, version="2.3.0")) == [
        ("OCPI-33", "/charging_periods/1/start_date_time")
    ]


def test_a_period_outside_the_session_is_flagged() -> None:
    cdr = good_cdr()
    cdr["charging_periods"][0]["start_date_time"] = "2025-03-04T09:00:00Z"
    found = pointers(check_cdr_totals(cdr, version="2.3.0"))
    assert ("OCPI-38", "/charging_periods/0/start_date_time") in found


def test_a_221_cdr_is_checked_on_excl_and_incl_vat() -> None:
    cdr = good_cdr()
    for t in cdr["tariffs"]:
        del t["tax_included"]
    cdr["total_cost"] = {"excl_vat": D("7.50"), "incl_vat": D("9.08")}
    for name, before, after in (
        ("total_fixed_cost", "1.00", "1.21"),
        ("total_energy_cost", "4.50", "5.45"),
        ("total_parking_cost", "2.00", "2.42"),
    ):
        cdr[name] = {"excl_vat": D(before), "incl_vat": D(after)}
    assert check_cdr_totals(cdr, version="2.2.1") == []
    cdr["total_cost"]["incl_vat"] = D("9.50")
    found = check_cdr_totals(cdr, version="2.2.1")
    assert pointers(found) == [("OCPI-38", "/total_cost")]
    assert "incl_vat" in found[0].message


def test_a_credit_cdr_has_negated_costs() -> None:
    cdr = good_cdr()
    cdr.update(id="CDR-1-C", credit=True, credit_reference_id="CDR-1")
    for name in ("total_cost", "total_fixed_cost", "total_energy_cost", "total_parking_cost"):
        cdr[name]["before_taxes"] = -cdr[name]["before_taxes"]
        cdr[name]["taxes"][0]["amount"] = -cdr[name]["taxes"][0]["amount"]
    assert check_cdr_totals(cdr, version="2.3.0") == []


def test_local_time_tariffs_need_the_locations_time_zone() -> None:
    cdr = good_cdr()
    cdr["tariffs"][0]["elements"].insert(
        1, element(component("ENERGY", "0.50", vat="21"), start_time="18:00", end_time="07:00")
    )
    cdr["total_cost"] = vat("99.00", "20.79")
    # Without the time zone the cost cannot be recomputed, so it is not judged.
    assert check_cdr_totals(cdr, version="2.3.0") == []
    # 11:00-12:20 in Amsterdam is outside the evening window: still 7.50.
    found = check_cdr_totals(cdr, version="2.3.0", time_zone="Europe/Amsterdam")
    assert pointers(found) == [("OCPI-38", "/total_cost")] * 2


def test_a_211_cdr() -> None:
    cdr = {
        "id": "CDR-211",
        "start_date_time": "2025-03-04T10:00:00Z",
        "stop_date_time": "2025-03-04T11:00:00Z",
        "currency": "EUR",
        "tariffs": [
            {"id": "T", "currency": "EUR", "elements": [element(component("ENERGY", "0.30"))]}
        ],
        "charging_periods": [period("2025-03-04T10:00:00Z", ENERGY=10, TIME=1)],
        "total_cost": D("3.00"),
        "total_energy": D(10),
        "total_time": D(1),
    }
    assert check_cdr_totals(cdr, version="2.1.1") == []
    cdr["total_cost"] = D("3.63")
    assert pointers(check_cdr_totals(cdr, version="2.1.1")) == [("OCPI-38", "/total_cost")]


def test_totals_rounded_per_dimension_and_period_are_consistent() -> None:
    """The spec leaves rounding to the parties: each of the 3 priced dimensions in each of the
    2 periods may be rounded to cents, taxes too (41.34 + 8.70 = 50.04 for 50.02 exact is
    the same thing). Such a total is no finding; one further off still is."""
    cdr = good_cdr()
    cdr["total_cost"] = vat("7.50", "1.60")  # 9.10 against 9.075 exact
    assert check_cdr_totals(cdr, version="2.3.0") == []
    cdr["total_cost"] = vat("7.58", "1.58")  # 8 cents: more than 3 parts x 2 periods round
    assert pointers(check_cdr_totals(cdr, version="2.3.0")) == [("OCPI-38", "/total_cost")] * 2
