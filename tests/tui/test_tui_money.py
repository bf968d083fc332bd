"""The TUI writes amounts with its own small table (it is a client of the control API and
imports nothing of the emulator): it must write them as the terminal's screens do."""

from __future__ import annotations

import pytest

from emulator import money as emulator_money
from tui import money as tui_money


def test_the_same_currencies_have_a_sign() -> None:
    assert tui_money.SYMBOLS == emulator_money.SIGNS


@pytest.mark.parametrize("currency", ["EUR", "GBP", "USD", "SEK", "CHF", "eur"])
@pytest.mark.parametrize("minor", [0, 5, 1250, 5000, -1340, 123456789])
def test_amounts_read_as_on_the_terminal(minor: int, currency: str) -> None:
    assert tui_money.minor_text(minor, currency) == emulator_money.minor_text(minor, currency)
    major = f"{minor / 1000:.4f}"  # sub-cent prices round the same way too
    assert tui_money.major_text(major, currency) == emulator_money.major_text(major, currency)
