"""Payter's fixed driver journey over OCPI, driving the virtual terminal: the executor at the
edge of the pure journey core.

The controller of terminals in mode ``ocpi`` (DESIGN.md "One terminal, two drivers"). It keeps
the menus a driver moves through (:mod:`emulator.journey.menus`: Home, the charger list, the
tariff, Stop, Receipts; not persisted: a restart shows Home), turns what happens (keys on a
journey's screens, cards, the terminal going offline or online, payment steps, OCPI command
results, Sessions, CDRs, deadlines, a restart) into events for
:func:`emulator.journey.step.step` (ARCHITECTURE.md lists which input is which event), saves
the journey it returns through :class:`~emulator.journey.records.JourneyRecords`, and carries
out the effects through the terminal host, ``ptp`` and the clock, feeding their outcomes back
as events.

Money path of one journey::

    accept tariff → present card → authorize → START_SESSION → CommandResult ACCEPTED
    → Session PENDING/ACTIVE (PATCHes; STOP_SESSION at the pre-authorized limit)
    → Session COMPLETED → CDR → capture (CDR total incl. taxes, capped) → FAC to the CPO

and every failure on the way ends with the pre-authorization voided and a screen that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from emulator import crashpoint, logs
from emulator.datetimes import parse_datetime
from emulator.journey import screens
from emulator.journey.menus import Menus
from emulator.journey.model import UNDER_WAY, Deadline, Journey, JourneyState, Money
from emulator.journey.records import JourneyRecords
from emulator.journey.screens import PAYMENT_SCREEN
from emulator.journey.texts import money
from emulator.lazy import lazy_module
from emulator.ptp.commands import EXPECT_CDR, EXPECT_SESSION, CommandRecord
from emulator.ptp.objects import StoredObject
from emulator.ptp.payments import fac_total_costs
from emulator.settings import version_key
from emulator.terminal.device import (
    CardRead,
    PaymentStep,
    ReadingStopped,
    StateChanged,
    TerminalError,
    UiEvent,
)
from emulator.terminal.device import Effect as TerminalEffect

if TYPE_CHECKING:
    from emulator.clock import Timer
    from emulator.journey import step as steps
    from emulator.journey.step import Context, Effect, Event
    from emulator.ocpi.platforms import Platforms
    from emulator.ptp.core import Ptp
    from emulator.runtime import Runtime
    from emulator.settings import EmulatorSettings
    from emulator.terminal.host import TerminalHost
else:
    # The journey's rules are built when the first journey needs them.
    steps = lazy_module("emulator.journey.step")

log = logs.get_logger("emulator.journey")

# What GET /__admin/journeys shows of a journey, in this order.
JOURNEY_VIEW = (
    "id",
    "serial_number",  # the terminal
    "terminal_id",  # its OCPI Terminal object
    "platform_id",
    "location_id",
    "evse_uid",
    "connector_id",
    "authorization_reference",
    "state",
    "reason",
    "money",  # NONE | AUTHORIZED | CAPTURED | VOIDED (or on the way: CAPTURING, VOID_QUEUED, …)
    "preauthorized_amount",
    "captured_amount",
    "capture_status",
    "voided_amount",
    "currency",
    "session_id",
    "session_status",
    "session_cost",
    "kwh",
    "cdr_id",
    "cdr_total",
    "invoice_reference_id",
    "fac_id",
    "fac_delivered",
    "start_command_id",
    "stop_command_id",
    "stop_reason",
    "deadline_at",
    "deadline_kind",
    "created_at",
    "updated_at",
    "history",
    "card",
    "tariff_id",
)

S = JourneyState
# The journey's deadlines that ptp/commands.py watches too (its EXPECT_* values).
PTP_EXPECTS = {Deadline.SESSION: EXPECT_SESSION, Deadline.CDR: EXPECT_CDR}


class JourneyNode(Protocol):
    """What the journey needs of the node that hosts it (:class:`emulator.app.EmulatorNode` is
    one); a protocol, so that the journey does not import the application that assembles it."""

    rt: Runtime
    ptp: Ptp
    terminals: TerminalHost
    settings: EmulatorSettings
    platforms: Platforms


class JourneyController:
    def __init__(self, node: JourneyNode) -> None:
        self.node = node
        self.rt = node.rt
        self.ptp = node.ptp
        self.host: TerminalHost = node.terminals
        self.settings = node.settings
        self.records = JourneyRecords(self.rt.store, self.rt.now)
        self._timers: dict[str, Timer] = {}  # the deadlines the journey watches itself
        self.menus = Menus(self)
        self.host.register_controller("ocpi", self)
        self.ptp.commands.listeners.append(self._on_command)
        self.ptp.commands.expectation_listeners.append(self._on_expectation_due)
        self.ptp.session_listeners.append(self._on_session)
        self.ptp.cdr_listeners.append(self._on_cdr)
        self.ptp.location_listeners.append(self.menus.on_location)
        self.ptp.terminal_listeners.append(self.menus.on_terminal_change)
        self.rt.reset_hooks.append(self._on_reset)

    # --- the pure core and its effects ----------------------------------------------------------

    def _context(self, journey: Journey, event: Event) -> Context:
        s = self.settings
        creator = None
        online = payments = True
        if isinstance(event, steps.CdrReceived):
            terminal = self.ptp.payments.terminal(journey.terminal_id or "")
            obj = (terminal["object"] or {}) if terminal is not None else {}
            creator = obj.get("invoice_creator")
        if isinstance(event, (steps.PaymentStepped, steps.Restarted)):
            # Events that may capture: whether a FAC can be owed.
            platform = self.node.platforms.get(journey.platform_id) if journey.platform_id else None
            payments = platform is not None and self.ptp.uses_payments(platform)
        if isinstance(event, steps.PaymentStepped) and event.step == "declined":
            # A decline reads the next card only on a terminal that can read.
            serial = journey.serial_number
            device = self.host.device(serial) if self.host.exists(serial) else None
            online = device is not None and device.online
        return steps.Context(
            session_start_timeout=s.session_start_timeout,
            session_update_timeout=s.session_update_timeout,
            cdr_timeout=s.cdr_timeout,
            notice_seconds=s.journey_notice_seconds,
            result_seconds=s.journey_result_seconds,
            fac_always=s.fac_policy == "always",
            invoice_creator=creator,
            terminal_online=online,
            payments=payments,
        )

    async def dispatch(self, journey_id: str, event: Event) -> Journey | None:
        """Step the journey with ``event``, save it, carry out the effects. None if there is
        no such journey, or if its money moved meanwhile (the decision is dropped)."""
        before = self.records.get(journey_id)
        if before is None:
            return None
        after, effects = steps.step(before, event, self.rt.now(), self._context(before, event))
        saved = self.records.save(before, after) if after != before else before
        if saved is None:
            return None
        if saved is not before:
            self._publish(saved)
            if saved.money == Money.CAPTURED and before.money != Money.CAPTURED:
                # A card journey ran through to capture: the flow the report's verdict needs.
                self.rt.coverage.flow("journey", saved.platform_id, f"journey {saved.id}")
        await self._execute(saved, effects)
        return self.records.get(journey_id)

    async def _execute(self, journey: Journey, effects: Sequence[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, steps.RecordFinding):
                self.rt.findings.record(
                    effect.rule, effect.message, platform_id=journey.platform_id, once=effect.once
                )
            elif isinstance(effect, steps.Checked):
                self.rt.coverage.ran(effect.rules, journey.platform_id)
            elif isinstance(effect, steps.NotChecked):
                self.rt.coverage.not_checked(effect.rule, journey.platform_id, effect.reason)
            elif isinstance(effect, steps.ArmDeadline):
                self._watch(journey, effect.due, effect.kind)
            elif isinstance(effect, steps.CancelDeadline):
                self._cancel_deadline(journey.id)
            elif isinstance(effect, steps.KeepOnDisplay):
                ui = self.menus.display(journey.serial_number)
                ui.journey_id, ui.screen = journey.id, PAYMENT_SCREEN
            elif isinstance(effect, steps.ShowScreen):
                await self.menus.show_journey_screen(journey, effect)
            elif isinstance(effect, steps.ShowHome):
                await self.menus.show_home(journey.serial_number)
            elif isinstance(effect, steps.StartReading):
                await self._start_reading(journey, effect)
            elif isinstance(effect, steps.PresentAgain):
                await self._present_again(journey, effect.seconds)
            elif isinstance(effect, steps.StopReading):
                await self._stop_reading(journey.serial_number)
            elif isinstance(effect, steps.Authorize):
                await self.host.authorize(
                    journey.serial_number, amount=effect.amount, currency=effect.currency
                )
            elif isinstance(effect, steps.Capture):
                crashpoint.reached("capturing")  # the journey says CAPTURING, the card not yet
                await self._capture(journey, effect.amount)
            elif isinstance(effect, steps.Void):
                await self._void(journey)
            elif isinstance(effect, steps.SendStart):
                await self._send_start(journey.id)
            elif isinstance(effect, steps.SendStop):
                if effect.now:
                    await self._send_stop(journey.id)
                else:
                    # Decided while handling a CPO push: sent once the push has its answer
                    # (answer first, side effects after).
                    self.rt.background.spawn(
                        self._send_stop(journey.id), name=f"journey-stop-{journey.id}"
                    )
            elif isinstance(effect, steps.CreateFac):
                await self._financial_advice(journey.id, effect)

    async def _capture(self, journey: Journey, amount: int) -> None:
        try:
            await self.host.commit(
                journey.serial_number,
                journey.payment_session_id or "",
                amount,
                cap_at_authorized=True,
            )
        except TerminalError as exc:
            log.error("capture refused by the terminal", journey=journey.id, error=exc.message)
            await self.dispatch(journey.id, steps.CaptureRefused(exc.message))

    async def _void(self, journey: Journey) -> None:
        try:
            await self.host.cancel(journey.serial_number, journey.payment_session_id or "")
        except TerminalError as exc:
            log.error("void refused by the terminal", journey=journey.id, error=exc.message)
            await self.dispatch(journey.id, steps.VoidRefused(exc.message))

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """After a (re)start: resume every open journey where it stood, so that each
        pre-authorization still ends in exactly one capture or one void; show Home on every
        terminal whose display no journey holds."""
        on_display: set[str] = set()
        for journey in self.records.open():
            if journey.deadline_at and journey.deadline_kind:
                self._watch(journey, parse_datetime(journey.deadline_at), journey.deadline_kind)
            await self.dispatch(journey.id, self._restarted(journey))
            if self.menus.display(journey.serial_number).journey_id == journey.id:
                on_display.add(journey.serial_number)
        for terminal in self.host.list():
            if terminal.get("mode") != "ocpi":
                continue
            await self._void_orphans(terminal["serial_number"])
            if terminal.get("online") and terminal["serial_number"] not in on_display:
                await self.menus.show_home(terminal["serial_number"])
        # What the CPO sent while we were down (ptp/recovery.py), in the background: pushes
        # stored but not passed on, and the Sessions and CDRs of the journeys still open.
        open_starts = [
            (j.start_command_id, j.created_at)
            for j in self.records.open()
            if j.start_command_id and j.money == Money.AUTHORIZED
        ]
        self.rt.background.spawn(
            self.ptp.recovery.after_restart(open_starts), name="journey-recovery"
        )

    def _restarted(self, journey: Journey) -> steps.Restarted:
        """What the terminal and ptp say of one open journey after a restart: the step
        decides what to make of it."""
        serial, state = journey.serial_number, journey.state
        device = self.host.device(serial) if self.host.exists(serial) else None
        if journey.money in UNDER_WAY or journey.money == Money.CAPTURED:
            # A capture or void under way: the terminal's word on it; a capture whose FAC
            # was not made: what the terminal reported of it (eft_data).
            try:
                session = self.host.session(serial, journey.payment_session_id or "")
            except TerminalError as exc:
                log.error("journey without its payment session", journey=journey.id, error=exc)
                return steps.Restarted(payment=None)
            payment = steps.PaymentSession(
                session["state"], session.get("queued") is not None, session
            )
            return steps.Restarted(payment=payment)
        online = device is not None and device.online
        adoptable = None
        if state == S.AUTHORIZING and journey.money == Money.NONE and device is not None:
            adoptable = self._adoptable(journey, device)
        start = None
        if journey.start_command_id and state in (S.AUTHORIZING, S.STARTING):
            record = self.ptp.commands.get(journey.start_command_id)
            start = record["state"] if record is not None else None
        return steps.Restarted(
            reading=online and device is not None and device.state.value == "READING",
            authorizing=online and device is not None and device.pending is not None,
            terminal=device is not None,
            adoptable=adoptable,
            start=start,
        )

    async def _stop_reading(self, serial: str) -> None:
        device = self.host.device(serial) if self.host.exists(serial) else None
        if device is not None and device.online and device.state.value in ("READING", "CARD"):
            await self.host.stop_reading(serial)

    def _adoptable(self, journey: Journey, device: Any) -> tuple[str, int] | None:
        """The open payment session of the journey's card that no journey owns: the terminal
        approved the card before the journey heard of it when the emulator stopped."""
        card_id = journey.card.card_id if journey.card else None
        for session in device.open_sessions():
            auth = session.authorization
            if (
                auth.card_id == card_id
                and session.created_at >= journey.created_at
                and self.records.by_payment_session(session.session_id) is None
            ):
                return session.session_id, auth.amount
        return None

    async def _void_orphans(self, serial: str) -> None:
        """An open pre-authorization no journey owns (the emulator stopped between the
        approval and the journey hearing of it) is released."""
        for session in self.host.device(serial).open_sessions():
            if self.records.by_payment_session(session.session_id) is None:
                await self._void_orphan(serial, session.session_id)

    async def _void_orphan(self, serial: str, session_id: str) -> None:
        log.warning("voiding a pre-authorization no journey owns", serial=serial, id=session_id)
        try:
            await self.host.cancel(serial, session_id)
        except TerminalError as exc:
            log.error("void of an orphan refused", serial=serial, error=exc.message)

    def _on_reset(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.menus.reset()

    def _publish(self, journey: Journey) -> None:
        self.rt.bus.publish(
            "journey.state",
            id=journey.id,
            serial_number=journey.serial_number,
            state=str(journey.state),
            money=str(journey.money),
            reason=journey.reason,
            authorization_reference=journey.authorization_reference,
            evse_uid=journey.evse_uid,
        )

    # --- timers -------------------------------------------------------------------------------

    def _watch(self, journey: Journey, due: datetime, kind: Deadline) -> None:
        """One owner for each deadline: the Session and the CDR that an accepted START_SESSION
        owes are watched by ptp (OCPI-55) where it judges them, and it tells the journey when
        they are overdue (:meth:`_on_expectation_due`); the journey's own timer covers the rest
        (no Payments in use) and the Session updates only it waits for."""
        self._cancel_deadline(journey.id)
        if kind in PTP_EXPECTS and journey.start_command_id:
            record = self.ptp.commands.get(journey.start_command_id)
            if record is not None and record.get("expect") == PTP_EXPECTS[kind]:
                return
        self._arm_deadline(journey.id, due, kind)

    async def _on_expectation_due(self, record: CommandRecord, what: str) -> None:
        kind = next((k for k, v in PTP_EXPECTS.items() if v == what), None)
        if kind is None or record["command"] != "START_SESSION":
            return
        journey = self.records.by_command(record["id"])
        if journey is not None:
            await self.dispatch(journey.id, steps.DeadlineReached(kind))

    def _arm_deadline(self, journey_id: str, due: datetime, kind: Deadline) -> None:
        async def fire() -> None:
            self._timers.pop(journey_id, None)
            before = self.records.get(journey_id)
            if before is not None and before.start_command_id:
                # Before a timeout settles the money: what the CPO sent that never reached
                # us, pulled (ptp/recovery.py); a Session or CDR found moves the deadline.
                await self.ptp.recovery.pull_for([before.start_command_id], before.created_at)
                after = self.records.get(journey_id)
                if after is None or (after.deadline_kind, after.deadline_at) != (
                    before.deadline_kind,
                    before.deadline_at,
                ):
                    return
            await self.dispatch(journey_id, steps.DeadlineReached(kind))

        self._cancel_deadline(journey_id)
        self._timers[journey_id] = self.rt.clock.call_at(
            due, fire, name=f"journey-deadline-{journey_id}"
        )

    def _cancel_deadline(self, journey_id: str) -> None:
        timer = self._timers.pop(journey_id, None)
        if timer is not None:
            timer.cancel()

    # --- what the terminal may offer ------------------------------------------------------------

    # --- screens ------------------------------------------------------------------------------

    # --- input from the terminal ----------------------------------------------------------------

    async def on_effects(
        self, host: TerminalHost, serial_number: str, effects: Sequence[TerminalEffect]
    ) -> None:
        for effect in effects:
            try:
                if isinstance(effect, UiEvent):
                    await self.menus.on_key(serial_number, effect.screen_id, effect.response)
                elif isinstance(effect, CardRead):
                    await self.menus.on_card(serial_number, effect)
                elif isinstance(effect, ReadingStopped):
                    await self.menus.on_reading_stopped(serial_number, effect.reason)
                elif isinstance(effect, PaymentStep):
                    await self._on_payment(serial_number, effect)
                elif isinstance(effect, StateChanged):
                    was = effect.previous_online
                    if was is not None and effect.online != was:
                        await self._on_connection(serial_number, effect.online)
            except TerminalError as exc:
                log.warning(
                    "journey step failed on the terminal", serial=serial_number, error=exc.message
                )

    async def _on_connection(self, serial: str, online: bool) -> None:
        """The terminal went offline or came back: an event for each of its open journeys
        (before what the terminal makes of it for a payment, which follows as its own
        effects); back online, the display shows Home."""
        event = steps.TerminalOnline() if online else steps.TerminalOffline()
        for journey in self.records.open(serial):
            await self.dispatch(journey.id, event)
        if online:
            await self.menus.show_home(serial)

    async def _on_payment(self, serial: str, payment: PaymentStep) -> None:
        journey = self.records.by_payment_session(payment.session_id)
        ui = self.menus.display(serial)
        if journey is None and ui.journey_id:
            candidate = self.records.get(ui.journey_id)
            if candidate is not None and candidate.state == S.AUTHORIZING:
                journey = candidate
        if journey is None:
            return
        await self.dispatch(
            journey.id, steps.PaymentStepped(payment.step, payment.session_id, payment.data)
        )

    # --- starting -----------------------------------------------------------------------------

    async def accept(self, serial: str, choice: dict[str, Any]) -> None:
        terminal = self.menus.terminal(serial)
        platform = self.menus.platform(terminal)
        if terminal is None or platform is None:
            await self.menus.show_home(serial)
            return
        if not self.menus.evse_available(platform, choice["location_id"], choice["evse_uid"]):
            # A status push while the tariff was on the screen: nothing is reserved yet.
            await self.menus.start_refused(serial, "failed.unavailable")
            return
        ui = self.menus.display(serial)
        journey = self.records.create(
            Journey(
                id=self.rt.ids.uuid(),
                serial_number=serial,
                terminal_id=terminal["terminal_id"],
                platform_id=platform.id,
                version=platform.version,
                location_id=choice["location_id"],
                evse_uid=choice["evse_uid"],
                connector_id=choice["connector_id"],
                connector_label=choice.get("label"),
                tariff_id=choice["tariff"].get("id"),
                tariff=choice["tariff"],
                currency=choice["currency"],
                language=ui.language,
                preauth_amount=choice["amount"],
                state=S.PRESENTING,
                created_at="",
                updated_at="",
            )
        )
        self._publish(journey)
        ui.journey_id = journey.id
        self.menus.cancel(serial, "ui")
        await self.dispatch(journey.id, steps.KeyPressed(screens.TARIFF, "accept"))

    async def _start_reading(self, journey: Journey, effect: steps.StartReading) -> None:
        serial = journey.serial_number
        texts = self.menus.texts(serial)
        behind = effect.behind_notice
        try:
            await self.host.start_reading(
                serial,
                amount=effect.amount,
                currency=effect.currency,
                language=texts.language,
                title=texts.t("present.title"),
                message=texts.t("present.message"),
                keep_screen=behind is not None,
            )
        except TerminalError as exc:
            await self.dispatch(journey.id, steps.ReadingEnded("failed", exc.message))
            await self.menus.start_refused(serial, "failed.unavailable")
            return
        if behind is not None:
            # A decline's notice is on the display (a card tapped meanwhile is read): the
            # present-card screen comes back when it has been read, in place of its "then Home".
            notice = self.menus.display(serial).screen

            async def present_card() -> None:
                current = self.records.get(journey.id)
                if current is None or current.state != S.PRESENTING:
                    return  # a card read behind the notice is being authorized
                if self.menus.display(serial).screen == notice:
                    await self._start_reading(
                        current, steps.StartReading(effect.amount, effect.currency)
                    )

            self.menus.later(serial, "ui", behind, present_card)
            return
        # Under Payter's payment screens (screens 5-7), a screen without keys: the tariff with
        # its Accept must not come back when the payment flow hands the display back.
        await self.menus.show(serial, screens.processing(texts))

    async def _present_again(self, declined: Journey, seconds: float) -> None:
        """After a decline: a new journey for the same charger and tariff, which reads the next
        card behind the notice (the step asks for it only while the terminal is online)."""
        serial = declined.serial_number
        if not self.host.exists(serial):
            return
        journey = self.records.create(
            declined.replace(
                id=self.rt.ids.uuid(),
                state=S.PRESENTING,
                money=Money.NONE,
                payment_session_id=None,
                card=None,
                reason=None,
                created_at="",
                updated_at="",
            )
        )
        self._publish(journey)
        self.menus.display(serial).journey_id = journey.id
        await self.dispatch(journey.id, steps.TariffAccepted(behind_notice=seconds))

    async def _send_start(self, journey_id: str) -> None:
        journey = self.records.get(journey_id)
        if journey is None:
            return
        platform = self.node.platforms.get(journey.platform_id) if journey.platform_id else None
        if platform is None or not platform.registered:
            await self.dispatch(journey.id, steps.StartNotSent("UNREACHABLE"))
            return
        if not self.menus.evse_available(
            platform, journey.location_id or "", journey.evse_uid or ""
        ):
            # The EVSE went away while the card was presented (journey-screens.md screen 10).
            await self.dispatch(journey.id, steps.StartNotSent("EVSE_UNAVAILABLE"))
            return
        reference = self.rt.ids.code(20)
        version = platform.version or "2.2.1"
        token = self.ptp.tokens.issue_ad_hoc(reference, version)
        body: dict[str, Any] = {
            "token": token,
            "location_id": journey.location_id,
            "evse_uid": journey.evse_uid,
        }
        if version_key(version) >= (2, 2):
            body["connector_id"] = journey.connector_id
            body["authorization_reference"] = reference
        await self.dispatch(journey.id, steps.StartRequested(reference, token))
        record = await self.ptp.commands.send(platform, "START_SESSION", body)
        await self.dispatch(journey.id, steps.CommandSent("START_SESSION", record["id"]))
        await self._on_command(record)

    async def _on_command(self, record: CommandRecord) -> None:
        if record["command"] == "START_SESSION":
            journey = None
            if reference := record["authorization_reference"]:
                journey = self.records.by_reference(reference)
            if journey is None:
                journey = self.records.by_command(record["id"])
        elif record["command"] == "STOP_SESSION":
            journey = self.records.by_command(record["id"])
        else:
            return
        if journey is not None:
            await self.dispatch(journey.id, _command_result(record))

    # --- sessions, stopping ---------------------------------------------------------------------

    def _journey_of_object(
        self, platform_id: int | None, obj: dict[str, Any], command: CommandRecord | None
    ) -> Journey | None:
        """The journey a Session or CDR belongs to: through its START_SESSION (reference or
        token; ptp found it, :meth:`emulator.ptp.core.Ptp.start_of`), else through the
        session id."""
        if command is not None and (reference := command["authorization_reference"]):
            journey = self.records.by_reference(reference)
            if journey is not None:
                return journey
        session_id = obj.get("session_id") or obj.get("id")
        if not session_id or platform_id is None:
            return None
        return self.records.by_session(platform_id, str(session_id))

    async def _on_session(
        self,
        row: StoredObject,
        previous: dict[str, Any] | None,
        command: CommandRecord | None,
    ) -> None:
        journey = self._journey_of_object(row["platform_id"], row["object"], command)
        if journey is not None:
            await self.dispatch(journey.id, steps.SessionReceived(row["object"]))

    async def _send_stop(self, journey_id: str) -> None:
        journey = self.records.get(journey_id)
        if journey is None or journey.platform_id is None or not journey.session_id:
            return
        platform = self.node.platforms.get(journey.platform_id)
        if platform is None:
            return
        record = await self.ptp.commands.send(
            platform, "STOP_SESSION", {"session_id": journey.session_id}
        )
        await self.dispatch(journey.id, steps.CommandSent("STOP_SESSION", record["id"]))
        # The CommandResponse (REJECTED, unreachable, …) is known now; a result comes later.
        await self._on_command(record)

    # --- CDR, FAC -------------------------------------------------------------------------------

    async def _on_cdr(self, row: StoredObject, command: CommandRecord | None) -> None:
        journey = self._journey_of_object(row["platform_id"], row["object"], command)
        if journey is not None:
            await self.dispatch(journey.id, steps.CdrReceived(row["object"]))

    async def _financial_advice(self, journey_id: str, fac: steps.CreateFac) -> None:
        """FAC to the CPO (the step decided that one is due) where Payments is in use."""
        journey = self.records.get(journey_id)
        if journey is None or journey.platform_id is None:
            return
        platform = self.node.platforms.get(journey.platform_id)
        if platform is None or not self.ptp.uses_payments(platform):
            return
        reference = journey.authorization_reference or ""
        made = self.ptp.payments.fac_for(platform.id, reference) if reference else None
        if made is not None:
            # Made before a restart and not yet named by the journey: that one, never a
            # second (its delivery was re-armed at start, if it was not delivered).
            await self.dispatch(journey.id, steps.FacCreated(made["id"]))
            return
        crashpoint.reached("fac-creating")  # captured and owed, not yet made
        status_code = fac.capture_status
        row = self.ptp.payments.create_fac(
            platform,
            authorization_reference=reference,
            total_costs=self._fac_price(journey, fac.captured, platform.version or "2.3.0"),
            currency=journey.currency,
            eft_data=list(fac.eft_data),
            capture_status_code=status_code,
            capture_status_message=None
            if status_code == "SUCCESS"
            else f"captured {money(fac.captured, journey.currency, sign=False)}",
            terminal_id=journey.terminal_id,
        )
        crashpoint.reached("fac-created")  # made; the journey does not name it yet
        await self.dispatch(journey.id, steps.FacCreated(row["id"]))
        # Answer first: the FAC goes out after the CPO's CDR push has its answer (a CPO that
        # handles one request at a time would otherwise wait on itself), and is retried on the
        # clock while the CPO cannot be reached.
        self.rt.background.spawn(self.ptp.payments.deliver_fac(row["id"]), name=f"fac-{row['id']}")

    def _fac_price(self, journey: Journey, captured: int, version: str) -> dict[str, Any]:
        """The captured amount as a Price of ``version``, taxes in the proportion of the
        CDR's."""
        cdr = None
        if journey.cdr_id:
            row = self.ptp.cdrs.find(journey.cdr_id, journey.platform_id)
            cdr = row["object"] if row else None
        return fac_total_costs(version, captured, (cdr or {}).get("total_cost"))

    # --- other OCPI events --------------------------------------------------------------------

    # --- control API views --------------------------------------------------------------------

    def view(self, journey: Journey) -> dict[str, Any]:
        """One journey as ``GET /__admin/journeys`` shows it (amounts in minor units)."""
        fac = self.ptp.payments.fac(journey.fac_id) if journey.fac_id else None
        row = journey.to_row()
        row["preauthorized_amount"] = journey.preauth_amount
        out = {key: row.get(key) for key in JOURNEY_VIEW}
        out["fac_delivered"] = bool(fac and fac["delivered"])
        return out


def _command_result(record: CommandRecord) -> steps.CommandResult:
    start = record["command"] == "START_SESSION"
    return steps.CommandResult("START_SESSION" if start else "STOP_SESSION", record["state"])
