"""The CPS driver of terminals in mode ``cps``: terminal effects become webhooks.

Registered with :meth:`TerminalHost.register_controller` for mode ``cps``. A read card wakes the
card long polls and goes to the start's ``callbackUrl``; a pressed key goes to the ``ui``
request's ``callbackUrl``; an online/state change goes to the state webhook of every API key
that sees the terminal (payter.md §3.6); payment steps keep the session bookkeeping (timeout,
CPS-01) up to date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from emulator.terminal.device import CardRead, Effect, PaymentStep, StateChanged, UiEvent
from emulator.terminal.host import TerminalHost

if TYPE_CHECKING:
    from emulator.cps.service import CloudPaymentService


class CpsController:
    def __init__(self, service: CloudPaymentService) -> None:
        self.service = service

    async def on_effects(
        self, host: TerminalHost, serial_number: str, effects: Sequence[Effect]
    ) -> None:
        for effect in effects:
            if isinstance(effect, CardRead):
                self.service.card_read(serial_number, effect)
            elif isinstance(effect, UiEvent):
                self.service.ui_event(serial_number, effect)
            elif isinstance(effect, StateChanged):
                self.service.state_changed(serial_number, effect)
            elif isinstance(effect, PaymentStep):
                self.service.payment_step(serial_number, effect)
