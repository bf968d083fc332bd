"""``/__admin/faults``: add, list, read and remove injected faults (emulator/faults.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import ValidationError

from emulator.control.http import ADMIN_PREFIX, ControlError, json_body, ok, path_int
from emulator.faults import FaultSpec

if TYPE_CHECKING:
    from emulator.runtime import Runtime


def add_routes(app: web.Application, rt: Runtime) -> None:
    h = _Handlers(rt)
    p = f"{ADMIN_PREFIX}/faults"
    app.router.add_get(p, h.list)
    app.router.add_post(p, h.add)
    app.router.add_delete(p, h.clear)
    app.router.add_get(p + "/{id}", h.one)
    app.router.add_delete(p + "/{id}", h.remove)


class _Handlers:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _id(self, request: web.Request) -> int:
        return path_int(request, "id", "fault id")

    async def list(self, request: web.Request) -> web.Response:
        only_active = request.query.get("active") in ("1", "true")
        faults = [f.public() for f in self.rt.faults.list() if f.active or not only_active]
        return ok(faults)

    async def add(self, request: web.Request) -> web.Response:
        body = await json_body(request, required=True)
        try:
            spec = FaultSpec.model_validate(body)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or 'fault'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
            raise ControlError(
                400, "invalid_fault", "; ".join(problems), problems=problems
            ) from None
        return ok(self.rt.faults.add(spec).public(), status=201)

    async def one(self, request: web.Request) -> web.Response:
        fault = self.rt.faults.get(self._id(request))
        if fault is None:
            raise ControlError(404, "not_found", f"no fault {request.match_info['id']}")
        return ok(fault.public())

    async def remove(self, request: web.Request) -> web.Response:
        fault = self.rt.faults.remove(self._id(request))
        if fault is None:
            raise ControlError(404, "not_found", f"no fault {request.match_info['id']}")
        return ok(fault.public())

    async def clear(self, request: web.Request) -> web.Response:
        removed = len(self.rt.faults.list())
        self.rt.faults.clear()
        return ok({"removed": removed})
