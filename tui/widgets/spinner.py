"""The processing spinner of the payment screens."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

FRAMES = ("◐", "◓", "◑", "◒")


class Spinner(Widget):
    """A turning wheel; ``animate=False`` keeps the first frame (snapshots)."""

    frame = reactive(0)

    def __init__(self, label: str = "", *, animate: bool = True, classes: str = "") -> None:
        super().__init__(classes=classes)
        self.label = label
        self._animated = animate

    def on_mount(self) -> None:
        if self._animated:
            self.set_interval(0.15, self._turn)

    def _turn(self) -> None:
        self.frame = (self.frame + 1) % len(FRAMES)

    def render(self) -> Text:
        text = Text(FRAMES[self.frame], style="bold")
        if self.label:
            text.append(f"  {self.label}")
        return text
