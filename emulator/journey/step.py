"""The journey's rules, as one pure function: ``step(journey, event, now, context)``.

What happens to a card payment when something happens to it (a card, a payment step on the
terminal, an OCPI command result, a Session or CDR, a deadline, a restart) returns the journey
as it is afterwards and the effects to carry out: show a screen, authorize, capture, void, send
START/STOP_SESSION, create the FAC, arm or cancel a deadline, record a finding. No I/O and no
clock reads: :class:`emulator.journey.controller.JourneyController` is the executor that carries
the effects out and feeds their outcomes back as events.

Every input that can change a journey is an event here; the executor only finds out what
happened and carries the effects out:

- keys: a key pressed on a journey's screen is :class:`KeyPressed` (the screen and the key), and
  the step decides what it means in the journey's state: Accept on the tariff reads the card,
  Yes on the Stop confirmation stops (or, the journey having ended meanwhile, goes Home), No and
  Back go Home; a key it does not know changes nothing. The menus before a journey exists
  (Home, the charger list, the tariff's Cancel, languages, the Stop and Receipts lists) stay
  in :mod:`emulator.journey.menus`; the keys of Payter's own payment screens (PIN) are the
  terminal's, and reach the journey as its payment steps (:class:`PaymentStepped`);
- the terminal going offline or online: :class:`TerminalOffline` / :class:`TerminalOnline`,
  given to every open journey of the terminal, before what the terminal itself makes of it
  (the reading ended ``offline``, the authorization declined ``Terminal offline``, a capture or
  void queued and carried out when back online: :class:`ReadingEnded`, :class:`PaymentStepped`);
- a restart: :class:`Restarted`, with what the terminal and ptp say of the journey.

The money rule (DESIGN.md): once authorized, a journey ends in exactly one capture or one void.
Every path below that gives up voids; every path that has a price captures; a refused capture
or void returns the money to AUTHORIZED so that the next event settles it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from emulator.datetimes import format_datetime
from emulator.journey.model import (
    ACTIVE,
    UNDER_WAY,
    VOIDING_OR_VOIDED,
    Card,
    Deadline,
    Journey,
    Money,
)
from emulator.journey.model import JourneyState as S
from emulator.journey.screens import RECEIPT, STOP_CONFIRM, TARIFF
from emulator.journey.texts import money as show_money
from emulator.journey.texts import to_minor
from emulator.ocpi.pricing import price_with_taxes
from emulator.rules import RuleId

# Start failures: what the driver reads (journey-screens.md screen 10).
START_FAILURE_TEXT = {
    "UNREACHABLE": "failed.unreachable",
    "ERROR": "failed.rejected",
    "REJECTED": "failed.rejected",
    "NOT_SUPPORTED": "failed.rejected",
    "UNKNOWN_SESSION": "failed.rejected",
    "NO_RESULT": "failed.no_answer",
    "RESULT_TIMEOUT": "failed.no_answer",
    "RESULT_EVSE_OCCUPIED": "failed.unavailable",
    "RESULT_EVSE_INOPERATIVE": "failed.unavailable",
    "EVSE_UNAVAILABLE": "failed.unavailable",
    "RESTART": "failed.no_answer",
}

# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPressed:
    """A key pressed on one of this journey's screens (``screen`` is its id in
    :mod:`emulator.journey.screens`): Accept on the tariff (the journey was opened for it), Yes
    or No on the Stop confirmation, Back on its receipt. ``by``: on the Stop confirmation, how
    the driver was identified, "card" (the card used was tapped, as Payter advises) or "list"
    (chosen from the list, setting journey_stop_list)."""

    screen: str
    key: str
    by: Literal["card", "list"] = "card"


@dataclass(frozen=True)
class TariffAccepted:
    """A new journey for a tariff accepted before (after a decline, "Try another card"):
    read the next card behind the decline's notice for ``behind_notice`` seconds."""

    behind_notice: float | None = None


@dataclass(frozen=True)
class TerminalOffline:
    """The terminal lost its connection (what it makes of a payment follows as its own
    events: the reading ended, the authorization declined, a capture or void queued)."""


@dataclass(frozen=True)
class TerminalOnline:
    """The terminal is back (what it had queued follows as payment steps)."""


