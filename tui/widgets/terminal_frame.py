"""The terminal: a portrait frame proportioned like the Apollo's 320x480 display (a P6X, which
has no display, is drawn as a card reader in the same frame)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical

from tui.apollo import ApolloScreen
from tui.widgets.apollo_screen_view import ApolloScreenView

# 320x480 px is 2:3. A terminal cell is about twice as tall as it is wide, so in cells the
# display is 4 columns for every 3 rows.
COLUMNS_PER_ROW = 4 / 3
# Narrower than this and a receipt QR code (33 modules with its quiet zone) no longer fits
# beside the display's padding (one cell each side)...
MIN_INNER_WIDTH = 35
# ... or, in a compact frame (80x24), which has no padding: the side pane gets the two cells.
MIN_COMPACT_INNER_WIDTH = 33


def frame_width(height: int, available_width: int, *, compact: bool = False) -> int:
    """Outer width of a frame ``height`` rows tall (border included) that keeps 2:3."""
    least = MIN_COMPACT_INNER_WIDTH if compact else MIN_INNER_WIDTH
    inner_height = max(height - 2, 1)
    inner = max(round(inner_height * COLUMNS_PER_ROW), least)
    return min(inner + 2, max(available_width, least + 2))


def screen_of(terminal: dict[str, Any]) -> ApolloScreen:
    """What the frame draws for ``terminal`` (``GET /__admin/terminals/{serial}``): its
    screen, or for a terminal without a display (a P6X) what its reader shows, as reported."""
    if terminal.get("has_screen") is False:
        return ApolloScreen.from_json(terminal.get("reader"))
    return ApolloScreen.from_json(terminal.get("screen"))


class TerminalFrame(Vertical):
    """Border titled with the terminal's model and serial number, its state underneath."""

    def __init__(self, *, animate: bool = True) -> None:
        super().__init__()
        self._animated = animate
        self.terminal: dict[str, Any] = {}
        self.border_title = "Payter Apollo"
        self.border_subtitle = "no terminal"

    def compose(self) -> ComposeResult:
        yield ApolloScreenView(animate=self._animated)

    @property
    def view(self) -> ApolloScreenView:
        return self.query_one(ApolloScreenView)

    @property
    def screen_shown(self) -> ApolloScreen:
        return self.view.apollo

    async def show_terminal(self, terminal: dict[str, Any]) -> None:
        self.terminal = terminal
        serial = terminal.get("serial_number") or terminal.get("serial") or "?"
        model = str(terminal.get("model") or "Apollo").title()
        self.border_title = f"Payter {model} · {serial}"
        online = terminal.get("online", True)
        state = terminal.get("state") or ""
        status = "online" if online else "OFFLINE"
        self.border_subtitle = f"{status} · {state}" if state else status
        self.set_class(not online, "-offline")
        await self.view.show(screen_of(terminal))

    async def show_placeholder(self, screen_id: str, title: str, subtitle: str) -> None:
        self.border_subtitle = "no terminal"
        await self.view.show(ApolloScreen.placeholder(title, subtitle, screen_id=screen_id))
