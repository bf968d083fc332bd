"""The Cloud Payment Service without HTTP: what each CPS call does to the terminals.

Every command goes to the one terminal implementation through
:class:`~emulator.terminal.host.TerminalHost` (DESIGN.md "One terminal, two drivers"); this
layer adds what is CPS's own (payter.md §3):

- which terminals an API key sees: terminals in mode ``cps`` (an ``ocpi`` terminal is driven by
  Payter's own journey and is not there), and of those the key's serial numbers;
- the callback URLs given to ``start`` (card read) and ``ui`` (UI events), and the state
  webhook of each API key (``/webhook``), turned into deliveries by :class:`CpsController`;
- the card long poll (``GET .../card?waitTime=``): real seconds, it is network time;
- receipt lines, and the session timeout: a session neither committed nor cancelled after
  ``cps_session_timeout`` seconds is voided or committed in full (PSP Setup's session timeout
  and its two actions, §3.8) and reported as CPS-01 (Payter "will enforce" session management,
  §3.9).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from emulator import logs
from emulator.clock import Timer
from emulator.cps.errors import CpsError, Finding
from emulator.cps.keys import ApiKey, ApiKeys
from emulator.cps.retries import CommitFaults, Fault, RetryCheck
from emulator.cps.webhooks import Deliveries
from emulator.datetimes import format_datetime, parse_datetime
from emulator.runtime import Runtime
from emulator.settings import EmulatorSettings
from emulator.store import TableSpec
from emulator.terminal.cards import IFD, Medium
from emulator.terminal.device import (
    CardRead,
    PaymentStep,
    State,
    StateChanged,
    TerminalError,
    UiEvent,
    has_screen,
    p6x_refusal,
)
from emulator.terminal.host import TerminalHost

if TYPE_CHECKING:
    # The answer models are imported where an answer is built: pydantic classes are not
    # free to build, and a server that starts need not build them before the first call.
    from emulator.cps.models import Card, Increment, Session, Terminal, UiResult, Webhook

log = logs.get_logger("emulator.cps")

MODE = "cps"

# Per terminal: the callback URLs of the last start and the last ui request.
CPS_TERMINALS = TableSpec(
    name="cps_terminals",
    columns={
        "serial_number": str,
        "card_callback_url": str,
        "ui_callback_url": str,
        "updated_at": str,
    },
    pk="serial_number",
)
# Per API key: the state webhook "for all terminals" (§3.1 tag Web Hook). "apikey" holds the
# key's id (its keyed hash, emulator/cps/keys.py), never the key.
CPS_WEBHOOKS = TableSpec(
    name="cps_webhooks",
    columns={"apikey": str, "url": str, "updated_at": str},
    pk="apikey",
)
_KEY_ID_RE = re.compile(r"[0-9a-f]{64}")
# What CPS adds to a terminal session: receipt lines and the session timeout.
CPS_SESSIONS = TableSpec(
    name="cps_sessions",
    columns={
        "session_id": str,
        "serial_number": str,
        "receipt_lines": str,
        "expires_at": str,
        "open": int,
        "created_at": str,
    },
    pk="session_id",
    json_columns=frozenset({"receipt_lines"}),
    indexes=(("serial_number",), ("open",)),
)

# Payment steps after which a session is no longer open.
_CLOSING_STEPS = frozenset({"committed", "commit_queued", "cancelled", "cancel_queued", "expired"})


def _ifd(medium: str | None) -> str | None:
    try:
        return IFD[Medium(medium)] if medium else None
    except ValueError:
        return None


class CloudPaymentService:
    def __init__(self, rt: Runtime, host: TerminalHost, settings: EmulatorSettings) -> None:
        self.rt = rt
        self.host = host
        self.settings = settings
        rt.store.register(CPS_TERMINALS, CPS_WEBHOOKS, CPS_SESSIONS)
        self.keys = ApiKeys(
            rt, fixed_key=settings.cps_api_key, fixed_token=settings.cps_apikey_token
        )
        # Webhooks chosen by a key: by the key's id, also those kept by name from before.
        for row in rt.store.rows(CPS_WEBHOOKS.name):
            if not _KEY_ID_RE.fullmatch(row["apikey"]):
                rt.store.delete(CPS_WEBHOOKS.name, row["apikey"])
                rt.store.upsert(
                    CPS_WEBHOOKS.name, {**row, "apikey": self.keys.key_id(row["apikey"])}
                )
        self.deliveries = Deliveries(
            rt, delays=settings.cps_retry_delays, timeout=settings.cps_webhook_timeout
        )
        self.default_methods = tuple(settings.cps_payment_methods.split(","))
        # The CSMS's commit/cancel retries against Payter's ladder, and the failures injected
        # to see them (emulator/cps/retries.py).
        self.faults = CommitFaults()
        self.retries = RetryCheck(rt, ladder=settings.cps_csms_retry_delays)
        self._back_online: dict[str, Timer] = {}
        self._card_waiters: dict[str, set[asyncio.Future[dict[str, Any]]]] = {}
        self._expiry: dict[str, Timer] = {}
        self.base_url = ""  # set by the node once it listens
        rt.reset_hooks.append(self._on_reset)
        rt.close_hooks.append(self._cancel_timers)
        rt.findings.before_report.append(self.report_open_sessions)
        from emulator.cps.controller import CpsController

        host.register_controller(MODE, CpsController(self))

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """After a restart: re-arm pending webhook deliveries and session timeouts."""
        self.deliveries.start()
        for row in self.rt.store.rows(CPS_SESSIONS.name, "open = 1 and expires_at is not null"):
            self._arm_expiry(row["serial_number"], row["session_id"], row["expires_at"])

    def _cancel_timers(self) -> None:
        for timer in [*self._expiry.values(), *self._back_online.values()]:
            timer.cancel()
        self._expiry.clear()
        self._back_online.clear()

    def _on_reset(self) -> None:
        self._cancel_timers()
        self.faults.clear()

    # --- terminals ----------------------------------------------------------------------------

    def _serial(self, key: ApiKey, serial_number: str) -> str:
        """The terminal if this key may drive it through CPS; 404 otherwise."""
        if not self.host.exists(serial_number) or not key.sees(serial_number):
            raise CpsError(404, "unknown_terminal", f"no terminal {serial_number!r}")
        if self.host.mode(serial_number) != MODE:
            raise CpsError(
                404,
                "unknown_terminal",
                f"terminal {serial_number!r} is in mode 'ocpi' (driven by Payter's OCPI "
                "journey); only terminals in mode 'cps' are on the CPS API",
            )
        return serial_number

    def _terminal(self, data: Mapping[str, Any]) -> Terminal:
        from emulator.cps.models import Terminal

        return Terminal(
            serialNumber=data["serial_number"],
            online=data["online"],
            state=data["state"],
            model=data["model"],
            currency=data["currency"],
        )

    def cps_serials(self) -> list[str]:
        return [t["serial_number"] for t in self.host.list() if t["mode"] == MODE]

    def terminals(self, key: ApiKey) -> list[Terminal]:
        return [
            self._terminal(t)
            for t in self.host.list()
            if t["mode"] == MODE and key.sees(t["serial_number"])
        ]

    def terminal(self, key: ApiKey, serial_number: str) -> Terminal:
        return self._terminal(self.host.summary(self._serial(key, serial_number)))

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except TerminalError as exc:
            raise CpsError.from_terminal(exc) from None

    # --- card reading -------------------------------------------------------------------------

    async def start_reading(
        self,
        key: ApiKey,
        serial_number: str,
        *,
        amount: int | None = None,
        callback_url: str | None = None,
        message: str | None = None,
        title: str | None = None,
        hide_amount: bool = False,
        methods: Sequence[str] = (),
        language: str | None = None,
    ) -> Terminal:
        serial = self._serial(key, serial_number)
        data = await self._call(
            self.host.start_reading(
                serial,
                # authorizedAmount=0 is sent by clients that only read (QR, §3.4 clients).
                amount=amount or None,
                message=message,
                title=title,
                hide_amount=hide_amount,
                methods=tuple(methods) or self.default_methods,
                language=language,
                timeout=self.settings.cps_read_timeout,
            )
        )
        # The card webhook of this start; a start without callbackUrl sends none.
        self._set_callback(serial, card_callback_url=callback_url)
        return self._terminal(data)

    async def stop_reading(
        self,
        key: ApiKey,
        serial_number: str,
        *,
        message: str | None = None,
        message_timeout: float | None = None,
    ) -> Terminal:
        serial = self._serial(key, serial_number)
        data = await self._call(
            self.host.stop_reading(serial, message=message, message_timeout=message_timeout)
        )
        return self._terminal(data)

    def current_card(self, serial_number: str) -> Card | None:
        """The card that was read and waits for authorize or stop (state CARD)."""
        from emulator.cps.models import Card

        device = self.host.device(serial_number)
        if device.state is not State.CARD or device.card is None:
            return None
        card, medium = device.card.card, device.card.medium
        return Card(
            serialNumber=serial_number,
            ifd=device.ifd(medium),
            aid=card.aid or "",
            cardId=card.card_id,
            maskedPan=card.masked_pan,
            sessions=[
                s.session_id
                for s in device.open_sessions()
                if s.authorization.card_id == card.card_id
            ],
        )

    async def card(self, key: ApiKey, serial_number: str, wait: float = 0.0) -> Card | None:
        """``GET .../card?waitTime=``: the read card, at once or as soon as one is read.

        ``waitTime`` is network time, so the wait is real seconds even on the manual clock.
        """
        from emulator.cps.models import Card

        serial = self._serial(key, serial_number)
        card = self.current_card(serial)
        if card is not None or wait <= 0:
            return card
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        waiters = self._card_waiters.setdefault(serial, set())
        waiters.add(future)
        try:
            async with asyncio.timeout(min(wait, self.settings.cps_max_wait_time)):
                return Card(**await future)
        except TimeoutError:
            return self.current_card(serial) if self.host.exists(serial) else None
        finally:
            waiters.discard(future)
            if not waiters:
                self._card_waiters.pop(serial, None)

    def polls_waiting(self, serial_number: str) -> int:
        """How many ``GET .../card`` long polls wait for a card on this terminal."""
        return len(self._card_waiters.get(serial_number, ()))

    def card_json(self, effect: CardRead) -> dict[str, Any]:
        from emulator.cps.models import Card

        return Card(
            serialNumber=effect.serial_number,
            ifd=effect.ifd,
            aid=effect.aid,
            cardId=effect.card_id,
            maskedPan=effect.masked_pan,
            sessions=list(effect.sessions),
        ).dump(exclude_none=True)

    def card_read(self, serial_number: str, effect: CardRead) -> None:
        """From the controller: wake the long polls, send the start's card webhook."""
        body = self.card_json(effect)
        for future in self._card_waiters.get(serial_number, ()):
            if not future.done():
                future.set_result(body)
        url = self._callback(serial_number, "card_callback_url")
        if url:
            self.deliveries.enqueue("card", serial_number, url, body)

    # --- payment sessions ---------------------------------------------------------------------

    async def authorize(
        self,
        key: ApiKey,
        serial_number: str,
        *,
        amount: int | None = None,
        message: str | None = None,
        message_timeout: float | None = None,
        receipt_lines: Sequence[str] = (),
    ) -> Session:
        """Authorize on the read card; returns once approved or declined (PIN: up to 210 s)."""
        serial = self._serial(key, serial_number)
        device = self.host.device(serial)
        if device.state is State.CARD and device.card and not device.card.card.is_payment_card:
            medium = device.card.medium
            raise CpsError(
                409,
                "not_a_payment_card",
                f"the card read ({device.ifd(medium)}) identifies but cannot pay: no "
                "authorization is possible; use its cardId, then stop or start again",
                ifd=device.ifd(medium),
            )
        try:
            result = await self.host.authorize(
                serial, amount=amount, message=message, message_timeout=message_timeout, wait=True
            )
        except TerminalError as exc:
            if exc.code == "no_amount":  # said in the CPS's own parameter names
                raise CpsError(
                    400,
                    "no_amount",
                    "no amount to authorize: give authorizedAmount on start (or on authorize)",
                    parameter="authorizedAmount",
                ) from None
            raise CpsError.from_terminal(exc) from None
        if result["status"] != "authorized":
            # "Authorize attempts will be declined" (§3.7): an error with the reason.
            code, text = result.get("response_code"), result.get("response_text")
            raise CpsError(
                402,
                "declined",
                f"authorization declined: {code} {text}",
                session_id=result.get("session_id"),
                response_code=code,
                response_text=text,
                reason=text,
                amount=result.get("amount"),
                currency=result.get("currency"),
            )
        session_id = result["session_id"]
        if receipt_lines:
            self._add_receipt_lines(session_id, receipt_lines)
        return self.session(key, serial, session_id)

    def _session(self, data: Mapping[str, Any], extra: dict[str, Any] | None) -> Session:
        from emulator.cps.models import Session

        extra = extra or {}
        state = data["state"]
        return Session(
            sessionId=data["session_id"],
            serialNumber=data["serial_number"],
            state=state,
            authorizedAmount=int(data["authorized_amount"]),
            currency=data["currency"],
            cardId=data["card_id"],
            maskedPan=data.get("masked_pan"),
            aid=data.get("aid"),
            ifd=_ifd(data.get("medium")),
            brand=data.get("brand"),
            authCode=data.get("auth_code"),
            responseCode=data.get("response_code"),
            increments=[int(i) for i in data.get("increments") or []],
            commitAmount=data.get("commit_amount"),
            capturedAmount=data.get("captured_amount"),
            captureStatus=data.get("capture_status"),
            queued=data.get("queued"),
            receiptLines=list(extra.get("receipt_lines") or []),
            eftData=list(data.get("eft_data") or []),
            createdAt=data["created_at"],
            updatedAt=data["updated_at"],
            completedAt=data.get("completed_at"),
            expiresAt=extra.get("expires_at") if state == "AUTHORIZED" else None,
        )

    def sessions(self, key: ApiKey, serial_number: str) -> list[Session]:
        serial = self._serial(key, serial_number)
        extras = {
            row["session_id"]: row
            for row in self.rt.store.rows(CPS_SESSIONS.name, "serial_number = ?", [serial])
        }
        return [self._session(s, extras.get(s["session_id"])) for s in self.host.sessions(serial)]

    def session(self, key: ApiKey, serial_number: str, session_id: str) -> Session:
        serial = self._serial(key, serial_number)
        try:
            data = self.host.session(serial, session_id)
        except TerminalError as exc:
            raise CpsError.from_terminal(exc) from None
        return self._session(data, self.rt.store.get(CPS_SESSIONS.name, session_id))

    # --- injected commit/cancel failures (emulator/cps/retries.py) -----------------------------

    def take_fault(self, key: ApiKey, serial_number: str, call: str) -> Fault | None:
        return self.faults.take(self._serial(key, serial_number), call)

    async def inject(self, fault: Fault, serial_number: str, call: str) -> None:
        """Carry out an injected failure: raise the error the CSMS gets, or (offline) take the
        terminal off the network, so the call is confirmed and queued as Payter documents."""
        if fault.fault == "error":
            raise CpsError(
                fault.status,
                "injected_fault",
                f"injected failure (POST /__admin/cps/commit-faults): the {call} was not "
                "carried out; retry it",
            )
        if fault.fault == "timeout":
            await self.rt.clock.sleep(fault.hold)
            raise CpsError(
                504,
                "terminal_timeout",
                f"the terminal did not answer the {call} within {fault.hold:g} s (injected); "
                "it was not carried out; retry it",
            )
        await self.host.set_online(serial_number, False)
        old = self._back_online.pop(serial_number, None)
        if old is not None:
            old.cancel()

        async def back() -> None:
            self._back_online.pop(serial_number, None)
            if self.host.exists(serial_number):
                await self.host.set_online(serial_number, True)

        self._back_online[serial_number] = self.rt.clock.call_later(
            fault.offline_for, back, name=f"cps-fault-online:{serial_number}"
        )

    async def commit(
        self,
        key: ApiKey,
        serial_number: str,
        session_id: str,
        amount: int,
        *,
        message: str | None = None,
        message_timeout: float | None = None,
        receipt_lines: Sequence[str] = (),
    ) -> Session:
        serial = self._serial(key, serial_number)
        try:
            await self.host.commit(
                serial, session_id, amount, message=message, message_timeout=message_timeout
            )
        except TerminalError as exc:
            error = CpsError.from_terminal(exc)
            if exc.code == "amount_exceeds_authorization":
                error.findings.append(
                    Finding(
                        "CPS-02",
                        f"commit of {amount} on session {session_id} ({serial}) is above the "
                        f"authorized {exc.details.get('authorized_amount')}",
                        {"serial_number": serial, "session_id": session_id},
                    )
                )
            raise error from None
        # A CPS session committed: the flow a CPS integration's verdict needs.
        self.rt.coverage.ran("CPS-01", None)
        self.rt.coverage.ran("CPS-02", None)
        self.rt.coverage.flow("cps", None, f"session {session_id} on {serial} committed")
        if receipt_lines:
            self._add_receipt_lines(session_id, receipt_lines)
        return self.session(key, serial, session_id)

    async def cancel(
        self,
        key: ApiKey,
        serial_number: str,
        session_id: str,
        *,
        message: str | None = None,
        message_timeout: float | None = None,
        receipt_lines: Sequence[str] = (),
    ) -> Session:
        serial = self._serial(key, serial_number)
        await self._call(
            self.host.cancel(serial, session_id, message=message, message_timeout=message_timeout)
        )
        self.rt.coverage.ran("CPS-01", None)
        if receipt_lines:
            self._add_receipt_lines(session_id, receipt_lines)
        return self.session(key, serial, session_id)

    async def increment(
        self, key: ApiKey, serial_number: str, session_id: str, amount: int
    ) -> Increment:
        """Emulator extension: incremental authorization (Apollo only, §3.9 strategy 1)."""
        from emulator.cps.models import Increment

        serial = self._serial(key, serial_number)
        result = await self._call(self.host.increment(serial, session_id, amount))
        session = self.session(key, serial, session_id)
        if not result["approved"]:
            raise CpsError(
                402,
                "increment_declined",
                f"incremental authorization declined: {result['response_code']} "
                f"{result['response_text']}",
                session_id=session_id,
                response_code=result["response_code"],
                response_text=result["response_text"],
                reason=result["response_text"],
                authorized_amount=session.authorizedAmount,
            )
        return Increment(
            approved=True,
            amount=int(result["extra"]),
            authorizedAmount=int(result["authorized_amount"]),
            responseCode=result["response_code"],
            responseText=result["response_text"],
            session=session,
        )

    def _add_receipt_lines(self, session_id: str, lines: Sequence[str]) -> None:
        row = self.rt.store.get(CPS_SESSIONS.name, session_id)
        if row is None:
            return
        merged = [*(row.get("receipt_lines") or []), *lines]
        self.rt.store.update(CPS_SESSIONS.name, session_id, {"receipt_lines": merged})

    # --- session bookkeeping (from the controller) -------------------------------------------

    def payment_step(self, serial_number: str, step: PaymentStep) -> None:
        if step.step == "authorized":
            self._opened(serial_number, step.session_id)
        elif step.step in _CLOSING_STEPS:
            timer = self._expiry.pop(step.session_id, None)
            if timer is not None:
                timer.cancel()
            if self.rt.store.get(CPS_SESSIONS.name, step.session_id) is not None:
                self.rt.store.update(CPS_SESSIONS.name, step.session_id, {"open": 0})
            if step.step == "expired":
                self.rt.findings.record(
                    "CPS-01",
                    f"session {step.session_id} on {serial_number} was never committed or "
                    "cancelled; the authorization lapsed at the issuer",
                    context={"serial_number": serial_number, "session_id": step.session_id},
                )

    def _opened(self, serial_number: str, session_id: str) -> None:
        now = self.rt.now()
        timeout = self.settings.cps_session_timeout
        expires_at = format_datetime(now + timedelta(seconds=timeout)) if timeout else None
        self.rt.store.upsert(
            CPS_SESSIONS.name,
            {
                "session_id": session_id,
                "serial_number": serial_number,
                "receipt_lines": [],
                "expires_at": expires_at,
                "open": 1,
                "created_at": format_datetime(now),
            },
        )
        if expires_at:
            self._arm_expiry(serial_number, session_id, expires_at)

    def _arm_expiry(self, serial_number: str, session_id: str, expires_at: str) -> None:
        old = self._expiry.pop(session_id, None)
        if old is not None:
            old.cancel()

        async def expire() -> None:
            self._expiry.pop(session_id, None)
            await self._session_timeout(serial_number, session_id)

        self._expiry[session_id] = self.rt.clock.call_at(
            parse_datetime(expires_at), expire, name=f"cps-session-timeout:{session_id}"
        )

    async def _session_timeout(self, serial_number: str, session_id: str) -> None:
        if not self.host.exists(serial_number):
            return
        try:
            data = self.host.session(serial_number, session_id)
        except TerminalError:
            return
        if data["state"] != "AUTHORIZED":
            return
        action = self.settings.cps_session_timeout_action
        amount = int(data["authorized_amount"])
        self.rt.findings.record(
            "CPS-01",
            f"session {session_id} on {serial_number} was neither committed nor cancelled "
            f"within {self.settings.cps_session_timeout:g} s; the session timeout "
            + ("committed the full authorized amount" if action == "commit" else "voided it"),
            context={"serial_number": serial_number, "session_id": session_id, "action": action},
        )
        try:
            if action == "commit":
                await self.host.commit(serial_number, session_id, amount)
            else:
                await self.host.cancel(serial_number, session_id)
        except TerminalError as exc:  # completed in the meantime
            log.info("session timeout found the session closed", error=exc.message)

    def open_sessions(self, serial_number: str | None = None) -> list[Session]:
        """Sessions of CPS terminals neither committed nor cancelled (control API)."""
        out: list[Session] = []
        serials = [serial_number] if serial_number else self.cps_serials()
        for serial in serials:
            device = self.host.device(serial)
            for session in device.open_sessions():
                extra = self.rt.store.get(CPS_SESSIONS.name, session.session_id)
                out.append(self._session(session.as_json(serial), extra))
        return out

    def all_sessions(self, serial_number: str | None = None) -> list[Session]:
        out: list[Session] = []
        serials = [serial_number] if serial_number else self.cps_serials()
        for serial in serials:
            extras = {
                row["session_id"]: row
                for row in self.rt.store.rows(CPS_SESSIONS.name, "serial_number = ?", [serial])
            }
            out.extend(
                self._session(s, extras.get(s["session_id"])) for s in self.host.sessions(serial)
            )
        return out

    def report_open_sessions(self) -> None:
        """Before a report: every open CPS session is a CPS-01b warning (once per session)."""
        sessions = self.open_sessions()
        if sessions or self.cps_serials():
            self.rt.coverage.ran("CPS-01b", None)
        for session in sessions:
            self.rt.findings.record(
                "CPS-01b",
                f"session {session.sessionId} on {session.serialNumber} is still open at report "
                f"time (authorized {session.authorizedAmount} {session.currency} at "
                f"{session.createdAt}); Payter requires a commit or cancel for every session",
                context={"serial_number": session.serialNumber, "session_id": session.sessionId},
                once=True,
            )

    # --- UI ------------------------------------------------------------------------------------

    def ui_terminal(self, key: ApiKey, serial_number: str) -> str:
        """The terminal a ``/ui`` call may show a screen on: unknown (404) or without a display
        (a P6X: 409 ``no_display``) is refused before the body is looked at, so a P6X gets the
        same answer whatever screen is sent."""
        serial = self._serial(key, serial_number)
        model = self.host.device(serial).model
        if not has_screen(model):
            raise CpsError(409, "no_display", p6x_refusal(model, "it cannot show UI screens"))
        return serial

    async def show(
        self, key: ApiKey, serial_number: str, body: Any, callback_url: str | None = None
    ) -> UiResult:
        from emulator.cps.models import UiResult

        serial = self.ui_terminal(key, serial_number)
        result = await self._call(self.host.show(serial, body))
        # UI events of this screen go to this request's callbackUrl (none without one).
        self._set_callback(serial, ui_callback_url=callback_url)
        return UiResult(screenId=str(body["id"]), shown=result["shown"], held=result["held"])

    def ui_event(self, serial_number: str, effect: UiEvent) -> None:
        url = self._callback(serial_number, "ui_callback_url")
        if url:
            body = {
                "serialNumber": serial_number,
                "screenId": effect.screen_id,
                "response": effect.response,
            }
            self.deliveries.enqueue("ui", serial_number, url, body)

    def _set_callback(self, serial_number: str, **urls: str | None) -> None:
        self.rt.store.upsert(
            CPS_TERMINALS.name,
            {"serial_number": serial_number, **urls, "updated_at": format_datetime(self.rt.now())},
        )

    def _callback(self, serial_number: str, column: str) -> str | None:
        row = self.rt.store.get(CPS_TERMINALS.name, serial_number)
        return row.get(column) if row else None

    # --- state webhook -----------------------------------------------------------------------

    def webhook(self, key: ApiKey) -> Webhook:
        from emulator.cps.models import Webhook

        row = self.rt.store.get(CPS_WEBHOOKS.name, key.id)
        return Webhook(url=row["url"] if row else None)

    def set_webhook(self, key: ApiKey, url: str) -> Webhook:
        from emulator.cps.models import Webhook

        self.rt.store.upsert(
            CPS_WEBHOOKS.name,
            {"apikey": key.id, "url": url, "updated_at": format_datetime(self.rt.now())},
        )
        return Webhook(url=url)

    def delete_webhook(self, key: ApiKey) -> Webhook:
        from emulator.cps.models import Webhook

        self.rt.store.delete(CPS_WEBHOOKS.name, key.id)
        return Webhook(url=None)

    def state_changed(self, serial_number: str, effect: StateChanged) -> None:
        body = {"serialNumber": serial_number, "online": effect.online, "state": effect.state}
        urls: dict[str, None] = {}
        for row in self.rt.store.rows(CPS_WEBHOOKS.name, order_by="updated_at"):
            key = self._key(row["apikey"])
            if key is not None and key.sees(serial_number):
                urls.setdefault(row["url"], None)
        for url in urls:  # one delivery per URL, even when several keys chose it
            self.deliveries.enqueue("state", serial_number, url, body)

    def _key(self, key_id: str) -> ApiKey | None:
        return self.keys.get(key_id)
