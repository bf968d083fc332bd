"""An OCPI party served over HTTP: the emulator (Payter) and the simulated CPO are both nodes.

A node owns its runtime, its OCPI server (transport + modules), its registered platforms, its
outbound client, the registration logic and its aiohttp application with the control API.
:meth:`Node.start` binds the socket (``--port 0`` picks one) and fills in the base URL.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from emulator import jsonio
from emulator.control import api as control_api
from emulator.control.http import admin_middleware
from emulator.faults import fault_middleware
from emulator.ocpi.client import OcpiClient
from emulator.ocpi.credentials import CredentialsModule
from emulator.ocpi.platforms import Platforms
from emulator.ocpi.registration import Need, Registration
from emulator.ocpi.transport import Identity, OcpiServer
from emulator.ocpi.versions import VersionsModule
from emulator.runtime import Runtime, listening_info
from emulator.serving import ProtocolRunner


class Node:
    """Subclasses add their modules in :meth:`setup` and their routes in :meth:`add_routes`."""

    name = "node"
    ocpi_prefix = "/ocpi"
    has_cps = False
    # Probe a newly registered peer's token checks (Registration.probe_tokens).
    probes_peers = False

    def __init__(
        self,
        rt: Runtime,
        identity: Identity,
        *,
        needs: Sequence[Need],
        expected_roles: dict[str, str] | None = None,
    ) -> None:
        self.rt = rt
        settings = rt.settings
        self.platforms = Platforms(rt, settings.token_a)
        self.server = OcpiServer(
            rt,
            self.platforms,
            identity,
            prefix=self.ocpi_prefix,
            versions=settings.version_list,
            page_limit=settings.ocpi_page_limit,
            strict=settings.strict,
        )
        self.client = OcpiClient(rt, self.server)
        self.registration = Registration(
            self.server,
            self.platforms,
            self.client,
            needs=needs,
            expected_roles=expected_roles,
            probe_peers=self.probes_peers,
        )
        # A finding's severity is its rule's in the platform's negotiated version; the
        # report's coverage lists the platforms.
        rt.findings.version_of = self._platform_version
        rt.findings.platforms_info = self._platforms_info
        self.server.add_module(VersionsModule())
        self.server.add_module(CredentialsModule(self.registration))
        self.ready = False
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        rt.reset_hooks.append(self.platforms.ensure_fixed_token_a)
        rt.reset_hooks.append(rt.faults.clear)
        self.setup()
        self.app = self.build_app()

    def _platform_version(self, platform_id: int) -> str | None:
        platform = self.platforms.get(platform_id)
        return platform.version if platform is not None else None

    def _platforms_info(self) -> list[dict[str, Any]]:
        return [
            {"id": p.id, "name": p.name, "version": p.version, "status": p.status}
            for p in self.platforms.all()
        ]

    # --- hooks for subclasses ------------------------------------------------------------------

    def setup(self) -> None:
        """Add OCPI modules and subsystems."""

    def add_routes(self, app: web.Application) -> None:
        """Add non-OCPI routes (CPS, node-specific control endpoints)."""

    async def on_started(self) -> None:
        """Runs once the socket is bound and the base URL known (seed fixtures, pollers)."""

    # --- application -----------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.rt.settings.max_body_bytes,
            middlewares=[
                admin_middleware(self.rt.settings.admin_token),
                fault_middleware(self.rt, self.classify),
            ],
        )
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        control_api.add_routes(app, self)
        self.add_routes(app)
        self.server.mount(app)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": self.name})

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = []
        try:
            self.rt.store.query("select 1 as one")
        except Exception as exc:  # pragma: no cover - a broken database file
            problems.append(f"database: {exc}")
        if not self.ready:
            problems.append("still starting")
        body = {"status": "ready" if not problems else "not ready", "problems": problems}
        return web.json_response(body, status=200 if not problems else 503)

    def classify(self, request: web.Request) -> tuple[str, str | None] | None:
        """``(protocol, module)`` of a request to this node, for fault injection; None for
        what is not protocol traffic (health checks, the control API)."""
        path = request.path
        prefix = self.server.prefix + "/"
        if path.startswith(prefix):
            parts = path[len(prefix) :].split("/")
            if parts[0] == "versions" or len(parts) < 2:
                return "ocpi", "versions"
            return "ocpi", parts[1] or "versions"
        route = request.match_info.route.name if request.match_info.route else None
        if route and route.startswith("cps-"):
            return "cps", route.removeprefix("cps-")
        return None

    def listening(self) -> dict[str, Any]:
        return listening_info(self.rt.base_url, ocpi_prefix=self.ocpi_prefix, cps=self.has_cps)

    async def start(self) -> dict[str, Any]:
        settings = self.rt.settings
        if settings.ready_file:
            # A ready file left by an earlier run must never be read as this one's.
            settings.ready_file.unlink(missing_ok=True)
        self._runner = ProtocolRunner(
            self.app, now=self.rt.now, access_log=None, handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.port, reuse_address=True)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else settings.port
        self.rt.base_url = settings.base_url(self.port)
        await self.on_started()
        self.ready = True
        info = self.listening()
        if settings.ready_file:
            write_ready_file(settings.ready_file, info)
        return info

    async def stop(self) -> None:
        self.ready = False
        self.rt.faults.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.rt.close()

    async def reset(self) -> None:
        """POST /__admin/reset: forget everything, then re-seed."""
        self.rt.store.reset()
        for hook in self.rt.reset_hooks:
            result = hook()
            if result is not None:
                await result


def started() -> None:
    """Called once the command line's node serves (or failed to start): the cyclic garbage
    collector, off during start-up (``emulator/__main__.py``), is turned back on, and what
    start-up built is frozen so that collections no longer walk it. Nothing to do when it was
    never turned off (tests, a node run from a script)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(jsonio.dumps(info) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def print_listening(info: dict[str, Any]) -> None:
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.write(jsonio.dumps(info) + "\n")
        sys.stdout.flush()
