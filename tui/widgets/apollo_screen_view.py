"""The Apollo's display: one screen of any type, drawn from the terminal's reading of it (the
control API's ``view``; :mod:`tui.apollo`).

Every screen type of Payter's Apollo UI set is drawn here (payter.md §4.3): ``carousel``,
``info``, ``notification``, ``selection``, ``screensaver``, ``message``, ``dispense``, and
Payter's certified ``payment`` screens (present card, PIN, processing). Buttons and items are
:class:`ScreenKey` widgets: clickable, focusable, and numbered for the keyboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Digits, Static

from tui.apollo import CARD_BRANDS, MEDIA_LABELS, ApolloScreen
from tui.widgets.pin_pad import PinPad
from tui.widgets.qr_code import QrCode
from tui.widgets.screen_key import ScreenKey
from tui.widgets.spinner import Spinner

ICONS = {"approved": "✔", "declined": "✖"}
# Card brand badges are packed into lines of at most this many cells, so that a badge never
# breaks inside itself at the narrowest frame.
BADGE_LINE_WIDTH = 31


class ApolloScreenView(VerticalScroll):
    """Draws one :class:`ApolloScreen`; :meth:`show` swaps it for the next one."""

    def __init__(self, screen: ApolloScreen | None = None, *, animate: bool = True) -> None:
        super().__init__()
        self.apollo = screen or ApolloScreen.from_json(None)
        self._animated = animate
        self.can_focus = False

    async def show(self, screen: ApolloScreen) -> None:
        if screen == self.apollo:
            return
        self.apollo = screen
        await self.recompose()

    def compose(self) -> ComposeResult:
        screen = self.apollo
        for name in list(self.classes):
            if name.startswith("-type-") or name.startswith("-color-"):
                self.remove_class(name)
        self.add_class(f"-type-{screen.type}", f"-color-{screen.color}")
        builder = {
            "carousel": self._carousel,
            "info": self._info,
            "notification": self._notification,
            "selection": self._selection,
            "screensaver": self._screensaver,
            "message": self._message,
            "dispense": self._dispense,
            "payment": self._payment,
            "reader": self._reader,
        }.get(screen.type, self._unknown)
        yield from builder(screen)

    # --- pieces --------------------------------------------------------------------------

    def _title(self, screen: ApolloScreen) -> Iterator[Widget]:
        if screen.title:
            yield Static(screen.title, classes="apollo-title", markup=False)
        if screen.subtitle:
            yield Static(screen.subtitle, classes="apollo-subtitle", markup=False)

    def _shortcut(self, screen: ApolloScreen, key: str) -> str:
        keys = screen.shortcut_keys
        return str(keys.index(key) + 1) if key in keys else ""

    def _buttons(self, screen: ApolloScreen) -> Iterator[Widget]:
        buttons = screen.buttons
        if not buttons:
            return
        pressable = set(screen.keys)
        keys = []
        for button in buttons:
            label = ("🌐 " if button.language else "") + button.label
            keys.append(
                ScreenKey(
                    button.name,
                    label,
                    shortcut=self._shortcut(screen, button.name),
                    inactive=button.name not in pressable,
                    classes="apollo-button" + (" -transparent" if button.transparent else ""),
                )
            )
        yield Horizontal(*keys, classes="apollo-buttons")

    def _spacer(self) -> Widget:
        return Static("", classes="apollo-spacer")

    # --- screen types --------------------------------------------------------------------

    def _carousel(self, screen: ApolloScreen) -> Iterator[Widget]:
        yield from self._title(screen)
        yield self._spacer()
        cards = screen.cards
        if cards:
            marks = [
                (CARD_BRANDS.get(c.logo or "", c.cardholder or c.name), c.logo or "") for c in cards
            ]
            text = _badge_lines(marks, BADGE_LINE_WIDTH)
            yield Static(text, classes="apollo-cards")
        yield from self._buttons(screen)

    def _info(self, screen: ApolloScreen) -> Iterator[Widget]:
        # The words first (a receipt's amount), then its QR code: in a short frame the code
        # scrolls, the amount and the buttons (docked at the bottom) stay in sight.
        if screen.logo and not screen.qr:
            yield Static("PAYTER", classes="apollo-logo")
        yield from self._title(screen)
        if screen.message:
            yield Static(screen.message, classes="apollo-message", markup=False)
        if screen.qr:
            yield QrCode(screen.qr, classes="apollo-qr")
        yield self._spacer()
        yield from self._buttons(screen)

    def _notification(self, screen: ApolloScreen) -> Iterator[Widget]:
        # §4.3: the attention panel has the advice (small text) at its top and the result
        # message under the icon; the title and subtitle head the screen like on any other.
        yield from self._title(screen)
        icon = screen.icon
        panel: list[Widget] = []
        if screen.advice:
            panel.append(Static(screen.advice, classes="apollo-advice", markup=False))
        if icon:
            panel.append(Static(_big_icon(icon), classes=f"apollo-icon -{icon}"))
        if screen.message:
            panel.append(Static(screen.message, classes="apollo-result", markup=False))
        yield Vertical(*panel, classes="apollo-panel")
        yield self._spacer()
        yield from self._buttons(screen)

    def _selection(self, screen: ApolloScreen) -> Iterator[Widget]:
        yield from self._title(screen)
        kind = screen.selection_type
        rows: list[Widget] = []
        for item in screen.items:
            aside = ""
            if kind in (0, 1):
                aside = item.amount_text or ""
            elif kind == 2 and item.value:
                aside = item.value
            if item.disabled and not aside:
                aside = "—"
            rows.append(
                ScreenKey(
                    item.name,
                    item.label,
                    aside=aside,
                    shortcut=self._shortcut(screen, item.name),
                    inactive=item.disabled or item.name not in screen.keys,
                    centred=False,
                    classes=f"apollo-item -selection-{kind}",
                )
            )
        yield Vertical(*rows, classes="apollo-items")
        yield self._spacer()
        yield from self._buttons(screen)

    def _screensaver(self, screen: ApolloScreen) -> Iterator[Widget]:
        yield self._spacer()
        yield from self._title(screen)
        if screen.qr:
            yield QrCode(screen.qr, classes="apollo-qr")
        yield self._spacer()
        touch = ScreenKey("touch", "Touch the screen", classes="apollo-touch")
        yield touch

    def _message(self, screen: ApolloScreen) -> Iterator[Widget]:
        yield from self._title(screen)
        if screen.message:
            yield Static(screen.message, classes="apollo-message", markup=False)
        yield self._spacer()
        yield from self._buttons(screen)

    def _dispense(self, screen: ApolloScreen) -> Iterator[Widget]:
        yield self._spacer()
        yield Static("▼", classes="apollo-dispense-icon")
        yield from self._title(screen)
        yield self._spacer()

    def _payment(self, screen: ApolloScreen) -> Iterator[Widget]:
        payment = screen.payment
        phase = payment.phase if payment else "processing"
        title = screen.title or (payment.title if payment else "")
        yield Static(title, classes="apollo-title")
        if payment and payment.amount_text:
            yield _amount(payment.amount_text)
        if phase == "present_card":
            yield Static(")))", classes="apollo-contactless")
            media = payment.media if payment else ()
            if media:
                text = Text(justify="center")
                for index, medium in enumerate(media):
                    if index:
                        text.append("  ")
                    text.append(f" {MEDIA_LABELS.get(medium, medium)} ", style="reverse")
                yield Static(text, classes="apollo-media")
            if screen.message:
                yield Static(screen.message, classes="apollo-message", markup=False)
        elif phase == "pin":
            digits = payment.pin_digits if payment else 0
            shown = " ".join(["●"] * digits) if digits else "_ _ _ _"
            yield Static(shown, classes="apollo-pin")
            yield PinPad(list(screen.keys))
            yield ScreenKey(
                "cancel",
                "Cancel",
                inactive="cancel" not in screen.keys,
                classes="apollo-button pin-cancel",
            )
        else:
            yield Spinner(
                screen.message or "Please wait", animate=self._animated, classes="apollo-spinner"
            )
        yield self._spacer()

    def _reader(self, screen: ApolloScreen) -> Iterator[Widget]:
        """A card reader without a display (P6X): its light and state, its payment step."""
        light = "( ● )" if screen.light else "( ○ )"
        yield Static(f"{light}  {screen.title}", classes="apollo-title", markup=False)
        yield Static(screen.subtitle, classes="apollo-subtitle", markup=False)
        if screen.payment is not None:
            # The payment step under its own title ("Enter PIN").
            yield from self._payment(replace(screen, title=""))
        else:
            yield self._spacer()

    def _unknown(self, screen: ApolloScreen) -> Iterator[Widget]:
        yield Static(f"[{screen.type}]", classes="apollo-subtitle", markup=False)
        yield from self._title(screen)
        if screen.message:
            yield Static(screen.message, classes="apollo-message", markup=False)
        yield from self._buttons(screen)


def _big_icon(icon: str) -> Text:
    glyph = ICONS.get(icon, "?")
    return Text(f"╭───╮\n│ {glyph} │\n╰───╯", justify="center")


def _amount(text: str) -> Widget:
    """The amount in big digits when Textual's Digits can draw all of it (``€50.00``)."""
    if text and all(c in DIGITS_CHARACTERS for c in text):
        return Digits(text, classes="apollo-amount")
    return Static(text, classes="apollo-amount-text", markup=False)


# What Textual's Digits widget draws (currency symbols included).
DIGITS_CHARACTERS = frozenset("0123456789.,-+€£$")


def _badge_lines(marks: list[tuple[str, str]], width: int) -> Text:
    """Brand badges, greedily packed into centred lines no wider than ``width``."""
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0
    for mark, brand in marks:
        size = len(mark) + 2
        if lines[-1] and used + 1 + size > width:
            lines.append([])
            used = 0
        used += size + (1 if lines[-1] else 0)
        lines[-1].append((mark, brand))
    text = Text(justify="center", no_wrap=True)
    for number, line in enumerate(lines):
        if number:
            text.append("\n")
        for index, (mark, brand) in enumerate(line):
            if index:
                text.append(" ")
            text.append(f" {mark} ", style=f"bold #ffffff on {_brand_colour(brand)}")
    return text


def _brand_colour(brand: str) -> str:
    return {
        "visa": "#1a1f71",
        "mastercard": "#eb001b",
        "maestro": "#0099df",
        "vpay": "#1a1f71",
        "amex": "#2e77bc",
        "discover": "#ff6000",
    }.get(brand, "grey50")
