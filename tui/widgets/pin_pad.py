"""The PIN pad of Payter's certified PIN screen: 1-9, clear, 0, OK, then cancel."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from tui.widgets.screen_key import ScreenKey

LAYOUT = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok")
LABELS = {"clear": "⌫", "ok": "OK", "cancel": "Cancel"}


class PinPad(Grid):
    """Three columns of keys; each key presses its PIN key on the terminal."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__()
        self.keys = set(keys)

    def compose(self) -> ComposeResult:
        for key in LAYOUT:
            yield ScreenKey(
                key,
                LABELS.get(key, key),
                inactive=key not in self.keys,
                classes=f"pin-key pin-{key}",
            )
