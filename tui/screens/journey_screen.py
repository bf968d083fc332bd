"""One payment journey, every field of ``GET /__admin/journeys`` (what a narrow table omits),
written as a person reads it: amounts in money beside the minor units the API gives, the
history one state a line, the card by brand and masked PAN."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.money import minor_text

# Fields in minor units of the journey's currency.
AMOUNTS = ("preauthorized_amount", "captured_amount", "voided_amount", "session_cost", "cdr_total")


def _time(stamp: Any) -> str:
    """``2026-12-03T16:39:51.897Z`` → ``2026-12-03 16:39:51``."""
    text = str(stamp or "")
    return text[:19].replace("T", " ") if len(text) >= 19 else text


def journey_text(journey: dict[str, Any]) -> Text:
    text = Text()
    currency = journey.get("currency")
    for name, value in journey.items():
        if value in (None, "", [], {}) or name == "history":
            continue
        if name in AMOUNTS and isinstance(value, int):
            shown = f"{minor_text(value, currency)} ({value})"
        elif name == "card" and isinstance(value, dict):
            parts = (value.get("brand"), value.get("masked_pan"), value.get("medium"))
            shown = " · ".join(str(p) for p in parts if p)
        elif isinstance(value, str):
            shown = value
        else:
            shown = json.dumps(value, ensure_ascii=False)
        text.append(f"{name}: ", style="bold")
        text.append(f"{shown}\n")
    history = [h for h in journey.get("history") or [] if isinstance(h, dict)]
    if history:
        text.append("history:\n", style="bold")
        for step in history:
            reason = f"  {step['reason']}" if step.get("reason") else ""
            text.append(f"  {_time(step.get('at'))}  {step.get('state', '')}{reason}\n")
    return text


class JourneyScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, journey: dict[str, Any]) -> None:
        super().__init__()
        self.journey = journey

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="exchange-body") as body:
            body.border_title = f"Journey {self.journey.get('id', '')}"
            body.border_subtitle = "Esc to close"
            yield Static(journey_text(self.journey))
