"""The journey's rules at the level of the pure step: random histories of events, in any order
and at any time, never capture and void one pre-authorization, never capture or void it twice,
never leave a journey that has ended with its money still held, and once the world has had its
say (results, deadlines, the terminal coming back) every authorized journey has ended in
exactly one capture or one void.

A small model of the terminal answers the step's Capture and Void the way the real one does
(at once, queued while offline, lost in a restart, or a void refused) and refuses a second one
on a payment session that is no longer AUTHORIZED; that refusal is what the test looks for.
Each seed draws a CPO (sends Sessions or not, CDRs or not) and whether the emulator restarts,
so that no path hides behind another: a restart settles what a refused void left open, and
only that may wait for one. The end-to-end version of this property, through HTTP and the real
terminal, is test_journey_property.py.

A failing seed replays exactly: ``pytest tests/journey/test_journey_step.py -k 'seed-17'``.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.journey import step as steps
from emulator.journey.model import (
    ACTIVE,
    FINAL,
    SETTLED,
    UNDER_WAY,
    Card,
    Deadline,
    Journey,
    JourneyState,
    Money,
)
from emulator.journey.screens import CHOOSE, HOME, RECEIPT, STOP_CONFIRM, TARIFF
from emulator.journey.step import Context, step

SEEDS = range(100)
EVENTS = 60
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = Context(session_start_timeout=60, session_update_timeout=600, cdr_timeout=600)


class World:
    """One journey, the terminal's payment session behind it, and a clock."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.now = T0
        self.journey = Journey(
            id="J1",
            serial_number="APO-1",
            state=JourneyState.PRESENTING,
            preauth_amount=5000,
            currency="EUR",
            created_at="",
            updated_at="",
            platform_id=1,
            evse_uid="EVSE-1",
        )
        self.terminal: str | None = None  # the payment session: AUTHORIZED/COMMITTED/CANCELLED
        self.in_flight: str | None = None  # "capture" / "void" the terminal has not answered
        self.captured = 0
        self.voided = 0
        self.authorizing = False
        self.commands: list[str] = []  # commands sent whose result may still come
        self.trail: list[str] = []
        self.was_active = False
        self.queued = False  # the capture or void in flight waits on an offline terminal
        self.void_refused = False  # since the last restart
        self.stepping: list[str] = []  # the events being stepped (the innermost last)
        self.settled_by: list[str] = []  # "capture on CdrReceived", ...
        # The CPO and the emulator this seed draws.
        self.sends_sessions = rnd.random() < 0.85
        self.sends_cdrs = rnd.random() < 0.7
        self.invalid_sessions = rnd.random() < 0.3
        self.restarts = rnd.random() < 0.5
        self.refuses_voids = rnd.random() < 0.25
        self.online = True  # the terminal's connection
        self.goes_offline = rnd.random() < 0.6
        self.offline_in: set[str] = set()  # the journey's states when the terminal went offline

    # --- the step and what the world does with its effects ---

    def apply(self, event: steps.Event) -> None:
        self.trail.append(type(event).__name__)
        before = self.journey
        context = dataclasses.replace(CONTEXT, terminal_online=self.online)
        self.journey, effects = step(before, event, self.now, context)
        self.was_active = self.was_active or self.journey.state in ACTIVE
        assert self.journey.id == before.id
        j = self.journey
        if j.state in FINAL and j.money == Money.AUTHORIZED:
            # An ended journey holds no money, unless the terminal refused its void (a restart
            # tries again).
            assert self.void_refused, (j, self.trail)
        name = type(event).__name__
        if isinstance(event, steps.DeadlineReached):
            name += f"({event.kind})"
        self.stepping.append(name)
        for effect in effects:
            self.effect(effect)
        self.stepping.pop()

    def effect(self, effect: steps.Effect) -> None:
        if isinstance(effect, steps.Authorize):
            self.authorizing = True
        elif isinstance(effect, steps.Capture):
            self.claim("capture")
            assert effect.amount > 0
        elif isinstance(effect, steps.Void):
            self.claim("void")
        elif isinstance(effect, steps.SendStart):
            # The executor sends at once (or finds it cannot).
            if self.rnd.random() < 0.1:
                self.apply(steps.StartNotSent(self.rnd.choice(("UNREACHABLE", "EVSE_UNAVAILABLE"))))
            else:
                self.apply(steps.StartRequested("REF-1", {"uid": "REF-1"}))
                self.apply(steps.CommandSent("START_SESSION", "start-1"))
                self.commands.append("START_SESSION")
        elif isinstance(effect, steps.SendStop):
            self.apply(steps.CommandSent("STOP_SESSION", f"stop-{len(self.commands)}"))
            self.commands.append("STOP_SESSION")
        elif isinstance(effect, steps.PresentAgain):
            assert self.online, "a card read again on an offline terminal"
        elif isinstance(effect, steps.StartReading):
            assert self.online, "reading on an offline terminal"
        elif isinstance(effect, steps.ArmDeadline):
            assert effect.due > self.now
            assert self.journey.deadline_kind == effect.kind

    def claim(self, what: str) -> None:
        assert self.terminal == "AUTHORIZED", f"{what} on a payment session {self.terminal}"
        assert self.in_flight is None, f"{what} while a {self.in_flight} is under way"
        if what == "void" and self.refuses_voids and self.rnd.random() < 0.3:
            self.void_refused = True
            self.apply(steps.VoidRefused("the terminal refused"))
            return
        self.settled_by.append(f"{what} on {self.stepping[-1]}")
        self.in_flight = what
        outcome = self.rnd.choice(("now", "now", "queued", "later")) if self.online else "queued"
        if outcome == "now":
            self.answer()
        elif outcome == "queued":
            self.queued = True
            step_name = "commit_queued" if what == "capture" else "cancel_queued"
            self.apply(steps.PaymentStepped(step_name, "PS-1"))

    def answer(self) -> None:
        """The terminal carries out the capture or void under way and says so."""
        what, self.in_flight, self.queued = self.in_flight, None, False
        if what == "capture":
            self.terminal = "COMMITTED"
            self.captured += 1
            self.apply(steps.PaymentStepped("committed", "PS-1", {"captured_amount": 100}))
        elif what == "void":
            self.terminal = "CANCELLED"
            self.voided += 1
            self.apply(steps.PaymentStepped("cancelled", "PS-1"))

    def restart(self) -> None:
        """The emulator stops and starts again; the terminal may have acted meanwhile. The
        executor tells the step what the terminal and ptp say (steps.Restarted)."""
        rnd, j = self.rnd, self.journey
        self.void_refused = False
        payment = None
        if self.in_flight and self.queued and rnd.random() < 0.5:
            # Still queued on the offline terminal: it is carried out when back online.
            state = "COMMITTED" if self.in_flight == "capture" else "CANCELLED"
            payment = steps.PaymentSession(state, queued=True)
        else:
            if self.in_flight and rnd.random() < 0.5:
                what, self.in_flight = self.in_flight, None
                if what == "capture":
                    self.terminal, self.captured = "COMMITTED", self.captured + 1
                else:
                    self.terminal, self.voided = "CANCELLED", self.voided + 1
            elif self.in_flight:
                self.in_flight = None  # lost: the terminal still holds the authorization
            self.queued = False
            if j.money in UNDER_WAY:
                payment = steps.PaymentSession(self.terminal or "AUTHORIZED")
        adoptable, authorizing = None, False
        terminal = rnd.random() < 0.9  # else it was deleted meanwhile, with its sessions
        if self.authorizing and not self.online:
            # The terminal went offline while authorizing: it declined, unheard.
            self.authorizing = False
        if self.authorizing:
            outcome = rnd.choice(("still", "approved", "declined") if terminal else ("gone",))
            authorizing = outcome == "still"
            self.authorizing = authorizing
            if outcome == "approved":
                self.terminal = "AUTHORIZED"
                adoptable = ("PS-1", 5000)
        start = None
        if "START_SESSION" in self.commands:
            start = rnd.choice(("SENDING", "WAITING", "RESULT_ACCEPTED", "REJECTED", "NO_RESULT"))
        self.apply(
            steps.Restarted(
                payment=payment,
                reading=self.online and rnd.random() < 0.9,
                authorizing=authorizing,
                terminal=terminal,
                adoptable=adoptable,
                start=start,
            )
        )
        if self.journey.state in (JourneyState.ABANDONED, JourneyState.START_FAILED):
            self.authorizing = False  # a reading the journey gave up answers nobody

    # --- what drivers, the CPO and time do ---

    def offline(self) -> None:
        """The terminal loses its connection: the journey hears it, then what the terminal
        makes of it (a reading ends, an authorization is declined)."""
        self.online = False
        self.offline_in.add(str(self.journey.state))
        self.apply(steps.TerminalOffline())
        if self.authorizing:
            self.authorizing = False
            data = {"response_text": "Terminal offline"}
            self.apply(steps.PaymentStepped("declined", "PS-1", data))
        if self.journey.state == JourneyState.PRESENTING and self.rnd.random() < 0.8:
            self.apply(steps.ReadingEnded("offline"))

    def back_online(self) -> None:
        """The terminal is back and carries out what it queued."""
        self.online = True
        self.apply(steps.TerminalOnline())
        if self.in_flight and self.queued:
            self.answer()

    def key(self) -> None:
        """A key on one of the journey's screens (or one it has nothing to do with), in
        whatever state the journey is in by then."""
        rnd = self.rnd
        screen, key = rnd.choice(
            (
                (TARIFF, "accept"),
                (TARIFF, "cancel"),
                (STOP_CONFIRM, "no"),
                (RECEIPT, "back"),
                (HOME, "start"),
                (CHOOSE, "evse1"),
                ("journey.notice", "ok"),
            )
        )
        self.apply(steps.KeyPressed(screen, key, by=rnd.choice(("card", "list"))))

    def random_event(self) -> None:
        rnd, j = self.rnd, self.journey
        choice = rnd.randrange(15)
        if choice == 0 and self.online:
            self.apply(steps.CardPresented(Card(card_id="c1")))
        elif choice == 1 and self.authorizing:
            self.authorizing = False
            if rnd.random() < 0.8:
                self.terminal = "AUTHORIZED"
                self.apply(steps.PaymentStepped("authorized", "PS-1", {"authorized_amount": 5000}))
            else:
                self.apply(steps.PaymentStepped("declined", "PS-1", {"response_text": "no"}))
        elif choice == 2 and j.state == JourneyState.PRESENTING and self.online:
            self.apply(steps.CardPresented(Card(card_id="c1")))
        elif choice == 3 and self.commands:
            command = rnd.choice(self.commands)
            state = rnd.choice(
                ("RESULT_ACCEPTED",) * 3 + ("REJECTED", "NO_RESULT", "LATE_ACCEPTED", "WAITING")
            )
            self.apply(steps.CommandResult(command, state))  # type: ignore[arg-type]
        elif choice in (4, 5) and j.authorization_reference and self.sends_sessions:
            # A Session reaches the journey through its START_SESSION (reference or token).
            statuses = ("PENDING", "ACTIVE", "ACTIVE", "COMPLETED")
            status = rnd.choice(statuses + ("INVALID",) * self.invalid_sessions)
            cost = rnd.choice((None, 0, 1200, 4999, 5000, 7000))
            session: dict[str, Any] = {"id": "S1", "status": status, "kwh": 3}
            if cost is not None:
                session["total_cost"] = {"before_taxes": cost / 100, "taxes": []}
            self.apply(steps.SessionReceived(session))
        elif choice == 6 and j.authorization_reference and self.sends_cdrs:
            total = rnd.choice((0, 1500, 4356, 6000))
            cdr = {"id": "C1", "total_cost": {"excl_vat": total / 100, "incl_vat": total / 100}}
            self.apply(steps.CdrReceived(cdr))
        elif choice == 7:
            self.apply(steps.DeadlineReached(rnd.choice(tuple(Deadline))))
        elif choice == 8 and self.was_active:
            # The Stop list offers active journeys; the confirmation may come after a change.
            self.apply(steps.KeyPressed(STOP_CONFIRM, "yes", by=rnd.choice(("card", "list"))))
        elif choice == 9 and self.in_flight:
            self.answer()
        elif choice == 10 and self.restarts:
            self.restart()
        elif choice == 11 and rnd.random() < 0.25:
            self.apply(steps.ReadingEnded(rnd.choice(("timeout", "offline", "stopped"))))
        elif choice == 14:
            if self.goes_offline and rnd.random() < 0.7:
                self.offline() if self.online else self.back_online()
            else:
                self.key()
        elif choice == 12:
            self.apply(steps.PaymentStepped("expired", "PS-1"))
        elif choice == 13:
            self.now += timedelta(seconds=rnd.choice((1, 30, 120)))

    def settle(self) -> None:
        """Let the world finish: the terminal answers, results time out, deadlines fire."""
        for _ in range(50):
            j = self.journey
            if not self.online:
                self.back_online()
            elif self.in_flight:
                self.answer()
            elif self.authorizing:
                self.authorizing = False
                self.apply(steps.PaymentStepped("declined", "PS-1", {"response_text": "timeout"}))
            elif j.state == JourneyState.PRESENTING:
                self.apply(steps.ReadingEnded("timeout"))
            elif j.state == JourneyState.STARTING:
                self.apply(steps.CommandResult("START_SESSION", "NO_RESULT"))
            elif j.deadline_kind is not None:
                self.now += timedelta(seconds=3600)
                self.apply(steps.DeadlineReached(j.deadline_kind))
            elif j.money == Money.AUTHORIZED and self.void_refused:
                self.restart()  # what settles a refused void
            else:
                return
        raise AssertionError(f"the world never settled: {self.journey}")


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed-{s}" for s in SEEDS])
def test_one_capture_or_one_void_per_authorization(seed: int) -> None:
    rnd = random.Random(seed)
    world = World(rnd)
    world.apply(steps.TariffAccepted())
    for _ in range(EVENTS):
        world.random_event()
        assert world.captured + world.voided <= 1, world.trail
    world.settle()
    j = world.journey
    assert j.money in SETTLED, (j, world.trail)
    # The state says what became of the money.
    if j.money == Money.CAPTURED:
        assert j.state == JourneyState.COMPLETED, (j, world.trail)
    elif j.money == Money.VOIDED:
        assert j.state in (JourneyState.START_FAILED, JourneyState.VOIDED), (j, world.trail)
    if world.terminal is None:
        assert (world.captured, world.voided, j.money) == (0, 0, Money.NONE), world.trail
    else:
        assert world.captured + world.voided == 1, world.trail
        assert j.money == (Money.CAPTURED if world.captured else Money.VOIDED), world.trail


