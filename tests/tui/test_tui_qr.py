"""QR codes in half blocks: the drawing is exactly segno's matrix, two modules per cell."""

from __future__ import annotations

import segno

from tui.qr import QUIET_ZONE, qr_lines, qr_size

UPPER = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


def _decode(lines: list[str]) -> list[list[bool]]:
    rows: list[list[bool]] = []
    for line in lines:
        rows.append([UPPER[c][0] for c in line])
        rows.append([UPPER[c][1] for c in line])
    return rows


def test_half_blocks_reproduce_the_matrix() -> None:
    content = "https://cpo.example/invoices/AUTH-0001-XYZ"
    expected = [
        [bool(m) for m in row]
        for row in segno.make(content, micro=False).matrix_iter(border=QUIET_ZONE)
    ]
    drawn = _decode(qr_lines(content))
    # An odd number of rows is padded with one light row.
    assert drawn[: len(expected)] == expected
    assert all(not m for m in drawn[len(expected) :][0]) if len(drawn) > len(expected) else True
    assert qr_size(content) == (len(expected), (len(expected) + 1) // 2)


def test_finder_pattern_is_in_the_corner() -> None:
    lines = qr_lines("EMU-QR-0001")
    top = lines[QUIET_ZONE // 2]
    assert top[QUIET_ZONE : QUIET_ZONE + 7] == "█▀▀▀▀▀█"
