"""Date-times as the whole code base writes and reads them: aware UTC, RFC 3339 with ``Z``.

The core (clock, events, journal, findings, store rows) and every protocol share these helpers;
what OCPI adds on top (noting a leniency as a finding) is in :mod:`emulator.ocpi.types`.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

_DT_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime_offset(value: Any) -> tuple[datetime, bool]:
    """Parse an RFC 3339 date-time into an aware UTC datetime, and say whether the text
    carried an explicit offset other than ``Z``.

    Accepted: ``Z`` or no designator (read as UTC), optional fractional seconds, an explicit
    offset (converted to UTC). A ``datetime`` passes through (a naive one is read as UTC).
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC), False
        return value.astimezone(UTC), False
    if not isinstance(value, str):
        raise ValueError("a DateTime must be a string")
    return _parse_text(value)


# The same few stamps are read many times (a pushed object's last_updated by the model, the
# checks and the store): parsed once. Datetimes are immutable; errors are not cached.
@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> tuple[datetime, bool]:
    m = _DT_RE.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time (YYYY-MM-DDThh:mm:ss[.f]Z)")
    frac = m.group("frac") or ""
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        base = datetime.fromisoformat(f"{m.group('date')}T{m.group('time')}")
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date-time: {exc}") from None
    base = base.replace(microsecond=micro, tzinfo=UTC)
    tz = m.group("tz")
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return base - sign * offset, True
    return base, False


def parse_datetime(value: Any) -> datetime:
    """Parse an RFC 3339 date-time (see :func:`parse_datetime_offset`) into aware UTC."""
    return parse_datetime_offset(value)[0]


# The text up to the seconds of the last second formatted: the clock's stamps come many to a
# second (every request's journal row and events), and only their milliseconds differ.
_last_second: tuple[datetime | None, str] = (None, "")


def format_datetime(value: datetime) -> str:
    """Serialise as OCPI wants: UTC, ``Z``, milliseconds only when present (max 24 chars)."""
    global _last_second
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
    micro = value.microsecond
    second = value.replace(microsecond=0) if micro else value
    cached, text = _last_second
    if cached != second:
        # isoformat is strftime("%Y-%m-%dT%H:%M:%S") at a fraction of the cost (years
        # zero-padded).
        text = second.isoformat(timespec="seconds")[:19]
        _last_second = (second, text)
    if micro:
        # OCPI's three digits: the milliseconds, truncated.
        return f"{text}.{micro // 1000:03d}Z"
    return f"{text}Z"


def sortable_datetime(value: Any) -> str | None:
    """A DateTime as fixed-width text (microseconds, ``Z``) that sorts and compares in time
    order: for ``last_updated`` columns and the ``date_from``/``date_to`` filters on them.
    (OCPI text with and without fractions does not: ``…00.5Z`` < ``…00Z``.)"""
    if value is None:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return str(value)
    return moment.isoformat(timespec="microseconds")[:26] + "Z"
