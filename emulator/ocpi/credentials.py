"""Credentials module: registration, update and unregistration (configuration module)."""

from __future__ import annotations

from emulator.ocpi.registration import Registration
from emulator.ocpi.transport import Module, OcpiRequest, OcpiResult, Route


class CredentialsModule(Module):
    id = "credentials"
    interface = None
    versions = ("2.1.1", "2.2.1", "2.3.0")

    def __init__(self, registration: Registration) -> None:
        self.registration = registration

    def routes(self) -> list[Route]:
        r = self.registration
        return (
            [
                Route("GET", "", self.get, token_a=True, registered_only=False),
                Route("POST", "", self.post, token_a=True, registered_only=False),
                Route("PUT", "", self.put, token_a=True, registered_only=False),
                Route("DELETE", "", self.delete, token_a=True, registered_only=False),
            ]
            if r
            else []
        )

    async def get(self, req: OcpiRequest) -> OcpiResult:
        return await self.registration.receive_get(req)

    async def post(self, req: OcpiRequest) -> OcpiResult:
        return await self.registration.receive_post(req)

    async def put(self, req: OcpiRequest) -> OcpiResult:
        return await self.registration.receive_put(req)

    async def delete(self, req: OcpiRequest) -> OcpiResult:
        return await self.registration.receive_delete(req)
