"""Versions module: the versions list and the version details (configuration module)."""

from __future__ import annotations

from typing import Any

from emulator.ocpi import status
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import Module, OcpiRequest, Route


class VersionsModule(Module):
    id = "versions"
    versions = ("2.1.1", "2.2.1", "2.3.0")

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/versions", self.list_versions, token_a=True, registered_only=False),
            Route("GET", "/{version}", self.details, token_a=True, registered_only=False),
        ]

    async def list_versions(self, req: OcpiRequest) -> Any:
        server = req.server
        return [{"version": v, "url": server.version_url(v)} for v in server.versions]

    async def details(self, req: OcpiRequest) -> Any:
        version = req.version
        if version is None:
            raise OcpiError(status.UNSUPPORTED_VERSION, "unknown version", http_status=404)
        return {"version": version, "endpoints": req.server.endpoints(version)}