def test_the_histories_cover_the_money_paths() -> None:
    """The seeds reach every way a journey can end, and every event that captures or voids,
    so the property above proves something."""
    ends: set[tuple[str, str]] = set()
    settled_by: set[str] = set()
    refused = 0
    offline_in: set[str] = set()
    reasons: set[str | None] = set()
    for seed in SEEDS:
        world = World(random.Random(seed))
        world.apply(steps.TariffAccepted())
        for _ in range(EVENTS):
            world.random_event()
        world.settle()
        ends.add((str(world.journey.state), str(world.journey.money)))
        settled_by.update(world.settled_by)
        refused += "VoidRefused" in world.trail
        offline_in |= world.offline_in
        reasons.add(world.journey.reason)
    assert {
        ("COMPLETED", "CAPTURED"),
        ("VOIDED", "VOIDED"),
        ("START_FAILED", "VOIDED"),
        ("DECLINED", "NONE"),
        ("CARD_TIMEOUT", "NONE"),
        ("ABANDONED", "NONE"),
    } <= ends
    assert {
        "capture on CdrReceived",
        "capture on DeadlineReached(cdr)",  # the last known cost: no CDR in time
        "capture on DeadlineReached(update)",  # the last known cost: no Session update
        "void on CdrReceived",  # a CDR of 0
        "void on CommandResult",  # START_SESSION rejected or unanswered
        "void on StartNotSent",
        "void on SessionReceived",  # INVALID
        "void on DeadlineReached(session)",  # no Session
        "void on KeyPressed",  # Yes on Stop before charging began
        "void on Restarted",  # a void refused, a start whose fate is unknown
        "capture on Restarted",  # a capture lost in the stop
    } <= settled_by, settled_by
    assert refused > 0
    # The terminal went offline while a card was awaited, authorized, and after the start.
    assert {"PRESENTING", "AUTHORIZING", "STARTING", "STOPPING", "WAITING_CDR"} <= offline_in
    assert {"terminal offline", "Terminal offline"} <= reasons  # given up; declined


