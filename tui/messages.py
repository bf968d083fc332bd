"""Every message the TUI's widgets post, in one place.

Widgets never call the control API themselves: they post one of these, and the main screen,
which owns the client, carries it out and refreshes what changed.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class ScreenKeyPressed(Message):
    """A button or item of the terminal screen was pressed (click or shortcut)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


class CardPresented(Message):
    """A test card of the wallet is presented to the terminal."""

    def __init__(self, card: str, medium: str) -> None:
        super().__init__()
        self.card = card
        self.medium = medium


class ChargerActionRequested(Message):
    """Plug in, unplug, EV full or fault on one EVSE of the simulated CPO."""

    def __init__(self, evse_uid: str, action: str) -> None:
        super().__init__()
        self.evse_uid = evse_uid
        self.action = action


class ClockAdvanceRequested(Message):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds


class TerminalSwitchRequested(Message):
    """Show another terminal: ``step`` +1 / -1 through the list."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step


class ExchangeSelected(Message):
    """Open the detail of one exchange of the traffic journal."""

    def __init__(self, exchange_id: int) -> None:
        super().__init__()
        self.exchange_id = exchange_id


class JourneySelected(Message):
    """Open the whole record of one payment journey."""

    def __init__(self, journey: dict[str, Any]) -> None:
        super().__init__()
        self.journey = journey
