"""``GET .../card?waitTime=``: a long poll in real (network) seconds, kept short here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from cps_client import CpsClient

from emulator.app import EmulatorNode

CARD = "terminals/CPS-1/card"


async def _parked(node: EmulatorNode, serial: str, count: int = 1) -> None:
    """Until the polls wait inside the emulator (no wall-clock sleep: yield to the loop)."""
    for _ in range(10_000):
        if node.cps.polls_waiting(serial) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError("the long poll never reached the emulator")


async def test_long_poll_returns_on_card_read(
    cps: CpsClient, terminal: str, node: EmulatorNode, present: Callable[..., Any]
) -> None:
    await cps.post("terminals/CPS-1/start", {"authorizedAmount": 5000})
    started = time.monotonic()
    poll = asyncio.create_task(cps.get(CARD, {"waitTime": 30}))
    await _parked(node, "CPS-1")
    await present("CPS-1", "mastercard-approved")
    status, card = await poll
    assert status == 200
    assert (card["ifd"], card["maskedPan"]) == ("CONTACTLESS", "555555******4444")
    assert time.monotonic() - started < 10  # answered on the read, not after waitTime
    assert node.cps.polls_waiting("CPS-1") == 0


async def test_long_poll_times_out(cps: CpsClient, terminal: str, node: EmulatorNode) -> None:
    await cps.post("terminals/CPS-1/start")
    started = time.monotonic()
    status, body = await cps.get(CARD, {"waitTime": 0.2})
    elapsed = time.monotonic() - started
    assert (status, body) == (204, None)
    assert 0.2 <= elapsed < 5
    assert node.cps.polls_waiting("CPS-1") == 0


async def test_several_polls_wake_together(
    cps: CpsClient, terminal: str, node: EmulatorNode, present: Callable[..., Any]
) -> None:
    await cps.post("terminals/CPS-1/start")
    polls = [asyncio.create_task(cps.get(CARD, {"waitTime": 30})) for _ in range(3)]
    await _parked(node, "CPS-1", 3)
    await present("CPS-1")
    results = await asyncio.gather(*polls)
    assert {status for status, _ in results} == {200}
    assert len({card["cardId"] for _, card in results}) == 1


async def test_wait_time_is_capped(start_emulator: Callable[..., Any], http: Any) -> None:
    node = await start_emulator(cps_max_wait_time=0.1)
    cps = CpsClient(http, node.cps.base_url)
    async with http.post(
        f"{node.rt.base_url}/__admin/terminals", json={"serial_number": "CPS-9", "mode": "cps"}
    ) as resp:
        assert resp.status == 201
    started = time.monotonic()
    status, _ = await cps.get("terminals/CPS-9/card", {"waitTime": 60})
    assert status == 204 and time.monotonic() - started < 5
