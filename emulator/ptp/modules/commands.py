"""Commands, Sender side (mod_commands.asciidoc): the emulator hosts the ``response_url`` of
each command it sends, ``{commands}/{COMMAND}/{uid}``, where the CPO POSTs the
CommandResult."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.ocpi.transport import Module, OcpiRequest, OcpiResult, Route

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp


class CommandsSender(Module):
    id = "commands"
    interface = "SENDER"
    versions = ("2.1.1", "2.2.1", "2.3.0")

    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp

    def routes(self) -> list[Route]:
        return [Route("POST", "/{command}/{uid}", self.result)]

    async def result(self, req: OcpiRequest) -> OcpiResult:
        req.require_platform()
        return await self.ptp.commands.receive_result(req)
