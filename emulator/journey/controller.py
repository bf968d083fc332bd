"""Payter's fixed driver journey over OCPI, driving the virtual terminal.

The controller of terminals in mode ``ocpi`` (DESIGN.md "One terminal, two drivers"): it draws
the journey's screens (journey-screens.md) through the terminal host, reacts to what the
driver does (keys, cards) and to what the CPO does over OCPI (command results, Sessions,
CDRs), and moves the money: pre-authorize, then exactly one capture or one void per
pre-authorization (see :mod:`emulator.journey.records`).

Money path of one journey::

    accept tariff → present card → authorize → START_SESSION → CommandResult ACCEPTED
    → Session PENDING/ACTIVE (PATCHes; STOP_SESSION at the pre-authorized limit)
    → Session COMPLETED → CDR → capture (CDR total incl. taxes, capped) → FAC to the CPO

and every failure on the way ends with the pre-authorization voided and a screen that says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from emulator.datetimes import format_datetime, parse_datetime
from emulator.journey import records as R
from emulator.journey.records import JourneyRecords
from emulator.journey.texts import has_texts, language_name, money, text, to_minor
from emulator.ocpi import pricing
from emulator.ocpi.client import PeerUnreachable
from emulator.ocpi.platforms import Platform
from emulator.ptp.payments import fac_total_costs
from emulator.settings import version_key
from emulator.terminal.device import (
    CardRead,
    Effect,
    PaymentStep,
    ReadingStopped,
    StateChanged,
    TerminalError,
    UiEvent,
)
from emulator.terminal.screens import Screen

if TYPE_CHECKING:
    from emulator.clock import Timer
    from emulator.ocpi.platforms import Platforms
    from emulator.ptp.core import Ptp
    from emulator.runtime import Runtime
    from emulator.settings import EmulatorSettings
    from emulator.terminal.host import TerminalHost

log = structlog.get_logger("emulator.journey")

HOME = "journey.home"
CHOOSE = "journey.choose"
TARIFF = "journey.tariff"
NOTICE = "journey.notice"
STARTING_SCREEN = "journey.starting"
STOPPING_SCREEN = "journey.stopping"
PAYMENT_SCREEN = "journey.payment"  # held under Payter's own payment screens
STOP = "journey.stop"
STOP_CONFIRM = "journey.stop_confirm"
RECEIPTS = "journey.receipts"
RECEIPT = "journey.receipt"
LANGUAGE = "journey.language"
OUT = "journey.out"

STANDARDS = {
    "IEC_62196_T2": "Type 2",
    "IEC_62196_T2_COMBO": "CCS",
    "IEC_62196_T1": "Type 1",
    "IEC_62196_T1_COMBO": "CCS1",
    "CHADEMO": "CHAdeMO",
    "DOMESTIC_F": "Schuko",
    "GBT_AC": "GB/T AC",
    "GBT_DC": "GB/T DC",
    "SAE_J3400": "NACS",
    "MCS": "MCS",
}

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
        self.ptp.session_listeners.append(self._on_session)
        self.ptp.cdr_listeners.append(self._on_cdr)
        self.ptp.location_listeners.append(self._on_location)
        self.ptp.terminal_listeners.append(self._on_terminal_change)
        self.rt.reset_hooks.append(self._on_reset)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """After a (re)start: resume every open journey where it stood, so that each
        pre-authorization still ends in exactly one capture or one void; show Home on every
        terminal whose display no journey holds."""
        on_display: set[str] = set()
        for journey in self.records.open():
            if journey.get("deadline_at") and journey.get("deadline_kind"):
                self._arm_deadline(
                    journey, parse_datetime(journey["deadline_at"]), journey["deadline_kind"]
                )
            if await self._resume(journey):
                on_display.add(journey["serial_number"])
        for terminal in self.host.list():
            if terminal.get("mode") != "ocpi":
                continue
            await self._void_orphans(terminal["serial_number"])
            if terminal.get("online") and terminal["serial_number"] not in on_display:
                await self.show_home(terminal["serial_number"])

    async def _resume(self, journey: dict[str, Any]) -> bool:
        """Pick up one open journey after a restart; True if it still holds the display."""
        serial, state = journey["serial_number"], journey["state"]
        device = self.host.device(serial) if self.host.exists(serial) else None
        if journey["money"] in ("CAPTURING", "VOIDING", "CAPTURE_QUEUED", "VOID_QUEUED"):
            await self._reconcile_money(journey)
            return False
        if state in (R.PRESENTING, R.AUTHORIZING) and journey["money"] == "NONE":
            waiting = (
                device is not None
                and device.online
                and (
                    device.state.value == "READING"
                    if state == R.PRESENTING
                    else device.pending is not None
                )
            )
            if waiting:
                # The present-card or PIN screen is still up, its timers re-armed: go on.
                ui = self._ui(serial)
                ui.journey_id, ui.screen = journey["id"], PAYMENT_SCREEN
                return True
            if state == R.AUTHORIZING and device is not None:
                self._adopt_authorization(journey, device)
            else:
                await self._stop_reading_after_restart(serial)
                await self._end_without_money(journey, R.ABANDONED, "restart")
                return False
            journey = self.records.get(journey["id"]) or journey
        if journey["money"] == "AUTHORIZED" and journey["state"] in (R.AUTHORIZING, R.STARTING):
            record = None
            if journey.get("start_command_id"):
                record = self.ptp.commands.get(journey["start_command_id"])
            if record is None or record["state"] == "SENDING":
                # Whether the CPO got the START_SESSION is unknown: release the money (a
                # Session that arrives after all is stopped, see _on_session).
                await self._start_failed(journey, "RESTART")
            else:
                await self._after_start_command(record)
            return False
        if journey["money"] == "AUTHORIZED" and journey["state"] in (R.START_FAILED, R.VOIDED):
            await self._void(journey)  # the terminal refused the void before the restart
        if journey.get("stop_reason") and not journey.get("stop_command_id"):
            self._request_stop(journey, journey["stop_reason"])
        return False

    async def _stop_reading_after_restart(self, serial: str) -> None:
        device = self.host.device(serial) if self.host.exists(serial) else None
        if device is not None and device.online and device.state.value in ("READING", "CARD"):
            await self.host.stop_reading(serial)

    def _adopt_authorization(self, journey: dict[str, Any], device: Any) -> None:
        """The card was approved but the journey had not heard of it when the emulator
        stopped: the journey's pre-authorization is the open session of that card."""
        card_id = (journey.get("card") or {}).get("card_id")
        for session in device.open_sessions():
            auth = session.authorization
            if (
                auth.card_id == card_id
                and session.created_at >= journey["created_at"]
                and self.records.by_payment_session(session.session_id) is None
            ):
                self._update(
                    journey["id"],
                    payment_session_id=session.session_id,
                    preauth_amount=auth.amount,
                )
                self.records.claim_money(journey["id"], ("NONE",), "AUTHORIZED")
                return
        self._update(journey["id"], state=R.ABANDONED, reason="restart")

    async def _reconcile_money(self, journey: dict[str, Any]) -> None:
        """A capture or void was under way when the emulator stopped: take the terminal's
        word for what happened, or do it now."""
        try:
            session = self.host.session(journey["serial_number"], journey["payment_session_id"])
        except TerminalError as exc:
            log.error("journey without its payment session", journey=journey["id"], error=exc)
            return
        capturing = journey["money"] in ("CAPTURING", "CAPTURE_QUEUED")
        if session["state"] == "COMMITTED" and session.get("queued") is None:
            await self._captured(journey, session)
        elif session["state"] == "CANCELLED" and session.get("queued") is None:
            await self._voided(journey)
        elif session["state"] == "AUTHORIZED":
            self.records.claim_money(journey["id"], (journey["money"],), "AUTHORIZED")
            journey = self.records.get(journey["id"]) or journey
            if capturing:
                await self._capture(journey, self._amount_due(journey), source="restart")
            else:
                await self._void(journey)
        elif session.get("queued"):
            queued = "CAPTURE_QUEUED" if capturing else "VOID_QUEUED"
            self.records.claim_money(journey["id"], (journey["money"],), queued)

    def _amount_due(self, journey: dict[str, Any]) -> int:
        """What a capture takes: the CDR total, else the last known session cost."""
        if journey.get("cdr_total") is not None:
            return int(journey["cdr_total"])
        return int(journey.get("session_cost") or 0)

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

    def _publish(self, journey: dict[str, Any]) -> None:
        self.rt.bus.publish(
            "journey.state",
            id=journey["id"],
            serial_number=journey["serial_number"],
            state=journey["state"],
            money=journey["money"],
            reason=journey.get("reason"),
            authorization_reference=journey.get("authorization_reference"),
            evse_uid=journey.get("evse_uid"),
        )

    def _update(self, journey_id: str, **changes: Any) -> dict[str, Any]:
        journey = self.records.update(journey_id, **changes)
        self._publish(journey)
        return journey

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

    def _arm_deadline(self, journey: dict[str, Any], due: Any, kind: str) -> None:
        journey_id = journey["id"]

        async def fire() -> None:
            self._timers.pop(("deadline", journey_id), None)
            current = self.records.get(journey_id)
            if current is None or current.get("deadline_kind") != kind:
                return
            if kind == "session":
                await self._no_session(current)
            elif kind == "cdr":
                await self._no_cdr(current)
            elif kind == "update":
                await self._session_lost(current)

        timer = self._timers.pop(("deadline", journey_id), None)
        if timer is not None:
            timer.cancel()
        self._timers[("deadline", journey_id)] = self.rt.clock.call_at(
            due, fire, name=f"journey-deadline-{journey_id}"
        )

    def _set_deadline(self, journey: dict[str, Any], seconds: float, kind: str) -> dict[str, Any]:
        due = self.rt.now() + timedelta(seconds=seconds)
        journey = self._update(journey["id"], deadline_at=format_datetime(due), deadline_kind=kind)
        self._arm_deadline(journey, due, kind)
        return journey

    def _clear_deadline(self, journey: dict[str, Any]) -> dict[str, Any]:
        timer = self._timers.pop(("deadline", journey["id"]), None)
        if timer is not None:
            timer.cancel()
        if journey.get("deadline_kind"):
            journey = self._update(journey["id"], deadline_at=None, deadline_kind=None)
        return journey

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

    def _texts_language(self, serial: str) -> str:
        lang = self._ui(serial).language
        return lang if has_texts(lang) else "en"

    def t(self, serial: str, key: str, **values: Any) -> str:
        return text(self._texts_language(serial), key, **values)

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
        advice: str | None = None,
        seconds: float = 5.0,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        props = {"title": self.t(serial, key_title), "message": message}
        if advice:
            props["advice"] = advice
        if icon:
            props["icon"] = icon
            props["color"] = "1" if icon == "approved" else "2"
        else:
            props["color"] = "0"
        await self._show(serial, Screen("notification", NOTICE, props))

        async def after() -> None:
            if self._ui(serial).screen == NOTICE:
                await (then() if then else self.show_home(serial))

        self._later(serial, "ui", seconds, after)

    async def show_home(self, serial: str) -> None:
        await self._stop_card_reading(serial)
        ui = self._ui(serial)
        ui.journey_id = None
        terminal = self._terminal(serial)
        choices = self._choices(terminal) if terminal else []
        if (
            terminal is None
            or not terminal["active"]
            or self._platform(terminal) is None
            or not choices
        ):
            props = {
                "title": self.t(serial, "out.title"),
                "subtitle": self.t(serial, "out.subtitle"),
            }
            self._cancel(serial, "ui")
            await self._show(serial, Screen("info", OUT, props))
            return
        site = next((loc.get("name") for loc, _, _ in choices if loc.get("name")), None)
        props = {"title": self.t(serial, "home.title", site=site or "Payter"), "type": "3"}
        for key in ("start", "stop", "receipt"):
            props[f"items.{key}"] = ""
            props[f"items.{key}.label"] = self.t(serial, f"home.{key}")
        if len(self._languages(terminal)) > 1:
            props["items.language"] = ""
            props["items.language.label"] = self.t(serial, "home.language")
        self._cancel(serial, "ui")
        await self._show(serial, Screen("selection", HOME, props))

    async def show_choose(self, serial: str) -> None:
        terminal = self._terminal(serial)
        if terminal is None:
            await self.show_home(serial)
            return
        ui = self._ui(serial)
        ui.options = {}
        props = {"title": self.t(serial, "choose.title"), "type": "3"}
        for index, (loc, evse, conn) in enumerate(self._choices(terminal), start=1):
            key = f"evse{index}"
            status = str(evse.get("status") or "UNKNOWN")
            number = evse.get("physical_reference") or evse.get("evse_id") or str(index)
            power = conn.get("max_electric_power")
            label = self.t(
                serial,
                "choose.item",
                number=number,
                standard=STANDARDS.get(str(conn.get("standard")), conn.get("standard")),
                power=f"{int(power) // 1000} kW" if power else "-",
                status=self.t(serial, f"status.{status}"),
            )
            props[f"items.{key}"] = ""
            props[f"items.{key}.label"] = label
            if status != "AVAILABLE":
                props[f"items.{key}.disabled"] = "true"
            ui.options[key] = {
                "location_id": loc["id"],
                "evse_uid": evse["uid"],
                "connector_id": conn["id"],
                "label": str(number),
            }
        props["buttons.back.label"] = self.t(serial, "back")
        await self._show(serial, Screen("selection", CHOOSE, props))
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
        lang = self._ui(serial).language
        lines = pricing.tariff_lines(tariff, language=lang)
        lines.append(self.t(serial, "tariff.reserve", amount=money(amount, currency)))
        choice = {**choice, "tariff": tariff, "amount": amount, "currency": currency}
        self._ui(serial).options = {"choice": choice}
        props = {
            "title": self.t(serial, "tariff.title"),
            "message": "\n".join(lines),
            "buttons.accept.label": self.t(serial, "tariff.accept"),
            "buttons.cancel.label": self.t(serial, "tariff.cancel"),
        }
        await self._show(serial, Screen("message", TARIFF, props))
        self._screen_timeout(serial, TARIFF, self.settings.journey_tariff_timeout)

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
        props = {"title": self.t(serial, "language.title"), "type": "3"}
        for lang in self._languages(terminal):
            props[f"items.{lang}"] = ""
            props[f"items.{lang}.label"] = language_name(lang)
        props["buttons.back.label"] = self.t(serial, "back")
        await self._show(serial, Screen("selection", LANGUAGE, props))
        self._screen_timeout(serial, LANGUAGE, self.settings.journey_screen_timeout)

    async def show_stop(self, serial: str) -> None:
        ui = self._ui(serial)
        active = self.records.for_terminal(serial, R.ACTIVE)
        ui.options = {}
        props: dict[str, str] = {"title": self.t(serial, "stop.title"), "type": "1"}
        if not active:
            props["subtitle"] = self.t(serial, "stop.none")
        else:
            props["subtitle"] = self.t(serial, "stop.tap")
        for index, journey in enumerate(active, start=1):
            key = f"s{index}"
            ui.options[key] = journey["id"]
            props[f"items.{key}"] = ""
            props[f"items.{key}.label"] = self.t(
                serial,
                "stop.item",
                number=journey.get("connector_label") or journey["evse_uid"],
                kwh=f"{float(journey.get('kwh') or 0):.2f}",
            )
            props[f"items.{key}.amount"] = _decimal(journey.get("session_cost"))
            props[f"items.{key}.currency"] = journey.get("currency") or "EUR"
        props["buttons.back.label"] = self.t(serial, "back")
        await self._show(serial, Screen("selection", STOP, props))
        if active:
            await self._read_card_for(serial, "stop")
        self._screen_timeout(serial, STOP, self.settings.journey_screen_timeout)

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
        if journey is None or journey["state"] not in R.ACTIVE:
            await self.show_home(serial)
            return
        self._ui(serial).options = {"journey": journey_id}
        props = {
            "title": self.t(serial, "stop.title"),
            "message": self.t(
                serial, "stop.confirm", number=journey.get("connector_label") or journey["evse_uid"]
            ),
            "buttons.yes.label": self.t(serial, "yes"),
            "buttons.no.label": self.t(serial, "no"),
        }
        await self._show(serial, Screen("message", STOP_CONFIRM, props))
        self._screen_timeout(serial, STOP_CONFIRM, self.settings.journey_screen_timeout)

    def _recent(self, serial: str) -> list[dict[str, Any]]:
        since = format_datetime(self.rt.now() - timedelta(seconds=self.settings.receipt_window))
        done = frozenset({R.COMPLETED, R.WAITING_CDR, R.CAPTURING})
        return list(reversed(self.records.for_terminal(serial, done, since)))

    async def show_receipts(self, serial: str) -> None:
        ui = self._ui(serial)
        recent = self._recent(serial)
        ui.options = {}
        props: dict[str, str] = {
            "title": self.t(serial, "receipt.title"),
            "type": "1",
            "subtitle": self.t(serial, "receipt.tap" if recent else "receipt.none"),
        }
        for index, journey in enumerate(recent, start=1):
            key = f"r{index}"
            ui.options[key] = journey["id"]
            props[f"items.{key}"] = ""
            props[f"items.{key}.label"] = self.t(
                serial,
                "receipt.item",
                date=journey["created_at"][:16].replace("T", " "),
                number=journey.get("connector_label") or journey["evse_uid"],
            )
            props[f"items.{key}.amount"] = _decimal(journey.get("captured_amount"))
            props[f"items.{key}.currency"] = journey.get("currency") or "EUR"
        props["buttons.back.label"] = self.t(serial, "back")
        await self._show(serial, Screen("selection", RECEIPTS, props))
        if recent:
            await self._read_card_for(serial, "receipt")
        self._screen_timeout(serial, RECEIPTS, self.settings.journey_screen_timeout)

    async def show_receipt(self, serial: str, journey_id: str) -> None:
        await self._stop_card_reading(serial)
        journey = self.records.get(journey_id)
        if journey is None:
            await self.show_home(serial)
            return
        currency = journey.get("currency") or "EUR"
        session = None
        if journey.get("session_id"):
            row = self.ptp.sessions.find(journey["session_id"], journey.get("platform_id"))
            session = row["object"] if row else None
        duration = "-"
        if session and session.get("start_date_time") and session.get("end_date_time"):
            seconds = (
                parse_datetime(session["end_date_time"])
                - parse_datetime(session["start_date_time"])
            ).total_seconds()
            duration = f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}"
        lines = self.t(
            serial,
            "receipt.lines",
            amount=money(journey.get("captured_amount"), currency),
            kwh=f"{float(journey.get('kwh') or 0):.2f}",
            duration=duration,
            date=journey["created_at"][:16].replace("T", " "),
        )
        if journey.get("money") != "CAPTURED":
            lines += "\n" + self.t(serial, "receipt.pending")
        props = {
            "title": self.t(serial, "receipt.detail"),
            "subtitle": lines,
            "buttons.back.label": self.t(serial, "back"),
        }
        qr = self._invoice_url(journey)
        if qr:
            props["qr"] = qr
            props["title"] = self.t(serial, "receipt.qr")
        await self._show(serial, Screen("info", RECEIPT, props))
        self._screen_timeout(serial, RECEIPT, self.settings.journey_receipt_timeout)

    def _invoice_url(self, journey: dict[str, Any]) -> str | None:
        """When the CPO invoices: invoice_base_url + authorization_reference (InvoiceCreator)."""
        terminal = self.ptp.payments.terminal(journey.get("terminal_id") or "") or {}
        obj = terminal.get("object") or {}
        base = obj.get("invoice_base_url")
        cpo_invoices = obj.get("invoice_creator") == "CPO" or journey.get("invoice_reference_id")
        if base and cpo_invoices and journey.get("authorization_reference"):
            return f"{base}{journey['authorization_reference']}"
        return None

    # --- input from the terminal ----------------------------------------------------------------

    async def on_effects(
        self, host: TerminalHost, serial_number: str, effects: Sequence[Effect]
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
        elif screen_id == TARIFF:
            if key == "accept" and "choice" in ui.options:
                await self._accept(serial, ui.options["choice"])
            else:
                await self.show_home(serial)
        elif screen_id == LANGUAGE:
            if key != "back":
                ui.language = key
            await self.show_home(serial)
        elif screen_id == STOP:
            if key in ui.options:
                await self.show_stop_confirm(serial, ui.options[key])
            else:
                await self.show_home(serial)
        elif screen_id == STOP_CONFIRM:
            journey = self.records.get(ui.options.get("journey", ""))
            if key == "yes" and journey is not None:
                await self._driver_stop(serial, journey)
            else:
                await self.show_home(serial)
        elif screen_id == RECEIPTS:
            if key in ui.options:
                await self.show_receipt(serial, ui.options[key])
            else:
                await self.show_home(serial)
        elif screen_id == RECEIPT:
            await self.show_home(serial)

    async def _on_card(self, serial: str, card: CardRead) -> None:
        ui = self._ui(serial)
        journey = self.records.get(ui.journey_id) if ui.journey_id else None
        if journey is not None and journey["state"] == R.PRESENTING:
            self._update(
                journey["id"],
                state=R.AUTHORIZING,
                card={
                    "card_id": card.card_id,
                    "masked_pan": card.masked_pan,
                    "brand": card.brand,
                    "medium": card.medium,
                },
            )
            await self.host.authorize(
                serial, amount=journey["preauth_amount"], currency=journey["currency"]
            )
            return
        if ui.reading_for in ("stop", "receipt"):
            purpose = ui.reading_for
            await self._stop_card_reading(serial)
            states = R.ACTIVE if purpose == "stop" else None
            candidates = (
                self.records.for_terminal(serial, states) if states else self._recent(serial)
            )
            mine = [j for j in candidates if (j.get("card") or {}).get("card_id") == card.card_id]
            if not mine:
                key = "stop.none" if purpose == "stop" else "receipt.none"
                await self.notice(
                    serial,
                    "stop.title" if purpose == "stop" else "receipt.title",
                    self.t(serial, key),
                    seconds=3,
                )
            elif purpose == "stop":
                await self.show_stop_confirm(serial, mine[-1]["id"])
            else:
                await self.show_receipt(serial, mine[0]["id"])

    async def _on_reading_stopped(self, serial: str, reason: str) -> None:
        ui = self._ui(serial)
        if ui.reading_for is not None and reason in ("timeout", "offline"):
            ui.reading_for = None
        journey = self.records.get(ui.journey_id) if ui.journey_id else None
        if journey is None or journey["state"] != R.PRESENTING:
            return
        if reason == "timeout":
            await self._end_without_money(journey, R.CARD_TIMEOUT, "no card presented")
            await self.notice(
                serial,
                "timeout.title",
                self.t(serial, "timeout.message"),
                icon="declined",
                seconds=3,
            )
        elif reason in ("offline", "stopped"):
            await self._end_without_money(journey, R.ABANDONED, f"reading {reason}")

    async def _end_without_money(self, journey: dict[str, Any], state: str, reason: str) -> None:
        self._update(journey["id"], state=state, reason=reason)

    async def _on_payment(self, serial: str, step: PaymentStep) -> None:
        journey = self.records.by_payment_session(step.session_id)
        ui = self._ui(serial)
        if journey is None and ui.journey_id:
            candidate = self.records.get(ui.journey_id)
            if candidate is not None and candidate["state"] == R.AUTHORIZING:
                journey = candidate
        if journey is None:
            return
        data = step.data
        if step.step == "authorized":
            if not self.records.claim_money(journey["id"], ("NONE",), "AUTHORIZED"):
                return
            journey = self._update(
                journey["id"],
                payment_session_id=step.session_id,
                preauth_amount=int(data.get("authorized_amount") or journey["preauth_amount"]),
            )
            await self._approved(serial, journey)
        elif step.step == "declined":
            self._update(
                journey["id"],
                state=R.DECLINED,
                payment_session_id=step.session_id,
                reason=str(data.get("response_text") or data.get("response_code")),
            )
            # Screen 8 in the driver's language, with the acquirer's reason; then Home.
            await self.notice(
                serial,
                "declined",
                str(data.get("response_text") or ""),
                icon="declined",
                advice=self.t(serial, "declined.advice"),
                seconds=self.settings.journey_notice_seconds,
            )
        elif step.step in ("committed",):
            await self._captured(journey, data)
        elif step.step == "commit_queued":
            self._update(journey["id"], state=R.CAPTURING)
            self.records.claim_money(journey["id"], ("CAPTURING",), "CAPTURE_QUEUED")
        elif step.step == "cancelled":
            await self._voided(journey)
        elif step.step == "cancel_queued":
            self.records.claim_money(journey["id"], ("VOIDING",), "VOID_QUEUED")
            self._publish(self.records.get(journey["id"]) or journey)
        elif step.step == "expired":
            self.rt.findings.record(
                "PAYTER-05",
                f"the pre-authorization of journey "
                f"{journey['id']} expired on the card without capture",
                platform_id=journey.get("platform_id"),
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
        journey = self.records.create(
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
            language=self._ui(serial).language,
            preauth_amount=choice["amount"],
            state=R.PRESENTING,
        )
        self._publish(journey)
        ui = self._ui(serial)
        ui.journey_id = journey["id"]
        self._cancel(serial, "ui")
        try:
            await self.host.start_reading(
                serial,
                amount=journey["preauth_amount"],
                currency=journey["currency"],
                language=self._texts_language(serial),
                title=self.t(serial, "present.title"),
                message=self.t(serial, "present.message"),
            )
        except TerminalError as exc:
            await self._end_without_money(journey, R.ABANDONED, exc.message)
            await self._start_refused(serial, "failed.unavailable")
            return
        # Under Payter's payment screens (screens 5-7), a screen without keys: the tariff with
        # its Accept must not come back when the payment flow hands the display back.
        await self._show(
            serial, Screen("info", PAYMENT_SCREEN, {"title": self.t(serial, "processing")})
        )

    async def _approved(self, serial: str, journey: dict[str, Any]) -> None:
        props = {
            "title": self.t(serial, "approved"),
            "icon": "approved",
            "color": "1",
            "message": money(journey["preauth_amount"], journey["currency"]),
        }
        await self._show(serial, Screen("notification", NOTICE, props))

        async def starting() -> None:
            current = self.records.get(journey["id"])
            if self._ui(serial).screen == NOTICE and current and current["state"] == R.STARTING:
                await self._show(
                    serial,
                    Screen(
                        "info",
                        STARTING_SCREEN,
                        {
                            "title": self.t(serial, "starting.title"),
                            "subtitle": self.t(serial, "starting.subtitle"),
                        },
                    ),
                )

        self._later(serial, "ui", self.settings.journey_notice_seconds, starting)
        await self._send_start(journey)

    async def _send_start(self, journey: dict[str, Any]) -> None:
        platform = self.node.platforms.get(journey["platform_id"])
        if platform is None or not platform.registered:
            await self._start_failed(journey, "UNREACHABLE")
            return
        if not self._evse_available(platform, journey["location_id"], journey["evse_uid"]):
            # The EVSE went away while the card was presented (journey-screens.md screen 10).
            await self._start_failed(journey, "EVSE_UNAVAILABLE")
            return
        reference = self.rt.ids.code(20)
        version = platform.version or "2.2.1"
        token = self.ptp.tokens.issue_ad_hoc(reference, version)
        body: dict[str, Any] = {
            "token": token,
            "location_id": journey["location_id"],
            "evse_uid": journey["evse_uid"],
        }
        if version_key(version) >= (2, 2):
            body["connector_id"] = journey["connector_id"]
            body["authorization_reference"] = reference
        journey = self._update(
            journey["id"], state=R.STARTING, authorization_reference=reference, token=token
        )
        record = await self.ptp.commands.send(platform, "START_SESSION", body)
        self._update(journey["id"], start_command_id=record["id"])
        await self._after_start_command(record)

    async def _on_command(self, record: dict[str, Any]) -> None:
        if record["command"] == "START_SESSION":
            await self._after_start_command(record)
        elif record["command"] == "STOP_SESSION":
            await self._after_stop_command(record)

    def _journey_of_start(self, record: dict[str, Any]) -> dict[str, Any] | None:
        if record.get("authorization_reference"):
            journey = self.records.by_reference(record["authorization_reference"])
            if journey is not None:
                return journey
        return self.records.by_command(record["id"])

    async def _after_start_command(self, record: dict[str, Any]) -> None:
        journey = self._journey_of_start(record)
        if journey is None:
            return
        state = record["state"]
        if state in ("SENDING", "WAITING"):
            return
        if state == "RESULT_ACCEPTED":
            if journey["state"] == R.STARTING:
                journey = self._update(journey["id"], state=R.STARTED)
                self._set_deadline(journey, self.settings.session_start_timeout, "session")
                await self._started_screen(journey)
            return
        if state.startswith("LATE_"):
            # The driver was already told the start failed and the money released.
            return
        if journey["state"] in (R.STARTING, R.STARTED) and not journey.get("session_id"):
            await self._start_failed(journey, state)

    async def _started_screen(self, journey: dict[str, Any]) -> None:
        serial = journey["serial_number"]
        if self._ui(serial).journey_id != journey["id"]:
            return
        await self.notice(
            serial,
            "started.title",
            self.t(
                serial,
                "started.message",
                number=journey.get("connector_label") or journey["evse_uid"],
            ),
            icon="approved",
            seconds=self.settings.journey_result_seconds,
        )

    async def _start_failed(self, journey: dict[str, Any], outcome: str) -> None:
        reason_key = START_FAILURE_TEXT.get(outcome, "failed.rejected")
        journey = self._update(journey["id"], state=R.START_FAILED, reason=outcome)
        journey = self._clear_deadline(journey)
        await self._void(journey)
        serial = journey["serial_number"]
        if self._ui(serial).journey_id == journey["id"]:
            await self.notice(
                serial,
                "failed.title",
                f"{self.t(serial, reason_key)} {self.t(serial, 'failed.no_charge')}",
                icon="declined",
                seconds=self.settings.journey_result_seconds,
            )

    async def _no_session(self, journey: dict[str, Any]) -> None:
        if journey["state"] != R.STARTED or journey.get("session_id"):
            return
        self.rt.findings.record(
            "OCPI-46",
            f"START_SESSION {journey.get('authorization_reference')} was ACCEPTED but "
            f"no Session arrived within {self.settings.session_start_timeout:g} s; the "
            "pre-authorization was voided",
            platform_id=journey.get("platform_id"),
        )
        journey = self._update(
            journey["id"], state=R.VOIDED, reason="no session", deadline_at=None, deadline_kind=None
        )
        await self._void(journey)

    # --- sessions, stopping ---------------------------------------------------------------------

    def _journey_of_object(self, platform_id: int, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The journey a Session or CDR belongs to: through its START_SESSION (reference or
        token), else through the session id."""
        command = self.ptp.commands.start_for(obj)
        if command is not None and command.get("authorization_reference"):
            journey = self.records.by_reference(command["authorization_reference"])
            if journey is not None:
                return journey
        session_id = obj.get("session_id") or obj.get("id")
        return self.records.by_session(platform_id, str(session_id)) if session_id else None

    async def _on_session(self, row: dict[str, Any], previous: dict[str, Any] | None) -> None:
        session = row["object"]
        journey = self._journey_of_object(row["platform_id"], session)
        if journey is None:
            return
        cost = _price_incl(session.get("total_cost"))
        changes: dict[str, Any] = {
            "session_id": session["id"],
            "session_status": session.get("status"),
            "kwh": float(session.get("kwh") or 0),
        }
        if cost is not None:
            changes["session_cost"] = cost
        status = session.get("status")
        state = journey["state"]
        if journey["money"] in ("VOIDED", "VOIDING", "VOID_QUEUED") or state in (
            R.START_FAILED,
            R.VOIDED,
        ):
            # The charger started after all: the driver was told "no charge". Stop it.
            journey = self._update(journey["id"], **changes)
            if status in ("PENDING", "ACTIVE") and not journey.get("stop_reason"):
                self._request_stop(journey, "started after the start was given up")
            return
        if status in ("PENDING", "ACTIVE", "RESERVATION") and state in (R.STARTING, R.STARTED):
            changes["state"] = R.CHARGING
            journey = self._clear_deadline(journey)
        elif status == "COMPLETED" and state in (R.STARTING, R.STARTED, R.CHARGING, R.STOPPING):
            changes["state"] = R.WAITING_CDR
        elif status == "INVALID" and journey["money"] == "AUTHORIZED":
            journey = self._update(
                journey["id"],
                **changes,
                state=R.VOIDED,
                reason="session INVALID (will not be billed)",
            )
            journey = self._clear_deadline(journey)
            await self._void(journey)
            return
        journey = self._update(journey["id"], **changes)
        if changes.get("state") == R.WAITING_CDR:
            self._set_deadline(journey, self.settings.cdr_timeout, "cdr")
        elif journey["state"] in (R.CHARGING, R.STOPPING):
            # Every update shows the CPO still follows the session; silence means it was lost.
            journey = self._set_deadline(journey, self.settings.session_update_timeout, "update")
        await self._check_limit(journey)

    async def _check_limit(self, journey: dict[str, Any]) -> None:
        """Stop at the pre-authorized amount (payment_transaction stop option 2; 5.7 #58)."""
        cost = journey.get("session_cost")
        if cost is None or journey["state"] not in (R.CHARGING, R.STOPPING):
            return
        limit = int(journey["preauth_amount"])
        if cost > limit:
            self.rt.findings.record(
                "PAYTER-06",
                f"session {journey.get('session_id')} costs "
                f"{money(cost, journey['currency'])}, above the pre-authorized "
                f"{money(limit, journey['currency'])}",
                platform_id=journey.get("platform_id"),
                once=True,
            )
        if cost >= limit and journey["state"] == R.CHARGING and not journey.get("stop_reason"):
            self._request_stop(journey, "pre-authorized amount reached")

    async def _driver_stop(self, serial: str, journey: dict[str, Any]) -> None:
        if not journey.get("session_id"):
            # No Session yet: charging never began; stopping releases the money.
            journey = self._update(
                journey["id"], state=R.VOIDED, reason="stopped before charging began"
            )
            journey = self._clear_deadline(journey)
            await self._void(journey)
            await self.notice(
                serial,
                "stopped.title",
                self.t(serial, "failed.no_charge"),
                seconds=self.settings.journey_result_seconds,
            )
            return
        await self._show(
            serial, Screen("info", STOPPING_SCREEN, {"title": self.t(serial, "stopping.title")})
        )
        self._ui(serial).options = {"stopping": journey["id"]}
        await self._send_stop(self._mark_stop(journey, "driver"))

    def _mark_stop(self, journey: dict[str, Any], reason: str) -> dict[str, Any]:
        if journey["state"] == R.CHARGING:
            return self._update(journey["id"], state=R.STOPPING, stop_reason=reason)
        return self._update(journey["id"], stop_reason=reason)

    def _request_stop(self, journey: dict[str, Any], reason: str) -> None:
        """STOP_SESSION decided while handling a CPO push: sent once the push has its answer
        (answer first, side effects after)."""
        journey = self._mark_stop(journey, reason)
        self.rt.background.spawn(self._send_stop(journey), name=f"journey-stop-{journey['id']}")

    async def _send_stop(self, journey: dict[str, Any]) -> None:
        platform = self.node.platforms.get(journey["platform_id"])
        if platform is None or not journey.get("session_id"):
            return
        record = await self.ptp.commands.send(
            platform, "STOP_SESSION", {"session_id": journey["session_id"]}
        )
        self._update(journey["id"], stop_command_id=record["id"])
        # The CommandResponse (REJECTED, unreachable, …) is known now; a result comes later.
        await self._after_stop_command(record)

    async def _after_stop_command(self, record: dict[str, Any]) -> None:
        journey = self.records.by_command(record["id"])
        if journey is None:
            return
        serial = journey["serial_number"]
        ui = self._ui(serial)
        on_display = ui.options.get("stopping") == journey["id"]
        state = record["state"]
        if state in ("SENDING", "WAITING"):
            return
        ok = state == "RESULT_ACCEPTED"
        if not ok and journey["state"] == R.STOPPING:
            # Still charging: the driver has to unplug (or try again).
            self._update(journey["id"], state=R.CHARGING, reason=f"STOP_SESSION {state}")
        if on_display:
            ui.options = {}
            if ok:
                await self.notice(
                    serial,
                    "stopped.title",
                    self.t(serial, "stopped.message"),
                    seconds=self.settings.journey_result_seconds,
                )
            else:
                await self.notice(
                    serial,
                    "stop.title",
                    self.t(serial, "stop.failed"),
                    icon="declined",
                    seconds=self.settings.journey_result_seconds,
                )

    # --- CDR, capture, FAC ----------------------------------------------------------------------

    async def _on_cdr(self, row: dict[str, Any]) -> None:
        cdr = row["object"]
        journey = self._journey_of_object(row["platform_id"], cdr)
        if journey is None or cdr.get("credit"):
            # A credit CDR corrects one already billed: the card journey has no refund step.
            return
        total = _price_incl(cdr.get("total_cost"))
        # One CDR settles a journey, once (a CDR pulled after it was pushed is the same one).
        if journey.get("cdr_id"):
            if str(journey["cdr_id"]).upper() != str(cdr["id"]).upper():
                self.rt.findings.record(
                    "OCPI-55",
                    f"CDR {cdr['id']} is a second CDR for START_SESSION "
                    f"{journey.get('authorization_reference')}, which CDR {journey['cdr_id']} "
                    "already settled; it is not settled again",
                    platform_id=journey.get("platform_id"),
                )
                return
            if journey["money"] != "AUTHORIZED":
                return
        if total is not None and total < 0:
            self.rt.findings.record(
                "PAYTER-05",
                f"CDR {cdr['id']} totals {money(total, journey['currency'])}: nothing can be "
                "captured from a negative total; the pre-authorization stays open for a CDR "
                "with the session's total (or until the CDR timeout)",
                platform_id=journey.get("platform_id"),
            )
            return
        journey = self._update(
            journey["id"],
            cdr_id=cdr["id"],
            cdr_total=total,
            invoice_reference_id=cdr.get("invoice_reference_id"),
            kwh=float(cdr.get("total_energy") or journey.get("kwh") or 0),
        )
        journey = self._clear_deadline(journey)
        self._check_invoice_creator(journey, cdr)
        if journey["money"] != "AUTHORIZED":
            if journey["money"] in ("VOIDED", "VOIDING", "VOID_QUEUED"):
                self.rt.findings.record(
                    "PAYTER-05",
                    f"CDR {cdr['id']} arrived for a session whose pre-authorization "
                    "was already voided: nothing can be captured",
                    platform_id=journey.get("platform_id"),
                )
            return
        await self._capture(journey, total if total is not None else 0, source="CDR")

    def _check_invoice_creator(self, journey: dict[str, Any], cdr: dict[str, Any]) -> None:
        terminal = self.ptp.payments.terminal(journey.get("terminal_id") or "") or {}
        creator = (terminal.get("object") or {}).get("invoice_creator")
        has_ref = bool(cdr.get("invoice_reference_id"))
        if creator == "CPO" and not has_ref:
            self.rt.findings.record(
                "OCPI-56",
                f"CDR {cdr['id']} has no invoice_reference_id although the terminal's "
                "invoice_creator is CPO",
                platform_id=journey.get("platform_id"),
            )
        elif creator == "PTP" and has_ref:
            self.rt.findings.record(
                "OCPI-56",
                f"CDR {cdr['id']} carries invoice_reference_id although the "
                "terminal's invoice_creator is PTP",
                platform_id=journey.get("platform_id"),
            )

    async def _capture(self, journey: dict[str, Any], amount: int, *, source: str) -> None:
        limit = int(journey["preauth_amount"])
        if amount > limit:
            self.rt.findings.record(
                "PAYTER-06",
                f"{source} total {money(amount, journey['currency'])} is above the "
                f"pre-authorized {money(limit, journey['currency'])}: "
                f"{money(limit, journey['currency'])} is captured (PARTIAL_SUCCESS)",
                platform_id=journey.get("platform_id"),
            )
        if amount <= 0:
            journey = self._update(journey["id"], state=R.VOIDED, reason=f"{source} total is 0")
            await self._void(journey)
            return
        if not self.records.claim_money(journey["id"], ("AUTHORIZED",), "CAPTURING"):
            return
        self._update(journey["id"], state=R.CAPTURING)
        try:
            await self.host.commit(
                journey["serial_number"],
                journey["payment_session_id"],
                amount,
                cap_at_authorized=True,
            )
        except TerminalError as exc:
            log.error("capture refused by the terminal", journey=journey["id"], error=exc.message)
            self.records.claim_money(journey["id"], ("CAPTURING",), "AUTHORIZED")
            self._update(journey["id"], reason=f"capture refused: {exc.message}")

    async def _captured(self, journey: dict[str, Any], data: dict[str, Any]) -> None:
        if not self.records.claim_money(journey["id"], ("CAPTURING", "CAPTURE_QUEUED"), "CAPTURED"):
            return
        journey = self._update(
            journey["id"],
            state=R.COMPLETED,
            captured_amount=data.get("captured_amount"),
            capture_status=data.get("capture_status"),
        )
        await self._financial_advice(journey, data)

    async def _financial_advice(self, journey: dict[str, Any], data: dict[str, Any]) -> None:
        """FAC to the CPO when it invoices (CDR invoice_reference_id) or always (setting)."""
        if self.settings.fac_policy != "always" and not journey.get("invoice_reference_id"):
            return
        platform = self.node.platforms.get(journey["platform_id"])
        if platform is None or not self.ptp.uses_payments(platform):
            return
        captured = int(data.get("captured_amount") or 0)
        total_costs = self._fac_price(journey, captured, platform.version or "2.3.0")
        status_code = data.get("capture_status") or "SUCCESS"
        fac = self.ptp.payments.create_fac(
            platform,
            authorization_reference=journey["authorization_reference"],
            total_costs=total_costs,
            currency=journey["currency"],
            eft_data=[str(line) for line in data.get("eft_data") or []] or ["CARD"],
            capture_status_code=status_code,
            capture_status_message=None
            if status_code == "SUCCESS"
            else f"captured {money(captured, journey['currency'])}".replace("€", "EUR "),
            terminal_id=journey.get("terminal_id"),
        )
        self._update(journey["id"], fac_id=fac["id"])
        # Answer first: the FAC goes out after the CPO's CDR push has its answer (a CPO that
        # handles one request at a time would otherwise wait on itself), and is retried on the
        # clock while the CPO cannot be reached.
        self.rt.background.spawn(self.ptp.payments.deliver_fac(fac["id"]), name=f"fac-{fac['id']}")

    def _fac_price(self, journey: dict[str, Any], captured: int, version: str) -> dict[str, Any]:
        """The captured amount as a Price of ``version``, taxes in the proportion of the
        CDR's."""
        cdr = None
        if journey.get("cdr_id"):
            row = self.ptp.cdrs.find(journey["cdr_id"], journey.get("platform_id"))
            cdr = row["object"] if row else None
        return fac_total_costs(version, captured, (cdr or {}).get("total_cost"))

    async def _no_cdr(self, journey: dict[str, Any]) -> None:
        """The CDR never came: capture the last known session cost (DESIGN.md)."""
        await self._capture_last_known(
            journey, f"no CDR within {self.settings.cdr_timeout:g} s of the session's end"
        )

    async def _session_lost(self, journey: dict[str, Any]) -> None:
        """No Session update and no CDR for too long: "lost contact with the charger
        mid-session ⇒ commit the last known total" (payter.md §3.9)."""
        if journey["state"] not in (R.CHARGING, R.STOPPING):
            return
        await self._capture_last_known(
            journey,
            f"no Session update and no CDR for {self.settings.session_update_timeout:g} s",
        )

    async def _capture_last_known(self, journey: dict[str, Any], why: str) -> None:
        if journey.get("cdr_id") or journey["money"] != "AUTHORIZED":
            return
        cost = journey.get("session_cost")
        self.rt.findings.record(
            "PAYTER-05",
            f"session {journey.get('session_id')}: {why}; capturing the last known session "
            f"cost ({money(cost, journey['currency'])})",
            platform_id=journey.get("platform_id"),
        )
        journey = self._update(journey["id"], deadline_at=None, deadline_kind=None, reason=why)
        await self._capture(journey, int(cost or 0), source="last session cost")

    async def _voided(self, journey: dict[str, Any]) -> None:
        if self.records.claim_money(journey["id"], ("VOIDING", "VOID_QUEUED"), "VOIDED"):
            self._update(journey["id"], voided_amount=journey["preauth_amount"])

    async def _void(self, journey: dict[str, Any]) -> None:
        if not self.records.claim_money(journey["id"], ("AUTHORIZED",), "VOIDING"):
            return
        try:
            await self.host.cancel(journey["serial_number"], journey["payment_session_id"])
        except TerminalError as exc:
            log.error("void refused by the terminal", journey=journey["id"], error=exc.message)
            self.records.claim_money(journey["id"], ("VOIDING",), "AUTHORIZED")

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

    def view(self, journey: dict[str, Any]) -> dict[str, Any]:
        """One journey as ``GET /__admin/journeys`` shows it (amounts in minor units)."""
        fac = self.ptp.payments.fac(journey["fac_id"]) if journey.get("fac_id") else None
        names = {"preauthorized_amount": "preauth_amount"}
        out = {key: journey.get(names.get(key, key)) for key in JOURNEY_VIEW}
        out["fac_delivered"] = bool(fac and fac["delivered"])
        return out


def _price_incl(price: Any) -> int | None:
    """A Price (2.2.1 or 2.3.0 shape, or a 2.1.1 number) incl. taxes, in minor units."""
    if price is None:
        return None
    if isinstance(price, (int, float, Decimal)):
        return to_minor(price)
    if not isinstance(price, dict):
        return None
    if "before_taxes" in price:
        total = Decimal(str(price["before_taxes"])) + sum(
            (Decimal(str(t.get("amount", 0))) for t in price.get("taxes") or []), Decimal(0)
        )
        return to_minor(total)
    if price.get("incl_vat") is not None:
        return to_minor(price["incl_vat"])
    if price.get("excl_vat") is not None:
        return to_minor(price["excl_vat"])
    return None


def _decimal(minor: Any) -> str:
    if minor is None:
        return ""
    return f"{Decimal(int(minor)) / 100:.2f}"
