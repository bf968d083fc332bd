"""JSON in and out, one way for the whole code base.

Numbers are read as :class:`~decimal.Decimal` so that money is never a float inside the
emulator, and written back as JSON numbers. Datetimes are written in the OCPI format.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from pydantic import BaseModel

from emulator.datetimes import format_datetime


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True, by_alias=True)
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 10**15:
            return int(value)
        return float(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


# Built once: json.dumps with any option builds a new encoder on every call, which costs more
# than encoding a small document.
_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False)


def dumps(value: Any, *, indent: int | None = None) -> str:
    if indent is None:
        return _ENCODER.encode(value)
    return json.dumps(value, default=_default, ensure_ascii=False, indent=indent)


_COMPACT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps_compact(value: Any) -> str:
    """:func:`dumps` without spaces between items, through orjson (several times faster): for
    JSON nobody reads as text (columns of the store, decoded on every read). What orjson
    refuses (an integer beyond 64 bits, text with a lone surrogate) goes through
    :func:`json.dumps` as before."""
    try:
        return orjson.dumps(value, default=_default, option=_COMPACT).decode("utf-8")
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))


# One decoder for every call: json.loads with a hook builds a new decoder (and its scanner)
# each time, which costs as much as parsing a small document.
_DECODER = json.JSONDecoder(parse_float=Decimal)


def loads(text: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction become Decimal. Raises ValueError on bad JSON."""
    if not isinstance(text, str):
        # What json.loads does with bytes: the encoding is detected (UTF-8, -16 or -32).
        if not isinstance(text, (bytes, bytearray)):
            raise TypeError(f"the JSON object must be str or bytes, not {type(text).__name__}")
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    elif text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def plain(value: Any) -> Any:
    """A JSON-shaped copy of ``value`` (models dumped, Decimals as numbers)."""
    return _DECODER.decode(dumps(value))
