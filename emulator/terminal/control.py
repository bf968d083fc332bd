"""Control API of the virtual terminals: what a person (the TUI) or a test does at a terminal.

Present a card, press a key, pull the network cable, force an outcome, look at the screen.
Creating and listing terminals (``POST``/``GET /__admin/terminals``) is not here: it also
creates Payter's OCPI Terminal object and lives with the Payments module, which calls
:meth:`TerminalHost.create` and :meth:`TerminalHost.list`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.control.http import ADMIN_PREFIX, ControlError, field, json_body, ok
from emulator.terminal.cards import FORCEABLE_OUTCOMES, Medium
from emulator.terminal.device import ErrorKind, TerminalError
from emulator.terminal.host import TerminalHost

_STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 409,
}


def add_routes(app: web.Application, host: TerminalHost) -> None:
    p = f"{ADMIN_PREFIX}/terminals/{{serial}}"
    h = _Handlers(host)
    r = app.router
    r.add_get(p, h.terminal)
    r.add_post(f"{p}/present-card", h.present_card)
    r.add_post(f"{p}/press", h.press)
    r.add_post(f"{p}/offline", h.offline)
    r.add_post(f"{p}/online", h.online)
    r.add_post(f"{p}/outcome", h.outcome)
    r.add_get(f"{p}/sessions", h.sessions)
    r.add_get(f"{ADMIN_PREFIX}/cards", h.cards)

    async def restore(app: web.Application) -> None:
        await host.start()

    app.on_startup.append(restore)


def control_error(exc: TerminalError) -> ControlError:
    return ControlError(_STATUS[exc.kind], exc.code, exc.message, **exc.details)


class _Handlers:
    def __init__(self, host: TerminalHost) -> None:
        self.host = host

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except TerminalError as exc:
            raise control_error(exc) from None

    def _serial(self, request: web.Request) -> str:
        serial = request.match_info["serial"]
        if not self.host.exists(serial):
            raise ControlError(404, "not_found", f"no terminal {serial!r}")
        return serial

    async def terminal(self, request: web.Request) -> web.Response:
        return ok(self.host.get(self._serial(request)))

    async def sessions(self, request: web.Request) -> web.Response:
        return ok(self.host.sessions(self._serial(request)))

    async def present_card(self, request: web.Request) -> web.Response:
        serial = self._serial(request)
        body = await json_body(request, required=True)
        card = field(body, "card", str)
        medium = field(body, "medium", str, required=False, default=Medium.CONTACTLESS.value)
        return ok(await self._call(self.host.present_card(serial, card, medium)))

    async def press(self, request: web.Request) -> web.Response:
        serial = self._serial(request)
        body = await json_body(request, required=True)
        key = field(body, "key", str)
        return ok(await self._call(self.host.press(serial, key)))

    async def offline(self, request: web.Request) -> web.Response:
        return ok(await self._call(self.host.set_online(self._serial(request), False)))

    async def online(self, request: web.Request) -> web.Response:
        return ok(await self._call(self.host.set_online(self._serial(request), True)))

    async def outcome(self, request: web.Request) -> web.Response:
        serial = self._serial(request)
        body = await json_body(request, required=True)
        if "outcome" not in body:
            raise ControlError(
                400,
                "missing_field",
                "'outcome' is required (null restores the cards' own outcomes)",
                accepted=list(FORCEABLE_OUTCOMES),
            )
        outcome = field(body, "outcome", str, required=False)
        return ok(await self._call(self.host.force_outcome(serial, outcome)))

    async def cards(self, request: web.Request) -> web.Response:
        return ok([card.as_json() for card in self.host.cards.all()])
