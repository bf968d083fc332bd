"""Amounts as a driver reads them: ``€50.00``, ``SEK 12.50``.

One table of currency symbols for everything that shows money to a person (the terminal's
screens, the journey's texts, the TUI through the screen's ``view``). Amounts are rounded to
the currency's minor unit, the way a price display shows them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# A symbol written before the amount; other currencies are written as their ISO code + space.
SYMBOLS = {
    "EUR": "€",
    "GBP": "£",
    "USD": "$",
}
CENT = Decimal("0.01")


def symbol(currency: str | None) -> str:
    """``€`` for EUR, ``SEK `` (code and a space) for currencies without a symbol here."""
    code = (currency or "").upper()
    if not code:
        return ""
    return SYMBOLS.get(code, code + " ")


def major_text(amount: Decimal | int | float | str, currency: str | None) -> str:
    """An amount in major units, rounded to the minor unit: ``0.5445`` EUR → ``€0.54``."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return f"{symbol(currency)}{amount}"
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol(currency)}{abs(value).quantize(CENT, ROUND_HALF_UP)}"


def minor_text(minor: int | str | None, currency: str | None) -> str:
    """An amount in minor units: ``5000`` EUR → ``€50.00``; None → ``-``."""
    if minor is None or minor == "":
        return "-"
    try:
        value = Decimal(str(minor)) / 100
    except InvalidOperation:
        return f"{symbol(currency)}{minor}"
    return major_text(value, currency)
