"""A minimal CPO for the HTTP benchmarks: its versions, credentials and empty Sender lists,
served from a thread of the benchmark process, and the registration with the emulator that
gives the benchmark a token C to push with."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from bench._common import free_port
from bench._objects import CC, PID, STAMP

TOKEN_B = "bench-cpo-token-b"


def b64(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


def _envelope(data: Any) -> web.Response:
    return web.json_response({"data": data, "status_code": 1000, "timestamp": STAMP})


@web.middleware
async def _echo_ids(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    for name in ("X-Request-ID", "X-Correlation-ID"):
        response.headers[name] = request.headers.get(name, "bench")
    return response


class MiniCpo:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_echo_ids])
        base = self.url + "/ocpi"
        modules = [
            ("credentials", "SENDER"),
            ("locations", "SENDER"),
            ("tariffs", "SENDER"),
            ("sessions", "SENDER"),
            ("cdrs", "SENDER"),
            ("commands", "RECEIVER"),
            ("tokens", "RECEIVER"),
        ]

        async def versions(request: web.Request) -> web.Response:
            return _envelope([{"version": "2.2.1", "url": f"{base}/2.2.1"}])

        async def details(request: web.Request) -> web.Response:
            return _envelope(
                {
                    "version": "2.2.1",
                    "endpoints": [
                        {"identifier": m, "role": r, "url": f"{base}/2.2.1/{m}"} for m, r in modules
                    ],
                }
            )

        async def empty(request: web.Request) -> web.Response:
            response = _envelope([])
            response.headers["X-Total-Count"] = "0"
            response.headers["X-Limit"] = "50"
            return response

        app.router.add_get("/ocpi/versions", versions)
        app.router.add_get("/ocpi/2.2.1", details)
        app.router.add_route("*", "/ocpi/2.2.1/{tail:.*}", empty)
        return app

    def credentials(self) -> dict[str, Any]:
        return {
            "token": TOKEN_B,
            "url": f"{self.url}/ocpi/versions",
            "roles": [
                {
                    "role": "CPO",
                    "party_id": PID,
                    "country_code": CC,
                    "business_details": {"name": "Bench CPO"},
                }
            ],
        }


@contextmanager
def running_cpo() -> Iterator[MiniCpo]:
    cpo = MiniCpo()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(cpo.app(), access_log=None)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", cpo.port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield cpo
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


_calls = [0]


def call(
    method: str,
    url: str,
    token: str | None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Token {b64(token)}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    _calls[0] += 1
    req.add_header("X-Request-ID", f"setup-{_calls[0]}")
    req.add_header("X-Correlation-ID", f"setup-{_calls[0]}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def register(emulator_url: str, cpo: MiniCpo, token_a: str) -> str:
    """The CPO registers with the emulator (credentials POST with token A); token C back."""
    status, body = call(
        "POST", f"{emulator_url}/ocpi/2.2.1/credentials", token_a, cpo.credentials()
    )
    if status != 200 or body.get("status_code") != 1000:
        raise RuntimeError(f"registration failed: {status} {body}")
    return str(body["data"]["token"])


def ocpi_headers(token: str) -> dict[str, str]:
    """What a well-behaved CPO sends with every functional-module request."""
    return {
        "Authorization": f"Token {b64(token)}",
        "Content-Type": "application/json",
        "OCPI-from-country-code": CC,
        "OCPI-from-party-id": PID,
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "PAY",
    }
