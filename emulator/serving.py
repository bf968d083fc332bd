"""The aiohttp server under every node: protocol-shaped answers even for what aiohttp refuses.

aiohttp answers a request it cannot parse (a malformed request line, a header with control
characters, a duplicate Content-Length, a header over 8 KB, ...) itself, before any route or
middleware runs, with a plain-text 400. A CPO's OCPI client expects an OCPI envelope and a
CSMS's CPS client the CPS error body, so :class:`ProtocolRunner` answers those in JSON too.

Such a request has no usable path (aiohttp could not read it), so the answer carries both
shapes at once: the OCPI envelope's ``status_code``/``status_message``/``timestamp`` and the
CPS and control API's ``error`` object. Where the path is known (an exception that escaped a
handler), or can be read from the first bytes the connection received for that request (the
request line: a path aiohttp refused for a header, or for its length), the answer has the shape
of the protocol the path belongs to. Nothing of the refused request is echoed or logged: only
aiohttp's reason, cut before any quoted input (a request line may carry ``?token=``, a header a
token).

A body aiohttp cannot decode (a wrong ``Content-Encoding``) is refused by the handler that reads
it; when the handler answered without reading it (a 401 before the body), aiohttp reads the rest
after the answer and would log the failure as an "Unhandled exception" with a traceback: it is a
client's mistake, logged as one warning line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from emulator import jsonio, logs
from emulator.datetimes import format_datetime

log = logs.get_logger("emulator.http")

OCPI_PREFIX = "/ocpi"
# How much of a request's first bytes is kept to tell which protocol it was for.
_HEAD_BYTES = 128
_REQUEST_LINE = re.compile(rb"[A-Za-z]{1,16} (/[!-~]*)")
# Where aiohttp starts quoting the input in a reason: bytearray(b'...'), b'...', '...', "...".
_QUOTED = re.compile(r"""(?:^|(?<=[\s:(]))(?:bytearray\(|b?['"])""")


def _reason(status: int, message: str | None) -> str:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    first = (message or "").strip().splitlines()[0] if message and message.strip() else ""
    # aiohttp quotes the offending input ("reading: bytearray(b'/cps/apikey?token=...')",
    # "b'...'"): a request line or a header that may carry a token. Cut before it.
    first = _QUOTED.split(first, maxsplit=1)[0].rstrip(": .(")
    # "... brotli (br). Please install `Brotli`": advice for the server's operator, not for
    # the client it would be sent to.
    first = first.split(". Please install", 1)[0]
    return f"{phrase}: {first}" if first else phrase


def sniffed_path(head: bytes) -> str | None:
    """The path of a request line's first bytes (``GET /cps/terminals?...``), None if they are
    not one. Only ever used to choose the shape of an error answer, never echoed."""
    match = _REQUEST_LINE.match(head)
    if match is None:
        return None
    return match.group(1).split(b"?", 1)[0].decode("ascii")


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


# What to do once the answer to a request has been written, by id of the request (requests
# cannot be keys themselves); see :func:`after_sent`.
_AFTER_SENT: dict[int, list[Callable[[], None]]] = {}


def after_sent(request: BaseRequest, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the answer to ``request`` has been written (not if the client
    reset the connection first): e.g. a credentials answer went out, its token C with it."""
    _AFTER_SENT.setdefault(id(request), []).append(callback)


class _Handler(RequestHandler):
    now: Callable[[], datetime]
    # The first bytes of the request being read (to tell its protocol if aiohttp refuses it).
    _head = b""
    _reading_head = True

    def data_received(self, data: bytes) -> None:
        if self._reading_head and data:
            self._head = (self._head + data)[:_HEAD_BYTES]
            self._reading_head = len(self._head) < _HEAD_BYTES and b"\n" not in self._head
        super().data_received(data)

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            result = await super().finish_response(request, resp, start_time)
        finally:
            # The next bytes on this connection begin the next request.
            self._head, self._reading_head = b"", True
            callbacks = _AFTER_SENT.pop(id(request), [])
        if not result[1]:  # written (not reset by the client)
            for callback in callbacks:
                callback()
        return result

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, RequestPayloadError):
            # The rest of a body read after the answer (see the module docstring).
            cause = exc.__cause__
            message = cause.message if isinstance(cause, HttpProcessingError) else str(exc)
            log.warning("request body could not be read", reason=_reason(400, message))
            return
        super().log_exception(*args, **kwargs)

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
        path = request.path if parsed else sniffed_path(self._head)
        body = error_body(path, status, reason, self.now())
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
