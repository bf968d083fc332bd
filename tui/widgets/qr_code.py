"""A QR code drawn in the terminal pane, scannable with a phone."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tui.qr import qr_size, qr_text


class QrCode(Widget):
    """Renders ``content`` as a QR code of half blocks, dark on light, centred."""

    def __init__(self, content: str, *, classes: str = "") -> None:
        super().__init__(classes=classes)
        self.content = content
        width, height = qr_size(content)
        self.styles.height = height
        self.styles.min_width = width

    def render(self) -> Text:
        text = qr_text(self.content)
        width, _ = qr_size(self.content)
        pad = max((self.size.width - width) // 2, 0)
        if not pad:
            return text
        lines = text.split("\n")
        out = Text(end="")
        for index, line in enumerate(lines):
            if index:
                out.append("\n")
            out.append(" " * pad)
            out.append_text(line)
        return out
