"""Test cards: what a person or a test can present to the virtual terminal.

The cards are data (``fixtures/cards.json``); each one selects the outcome of the payment made
with it, so a scenario chooses "declined" or "capture fails" by choosing the card. Besides EMV
cards (contactless and chip) the terminal reads QR codes with its camera (reported with ``ifd``
``QR_CODE`` and the scanned content as ``cardId``, payter.md §3.5) and RFID/MiFare cards
(identification by UID only, no payment; §4.5).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from emulator.fixtures import fixtures_dir

CARDS_FILE = fixtures_dir() / "cards.json"


class Medium(StrEnum):
    CONTACTLESS = "contactless"
    CHIP = "chip"
    QR = "qr"
    RFID = "rfid"


# The card object's `ifd` (interface) per medium. CONTACTLESS and QR_CODE are seen in real
# callbacks (§3.5); CHIP and MIFARE are our choice among the words integrators look for.
IFD = {
    Medium.CONTACTLESS: "CONTACTLESS",
    Medium.CHIP: "CHIP",
    Medium.QR: "QR_CODE",
    Medium.RFID: "MIFARE",
}


class Outcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED = "expired"
    PIN_REQUIRED = "pin_required"
    AUTH_TIMEOUT = "auth_timeout"
    CAPTURE_FAILS = "capture_fails"
    PARTIAL_CAPTURE = "partial_capture"
    INCREMENTAL_OK = "incremental_ok"
    NO_PAYMENT = "no_payment"


# What an operator may force on a terminal: every payment outcome.
FORCEABLE_OUTCOMES = tuple(o.value for o in Outcome if o is not Outcome.NO_PAYMENT)

# RFID UIDs are 4, 7 or 10 bytes (ISO 14443-3 single, double, triple size).
_UID_RE = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")


class CardError(ValueError):
    """A card reference or medium that cannot be presented."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class TestCard:
    __test__ = False  # not a pytest test class

    id: str
    label: str
    media: tuple[Medium, ...]
    outcome: Outcome
    brand: str | None = None
    brand_name: str | None = None
    pan: str | None = None
    aid: str | None = None
    expiry: str | None = None
    capture_limit: int | None = None
    content: str | None = None  # QR code content
    uid: str | None = None  # RFID UID (hex)
    # A card read back from the store: its PAN was never stored, only what is shown of it.
    stored_masked_pan: str | None = None
    stored_card_id: str | None = None

    @property
    def is_payment_card(self) -> bool:
        has_pan = self.pan is not None or self.stored_masked_pan is not None
        return has_pan and self.outcome is not Outcome.NO_PAYMENT

    @property
    def masked_pan(self) -> str | None:
        """First six and last four digits, as Payter shows it (``411111******1111``)."""
        if not self.pan:
            return self.stored_masked_pan
        return self.pan[:6] + "*" * (len(self.pan) - 10) + self.pan[-4:]

    @property
    def card_id(self) -> str:
        """The stable identifier reported as ``cardId``.

        Payter tells integrators to "record the unique cardId" to match a later tap (Tap to
        Stop, §4.4): the same card must give the same id on every read, without revealing the
        PAN. A hash of the PAN does both. QR codes report their content, RFID cards their UID.
        """
        if self.pan:
            return hashlib.sha256(f"payter-emulator:{self.pan}".encode()).hexdigest()[:32].upper()
        if self.stored_card_id:
            return self.stored_card_id
        if self.uid:
            return self.uid
        return self.content or self.id

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "media": [m.value for m in self.media],
            "outcome": self.outcome.value,
        }
        optional = {
            "brand": self.brand,
            "brand_name": self.brand_name,
            "pan": self.pan,
            "masked_pan": self.masked_pan,
            "aid": self.aid,
            "expiry": self.expiry,
            "capture_limit": self.capture_limit,
            "content": self.content,
            "uid": self.uid,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        data["card_id"] = self.card_id
        return data

    def as_stored(self) -> dict[str, Any]:
        """What is stored of a card being read: everything but the PAN (masked at read, never
        kept in full); :meth:`from_json` reads it back."""
        data = self.as_json()
        data.pop("pan", None)
        return data

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], brands: Mapping[str, Any] | None = None
    ) -> TestCard:
        brand = data.get("brand")
        brand_name = data.get("brand_name")
        if brand and brand_name is None and brands and brand in brands:
            brand_name = brands[brand].get("name")
        limit = data.get("capture_limit")
        return cls(
            id=str(data["id"]),
            label=str(data.get("label") or data["id"]),
            media=tuple(Medium(m) for m in data["media"]),
            outcome=Outcome(data["outcome"]),
            brand=brand,
            brand_name=brand_name,
            pan=data.get("pan"),
            aid=data.get("aid"),
            expiry=data.get("expiry"),
            capture_limit=int(limit) if limit is not None else None,
            content=data.get("content"),
            uid=data.get("uid"),
            stored_masked_pan=None if data.get("pan") else data.get("masked_pan"),
            stored_card_id=None if data.get("pan") else data.get("card_id"),
        )


