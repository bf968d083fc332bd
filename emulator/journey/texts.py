"""Texts of the journey's screens, from ``fixtures/journey/texts.json`` (data, not code).

A text missing in the driver's language falls back to English; a language without any texts
(a tariff in Finnish, say) shows English texts but keeps the tariff's own alt text.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache
from typing import Any

from emulator.fixtures import load_json
from emulator.money import currency_prefix

# Texts from --journey-texts, over the built-in ones (per language, per key).
_overrides: dict[str, Any] = {}


@cache
def _texts() -> dict[str, Any]:
    data = load_json("journey", "texts.json")
    assert isinstance(data, dict)
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for language, table in _overrides.items():
        merged.setdefault(language, {}).update(table)
    return merged


def check_overrides(data: Any) -> dict[str, dict[str, str]]:
    """A texts file: ``{"<language>": {"<key>": "<text>", ...}, ...}``; ValueError if not."""
    if not isinstance(data, dict) or not all(
        isinstance(lang, str)
        and isinstance(table, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in table.items())
        for lang, table in data.items()
    ):
        raise ValueError('journey texts must be {"<language>": {"<key>": "<text>", ...}, ...}')
    return data


def use_overrides(data: dict[str, dict[str, str]]) -> None:
    """Texts that replace the built-in ones (Payter's own texts are not public)."""
    _overrides.clear()
    _overrides.update(check_overrides(data))
    _texts.cache_clear()


def text(language: str, key: str, **values: Any) -> str:
    texts = _texts()
    table = texts.get(language) or {}
    template = table.get(key) or texts["en"].get(key) or key
    try:
        return str(template).format(**values)
    except (KeyError, IndexError):
        return str(template)


@dataclass(frozen=True)
class Texts:
    """The texts in one language (one with texts: else English)."""

    language: str

    @classmethod
    def for_language(cls, language: str) -> Texts:
        return cls(language if has_texts(language) else "en")

    def t(self, key: str, **values: Any) -> str:
        return text(self.language, key, **values)


def language_name(code: str) -> str:
    return str(_texts()["languages"].get(code, code.upper()))


def has_texts(language: str) -> bool:
    return language in _texts()


def money(minor: int | None, currency: str, *, sign: bool = True) -> str:
    """Minor units to what a driver reads: ``€50.00`` (``sign=False``: ``EUR 50.00``)."""
    if minor is None:
        return "-"
    value = (Decimal(minor) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{currency_prefix(currency, sign=sign)}{value}"


# Amounts in minor units the journey keeps are exact up to 2**53 (what JSON and the store
# hold); a peer's absurd total (1e29 EUR) is held at that bound, far above any authorization.
MINOR_LIMIT = 2**53


def to_minor(amount: Decimal | int | float | str) -> int:
    """Major units to minor units, rounded half up, held within ±:data:`MINOR_LIMIT`."""
    with localcontext() as wide:
        wide.prec = 80  # the largest number a peer may send (inbound: 1e30) times 100, exact
        minor = int((Decimal(str(amount)) * 100).quantize(Decimal("1"), ROUND_HALF_UP))
    return max(-MINOR_LIMIT, min(MINOR_LIMIT, minor))
