"""The aiohttp server under every node: protocol-shaped answers even for what aiohttp refuses.

aiohttp answers a request it cannot parse (a malformed request line, a header with control
characters, a duplicate Content-Length, a header over 8 KB, ...) itself, before any route or
middleware runs, with a plain-text 400. A CPO's OCPI client expects an OCPI envelope and a
CSMS's CPS client the CPS error body, so :class:`ProtocolRunner` answers those in JSON too.

Such a request has no usable path (aiohttp could not read it), so the answer carries both
shapes at once: the OCPI envelope's ``status_code``/``status_message``/``timestamp`` and the
CPS and control API's ``error`` object. Where the path is known (an exception that escaped a
handler), the answer has the shape of the protocol the path belongs to. Nothing of the refused
request is echoed or logged beyond the first line of aiohttp's reason (no header values: they
may carry a token).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from emulator import jsonio, logs
from emulator.datetimes import format_datetime

log = logs.get_logger("emulator.http")

OCPI_PREFIX = "/ocpi"


def _reason(status: int, message: str | None) -> str:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    first = (message or "").strip().splitlines()[0] if message and message.strip() else ""
    # aiohttp quotes the offending bytes (" b'...'"), which may be a header with a token.
    first = first.split(" b'", 1)[0].split(' b"', 1)[0].rstrip(": ")
    return f"{phrase}: {first}" if first else phrase


def error_body(path: str | None, status: int, reason: str, now: datetime) -> dict[str, Any]:
    """The error answer for ``path`` (None: unknown) in the shape of the protocol served there."""
    known = status in HTTPStatus._value2member_map_
    code = HTTPStatus(status).phrase.lower().replace(" ", "_") if known else "error"
    ocpi = {
        "status_code": 3000 if status >= 500 else 2000,
        "status_message": reason,
        "timestamp": format_datetime(now),
    }
    error = {"error": {"code": code, "message": reason, "status": status}}
    if path is None:
        return ocpi | error
    if path == OCPI_PREFIX or path.startswith(OCPI_PREFIX + "/"):
        return ocpi
    return error


class _Handler(RequestHandler):
    now: Callable[[], datetime]

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the response has started; no error answer can follow")
        # aiohttp's own refusals come as a stand-in request (method UNKNOWN) with no path.
        parsed = request.method != "UNKNOWN"
        if status >= 500:
            log.error(
                "request failed outside the protocol layers",
                path=request.path if parsed else None,
                error=type(exc).__name__ if exc else None,
                exc_info=exc,
            )
            reason = "internal error in the emulator; this is a bug, please report it"
        else:
            reason = _reason(status, message or (str(exc) if exc else None))
            log.warning("request refused before routing", status=status, reason=reason)
        body = error_body(request.path if parsed else None, status, reason, self.now())
        response = web.Response(
            status=status,
            body=jsonio.dumps(body).encode("utf-8"),
            content_type="application/json",
        )
        response.force_close()
        return response


class _Server(web.Server):
    now: Callable[[], datetime]

    def __call__(self) -> RequestHandler:
        handler = _Handler(self, loop=self._loop, **self._kwargs)
        handler.now = self.now
        return handler


class ProtocolRunner(web.AppRunner):
    """A :class:`aiohttp.web.AppRunner` whose connections answer aiohttp's own refusals in
    JSON (see the module docstring). ``now`` is the node's clock."""

    def __init__(self, app: web.Application, *, now: Callable[[], datetime], **kwargs: Any):
        super().__init__(app, **kwargs)
        self._now = now

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp has no setting for the connection class; the server only makes connections.
        server.__class__ = _Server
        assert isinstance(server, _Server)
        server.now = self._now
        return server
