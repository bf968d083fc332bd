"""CDRs Receiver (mod_cdrs.asciidoc): ``POST {cdrs}`` with a complete CDR, answered with a
``Location`` header; ``GET`` of that URL returns it. CDRs are final: a second POST of the same
id is refused, and there is no PUT, PATCH or DELETE."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.ocpi import status
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.pricing import check_cdr_totals
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import Module, OcpiRequest, OcpiResult, Route
from emulator.ptp import checks
from emulator.settings import version_key

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

ONE = "/{country_code}/{party_id}/{cdr_id}"


class CdrsReceiver(Module):
    id = "cdrs"
    interface = "RECEIVER"
    versions = ("2.1.1", "2.2.1", "2.3.0")

    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp

    def routes(self) -> list[Route]:
        return [Route("POST", "", self.post), Route("GET", ONE, self.get)]

    async def get(self, req: OcpiRequest) -> Any:
        platform = req.require_platform()
        row = self.ptp.cdrs.get(
            req.params["country_code"], req.params["party_id"], req.params["cdr_id"]
        )
        if row is None or row["platform_id"] != platform.id:
            raise OcpiError(status.CLIENT_ERROR, "unknown CDR", http_status=404)
        return row["object"]

    async def post(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        version = req.version or "2.2.1"
        cdr = req.parse(model_for(version, "CDR"), what="CDR").dump()
        role = platform.primary_role("CPO") or {}
        cc = cdr.get("country_code", role.get("country_code"))
        pid = cdr.get("party_id", role.get("party_id"))
        if "country_code" in cdr and not platform.owns(cc, pid):
            req.finding(
                "OCPI-28",
                f"CDR owned by {cc}/{pid}, which is not among the platform's CredentialsRoles",
                pointer="/country_code",
            )
            raise OcpiError(
                status.INVALID_PARAMETERS, f"{cc}/{pid} is not a party of this platform"
            )
        if self.ptp.cdrs.get(cc, pid, str(cdr["id"])) is not None:
            req.finding(
                "OCPI-37",
                f"CDR {cdr['id']} was already POSTed; CDRs are sent once "
                "(corrections are credit CDRs with a new id)",
                pointer="/id",
            )
            raise OcpiError(status.INVALID_PARAMETERS, f"CDR {cdr['id']} already received")
        modern = version_key(version) >= (2, 2)
        if modern and not cdr.get("credit") and len(str(cdr["id"])) > 36:
            req.finding("OCPI-37", "a non-credit CDR id is at most 36 characters", pointer="/id")
        if cdr.get("credit"):
            ref = cdr.get("credit_reference_id")
            if not ref or self.ptp.cdrs.get(cc, pid, str(ref)) is None:
                req.finding(
                    "OCPI-37",
                    f"credit CDR refers to {ref!r}, not a CDR we received",
                    pointer="/credit_reference_id",
                    severity="warning",
                )
        session = None
        if cdr.get("session_id"):
            session = self.ptp.sessions.object(cc, pid, str(cdr["session_id"]))
            if session is None:
                req.finding(
                    "OCPI-39",
                    f"CDR session_id {cdr['session_id']!r} is not a session we received",
                    pointer="/session_id",
                )
        tariff = None
        for problem in check_cdr_totals(cdr, version=version, tariff=tariff):
            req.finding(
                problem.rule,
                problem.message,
                pointer=problem.pointer,
                severity="warning" if problem.rule == "OCPI-38" else None,
            )
        self._check_against_command(req, cdr, modern)
        self.ptp.cdrs.save(
            cdr,
            platform_id=platform.id,
            version=version,
            source="push",
            now=req.rt.now(),
            country_code=cc,
            party_id=pid,
            authorization_reference=cdr.get("authorization_reference"),
            session_id=cdr.get("session_id"),
        )
        location = f"{req.server.endpoint_url(version, 'cdrs')}/{cc}/{pid}/{cdr['id']}"
        req.rt.bus.publish(
            "ocpi.cdr",
            platform_id=platform.id,
            cdr_id=cdr["id"],
            authorization_reference=cdr.get("authorization_reference"),
            total_cost=cdr.get("total_cost"),
            session_id=cdr.get("session_id"),
        )
        row = self.ptp.cdrs.get(cc, pid, str(cdr["id"]))
        await self.ptp.notify(self.ptp.cdr_listeners, row)
        return OcpiResult(http_status=201, headers={"Location": location}, omit_data=True)

    def _check_against_command(self, req: OcpiRequest, cdr: dict[str, Any], modern: bool) -> None:
        command = self.ptp.commands.start_for(cdr)
        if command is None or not modern:
            return
        for p in checks.check_against_start(cdr, command, "CDR"):
            req.finding(p.rule, p.message, pointer=p.pointer)
