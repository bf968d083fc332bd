"""The CPS route table (payter.md §3.4) and where it is served.

The API is a sub-application: mounted under ``cps_path`` (``/cps``) on the emulator's port, and,
with ``cps_port`` set, also served at the root of a port of its own, so that a CSMS only swaps
the host in its CPS base URL (``https://cps-test.mypayter.com/`` → ``http://127.0.0.1:PORT/``).
"""

from __future__ import annotations

from aiohttp import web

from emulator.cps.http import Handlers, cps_middleware
from emulator.cps.service import CloudPaymentService
from emulator.faults import fault_middleware
from emulator.serving import ProtocolRunner

TERMINAL = "/terminals/{serialNumber}"
SESSION = TERMINAL + "/sessions/{sessionId}"


def build_cps_app(
    service: CloudPaymentService, *, client_max_size: int = 1024**2, own_port: bool = False
) -> web.Application:
    middlewares = [cps_middleware(service)]
    if own_port:
        # On the node's port the node's fault middleware sees CPS requests; here nothing else
        # does.
        middlewares.insert(0, fault_middleware(service.rt, _classify))
    app = web.Application(middlewares=middlewares, client_max_size=client_max_size)
    h = Handlers(service)
    r = app.router
    r.add_get("/", h.index, name="cps-index")
    r.add_get("/openapi.json", h.openapi, name="cps-openapi")
    r.add_get("/apikey", h.apikey, name="cps-apikey")
    r.add_get("/webhook", h.get_webhook, name="cps-webhook")
    r.add_post("/webhook", h.set_webhook, name="cps-webhook-set")
    r.add_delete("/webhook", h.delete_webhook, name="cps-webhook-delete")
    r.add_get("/terminals", h.terminals, name="cps-terminals")
    r.add_get(TERMINAL, h.terminal, name="cps-terminal")
    r.add_post(TERMINAL + "/start", h.start, name="cps-start")
    r.add_get(TERMINAL + "/card", h.card, name="cps-card")
    r.add_post(TERMINAL + "/stop", h.stop, name="cps-stop")
    r.add_post(TERMINAL + "/authorize", h.authorize, name="cps-authorize")
    r.add_get(TERMINAL + "/sessions", h.sessions, name="cps-sessions")
    r.add_get(SESSION, h.session, name="cps-session")
    r.add_post(SESSION + "/commit", h.commit, name="cps-commit")
    r.add_post(SESSION + "/cancel", h.cancel, name="cps-cancel")
    # Emulator extension: Payter's CPS path for incremental authorization is not public.
    r.add_post(SESSION + "/increment", h.increment, name="cps-increment")
    r.add_post(TERMINAL + "/ui", h.ui, name="cps-ui")
    return app


def _classify(request: web.Request) -> tuple[str, str | None] | None:
    route = request.match_info.route.name if request.match_info.route else None
    return ("cps", route.removeprefix("cps-")) if route and route.startswith("cps-") else None


def mount(app: web.Application, service: CloudPaymentService, path: str) -> None:
    """Serve the CPS API under ``path`` of the node's application."""
    app.add_subapp(path.rstrip("/"), build_cps_app(service))


class OwnPort:
    """The CPS API at the root of a port of its own (setting ``cps_port``)."""

    def __init__(self, service: CloudPaymentService, host: str, port: int) -> None:
        self.service = service
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = build_cps_app(
            self.service, client_max_size=self.service.settings.max_body_bytes, own_port=True
        )
        self._runner = ProtocolRunner(
            app, now=self.service.rt.now, access_log=None, handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