def test_a_step_reads_no_clock_and_changes_nothing_it_is_given() -> None:
    journey = World(random.Random(0)).journey
    assert step(journey, steps.TariffAccepted(), T0, CONTEXT) == (
        journey,
        [steps.StartReading(5000, "EUR")],
    )
    first = step(journey, steps.CardPresented(Card(card_id="c")), T0, CONTEXT)
    again = step(journey, steps.CardPresented(Card(card_id="c")), T0, CONTEXT)
    assert first == again
    assert journey.state == JourneyState.PRESENTING
    assert first[0].state == JourneyState.AUTHORIZING
    assert first[1] == [steps.Authorize(5000, "EUR")]


def test_a_stop_confirmed_after_the_journey_ended_changes_nothing() -> None:
    """The Stop confirmation offers an active journey; its CDR may settle it before Yes: the
    display goes Home and the journey stays as it is."""
    journey = World(random.Random(0)).journey
    yes = steps.KeyPressed(STOP_CONFIRM, "yes")
    for state, money in (
        (JourneyState.COMPLETED, Money.CAPTURED),
        (JourneyState.CAPTURING, Money.CAPTURING),
        (JourneyState.VOIDED, Money.VOIDED),
    ):
        ended = journey.replace(state=state, money=money, authorization_reference="REF-1")
        assert step(ended, yes, T0, CONTEXT) == (ended, [steps.ShowHome()])
    charging = journey.replace(state=JourneyState.CHARGING, money=Money.AUTHORIZED, session_id="S1")
    after, effects = step(charging, yes, T0, CONTEXT)
    assert after.state == JourneyState.STOPPING
    assert after.reason == "stopped on the terminal, identified by the card used"
    assert steps.SendStop(now=True) in effects
    listed = step(charging, steps.KeyPressed(STOP_CONFIRM, "yes", by="list"), T0, CONTEXT)[0]
    assert listed.reason == (
        "stopped on the terminal, identified by the session list, without the card"
    )
    # No: the display goes Home, the charging goes on.
    assert step(charging, steps.KeyPressed(STOP_CONFIRM, "no"), T0, CONTEXT) == (
        charging,
        [steps.ShowHome()],
    )