@dataclass(frozen=True)
class CardPresented:
    card: Card


@dataclass(frozen=True)
class ReadingEnded:
    """The terminal stopped reading (``timeout``, ``offline``, ``stopped``) or could not start
    (``failed``, with ``message``)."""

    reason: str
    message: str | None = None


@dataclass(frozen=True)
class PaymentStepped:
    """A step of the terminal's payment session: authorized, declined, committed,
    commit_queued, cancelled, cancel_queued, expired."""

    step: str
    session_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandResult:
    """Where a START_SESSION or STOP_SESSION of this journey stands (ptp/commands.py states:
    SENDING, WAITING, RESULT_ACCEPTED, REJECTED, NO_RESULT, LATE_…)."""

    command: Literal["START_SESSION", "STOP_SESSION"]
    state: str


@dataclass(frozen=True)
class StartNotSent:
    """START_SESSION could not be sent, or whether the CPO got it is unknown (``RESTART``)."""

    outcome: str


@dataclass(frozen=True)
class StartRequested:
    """START_SESSION is about to go out with this reference and AD_HOC_USER token."""

    reference: str
    token: Mapping[str, Any]


@dataclass(frozen=True)
class CommandSent:
    command: Literal["START_SESSION", "STOP_SESSION"]
    command_id: str


@dataclass(frozen=True)
class FacCreated:
    fac_id: str


@dataclass(frozen=True)
class SessionReceived:
    session: Mapping[str, Any]


@dataclass(frozen=True)
class CdrReceived:
    cdr: Mapping[str, Any]


@dataclass(frozen=True)
class DeadlineReached:
    kind: Deadline


@dataclass(frozen=True)
class CaptureRefused:
    message: str


@dataclass(frozen=True)
class VoidRefused:
    message: str


@dataclass(frozen=True)
class PaymentSession:
    """The terminal's word on a payment session: its ``state`` (AUTHORIZED, COMMITTED,
    CANCELLED), whether it holds a commit or cancel ``queued`` while offline, and its data."""

    state: str
    queued: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Restarted:
    """The emulator started again with this journey open; what the executor found:

    - ``payment``: the journey's payment session on the terminal (asked when a capture or
      void was under way; None if the terminal has none);
    - ``reading`` / ``authorizing``: the terminal is online and still on this journey's
      present-card / PIN screen;
    - ``terminal``: the terminal still exists;
    - ``adoptable``: (payment session id, amount) of an open authorization of the journey's
      card that no journey owns (the terminal approved it before the journey heard of it);
    - ``start``: the state of the START_SESSION the journey sent (None: none recorded)."""

    payment: PaymentSession | None = None
    reading: bool = False
    authorizing: bool = False
    terminal: bool = True
    adoptable: tuple[str, int] | None = None
    start: str | None = None


Event = (
    KeyPressed
    | TariffAccepted
    | TerminalOffline
    | TerminalOnline
    | CardPresented
    | ReadingEnded
    | PaymentStepped
    | CommandResult
    | StartNotSent
    | StartRequested
    | CommandSent
    | FacCreated
    | SessionReceived
    | CdrReceived
    | DeadlineReached
    | CaptureRefused
    | VoidRefused
    | Restarted
)

# --- effects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartReading:
    """Ask for a card (Payter's present-card screens), for ``amount`` in ``currency``;
    ``behind_notice``: read behind the notice on the display for that many seconds first."""

    amount: int
    currency: str
    behind_notice: float | None = None


@dataclass(frozen=True)
class StopReading:
    pass


@dataclass(frozen=True)
class Authorize:
    amount: int
    currency: str


@dataclass(frozen=True)
class Capture:
    amount: int


@dataclass(frozen=True)
class Void:
    pass


@dataclass(frozen=True)
class SendStart:
    pass


@dataclass(frozen=True)
class SendStop:
    """``now``: the driver waits for it on the display; else it goes out once the push that
    decided it has its answer (answer first, side effects after)."""

    now: bool = False


@dataclass(frozen=True)
class CreateFac:
    captured: int
    capture_status: str
    eft_data: tuple[str, ...]


@dataclass(frozen=True)
class ArmDeadline:
    kind: Deadline
    due: datetime


