"""A selection item: label on the left, amount on the right, never run together."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.widgets.screen_key import MIN_GAP, ScreenKey


class _OneKey(App[None]):
    CSS = "ScreenKey { width: 30; height: 1; }"

    def __init__(self, label: str, aside: str) -> None:
        super().__init__()
        self.key = ScreenKey("r1", label, aside=aside, shortcut="1", centred=False)

    def compose(self) -> ComposeResult:
        yield self.key


async def _rendered(label: str, aside: str) -> str:
    app = _OneKey(label, aside)
    async with app.run_test(size=(40, 3)) as pilot:
        await pilot.pause()
        return app.key.render().plain


async def test_amount_is_kept_apart_from_a_long_label() -> None:
    # "1 " + " " + 19 cells of label + 7 of amount leaves one cell: the label gives way.
    text = await _rendered("2026-11-23 9:41 · 1", "€ 13.44")
    assert len(text) == 30 and text.endswith(" " * MIN_GAP + "€ 13.44")
    assert "…" in text


async def test_short_label_and_amount_fill_the_line() -> None:
    text = await _rendered("Charger 1", "€ 0.65")
    assert text == "1  Charger 1" + " " * 12 + "€ 0.65"
