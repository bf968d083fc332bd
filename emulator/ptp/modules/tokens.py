"""Tokens, Sender side (mod_tokens.asciidoc): the list of Payter's tokens and real-time
authorization, ``POST {tokens}/{token_uid}/authorize[?type=]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.ocpi.transport import Module, Route

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp


class TokensSender(Module):
    id = "tokens"
    interface = "SENDER"
    versions = ("2.1.1", "2.2.1", "2.3.0")

    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp

    def routes(self) -> list[Route]:
        tokens = self.ptp.tokens
        return [Route("GET", "", tokens.list), Route("POST", "/{uid}/authorize", tokens.authorize)]
