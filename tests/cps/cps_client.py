"""What a CSMS uses in the CPS tests: a CPS client with an API key, and a webhook endpoint whose
answers a test scripts."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

KEY = "payter-emulator-cps-key"  # the cps_api_key default


class CpsClient:
    """What a CSMS does: HTTP calls to the CPS base URL with its API key."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, key: str | None = KEY) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.key = key

    def with_key(self, key: str | None) -> CpsClient:
        return CpsClient(self.http, self.base_url, key)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f'CPS apikey="{self.key}"'} if self.key is not None else {}

    async def call(
        self,
        method: str,
        path: str,
        params: Any = None,
        *,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        h = {**self.headers(), **(headers or {})}
        async with self.http.request(
            method, f"{self.base_url}/{path.lstrip('/')}", params=params, json=json, data=data,
            headers=h,
        ) as resp:  # fmt: skip
            text = await resp.text()
            return resp.status, (jsonlib.loads(text) if text else None)

    async def get(self, path: str, params: Any = None) -> tuple[int, Any]:
        return await self.call("GET", path, params)

    async def post(self, path: str, params: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", path, params, **kw)

    async def delete(self, path: str, params: Any = None) -> tuple[int, Any]:
        return await self.call("DELETE", path, params)


@dataclass
class Received:
    path: str
    body: Any
    at: str  # the emulator's clock time when it arrived


@dataclass
class WebhookServer:
    """A CSMS's webhook endpoint: records every POST and answers with the scripted statuses
    (then ``default``)."""

    now: Callable[[], Any]
    script: list[int] = field(default_factory=list)
    default: int = 200
    received: list[Received] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    async def start(self) -> WebhookServer:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        from emulator.ocpi.types import format_datetime

        body = await request.json()
        self.received.append(
            Received(request.match_info["path"], body, format_datetime(self.now()))
        )
        status = self.script.pop(0) if self.script else self.default
        return web.json_response({"ok": status == 200}, status=status)

    def bodies(self, path: str | None = None) -> list[Any]:
        return [r.body for r in self.received if path is None or r.path == path]
