"""Control API of the CPS side: API keys, open sessions, the webhook delivery queue.

``POST /__admin/cps/api-keys`` mints a key (optional ``{"serial_numbers": [...], "label"}``;
without serial numbers the key sees every CPS terminal) and answers ``{"apikey", "token", ...}``
(``token`` is what ``GET /cps/apikey?token=`` exchanges for the key). ``GET
/__admin/cps/sessions?open=1`` lists the sessions neither committed nor cancelled (Payter
requires every session to end in one of them, payter.md §3.9). ``GET /__admin/cps/deliveries``
shows the webhook queue with each delivery's attempts and next due time.

``POST /__admin/cps/commit-faults`` injects failures into the next commit/cancel calls (a 5xx,
a timeout, the terminal going offline); ``GET /__admin/cps/retries`` says, per session, whether
the CSMS retried on Payter's ladder and stopped on HTTP 200 or 409 (emulator/cps/retries.py).
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from emulator.control.http import ADMIN_PREFIX, ControlError, field, json_body, ok, query_int
from emulator.cps.retries import CALLS, FAULTS
from emulator.cps.service import MODE, CloudPaymentService


def add_routes(app: web.Application, service: CloudPaymentService) -> None:
    h = _Handlers(service)
    p = f"{ADMIN_PREFIX}/cps"
    r = app.router
    r.add_post(f"{p}/api-keys", h.mint_key)
    r.add_get(f"{p}/api-keys", h.keys)
    r.add_get(f"{p}/sessions", h.sessions)
    r.add_get(f"{p}/deliveries", h.deliveries)
    r.add_post(f"{p}/commit-faults", h.add_fault)
    r.add_get(f"{p}/commit-faults", h.faults)
    r.add_delete(f"{p}/commit-faults", h.clear_faults)
    r.add_get(f"{p}/retries", h.retries)


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

    # --- commit/cancel faults and the CSMS's retries ------------------------------------------

    def _cps_serial(self, serial: str | None) -> str | None:
        if serial is not None and (
            not self.service.host.exists(serial) or self.service.host.mode(serial) != MODE
        ):
            raise ControlError(404, "not_found", f"no CPS terminal {serial!r}")
        return serial

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await json_body(request, required=True)
        fault = field(body, "fault", str)
        if fault not in FAULTS:
            raise ControlError(400, "invalid_field", f"'fault' must be one of {', '.join(FAULTS)}")
        calls = field(body, "calls", list, required=False, default=list(CALLS))
        if not calls or not all(c in CALLS for c in calls):
            raise ControlError(400, "invalid_field", "'calls' must list 'commit' and/or 'cancel'")
        values: dict[str, Any] = {
            "fault": fault,
            "calls": tuple(calls),
            "serial_number": self._cps_serial(field(body, "serial_number", str, required=False)),
            "times": field(body, "times", int, required=False, default=1),
        }
        if values["times"] < 1:
            raise ControlError(400, "invalid_field", "'times' must be at least 1")
        status = field(body, "status", int, required=False, default=503)
        if not 500 <= status <= 599:
            raise ControlError(400, "invalid_field", "'status' must be a 5xx HTTP status")
        values["status"] = status
        defaults = {"hold": self.service.settings.commit_timeout, "offline_for": 60}
        for name in ("hold", "offline_for"):
            seconds = field(body, name, (int, float), required=False, default=defaults[name])
            if not math.isfinite(seconds) or not 0 <= seconds <= 86400:
                raise ControlError(400, "invalid_field", f"'{name}' must be 0-86400 seconds")
            values[name] = float(seconds)
        return ok(self.service.faults.add(**values).dump(), status=201)

    async def faults(self, request: web.Request) -> web.Response:
        return ok([f.dump() for f in self.service.faults.faults])

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.service.faults.clear()
        return ok([])

    async def retries(self, request: web.Request) -> web.Response:
        serial = self._cps_serial(request.query.get("serial_number") or None)
        return ok(self.service.retries.verdicts(serial))
