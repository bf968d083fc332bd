"""Amounts as people read them: a currency's sign, or else its code, before the amount.

One table for the terminal's screens, the tariff texts and the messages the emulator writes
(``€0.35``, ``£12.00``, ``SEK 12.00``); a message to a machine writes the code (``sign=False``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# The largest amount a Payter terminal authorizes or captures, in minor units: Payter's amounts
# are 4-byte integers (PSP "Money to Reserve", payter.md §3.5).
MAX_AMOUNT = 2**31 - 1
# The currencies written with a sign; every other one is written with its ISO 4217 code.
SIGNS = {"EUR": "€", "GBP": "£", "USD": "$"}


def currency_prefix(currency: str, *, sign: bool = True) -> str:
    """What stands before an amount: ``€`` (``sign``), else the code and a space."""
    code = currency.upper()
    if sign and code in SIGNS:
        return SIGNS[code]
    return f"{code} "


def major_text(amount: Decimal | int | float | str, currency: str | None) -> str:
    """An amount in major units, rounded to the minor unit: ``0.5445`` EUR → ``€0.54``."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return f"{currency_prefix(currency or '')}{amount}"
    sign = "-" if value < 0 else ""
    prefix = currency_prefix(currency) if currency else ""
    return f"{sign}{prefix}{abs(value).quantize(CENT, ROUND_HALF_UP)}"


def minor_text(minor: int | str | None, currency: str | None) -> str:
    """An amount in minor units: ``5000`` EUR → ``€50.00``; None → ``-``."""
    if minor is None or minor == "":
        return "-"
    try:
        value = Decimal(str(minor)) / 100
    except InvalidOperation:
        return f"{currency_prefix(currency or '')}{minor}"
    return major_text(value, currency)