@dataclass(frozen=True)
class CancelDeadline:
    pass


@dataclass(frozen=True)
class ShowHome:
    """The display goes back to Home (the driver left the journey's screen)."""


@dataclass(frozen=True)
class KeepOnDisplay:
    """After a restart, the terminal still shows this journey's present-card or PIN screen
    (its own timers re-armed): the display goes on with the journey."""


@dataclass(frozen=True)
class RecordFinding:
    rule: RuleId
    message: str
    once: bool = False


@dataclass(frozen=True)
class Checked:
    """The checks of ``rules`` ran on this journey (whatever they found): the report's
    coverage counts them as run, found or not."""

    rules: tuple[RuleId, ...]


@dataclass(frozen=True)
class PresentAgain:
    """After a decline ("Try another card"): read the next card for the same start, in a new
    journey, behind the decline's notice; the present-card screen follows after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class NotChecked:
    """A check of ``rule`` that cannot be made because of an earlier, other cause (which has
    its own finding): shown in the report's coverage, never a second finding."""

    rule: RuleId
    reason: str


@dataclass(frozen=True)
class ShowScreen:
    """A screen of the journey (built by :func:`emulator.journey.screens.screen_for`), shown if
    the journey holds the display: ``holder`` "start" (the driver started it and has not left)
    or "stop" (the driver is waiting for the stop). ``then``: the screen that follows after
    ``seconds`` while the journey is in state ``then_state``."""

    name: str
    holder: Literal["start", "stop", "any"] = "start"
    seconds: float | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    then: str | None = None
    then_state: S | None = None


Effect = (
    StartReading
    | StopReading
    | Authorize
    | Capture
    | Void
    | SendStart
    | SendStop
    | CreateFac
    | ArmDeadline
    | CancelDeadline
    | KeepOnDisplay
    | RecordFinding
    | Checked
    | NotChecked
    | ShowScreen
    | ShowHome
    | PresentAgain
)


@dataclass(frozen=True)
class Context:
    """What the step knows of the world besides the journey: the settings' timeouts and what
    the executor looked up for this event."""

    session_start_timeout: float = 60.0
    session_update_timeout: float = 3600.0
    cdr_timeout: float = 3600.0
    notice_seconds: float = 5.0
    result_seconds: float = 5.0
    fac_always: bool = False
    payments: bool = True  # Payments is in use with the journey's platform (FACs go to it)
    invoice_creator: str | None = None  # the terminal's (CPO / PTP), for the CDR check
    terminal_online: bool = True  # the terminal's connection, for a payment step


Result = tuple[Journey, list[Effect]]

# --- the step ---------------------------------------------------------------------------------


def step(journey: Journey, event: Event, now: datetime, context: Context) -> Result:
    """The journey after ``event``, and what to do about it."""
    out = _Step(journey, now, context)
    handler = _HANDLERS[type(event)]
    handler(out, event)
    return out.journey, out.effects


