"""Control API of the CPS side: API keys, open sessions, the webhook delivery queue.

``POST /__admin/cps/api-keys`` mints a key (optional ``{"serial_numbers": [...], "label"}``;
without serial numbers the key sees every CPS terminal) and answers ``{"apikey", "token", ...}``
(``token`` is what ``GET /cps/apikey?token=`` exchanges for the key). ``GET
/__admin/cps/sessions?open=1`` lists the sessions neither committed nor cancelled (Payter
requires every session to end in one of them, payter.md §3.9). ``GET /__admin/cps/deliveries``
shows the webhook queue with each delivery's attempts and next due time.
"""

from __future__ import annotations

from aiohttp import web

from emulator.control.http import ADMIN_PREFIX, ControlError, field, json_body, ok, query_int
from emulator.cps.service import MODE, CloudPaymentService


def add_routes(app: web.Application, service: CloudPaymentService) -> None:
    h = _Handlers(service)
    p = f"{ADMIN_PREFIX}/cps"
    r = app.router
    r.add_post(f"{p}/api-keys", h.mint_key)
    r.add_get(f"{p}/api-keys", h.keys)
    r.add_get(f"{p}/sessions", h.sessions)
    r.add_get(f"{p}/deliveries", h.deliveries)


class _Handlers:
    def __init__(self, service: CloudPaymentService) -> None:
        self.service = service

    async def mint_key(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        serials = field(body, "serial_numbers", list, required=False)
        label = field(body, "label", str, required=False)
        if serials is not None and not all(isinstance(s, str) and s for s in serials):
            raise ControlError(
                400, "invalid_field", "'serial_numbers' must be a list of serial numbers"
            )
        return ok(self.service.keys.mint(serials, label), status=201)

    async def keys(self, request: web.Request) -> web.Response:
        return ok(self.service.keys.listing())

    async def sessions(self, request: web.Request) -> web.Response:
        serial = request.query.get("serial_number") or None
        if serial is not None and (
            not self.service.host.exists(serial) or self.service.host.mode(serial) != MODE
        ):
            raise ControlError(404, "not_found", f"no CPS terminal {serial!r}")
        only_open = request.query.get("open", "").lower() in ("1", "true", "yes")
        sessions = (
            self.service.open_sessions(serial) if only_open else self.service.all_sessions(serial)
        )
        return ok([s.dump() for s in sessions])

    async def deliveries(self, request: web.Request) -> web.Response:
        state = request.query.get("state") or None
        limit = query_int(request, "limit", 200) or 200
        return ok(self.service.deliveries.list(state=state, limit=limit))
