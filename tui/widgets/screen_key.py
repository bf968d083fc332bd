"""One pressable thing on the terminal's screen: a selection item, a button or a PIN key."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.reactive import reactive
from textual.widget import Widget

from tui.messages import ScreenKeyPressed

# Cells between a label and its amount, so that "… · 1 € 13.44" does not read as one text.
MIN_GAP = 2


class ScreenKey(Widget, can_focus=True):
    """A one-line touch target: shortcut, label on the left, amount or note on the right.

    Clicking it, or Enter / Space while it has focus, posts :class:`ScreenKeyPressed` with the
    key that ``POST /__admin/terminals/{serial}/press`` takes.
    """

    BINDINGS = [
        Binding("enter", "press", "Press", show=False),
        Binding("space", "press", "Press", show=False),
    ]

    disabled_look = reactive(False)

    def __init__(
        self,
        key: str,
        label: str,
        *,
        aside: str = "",
        shortcut: str = "",
        inactive: bool = False,
        centred: bool = True,
        classes: str = "",
    ) -> None:
        super().__init__(classes=classes)
        self.key = key
        self.label = label
        self.aside = aside
        self.shortcut = shortcut
        self.centred = centred
        self.disabled_look = inactive
        self.set_class(inactive, "-inactive")

    def render(self) -> Text:
        width = max(self.size.width, 1)
        left = Text()
        if self.shortcut:
            left.append(f"{self.shortcut} ", style="bold reverse")
            left.append(" ")
        left.append(self.label)
        right = Text(self.aside)
        gap = width - left.cell_len - right.cell_len
        if not self.aside and self.centred:
            # A plain button: label centred, like the terminal's buttons.
            pad = max((width - left.cell_len) // 2, 0)
            return Text(" " * pad) + left
        if gap < MIN_GAP:
            # The amount stays whole and apart from the label; the label gives way.
            left.truncate(max(width - right.cell_len - MIN_GAP, 1), overflow="ellipsis")
            gap = max(width - left.cell_len - right.cell_len, 1)
        return left + Text(" " * gap) + right

    def action_press(self) -> None:
        if not self.disabled_look:
            self.post_message(ScreenKeyPressed(self.key))

    def on_click(self, event: Click) -> None:
        event.stop()
        self.action_press()