class _Step:
    def __init__(self, journey: Journey, now: datetime, context: Context) -> None:
        self.journey = journey
        self.now = now
        self.ctx = context
        self.effects: list[Effect] = []

    @property
    def j(self) -> Journey:
        return self.journey

    def set(self, **changes: Any) -> None:
        self.journey = self.journey.replace(**changes)

    def emit(self, *effects: Effect) -> None:
        self.effects.extend(effects)

    def finding(self, rule: RuleId, message: str, *, once: bool = False) -> None:
        self.emit(RecordFinding(rule, message, once))

    def checked(self, *rules: RuleId) -> None:
        self.emit(Checked(rules))

    def money(self, minor: int | None) -> str:
        return show_money(minor, self.j.currency)

    # --- deadlines ---

    def arm(self, kind: Deadline, seconds: float) -> None:
        due = self.now + timedelta(seconds=seconds)
        self.set(deadline_at=format_datetime(due), deadline_kind=kind)
        self.emit(ArmDeadline(kind, due))

    def clear_deadline(self) -> None:
        if self.j.deadline_kind is not None or self.j.deadline_at is not None:
            self.set(deadline_at=None, deadline_kind=None)
        self.emit(CancelDeadline())

    # --- money ---

    def void(self) -> None:
        if self.j.money != Money.AUTHORIZED:
            return
        self.set(money=Money.VOIDING)
        self.emit(Void())

    def capture(self, amount: int, source: str) -> None:
        limit = self.j.preauth_amount
        self.checked("PAYTER-06")
        if amount > limit:
            self.finding(
                "PAYTER-06",
                f"{source} total {self.money(amount)} is above the pre-authorized "
                f"{self.money(limit)}: {self.money(limit)} is captured (PARTIAL_SUCCESS)",
            )
        if amount <= 0:
            self.set(state=S.VOIDED, reason=f"{source} total is 0")
            self.void()
            return
        if self.j.money != Money.AUTHORIZED:
            return
        self.set(money=Money.CAPTURING, state=S.CAPTURING)
        self.emit(Capture(amount))

    def capture_last_known(self, why: str) -> None:
        if self.j.cdr_id or self.j.money != Money.AUTHORIZED:
            return
        cost = self.j.session_cost
        self.finding(
            "PAYTER-05",
            f"session {self.j.session_id}: {why}; capturing the last known session "
            f"cost ({self.money(cost)})",
        )
        self.set(deadline_at=None, deadline_kind=None, reason=why)
        self.capture(int(cost or 0), "last session cost")

    # --- starting ---

    def start_failed(self, outcome: str) -> None:
        reason_key = START_FAILURE_TEXT.get(outcome, "failed.rejected")
        self.set(state=S.START_FAILED, reason=outcome)
        self.clear_deadline()
        self.void()
        self.emit(
            ShowScreen(
                "start_failed",
                seconds=self.ctx.result_seconds,
                values={"reason_key": reason_key},
            )
        )

    def request_stop(self, reason: str, *, now: bool = False) -> None:
        if self.j.state == S.CHARGING:
            self.set(state=S.STOPPING, stop_reason=reason)
        else:
            self.set(stop_reason=reason)
        self.emit(SendStop(now=now))

    def check_limit(self) -> None:
        """Stop at the pre-authorized amount (payment_transaction stop option 2; 5.7 #58)."""
        cost = self.j.session_cost
        if cost is None or self.j.state not in (S.CHARGING, S.STOPPING):
            return
        limit = self.j.preauth_amount
        self.checked("PAYTER-06")
        if cost > limit:
            self.finding(
                "PAYTER-06",
                f"session {self.j.session_id} costs {self.money(cost)}, above the "
                f"pre-authorized {self.money(limit)}",
                once=True,
            )
        if cost >= limit and self.j.state == S.CHARGING and not self.j.stop_reason:
            self.request_stop("pre-authorized amount reached")


def _tariff_accepted(s: _Step, event: TariffAccepted) -> None:
    if s.j.state == S.PRESENTING and s.j.money == Money.NONE:
        s.emit(StartReading(s.j.preauth_amount, s.j.currency, event.behind_notice))


def _key(s: _Step, event: KeyPressed) -> None:
    """What a key on one of the journey's screens means in the state the journey is in now."""
    if event.screen == TARIFF:
        if event.key == "accept":
            _tariff_accepted(s, TariffAccepted())
    elif event.screen == STOP_CONFIRM:
        if event.key == "yes" and s.j.state in ACTIVE:
            _stop(s, event.by)
        else:
            # No; or Yes after the journey ended (or began its capture) while the driver was
            # asked: there is nothing to stop.
            s.emit(ShowHome())
    elif event.screen == RECEIPT:
        s.emit(ShowHome())


def _offline(s: _Step, event: TerminalOffline) -> None:
    """An offline terminal cannot read a card (journey-screens.md screen 18): a journey still
    waiting for one is given up. One the terminal is authorizing is declined by the terminal
    itself (a payment step follows). A started journey goes on: its Session and CDR come
    through OCPI, and the terminal queues its capture or void until it is back (payter.md
    §3.7)."""
    if s.j.state == S.PRESENTING and s.j.money == Money.NONE:
        s.set(state=S.ABANDONED, reason="terminal offline")


def _online(s: _Step, event: TerminalOnline) -> None:
    """Nothing of a journey changes: the display shows Home again (the menus), and what the
    terminal queued while offline it carries out now and reports as payment steps."""