def test_keys_mean_what_the_journey_s_state_makes_of_them() -> None:
    presenting = World(random.Random(0)).journey
    accept = steps.KeyPressed(TARIFF, "accept")
    assert step(presenting, accept, T0, CONTEXT) == (presenting, [steps.StartReading(5000, "EUR")])
    # Accept again once the card is being authorized: nothing to read any more.
    authorizing = presenting.replace(state=JourneyState.AUTHORIZING)
    assert step(authorizing, accept, T0, CONTEXT) == (authorizing, [])
    started = presenting.replace(state=JourneyState.STARTED, money=Money.AUTHORIZED)
    after, effects = step(started, steps.KeyPressed(STOP_CONFIRM, "yes"), T0, CONTEXT)
    # Yes before the Session came: charging never began, the money is released.
    assert (after.state, after.money) == (JourneyState.VOIDED, Money.VOIDING)
    assert steps.Void() in effects
    done = presenting.replace(state=JourneyState.COMPLETED, money=Money.CAPTURED)
    assert step(done, steps.KeyPressed(RECEIPT, "back"), T0, CONTEXT) == (done, [steps.ShowHome()])
    # Keys of screens that are not the journey's change nothing.
    for screen, key in ((HOME, "start"), (CHOOSE, "evse1"), (TARIFF, "cancel"), (RECEIPT, "x")):
        for journey in (presenting, started, done):
            expected: list[steps.Effect] = [steps.ShowHome()] if screen == RECEIPT else []
            assert step(journey, steps.KeyPressed(screen, key), T0, CONTEXT) == (journey, expected)


