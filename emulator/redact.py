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


def redact_headers(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers.items():
        if key.lower() in ("authorization", "proxy-authorization", "x-admin-token"):
            out[key] = redact_authorization(str(value))
        else:
            out[key] = str(value)
    return out


def redact_text(text: str) -> str:
    """Secret-named string members cut short in JSON text that is not parsed."""
    return _MEMBER_RE.sub(lambda m: f'{m.group("key")}{redact_secret(m.group("value"))}"', text)


# What a secret-named member needs in JSON text: its name (any case), or an escape that could
# spell one. ASCII text without either holds no secret-named member.
_MAY_NAME_SECRET = re.compile(rb"token|api_?key|\\u", re.IGNORECASE)


def may_hold_secret(text: str | bytes) -> bool:
    """False when JSON ``text`` certainly has no member :func:`redact_body` would cut (then
    the walk over the parsed value can be skipped); True when it may."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return not raw.isascii() or _MAY_NAME_SECRET.search(raw) is not None


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
