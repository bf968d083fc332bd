"""Screens are data: what the terminal shows, in the shape of Payter's CPS ``/ui`` body.

A :class:`Screen` is ``{"type", "id", "properties"}`` with every property a string and list-like
properties flattened into key prefixes (``items.<name>.label``, ``buttons.<name>.label``,
``cards.<name>.logo``), exactly as Payter's Apollo UI takes them (payter.md §4.3). The same
object is what the control API shows and what the TUI renders; :meth:`Screen.view` gives a
renderer the structured reading (items and buttons in order, the keys that can be pressed, the
payment phase).

Types: Payter's Apollo UI types ``carousel``, ``info``, ``notification``, ``selection``,
``screensaver``, ``message`` and ``dispense`` (the last two are used by integrators but not in
the visible docs, §4.3), plus ``payment`` for Payter's certified payment screens (present card,
PIN, processing; §4.2 "Payment Interface"), which only the terminal itself draws.

The built-in screens the terminal draws on its own (idle carousel, present card, PIN,
processing, notification after a payment step, screensaver, out of service) are at the end.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, TypedDict

from emulator.money import major_text, minor_text

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
# What an integrator may send through CPS /ui: everything except Payter's certified payment
# screens, which "are only theme-customisable" (§4.2).
APP_SCREEN_TYPES = tuple(t for t in SCREEN_TYPES if t != "payment")

PaymentPhase = Literal["present_card", "pin", "processing"]
PAYMENT_PHASES: tuple[PaymentPhase, ...] = ("present_card", "pin", "processing")

# §4.3 carousel `cards.<name>.logo` enum: the brands a terminal can advertise.
CARD_LOGOS = ("mastercard", "visa", "maestro", "vpay", "amex", "discover")

# The keys of Payter's PIN pad (journey-screens.md screen 6).
PIN_KEYS = (*(str(d) for d in range(10)), "ok", "clear", "cancel")
# Waking the screensaver: "any touch or card" (journey-screens.md screen 2).
SCREENSAVER_KEY = "touch"
# A screen that puts the terminal out of service says why in this property (for the person
# running the emulator; the driver reads the title and subtitle). The control API reports it
# as the terminal's ``out_of_service``.
OUT_OF_SERVICE = "out_of_service"
# A note for the person running the emulator, not drawn on the display (the test PIN, say).
HINT = "hint"
# What the driver does with each medium, for the present-card screen's default message.
_MEDIA_VERBS = {"contactless": "tap", "chip": "insert", "qr": "scan", "rfid": "tap"}

# Attributes each group may carry (§4.3); anything else inside a group is a typo.
_GROUP_ATTRIBUTES = {
    "items": frozenset({"label", "amount", "currency", "ico", "value", "disabled"}),
    "buttons": frozenset({"label", "transp", "language"}),
    "cards": frozenset({"logo", "cardholder"}),
}
_BOOLEAN_ATTRIBUTES = frozenset({"disabled", "transp", "language"})
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_SELECTION_TYPES = ("0", "1", "2", "3")


class ScreenError(ValueError):
    """A screen that Payter's terminal would not take; the message names the property."""


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

    @property
    def amount_text(self) -> str | None:
        """The amount as the driver reads it. §4.3 gives no unit: with a decimal point it is
        in major units (``13.43``), digits only are minor units (CPS amounts, DESIGN.md)."""
        if not self.amount:
            return None
        if "." in self.amount or "," in self.amount:
            return major_text(self.amount.replace(",", "."), self.currency)
        return minor_text(self.amount, self.currency)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "amount": self.amount,
            "currency": self.currency,
            "amount_text": self.amount_text,
            "value": self.value,
            "ico": self.ico,
            "disabled": self.disabled,
        }


@dataclass(frozen=True)
class Button:
    name: str
    label: str
    transparent: bool = False
    language: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "transparent": self.transparent,
            "language": self.language,
        }


@dataclass(frozen=True)
class CardLogo:
    """A brand on a ``carousel`` (``cards.<name>``)."""

    name: str
    logo: str | None
    cardholder: str | None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "logo": self.logo, "cardholder": self.cardholder}


@dataclass(frozen=True)
class PaymentView:
    """The reading of a ``payment`` screen: phase, amount in minor units, accepted media."""

    phase: PaymentPhase
    amount: int | None
    currency: str | None
    media: tuple[str, ...]
    title: str
    message: str
    pin_digits: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "amount": self.amount,
            "currency": self.currency,
            "amount_text": None if self.amount is None else minor_text(self.amount, self.currency),
            "media": list(self.media),
            "title": self.title,
            "message": self.message,
            "pin_digits": self.pin_digits,
        }


