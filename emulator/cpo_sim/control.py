"""The simulated CPO's own control routes under ``/__admin/``: act as the driver's car and as
the CPO's operator, look at what it received, switch presets. Plain JSON, like the rest of the
control API (:mod:`emulator.control.api`, which every node has as well).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator.control.http import (
    ADMIN_PREFIX,
    ControlError,
    error,
    field,
    json_body,
    ok,
    query_int,
)
from emulator.cpo_sim.presets import PRESETS
from emulator.cpo_sim.runs import ControlFailure
from emulator.cpo_sim.state import Objects, key_of

if TYPE_CHECKING:
    from emulator.cpo_sim.node import CpoSimNode


def add_routes(app: web.Application, node: CpoSimNode) -> None:
    h = _Handlers(node)
    p = ADMIN_PREFIX
    r = app.router
    r.add_get(f"{p}/evses", h.evses)
    r.add_get(f"{p}/evses/{{uid}}", h.evse)
    r.add_post(f"{p}/evses/{{uid}}/plug-in", h.plug_in)
    r.add_post(f"{p}/evses/{{uid}}/unplug", h.unplug)
    r.add_post(f"{p}/evses/{{uid}}/ev-full", h.ev_full)
    r.add_post(f"{p}/evses/{{uid}}/out-of-order", h.fault("out-of-order"))
    r.add_post(f"{p}/evses/{{uid}}/offline", h.fault("offline"))
    r.add_post(f"{p}/evses/{{uid}}/repair", h.fault("repair"))
    r.add_get(f"{p}/sessions", h.listing("sessions"))
    r.add_post(f"{p}/sessions/{{id}}/stop", h.stop_session)
    r.add_get(f"{p}/cdrs", h.listing("cdrs"))
    r.add_get(f"{p}/commands", h.listing("commands"))
    r.add_get(f"{p}/tokens", h.listing("tokens"))
    r.add_get(f"{p}/terminals", h.listing("terminals"))
    r.add_post(f"{p}/terminals/{{id}}/assign", h.assign_terminal)
    r.add_post(f"{p}/terminals/activate", h.activate_terminal)
    r.add_get(f"{p}/financial-advice-confirmations", h.listing("facs"))
    r.add_get(f"{p}/preset", h.preset)
    r.add_put(f"{p}/preset", h.set_preset)
    r.add_post(f"{p}/preset", h.set_preset)
    r.add_post(f"{p}/locations/push", h.push_locations)
    # Not control: where a driver finds the invoice when the CPO invoices (mod_payments,
    # InvoiceCreator CPO: invoice_base_url + authorization_reference).
    r.add_get("/invoices/{reference}", h.invoice)


class _Handlers:
    def __init__(self, node: CpoSimNode) -> None:
        self.node = node
        self.backend = node.backend

    async def _act(self, coro: Any) -> Any:
        try:
            return await coro
        except ControlFailure as exc:
            raise ControlError(exc.http_status, exc.code, exc.message) from None

    def _evse_json(self, uid: str) -> dict[str, Any]:
        evse = self.backend.evse(uid)
        return evse.describe()

    async def evses(self, request: web.Request) -> web.Response:
        return ok([e.describe() for e in self.backend.evses.values()])

    async def evse(self, request: web.Request) -> web.Response:
        try:
            return ok(self._evse_json(request.match_info["uid"]))
        except ControlFailure as exc:
            raise ControlError(exc.http_status, exc.code, exc.message) from None

    async def plug_in(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        number = (int, float)
        evse = await self._act(
            self.backend.chargers.plug_in(
                request.match_info["uid"],
                battery_kwh=_positive(field(body, "battery_kwh", number, required=False)),
                soc=_percent(field(body, "soc", number, required=False)),
                max_power_kw=_positive(field(body, "max_power_kw", number, required=False)),
                connector_id=field(body, "connector_id", str, required=False),
            )
        )
        return ok(evse.describe())

    async def unplug(self, request: web.Request) -> web.Response:
        evse = await self._act(self.backend.chargers.unplug(request.match_info["uid"]))
        return ok(evse.describe())

    async def ev_full(self, request: web.Request) -> web.Response:
        evse = await self._act(self.backend.chargers.ev_full(request.match_info["uid"]))
        return ok(evse.describe())

    def fault(self, kind: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            evse = await self._act(self.backend.chargers.set_fault(request.match_info["uid"], kind))
            return ok(evse.describe())

        return handle

    async def stop_session(self, request: web.Request) -> web.Response:
        session_id = request.match_info["id"]
        row = self.backend.sessions.get(key_of(session_id))
        if row is None:
            raise ControlError(404, "not_found", f"no session {session_id}")
        ended = await self.backend.charging.end_session(row["object"]["id"], "stopped by the CPO")
        if not ended:
            raise ControlError(409, "not_running", f"session {session_id} is not running")
        row = self.backend.sessions.get(key_of(session_id))
        assert row is not None
        return ok(_row(row))

    def listing(self, what: str) -> Any:
        objects: Objects = getattr(self.backend, what)

        async def handle(request: web.Request) -> web.Response:
            limit = query_int(request, "limit", 200) or 200
            return ok([_row(r) for r in objects.recent(limit)])

        return handle

    async def assign_terminal(self, request: web.Request) -> web.Response:
        terminal_id = request.match_info["id"]
        if self.backend.payments.terminal(terminal_id) is None:
            raise ControlError(404, "not_found", f"no terminal {terminal_id}")
        delivery = await self.backend.payments.assign_terminal(terminal_id)
        return ok(delivery.as_json() if delivery else {"assigned": False})

    async def activate_terminal(self, request: web.Request) -> web.Response:
        body = await json_body(request, required=True)
        reference = field(body, "reference", str)
        platform_id = field(body, "platform_id", int, required=False)
        delivery = await self.backend.payments.activate_terminal(reference, platform_id)
        if not delivery.ok:
            raise ControlError(
                409,
                "not_activated",
                f"the PTP did not take the activation: {delivery.error or delivery.http_status}",
                delivery=delivery.as_json(),
            )
        return ok(delivery.as_json())

    async def preset(self, request: web.Request) -> web.Response:
        presets = self.node.presets
        return ok({"preset": presets.text, "presets": presets.describe()})

    async def set_preset(self, request: web.Request) -> web.Response:
        body = await json_body(request, required=True)
        text = field(body, "preset", str)
        try:
            self.node.presets.set(text)
        except ValueError as exc:
            raise ControlError(400, "invalid_field", str(exc), known=list(PRESETS)) from None
        return await self.preset(request)

    async def push_locations(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        platform_id = field(body, "platform_id", int, required=False)
        return ok(await self.backend.pushes.push_locations(platform_id))

    async def invoice(self, request: web.Request) -> web.Response:
        found = self.backend.payments.invoice(request.match_info["reference"])
        if found is None:
            return error(404, "not_found", "no invoice for this authorization_reference")
        return ok(found)


def _row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("key", "seq", "updated_us", "object")}
    out["object"] = row["object"]
    return out


def _positive(value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise ControlError(400, "invalid_field", "values must be greater than 0")
    return value


def _percent(value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 100:
        raise ControlError(400, "invalid_field", "'soc' must be between 0 and 100")
    return value
