"""Secrets never reach a log, the journal or the event stream in full."""

from __future__ import annotations

import functools
import re
from typing import Any

_SECRET_KEYS = {"token", "apikey", "api_key", "admin_token", "token_a"}
_HEADER_RE = re.compile(r"^(?P<scheme>\S+)(?P<sep>\s+)(?P<rest>.+)$")
_QUOTED_RE = re.compile(r'(?P<key>\w+)="(?P<value>[^"]*)"')
# A secret-named member in JSON text that could not be parsed (kept as text in the journal).
_MEMBER_RE = re.compile(
    r'(?P<key>"(?:' + "|".join(sorted(_SECRET_KEYS)) + r')"\s*:\s*")(?P<value>(?:[^"\\]|\\.)*)"',
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    """Whether a JSON field of this name holds a secret (credentials token, API key)."""
    return key.lower() in _SECRET_KEYS


def redact_secret(value: str) -> str:
    """Keep the first four characters so a person can tell two tokens apart."""
    if len(value) <= 4:
        return "…"
    return f"{value[:4]}…"


@functools.lru_cache(maxsize=1024)
def redact_authorization(value: str) -> str:
    """An Authorization header value with its credentials cut short (cached: a peer sends the
    same few values on every request, and the journal redacts each request's headers)."""
    m = _HEADER_RE.match(value.strip())
    if not m:
        return redact_secret(value)
    rest = m.group("rest")
    if _QUOTED_RE.search(rest):
        rest = _QUOTED_RE.sub(
            lambda q: f'{q.group("key")}="{redact_secret(q.group("value"))}"', rest
        )
    else:
        rest = redact_secret(rest)
    return f"{m.group('scheme')} {rest}"


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-admin-token"})


def redact_headers(headers: Any) -> dict[str, str]:
    """Header name → value (text), credentials cut short; ``headers`` is a mapping or an
    iterable of (name, value) pairs."""
    out: dict[str, str] = {}
    pairs = headers.items() if hasattr(headers, "items") else headers
    for key, value in pairs:
        text = value if type(value) is str else str(value)
        out[key] = redact_authorization(text) if key.lower() in _SECRET_HEADERS else text
    return out


def redact_text(text: str) -> str:
    """Secret-named string members cut short in JSON text that is not parsed."""
    return _MEMBER_RE.sub(lambda m: f'{m.group("key")}{redact_secret(m.group("value"))}"', text)


def _ascii(text: str | bytes) -> bytes | None:
    """``text`` as ASCII bytes, or None when it holds anything else."""
    if isinstance(text, str):
        return text.encode("ascii") if text.isascii() else None
    return text if text.isascii() else None


def redact_json_text(text: str | bytes) -> str | None:
    """JSON text as it was written, with the string values of secret-named members cut
    short; None when that cannot be done on the text alone (non-ASCII, or escapes that could
    spell a member's name): then parse it and use :func:`redact_body`. Text that is not
    JSON gets the same treatment (:func:`redact_text`)."""
    raw = _ascii(text)
    if raw is None or b"\\u" in raw:
        return None
    out = raw.decode("ascii")
    # A secret-named member needs its name (any case: token, apikey, api_key) or an escape
    # that could spell one: ASCII text without either holds none.
    low = raw.lower()
    if b"token" in low or b"apikey" in low or b"api_key" in low:
        out = redact_text(out)
    return out


def redact_body(value: Any) -> Any:
    """Replace string values of secret-named keys, recursively."""
    if isinstance(value, dict):
        return {
            k: (
                redact_secret(v)
                if k.lower() in _SECRET_KEYS and isinstance(v, str)
                else redact_body(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_body(v) for v in value]
    return value
