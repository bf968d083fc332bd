"""What the emulator accepts from outside, checked before anything parses it into models.

Every request body, query string and header a peer sends is text that ends up in the traffic
journal, the findings and often in state. Text that is not valid Unicode (a lone UTF-16
surrogate such as ``\\ud800``, or bytes that are not UTF-8) cannot be stored or sent on, and
JSON shaped to exhaust the parser (nesting hundreds of levels deep, million-element arrays,
numbers with thousands of digits) cannot be validated safely. Both are refused here, up front,
so that each protocol layer answers in its own terms (OCPI ``2001``, the CPS error body, the
control API's error body) and nothing of it reaches state.

The limits are far above anything the protocols need: the longest OCPI string field is
``string(5000)`` (``SignedValue`` of a CDR), OCPI objects nest fewer than ten levels (a
Tariff's element, price component and restriction, inside the response envelope), and a list
push is bounded by the body size limit anyway. Per-field sizes are the models' business: they
refuse ``CiString(36)`` overruns with a finding naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote_to_bytes

# A JSON escape of a UTF-16 surrogate: the only way a lone surrogate can get into text that
# decoded as strict UTF-8 (a pair is combined into one character by the parser).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidInput(ValueError):
    """Input refused before parsing: not valid text, or JSON beyond the shape limits."""

    def __init__(self, message: str, *, pointer: str | None = None, kind: str = "text") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer
        # "text" (not valid Unicode / UTF-8) or "shape" (depth, sizes, numbers).
        self.kind = kind


@dataclass(frozen=True)
class JsonLimits:
    max_depth: int = 32
    max_array: int = 10_000
    max_keys: int = 1_000
    # Characters of one string (the longest OCPI field is string(5000)).
    max_string: int = 8_192
    # Characters of one number literal; a Decimal's exponent stays within +-max_exponent.
    max_number: int = 40
    max_exponent: int = 30


LIMITS = JsonLimits()


# --- text ----------------------------------------------------------------------------------------


def has_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def check_text(text: str, where: str) -> None:
    """Refuse a string holding a lone surrogate (it cannot be encoded as UTF-8)."""
    if has_surrogate(text):
        raise InvalidInput(f"{where} holds a lone UTF-16 surrogate; it is not valid Unicode text")


def clean(text: str) -> str:
    """``text`` with anything that cannot be UTF-8 encoded escaped (``\\ud800``): for records of
    what arrived (journal, logs), which must keep a refused request's trace without failing."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _decode_percent(raw: str, where: str) -> None:
    try:
        unquote_to_bytes(raw.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{where} is not valid UTF-8 once percent-decoded (byte {exc.start}: "
            f"{exc.reason}); percent-encode UTF-8 only"
        ) from None


def check_request_text(
    raw_path: str, headers: Iterable[tuple[str, str]], *, skip_headers: frozenset[str] = frozenset()
) -> None:
    """Refuse a request whose path, query string or header values are not valid text.

    ``raw_path`` is the request target as sent (percent-encoded); aiohttp decodes header
    bytes that are not UTF-8 into lone surrogates, which are refused here.
    """
    check_text(raw_path, "the request target")
    path, _, query = raw_path.partition("?")
    _decode_percent(path, "the path")
    if query:
        _decode_percent(query, "the query string")
    for name, value in headers:
        if name.lower() in skip_headers:
            continue
        if has_surrogate(value):
            raise InvalidInput(f"header {clean(name)} is not valid UTF-8 text")


def unreadable(exc: BaseException) -> str:
    """Why aiohttp could not read a body (``RequestPayloadError``: a bad Content-Encoding,
    a broken chunk), in one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[-1] if lines else type(exc).__name__
    return reason.removeprefix("400, message:").strip() or type(exc).__name__


# --- JSON ----------------------------------------------------------------------------------------


def _parse_int(limits: JsonLimits) -> Any:
    def parse(text: str) -> int:
        if len(text.lstrip("-")) > limits.max_exponent:
            raise InvalidInput(f"the number {text[:40]}… is out of range", kind="shape")
        return int(text)

    return parse


def _parse_float(limits: JsonLimits) -> Any:
    def parse(text: str) -> Decimal:
        if len(text) > limits.max_number:
            raise InvalidInput(
                f"a number written with {len(text)} characters; at most {limits.max_number} "
                "are accepted",
                kind="shape",
            )
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the JSON grammar admits only numbers
            raise InvalidInput(f"{text!r} is not a number", kind="shape") from None
        if value and abs(value.adjusted()) > limits.max_exponent:
            raise InvalidInput(
                f"the number {text} is out of range (magnitude 1e{value.adjusted()})",
                kind="shape",
            )
        return value

    return parse


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a JSON value", kind="shape")


_DECODERS: dict[JsonLimits, json.JSONDecoder] = {}


def _decoder(limits: JsonLimits) -> json.JSONDecoder:
    """One decoder per set of limits (building one per call costs as much as a small parse)."""
    decoder = _DECODERS.get(limits)
    if decoder is None:
        decoder = _DECODERS[limits] = json.JSONDecoder(
            parse_float=_parse_float(limits),
            parse_int=_parse_int(limits),
            parse_constant=_refuse_constant,
        )
    return decoder


def loads(raw: bytes | str, limits: JsonLimits = LIMITS) -> Any:
    """Parse JSON from a peer: strict UTF-8, no lone surrogates, within ``limits``; numbers
    with a fraction as Decimal (like :func:`emulator.jsonio.loads`).

    Raises :class:`InvalidInput` for text or shape problems, :class:`ValueError` (a
    ``json.JSONDecodeError``) for malformed JSON.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"the body is not valid UTF-8 (byte {exc.start}: {exc.reason})"
            ) from None
    else:
        text = raw
        check_text(text, "the body")
    text = text.removeprefix("\ufeff")
    escapes = _SURROGATE_ESCAPE.search(text) is not None
    try:
        value = _decoder(limits).decode(text)
    except RecursionError:
        raise InvalidInput(
            f"JSON nested deeper than {limits.max_depth} levels", kind="shape"
        ) from None
    # Cheap bounds first: a short body with few brackets cannot break a limit.
    if (
        escapes
        or len(text) > limits.max_string
        or text.count(",") >= min(limits.max_array, limits.max_keys)
    ):
        check_shape(
            value, limits, surrogates=escapes, strings=escapes or len(text) > limits.max_string
        )
    elif text.count("[") + text.count("{") > limits.max_depth and _deeper_than(
        value, limits.max_depth
    ):
        # Fewer commas than any array or object may hold members, short text, no escape:
        # only the depth can break a limit. The full walk says where.
        check_shape(value, limits, surrogates=False, strings=False)
    return value


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether ``value`` nests containers deeper than ``max_depth`` (the root is level 1):
    a walk level by level, over the containers only."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 1
    while level:
        if depth > max_depth:
            return True
        below: list[Any] = []
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                if isinstance(child, (dict, list)):
                    below.append(child)
        level = below
        depth += 1
    return False


