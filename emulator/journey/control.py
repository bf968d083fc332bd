"""Control API of the journey: every card payment, its money state and its OCPI trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from emulator.control.http import ADMIN_PREFIX, ControlError, ok, query_int
from emulator.journey.records import STATES

if TYPE_CHECKING:
    from emulator.journey.controller import JourneyController


def add_routes(app: web.Application, journey: JourneyController) -> None:
    async def list_journeys(request: web.Request) -> web.Response:
        state = request.query.get("state")
        if state and state not in STATES:
            raise ControlError(
                400, "invalid_parameter", f"no journey state {state!r}", accepted=list(STATES)
            )
        limit = query_int(request, "limit", 500)
        if limit is None or limit < 1:
            raise ControlError(400, "invalid_parameter", "'limit' must be at least 1")
        rows = journey.records.all(
            serial=request.query.get("serial_number"), state=state, limit=limit
        )
        return ok([journey.view(r) for r in rows])

    async def one(request: web.Request) -> web.Response:
        row = journey.records.get(request.match_info["id"])
        if row is None:
            raise ControlError(404, "not_found", f"no journey {request.match_info['id']}")
        return ok(journey.view(row))

    app.router.add_get(f"{ADMIN_PREFIX}/journeys", list_journeys)
    app.router.add_get(f"{ADMIN_PREFIX}/journeys/{{id}}", one)
