"""CDRs Receiver (mod_cdrs.asciidoc): ``POST {cdrs}`` with a complete CDR, answered with a
``Location`` header; ``GET`` of that URL returns it. CDRs are final: a second POST of the same
id is refused, and there is no PUT, PATCH or DELETE."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.ocpi import status
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import Module, OcpiRequest, OcpiResult, Route

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
            platform.id, req.params["country_code"], req.params["party_id"], req.params["cdr_id"]
        )
        if row is None or row["platform_id"] != platform.id:
            raise OcpiError(status.CLIENT_ERROR, "unknown CDR", http_status=404)
        return row["object"]

    async def post(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        version = req.version or "2.2.1"
        cdr = req.parse(model_for(version, "CDR"), what="CDR").dump()
        role = platform.primary_role("CPO") or {}
        # 2.1.1 CDRs carry no owner: it is the platform's (only) CPO role.
        cc = str(cdr.get("country_code", role.get("country_code")) or "")
        pid = str(cdr.get("party_id", role.get("party_id")) or "")
        if "country_code" in cdr and not platform.owns(cc, pid):
            req.finding(
                "OCPI-28",
                f"CDR owned by {cc}/{pid}, which is not among the platform's CredentialsRoles",
                pointer="/country_code",
            )
            raise OcpiError(
                status.INVALID_PARAMETERS, f"{cc}/{pid} is not a party of this platform"
            )
        location = f"{req.server.endpoint_url(version, 'cdrs')}/{cc}/{pid}/{cdr['id']}"
        existing = self.ptp.cdrs.get(platform.id, cc, pid, str(cdr["id"]))
        if existing is not None and existing["source"] == "poll":
            # Pulled from the CPO's Sender before this, its first POST, reached us (the
            # emulator was down, or pulled before a deadline): it is the one we have.
            req.rt.store.update(self.ptp.cdrs.table, existing["key"], {"source": "push"})
            return OcpiResult(http_status=201, headers={"Location": location}, omit_data=True)
        if existing is not None:
            req.finding(
                "OCPI-37",
                f"CDR {cdr['id']} was already POSTed; CDRs are sent once "
                "(corrections are credit CDRs with a new id)",
                pointer="/id",
            )
            raise OcpiError(status.INVALID_PARAMETERS, f"CDR {cdr['id']} already received")
        command = self.ptp.start_of(cdr)
        for p in self.ptp.cdr_problems(platform, version, cdr, cc, pid, command=command):
            req.finding(p.rule, p.message, pointer=p.pointer)
        await self.ptp.store_cdr(platform, version, cdr, cc, pid, source="push", command=command)
        return OcpiResult(http_status=201, headers={"Location": location}, omit_data=True)