def test_offline_and_online_as_the_journey_s_state_makes_of_them() -> None:
    presenting = World(random.Random(0)).journey
    offline, online = steps.TerminalOffline(), steps.TerminalOnline()
    # Waiting for a card: an offline terminal cannot read one, the journey is given up.
    after, effects = step(presenting, offline, T0, CONTEXT)
    assert (after.state, after.money, after.reason, effects) == (
        JourneyState.ABANDONED,
        Money.NONE,
        "terminal offline",
        [],
    )
    # The reading the terminal ends then changes nothing more.
    assert step(after, steps.ReadingEnded("offline"), T0, CONTEXT) == (after, [])
    # Authorizing: the terminal declines it itself; no card is read again while offline.
    authorizing = presenting.replace(state=JourneyState.AUTHORIZING)
    assert step(authorizing, offline, T0, CONTEXT) == (authorizing, [])
    declined = steps.PaymentStepped("declined", "PS-1", {"response_text": "Terminal offline"})
    cut_off = dataclasses.replace(CONTEXT, terminal_online=False)
    after, effects = step(authorizing, declined, T0, cut_off)
    assert after.state == JourneyState.DECLINED
    assert not any(isinstance(e, steps.PresentAgain) for e in effects)
    assert steps.PresentAgain(CONTEXT.notice_seconds) in step(authorizing, declined, T0, CONTEXT)[1]
    # Started, charging, stopping, capturing: the journey goes on (the terminal queues its
    # capture or void); back online, nothing of the journey changes either.
    for state, money in (
        (JourneyState.STARTING, Money.AUTHORIZED),
        (JourneyState.CHARGING, Money.AUTHORIZED),
        (JourneyState.STOPPING, Money.AUTHORIZED),
        (JourneyState.CAPTURING, Money.CAPTURE_QUEUED),
        (JourneyState.START_FAILED, Money.VOID_QUEUED),
    ):
        journey = presenting.replace(state=state, money=money)
        assert step(journey, offline, T0, CONTEXT) == (journey, [])
        assert step(journey, online, T0, CONTEXT) == (journey, [])


