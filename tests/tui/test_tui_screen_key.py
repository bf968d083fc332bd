"""A selection item: label on the left, amount on the right, never run together or cut."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.widgets.screen_key import MIN_GAP, ScreenKey


class _OneKey(App[None]):
    CSS = "ScreenKey { width: 30; height: auto; }"

    def __init__(self, label: str, aside: str, centred: bool = False) -> None:
        super().__init__()
        self.key = ScreenKey("r1", label, aside=aside, shortcut="1", centred=centred)

    def compose(self) -> ComposeResult:
        yield self.key


async def _rendered(label: str, aside: str, centred: bool = False) -> list[str]:
    app = _OneKey(label, aside, centred)
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        assert app.key.size.height == len(app.key.lines(30))
        return app.key.render().plain.split("\n")


async def test_a_long_label_wraps_under_itself_and_keeps_its_amount_whole() -> None:
    lines = await _rendered("Charger 1 · 2026-11-23 09:41", "€13.44")
    # Broken between the parts of the "·" list, not inside one.
    assert lines == ["1  Charger 1", "   2026-11-23 09:41" + " " * 5 + "€13.44"]
    assert all(len(line) <= 30 for line in lines)


async def test_an_amount_that_does_not_fit_beside_the_last_line_gets_its_own() -> None:
    lines = await _rendered("Charger 12 · Type 2 · 22 kW · Available", "€1,012,345,678.90")
    assert lines[-2] == "   Available"
    assert lines[-1] == " " * 13 + "€1,012,345,678.90"
    assert "…" not in "".join(lines)


async def test_short_label_and_amount_fill_the_line() -> None:
    assert await _rendered("Charger 1", "€0.65") == ["1  Charger 1" + " " * 13 + "€0.65"]
    text = (await _rendered("Charger 1", "€0.65"))[0]
    assert text.index("€") - len("1  Charger 1") >= MIN_GAP


async def test_a_centred_button_wraps_centred() -> None:
    lines = await _rendered("Stop charging on this charger now", "", centred=True)
    assert len(lines) == 2 and lines[0].strip().startswith("1  Stop")