def luhn_valid(pan: str) -> bool:
    if not pan.isdigit() or len(pan) < 12:
        return False
    total = 0
    for index, char in enumerate(reversed(pan)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


class CardCatalogue:
    """The test cards, looked up by id or by PAN."""

    def __init__(self, cards: Iterable[TestCard]) -> None:
        self._by_id: dict[str, TestCard] = {}
        self._by_pan: dict[str, TestCard] = {}
        self._by_uid: dict[str, TestCard] = {}
        for card in cards:
            if card.id in self._by_id:
                raise ValueError(f"duplicate test card id {card.id!r}")
            if card.pan and not luhn_valid(card.pan):
                raise ValueError(f"test card {card.id!r}: PAN fails the Luhn check")
            self._by_id[card.id] = card
            if card.pan:
                self._by_pan[card.pan] = card
            if card.uid:
                self._by_uid[card.uid.upper()] = card

    @classmethod
    def load(cls, path: Path = CARDS_FILE) -> CardCatalogue:
        data = json.loads(path.read_text(encoding="utf-8"))
        brands = data.get("brands", {})
        return cls(TestCard.from_json(c, brands) for c in data["cards"])

    def all(self) -> list[TestCard]:
        return list(self._by_id.values())

    def get(self, ref: str) -> TestCard | None:
        """By id, by PAN (spaces and dashes ignored) or by RFID UID."""
        card = self._by_id.get(ref)
        if card is not None:
            return card
        digits = re.sub(r"[\s-]", "", ref)
        return self._by_pan.get(digits) or self._by_uid.get(digits.upper())

    def presentation(self, ref: str, medium: Medium | str) -> TestCard:
        """The card a driver presents with ``medium``.

        For QR any string is a valid presentation (it is what the camera read); for RFID any
        4-, 7- or 10-byte UID in hex is. Payment cards must be known test cards and must support
        the medium (a chip-only card cannot be tapped).
        """
        try:
            medium = Medium(medium)
        except ValueError:
            choices = ", ".join(m.value for m in Medium)
            raise CardError(
                "invalid_medium", f"medium must be one of {choices} (got {medium!r})"
            ) from None
        card = self.get(ref)
        if medium is Medium.QR and (card is None or Medium.QR not in card.media):
            if not ref:
                raise CardError("invalid_card", "a QR presentation needs the scanned content")
            return TestCard(
                id="qr",
                label="QR code",
                media=(Medium.QR,),
                outcome=Outcome.NO_PAYMENT,
                content=ref,
            )
        if medium is Medium.RFID and card is None and _UID_RE.match(ref.upper()):
            return TestCard(
                id="rfid",
                label="RFID card",
                media=(Medium.RFID,),
                outcome=Outcome.NO_PAYMENT,
                uid=ref.upper(),
            )
        if card is None:
            raise CardError(
                "unknown_card",
                f"no test card {ref!r}; GET /__admin/cards lists them (by id or PAN)",
            )
        if medium not in card.media:
            supported = ", ".join(m.value for m in card.media)
            raise CardError(
                "medium_not_supported",
                f"test card {card.id!r} cannot be presented as {medium.value} "
                f"(it supports {supported})",
                supported=[m.value for m in card.media],
            )
        return card


@cache
def default_catalogue() -> CardCatalogue:
    """The fixture file, read once per process (no re-reading per request)."""
    return CardCatalogue.load()
