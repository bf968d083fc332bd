"""The Payter emulator node: Payter's OCPI peer, the CPS API and the virtual terminals."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.node import Node
from emulator.ocpi.platforms import Platform
from emulator.ocpi.registration import Need, parse_needs
from emulator.ocpi.transport import Identity
from emulator.runtime import Runtime, build_runtime
from emulator.settings import EmulatorSettings, version_key
from emulator.terminal import control as terminal_control
from emulator.terminal.host import TerminalHost, terminal_timeouts

# What a CPO exposes to Payter, and with which interface role (checklist 5.2 #14).
CPO_ROLES = {
    "locations": "SENDER",
    "sessions": "SENDER",
    "cdrs": "SENDER",
    "tariffs": "SENDER",
    "commands": "RECEIVER",
    "tokens": "RECEIVER",
    "payments": "RECEIVER",
}

# Payter's documentation lists these modules as required before end-to-end tests
# (payter.md §2.3); registration itself needs only credentials (Payter's "Platform
# Registration" milestone), so a missing one is a warning, not a 3003.
PAYTER_MODULES = {
    "ptp": [
        Need("locations", "SENDER"),
        Need("tariffs", "SENDER"),
        Need("sessions", "SENDER"),
        Need("cdrs", "SENDER"),
        Need("commands", "RECEIVER"),
        Need("tokens", "RECEIVER"),
        # Only on the versions of --payments-versions (see _check_payter_modules).
        Need("payments", "RECEIVER", since="2.2.1"),
    ],
    "emsp": [
        Need("locations", "SENDER"),
        Need("tariffs", "SENDER"),
        Need("sessions", "SENDER"),
        Need("cdrs", "SENDER"),
        Need("commands", "RECEIVER"),
        Need("tokens", "RECEIVER"),
    ],
}


class EmulatorNode(Node):
    name = "payter-emulator"
    has_cps = True

    def __init__(self, rt: Runtime) -> None:
        settings = rt.settings
        assert isinstance(settings, EmulatorSettings)
        self.settings = settings
        identity = Identity(
            country_code=settings.country_code.upper(),
            party_id=settings.party_id.upper(),
            role=settings.role,
            business_name=settings.business_name,
            website=settings.business_website,
        )
        needs = parse_needs(settings.required_modules or "credentials")
        self.probes_peers = settings.probe_tokens
        super().__init__(rt, identity, needs=needs, expected_roles=CPO_ROLES)
        self.client.probe_unknown_fields = settings.probe_unknown_fields
        self.registration.probe_spent_token_a = settings.probe_spent_token_a
        self.registration.on_registered.append(self._check_payter_modules)

    def setup(self) -> None:
        from emulator.journey.controller import JourneyController
        from emulator.ptp.core import Ptp
        from emulator.ptp.modules.cdrs import CdrsReceiver
        from emulator.ptp.modules.commands import CommandsSender
        from emulator.ptp.modules.locations import LocationsReceiver
        from emulator.ptp.modules.payments import PaymentsSender
        from emulator.ptp.modules.sessions import SessionsReceiver
        from emulator.ptp.modules.tariffs import TariffsReceiver
        from emulator.ptp.modules.tokens import TokensSender

        self.terminals = TerminalHost(
            self.rt,
            timeouts=terminal_timeouts(self.settings),
            p6x_timeouts=terminal_timeouts(self.settings, "P68"),
        )
        self._setup_cps()
        self.ptp = Ptp(self)
        self._use_journey_texts()
        self.journey = JourneyController(self)
        for module in (
            LocationsReceiver(self.ptp),
            TariffsReceiver(self.ptp),
            SessionsReceiver(self.ptp),
            CdrsReceiver(self.ptp),
            CommandsSender(self.ptp),
            TokensSender(self.ptp),
        ):
            self.server.add_module(module)
        if self.settings.profile == "ptp" and self.settings.payments_version_list:
            # Payments on 2.3.0 and (Payter's 2.2.1 extension) on 2.2.1; the 'emsp' profile
            # serves platforms without Payments.
            self.server.add_module(
                PaymentsSender(self.ptp, versions=self.settings.payments_version_list)
            )
        self.rt.reset_hooks.append(self._seed)

    def _use_journey_texts(self) -> None:
        """--journey-texts over the built-in texts (one set per process: the last node's)."""
        import json

        from emulator.journey import texts

        path = self.settings.journey_texts
        data = json.loads(path.read_text(encoding="utf-8")) if path else {}
        texts.use_overrides(data)

    def add_routes(self, app: web.Application) -> None:
        from emulator.journey import control as journey_control
        from emulator.ptp import control as ptp_control

        terminal_control.add_routes(app, self.terminals)
        ptp_control.add_routes(app, self.ptp)
        journey_control.add_routes(app, self.journey)
        self._add_cps_routes(app)

    async def on_started(self) -> None:
        await self.terminals.start()
        await self._start_cps()
        await self.ptp.start()
        await self._seed()
        await self.journey.start()

    # --- Cloud Payment Service (emulator/cps/) --------------------------------------------------

    def _setup_cps(self) -> None:
        from emulator.cps.service import CloudPaymentService

        self.cps = CloudPaymentService(self.rt, self.terminals, self.settings)
        self.cps_own_port: Any = None

    def _add_cps_routes(self, app: web.Application) -> None:
        from emulator.cps import control as cps_control
        from emulator.cps import routes as cps_routes

        cps_routes.mount(app, self.cps, self.settings.cps_path)
        cps_control.add_routes(app, self.cps)

    async def _start_cps(self) -> None:
        from emulator.cps.routes import OwnPort

        await self.cps.start()
        self.cps.base_url = f"{self.rt.base_url}{self.settings.cps_path.rstrip('/')}/"
        if self.settings.cps_port is not None:
            self.cps_own_port = OwnPort(self.cps, self.settings.host, self.settings.cps_port)
            port = await self.cps_own_port.start()
            self.rt.close_hooks.insert(0, self.cps_own_port.stop)
            # The public URL names the main port; this one is reached on the host itself.
            local = self.settings.model_copy(update={"public_url": None})
            self.cps.base_url = local.base_url(port) + "/"

    def listening(self) -> dict[str, Any]:
        info = super().listening()
        if self.cps.base_url:
            info["cps_base_url"] = self.cps.base_url
        return info

    async def _seed(self) -> None:
        """A fresh start has one terminal to show (settings: default_terminal)."""
        serial = self.settings.default_terminal
        if serial and not self.ptp.payments.terminals():
            await self.ptp.create_terminal(serial, "Apollo")

    def _check_payter_modules(self, platform: Platform) -> None:
        version = platform.version or "2.3.0"
        modern = version_key(version) >= (2, 2)
        missing = [
            str(need)
            for need in PAYTER_MODULES[self.settings.profile]
            if need.applies(version)
            and (need.module != "payments" or version in self.settings.payments_version_list)
            and not any(
                ep.get("identifier") == need.module and (not modern or ep.get("role") == need.role)
                for ep in platform.endpoints
            )
        ]
        if missing:
            self.rt.findings.record(
                "PAYTER-01",
                f"OCPI {version} endpoints lack {', '.join(missing)}; Payter needs them before "
                "an end-to-end test",
                platform_id=platform.id,
            )


def build_emulator(settings: EmulatorSettings, **runtime_kwargs: object) -> EmulatorNode:
    rt = build_runtime(settings, **runtime_kwargs)  # type: ignore[arg-type]
    return EmulatorNode(rt)
