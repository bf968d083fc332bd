"""The simulated CPO as a server: a :class:`~emulator.node.Node` with role CPO.

OCPI lives under ``/ocpi/cpo`` (versions at ``/ocpi/cpo/versions``), the control API under
``/__admin/`` (the routes every node has, plus :mod:`emulator.cpo_sim.control`). Registration
works in both directions through the node's credentials module and
``POST /__admin/platforms/register``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulator.cpo_sim import control
from emulator.cpo_sim.backend import CpoBackend
from emulator.cpo_sim.modules import (
    CdrsSender,
    CommandsReceiver,
    LocationsSender,
    PaymentsReceiver,
    SessionsSender,
    TariffsSender,
    TokensReceiver,
)
from emulator.cpo_sim.peers import Peers
from emulator.cpo_sim.presets import Presets
from emulator.cpo_sim.settings import CpoSimSettings
from emulator.node import Node
from emulator.ocpi.registration import parse_needs
from emulator.ocpi.transport import CONFIGURATION_MODULES, ROUTING_HEADERS, Identity
from emulator.runtime import Runtime, build_runtime

# What the CPO expects of a PTP's endpoints (ocpi.md §4.1, PTP column); a mismatch is only a
# finding in the simulated CPO's own ledger.
PTP_ROLES = {
    "locations": "RECEIVER",
    "sessions": "RECEIVER",
    "cdrs": "RECEIVER",
    "tariffs": "RECEIVER",
    "commands": "SENDER",
    "payments": "SENDER",
}


class CpoSimNode(Node):
    name = "cpo-sim"
    ocpi_prefix = "/ocpi/cpo"
    has_cps = False

    def __init__(self, rt: Runtime) -> None:
        settings = rt.settings
        assert isinstance(settings, CpoSimSettings)
        self.settings = settings
        self.presets = Presets(settings.preset)
        identity = Identity(
            country_code=settings.country_code.upper(),
            party_id=settings.party_id.upper(),
            role="CPO",
            business_name=settings.business_name,
            website=settings.business_website,
        )
        needs = parse_needs(settings.required_modules or "credentials")
        super().__init__(rt, identity, needs=needs, expected_roles=PTP_ROLES)
        self.client.adjust_headers = self._request_headers
        rt.reset_hooks.append(self.backend.reset)

    def setup(self) -> None:
        self.peers = Peers(self.rt, self.platforms, self.client)
        self.backend = CpoBackend(
            self.rt, self.server.identity, self.settings, self.presets, self.peers
        )
        self.backend.seed()
        for module in (
            LocationsSender(self.backend, self.presets),
            TariffsSender(self.backend, self.presets),
            SessionsSender(self.backend, self.presets),
            CdrsSender(self.backend, self.presets),
            CommandsReceiver(self.backend),
            TokensReceiver(self.backend),
        ):
            self.server.add_module(module)
        if self.settings.payments_version_list:
            self.server.add_module(
                PaymentsReceiver(self.backend, versions=self.settings.payments_version_list)
            )

    def add_routes(self, app: web.Application) -> None:
        control.add_routes(app, self)

    async def on_started(self) -> None:
        # State in SQLite: after a restart the chargers carry on where they were.
        await self.backend.resume()

    def build_app(self) -> web.Application:
        app = super().build_app()
        app.middlewares.append(self._response_headers)
        return app

    # --- the header presets -------------------------------------------------------------------

    def _request_headers(self, headers: dict[str, str], module: str, token: str) -> dict[str, str]:
        ident = self.server.identity
        if self.presets.on("raw-token"):
            # OCPI-01: 2.2.1-d2 and 2.3.0 want 'Token ' + Base64(token).
            headers["Authorization"] = f"Token {token}"
        if self.presets.on("sloppy-headers"):
            # OCPI-03: no request ids; OCPI-04: routing headers wrong or misplaced.
            headers.pop("X-Request-ID", None)
            headers.pop("X-Correlation-ID", None)
            headers["OCPI-to-country-code"] = ident.country_code
            headers["OCPI-to-party-id"] = ident.party_id
            if module in CONFIGURATION_MODULES:
                headers["OCPI-from-country-code"] = ident.country_code
                headers["OCPI-from-party-id"] = ident.party_id
        return headers

    @web.middleware
    async def _response_headers(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        response = await handler(request)
        if self.presets.on("sloppy-headers") and request.path.startswith(self.ocpi_prefix + "/"):
            # OCPI-03/04 on responses: nothing echoed, the routing headers not swapped. (The
            # journal keeps what the dispatcher built; this is what goes on the wire.)
            response.headers.pop("X-Request-ID", None)
            response.headers.pop("X-Correlation-ID", None)
            if "OCPI-to-party-id" in response.headers:
                for name in ROUTING_HEADERS:
                    if name.startswith("OCPI-to"):
                        response.headers[name] = response.headers[
                            name.replace("OCPI-to", "OCPI-from")
                        ]
        return response


def build_cpo_sim(settings: CpoSimSettings, **runtime_kwargs: Any) -> CpoSimNode:
    """The simulated CPO; pass ``clock=`` (and ``background=``) to share a clock with an
    emulator in the same process."""
    rt = build_runtime(settings, **runtime_kwargs)
    return CpoSimNode(rt)