class ScreenJson(TypedDict):
    """A screen as the control API reports it: the flat properties and the terminal's own
    reading of them (``view``), which a renderer draws as is."""

    type: str
    id: str
    properties: dict[str, str]
    keys: list[str]
    view: dict[str, Any]


@dataclass(frozen=True)
class Screen:
    type: str
    id: str
    properties: dict[str, str] = field(default_factory=dict)

    # --- parsing and validation -------------------------------------------------------------

    @classmethod
    def parse(cls, data: Any, *, allow_payment: bool = False) -> Screen:
        """Validate a CPS ``/ui`` body (or a stored screen) and return the screen.

        Numbers and booleans given as property values are turned into strings (``true`` /
        ``false``), because every value in Payter's examples is a string; objects, arrays and
        null are refused. Unknown top-level property names are kept (Payter's property lists
        are incomplete, §6.9); unknown attributes inside ``items.`` / ``buttons.`` / ``cards.``
        are refused because those lists are documented in full.
        """
        if not isinstance(data, Mapping):
            raise ScreenError("a screen must be a JSON object with 'type', 'id' and 'properties'")
        kind = data.get("type")
        allowed = SCREEN_TYPES if allow_payment else APP_SCREEN_TYPES
        if not isinstance(kind, str) or kind not in allowed:
            raise ScreenError(f"'type' must be one of {', '.join(allowed)} (got {kind!r})")
        screen_id = data.get("id")
        if isinstance(screen_id, int) and not isinstance(screen_id, bool):
            screen_id = str(screen_id)
        if not isinstance(screen_id, str) or not screen_id.strip():
            raise ScreenError("'id' must be a non-empty string (UI events report it as screenId)")
        raw = data.get("properties")
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ScreenError("'properties' must be an object of string values")
        properties = {str(k): _as_property_string(str(k), v) for k, v in raw.items()}
        screen = cls(kind, screen_id, properties)
        screen.validate()
        return screen

    def validate(self) -> None:
        for key, value in self.properties.items():
            if not key:
                raise ScreenError("property names must not be empty")
            group, _, rest = key.partition(".")
            if group in _GROUP_ATTRIBUTES and rest:
                self._validate_group_key(group, key, rest, value)
        props = self.properties
        if "icon" in props and props["icon"] not in ("approved", "declined"):
            raise ScreenError("'icon' must be 'approved' or 'declined'")
        if "color" in props and props["color"] not in ("0", "1", "2"):
            raise ScreenError("'color' must be '0' (black), '1' (green) or '2' (red)")
        if "offset" in props:
            offset = _as_int(props["offset"], "offset")
            if not 0 <= offset <= 420:
                raise ScreenError("'offset' must be between 0 and 420 (pixels)")
        if "logo" in props and self.type == "info":
            _as_bool(props["logo"], "logo")
        if (
            self.type == "selection"
            and "type" in props
            and props["type"] not in ("0", "1", "2", "3")
        ):
            raise ScreenError("selection 'type' must be 0, 1, 2 or 3")
        if self.type == "carousel" and len(self._names("buttons")) > 2:
            raise ScreenError("a carousel has at most two buttons (first = left, second = right)")
        if self.type == "payment":
            self._validate_payment()

    def _validate_group_key(self, group: str, key: str, rest: str, value: str) -> None:
        name, _, attribute = rest.partition(".")
        if not name:
            raise ScreenError(f"'{key}': the {group[:-1]} name is empty")
        if not attribute:
            return
        if attribute not in _GROUP_ATTRIBUTES[group]:
            known = ", ".join(sorted(_GROUP_ATTRIBUTES[group]))
            raise ScreenError(f"'{key}': unknown attribute '{attribute}' (known: {known})")
        if attribute in _BOOLEAN_ATTRIBUTES:
            _as_bool(value, key)
        if group == "cards" and attribute == "logo" and value not in CARD_LOGOS:
            raise ScreenError(f"'{key}' must be one of {', '.join(CARD_LOGOS)}")

    def _validate_payment(self) -> None:
        props = self.properties
        if props.get("phase") not in PAYMENT_PHASES:
            raise ScreenError(f"payment 'phase' must be one of {', '.join(PAYMENT_PHASES)}")
        if props.get("amount"):
            amount = _as_int(props["amount"], "amount")
            if amount < 0:
                raise ScreenError("'amount' is in minor units and must not be negative")
        if props.get("currency") and not _CURRENCY_RE.match(props["currency"]):
            raise ScreenError("'currency' must be an ISO 4217 code such as EUR")

    # --- structured reading -------------------------------------------------------------

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

    def payment(self) -> PaymentView | None:
        if self.type != "payment":
            return None
        props = self.properties
        media = tuple(m for m in props.get("media", "").split(",") if m)
        amount = props.get("amount")
        phase = props.get("phase", "processing")
        return PaymentView(
            phase=phase if phase in PAYMENT_PHASES else "processing",  # type: ignore[arg-type]
            amount=int(amount) if amount else None,
            currency=props.get("currency") or None,
            media=media,
            title=props.get("title", ""),
            message=props.get("message", ""),
            pin_digits=len(props.get("pin", "")),
        )

    @property
    def keys(self) -> list[str]:
        """What a driver can press here: enabled item names, then button names."""
        if self.type == "screensaver":
            return [SCREENSAVER_KEY]
        if self.type == "payment":
            return list(PIN_KEYS) if self.properties.get("phase") == "pin" else []
        keys = [item.name for item in self.items() if not item.disabled]
        keys += [b.name for b in self.buttons() if b.name not in keys]
        return keys

    @property
    def color(self) -> str:
        """``black``, ``green`` or ``red`` (§4.3 notification ``color`` 0 / 1 / 2); without a
        colour a notification takes its icon's."""
        value = self.properties.get("color", "")
        if value in ("1", "2"):
            return "green" if value == "1" else "red"
        icon = self.properties.get("icon")
        if not value and icon in ("approved", "declined"):
            return "green" if icon == "approved" else "red"
        return "black"

    def view(self) -> dict[str, Any]:
        """The structured reading of the screen, which a renderer (the TUI) draws as is: it
        never reads the flat properties itself."""
        props = self.properties
        payment = self.payment()
        icon = props.get("icon")
        selection_type = props.get("type", "3") if self.type == "selection" else None
        return {
            "title": props.get("title", ""),
            "subtitle": props.get("subtitle", ""),
            "message": props.get("message", ""),
            "advice": props.get("advice", ""),
            "icon": icon if icon in ("approved", "declined") else None,
            "color": self.color,
            # The screensaver's MyPayter key is `-qrcode`; taken as a property too.
            "qr": props.get("qr") or props.get("qrcode") or None,
            "logo": props.get("logo", "").lower() == "true",
            "selection_type": int(selection_type) if selection_type in _SELECTION_TYPES else None,
            "items": [i.as_json() for i in self.items()],
            "buttons": [b.as_json() for b in self.buttons()],
            "cards": [c.as_json() for c in self.cards()],
            "payment": payment.as_json() if payment else None,
            "keys": self.keys,
            OUT_OF_SERVICE: props.get(OUT_OF_SERVICE) or None,
            HINT: props.get(HINT) or None,
        }

    def as_json(self) -> ScreenJson:
        """The screen as the control API reports it. A screen does not change once made, so
        it is read once: each call gets its own outer dict, sharing the (read-only) rest."""
        return dict(self._json)  # type: ignore[return-value]

    @cached_property
    def _json(self) -> ScreenJson:
        return {
            "type": self.type,
            "id": self.id,
            "properties": dict(self.properties),
            "keys": self.keys,
            "view": self.view(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "properties": dict(self.properties)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Screen:
        return cls(str(data["type"]), str(data["id"]), dict(data.get("properties") or {}))


def _as_property_string(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    kind = "null" if value is None else type(value).__name__
    raise ScreenError(f"property '{key}' must be a string (got {kind})")


def _as_int(value: str, key: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ScreenError(f"'{key}' must be an integer (got {value!r})") from None


def _as_bool(value: str, key: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ScreenError(f"'{key}' must be 'true' or 'false' (got {value!r})")
    return lowered == "true"


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


# --- the terminal's own screens ----------------------------------------------------------------
# Ids start with "payter." so they cannot be mistaken for an integrator's screen id in a UI event.

IDLE_ID = "payter.idle"
PRESENT_CARD_ID = "payter.present_card"
PIN_ID = "payter.pin"
PROCESSING_ID = "payter.processing"
MESSAGE_ID = "payter.message"
SCREENSAVER_ID = "payter.screensaver"
OFFLINE_ID = "payter.offline"


def idle_screen() -> Screen:
    """What an unattended terminal shows: a carousel with the card brands (§4.3 carousel is
    the "general purpose starting screen… display supported brands and… call to action")."""
    props = {"title": "Welcome", "subtitle": "Present card"}
    names = {
        "visa": "Visa",
        "mastercard": "Mastercard",
        "maestro": "Maestro",
        "vpay": "V PAY",
        "amex": "American Express",
        "discover": "Discover",
    }
    for index, logo in enumerate(CARD_LOGOS):
        props[f"cards.{index}"] = ""
        props[f"cards.{index}.logo"] = logo
        props[f"cards.{index}.cardholder"] = names[logo]
    return Screen("carousel", IDLE_ID, props)


def payment_screen(
    phase: PaymentPhase,
    *,
    amount: int | None,
    currency: str | None,
    media: tuple[str, ...] = (),
    title: str | None = None,
    message: str | None = None,
    pin_digits: int = 0,
    language: str | None = None,
    hint: str | None = None,
) -> Screen:
    defaults = {
        "present_card": (PRESENT_CARD_ID, "Present card", present_card_message(media)),
        "pin": (PIN_ID, "Enter PIN", "Press OK when done"),
        "processing": (PROCESSING_ID, "Processing", "Please wait"),
    }
    screen_id, default_title, default_message = defaults[phase]
    props = {
        "phase": phase,
        "title": title or default_title,
        "message": message or default_message,
    }
    if amount is not None:
        props["amount"] = str(amount)
    if currency:
        props["currency"] = currency
    if media:
        props["media"] = ",".join(media)
    if phase == "pin":
        props["pin"] = "*" * pin_digits
    if language:
        props["language"] = language
    if hint:
        props[HINT] = hint
    return Screen("payment", screen_id, props)


def present_card_message(media: tuple[str, ...]) -> str:
    """``Tap or insert your card``: only what the terminal reads now (no "scan" unless QR
    codes are accepted)."""
    verbs = list(dict.fromkeys(_MEDIA_VERBS.get(m, m) for m in media)) or ["present"]
    if len(verbs) > 1:
        phrase = ", ".join(verbs[:-1]) + " or " + verbs[-1]
    else:
        phrase = verbs[0]
    return f"{phrase.capitalize()} your card"


def notification_screen(
    message: str, *, icon: Literal["approved", "declined"] | None = None, title: str | None = None
) -> Screen:
    """The outcome of a payment step, or an integrator's ``uiMessage`` (§4.3 notification)."""
    props: dict[str, str] = {"message": message}
    if title:
        props["title"] = title
    if icon is not None:
        props["icon"] = icon
        props["color"] = "1" if icon == "approved" else "2"
    else:
        props["color"] = "0"
    return Screen("notification", MESSAGE_ID, props)


def screensaver_screen() -> Screen:
    return Screen(
        "screensaver", SCREENSAVER_ID, {"title": "Payter", "subtitle": "Touch the screen to start"}
    )


READER_ID = "payter.reader"
# What a card reader without a display says it is doing, by the terminal's state.
READER_STATES = {
    "IDLE": "Idle",
    "READING": "Reading: present a card",
    "CARD": "Card read",
    "AUTHORIZING": "Authorizing",
}
# The states in which the reader's status light is on.
READER_LIT = ("READING", "CARD", "AUTHORIZING")


def reader_screen(model: str, online: bool, state: str, shown: Screen) -> ScreenJson:
    """What a terminal without a display (the P6X family: a status light and LEDs, no
    graphical UI) shows, in the shape of a screen's JSON (type ``reader``): whether its light
    is on (``view.light``), what it is doing, and its payment step (the amount; a PIN card's
    PIN pad, whose keys it takes). The device's own screen (``shown``) stays internal: a
    renderer draws this reading, never that screen."""
    view = shown.view()
    payment = view["payment"] if shown.type == "payment" else None
    pin = payment is not None and payment["phase"] == "pin"
    keys = view["keys"] if pin else []
    reading = {
        "title": READER_STATES.get(state, state) if online else "Offline",
        "subtitle": f"{model} card reader, no display",
        "message": "",
        "advice": "",
        "icon": None,
        "color": "black",
        "qr": None,
        "logo": False,
        "selection_type": None,
        "items": [],
        "buttons": [],
        "cards": [],
        "payment": payment,
        "keys": keys,
        OUT_OF_SERVICE: view[OUT_OF_SERVICE],
        HINT: view[HINT] if pin else None,
        "light": online and state in READER_LIT,
    }
    return {"type": "reader", "id": READER_ID, "properties": {}, "keys": keys, "view": reading}


def offline_screen() -> Screen:
    # journey-screens.md screen 18.
    return Screen(
        "info",
        OFFLINE_ID,
        {
            "title": "Out of service",
            "subtitle": "Temporarily unavailable",
            OUT_OF_SERVICE: "the terminal is offline",
        },
    )
