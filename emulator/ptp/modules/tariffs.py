"""Tariffs Receiver (mod_tariffs.asciidoc): GET, PUT and DELETE of
``{tariffs}/{country_code}/{party_id}/{tariff_id}``. There is no PATCH since 2.2 (answered
405 with a finding)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.ocpi import status
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import Module, OcpiRequest, OcpiResult, Route
from emulator.ptp import checks

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

PATH = "/{country_code}/{party_id}/{tariff_id}"


class TariffsReceiver(Module):
    id = "tariffs"
    interface = "RECEIVER"
    versions = ("2.1.1", "2.2.1", "2.3.0")

    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp

    def routes(self) -> list[Route]:
        return [
            Route("GET", PATH, self.get),
            Route("PUT", PATH, self.put),
            Route("DELETE", PATH, self.delete),
        ]

    async def get(self, req: OcpiRequest) -> Any:
        cc, pid = req.require_owner()
        row = self.ptp.mirror.tariffs.get(
            req.require_platform().id, cc, pid, req.params["tariff_id"]
        )
        if row is None or not row["valid"]:
            raise OcpiError(status.CLIENT_ERROR, "unknown tariff", http_status=404)
        return row["object"]

    async def put(self, req: OcpiRequest) -> OcpiResult:
        cc, pid = req.require_owner()
        tariff = req.parse(model_for(req.version or "2.2.1", "Tariff"), what="Tariff").dump()
        problems = checks.check_url_matches(tariff, cc, pid, req.params["tariff_id"])
        for p in problems:
            req.finding(p.rule, p.message, pointer=p.pointer)
        if problems:
            raise OcpiError(status.INVALID_PARAMETERS, problems[0].message)
        if not tariff.get("tariff_alt_text"):
            req.finding(
                "PAYTER-03",
                f"tariff {tariff['id']} has no tariff_alt_text: Payter's "
                "terminal offers the languages of the tariff texts",
            )
        platform = req.require_platform()
        created = self.ptp.mirror.tariffs.save(
            tariff,
            platform_id=platform.id,
            version=req.version,
            source="push",
            now=req.rt.now(),
            country_code=cc,
            party_id=pid,
        )
        req.rt.bus.publish(
            "ocpi.tariff", platform_id=platform.id, tariff_id=tariff["id"], change="PUT"
        )
        return OcpiResult(http_status=201 if created else 200, omit_data=True)

    async def delete(self, req: OcpiRequest) -> OcpiResult:
        cc, pid = req.require_owner()
        row = self.ptp.mirror.tariffs.get(
            req.require_platform().id, cc, pid, req.params["tariff_id"]
        )
        if row is None:
            raise OcpiError(status.CLIENT_ERROR, "unknown tariff", http_status=404)
        # The CPO should make sure no Connector still references it (mod_tariffs.asciidoc).
        tariff_id = row["id"].upper()
        for loc in self.ptp.mirror.locations.rows(req.require_platform().id, valid_only=True):
            for evse in loc["object"].get("evses") or []:
                for conn in evse.get("connectors") or []:
                    if tariff_id in {str(t).upper() for t in conn.get("tariff_ids") or []}:
                        req.finding(
                            "OCPI-41b",
                            f"tariff {row['id']} deleted while connector "
                            f"{evse.get('uid')}/{conn.get('id')} still refers to it",
                        )
        self.ptp.mirror.tariffs.mark_invalid(row["key"])
        req.rt.bus.publish("ocpi.tariff", tariff_id=row["id"], change="DELETE")
        return OcpiResult(omit_data=True)