def _card(s: _Step, event: CardPresented) -> None:
    if s.j.state != S.PRESENTING:
        return
    s.set(state=S.AUTHORIZING, card=event.card)
    s.emit(Authorize(s.j.preauth_amount, s.j.currency))


def _reading_ended(s: _Step, event: ReadingEnded) -> None:
    if s.j.state != S.PRESENTING:
        return
    if event.reason == "timeout":
        s.set(state=S.CARD_TIMEOUT, reason="no card presented")
        s.emit(ShowScreen("card_timeout", seconds=3))
    elif event.reason in ("offline", "stopped"):
        s.set(state=S.ABANDONED, reason=f"reading {event.reason}")
    elif event.reason == "failed":
        s.set(state=S.ABANDONED, reason=event.message)


def _payment(s: _Step, event: PaymentStepped) -> None:
    data = event.data
    if event.step == "authorized":
        if s.j.money != Money.NONE:
            return
        s.set(
            money=Money.AUTHORIZED,
            payment_session_id=event.session_id,
            preauth_amount=int(data.get("authorized_amount") or s.j.preauth_amount),
        )
        s.emit(
            ShowScreen(
                "approved",
                holder="any",
                seconds=s.ctx.notice_seconds,
                then="starting",
                then_state=S.STARTING,
            ),
            SendStart(),
        )
    elif event.step == "declined":
        reason = data.get("response_text") or data.get("response_code")
        s.set(state=S.DECLINED, payment_session_id=event.session_id, reason=str(reason))
        # Screen 8 in the driver's language, with the acquirer's reason. "Try another card":
        # the next card is read for the same start (Home if the terminal cannot read).
        s.emit(
            ShowScreen(
                "declined",
                holder="any",
                seconds=s.ctx.notice_seconds,
                values={"response_text": str(data.get("response_text") or "")},
            )
        )
        if s.ctx.terminal_online:
            s.emit(PresentAgain(s.ctx.notice_seconds))
    elif event.step == "committed":
        _captured(s, data)
    elif event.step == "commit_queued":
        s.set(state=S.CAPTURING)
        if s.j.money == Money.CAPTURING:
            s.set(money=Money.CAPTURE_QUEUED)
    elif event.step == "cancelled":
        if s.j.money in (Money.VOIDING, Money.VOID_QUEUED):
            s.set(money=Money.VOIDED, voided_amount=s.j.preauth_amount)
    elif event.step == "cancel_queued":
        if s.j.money == Money.VOIDING:
            s.set(money=Money.VOID_QUEUED)
    elif event.step == "expired":
        s.finding(
            "PAYTER-05",
            f"the pre-authorization of journey {s.j.id} expired on the card without capture",
        )


def _captured(s: _Step, data: Mapping[str, Any]) -> None:
    if s.j.money not in (Money.CAPTURING, Money.CAPTURE_QUEUED):
        return
    captured = data.get("captured_amount")
    status = data.get("capture_status")
    s.set(money=Money.CAPTURED, state=S.COMPLETED, captured_amount=captured, capture_status=status)
    # FAC to the CPO when it invoices (CDR invoice_reference_id) or always (setting), where
    # Payments is in use. Owed in the same write as the capture: a restart before it is made
    # makes it then (_restarted).
    if s.ctx.payments and (s.ctx.fac_always or s.j.invoice_reference_id):
        s.set(fac_due=True)
        _create_fac(s, data)


def _create_fac(s: _Step, data: Mapping[str, Any]) -> None:
    """The FAC of the capture: amount and status as the terminal reported them (the journey's
    record of them if the terminal no longer has the payment session)."""
    captured = data.get("captured_amount", s.j.captured_amount)
    status = data.get("capture_status") or s.j.capture_status
    eft = tuple(str(line) for line in data.get("eft_data") or []) or ("CARD",)
    s.emit(CreateFac(int(captured or 0), str(status or "SUCCESS"), eft))


