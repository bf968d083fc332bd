"""The reading of a terminal screen as the control API reports it.

``GET /__admin/terminals/{serial}`` gives the screen as ``{"type", "id", "properties",
"keys"}``; ``properties`` is the flat string-to-string dict of Payter's CPS ``/ui`` body
(payter.md §4.3): list-like properties are key prefixes (``items.<name>.label``,
``buttons.<name>.label``, ``cards.<name>.logo``) in the order they were sent. This module turns
that into items, buttons and card logos in order, with no Textual in it, so that it is tested
on its own and every widget reads a screen the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

SCREEN_TYPES = (
    "carousel",
    "info",
    "notification",
    "selection",
    "screensaver",
    "message",
    "dispense",
    "payment",
)
PAYMENT_PHASES = ("present_card", "pin", "processing")
# The keys of Payter's PIN pad (journey-screens.md screen 6).
PIN_KEYS = (*(str(d) for d in range(10)), "ok", "clear", "cancel")
# "Any touch or card" wakes the screensaver (journey-screens.md screen 2).
SCREENSAVER_KEY = "touch"

CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF", "SEK": "kr", "NOK": "kr"}
# §4.3 carousel `cards.<name>.logo` enum, with the short mark the terminal pane draws.
CARD_BRANDS = {
    "visa": "VISA",
    "mastercard": "Mastercard",
    "maestro": "Maestro",
    "vpay": "V PAY",
    "amex": "AMEX",
    "discover": "Discover",
}
MEDIA_LABELS = {"contactless": "Tap", "chip": "Insert", "qr": "Scan QR", "rfid": "RFID"}


@dataclass(frozen=True)
class Item:
    """One entry of a ``selection`` screen."""

    name: str
    label: str
    amount: str | None = None
    currency: str | None = None
    value: str | None = None
    ico: str | None = None
    disabled: bool = False


@dataclass(frozen=True)
class Button:
    name: str
    label: str
    transparent: bool = False
    language: bool = False


@dataclass(frozen=True)
class CardLogo:
    name: str
    logo: str | None
    cardholder: str | None


@dataclass(frozen=True)
class ApolloScreen:
    """A screen of the Apollo terminal: type, id, flat properties and the pressable keys."""

    type: str
    id: str
    properties: dict[str, str] = field(default_factory=dict)
    given_keys: tuple[str, ...] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ApolloScreen:
        if not data:
            return cls(
                "info", "none", {"title": "No screen", "subtitle": "Waiting for the terminal"}
            )
        raw = data.get("properties") or {}
        props = {str(k): "" if v is None else str(v) for k, v in raw.items()}
        keys = data.get("keys")
        return cls(
            str(data.get("type", "info")),
            str(data.get("id", "")),
            props,
            tuple(str(k) for k in keys) if isinstance(keys, list) else None,
        )

    # --- plain properties --------------------------------------------------------------------

    def get(self, name: str, default: str = "") -> str:
        return self.properties.get(name, default)

    @property
    def title(self) -> str:
        return self.get("title")

    @property
    def subtitle(self) -> str:
        return self.get("subtitle")

    @property
    def message(self) -> str:
        return self.get("message")

    @property
    def advice(self) -> str:
        return self.get("advice")

    @property
    def icon(self) -> str | None:
        icon = self.get("icon")
        return icon if icon in ("approved", "declined") else None

    @property
    def color(self) -> str:
        """``black``, ``green`` or ``red`` (§4.3 notification ``color`` 0 / 1 / 2)."""
        value = self.get("color")
        if value in ("1", "2"):
            return "green" if value == "1" else "red"
        if not value and self.icon:
            return "green" if self.icon == "approved" else "red"
        return "black"

    @property
    def qr(self) -> str:
        # The screensaver's MyPayter key is `-qrcode`; accept it as a property too.
        return self.get("qr") or self.get("qrcode")

    @property
    def selection_type(self) -> int:
        try:
            return int(self.get("type", "3"))
        except ValueError:
            return 3

    # --- payment screens ------------------------------------------------------------------

    @property
    def phase(self) -> str | None:
        if self.type != "payment":
            return None
        phase = self.get("phase", "processing")
        return phase if phase in PAYMENT_PHASES else "processing"

    @property
    def media(self) -> list[str]:
        raw = self.get("media") or self.get("methods")
        return [m.strip() for m in raw.split(",") if m.strip()]

    @property
    def pin_digits(self) -> int:
        return len(self.get("pin"))

    @property
    def amount_text(self) -> str:
        """The amount of a payment screen; ``amount`` is in minor units."""
        return format_minor(self.get("amount"), self.get("currency"))

    # --- groups ------------------------------------------------------------------------------

    def _names(self, group: str) -> list[str]:
        """Names of a group in order of first appearance (JSON object order is kept)."""
        names: dict[str, None] = {}
        prefix = group + "."
        for key in self.properties:
            if key.startswith(prefix):
                name = key[len(prefix) :].partition(".")[0]
                if name:
                    names.setdefault(name, None)
        return list(names)

    def _attr(self, group: str, name: str, attribute: str) -> str | None:
        return self.properties.get(f"{group}.{name}.{attribute}")

    def items(self) -> list[Item]:
        return [
            Item(
                name=name,
                label=self._attr("items", name, "label") or name,
                amount=self._attr("items", name, "amount"),
                currency=self._attr("items", name, "currency"),
                value=self._attr("items", name, "value"),
                ico=self._attr("items", name, "ico"),
                disabled=_flag(self._attr("items", name, "disabled")),
            )
            for name in self._names("items")
        ]

    def buttons(self) -> list[Button]:
        return [
            Button(
                name=name,
                label=self._attr("buttons", name, "label") or name,
                transparent=_flag(self._attr("buttons", name, "transp")),
                language=_flag(self._attr("buttons", name, "language")),
            )
            for name in self._names("buttons")
        ]

    def cards(self) -> list[CardLogo]:
        return [
            CardLogo(
                name=name,
                logo=self._attr("cards", name, "logo"),
                cardholder=self._attr("cards", name, "cardholder"),
            )
            for name in self._names("cards")
        ]

    @property
    def keys(self) -> list[str]:
        """What ``press`` accepts here: as the emulator says, else read from the screen."""
        if self.given_keys is not None:
            return list(self.given_keys)
        if self.type == "screensaver":
            return [SCREENSAVER_KEY]
        if self.type == "payment":
            return list(PIN_KEYS) if self.phase == "pin" else []
        keys = [item.name for item in self.items() if not item.disabled]
        keys += [b.name for b in self.buttons() if b.name not in keys]
        return keys

    @property
    def shortcut_keys(self) -> list[str]:
        """The keys that get a number shortcut (1-9): items, then buttons, as drawn."""
        if self.type in ("screensaver", "payment"):
            return []
        pressable = set(self.keys)
        names = [i.name for i in self.items()] + [b.name for b in self.buttons()]
        ordered = list(dict.fromkeys(n for n in names if n in pressable))
        return ordered[:9]


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


def currency_symbol(currency: str | None) -> str:
    if not currency:
        return ""
    return CURRENCY_SYMBOLS.get(currency.upper(), currency.upper())


def format_minor(amount: str | int | None, currency: str | None) -> str:
    """``5000`` + ``EUR`` → ``€ 50.00``; amounts of payment screens are in minor units."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount)) / 100
    except InvalidOperation:
        return f"{currency_symbol(currency)} {amount}".strip()
    return f"{currency_symbol(currency)} {value:.2f}".strip()


def format_item_amount(amount: str | None, currency: str | None) -> str:
    """An item amount as sent: with a decimal point it is in major units, digits only are
    minor units (CPS amounts are minor units, DESIGN.md)."""
    if not amount:
        return ""
    if "." in amount or "," in amount:
        return f"{currency_symbol(currency)} {amount}".strip()
    return format_minor(amount, currency)
