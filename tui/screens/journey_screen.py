"""One payment journey, every field of ``GET /__admin/journeys`` (what a narrow table omits)."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def journey_text(journey: dict[str, Any]) -> Text:
    text = Text()
    for name, value in journey.items():
        if value in (None, "", [], {}):
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        text.append(f"{name}: ", style="bold")
        text.append(f"{shown}\n")
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