def _command(s: _Step, event: CommandResult) -> None:
    state = event.state
    if state in ("SENDING", "WAITING"):
        return
    if event.command == "STOP_SESSION":
        ok = state == "RESULT_ACCEPTED"
        if not ok and s.j.state == S.STOPPING:
            # Still charging: the driver has to unplug (or try again).
            s.set(state=S.CHARGING, reason=f"STOP_SESSION {state}")
        s.emit(
            ShowScreen(
                "stopped" if ok else "stop_failed", holder="stop", seconds=s.ctx.result_seconds
            )
        )
        return
    if state == "RESULT_ACCEPTED":
        if s.j.state == S.STARTING:
            s.set(state=S.STARTED)
            s.arm(Deadline.SESSION, s.ctx.session_start_timeout)
            s.emit(ShowScreen("started", seconds=s.ctx.result_seconds))
        return
    if state.startswith("LATE_"):
        # The driver was already told the start failed and the money released.
        return
    if s.j.state in (S.STARTING, S.STARTED) and not s.j.session_id:
        s.start_failed(state)


def _start_not_sent(s: _Step, event: StartNotSent) -> None:
    if s.j.session_id:
        return  # it started after all
    if s.j.state in (S.AUTHORIZING, S.STARTING, S.STARTED) or s.j.money == Money.AUTHORIZED:
        s.start_failed(event.outcome)


def _start_requested(s: _Step, event: StartRequested) -> None:
    if s.j.money != Money.AUTHORIZED or s.j.authorization_reference:
        return  # one START_SESSION per pre-authorization
    s.set(state=S.STARTING, authorization_reference=event.reference, token=event.token)


def _command_sent(s: _Step, event: CommandSent) -> None:
    if event.command == "START_SESSION":
        s.set(start_command_id=event.command_id)
    else:
        s.set(stop_command_id=event.command_id)


def _fac_created(s: _Step, event: FacCreated) -> None:
    s.set(fac_id=event.fac_id)


def _session(s: _Step, event: SessionReceived) -> None:
    session = event.session
    cost = price_incl(session.get("total_cost"))
    status = session.get("status")
    s.set(
        session_id=session["id"],
        session_status=status,
        kwh=float(session.get("kwh") or 0),
    )
    if cost is not None:
        s.set(session_cost=cost)
    state = s.j.state
    if s.j.money in VOIDING_OR_VOIDED or state in (S.START_FAILED, S.VOIDED):
        # The charger started after all: the driver was told "no charge". Stop it.
        if status in ("PENDING", "ACTIVE") and not s.j.stop_reason:
            s.request_stop("started after the start was given up")
        return
    if status in ("PENDING", "ACTIVE", "RESERVATION") and state in (S.STARTING, S.STARTED):
        s.clear_deadline()
        s.set(state=S.CHARGING)
    elif status == "COMPLETED" and state in (S.STARTING, S.STARTED, S.CHARGING, S.STOPPING):
        s.set(state=S.WAITING_CDR)
    elif status == "INVALID" and s.j.money == Money.AUTHORIZED:
        s.set(state=S.VOIDED, reason="session INVALID (will not be billed)")
        s.clear_deadline()
        s.void()
        return
    if s.j.state == S.WAITING_CDR and state != S.WAITING_CDR:
        s.arm(Deadline.CDR, s.ctx.cdr_timeout)
    elif s.j.state in (S.CHARGING, S.STOPPING):
        # Every update shows the CPO still follows the session; silence means it was lost.
        s.arm(Deadline.UPDATE, s.ctx.session_update_timeout)
    s.check_limit()


