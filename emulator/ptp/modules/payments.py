"""Payments, Sender side (mod_payments.asciidoc; OCPI 2.3.0, and 2.2.1 as Payter's extension):
the PTP owns Terminals and Financial Advice Confirmations; the CPO reads them, assigns
terminals to Locations/EVSEs (PATCH/PUT), asks for activation and deactivation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from emulator.ocpi.transport import Module, Route

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp


class PaymentsSender(Module):
    id = "payments"
    interface = "SENDER"
    versions: tuple[str, ...] = ("2.3.0",)

    def __init__(self, ptp: Ptp, *, versions: Sequence[str] = ("2.3.0",)) -> None:
        self.ptp = ptp
        self.versions = tuple(versions)

    def routes(self) -> list[Route]:
        p = self.ptp.payments
        t = "/" + p.terminals_path.strip("/")
        f = "/" + p.facs_path.strip("/")
        return [
            Route("GET", t, p.list_terminals),
            Route("POST", t + "/activate", p.activate),
            Route("GET", t + "/{terminal_id}", p.get_terminal),
            Route("PUT", t + "/{terminal_id}", p.put_terminal),
            Route("PATCH", t + "/{terminal_id}", p.patch_terminal),
            Route("POST", t + "/{terminal_id}/deactivate", p.deactivate),
            Route("GET", f, p.list_facs),
            Route("GET", f + "/{fac_id}", p.get_fac),
        ]
