"""The edge around the pure terminal devices: storage, timers, events, controllers.

:class:`TerminalHost` keeps one :class:`~emulator.terminal.device.Device` per terminal and is the
one command interface both drivers use (DESIGN.md "One terminal, two drivers"): the CPS REST API
for an outside CSMS, and Payter's built-in OCPI journey. After every input it carries out the
device's effects, in order:

1. the device state is written to SQLite (``terminal_devices``; completed payment sessions
   also go to ``terminal_sessions``), so a journey survives a restart;
2. timers are started or cancelled on the injected clock (their due times are part of the device
   state and are re-armed when the host starts again);
3. an event is published on the bus (``terminal.screen``, ``terminal.state``, ``terminal.card``,
   ``terminal.card_ignored``, ``terminal.ui_event``, ``terminal.reading``,
   ``terminal.payment``), each with ``serial_number`` and the effect's data (the host itself
   adds ``terminal.created``, ``terminal.removed`` and ``terminal.outcome``);
4. the effects are handed to the controller registered for the terminal's mode (``ocpi`` or
   ``cps``). Batches reach a controller one at a time and in order per terminal: a batch
   produced while the controller is still handling an earlier one (it called back into the
   host) is delivered after it returns.

Without a controller a terminal still works: it shows the idle carousel, reads cards when told,
and reports everything on the event bus.
"""

from __future__ import annotations

import asyncio
import builtins
import re
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from emulator import jsonio, logs
from emulator.clock import Timer
from emulator.datetimes import format_datetime
from emulator.runtime import Runtime
from emulator.settings import EmulatorSettings
from emulator.store import JsonText, TableSpec
from emulator.terminal.acquirer import Acquirer
from emulator.terminal.cards import CardCatalogue, CardError, Medium, default_catalogue
from emulator.terminal.device import (
    APOLLO_MODELS,
    MODELS,
    P6X_MODELS,
    CancelTimer,
    Device,
    DeviceJson,
    Effect,
    ErrorKind,
    PaymentStep,
    PresentedCard,
    SessionJson,
    StartTimer,
    TerminalError,
    Timeouts,
    has_screen,
    p6x_refusal,
)
from emulator.terminal.screens import Screen, ScreenError

log = logs.get_logger("emulator.terminal")


class TerminalJson(DeviceJson):
    """A terminal as ``GET /__admin/terminals/{serial}`` shows it: the device's report, its
    mode (the driver: ``ocpi`` journey or ``cps``) and whether that driver is running here."""

    mode: str
    created_at: str
    controller: bool


MODES = ("ocpi", "cps")
_SERIAL_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

TERMINAL_DEVICES = TableSpec(
    name="terminal_devices",
    columns={
        "serial_number": str,
        "model": str,
        "mode": str,
        "device": str,
        "created_at": str,
        "updated_at": str,
    },
    pk="serial_number",
    json_columns=frozenset({"device"}),
    indexes=(("mode",),),
)

# Every payment session once it has left AUTHORIZED, so that GET …/sessions lists them all and
# a repeated commit or cancel is still a conflict (CPS 409, §3.7) after the device has let the
# session go from its own, bounded state.
TERMINAL_SESSIONS = TableSpec(
    name="terminal_sessions",
    columns={
        "session_id": str,
        "serial_number": str,
        "state": str,
        "session": str,
        "updated_at": str,
    },
    pk="session_id",
    json_columns=frozenset({"session"}),
    indexes=(("serial_number",),),
)


def terminal_timeouts(settings: EmulatorSettings, model: str | None = None) -> Timeouts:
    """The terminal timeouts of the settings (Payter's numbers by default, payter.md §3.8):
    a P6X authorizes within its own Auth Session timeout (30 s), an Apollo within 3 min 30 s."""
    p6x = model in P6X_MODELS
    return Timeouts(
        card_presentation=settings.card_presentation_timeout,
        card_read=settings.card_read_timeout,
        authorization=(
            settings.p6x_authorization_timeout if p6x else settings.authorization_timeout
        ),
        pin_authorization=(
            settings.p6x_authorization_timeout if p6x else settings.pin_authorization_timeout
        ),
        pin_entry=settings.pin_entry_timeout,
        commit=settings.commit_timeout,
        screensaver=settings.screensaver_timeout or None,
        message=settings.notification_timeout,
        authorization_validity=settings.authorization_validity,
    )