def _cdr(s: _Step, event: CdrReceived) -> None:
    cdr = event.cdr
    if cdr.get("credit"):
        return  # a credit CDR corrects one already billed: the card journey has no refund step
    total = price_incl(cdr.get("total_cost"))
    # One CDR settles a journey, once (the same CDR pulled after it was pushed changes nothing).
    if s.j.cdr_id is not None:
        if str(s.j.cdr_id).upper() != str(cdr["id"]).upper():
            s.finding(
                "OCPI-55",
                f"CDR {cdr['id']} is a second CDR for START_SESSION "
                f"{s.j.authorization_reference}, which CDR {s.j.cdr_id} already settled; it is "
                "not settled again",
            )
            return
        if s.j.money != Money.AUTHORIZED:
            return
    if total is not None and total < 0:
        s.finding(
            "PAYTER-05",
            f"CDR {cdr['id']} totals {s.money(total)}: nothing can be captured from a negative "
            "total; the pre-authorization stays open for a CDR with the session's total (or "
            "until the CDR timeout)",
        )
        return
    s.set(
        cdr_id=cdr["id"],
        cdr_total=total,
        invoice_reference_id=cdr.get("invoice_reference_id"),
        kwh=float(cdr.get("total_energy") or s.j.kwh or 0),
    )
    s.clear_deadline()
    creator, has_ref = s.ctx.invoice_creator, bool(cdr.get("invoice_reference_id"))
    if creator in ("CPO", "PTP"):
        s.checked("OCPI-56")
    if creator == "CPO" and not has_ref:
        s.finding(
            "OCPI-56",
            f"CDR {cdr['id']} has no invoice_reference_id although the terminal's "
            "invoice_creator is CPO",
        )
    elif creator == "PTP" and has_ref:
        s.finding(
            "OCPI-56",
            f"CDR {cdr['id']} carries invoice_reference_id although the terminal's "
            "invoice_creator is PTP",
        )
    if s.j.money != Money.AUTHORIZED:
        if s.j.money in VOIDING_OR_VOIDED:
            # Voided earlier for a reason of its own (start failed, no Session in time),
            # which has its finding: the late CDR is not a second defect.
            s.emit(
                NotChecked(
                    "PAYTER-05",
                    f"the pre-authorization of journey {s.j.id} was voided "
                    f"({s.j.reason or 'earlier'}) before CDR {cdr['id']} arrived",
                )
            )
        return
    s.checked("PAYTER-05")  # the CDR came: the pre-authorization can be captured
    s.capture(total if total is not None else 0, "CDR")


def _deadline(s: _Step, event: DeadlineReached) -> None:
    if s.j.deadline_kind != event.kind:
        return  # superseded by a later deadline
    if event.kind == Deadline.SESSION:
        if s.j.state != S.STARTED or s.j.session_id:
            return
        # The command's own expectation notes the missing Session (OCPI-46, an info: the
        # spec allows it); here the money is released.
        s.set(state=S.VOIDED, reason="no session", deadline_at=None, deadline_kind=None)
        s.void()
    elif event.kind == Deadline.CDR:
        s.capture_last_known(f"no CDR within {s.ctx.cdr_timeout:g} s of the session's end")
    elif event.kind == Deadline.UPDATE:
        # "Lost contact with the charger mid-session ⇒ commit the last known total"
        # (payter.md §3.9).
        if s.j.state not in (S.CHARGING, S.STOPPING):
            return
        s.capture_last_known(f"no Session update and no CDR for {s.ctx.session_update_timeout:g} s")


def _stop(s: _Step, by: str) -> None:
    """The driver confirmed Stop on the terminal, identified by ``by`` ("card": the card used
    was tapped; "list": chosen from the list, setting journey_stop_list)."""
    how = "the card used" if by == "card" else "the session list, without the card"
    s.set(reason=f"stopped on the terminal, identified by {how}")
    if not s.j.session_id:
        # No Session yet: charging never began; stopping releases the money.
        s.set(state=S.VOIDED, reason="stopped before charging began")
        s.clear_deadline()
        s.void()
        s.emit(ShowScreen("stopped_no_charge", holder="any", seconds=s.ctx.result_seconds))
        return
    s.emit(ShowScreen("stopping", holder="any"))
    s.request_stop("driver", now=True)


def _capture_refused(s: _Step, event: CaptureRefused) -> None:
    if s.j.money == Money.CAPTURING:
        s.set(money=Money.AUTHORIZED, reason=f"capture refused: {event.message}")


def _void_refused(s: _Step, event: VoidRefused) -> None:
    if s.j.money == Money.VOIDING:
        s.set(money=Money.AUTHORIZED)


