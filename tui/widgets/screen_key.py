"""One pressable thing on the terminal's screen: a selection item, a button or a PIN key."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from tui.messages import ScreenKeyPressed

# Cells between a label and its amount, so that "… · 1 € 13.44" does not read as one text.
MIN_GAP = 2


class ScreenKey(Widget, can_focus=True):
    """A touch target: shortcut, label on the left, amount or note on the right.

    A label too long for the line wraps under itself (the shortcut stays alone in its column)
    and the amount stays whole, on the label's last line when it fits there, else on a line of
    its own. Clicking it, or Enter / Space while it has focus, posts :class:`ScreenKeyPressed`
    with the key that ``POST /__admin/terminals/{serial}/press`` takes.
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

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Text:
        return Text("\n").join(self.lines(max(self.size.width, 1)))

    def lines(self, width: int) -> list[Text]:
        """The key drawn ``width`` cells wide, one :class:`Text` per line."""
        width = max(width, 1)
        prefix = Text()
        if self.shortcut:
            prefix.append(f"{self.shortcut} ", style="bold reverse")
            prefix.append(" ")
        indent = prefix.cell_len if prefix.cell_len < width // 2 else 0
        room = max(width - indent, 1)
        aside = self.aside
        if not aside and self.centred:
            # A plain button: the label centred, like the terminal's buttons.
            texts = (
                [prefix + Text(self.label)]
                if prefix.cell_len + cell_len(self.label) <= width
                else None
            )
            if texts is None:
                texts = [
                    (prefix if n == 0 else Text(" " * indent)) + Text(part)
                    for n, part in enumerate(_wrap(self.label, room))
                ]
            return [Text(" " * max((width - t.cell_len) // 2, 0)) + t for t in texts]
        one_line = (
            prefix.cell_len + cell_len(self.label) + (MIN_GAP + cell_len(aside) if aside else 0)
        )
        if one_line <= width:
            left = prefix + Text(self.label)
            if not aside:
                return [left]
            return [left + Text(" " * (width - left.cell_len - cell_len(aside))) + Text(aside)]
        parts = _wrap(self.label, room)
        lines = [
            (prefix if n == 0 else Text(" " * indent)) + Text(part) for n, part in enumerate(parts)
        ]
        if aside:
            last = lines[-1]
            if last.cell_len + MIN_GAP + cell_len(aside) <= width:
                lines[-1] = (
                    last + Text(" " * (width - last.cell_len - cell_len(aside))) + Text(aside)
                )
            else:
                lines.append(Text(" " * max(width - cell_len(aside), 0)) + Text(aside))
        return lines

    def action_press(self) -> None:
        if not self.disabled_look:
            self.post_message(ScreenKeyPressed(self.key))

    def on_click(self, event: Click) -> None:
        event.stop()
        self.action_press()


SEPARATOR = " · "


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` cells, broken between the parts of a ``·`` list first
    ("Charger 1 · Type 2 · 22 kW" / "Available"), else between words."""
    if SEPARATOR in text:
        lines: list[str] = []
        for part in text.split(SEPARATOR):
            candidate = f"{lines[-1]}{SEPARATOR}{part}" if lines else part
            if lines and cell_len(candidate) <= width:
                lines[-1] = candidate
            else:
                lines.extend(_wrap_words(part, width))
        return lines
    return _wrap_words(text, width)


def _wrap_words(text: str, width: int) -> list[str]:
    """Words into lines of at most ``width`` cells; a word longer than a line is cut."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while cell_len(word) > width:
            if line:
                lines.append(line)
                line = ""
            cut = width
            while cut > 1 and cell_len(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}" if line else word
        if cell_len(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines
