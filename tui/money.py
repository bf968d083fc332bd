"""Amounts of the control API's records (journeys: minor units) as a person reads them.

Screens come with their amounts already written by the terminal (the screen's ``view``); this
is for the other records the TUI lists. The symbols are the emulator's (``emulator.money``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}


def minor_text(minor: Any, currency: Any) -> str:
    """``5000`` EUR → ``€50.00``; ``1250`` SEK → ``SEK 12.50``; nothing → ``""``."""
    if minor is None or minor == "":
        return ""
    try:
        value = (Decimal(str(minor)) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    except InvalidOperation:
        return str(minor)
    return major_text(value, currency)


def major_text(value: Any, currency: Any) -> str:
    """A major-unit amount (an OCPI price): ``13.4`` EUR → ``€13.40``."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    except InvalidOperation:
        return str(value)
    code = str(currency or "").upper()
    symbol = SYMBOLS.get(code, f"{code} " if code else "")
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount)}"
