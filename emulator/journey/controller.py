"""Payter's fixed driver journey over OCPI, driving the virtual terminal: the executor at the
edge of the pure journey core.

The controller of terminals in mode ``ocpi`` (DESIGN.md "One terminal, two drivers"). It keeps
the menus a driver moves through (Home, the charger list, the tariff, Stop, Receipts; not
persisted: a restart shows Home), turns what happens (keys, cards, payment steps, OCPI command
results, Sessions, CDRs, deadlines) into events for :func:`emulator.journey.step.step`, saves
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

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from emulator.datetimes import format_datetime, parse_datetime
from emulator.journey import screens
from emulator.journey import step as steps
from emulator.journey.model import ACTIVE, Card, Deadline, Journey, JourneyState, Money
from emulator.journey.records import JourneyRecords
from emulator.journey.screens import CHOOSE, HOME, NOTICE, OUT, PAYMENT_SCREEN, Choice
from emulator.journey.step import Context, Effect, Event, step
from emulator.journey.texts import Texts, money, to_minor
from emulator.ocpi import pricing
from emulator.ocpi.client import PeerUnreachable
from emulator.ocpi.platforms import Platform
from emulator.ptp.commands import EXPECT_CDR, EXPECT_SESSION
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
from emulator.terminal.screens import Screen

if TYPE_CHECKING:
    from emulator.clock import Timer
    from emulator.ocpi.platforms import Platforms
    from emulator.ptp.core import Ptp
    from emulator.runtime import Runtime
    from emulator.settings import EmulatorSettings
    from emulator.terminal.host import TerminalHost

log = structlog.get_logger("emulator.journey")

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


@dataclass
class Ui:
    """What one terminal's display is doing (not persisted: a restart shows Home)."""

    screen: str = HOME
    language: str = "en"
    options: dict[str, Any] = field(default_factory=dict)
    journey_id: str | None = None  # the payment flow on the display
    reading_for: str | None = None  # "stop" / "receipt": a card identifies the driver


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
        self.ui: dict[str, Ui] = {}
        self._timers: dict[tuple[str, str], Timer] = {}
        self.host.register_controller("ocpi", self)
        self.ptp.commands.listeners.append(self._on_command)
        self.ptp.commands.expectation_listeners.append(self._on_expectation_due)
        self.ptp.session_listeners.append(self._on_session)
        self.ptp.cdr_listeners.append(self._on_cdr)
        self.ptp.location_listeners.append(self._on_location)
        self.ptp.terminal_listeners.append(self._on_terminal_change)
        self.rt.reset_hooks.append(self._on_reset)

    # --- the pure core and its effects ----------------------------------------------------------

    def _context(self, journey: Journey, event: Event) -> Context:
        s = self.settings
        creator = None
        if isinstance(event, steps.CdrReceived):
            terminal = self.ptp.payments.terminal(journey.terminal_id or "") or {}
            creator = (terminal.get("object") or {}).get("invoice_creator")
        return Context(
            session_start_timeout=s.session_start_timeout,
            session_update_timeout=s.session_update_timeout,
            cdr_timeout=s.cdr_timeout,
            notice_seconds=s.journey_notice_seconds,
            result_seconds=s.journey_result_seconds,
            fac_always=s.fac_policy == "always",
            invoice_creator=creator,
        )

    async def _dispatch(self, journey_id: str, event: Event) -> Journey | None:
        """Step the journey with ``event``, save it, carry out the effects. None if there is
        no such journey, or if its money moved meanwhile (the decision is dropped)."""
        before = self.records.get(journey_id)
        if before is None:
            return None
        after, effects = step(before, event, self.rt.now(), self._context(before, event))
        saved = self.records.save(before, after) if after != before else before
        if saved is None:
            return None
        if saved is not before:
            self._publish(saved)
        await self._execute(saved, effects)
        return self.records.get(journey_id)

    async def _execute(self, journey: Journey, effects: Sequence[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, steps.RecordFinding):
                self.rt.findings.record(
                    effect.rule, effect.message, platform_id=journey.platform_id, once=effect.once
                )
            elif isinstance(effect, steps.ArmDeadline):
                self._watch(journey, effect.due, effect.kind)
            elif isinstance(effect, steps.CancelDeadline):
                self._cancel_deadline(journey.id)
            elif isinstance(effect, steps.ShowScreen):
                await self._show_journey_screen(journey, effect)
            elif isinstance(effect, steps.Authorize):
                await self.host.authorize(
                    journey.serial_number, amount=effect.amount, currency=effect.currency
                )
            elif isinstance(effect, steps.Capture):
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
            await self._dispatch(journey.id, steps.CaptureRefused(exc.message))

    async def _void(self, journey: Journey) -> None:
        try:
            await self.host.cancel(journey.serial_number, journey.payment_session_id or "")
        except TerminalError as exc:
            log.error("void refused by the terminal", journey=journey.id, error=exc.message)
            await self._dispatch(journey.id, steps.VoidRefused(exc.message))

    async def _show_journey_screen(self, journey: Journey, effect: steps.ShowScreen) -> None:
        serial = journey.serial_number
        ui = self._ui(serial)
        if effect.holder == "start" and ui.journey_id != journey.id:
            return
        if effect.holder == "stop":
            if ui.options.get("stopping") != journey.id:
                return
            ui.options = {}
        screen = screens.screen_for(journey, self._texts(serial), effect.name, **effect.values)
        await self._show(serial, screen)
        if effect.name == "stopping":
            ui.options = {"stopping": journey.id}
        if effect.seconds is None:
            return
        then, then_state = effect.then, effect.then_state

        async def after() -> None:
            if self._ui(serial).screen != screen.id:
                return
            if then is None:
                await self.show_home(serial)
                return
            current = self.records.get(journey.id)
            if current is not None and current.state == then_state:
                await self._show(serial, screens.screen_for(current, self._texts(serial), then))

        self._later(serial, "ui", effect.seconds, after)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """After a (re)start: resume every open journey where it stood, so that each
        pre-authorization still ends in exactly one capture or one void; show Home on every
        terminal whose display no journey holds."""
        on_display: set[str] = set()
        for journey in self.records.open():
            if journey.deadline_at and journey.deadline_kind:
                self._watch(journey, parse_datetime(journey.deadline_at), journey.deadline_kind)
            if await self._resume(journey):
                on_display.add(journey.serial_number)
        for terminal in self.host.list():
            if terminal.get("mode") != "ocpi":
                continue
            await self._void_orphans(terminal["serial_number"])
            if terminal.get("online") and terminal["serial_number"] not in on_display:
                await self.show_home(terminal["serial_number"])

    async def _resume(self, journey: Journey) -> bool:
        """Pick up one open journey after a restart; True if it still holds the display."""
        serial, state = journey.serial_number, journey.state
        device = self.host.device(serial) if self.host.exists(serial) else None
        if journey.money in (
            Money.CAPTURING,
            Money.VOIDING,
            Money.CAPTURE_QUEUED,
            Money.VOID_QUEUED,
        ):
            await self._reconcile_money(journey)
            return False
        if state in (S.PRESENTING, S.AUTHORIZING) and journey.money == Money.NONE:
            waiting = (
                device is not None
                and device.online
                and (
                    device.state.value == "READING"
                    if state == S.PRESENTING
                    else device.pending is not None
                )
            )
            if waiting:
                # The present-card or PIN screen is still up, its timers re-armed: go on.
                ui = self._ui(serial)
                ui.journey_id, ui.screen = journey.id, PAYMENT_SCREEN
                return True
            if state == S.AUTHORIZING and device is not None:
                await self._adopt_authorization(journey, device)
            else:
                await self._stop_reading_after_restart(serial)
                await self._dispatch(journey.id, steps.Abandoned("restart"))
                return False
            journey = self.records.get(journey.id) or journey
        if journey.money == Money.AUTHORIZED and journey.state in (S.AUTHORIZING, S.STARTING):
            record = None
            if journey.start_command_id:
                record = self.ptp.commands.get(journey.start_command_id)
            if record is None or record["state"] == "SENDING":
                # Whether the CPO got the START_SESSION is unknown: release the money (a
                # Session that arrives after all is stopped, see step._session).
                await self._dispatch(journey.id, steps.StartNotSent("RESTART"))
            else:
                await self._dispatch(journey.id, _command_result(record))
            return False
        await self._dispatch(journey.id, steps.Resumed())
        return False

    async def _stop_reading_after_restart(self, serial: str) -> None:
        device = self.host.device(serial) if self.host.exists(serial) else None
        if device is not None and device.online and device.state.value in ("READING", "CARD"):
            await self.host.stop_reading(serial)

    async def _adopt_authorization(self, journey: Journey, device: Any) -> None:
        """The card was approved but the journey had not heard of it when the emulator
        stopped: the journey's pre-authorization is the open session of that card."""
        card_id = journey.card.card_id if journey.card else None
        for session in device.open_sessions():
            auth = session.authorization
            if (
                auth.card_id == card_id
                and session.created_at >= journey.created_at
                and self.records.by_payment_session(session.session_id) is None
            ):
                await self._dispatch(
                    journey.id, steps.AuthorizationAdopted(session.session_id, auth.amount)
                )
                return
        await self._dispatch(journey.id, steps.Abandoned("restart"))

    async def _reconcile_money(self, journey: Journey) -> None:
        """A capture or void was under way when the emulator stopped: take the terminal's
        word for what happened, or do it now."""
        try:
            session = self.host.session(journey.serial_number, journey.payment_session_id or "")
        except TerminalError as exc:
            log.error("journey without its payment session", journey=journey.id, error=exc)
            return
        await self._dispatch(
            journey.id,
            steps.Restarted(session["state"], session.get("queued") is not None, data=session),
        )

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
        self.ui.clear()

    def _ui(self, serial: str) -> Ui:
        return self.ui.setdefault(serial, Ui())

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

    def _later(
        self, serial: str, name: str, seconds: float, action: Callable[[], Awaitable[None] | None]
    ) -> None:
        self._cancel(serial, name)
        self._timers[(serial, name)] = self.rt.clock.call_later(
            seconds, action, name=f"journey-{name}-{serial}"
        )

    def _cancel(self, serial: str, name: str) -> None:
        timer = self._timers.pop((serial, name), None)
        if timer is not None:
            timer.cancel()

    def _screen_timeout(self, serial: str, screen_id: str, seconds: float) -> None:
        async def back_home() -> None:
            if self._ui(serial).screen == screen_id:
                await self.show_home(serial)

        self._later(serial, "ui", seconds, back_home)

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

    async def _on_expectation_due(self, record: dict[str, Any], what: str) -> None:
        kind = next((k for k, v in PTP_EXPECTS.items() if v == what), None)
        if kind is None or record["command"] != "START_SESSION":
            return
        journey = self.records.by_command(record["id"])
        if journey is not None:
            await self._dispatch(journey.id, steps.DeadlineReached(kind))

    def _arm_deadline(self, journey_id: str, due: datetime, kind: Deadline) -> None:
        async def fire() -> None:
            self._timers.pop(("deadline", journey_id), None)
            await self._dispatch(journey_id, steps.DeadlineReached(kind))

        self._cancel_deadline(journey_id)
        self._timers[("deadline", journey_id)] = self.rt.clock.call_at(
            due, fire, name=f"journey-deadline-{journey_id}"
        )

    def _cancel_deadline(self, journey_id: str) -> None:
        self._cancel("deadline", journey_id)

    # --- what the terminal may offer ------------------------------------------------------------

    def _terminal(self, serial: str) -> dict[str, Any] | None:
        return self.ptp.payments.by_serial(serial)

    def _platform(self, terminal: dict[str, Any] | None) -> Platform | None:
        if terminal is None or terminal.get("platform_id") is None:
            return None
        platform = self.node.platforms.get(terminal["platform_id"])
        return platform if platform is not None and platform.registered else None

    def _choices(
        self, terminal: dict[str, Any]
    ) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        out = []
        for loc, evse in self.ptp.payments.assigned_evses(terminal):
            for conn in evse.get("connectors") or []:
                out.append((loc, evse, conn))
        return out

    def _languages(self, terminal: dict[str, Any]) -> list[str]:
        """The languages of the tariffs of the assigned EVSEs (payter.md §2.3 Tariffs)."""
        found: list[str] = []
        for _, evse, conn in self._choices(terminal):
            tariff = self.ptp.choose_tariff(terminal.get("platform_id"), evse, conn)
            for lang in pricing.tariff_languages(tariff) if tariff else []:
                if lang not in found:
                    found.append(lang)
        return found or ["en"]

    def _texts(self, serial: str) -> Texts:
        return Texts.for_language(self._ui(serial).language)

    def t(self, serial: str, key: str, **values: Any) -> str:
        return self._texts(serial).t(key, **values)

    # --- screens ------------------------------------------------------------------------------

    async def _show(self, serial: str, screen: Screen) -> None:
        self._ui(serial).screen = screen.id
        try:
            # journey-screens.md: only Home gives way to the screensaver; every other screen
            # has its own timeout back to Home.
            await self.host.show(serial, screen, screensaver=screen.id == HOME)
        except TerminalError as exc:
            log.info("screen not shown", serial=serial, screen=screen.id, error=exc.message)

    async def _stop_card_reading(self, serial: str) -> None:
        ui = self._ui(serial)
        if ui.reading_for is None:
            return
        ui.reading_for = None
        try:
            device = self.host.get(serial)
            if device.get("state") in ("READING", "CARD") and device.get("online"):
                await self.host.stop_reading(serial)
        except TerminalError:
            pass

    async def notice(
        self,
        serial: str,
        key_title: str,
        message: str,
        *,
        icon: str | None = None,
        seconds: float = 5.0,
    ) -> None:
        await self._show(serial, screens.notice(self._texts(serial), key_title, message, icon=icon))

        async def after() -> None:
            if self._ui(serial).screen == NOTICE:
                await self.show_home(serial)

        self._later(serial, "ui", seconds, after)

    async def show_home(self, serial: str) -> None:
        await self._stop_card_reading(serial)
        ui = self._ui(serial)
        ui.journey_id = None
        terminal = self._terminal(serial)
        choices = self._choices(terminal) if terminal else []
        self._cancel(serial, "ui")
        if (
            terminal is None
            or not terminal["active"]
            or self._platform(terminal) is None
            or not choices
        ):
            await self._show(serial, screens.out_of_service(self._texts(serial)))
            return
        site = next((loc.get("name") for loc, _, _ in choices if loc.get("name")), None)
        several = len(self._languages(terminal)) > 1
        await self._show(serial, screens.home(self._texts(serial), site, several))

    async def show_choose(self, serial: str) -> None:
        terminal = self._terminal(serial)
        if terminal is None:
            await self.show_home(serial)
            return
        ui = self._ui(serial)
        ui.options = {}
        offer = []
        for index, (loc, evse, conn) in enumerate(self._choices(terminal), start=1):
            number = evse.get("physical_reference") or evse.get("evse_id") or str(index)
            choice = Choice(
                location_id=loc["id"],
                evse_uid=evse["uid"],
                connector_id=conn["id"],
                label=str(number),
                status=str(evse.get("status") or "UNKNOWN"),
                standard=conn.get("standard"),
                power=conn.get("max_electric_power"),
            )
            offer.append(choice)
            ui.options[f"evse{index}"] = {
                "location_id": choice.location_id,
                "evse_uid": choice.evse_uid,
                "connector_id": choice.connector_id,
                "label": choice.label,
            }
        await self._show(serial, screens.choose(self._texts(serial), offer))
        self._screen_timeout(serial, CHOOSE, self.settings.journey_screen_timeout)

    async def show_tariff(self, serial: str, choice: dict[str, Any]) -> None:
        terminal = self._terminal(serial)
        platform = self._platform(terminal)
        if terminal is None or platform is None:
            await self.show_home(serial)
            return
        # The PTP pulls the Location to get the applicable tariff and status
        # (payment_transaction, step 2).
        try:
            await self.ptp.mirror.fetch_location(platform, choice["location_id"])
        except PeerUnreachable:
            # No card is taken for a charger that cannot be started (screen 10, no money).
            await self._start_refused(serial, "failed.unreachable")
            return
        found = self.ptp.mirror.evse(choice["location_id"], choice["evse_uid"], platform.id)
        evse = found[1] if found else None
        conn = next(
            (
                c
                for c in (evse or {}).get("connectors") or []
                if str(c.get("id")).upper() == str(choice["connector_id"]).upper()
            ),
            None,
        )
        if evse is None or conn is None or evse.get("status") != "AVAILABLE":
            await self._start_refused(serial, "failed.unavailable")
            return
        tariff = self.ptp.choose_tariff(platform.id, evse, conn)
        if tariff is None:
            await self.ptp.mirror.poll(platform, "tariffs")
            tariff = self.ptp.choose_tariff(platform.id, evse, conn)
        if tariff is None:
            self.rt.findings.record(
                "OCPI-54",
                f"EVSE {evse.get('uid')} has no tariff the terminal can show: the "
                "driver cannot start",
                platform_id=platform.id,
                once=True,
            )
            await self._start_refused(serial, "failed.no_tariff")
            return
        default = Decimal(str(self.settings.default_preauth_amount))
        amount = to_minor(pricing.preauthorization_amount(tariff, default))
        currency = str(tariff.get("currency") or "EUR")
        lines = pricing.tariff_lines(tariff, language=self._ui(serial).language)
        choice = {**choice, "tariff": tariff, "amount": amount, "currency": currency}
        self._ui(serial).options = {"choice": choice}
        await self._show(serial, screens.tariff(self._texts(serial), lines, amount, currency))
        self._screen_timeout(serial, screens.TARIFF, self.settings.journey_tariff_timeout)

    def _evse_available(self, platform: Platform, location_id: str, evse_uid: str) -> bool:
        """The EVSE's last known status (the mirror, kept live by the CPO's pushes)."""
        found = self.ptp.mirror.evse(location_id, evse_uid, platform.id)
        return found is None or found[1].get("status") in ("AVAILABLE", None)

    async def _start_refused(self, serial: str, reason_key: str) -> None:
        await self.notice(serial, "failed.title", self.t(serial, reason_key), icon="declined")

    async def show_languages(self, serial: str) -> None:
        terminal = self._terminal(serial)
        if terminal is None:
            await self.show_home(serial)
            return
        await self._show(serial, screens.languages(self._texts(serial), self._languages(terminal)))
        self._screen_timeout(serial, screens.LANGUAGE, self.settings.journey_screen_timeout)

    async def show_stop(self, serial: str) -> None:
        ui = self._ui(serial)
        active = self.records.for_terminal(serial, ACTIVE)
        ui.options = {f"s{index}": j.id for index, j in enumerate(active, start=1)}
        await self._show(serial, screens.stop_list(self._texts(serial), active))
        if active:
            await self._read_card_for(serial, "stop")
        self._screen_timeout(serial, screens.STOP, self.settings.journey_screen_timeout)

    async def _read_card_for(self, serial: str, purpose: str) -> None:
        try:
            await self.host.start_reading(
                serial, keep_screen=True, timeout=self.settings.journey_screen_timeout
            )
            self._ui(serial).reading_for = purpose
        except TerminalError as exc:
            log.info("cannot read cards for identification", serial=serial, error=exc.message)

    async def show_stop_confirm(self, serial: str, journey_id: str) -> None:
        await self._stop_card_reading(serial)
        journey = self.records.get(journey_id)
        if journey is None or journey.state not in ACTIVE:
            await self.show_home(serial)
            return
        self._ui(serial).options = {"journey": journey_id}
        await self._show(serial, screens.stop_confirm(self._texts(serial), journey))
        self._screen_timeout(serial, screens.STOP_CONFIRM, self.settings.journey_screen_timeout)

    def _recent(self, serial: str) -> list[Journey]:
        since = format_datetime(self.rt.now() - timedelta(seconds=self.settings.receipt_window))
        done = frozenset({S.COMPLETED, S.WAITING_CDR, S.CAPTURING})
        return list(reversed(self.records.for_terminal(serial, done, since)))

    async def show_receipts(self, serial: str) -> None:
        ui = self._ui(serial)
        recent = self._recent(serial)
        ui.options = {f"r{index}": j.id for index, j in enumerate(recent, start=1)}
        await self._show(serial, screens.receipt_list(self._texts(serial), recent))
        if recent:
            await self._read_card_for(serial, "receipt")
        self._screen_timeout(serial, screens.RECEIPTS, self.settings.journey_screen_timeout)

    async def show_receipt(self, serial: str, journey_id: str) -> None:
        await self._stop_card_reading(serial)
        journey = self.records.get(journey_id)
        if journey is None:
            await self.show_home(serial)
            return
        session = None
        if journey.session_id:
            row = self.ptp.sessions.find(journey.session_id, journey.platform_id)
            session = row["object"] if row else None
        qr = self._invoice_url(journey)
        await self._show(serial, screens.receipt(self._texts(serial), journey, session, qr))
        self._screen_timeout(serial, screens.RECEIPT, self.settings.journey_receipt_timeout)

    def _invoice_url(self, journey: Journey) -> str | None:
        """When the CPO invoices: invoice_base_url + authorization_reference (InvoiceCreator)."""
        terminal = self.ptp.payments.terminal(journey.terminal_id or "") or {}
        obj = terminal.get("object") or {}
        base = obj.get("invoice_base_url")
        cpo_invoices = obj.get("invoice_creator") == "CPO" or journey.invoice_reference_id
        if base and cpo_invoices and journey.authorization_reference:
            return f"{base}{journey.authorization_reference}"
        return None

    # --- input from the terminal ----------------------------------------------------------------

    async def on_effects(
        self, host: TerminalHost, serial_number: str, effects: Sequence[TerminalEffect]
    ) -> None:
        for effect in effects:
            try:
                if isinstance(effect, UiEvent):
                    await self._on_key(serial_number, effect.screen_id, effect.response)
                elif isinstance(effect, CardRead):
                    await self._on_card(serial_number, effect)
                elif isinstance(effect, ReadingStopped):
                    await self._on_reading_stopped(serial_number, effect.reason)
                elif isinstance(effect, PaymentStep):
                    await self._on_payment(serial_number, effect)
                elif isinstance(effect, StateChanged):
                    if effect.online and effect.previous_online is False:
                        await self.show_home(serial_number)
            except TerminalError as exc:
                log.warning(
                    "journey step failed on the terminal", serial=serial_number, error=exc.message
                )

    async def _on_key(self, serial: str, screen_id: str, key: str) -> None:
        ui = self._ui(serial)
        if screen_id != ui.screen:
            return
        self._cancel(serial, "ui")
        if screen_id == HOME:
            handlers = {
                "start": self.show_choose,
                "stop": self.show_stop,
                "receipt": self.show_receipts,
                "language": self.show_languages,
            }
            await handlers[key](serial)
        elif screen_id == CHOOSE:
            if key == "back":
                await self.show_home(serial)
            elif key in ui.options:
                await self.show_tariff(serial, ui.options[key])
        elif screen_id == screens.TARIFF:
            if key == "accept" and "choice" in ui.options:
                await self._accept(serial, ui.options["choice"])
            else:
                await self.show_home(serial)
        elif screen_id == screens.LANGUAGE:
            if key != "back":
                ui.language = key
            await self.show_home(serial)
        elif screen_id == screens.STOP:
            if key in ui.options:
                await self.show_stop_confirm(serial, ui.options[key])
            else:
                await self.show_home(serial)
        elif screen_id == screens.STOP_CONFIRM:
            journey = self.records.get(ui.options.get("journey", ""))
            if key == "yes" and journey is not None:
                await self._dispatch(journey.id, steps.DriverStopped())
            else:
                await self.show_home(serial)
        elif screen_id == screens.RECEIPTS:
            if key in ui.options:
                await self.show_receipt(serial, ui.options[key])
            else:
                await self.show_home(serial)
        elif screen_id == screens.RECEIPT:
            await self.show_home(serial)

    async def _on_card(self, serial: str, card: CardRead) -> None:
        ui = self._ui(serial)
        journey = self.records.get(ui.journey_id) if ui.journey_id else None
        if journey is not None and journey.state == S.PRESENTING:
            presented = Card(card.card_id, card.masked_pan, card.brand, card.medium)
            await self._dispatch(journey.id, steps.CardPresented(presented))
            return
        if ui.reading_for in ("stop", "receipt"):
            purpose = ui.reading_for
            await self._stop_card_reading(serial)
            candidates = (
                self.records.for_terminal(serial, ACTIVE)
                if purpose == "stop"
                else self._recent(serial)
            )
            mine = [j for j in candidates if j.card is not None and j.card.card_id == card.card_id]
            if not mine:
                key = "stop.none" if purpose == "stop" else "receipt.none"
                await self.notice(
                    serial,
                    "stop.title" if purpose == "stop" else "receipt.title",
                    self.t(serial, key),
                    seconds=3,
                )
            elif purpose == "stop":
                await self.show_stop_confirm(serial, mine[-1].id)
            else:
                await self.show_receipt(serial, mine[0].id)

    async def _on_reading_stopped(self, serial: str, reason: str) -> None:
        ui = self._ui(serial)
        if ui.reading_for is not None and reason in ("timeout", "offline"):
            ui.reading_for = None
        if ui.journey_id:
            await self._dispatch(ui.journey_id, steps.ReadingEnded(reason))

    async def _on_payment(self, serial: str, payment: PaymentStep) -> None:
        journey = self.records.by_payment_session(payment.session_id)
        ui = self._ui(serial)
        if journey is None and ui.journey_id:
            candidate = self.records.get(ui.journey_id)
            if candidate is not None and candidate.state == S.AUTHORIZING:
                journey = candidate
        if journey is None:
            return
        await self._dispatch(
            journey.id, steps.PaymentStepped(payment.step, payment.session_id, payment.data)
        )

    # --- starting -----------------------------------------------------------------------------

    async def _accept(self, serial: str, choice: dict[str, Any]) -> None:
        terminal = self._terminal(serial)
        platform = self._platform(terminal)
        if terminal is None or platform is None:
            await self.show_home(serial)
            return
        if not self._evse_available(platform, choice["location_id"], choice["evse_uid"]):
            # A status push while the tariff was on the screen: nothing is reserved yet.
            await self._start_refused(serial, "failed.unavailable")
            return
        ui = self._ui(serial)
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
        self._cancel(serial, "ui")
        texts = self._texts(serial)
        try:
            await self.host.start_reading(
                serial,
                amount=journey.preauth_amount,
                currency=journey.currency,
                language=texts.language,
                title=texts.t("present.title"),
                message=texts.t("present.message"),
            )
        except TerminalError as exc:
            await self._dispatch(journey.id, steps.ReadingEnded("failed", exc.message))
            await self._start_refused(serial, "failed.unavailable")
            return
        # Under Payter's payment screens (screens 5-7), a screen without keys: the tariff with
        # its Accept must not come back when the payment flow hands the display back.
        await self._show(serial, screens.processing(texts))

    async def _send_start(self, journey_id: str) -> None:
        journey = self.records.get(journey_id)
        if journey is None:
            return
        platform = self.node.platforms.get(journey.platform_id) if journey.platform_id else None
        if platform is None or not platform.registered:
            await self._dispatch(journey.id, steps.StartNotSent("UNREACHABLE"))
            return
        if not self._evse_available(platform, journey.location_id or "", journey.evse_uid or ""):
            # The EVSE went away while the card was presented (journey-screens.md screen 10).
            await self._dispatch(journey.id, steps.StartNotSent("EVSE_UNAVAILABLE"))
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
        await self._dispatch(journey.id, steps.StartRequested(reference, token))
        record = await self.ptp.commands.send(platform, "START_SESSION", body)
        await self._dispatch(journey.id, steps.CommandSent("START_SESSION", record["id"]))
        await self._on_command(record)

    async def _on_command(self, record: dict[str, Any]) -> None:
        if record["command"] == "START_SESSION":
            journey = None
            if record.get("authorization_reference"):
                journey = self.records.by_reference(record["authorization_reference"])
            if journey is None:
                journey = self.records.by_command(record["id"])
        elif record["command"] == "STOP_SESSION":
            journey = self.records.by_command(record["id"])
        else:
            return
        if journey is not None:
            await self._dispatch(journey.id, _command_result(record))

    # --- sessions, stopping ---------------------------------------------------------------------

    def _journey_of_object(
        self, platform_id: int, obj: dict[str, Any], command: dict[str, Any] | None
    ) -> Journey | None:
        """The journey a Session or CDR belongs to: through its START_SESSION (reference or
        token; ptp found it, :meth:`emulator.ptp.core.Ptp.start_of`), else through the
        session id."""
        if command is not None and command.get("authorization_reference"):
            journey = self.records.by_reference(command["authorization_reference"])
            if journey is not None:
                return journey
        session_id = obj.get("session_id") or obj.get("id")
        return self.records.by_session(platform_id, str(session_id)) if session_id else None

    async def _on_session(
        self,
        row: dict[str, Any],
        previous: dict[str, Any] | None,
        command: dict[str, Any] | None,
    ) -> None:
        journey = self._journey_of_object(row["platform_id"], row["object"], command)
        if journey is not None:
            await self._dispatch(journey.id, steps.SessionReceived(row["object"]))

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
        await self._dispatch(journey.id, steps.CommandSent("STOP_SESSION", record["id"]))
        # The CommandResponse (REJECTED, unreachable, …) is known now; a result comes later.
        await self._on_command(record)

    # --- CDR, FAC -------------------------------------------------------------------------------

    async def _on_cdr(self, row: dict[str, Any], command: dict[str, Any] | None) -> None:
        journey = self._journey_of_object(row["platform_id"], row["object"], command)
        if journey is not None:
            await self._dispatch(journey.id, steps.CdrReceived(row["object"]))

    async def _financial_advice(self, journey_id: str, fac: steps.CreateFac) -> None:
        """FAC to the CPO (the step decided that one is due) where Payments is in use."""
        journey = self.records.get(journey_id)
        if journey is None or journey.platform_id is None:
            return
        platform = self.node.platforms.get(journey.platform_id)
        if platform is None or not self.ptp.uses_payments(platform):
            return
        status_code = fac.capture_status
        row = self.ptp.payments.create_fac(
            platform,
            authorization_reference=journey.authorization_reference or "",
            total_costs=self._fac_price(journey, fac.captured, platform.version or "2.3.0"),
            currency=journey.currency,
            eft_data=list(fac.eft_data),
            capture_status_code=status_code,
            capture_status_message=None
            if status_code == "SUCCESS"
            else f"captured {money(fac.captured, journey.currency)}".replace("€", "EUR "),
            terminal_id=journey.terminal_id,
        )
        await self._dispatch(journey.id, steps.FacCreated(row["id"]))
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

    async def _on_location(self, location: dict[str, Any], platform: Platform | None) -> None:
        """Live EVSE status on the charger list (Payter shows status from the pushes)."""
        for serial, ui in list(self.ui.items()):
            if ui.screen == CHOOSE:
                await self.show_choose(serial)

    async def _on_terminal_change(self, row: dict[str, Any]) -> None:
        serial = row["serial_number"]
        if not self.host.exists(serial) or self.host.mode(serial) != "ocpi":
            return
        if self._ui(serial).screen in (HOME, OUT):
            await self.show_home(serial)

    # --- control API views --------------------------------------------------------------------

    def view(self, journey: Journey) -> dict[str, Any]:
        """One journey as ``GET /__admin/journeys`` shows it (amounts in minor units)."""
        fac = self.ptp.payments.fac(journey.fac_id) if journey.fac_id else None
        row = journey.to_row()
        row["preauthorized_amount"] = journey.preauth_amount
        out = {key: row.get(key) for key in JOURNEY_VIEW}
        out["fac_delivered"] = bool(fac and fac["delivered"])
        return out


def _command_result(record: dict[str, Any]) -> steps.CommandResult:
    return steps.CommandResult(record["command"], record["state"])
