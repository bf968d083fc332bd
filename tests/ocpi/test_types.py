"""OCPI primitive types: DateTime above all (types.asciidoc; checklist 5.1 #8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from emulator import jsonio
from emulator.ocpi.types import Ci, DateTime, collect_notes, format_datetime, parse_datetime


class Stamped(BaseModel):
    at: DateTime
    ref: Annotated[str, Ci(5)] | None = None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09.2Z", datetime(2015, 6, 29, 20, 39, 9, 200000, tzinfo=UTC)),
        ("2015-06-29T20:39:09.123Z", datetime(2015, 6, 29, 20, 39, 9, 123000, tzinfo=UTC)),
    ],
)
def test_datetime_forms_the_spec_allows(text: str, expected: datetime) -> None:
    with collect_notes() as notes:
        assert parse_datetime(text) == expected
    assert notes == []


def test_offset_is_accepted_with_a_note_and_converted() -> None:
    with collect_notes() as notes:
        value = parse_datetime("2015-06-29T22:39:09+02:00")
    assert value == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)
    assert [n.rule for n in notes] == ["OCPI-08"]


def test_over_25_characters_is_accepted_with_a_note() -> None:
    text = "2015-06-29T20:39:09.123456789Z"
    with collect_notes() as notes:
        value = parse_datetime(text)
    assert value == datetime(2015, 6, 29, 20, 39, 9, 123456, tzinfo=UTC)
    assert [n.rule for n in notes] == ["OCPI-08"] and "25 characters" in notes[0].message
    # Written back in at most 25 characters, whatever came in.
    assert Stamped.model_validate({"at": text}).model_dump(mode="json")["at"] == (
        "2015-06-29T20:39:09.123Z"
    )


@pytest.mark.parametrize("bad", ["29-06-2015", "2015-06-29", "2015-13-01T00:00:00Z", 12, None])
def test_invalid_datetimes(bad: object) -> None:
    with pytest.raises(ValidationError):
        Stamped.model_validate({"at": bad})


def test_serialisation_is_utc_z_and_short() -> None:
    micro = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert format_datetime(micro) == "2025-01-02T03:04:05.678Z"
    assert format_datetime(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02T03:04:05Z"
    dumped = Stamped(at=micro).model_dump(mode="json")
    assert dumped["at"] == "2025-01-02T03:04:05.678Z" and len(dumped["at"]) <= 25
    assert jsonio.dumps({"at": micro}) == '{"at": "2025-01-02T03:04:05.678Z"}'


def test_serialisation_of_stamps_within_one_second_and_across_seconds() -> None:
    """Stamps in a row (the same second, the next, an offset, a naive one, years < 1000)
    each get their own text (the formatter keeps the last second's text)."""
    base = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    cases = [
        (base.replace(microsecond=1), "2025-01-02T03:04:05.000Z"),
        (base.replace(microsecond=999_999), "2025-01-02T03:04:05.999Z"),
        (base, "2025-01-02T03:04:05Z"),
        (base.replace(second=6, microsecond=5_000), "2025-01-02T03:04:06.005Z"),
        (base.replace(tzinfo=timezone(timedelta(hours=2))), "2025-01-02T01:04:05Z"),
        (base.replace(tzinfo=None, microsecond=250_000), "2025-01-02T03:04:05.250Z"),
        (datetime(7, 1, 1, tzinfo=UTC), "0007-01-01T00:00:00Z"),
        (base.replace(microsecond=1), "2025-01-02T03:04:05.000Z"),
    ]
    assert [format_datetime(value) for value, _ in cases] == [text for _, text in cases]


def test_cistring_rules() -> None:
    Stamped.model_validate({"at": "2025-01-01T00:00:00Z", "ref": "AB12"})
    for bad in ("TOOLONG", "é"):
        with pytest.raises(ValidationError):
            Stamped.model_validate({"at": "2025-01-01T00:00:00Z", "ref": bad})


def test_money_stays_decimal_through_json() -> None:
    parsed = jsonio.loads('{"price": 0.1, "n": 3}')
    assert parsed["price"] == Decimal("0.1") and isinstance(parsed["price"], Decimal)
    assert jsonio.dumps({"a": Decimal("0.30"), "b": Decimal("2.00")}) == '{"a": 0.3, "b": 2}'


def test_sortable_datetime_orders_fractions_and_whole_seconds() -> None:
    from emulator.ocpi.types import sortable_datetime

    # As OCPI text "…00.500Z" sorts before "…00Z"; the sortable form sorts in time order.
    assert "2025-01-01T10:00:00.500Z" < "2025-01-01T10:00:00Z"
    values = ["2025-01-01T10:00:00.500Z", "2025-01-01T10:00:00Z", "2025-01-01T09:59:59.999Z"]
    ordered = sorted(values, key=sortable_datetime)
    assert ordered == [
        "2025-01-01T09:59:59.999Z",
        "2025-01-01T10:00:00Z",
        "2025-01-01T10:00:00.500Z",
    ]
    assert sortable_datetime("2025-01-01T10:00:00.5Z") >= sortable_datetime("2025-01-01T10:00:00Z")
    assert sortable_datetime(None) is None
