"""Sessions Receiver (mod_sessions.asciidoc): ``{sessions}/{country_code}/{party_id}/{session_id}``.

PUT creates or replaces the whole Session (including replacing ``charging_periods``); PATCH
changes fields and *appends* the charging periods it carries, and must contain
``last_updated``. Sessions the emulator started (START_SESSION) are checked against the
command: the same token (cdr_token) and ``authorization_reference``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.ocpi import status
from emulator.ocpi.models.base import partial_model
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import Module, OcpiRequest, OcpiResult, Route
from emulator.ocpi.types import format_datetime
from emulator.ptp import checks

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

PATH = "/{country_code}/{party_id}/{session_id}"


class SessionsReceiver(Module):
    id = "sessions"
    interface = "RECEIVER"
    versions = ("2.1.1", "2.2.1", "2.3.0")

    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp

    def routes(self) -> list[Route]:
        return [
            Route("GET", PATH, self.get),
            Route("PUT", PATH, self.put),
            Route("PATCH", PATH, self.patch),
        ]

    async def get(self, req: OcpiRequest) -> Any:
        cc, pid = req.require_owner()
        obj = self.ptp.sessions.object(req.require_platform().id, cc, pid, req.params["session_id"])
        if obj is None:
            raise OcpiError(status.CLIENT_ERROR, "unknown session", http_status=404)
        return obj

    def _report(self, req: OcpiRequest, problems: list[checks.Problem]) -> None:
        for p in problems:
            req.finding(p.rule, p.message, pointer=p.pointer)

    async def put(self, req: OcpiRequest) -> OcpiResult:
        cc, pid = req.require_owner()
        session = req.parse(model_for(req.version or "2.2.1", "Session"), what="Session").dump()
        problems = checks.check_url_matches(session, cc, pid, req.params["session_id"])
        for p in problems:
            req.finding(p.rule, p.message, pointer=p.pointer)
        if problems:
            raise OcpiError(status.INVALID_PARAMETERS, problems[0].message)
        previous = self.ptp.sessions.object(
            req.require_platform().id, cc, pid, req.params["session_id"]
        )
        created = await self._take(req, session, previous, cc, pid)
        return OcpiResult(http_status=201 if created else 200, omit_data=True)

    async def patch(self, req: OcpiRequest) -> OcpiResult:
        cc, pid = req.require_owner()
        model = partial_model(model_for(req.version or "2.2.1", "Session"))
        changes = req.parse(model, what="Session PATCH").model_dump(
            mode="json", exclude_unset=True, by_alias=True
        )
        if "last_updated" not in changes:
            if req.version == "2.1.1":
                # 2.1.1 has no such rule (its own PATCH example is {"status": "CHARGING"}).
                changes["last_updated"] = format_datetime(req.rt.now())
            else:
                req.finding(
                    "OCPI-31", "Session PATCH without last_updated", pointer="/last_updated"
                )
                raise OcpiError(status.INVALID_PARAMETERS, "a PATCH must contain last_updated")
        previous = self.ptp.sessions.object(
            req.require_platform().id, cc, pid, req.params["session_id"]
        )
        if previous is None:
            raise OcpiError(
                status.INVALID_PARAMETERS,
                f"unknown session {req.params['session_id']}: PUT it first",
            )
        if "id" in changes and str(changes["id"]).upper() != req.params["session_id"].upper():
            req.finding("OCPI-29", "PATCH body id differs from the URL", pointer="/id")
            raise OcpiError(status.INVALID_PARAMETERS, "id in the body differs from the URL")
        session = dict(previous)
        periods = changes.pop("charging_periods", None) or []
        session.update(changes)
        # PATCH appends charging periods; an empty or absent list changes nothing.
        session["charging_periods"] = list(previous.get("charging_periods") or []) + periods
        await self._take(req, session, previous, cc, pid, patch=changes)
        return OcpiResult(omit_data=True)

    async def _take(
        self,
        req: OcpiRequest,
        session: dict[str, Any],
        previous: dict[str, Any] | None,
        cc: str,
        pid: str,
        *,
        patch: dict[str, Any] | None = None,
    ) -> bool:
        """Check the Session's new state against its START_SESSION (found once) and store
        it; True if it is new."""
        command = self.ptp.start_of(session)
        problems = self.ptp.session_problems(
            req.version or "2.2.1", previous, session, patch=patch, command=command
        )
        self._report(req, problems)
        return await self.ptp.store_session(
            req.require_platform(),
            req.version,
            session,
            previous,
            cc,
            pid,
            source="push",
            command=command,
        )
