"""What one terminal's display offers a driver, and what the driver does with it: the menus
of Payter's journey (Home, the charger list, the tariff, languages, Stop, Receipts) and the
journey's own screens, with their timeouts back to Home (journey-screens.md).

Not persisted: a restart shows Home. Keys, cards read for identification and the end of card
reading come here from :class:`~emulator.journey.controller.JourneyController`. The menus
before a journey exists are handled here (Home, the charger list, the tariff's Cancel,
languages, the Stop and Receipts lists); a key on one journey's screen (Accept on the tariff,
which opens the journey, ``journeys.accept``; Yes/No on the Stop confirmation; Back on its
receipt) goes to the journey as :class:`~emulator.journey.step.KeyPressed`
(``journeys.dispatch``), and the step decides what it means.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from emulator import logs
from emulator.datetimes import format_datetime
from emulator.journey import screens
from emulator.journey.model import ACTIVE, Card, Journey, JourneyState
from emulator.journey.screens import CHOOSE, HOME, NOTICE, OUT, Choice
from emulator.journey.texts import Texts, to_minor
from emulator.journey.texts import money as texts_money
from emulator.lazy import lazy_module
from emulator.money import MAX_AMOUNT
from emulator.ocpi import pricing
from emulator.ocpi.client import PeerUnreachable
from emulator.ocpi.platforms import Platform
from emulator.ptp.payments import TerminalRow
from emulator.terminal.device import (
    CardRead,
    TerminalError,
)
from emulator.terminal.screens import Screen

if TYPE_CHECKING:
    from emulator.clock import Timer
    from emulator.journey import step as steps
    from emulator.journey.controller import JourneyController
else:
    # The journey's rules are built when the first journey needs them.
    steps = lazy_module("emulator.journey.step")

log = logs.get_logger("emulator.journey")

S = JourneyState


@dataclass
class Ui:
    """What one terminal's display is doing (not persisted: a restart shows Home)."""

    screen: str = HOME
    language: str = "en"
    options: dict[str, Any] = field(default_factory=dict)
    journey_id: str | None = None  # the payment flow on the display
    reading_for: str | None = None  # "stop" / "receipt": a card identifies the driver


