"""OCPI primitive types shared by every version (types.asciidoc).

The DateTime type: UTC, ``Z``, at most 25 characters (the helpers live in
:mod:`emulator.datetimes`). Parsing is permissive where the value can still be understood (an
explicit ``+00:00`` offset, a date-time without designator); each leniency is noted in the
current :func:`notes` collector so that the caller can turn it into a finding instead of
refusing the message.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from annotated_types import GroupedMetadata, MaxLen, MinLen
from pydantic import AfterValidator, BeforeValidator, PlainSerializer

from emulator.coverage import checked
from emulator.datetimes import format_datetime as format_datetime
from emulator.datetimes import parse_datetime_offset
from emulator.datetimes import sortable_datetime as sortable_datetime
from emulator.rules import RuleId

# --- notes: leniencies found while parsing -------------------------------------------------


@dataclass(frozen=True)
class ParseNote:
    """Something accepted while parsing that a strict reading of the spec would not accept."""

    rule: RuleId
    message: str


_notes: contextvars.ContextVar[list[ParseNote] | None] = contextvars.ContextVar(
    "ocpi_parse_notes", default=None
)


class collect_notes:
    """Collect the :class:`ParseNote` s raised while validating inside the ``with`` block."""

    def __enter__(self) -> list[ParseNote]:
        self.notes: list[ParseNote] = []
        self._token = _notes.set(self.notes)
        return self.notes

    def __exit__(self, *exc: object) -> None:
        _notes.reset(self._token)


def note(rule: RuleId, message: str) -> None:
    bucket = _notes.get()
    if bucket is not None:
        bucket.append(ParseNote(rule, message))


# --- DateTime -------------------------------------------------------------------------------


def parse_datetime(value: Any) -> datetime:
    """Parse an OCPI DateTime into an aware UTC datetime.

    Accepted as the spec says: ``Z`` or no designator (implies UTC), optional fractional
    seconds. Accepted with a note (checklist rule 8): an explicit offset, more than 25
    characters.
    """
    checked("OCPI-08")
    moment, offset = parse_datetime_offset(value)
    if offset:
        note(
            "OCPI-08",
            f"DateTime {value!r} carries an offset; OCPI DateTimes are UTC with 'Z' or no "
            "designator ('+00:00 is not the same as UTC')",
        )
    if isinstance(value, str) and len(value) > 25:
        note("OCPI-08", f"DateTime {value!r} is longer than 25 characters")
    return moment


def parse_datetime_or_none(value: Any) -> datetime | None:
    """A DateTime as :func:`parse_datetime` reads it, or None where there is none to read
    (missing, empty, not a date-time): for comparisons that skip what they cannot place."""
    if value is None or value == "":
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


DateTime = Annotated[
    datetime,
    BeforeValidator(parse_datetime),
    PlainSerializer(format_datetime, return_type=str, when_used="always"),
]

# --- strings ---------------------------------------------------------------------------------

_CI_RE = re.compile(r"^[\x20-\x7e]*$")
_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _check_cistring(value: str) -> str:
    checked("OCPI-10")
    if not _CI_RE.match(value):
        raise ValueError("a CiString holds printable ASCII characters only")
    return value


def _check_string(value: str) -> str:
    checked("OCPI-10")
    if _CTRL_RE.search(value):
        raise ValueError("an OCPI string must not contain control characters (CR, LF, TAB...)")
    return value


# The string types are annotation metadata, written ``Annotated[str, Ci(36)]``: a form both
# pydantic and type checkers understand (a call such as ``CiString(36)`` in an annotation is not
# a type for mypy).


@dataclass(frozen=True)
class Ci(GroupedMetadata):
    """``CiString(n)``: case-insensitive, printable ASCII, at most ``n`` characters (and at
    least ``min_length``, for codes of a fixed length)."""

    max_length: int | None = None
    min_length: int | None = None

    def __iter__(self) -> Iterator[Any]:
        if self.max_length is not None:
            yield MaxLen(self.max_length)
        if self.min_length is not None:
            yield MinLen(self.min_length)
        yield AfterValidator(_check_cistring)


@dataclass(frozen=True)
class Str(GroupedMetadata):
    """``string(n)``: case-sensitive printable UTF-8, no control characters."""

    max_length: int | None = None

    def __iter__(self) -> Iterator[Any]:
        if self.max_length is not None:
            yield MaxLen(self.max_length)
        yield AfterValidator(_check_string)


@dataclass(frozen=True)
class Tolerant(GroupedMetadata):
    """``string(max_length)`` accepted up to ``tolerated`` characters, noted (OCPI-10) beyond.

    For limits that the spec errata raised in one place but not in a copy of the same value
    (``why`` says which), where refusing the whole message would help nobody.
    """

    max_length: int
    tolerated: int
    why: str

    def __iter__(self) -> Iterator[Any]:
        yield MaxLen(self.tolerated)
        yield AfterValidator(_check_string)
        yield AfterValidator(self._check)

    def _check(self, value: str) -> str:
        if len(value) > self.max_length:
            note(
                "OCPI-10",
                f"{len(value)} characters where string({self.max_length}) is allowed ({self.why})",
            )
        return value


URL = Annotated[str, Str(255)]

# --- numbers ---------------------------------------------------------------------------------


def _decimal_json(value: Decimal) -> int | float:
    # JSON has no decimal type; 4-decimal amounts round-trip exactly through float repr.
    if value == value.to_integral_value() and abs(value) < 10**15:
        return int(value)
    return float(value)


Number = Annotated[
    Decimal,
    PlainSerializer(_decimal_json, when_used="json"),
]


def ci_equal(a: str | None, b: str | None) -> bool:
    """Compare two CiString values the way the spec wants (case-insensitively)."""
    if a is None or b is None:
        return a is b
    return a.casefold() == b.casefold()
