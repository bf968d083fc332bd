"""The acquirer behind the terminal: authorize, capture, void, increment.

Pure and deterministic: the only input besides the arguments is the seeded :class:`Ids`
(session ids, authorization codes, sequence numbers), so a run with ``--seed`` repeats its EFT
data exactly. Amounts are integers in minor units (payter.md §3.5).

The outcome of each step comes from the card (``fixtures/cards.json``) unless the terminal has
a forced outcome, which wins. Response codes follow ISO 8583 usage.

Separation of authorization and settlement (§3.9): the authorized amount is reserved; the
capture may be lower, never higher. A capture request above the reservation is capped and
reported ``PARTIAL_SUCCESS`` (DESIGN.md "Captured amount"), the card can make the capture fail
(``capture_fails``) or stop at a limit (``partial_capture``).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from emulator.ids import Ids
from emulator.terminal.cards import Outcome, TestCard

AuthorizationStatus = Literal["approved", "declined", "pin_required", "no_response"]
CaptureStatus = Literal["SUCCESS", "PARTIAL_SUCCESS", "FAILED"]

# Outcomes that decide the authorization; the others decide what happens after it.
_DECLINES: dict[str, tuple[str, str]] = {
    Outcome.DECLINED: ("05", "Do not honour"),
    Outcome.INSUFFICIENT_FUNDS: ("51", "Insufficient funds"),
    Outcome.EXPIRED: ("54", "Expired card"),
}
APPROVED = ("00", "Approved")
PIN_REQUIRED = ("1A", "Additional customer authentication required")
NOT_A_PAYMENT_CARD = ("57", "Transaction not permitted: not a payment card")
TIMED_OUT = ("68", "Response received too late")
CANCELLED_BY_CARDHOLDER = ("17", "Cancelled by cardholder")
# The cardholder walked away from the PIN pad: the terminal abandons the transaction.
PIN_ENTRY_TIMED_OUT = ("17", "PIN entry timed out")
TERMINAL_OFFLINE = ("91", "Terminal offline")
INCREMENT_NOT_SUPPORTED = ("57", "Incremental authorization not supported for this card")
CAPTURE_FAILED = ("06", "Capture refused by the acquirer")

# ISO 4217 minor units where they are not 2 (for the amount line of the EFT data).
_EXPONENTS = {
    "BHD": 3, "CLP": 0, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def format_amount(amount: int, currency: str) -> str:
    """``EUR 50.00`` from 5000 minor units."""
    exponent = _EXPONENTS.get(currency.upper(), 2)
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    if exponent == 0:
        return f"{currency} {sign}{value}"
    units, minor = divmod(value, 10**exponent)
    return f"{currency} {sign}{units}.{minor:0{exponent}d}"


def ascii_line(text: str) -> str:
    """OCPI ``eft_data`` is CiString (printable ASCII), at most 255 characters per line."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded if 32 <= ord(c) < 127)[:255]


@dataclass(frozen=True)
class Authorization:
    session_id: str
    status: AuthorizationStatus
    amount: int  # authorized (or requested, when not approved), minor units
    currency: str
    response_code: str
    response_text: str
    outcome: str  # the outcome in force when the card was authorized
    card_ref: str
    card_id: str
    brand: str | None = None
    brand_name: str | None = None
    aid: str | None = None
    masked_pan: str | None = None
    auth_code: str | None = None
    sequence_number: str | None = None
    capture_limit: int | None = None
    increments: tuple[int, ...] = ()
    eft_data: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    def to_dict(self) -> dict[str, Any]:
        # Field by field (every value is a scalar but the two tuples): dataclasses.asdict
        # deep-copies each value, and a terminal's device stores every authorization it made
        # on each of its steps.
        data = {name: getattr(self, name) for name in _AUTHORIZATION_FIELDS}
        data["increments"] = list(self.increments)
        data["eft_data"] = list(self.eft_data)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Authorization:
        values = dict(data)
        values["increments"] = tuple(values.get("increments") or ())
        values["eft_data"] = tuple(values.get("eft_data") or ())
        return cls(**{k: v for k, v in values.items() if k in _AUTHORIZATION_FIELDS})


_AUTHORIZATION_FIELDS = tuple(f.name for f in dataclasses.fields(Authorization))


@dataclass(frozen=True)
class Capture:
    status: CaptureStatus
    requested: int
    captured: int
    currency: str
    response_code: str
    response_text: str
    eft_data: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["eft_data"] = list(self.eft_data)
        return data


