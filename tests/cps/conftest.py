"""Fixtures for the CPS API: an emulator on a real port with the manual clock, a CPS client with
the fixed API key, and a webhook receiver whose answers a test scripts. Nothing here sleeps."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cps_client import CpsClient, WebhookServer

from emulator.app import EmulatorNode
from emulator.clock import ManualClock


@pytest.fixture(autouse=True)
def _background_failures_fail_the_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A webhook delivery or a timer runs as a background task, whose exception is only
    logged; here it fails the test instead."""
    import emulator.background

    failures: list[dict[str, Any]] = []
    real = emulator.background.log

    class Recorder:
        def error(self, event: str, **kw: Any) -> None:
            failures.append({"event": event, **kw})
            real.error(event, **kw)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(emulator.background, "log", Recorder())
    yield
    assert failures == []


@pytest.fixture
async def node(start_emulator: Callable[..., Any]) -> EmulatorNode:
    return await start_emulator()


@pytest.fixture
def clock(node: EmulatorNode) -> ManualClock:
    assert isinstance(node.rt.clock, ManualClock)
    return node.rt.clock


@pytest.fixture
async def cps(node: EmulatorNode, http: aiohttp.ClientSession) -> CpsClient:
    return CpsClient(http, node.cps.base_url)


@pytest.fixture
async def hooks(node: EmulatorNode) -> AsyncIterator[WebhookServer]:
    server = await WebhookServer(node.rt.now).start()
    yield server
    await server.stop()


@pytest.fixture
def admin_call(node: EmulatorNode, http: aiohttp.ClientSession) -> Callable[..., Any]:
    async def call(method: str, path: str, json: Any = None, status: int | None = None) -> Any:
        async with http.request(
            method, f"{node.rt.base_url}/__admin/{path.lstrip('/')}", json=json
        ) as resp:
            body = await resp.json(content_type=None)
            if status is not None:
                assert resp.status == status, body
            return body

    return call


@pytest.fixture
async def terminal(admin_call: Callable[..., Any]) -> str:
    """A terminal in mode cps: what the CPS API drives."""
    await admin_call("POST", "terminals", {"serial_number": "CPS-1", "mode": "cps"}, status=201)
    return "CPS-1"


@pytest.fixture
def present(admin_call: Callable[..., Any]) -> Callable[..., Any]:
    async def tap(serial: str, card: str = "visa-approved", medium: str = "contactless") -> Any:
        return await admin_call(
            "POST", f"terminals/{serial}/present-card", {"card": card, "medium": medium}, status=200
        )

    return tap
