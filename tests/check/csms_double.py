"""A CSMS on the Cloud Payment Service, for the cps suite's tests: it reads cards on its
terminal, authorizes a tapped card, commits when the car is unplugged, cancels when no car
comes within two minutes, and retries a refused commit every minute (Payter's advice). Its
timers run on the emulator's manual clock and its work in the emulator's background, so a
check that advances the clock drives it deterministically.

Its charger is driven by the check's hooks: POST /plug-in and /unplug on this server."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

KEY = "payter-emulator-cps-key"
SERIAL = "CPS-CHECK-1"


class CsmsDouble:
    def __init__(self, node: Any, *, cancels: bool = True, retries: bool = True) -> None:
        self.node = node
        # What a sloppy CSMS forgets: cancelling an unused authorization, retrying a commit.
        self.cancels = cancels
        self.retries = retries
        self.clock = node.rt.clock
        self.background = node.rt.background
        self.http = aiohttp.ClientSession()
        self.base = node.cps.base_url.rstrip("/")
        self.headers = {"Authorization": f'CPS apikey="{KEY}"'}
        self.url = ""
        self.runner: web.AppRunner | None = None
        self.session_id: str | None = None
        self.charging = False
        self.state_webhooks: list[dict[str, Any]] = []

    async def start(self) -> CsmsDouble:
        app = web.Application()
        app.router.add_post("/card", self._card)
        app.router.add_post("/state", self._state)
        app.router.add_post("/plug-in", self._plug_in)
        app.router.add_post("/unplug", self._unplug)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()

    async def _call(self, path: str, **params: Any) -> tuple[int, Any]:
        async with self.http.post(
            f"{self.base}/{path}", params=params, headers=self.headers
        ) as resp:
            text = await resp.text()
            return resp.status, text

    def _later(self, seconds: float, work: Any) -> None:
        self.clock.call_later(seconds, work, name="csms-double")

    async def read_cards(self) -> None:
        """``start`` on the terminal once it exists, with this CSMS's card callback."""
        status, _ = await self._call(
            f"terminals/{SERIAL}/start", authorizedAmount=5000, callbackUrl=f"{self.url}/card"
        )
        if status != 200:
            self._later(5, self.read_cards)

    async def _state(self, request: web.Request) -> web.Response:
        self.state_webhooks.append(await request.json())
        return web.json_response({})

    async def _card(self, request: web.Request) -> web.Response:
        await request.read()
        self.background.spawn(self._authorize(), name="csms-authorize")
        return web.json_response({})

    async def _authorize(self) -> None:
        status, body = await self._call(f"terminals/{SERIAL}/authorize")
        if status != 200:
            self._later(1, self.read_cards)
            return
        self.session_id = json.loads(body)["sessionId"]
        self.charging = False
        session = self.session_id
        self._later(120, lambda: self.background.spawn(self._no_car(session)))

    async def _no_car(self, session: str | None) -> None:
        if session == self.session_id and not self.charging and self.cancels:
            await self._finish("cancel")

    async def _plug_in(self, request: web.Request) -> web.Response:
        self.charging = True
        return web.json_response({})

    async def _unplug(self, request: web.Request) -> web.Response:
        self.background.spawn(self._finish("commit", commitAmount=1234))
        return web.json_response({})

    async def _finish(self, action: str, **params: Any) -> None:
        session = self.session_id
        if session is None:
            return
        status, _ = await self._call(f"terminals/{SERIAL}/sessions/{session}/{action}", **params)
        if status in (200, 409):
            self.session_id = None
            self.charging = False
            self._later(1, self.read_cards)
        elif self.retries:
            # Payter's advice: retry every minute (five times, then hourly).
            self._later(60, lambda: self.background.spawn(self._finish(action, **params)))