@dataclass(frozen=True)
class Void:
    status: Literal["SUCCESS"]
    released: int
    currency: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Increment:
    approved: bool
    extra: int
    authorized_amount: int  # after the increment (unchanged when declined)
    response_code: str
    response_text: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Acquirer:
    def __init__(self, ids: Ids) -> None:
        self.ids = ids

    # --- authorization ------------------------------------------------------------------

    def authorize(
        self,
        card: TestCard,
        amount: int,
        currency: str,
        *,
        forced: str | None = None,
        pin_verified: bool = False,
        session_id: str | None = None,
    ) -> Authorization:
        """Reserve ``amount`` on ``card``.

        ``pin_required`` cards answer ``pin_required`` until called again with
        ``pin_verified``; ``auth_timeout`` cards answer ``no_response`` (the terminal then
        waits for its authorization timeout and declines with :meth:`decline`).
        """
        if amount <= 0:
            raise ValueError("the amount to authorize must be a positive number of minor units")
        session_id = session_id or self.ids.uuid()
        outcome = forced or card.outcome.value
        base = self._base(card, session_id, amount, currency, outcome)
        if not card.is_payment_card:
            return self._finish(base, "declined", NOT_A_PAYMENT_CARD)
        if outcome in _DECLINES:
            return self._finish(base, "declined", _DECLINES[outcome])
        if outcome == Outcome.AUTH_TIMEOUT:
            return self._finish(base, "no_response", TIMED_OUT)
        if outcome == Outcome.PIN_REQUIRED and not pin_verified:
            return self._finish(base, "pin_required", PIN_REQUIRED)
        return self._finish(
            dataclasses.replace(base, auth_code=self.ids.digits(6)), "approved", APPROVED
        )

    def decline(self, authorization: Authorization, reason: tuple[str, str]) -> Authorization:
        """Turn a pending authorization (PIN entry, no answer yet) into a decline."""
        return self._finish(authorization, "declined", reason)

    def _base(
        self, card: TestCard, session_id: str, amount: int, currency: str, outcome: str
    ) -> Authorization:
        return Authorization(
            session_id=session_id,
            status="declined",
            amount=amount,
            currency=currency.upper(),
            response_code="",
            response_text="",
            outcome=outcome,
            card_ref=card.id,
            card_id=card.card_id,
            brand=card.brand,
            brand_name=card.brand_name,
            aid=card.aid,
            masked_pan=card.masked_pan,
            sequence_number=self.ids.digits(4),
            capture_limit=card.capture_limit,
        )

    def _finish(
        self, auth: Authorization, status: AuthorizationStatus, reason: tuple[str, str]
    ) -> Authorization:
        code, text = reason
        auth = dataclasses.replace(
            auth,
            status=status,
            response_code=code,
            response_text=text,
            auth_code=auth.auth_code if status == "approved" else None,
        )
        return dataclasses.replace(auth, eft_data=self._eft(auth, auth.amount))

    def _eft(self, auth: Authorization, amount: int) -> tuple[str, ...]:
        """Receipt lines, like the OCPI FAC example ("Mastercard", "AID: …", "Nr: …")."""
        if auth.masked_pan is None:
            return ()
        lines = [
            auth.brand_name or (auth.brand or "Card"),
            f"AID: {auth.aid or ''}",
            f"Nr: {auth.masked_pan}",
            f"SEQ: {auth.sequence_number or ''}",
        ]
        if auth.status == "approved":
            lines.append(f"Auth code: {auth.auth_code}")
        else:
            lines.append(f"Result: {auth.response_code} {auth.response_text}")
        lines.append(f"Amount: {format_amount(amount, auth.currency)}")
        return tuple(ascii_line(line) for line in lines)

    # --- after the authorization --------------------------------------------------------------

    def capture(
        self, authorization: Authorization, amount: int, *, forced: str | None = None
    ) -> Capture:
        """Settle ``amount`` of an approved authorization (never more than was reserved)."""
        if amount < 0:
            raise ValueError("the amount to capture must not be negative")
        if not authorization.approved:
            raise ValueError("only an approved authorization can be captured")
        # A forced decline or timeout concerns authorizations; this one was already approved.
        outcome = authorization.outcome
        if forced and forced not in _DECLINES and forced != Outcome.AUTH_TIMEOUT:
            outcome = forced
        capped = min(amount, authorization.amount)
        if outcome == Outcome.CAPTURE_FAILS:
            return self._capture(authorization, "FAILED", amount, 0, CAPTURE_FAILED)
        if outcome == Outcome.PARTIAL_CAPTURE:
            # A forced partial capture on a card without a limit of its own stops at half.
            limit = authorization.capture_limit
            if limit is None:
                limit = amount // 2
            capped = min(capped, limit)
        status: CaptureStatus = "SUCCESS" if capped == amount else "PARTIAL_SUCCESS"
        return self._capture(authorization, status, amount, capped, APPROVED)

    def _capture(
        self,
        auth: Authorization,
        status: CaptureStatus,
        requested: int,
        captured: int,
        reason: tuple[str, str],
    ) -> Capture:
        eft = list(self._eft(auth, captured))
        if status == "FAILED":
            eft.append(ascii_line(f"Capture: {reason[0]} {reason[1]}"))
        return Capture(
            status=status,
            requested=requested,
            captured=captured,
            currency=auth.currency,
            response_code=reason[0],
            response_text=reason[1],
            eft_data=tuple(eft),
        )

    def void(self, authorization: Authorization) -> Void:
        """Release the whole reservation ("No start after auth ⇒ Cancel", §3.9)."""
        if not authorization.approved:
            raise ValueError("only an approved authorization can be voided")
        return Void(
            status="SUCCESS", released=authorization.amount, currency=authorization.currency
        )

    def increment(
        self, authorization: Authorization, extra: int, *, forced: str | None = None
    ) -> tuple[Authorization, Increment]:
        """Incremental authorization (Apollo only, limited issuer support: §3.9)."""
        if extra <= 0:
            raise ValueError("an increment must be a positive number of minor units")
        if not authorization.approved:
            raise ValueError("only an approved authorization can be incremented")
        outcome = forced or authorization.outcome
        if outcome == Outcome.INCREMENTAL_OK:
            total = authorization.amount + extra
            updated = dataclasses.replace(
                authorization,
                amount=total,
                increments=(*authorization.increments, extra),
            )
            updated = dataclasses.replace(updated, eft_data=self._eft(updated, total))
            return updated, Increment(True, extra, total, *APPROVED)
        code, text = _DECLINES.get(outcome, INCREMENT_NOT_SUPPORTED)
        return authorization, Increment(False, extra, authorization.amount, code, text)