class TerminalController(Protocol):
    """What drives terminals of one mode (the CPS API, the OCPI journey).

    ``effects`` are the observable effects of one input, in order (timers are the host's
    business and are left out). The controller may call back into the host.
    """

    async def on_effects(
        self, host: TerminalHost, serial_number: str, effects: Sequence[Effect]
    ) -> None: ...


class TerminalHost:
    def __init__(
        self,
        rt: Runtime,
        *,
        cards: CardCatalogue | None = None,
        timeouts: Timeouts | None = None,
        p6x_timeouts: Timeouts | None = None,
    ) -> None:
        self.rt = rt
        self.cards = cards or default_catalogue()
        self.acquirer = Acquirer(rt.ids)
        self.timeouts = timeouts or Timeouts()
        # A P6X has its own Auth Session timeout (payter.md §3.8).
        self.p6x_timeouts = p6x_timeouts or self.timeouts
        rt.store.register(TERMINAL_DEVICES, TERMINAL_SESSIONS)
        self._devices: dict[str, Device] = {}
        # The JSON of each device as last written by _persist.
        self._persisted: dict[str, str] = {}
        self._meta: dict[str, dict[str, str]] = {}  # serial -> mode, created_at
        self._timers: dict[tuple[str, str], Timer] = {}
        self._controllers: dict[str, TerminalController] = {}
        self._outbox: dict[str, deque[builtins.list[Effect]]] = {}
        self._delivering: set[str] = set()
        self._auth_waiters: dict[str, builtins.list[asyncio.Future[dict[str, Any]]]] = {}
        self._started = False
        rt.reset_hooks.append(self._on_reset)
        rt.close_hooks.append(self.close)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every stored terminal and re-arm its timers (after a restart)."""
        if self._started:
            return
        self._started = True
        for row in self.rt.store.rows(TERMINAL_DEVICES.name):
            if row["serial_number"] not in self._devices:
                self._load(row)

    def close(self) -> None:
        """Cancel this host's timers (the store keeps their due times)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for waiters in self._auth_waiters.values():
            for future in waiters:
                future.cancel()
        self._auth_waiters.clear()

    def _on_reset(self) -> None:
        # POST /__admin/reset has emptied the table already; forget what is in memory.
        self.close()
        self._devices.clear()
        self._persisted.clear()
        self._meta.clear()
        self._outbox.clear()

    def register_controller(self, mode: str, controller: TerminalController) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self._controllers[mode] = controller

    def unregister_controller(self, mode: str) -> None:
        self._controllers.pop(mode, None)

    # --- terminals ------------------------------------------------------------------------------

    async def create(
        self,
        serial_number: str,
        model: str = "Apollo",
        mode: str = "ocpi",
        *,
        currency: str = "EUR",
        timeouts: Timeouts | None = None,
        exist_ok: bool = False,
        test_firmware: bool = False,
    ) -> TerminalJson:
        """Add a terminal (idle, online). An existing one is an error unless ``exist_ok``."""
        if not isinstance(serial_number, str) or not _SERIAL_RE.match(serial_number):
            raise TerminalError(
                ErrorKind.INVALID,
                "invalid_serial_number",
                "a serial number is 1-64 characters of letters, digits, '.', '_' or '-'",
            )
        self._check_mode(mode, model)
        if self._find(serial_number) is not None:
            if exist_ok:
                return self.get(serial_number)
            raise TerminalError(
                ErrorKind.CONFLICT,
                "terminal_exists",
                f"terminal {serial_number} exists already",
            )
        device = Device(
            serial_number,
            model,
            acquirer=self.acquirer,
            currency=currency,
            timeouts=timeouts or self.timeouts_of(model),
            test_firmware=test_firmware,
        )
        now = self.rt.now()
        stamp = format_datetime(now)
        effects = device.boot(now=now)
        self.rt.store.insert(
            TERMINAL_DEVICES.name,
            {
                "serial_number": serial_number,
                "model": model,
                "mode": mode,
                "device": device.to_dict(),
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
        self._devices[serial_number] = device
        self._meta[serial_number] = {"mode": mode, "created_at": stamp}
        self.rt.bus.publish("terminal.created", serial_number=serial_number, model=model, mode=mode)
        await self._apply(serial_number, device, effects)
        return self.get(serial_number)

    async def remove(self, serial_number: str) -> None:
        self._device(serial_number)
        for key in [k for k in self._timers if k[0] == serial_number]:
            self._timers.pop(key).cancel()
        self._devices.pop(serial_number, None)
        self._persisted.pop(serial_number, None)
        self._meta.pop(serial_number, None)
        self._outbox.pop(serial_number, None)
        self.rt.store.delete(TERMINAL_DEVICES.name, serial_number)
        self.rt.store.delete_where(TERMINAL_SESSIONS.name, "serial_number = ?", [serial_number])
        self.rt.bus.publish("terminal.removed", serial_number=serial_number)

    def exists(self, serial_number: str) -> bool:
        return self._find(serial_number) is not None

    def get(self, serial_number: str) -> TerminalJson:
        device = self._device(serial_number)
        meta = self._meta[serial_number]
        return {
            **device.as_json(),
            "mode": meta["mode"],
            "created_at": meta["created_at"],
            "controller": meta["mode"] in self._controllers,
        }

    def summary(self, serial_number: str) -> dict[str, Any]:
        """The terminal's identity and state only (what the CPS terminal object shows),
        without building its screens as :meth:`get` does."""
        device = self._device(serial_number)
        return {
            "serial_number": device.serial_number,
            "model": device.model,
            "currency": device.currency,
            "online": device.online,
            "state": device.state.value,
        }

    def list(self) -> builtins.list[TerminalJson]:
        rows = self.rt.store.rows(TERMINAL_DEVICES.name, order_by="serial_number")
        for row in rows:
            if row["serial_number"] not in self._devices:
                self._load(row)
        return [self.get(row["serial_number"]) for row in rows]

    def mode(self, serial_number: str) -> str:
        self._device(serial_number)
        return self._meta[serial_number]["mode"]

    def set_mode(self, serial_number: str, mode: str) -> TerminalJson:
        self._check_mode(mode, self._device(serial_number).model)
        self._meta[serial_number]["mode"] = mode
        self.rt.store.update(TERMINAL_DEVICES.name, serial_number, {"mode": mode})
        return self.get(serial_number)

    def device(self, serial_number: str) -> Device:
        """The device itself, for reading (change it only through the commands below)."""
        return self._device(serial_number)

    # --- driver actions (a person at the terminal, a test) ---------------------------------

    async def present_card(
        self, serial_number: str, card_ref: str, medium: str = "contactless"
    ) -> dict[str, Any]:
        """Tap, insert or scan: ``card_ref`` is a test card id or PAN (any text for QR)."""
        device = self._device(serial_number)
        try:
            card = self.cards.presentation(card_ref, medium)
        except CardError as exc:
            raise TerminalError(ErrorKind.INVALID, exc.code, exc.message, **exc.details) from None
        presented = PresentedCard(card, Medium(medium))
        effects = await self._run(
            serial_number, device, lambda now: device.present_card(presented, now=now)
        )
        for effect in effects:
            if effect.kind in ("card", "card_ignored"):
                result = "read" if effect.kind == "card" else "ignored"
                return {"result": result, **effect.as_json(), "terminal": self.get(serial_number)}
        raise AssertionError("a presented card is either read or ignored")

    async def press(self, serial_number: str, key: str) -> dict[str, Any]:
        device = self._device(serial_number)
        screen_id = device.screen.id
        effects = await self._run(serial_number, device, lambda now: device.press(key, now=now))
        return {
            "screen_id": screen_id,
            "key": key,
            "ui_event": any(e.kind == "ui_event" for e in effects),
            "terminal": self.get(serial_number),
        }

    async def set_online(self, serial_number: str, online: bool) -> TerminalJson:
        device = self._device(serial_number)
        if online:
            await self._run(serial_number, device, lambda now: device.go_online(now=now))
        else:
            await self._run(serial_number, device, lambda now: device.go_offline(now=now))
        return self.get(serial_number)

    # --- controller commands (CPS API, OCPI journey) ---------------------------------------

    async def start_reading(
        self,
        serial_number: str,
        *,
        amount: int | None = None,
        currency: str | None = None,
        message: str | None = None,
        title: str | None = None,
        hide_amount: bool = False,
        methods: Sequence[str] | None = None,
        language: str | None = None,
        keep_screen: bool = False,
        timeout: float | None = None,
    ) -> TerminalJson:
        device = self._device(serial_number)
        await self._run(
            serial_number,
            device,
            lambda now: device.start_reading(
                now=now,
                amount=amount,
                currency=currency,
                message=message,
                title=title,
                hide_amount=hide_amount,
                methods=tuple(methods) if methods else None,
                language=language,
                keep_screen=keep_screen,
                timeout=timeout,
            ),
        )
        return self.get(serial_number)

    async def stop_reading(
        self,
        serial_number: str,
        *,
        message: str | None = None,
        message_timeout: float | None = None,
    ) -> TerminalJson:
        device = self._device(serial_number)
        await self._run(
            serial_number,
            device,
            lambda now: device.stop_reading(
                now=now, message=message, message_timeout=message_timeout
            ),
        )
        return self.get(serial_number)

    async def show(
        self, serial_number: str, screen: Screen | dict[str, Any], *, screensaver: bool = True
    ) -> dict[str, Any]:
        """Show a screen; a dict is validated like a CPS ``/ui`` body first."""
        device = self._device(serial_number)
        if not has_screen(device.model):
            raise TerminalError(
                ErrorKind.CONFLICT,
                "no_display",
                p6x_refusal(device.model, "it cannot show UI screens"),
            )
        if not isinstance(screen, Screen):
            try:
                screen = Screen.parse(screen)
            except ScreenError as exc:
                raise TerminalError(ErrorKind.INVALID, "invalid_screen", str(exc)) from None
        parsed = screen
        await self._run(
            serial_number, device, lambda now: device.show(parsed, now=now, screensaver=screensaver)
        )
        return {
            "shown": device.screen == parsed,
            "held": device.held,
            "screen": device.screen.as_json(),
        }

    async def authorize(
        self,
        serial_number: str,
        *,
        amount: int | None = None,
        currency: str | None = None,
        message: str | None = None,
        message_timeout: float | None = None,
        wait: bool = False,
    ) -> dict[str, Any]:
        """Authorize on the read card.

        Returns ``{"status": "authorized", "session_id", "session"}``, ``{"status":
        "declined", "session_id", "response_code", …}`` or, while a PIN is being entered or the
        acquirer has not answered, ``{"status": "pending", "session_id", "step"}``. With
        ``wait`` the call returns only once the outcome is known (CPS ``/authorize`` "may take
        up to 3m30s with PIN", §3.10).
        """
        device = self._device(serial_number)
        future: asyncio.Future[dict[str, Any]] | None = None
        if wait:
            future = asyncio.get_running_loop().create_future()
            self._auth_waiters.setdefault(serial_number, []).append(future)
        try:
            effects = await self._run(
                serial_number,
                device,
                lambda now: device.authorize(
                    now=now,
                    amount=amount,
                    currency=currency,
                    message=message,
                    message_timeout=message_timeout,
                ),
            )
        except BaseException:
            if future is not None:
                self._auth_waiters.get(serial_number, []).remove(future)
            raise
        if future is not None:
            return await future
        for effect in effects:
            if isinstance(effect, PaymentStep):
                if effect.step in ("authorized", "declined"):
                    return self._authorization_result(serial_number, effect)
                return {"status": "pending", "session_id": effect.session_id, "step": effect.step}
        raise AssertionError("an authorization always reports a payment step")

    async def commit(
        self,
        serial_number: str,
        session_id: str,
        amount: int,
        *,
        cap_at_authorized: bool = False,
        message: str | None = None,
        message_timeout: float | None = None,
    ) -> SessionJson:
        device = self._device(serial_number)
        self._check_filed(serial_number, device, session_id, "commit")
        await self._run(
            serial_number,
            device,
            lambda now: device.commit(
                session_id,
                amount,
                now=now,
                cap_at_authorized=cap_at_authorized,
                message=message,
                message_timeout=message_timeout,
            ),
        )
        return self.session(serial_number, session_id)

    async def cancel(
        self,
        serial_number: str,
        session_id: str,
        *,
        message: str | None = None,
        message_timeout: float | None = None,
    ) -> SessionJson:
        device = self._device(serial_number)
        self._check_filed(serial_number, device, session_id, "cancel")
        await self._run(
            serial_number,
            device,
            lambda now: device.cancel(
                session_id, now=now, message=message, message_timeout=message_timeout
            ),
        )
        return self.session(serial_number, session_id)

    async def increment(self, serial_number: str, session_id: str, extra: int) -> dict[str, Any]:
        device = self._device(serial_number)
        self._check_filed(serial_number, device, session_id, "increment")
        effects = await self._run(
            serial_number, device, lambda now: device.increment(session_id, extra, now=now)
        )
        step = next(e for e in effects if isinstance(e, PaymentStep))
        return {
            "approved": step.step == "incremented",
            **step.data,
            "session": self.session(serial_number, session_id),
        }

    async def force_outcome(self, serial_number: str, outcome: str | None) -> TerminalJson:
        device = self._device(serial_number)
        device.force_outcome(outcome)
        self._persist(serial_number, device)
        self.rt.bus.publish("terminal.outcome", serial_number=serial_number, outcome=outcome)
        return self.get(serial_number)

    def sessions(self, serial_number: str) -> builtins.list[SessionJson]:
        """Every session of the terminal, open and completed, oldest first."""
        device = self._device(serial_number)
        found: dict[str, SessionJson] = {
            row["session_id"]: row["session"]
            for row in self.rt.store.rows(
                TERMINAL_SESSIONS.name, "serial_number = ?", [serial_number], order_by="rowid"
            )
        }
        for session in device.sessions.values():
            found[session.session_id] = session.as_json(serial_number)
        return sorted(found.values(), key=lambda s: s["created_at"])

    def session(self, serial_number: str, session_id: str) -> SessionJson:
        device = self._device(serial_number)
        session = device.sessions.get(session_id)
        if session is not None:
            return session.as_json(serial_number)
        row = self._filed(serial_number, session_id)
        if row is None:
            raise TerminalError(
                ErrorKind.NOT_FOUND,
                "unknown_session",
                f"no session {session_id!r} on terminal {serial_number}",
            )
        return cast("SessionJson", dict(row["session"]))

    def _filed(self, serial_number: str, session_id: str) -> dict[str, Any] | None:
        row = self.rt.store.get(TERMINAL_SESSIONS.name, session_id)
        return row if row and row["serial_number"] == serial_number else None

    def _check_filed(self, serial_number: str, device: Device, session_id: str, what: str) -> None:
        """A session the device no longer holds but the table does was completed long ago."""
        if session_id in device.sessions:
            return
        row = self._filed(serial_number, session_id)
        if row is not None:
            raise TerminalError(
                ErrorKind.CONFLICT,
                "session_completed",
                f"cannot {what} session {session_id}: it is already {row['state']}",
                session_state=row["state"],
            )

    # --- carrying out effects ----------------------------------------------------------------

    async def _run(
        self, serial_number: str, device: Device, step: Callable[[datetime], builtins.list[Effect]]
    ) -> builtins.list[Effect]:
        effects = step(self.rt.now())
        await self._apply(serial_number, device, effects)
        return effects

    async def _apply(
        self, serial_number: str, device: Device, effects: builtins.list[Effect]
    ) -> None:
        self._persist(serial_number, device)
        observable: builtins.list[Effect] = []
        for effect in effects:
            if isinstance(effect, StartTimer):
                self._arm(serial_number, effect.name, effect.seconds)
            elif isinstance(effect, CancelTimer):
                self._disarm(serial_number, effect.name)
            else:
                observable.append(effect)
                data = {**effect.as_json(), "serial_number": serial_number}
                self.rt.bus.publish(f"terminal.{effect.kind}", **data)
                if isinstance(effect, PaymentStep):
                    self._file_session(serial_number, device, effect)
                    if effect.step in ("authorized", "declined"):
                        self._resolve_waiters(serial_number, effect)
        if observable:
            await self._deliver(serial_number, observable)

    def _file_session(self, serial_number: str, device: Device, step: PaymentStep) -> None:
        session = device.sessions.get(step.session_id)
        if session is None or session.is_open:
            return
        self.rt.store.upsert(
            TERMINAL_SESSIONS.name,
            {
                "session_id": session.session_id,
                "serial_number": serial_number,
                "state": session.state.value,
                "session": session.as_json(serial_number),
                "updated_at": session.updated_at,
            },
        )

    def _persist(self, serial_number: str, device: Device) -> None:
        """Store the device as it is now; not again when it is what was stored last (a
        step that changed nothing, such as a timer re-armed on the same screen)."""
        text = jsonio.dumps_compact(device.to_dict())
        if self._persisted.get(serial_number) == text:
            return
        self.rt.store.update(
            TERMINAL_DEVICES.name,
            serial_number,
            {"device": JsonText(text), "updated_at": format_datetime(self.rt.now())},
        )
        self._persisted[serial_number] = text

    async def _deliver(self, serial_number: str, effects: builtins.list[Effect]) -> None:
        queue = self._outbox.setdefault(serial_number, deque())
        queue.append(effects)
        if serial_number in self._delivering:
            return  # the running delivery loop below picks it up, in order
        self._delivering.add(serial_number)
        try:
            while queue:
                batch = queue.popleft()
                meta = self._meta.get(serial_number)
                controller = self._controllers.get(meta["mode"]) if meta else None
                if controller is None:
                    continue
                try:
                    await controller.on_effects(self, serial_number, batch)
                except Exception:
                    # A failing controller must not wedge the terminal; the journey or CPS
                    # layer reports its own findings.
                    log.exception("terminal controller failed", serial_number=serial_number)
        finally:
            self._delivering.discard(serial_number)

    def _authorization_result(self, serial_number: str, step: PaymentStep) -> dict[str, Any]:
        if step.step == "authorized":
            return {
                "status": "authorized",
                "session_id": step.session_id,
                "session": self.session(serial_number, step.session_id),
            }
        return {"status": "declined", "session_id": step.session_id, **step.data}

    def _resolve_waiters(self, serial_number: str, step: PaymentStep) -> None:
        waiters = self._auth_waiters.pop(serial_number, [])
        if not waiters:
            return
        result = self._authorization_result(serial_number, step)
        for future in waiters:
            if not future.done():
                future.set_result(result)

    # --- timers ------------------------------------------------------------------------------

    def _arm(self, serial_number: str, name: str, seconds: float) -> None:
        self._disarm(serial_number, name)
        key = (serial_number, name)
        timer: Timer | None = None

        async def fire() -> None:
            if self._timers.get(key) is not timer:
                return  # replaced or cancelled after it was due
            del self._timers[key]
            device = self._devices.get(serial_number)
            if device is not None:
                await self._run(
                    serial_number, device, lambda now: device.timer_fired(name, now=now)
                )

        timer = self.rt.clock.call_later(
            max(seconds, 0.0), fire, name=f"terminal:{serial_number}:{name}"
        )
        self._timers[key] = timer

    def _disarm(self, serial_number: str, name: str) -> None:
        timer = self._timers.pop((serial_number, name), None)
        if timer is not None:
            timer.cancel()

    # --- loading -----------------------------------------------------------------------------

    def timeouts_of(self, model: str) -> Timeouts:
        return self.p6x_timeouts if model in P6X_MODELS else self.timeouts

    def _check_mode(self, mode: str, model: str | None = None) -> None:
        if mode not in MODES:
            raise TerminalError(
                ErrorKind.INVALID,
                "invalid_mode",
                f"mode must be one of {', '.join(MODES)} (got {mode!r})",
            )
        if mode == "ocpi" and model is not None and model in P6X_MODELS:
            raise TerminalError(
                ErrorKind.INVALID,
                "p6x_no_ocpi",
                p6x_refusal(model, "it cannot run Payter's OCPI journey: use mode 'cps'"),
            )

    def _find(self, serial_number: str) -> Device | None:
        device = self._devices.get(serial_number)
        if device is not None:
            return device
        row = self.rt.store.get(TERMINAL_DEVICES.name, serial_number)
        return self._load(row) if row else None

    def _device(self, serial_number: str) -> Device:
        device = self._find(serial_number)
        if device is None:
            raise TerminalError(
                ErrorKind.NOT_FOUND,
                "unknown_terminal",
                f"no terminal {serial_number!r}",
            )
        return device

    def _load(self, row: dict[str, Any]) -> Device:
        serial_number = row["serial_number"]
        device = Device.from_dict(row["device"], acquirer=self.acquirer)
        # The settings of this run apply to every terminal, also to those stored before.
        device.set_timeouts(self.timeouts_of(device.model))
        self._devices[serial_number] = device
        self._meta[serial_number] = {"mode": row["mode"], "created_at": row["created_at"]}
        now = self.rt.now()
        for name in device.timers:
            due = device.timer_due(name)
            seconds = (due - now).total_seconds() if due else 0.0
            self._arm(serial_number, name, seconds)
        return device


__all__ = [
    "APOLLO_MODELS",
    "MODELS",
    "MODES",
    "P6X_MODELS",
    "TERMINAL_DEVICES",
    "TERMINAL_SESSIONS",
    "TerminalController",
    "TerminalHost",
    "terminal_timeouts",
]
