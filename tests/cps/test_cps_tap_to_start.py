"""Payter's documented Tap to Start / Tap to Stop journey (payter.md §3.10, §4.4 B), driven by a
small CSMS written here: it keeps the terminal always reading, authorizes a new card, "starts
the charger", and on a second tap of the same card (matched on cardId) commits the session and
reads again. It also re-arms reading from the state webhook when the terminal returns to IDLE,
as integrators must after a timeout or a reboot (§5)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cps_client import CpsClient

from emulator.app import EmulatorNode
from emulator.clock import ManualClock

PRICE_PER_HOUR = 617  # minor units: what the toy tariff charges per hour of charging


@dataclass
class Charge:
    card_id: str
    session_id: str
    started: float  # emulator clock, seconds


@dataclass
class Csms:
    """The system under test, minimal: a CPS client plus webhook endpoints."""

    cps: CpsClient
    serial: str
    now: Callable[[], float]
    charges: dict[str, Charge] = field(default_factory=dict)  # by cardId
    finished: list[dict[str, Any]] = field(default_factory=list)
    declined: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    url: str = ""
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/card", self.on_card)
        app.router.add_post("/state", self.on_state)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        status, _ = await self.cps.post("webhook", {"url": f"{self.url}/state"})
        assert status == 200
        await self.arm()

    async def stop(self) -> None:
        await self.settle()
        if self.runner is not None:
            await self.runner.cleanup()

    async def arm(self) -> None:
        """Always scanning: read the next card (Tap to Start)."""
        status, body = await self.cps.post(
            f"terminals/{self.serial}/start",
            {
                "authorizedAmount": 5000,
                "callbackUrl": f"{self.url}/card",
                "uiMessage": "Tap your card to start or stop charging",
                "uiMessageTitle": "Welcome",
                "language": "en",
            },
        )
        assert status == 200, body
        self.log.append("armed")

    # Webhooks: answer first, act after (a CSMS must not keep Payter waiting).

    async def on_card(self, request: web.Request) -> web.Response:
        card = await request.json()
        self._later(self.handle_card(card))
        return web.json_response({})

    async def on_state(self, request: web.Request) -> web.Response:
        event = await request.json()
        if event["online"] and event["state"] == "IDLE":
            self._later(self.arm())
        return web.json_response({})

    def _later(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def handle_card(self, card: dict[str, Any]) -> None:
        charge = self.charges.get(card["cardId"])
        if charge is not None:
            await self.tap_to_stop(charge, card)
            return
        status, session = await self.cps.post(
            f"terminals/{self.serial}/authorize", {"uiMessage": "Charging can start"}
        )
        if status != 200:
            self.declined.append(session["error"])
            self.log.append("declined")
        else:
            self.charges[card["cardId"]] = Charge(card["cardId"], session["sessionId"], self.now())
            self.log.append("charging")  # here the CSMS would send RemoteStart to the charger
        await self.arm()

    async def tap_to_stop(self, charge: Charge, card: dict[str, Any]) -> None:
        assert charge.session_id in card["sessions"]  # the terminal agrees on the match
        hours = (self.now() - charge.started) / 3600
        amount = min(round(hours * PRICE_PER_HOUR), 5000)
        status, session = await self.cps.post(
            f"terminals/{self.serial}/sessions/{charge.session_id}/commit",
            {"commitAmount": amount, "uiMessage": "Charging stopped", "receiptLine": "Bay 1"},
        )
        assert status == 200, session
        del self.charges[charge.card_id]
        self.finished.append(session)
        self.log.append("stopped")
        await self.arm()

    async def settle(self, node: EmulatorNode | None = None) -> None:
        """Until neither the emulator nor the CSMS has work left."""
        for _ in range(50):
            if node is not None:
                await node.rt.background.drain()
            if not self.tasks:
                if node is None or not node.rt.background.pending:
                    return
                continue
            await asyncio.gather(*list(self.tasks))
        raise AssertionError("the CSMS and the emulator keep calling each other")


@pytest.fixture
async def node(start_emulator: Callable[..., Any]) -> EmulatorNode:
    # Read for 10 minutes after each start: the CSMS re-arms from the state webhook 12 times
    # in the two hours of charging below (with Payter's 30 s it would be 240 times).
    return await start_emulator(cps_read_timeout=600)


async def test_tap_to_start_tap_to_stop(
    node: EmulatorNode,
    clock: ManualClock,
    http: aiohttp.ClientSession,
    admin_call: Callable[..., Any],
    present: Callable[..., Any],
) -> None:
    await admin_call("POST", "terminals", {"serial_number": "APO-CPS", "mode": "cps"}, status=201)
    csms = Csms(CpsClient(http, node.cps.base_url), "APO-CPS", lambda: clock.now().timestamp())
    await csms.start()
    try:
        await csms.settle(node)
        assert (await csms.cps.get("terminals/APO-CPS"))[1]["state"] == "READING"

        # Driver 1 taps: authorized, charging.
        await present("APO-CPS", "visa-approved")
        await csms.settle(node)
        [charge] = csms.charges.values()

        # Charging for two hours; reading times out meanwhile and the CSMS re-arms it from
        # the state webhook.
        await clock.advance(3600)
        await csms.settle(node)
        await clock.advance(3600)
        await csms.settle(node)
        assert (await csms.cps.get("terminals/APO-CPS"))[1]["state"] == "READING"
        # At start, after the tap (by the CSMS and from the IDLE state event), 12 timeouts.
        assert csms.log.count("armed") == 3 + 12

        # Driver 2 taps a card that is declined; nothing starts.
        await present("APO-CPS", "discover-declined")
        await csms.settle(node)
        assert csms.declined[0]["code"] == "declined"

        # Driver 1 taps the same card again: matched on cardId, committed.
        await present("APO-CPS", "visa-approved")
        await csms.settle(node)
        [done] = csms.finished
        assert done["sessionId"] == charge.session_id
        assert (done["state"], done["commitAmount"], done["capturedAmount"]) == (
            "COMMITTED",
            2 * PRICE_PER_HOUR,
            2 * PRICE_PER_HOUR,
        )
        assert done["receiptLines"] == ["Bay 1"]
        assert csms.charges == {}

        # Re-armed for the next driver.
        assert (await csms.cps.get("terminals/APO-CPS"))[1]["state"] == "READING"
        assert csms.log[:3] == ["armed", "charging", "armed"]
        assert csms.log.count("stopped") == 1 and csms.log[-1] == "armed"

        # Payter's rules for CPS hold: every session ended, every webhook answered 200.
        status, sessions = await csms.cps.get("terminals/APO-CPS/sessions")
        assert [s["state"] for s in sessions] == ["COMMITTED"]
        report = await admin_call("GET", "report", status=200)
        assert report["axes"]["payter"]["verdict"] == "PASS", report["axes"]["payter"]
        webhooks = node.rt.journal.list(protocol="webhook")
        assert {r["module"] for r in webhooks} == {"card", "state"}
        assert {r["status"] for r in webhooks} == {200}
    finally:
        await csms.stop()
