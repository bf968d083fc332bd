"""A terminal screen as the control API reports it, ready to draw.

``GET /__admin/terminals/{serial}`` gives the screen as ``{"type", "id", "properties", "keys",
"view"}``. ``view`` is the terminal's own reading of its flat properties (items, buttons and
card logos in order, colours, amounts as the driver reads them, the payment phase, the keys
that can be pressed, why it is out of service): the TUI draws that and never reads the flat
properties itself, so the emulator and the TUI cannot disagree about a screen. The only thing
decided here is the TUI's own keyboard: which keys get a number shortcut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The keys of Payter's PIN pad, as the TUI lays them out (journey-screens.md screen 6).
PIN_KEYS = (*(str(d) for d in range(10)), "ok", "clear", "cancel")
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
    amount_text: str | None = None
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
class Payment:
    """Payter's certified payment screen: its phase, the amount and the media it reads."""

    phase: str
    amount_text: str | None
    media: tuple[str, ...]
    pin_digits: int = 0
    title: str = ""


@dataclass(frozen=True)
class ApolloScreen:
    """A screen of the Apollo terminal, as the terminal reads it."""

    type: str
    id: str
    title: str = ""
    subtitle: str = ""
    message: str = ""
    advice: str = ""
    icon: str | None = None
    color: str = "black"
    qr: str | None = None
    logo: bool = False
    selection_type: int = 3
    items: tuple[Item, ...] = ()
    buttons: tuple[Button, ...] = ()
    cards: tuple[CardLogo, ...] = ()
    payment: Payment | None = None
    keys: tuple[str, ...] = ()
    out_of_service: str | None = None
    hint: str | None = None
    # A card reader without a display (type ``reader``): whether its status light is on.
    light: bool = False

    @classmethod
    def placeholder(
        cls, title: str, subtitle: str, *, screen_id: str = "tui.placeholder"
    ) -> ApolloScreen:
        """A screen of the TUI's own (no terminal, nothing reported yet)."""
        return cls("info", screen_id, title=title, subtitle=subtitle)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ApolloScreen:
        if not data:
            return cls.placeholder("No screen", "Waiting for the terminal")
        kind, screen_id = str(data.get("type") or "info"), str(data.get("id") or "")
        view = data.get("view")
        if not isinstance(view, Mapping):
            # An emulator that does not report its reading of the screen: say so rather than
            # guess at its properties.
            return cls(
                "info",
                screen_id,
                title="Screen not shown",
                subtitle="The emulator reports no screen view; update it",
            )
        payment = view.get("payment")
        return cls(
            kind,
            screen_id,
            title=_text(view.get("title")),
            subtitle=_text(view.get("subtitle")),
            message=_text(view.get("message")),
            advice=_text(view.get("advice")),
            icon=_optional(view.get("icon")),
            color=_text(view.get("color")) or "black",
            qr=_optional(view.get("qr")),
            logo=bool(view.get("logo")),
            selection_type=_int(view.get("selection_type"), 3),
            items=tuple(
                Item(
                    name=_text(i.get("name")),
                    label=_text(i.get("label")) or _text(i.get("name")),
                    amount_text=_optional(i.get("amount_text")),
                    value=_optional(i.get("value")),
                    ico=_optional(i.get("ico")),
                    disabled=bool(i.get("disabled")),
                )
                for i in _objects(view.get("items"))
            ),
            buttons=tuple(
                Button(
                    name=_text(b.get("name")),
                    label=_text(b.get("label")) or _text(b.get("name")),
                    transparent=bool(b.get("transparent")),
                    language=bool(b.get("language")),
                )
                for b in _objects(view.get("buttons"))
            ),
            cards=tuple(
                CardLogo(
                    name=_text(c.get("name")),
                    logo=_optional(c.get("logo")),
                    cardholder=_optional(c.get("cardholder")),
                )
                for c in _objects(view.get("cards"))
            ),
            payment=(
                Payment(
                    phase=_text(payment.get("phase")) or "processing",
                    amount_text=_optional(payment.get("amount_text")),
                    media=tuple(str(m) for m in payment.get("media") or ()),
                    pin_digits=_int(payment.get("pin_digits"), 0),
                    title=_text(payment.get("title")),
                )
                if isinstance(payment, Mapping)
                else None
            ),
            keys=tuple(str(k) for k in view.get("keys") or ()),
            out_of_service=_optional(view.get("out_of_service")),
            hint=_optional(view.get("hint")),
            light=bool(view.get("light")),
        )

    @property
    def phase(self) -> str | None:
        return self.payment.phase if self.payment else None

    @property
    def shortcut_keys(self) -> list[str]:
        """The keys that get a number shortcut (1-9): items, then buttons, as drawn."""
        if self.type in ("screensaver", "payment"):
            return []
        pressable = set(self.keys)
        names = [i.name for i in self.items] + [b.name for b in self.buttons]
        ordered = list(dict.fromkeys(n for n in names if n in pressable))
        return ordered[:9]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value or () if isinstance(v, Mapping)]
