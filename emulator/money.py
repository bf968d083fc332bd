"""Amounts as people read them: a currency's sign, or else its code, before the amount.

One table for the terminal's screens, the tariff texts and the messages the emulator writes
(``€0.35``, ``£12.00``, ``SEK 12.00``); a message to a machine writes the code (``sign=False``).
"""

from __future__ import annotations

# The currencies written with a sign; every other one is written with its ISO 4217 code.
SIGNS = {"EUR": "€", "GBP": "£", "USD": "$"}


def currency_prefix(currency: str, *, sign: bool = True) -> str:
    """What stands before an amount: ``€`` (``sign``), else the code and a space."""
    code = currency.upper()
    if sign and code in SIGNS:
        return SIGNS[code]
    return f"{code} "
