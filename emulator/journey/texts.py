"""Texts of the journey's screens, from ``fixtures/journey/texts.json`` (data, not code).

A text missing in the driver's language falls back to English; a language without any texts
(a tariff in Finnish, say) shows English texts but keeps the tariff's own alt text.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from emulator.fixtures import load_json
from emulator.money import currency_prefix


@cache
def _texts() -> dict[str, Any]:
    data = load_json("journey", "texts.json")
    assert isinstance(data, dict)
    return data


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


def to_minor(amount: Decimal | int | float | str) -> int:
    return int((Decimal(str(amount)) * 100).quantize(Decimal("1"), ROUND_HALF_UP))
