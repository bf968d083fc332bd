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
from emulator.ptp import checks
from emulator.settings import version_key

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
        obj = self.ptp.sessions.object(cc, pid, req.params["session_id"])
        if obj is None:
            raise OcpiError(status.CLIENT_ERROR, "unknown session", http_status=404)
        return obj

    def _check_against_command(self, req: OcpiRequest, session: dict[str, Any]) -> None:
        """Sessions we started: token and authorization_reference echoed (5.4 #35, #36)."""
        command = self.ptp.commands.start_for(session)
        if command is None or version_key(req.version or "2.2.1") < (2, 2):
            return
        for p in checks.check_against_start(session, command, "Session"):
            req.finding(p.rule, p.message, pointer=p.pointer)

    async def _store(
        self,
        req: OcpiRequest,
        session: dict[str, Any],
        previous: dict[str, Any] | None,
        cc: str,
        pid: str,
    ) -> bool:
        platform = req.require_platform()
        created = self.ptp.sessions.save(
            session,
            platform_id=platform.id,
            version=req.version,
            source="push",
            now=req.rt.now(),
            country_code=cc,
            party_id=pid,
            status=session.get("status"),
            authorization_reference=session.get("authorization_reference"),
        )
        row = self.ptp.sessions.get(cc, pid, str(session["id"]))
        req.rt.bus.publish(
            "ocpi.session",
            platform_id=platform.id,
            session_id=session["id"],
            status=session.get("status"),
            kwh=session.get("kwh"),
            authorization_reference=session.get("authorization_reference"),
            total_cost=session.get("total_cost"),
        )
        await self.ptp.notify(self.ptp.session_listeners, row, previous)
        return created

    async def put(self, req: OcpiRequest) -> OcpiResult:
        cc, pid = req.require_owner()
        session = req.parse(model_for(req.version or "2.2.1", "Session"), what="Session").dump()
        problems = checks.check_url_matches(session, cc, pid, req.params["session_id"])
        for p in problems:
            req.finding(p.rule, p.message, pointer=p.pointer)
        if problems:
            raise OcpiError(status.INVALID_PARAMETERS, problems[0].message)
        previous = self.ptp.sessions.object(cc, pid, req.params["session_id"])
        for p in checks.check_session_change(previous, session):
            req.finding(p.rule, p.message, pointer=p.pointer, severity=p.severity)
        self._check_against_command(req, session)
        created = await self._store(req, session, previous, cc, pid)
        return OcpiResult(http_status=201 if created else 200, omit_data=True)

    async def patch(self, req: OcpiRequest) -> OcpiResult:
        cc, pid = req.require_owner()
        model = partial_model(model_for(req.version or "2.2.1", "Session"))
        changes = req.parse(model, what="Session PATCH").model_dump(
            mode="json", exclude_unset=True, by_alias=True
        )
        if "last_updated" not in changes:
            req.finding("OCPI-31", "Session PATCH without last_updated", pointer="/last_updated")
            raise OcpiError(status.INVALID_PARAMETERS, "a PATCH must contain last_updated")
        previous = self.ptp.sessions.object(cc, pid, req.params["session_id"])
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
        for p in checks.check_session_change(previous, session, patch=changes):
            req.finding(p.rule, p.message, pointer=p.pointer, severity=p.severity)
        self._check_against_command(req, session)
        await self._store(req, session, previous, cc, pid)
        return OcpiResult(omit_data=True)
