"""QR codes drawn with half-block characters, scannable from a screen.

A terminal cell is about twice as tall as it is wide, so one cell holds two modules stacked
(``▀`` / ``▄`` / ``█`` / space): each module comes out square. The code is drawn dark on light
with its own quiet zone, whatever the theme's colours are, because a scanner needs the
contrast.
"""

from __future__ import annotations

import segno
from rich.style import Style
from rich.text import Text

DARK = "#000000"
LIGHT = "#ffffff"
# ISO/IEC 18004 asks for four modules; two is what the terminal pane can afford at 80x24 and
# what phone scanners read without trouble.
QUIET_ZONE = 2


def qr_matrix(content: str, border: int = QUIET_ZONE) -> list[list[bool]]:
    """The modules (True = dark) of the smallest QR code that holds ``content``."""
    code = segno.make(content, micro=False)
    return [[bool(m) for m in row] for row in code.matrix_iter(scale=1, border=border)]


def qr_lines(content: str, border: int = QUIET_ZONE) -> list[str]:
    """The code as text lines of half blocks (dark modules drawn, light ones blank)."""
    matrix = qr_matrix(content, border)
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    lines = []
    for top, bottom in zip(matrix[0::2], matrix[1::2], strict=True):
        lines.append("".join(_cell(t, b) for t, b in zip(top, bottom, strict=True)))
    return lines


def qr_size(content: str, border: int = QUIET_ZONE) -> tuple[int, int]:
    """Width and height in cells."""
    modules = len(qr_matrix(content, border))
    return modules, (modules + 1) // 2


def qr_text(content: str, border: int = QUIET_ZONE) -> Text:
    """The code as Rich text, dark on light."""
    style = Style(color=DARK, bgcolor=LIGHT)
    return Text("\n".join(qr_lines(content, border)), style=style, no_wrap=True, end="")


def _cell(top: bool, bottom: bool) -> str:
    if top and bottom:
        return "█"
    if top:
        return "▀"
    if bottom:
        return "▄"
    return " "