def _restarted(s: _Step, event: Restarted) -> None:
    """Pick the journey up where it stood when the emulator stopped, so that its
    pre-authorization still ends in exactly one capture or one void, and a capture that owes
    a FAC has exactly one."""
    if s.j.money == Money.CAPTURED:
        if s.j.fac_due and not s.j.fac_id:
            # Captured, the FAC not made (or made and not yet named here: the executor takes
            # the one it finds for the authorization_reference instead of a second).
            _create_fac(s, event.payment.data if event.payment is not None else {})
    if s.j.money in UNDER_WAY:
        if event.payment is not None:
            _reconcile(s, event.payment)
        return
    if s.j.state in (S.PRESENTING, S.AUTHORIZING) and s.j.money == Money.NONE:
        if event.reading if s.j.state == S.PRESENTING else event.authorizing:
            s.emit(KeepOnDisplay())  # the present-card or PIN screen is still up: go on
            return
        if s.j.state == S.PRESENTING or not event.terminal:
            # The terminal may still be asking for the card.
            s.emit(StopReading())
            s.set(state=S.ABANDONED, reason="restart")
            return
        if event.adoptable is None:
            s.set(state=S.ABANDONED, reason="restart")
            return
        # The terminal approved the card before the journey heard of it: the journey's
        # pre-authorization is that open payment session (released below: no start was sent).
        session_id, amount = event.adoptable
        s.set(money=Money.AUTHORIZED, payment_session_id=session_id, preauth_amount=amount)
    if s.j.money == Money.AUTHORIZED and s.j.state in (S.AUTHORIZING, S.STARTING):
        if event.start in (None, "SENDING"):
            # Whether the CPO got the START_SESSION is unknown: release the money (a Session
            # that arrives after all is stopped, see _session).
            _start_not_sent(s, StartNotSent("RESTART"))
        else:
            _command(s, CommandResult("START_SESSION", event.start))
        return
    if s.j.money == Money.AUTHORIZED and s.j.state in (S.START_FAILED, S.VOIDED):
        s.void()  # the terminal refused the void before the restart
    if s.j.stop_reason and not s.j.stop_command_id:
        s.request_stop(s.j.stop_reason)  # decided, not yet sent


def _reconcile(s: _Step, payment: PaymentSession) -> None:
    """A capture or void was under way when the emulator stopped: take the terminal's word
    for what happened, or do it now."""
    capturing = s.j.money in (Money.CAPTURING, Money.CAPTURE_QUEUED)
    if payment.state == "COMMITTED" and not payment.queued:
        _captured(s, payment.data)
    elif payment.state == "CANCELLED" and not payment.queued:
        if s.j.money in (Money.VOIDING, Money.VOID_QUEUED):
            s.set(money=Money.VOIDED, voided_amount=s.j.preauth_amount)
    elif payment.state == "AUTHORIZED":
        s.set(money=Money.AUTHORIZED)
        if capturing:
            s.capture(amount_due(s.j), "restart")
        else:
            s.void()
    elif payment.queued:
        s.set(money=Money.CAPTURE_QUEUED if capturing else Money.VOID_QUEUED)


_HANDLERS: dict[type, Any] = {
    KeyPressed: _key,
    TariffAccepted: _tariff_accepted,
    TerminalOffline: _offline,
    TerminalOnline: _online,
    CardPresented: _card,
    ReadingEnded: _reading_ended,
    PaymentStepped: _payment,
    CommandResult: _command,
    StartNotSent: _start_not_sent,
    StartRequested: _start_requested,
    CommandSent: _command_sent,
    FacCreated: _fac_created,
    SessionReceived: _session,
    CdrReceived: _cdr,
    DeadlineReached: _deadline,
    CaptureRefused: _capture_refused,
    VoidRefused: _void_refused,
    Restarted: _restarted,
}


def amount_due(journey: Journey) -> int:
    """What a capture takes: the CDR total, else the last known session cost."""
    if journey.cdr_total is not None:
        return int(journey.cdr_total)
    return int(journey.session_cost or 0)


def price_incl(price: Any) -> int | None:
    """A Price incl. taxes, in minor units, read by its shape: a 2.1.1 number, a 2.3.0
    ``before_taxes``/``taxes``, else a 2.2.1 ``incl_vat``/``excl_vat``."""
    if isinstance(price, bool):
        return None
    if isinstance(price, (int, float, Decimal)):
        version = "2.1.1"
    elif isinstance(price, Mapping) and "before_taxes" in price:
        version = "2.3.0"
    else:
        version = "2.2.1"
    total = price_with_taxes(price, version)
    return to_minor(total) if total is not None else None