def test_the_store_writes_a_money_decision_only_from_the_state_it_was_made_in() -> None:
    """JourneyRecords.save is the gate against a second capture or void: a decision taken on a
    stale journey (its money moved meanwhile) is dropped, not written."""
    from emulator.journey.records import JourneyRecords
    from emulator.store import Store

    records = JourneyRecords(Store(":memory:"), lambda: T0)
    journey = records.create(World(random.Random(0)).journey)
    authorized = records.save(journey, journey.replace(money=Money.AUTHORIZED))
    assert authorized is not None and authorized.money == Money.AUTHORIZED
    capturing = records.save(authorized, authorized.replace(money=Money.CAPTURING))
    assert capturing is not None
    # A void decided on the AUTHORIZED journey it read before the capture began: dropped.
    assert records.save(authorized, authorized.replace(money=Money.VOIDING)) is None
    stored = records.get(journey.id)
    assert stored is not None and stored.money == Money.CAPTURING
    # A change that leaves the money alone is written whatever the money is now.
    later = records.save(authorized, authorized.replace(kwh=3.5))
    assert later is not None and (later.kwh, later.money) == (3.5, Money.CAPTURING)
    assert [h["state"] for h in later.history] == ["PRESENTING"]


def test_a_capture_that_owes_a_fac_says_so_in_the_same_write() -> None:
    """The FAC is owed with the capture (fac_due in the write that says CAPTURED), so a
    restart before it is made makes it; where Payments is not in use nothing is owed."""
    capturing = World(random.Random(0)).journey.replace(
        state=JourneyState.CAPTURING,
        money=Money.CAPTURING,
        authorization_reference="REF-1",
        invoice_reference_id="INV-1",
    )
    committed = steps.PaymentStepped(
        "committed",
        "P1",
        {"captured_amount": 545, "capture_status": "SUCCESS", "eft_data": ["AID A0000000031010"]},
    )
    after, effects = step(capturing, committed, T0, CONTEXT)
    assert (after.money, after.fac_due, after.fac_id) == (Money.CAPTURED, True, None)
    assert effects == [steps.CreateFac(545, "SUCCESS", ("AID A0000000031010",))]
    without = Context(payments=False, fac_always=True)
    after_without, effects = step(capturing, committed, T0, without)
    assert (after_without.money, after_without.fac_due, effects) == (Money.CAPTURED, False, [])
    # Restarted: owed and not made → made again (from the terminal's word, else the record).
    payment = steps.PaymentSession("COMMITTED", data=committed.data)
    again = step(after, steps.Restarted(payment=payment), T0, CONTEXT)
    assert again == (after, [steps.CreateFac(545, "SUCCESS", ("AID A0000000031010",))])
    assert step(after, steps.Restarted(payment=None), T0, CONTEXT)[1] == [
        steps.CreateFac(545, "SUCCESS", ("CARD",))
    ]
    # Made (named by the journey), or never owed: a restart makes none.
    made = step(after, steps.FacCreated("FAC-1"), T0, CONTEXT)[0]
    assert step(made, steps.Restarted(payment=payment), T0, CONTEXT) == (made, [])
    assert step(after_without, steps.Restarted(payment=payment), T0, CONTEXT) == (
        after_without,
        [],
    )