def check_shape(
    value: Any, limits: JsonLimits = LIMITS, *, surrogates: bool = True, strings: bool = True
) -> None:
    """Walk a parsed JSON value (without recursion) and refuse what breaks ``limits``.

    ``strings=False``: the strings need no look (the whole text is shorter than a string may
    be, and holds no surrogate escape). The JSON pointer of a value is built only for the
    message of a refusal: each entry of the walk is (value, depth, parent entry, key)."""
    Entry = tuple[Any, int, Any, Any]
    stack: list[Entry] = [(value, 1, None, None)]
    while stack:
        entry = stack.pop()
        node, depth = entry[0], entry[1]
        if isinstance(node, str):
            if len(node) > limits.max_string:
                pointer = _pointer(entry)
                raise InvalidInput(
                    f"a string of {len(node)} characters at {pointer or '/'}; at most "
                    f"{limits.max_string} are accepted",
                    pointer=pointer or "/",
                    kind="shape",
                )
            if surrogates and has_surrogate(node):
                pointer = _pointer(entry)
                raise InvalidInput(
                    f"the string at {pointer or '/'} holds a lone UTF-16 surrogate; it is "
                    "not valid Unicode text",
                    pointer=pointer or "/",
                )
            continue
        if not isinstance(node, (dict, list)):
            continue  # the root only: other scalars are not put on the stack
        if depth > limits.max_depth:
            pointer = _pointer(entry)
            raise InvalidInput(
                f"JSON nested deeper than {limits.max_depth} levels (at {pointer})",
                pointer=pointer,
                kind="shape",
            )
        if isinstance(node, list):
            if len(node) > limits.max_array:
                pointer = _pointer(entry)
                raise InvalidInput(
                    f"an array of {len(node)} elements at {pointer or '/'}; at most "
                    f"{limits.max_array} are accepted",
                    pointer=pointer or "/",
                    kind="shape",
                )
            stack.extend(
                (item, depth + 1, entry, i)
                for i, item in enumerate(node)
                if isinstance(item, (dict, list)) or (strings and isinstance(item, str))
            )
            continue
        if len(node) > limits.max_keys:
            pointer = _pointer(entry)
            raise InvalidInput(
                f"an object of {len(node)} members at {pointer or '/'}; at most "
                f"{limits.max_keys} are accepted",
                pointer=pointer or "/",
                kind="shape",
            )
        for key, item in node.items():
            if surrogates and has_surrogate(key):
                where = f"{_pointer(entry)}/{clean(key)}"
                raise InvalidInput(
                    f"the member name at {where} holds a lone UTF-16 surrogate; it is not "
                    "valid Unicode text",
                    pointer=where,
                )
            if isinstance(item, (dict, list)) or (strings and isinstance(item, str)):
                stack.append((item, depth + 1, entry, key))


def _pointer(entry: tuple[Any, int, Any, Any]) -> str:
    """The JSON pointer of a walked value (its keys from the root, member names cleaned)."""
    parts: list[str] = []
    while entry[2] is not None:
        key = entry[3]
        parts.append(str(key) if isinstance(key, int) else clean(key))
        entry = entry[2]
    return "".join(f"/{part}" for part in reversed(parts))