class Menus:
    def __init__(self, journeys: JourneyController) -> None:
        self.journeys = journeys
        self.node = journeys.node
        self.rt = journeys.rt
        self.ptp = journeys.ptp
        self.host = journeys.host
        self.settings = journeys.settings
        self.records = journeys.records
        self.ui: dict[str, Ui] = {}
        self._timers: dict[tuple[str, str], Timer] = {}

    def reset(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.ui.clear()

    async def show_journey_screen(self, journey: Journey, effect: steps.ShowScreen) -> None:
        serial = journey.serial_number
        ui = self.display(serial)
        if effect.holder == "start" and ui.journey_id != journey.id:
            return
        if effect.holder == "stop":
            if ui.options.get("stopping") != journey.id:
                return
            ui.options = {}
        screen = screens.screen_for(journey, self.texts(serial), effect.name, **effect.values)
        await self.show(serial, screen)
        if effect.name == "stopping":
            ui.options = {"stopping": journey.id}
        if effect.seconds is None:
            return
        then, then_state = effect.then, effect.then_state

        async def after() -> None:
            if self.display(serial).screen != screen.id:
                return
            if then is None:
                await self.show_home(serial)
                return
            current = self.records.get(journey.id)
            if current is not None and current.state == then_state:
                await self.show(serial, screens.screen_for(current, self.texts(serial), then))

        self._later(serial, "ui", effect.seconds, after)

    def display(self, serial: str) -> Ui:
        return self.ui.setdefault(serial, Ui())

    def _later(
        self, serial: str, name: str, seconds: float, action: Callable[[], Awaitable[None] | None]
    ) -> None:
        self.cancel(serial, name)
        self._timers[(serial, name)] = self.rt.clock.call_later(
            seconds, action, name=f"journey-{name}-{serial}"
        )

    def later(
        self, serial: str, name: str, seconds: float, action: Callable[[], Awaitable[None] | None]
    ) -> None:
        """Run ``action`` in ``seconds`` on the clock, in place of the timer of that name."""
        self._later(serial, name, seconds, action)

    def cancel(self, serial: str, name: str) -> None:
        timer = self._timers.pop((serial, name), None)
        if timer is not None:
            timer.cancel()

    def _screen_timeout(self, serial: str, screen_id: str, seconds: float) -> None:
        async def back_home() -> None:
            if self.display(serial).screen == screen_id:
                await self.show_home(serial)

        self._later(serial, "ui", seconds, back_home)

    def terminal(self, serial: str) -> TerminalRow | None:
        return self.ptp.payments.by_serial(serial)

    def platform(self, terminal: TerminalRow | None) -> Platform | None:
        platform_id = terminal["platform_id"] if terminal is not None else None
        if platform_id is None:
            return None
        platform = self.node.platforms.get(platform_id)
        return platform if platform is not None and platform.registered else None

    def _choices(
        self, terminal: TerminalRow
    ) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
        out = []
        for loc, evse in self.ptp.payments.assigned_evses(terminal):
            for conn in evse.get("connectors") or []:
                out.append((loc, evse, conn))
        return out

    def _languages(self, terminal: TerminalRow) -> list[str]:
        """The languages of the tariffs of the assigned EVSEs (payter.md §2.3 Tariffs)."""
        found: list[str] = []
        for _, evse, conn in self._choices(terminal):
            tariff = self.ptp.choose_tariff(terminal.get("platform_id"), evse, conn)
            for lang in pricing.tariff_languages(tariff) if tariff else []:
                if lang not in found:
                    found.append(lang)
        return found or ["en"]

    def out_of_service(self, terminal: TerminalRow | None, choices: list[Any]) -> str | None:
        """Why the terminal cannot offer a start (journey-screens.md screen 18), or None. For
        the person running the emulator: the control API and the TUI show it."""
        if terminal is None:
            return "no OCPI Terminal object for this terminal"
        if not terminal["active"]:
            return "the OCPI Terminal is deactivated"
        if self.platform(terminal) is None:
            return "no CPO registered"
        if not choices:
            return "no chargers assigned to this terminal"
        return None

    def texts(self, serial: str) -> Texts:
        return Texts.for_language(self.display(serial).language)

    def t(self, serial: str, key: str, **values: Any) -> str:
        return self.texts(serial).t(key, **values)

    async def show(self, serial: str, screen: Screen) -> None:
        self.display(serial).screen = screen.id
        try:
            # journey-screens.md: only Home gives way to the screensaver; every other screen
            # has its own timeout back to Home.
            await self.host.show(serial, screen, screensaver=screen.id == HOME)
        except TerminalError as exc:
            log.info("screen not shown", serial=serial, screen=screen.id, error=exc.message)

    async def _stop_card_reading(self, serial: str) -> None:
        ui = self.display(serial)
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
        await self.show(serial, screens.notice(self.texts(serial), key_title, message, icon=icon))

        async def after() -> None:
            if self.display(serial).screen == NOTICE:
                await self.show_home(serial)

        self._later(serial, "ui", seconds, after)

    async def show_home(self, serial: str) -> None:
        await self._stop_card_reading(serial)
        ui = self.display(serial)
        ui.journey_id = None
        terminal = self.terminal(serial)
        choices = self._choices(terminal) if terminal else []
        self.cancel(serial, "ui")
        why = self.out_of_service(terminal, choices)
        if why is not None or terminal is None:
            await self.show(serial, screens.out_of_service(self.texts(serial), why or ""))
            return
        site = next((loc.get("name") for loc, _, _ in choices if loc.get("name")), None)
        several = len(self._languages(terminal)) > 1
        await self.show(serial, screens.home(self.texts(serial), site, several))

    async def show_choose(self, serial: str) -> None:
        terminal = self.terminal(serial)
        if terminal is None:
            await self.show_home(serial)
            return
        ui = self.display(serial)
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
        await self.show(serial, screens.choose(self.texts(serial), offer))
        self._screen_timeout(serial, CHOOSE, self.settings.journey_screen_timeout)

    async def show_tariff(self, serial: str, choice: dict[str, Any]) -> None:
        terminal = self.terminal(serial)
        platform = self.platform(terminal)
        if terminal is None or platform is None:
            await self.show_home(serial)
            return
        # The PTP pulls the Location to get the applicable tariff and status
        # (payment_transaction, step 2).
        try:
            await self.ptp.mirror.fetch_location(platform, choice["location_id"])
        except PeerUnreachable:
            # No card is taken for a charger that cannot be started (screen 10, no money).
            await self.start_refused(serial, "failed.unreachable")
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
            await self.start_refused(serial, "failed.unavailable")
            return
        tariff = self.ptp.choose_tariff(platform.id, evse, conn)
        if tariff is None:
            await self.ptp.mirror.poll(platform, "tariffs")
            tariff = self.ptp.choose_tariff(platform.id, evse, conn)
        if tariff is None:
            # A tariff the CPO lists but whose object was refused is OCPI-30's finding alone.
            if not self.ptp.refused_tariffs(platform.id, evse, conn):
                self.rt.findings.record(
                    "OCPI-54",
                    f"EVSE {evse.get('uid')} has no tariff the terminal can show: the "
                    "driver cannot start",
                    platform_id=platform.id,
                    once=True,
                )
            await self.start_refused(serial, "failed.no_tariff")
            return
        default = Decimal(str(self.settings.default_preauth_amount))
        amount = to_minor(pricing.preauthorization_amount(tariff, default))
        currency = str(tariff.get("currency") or "EUR")
        if not 1 <= amount <= MAX_AMOUNT:
            # Zero, negative, or beyond the 4-byte amounts a card is authorized for.
            self.rt.findings.record(
                "OCPI-54",
                f"tariff {tariff.get('id')} of EVSE {evse.get('uid')} pre-authorizes "
                f"{texts_money(amount, currency, sign=False)}: not an amount a card can be "
                f"authorized for (0.01 to {texts_money(MAX_AMOUNT, currency, sign=False)}); "
                "the driver cannot start",
                platform_id=platform.id,
                once=True,
            )
            await self.start_refused(serial, "failed.no_tariff")
            return
        lines = pricing.tariff_lines(tariff, language=self.display(serial).language)
        choice = {**choice, "tariff": tariff, "amount": amount, "currency": currency}
        self.display(serial).options = {"choice": choice}
        await self.show(serial, screens.tariff(self.texts(serial), lines, amount, currency))
        self._screen_timeout(serial, screens.TARIFF, self.settings.journey_tariff_timeout)

    def evse_available(self, platform: Platform, location_id: str, evse_uid: str) -> bool:
        """The EVSE's last known status (the mirror, kept live by the CPO's pushes)."""
        found = self.ptp.mirror.evse(location_id, evse_uid, platform.id)
        return found is None or found[1].get("status") in ("AVAILABLE", None)

    async def start_refused(self, serial: str, reason_key: str) -> None:
        await self.notice(serial, "failed.title", self.t(serial, reason_key), icon="declined")

    async def show_languages(self, serial: str) -> None:
        terminal = self.terminal(serial)
        if terminal is None:
            await self.show_home(serial)
            return
        await self.show(serial, screens.languages(self.texts(serial), self._languages(terminal)))
        self._screen_timeout(serial, screens.LANGUAGE, self.settings.journey_screen_timeout)

    async def show_stop(self, serial: str) -> None:
        """Stop reads the card used; a list of sessions only with journey_stop_list."""
        ui = self.display(serial)
        active = self.records.for_terminal(serial, ACTIVE)
        listed = self.settings.journey_stop_list
        ui.options = (
            {f"s{index}": j.id for index, j in enumerate(active, start=1)} if listed else {}
        )
        await self.show(serial, screens.stop_list(self.texts(serial), active, listed=listed))
        if active:
            await self._read_card_for(serial, "stop")
        self._screen_timeout(serial, screens.STOP, self.settings.journey_screen_timeout)

    async def _read_card_for(self, serial: str, purpose: str) -> None:
        try:
            await self.host.start_reading(
                serial, keep_screen=True, timeout=self.settings.journey_screen_timeout
            )
            self.display(serial).reading_for = purpose
        except TerminalError as exc:
            log.info("cannot read cards for identification", serial=serial, error=exc.message)

    async def show_stop_confirm(self, serial: str, journey_id: str, *, by: str) -> None:
        """Stop charging? ``by``: how the driver was identified, "card" or "list"."""
        await self._stop_card_reading(serial)
        journey = self.records.get(journey_id)
        if journey is None or journey.state not in ACTIVE:
            await self.show_home(serial)
            return
        self.display(serial).options = {"journey": journey_id, "by": by}
        await self.show(serial, screens.stop_confirm(self.texts(serial), journey))
        self._screen_timeout(serial, screens.STOP_CONFIRM, self.settings.journey_screen_timeout)

    def _recent(self, serial: str) -> list[Journey]:
        since = format_datetime(self.rt.now() - timedelta(seconds=self.settings.receipt_window))
        done = frozenset({S.COMPLETED, S.WAITING_CDR, S.CAPTURING})
        return list(reversed(self.records.for_terminal(serial, done, since)))

    async def show_receipts(self, serial: str) -> None:
        ui = self.display(serial)
        recent = self._recent(serial)
        ui.options = {f"r{index}": j.id for index, j in enumerate(recent, start=1)}
        await self.show(serial, screens.receipt_list(self.texts(serial), recent))
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
        self.display(serial).options = {"journey": journey_id}
        await self.show(serial, screens.receipt(self.texts(serial), journey, session, qr))
        self._screen_timeout(serial, screens.RECEIPT, self.settings.journey_receipt_timeout)

    def _invoice_url(self, journey: Journey) -> str | None:
        """When the CPO invoices: invoice_base_url + authorization_reference (InvoiceCreator)."""
        terminal = self.ptp.payments.terminal(journey.terminal_id or "")
        obj = (terminal["object"] or {}) if terminal is not None else {}
        base = obj.get("invoice_base_url")
        cpo_invoices = obj.get("invoice_creator") == "CPO" or journey.invoice_reference_id
        if base and cpo_invoices and journey.authorization_reference:
            return f"{base}{journey.authorization_reference}"
        return None

    async def on_key(self, serial: str, screen_id: str, key: str) -> None:
        ui = self.display(serial)
        if screen_id != ui.screen:
            return
        self.cancel(serial, "ui")
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
                await self.journeys.accept(serial, ui.options["choice"])
            else:
                await self.show_home(serial)
        elif screen_id == screens.LANGUAGE:
            if key != "back":
                ui.language = key
            await self.show_home(serial)
        elif screen_id == screens.STOP:
            if key in ui.options:
                await self.show_stop_confirm(serial, ui.options[key], by="list")
            else:
                await self.show_home(serial)
        elif screen_id in (screens.STOP_CONFIRM, screens.RECEIPT):
            # One journey's screen: the step decides what the key means in its state now.
            event = steps.KeyPressed(screen_id, key, by=ui.options.get("by", "card"))
            journey_id = ui.options.get("journey", "")
            if await self.journeys.dispatch(journey_id, event) is None:
                await self.show_home(serial)  # it is gone (or its money moved meanwhile)
            elif self.display(serial).screen == screen_id:
                # A key the journey does not take: the screen stays, with its timeout.
                self._screen_timeout(serial, screen_id, self.settings.journey_screen_timeout)
        elif screen_id == screens.RECEIPTS:
            if key in ui.options:
                await self.show_receipt(serial, ui.options[key])
            else:
                await self.show_home(serial)

    async def on_card(self, serial: str, card: CardRead) -> None:
        ui = self.display(serial)
        journey = self.records.get(ui.journey_id) if ui.journey_id else None
        if journey is not None and journey.state == S.PRESENTING:
            presented = Card(card.card_id, card.masked_pan, card.brand, card.medium)
            await self.journeys.dispatch(journey.id, steps.CardPresented(presented))
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
                await self.show_stop_confirm(serial, mine[-1].id, by="card")
            else:
                await self.show_receipt(serial, mine[0].id)

    async def on_reading_stopped(self, serial: str, reason: str) -> None:
        ui = self.display(serial)
        if ui.reading_for is not None and reason in ("timeout", "offline"):
            ui.reading_for = None
        if ui.journey_id:
            await self.journeys.dispatch(ui.journey_id, steps.ReadingEnded(reason))

    async def on_location(self, location_id: str, platform: Platform | None) -> None:
        """Live EVSE status on the charger list (Payter shows status from the pushes)."""
        for serial, ui in list(self.ui.items()):
            if ui.screen == CHOOSE:
                await self.show_choose(serial)

    async def on_terminal_change(self, row: dict[str, Any]) -> None:
        serial = row["serial_number"]
        if not self.host.exists(serial) or self.host.mode(serial) != "ocpi":
            return
        if self.display(serial).screen in (HOME, OUT):
            await self.show_home(serial)
