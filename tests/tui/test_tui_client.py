"""The control-API client against the fake API: calls, errors, event stream reconnects."""

from __future__ import annotations

import asyncio

import pytest
from fake_api import FakeControlApi

from tui.client import ControlApiError, ControlClient, StreamStatus, _as_list


async def test_calls(fake_api: FakeControlApi) -> None:
    async with ControlClient(fake_api.url, cpo_sim_url=fake_api.url) as client:
        assert [t["serial_number"] for t in await client.terminals()] == ["PAY-0001"]
        assert (await client.terminal("PAY-0001"))["screen"]["type"] == "selection"
        await client.press("PAY-0001", "start")
        await client.present_card("PAY-0001", "visa-approved", "chip")
        await client.set_online("PAY-0001", False)
        assert (await client.advance(90))["now"] == "2025-03-01T09:01:30Z"
        assert [c["id"] for c in await client.cards()] == [c["id"] for c in fake_api.cards]
        assert len(await client.journal(since=1)) == 2
        assert (await client.exchange(3))["findings"]
        assert (await client.report())["verdict"] == "FAIL"
        assert len(await client.findings()) == 2
        assert len(await client.chargers()) == 2
        await client.charger_action("EVSE-1", "ev_full")
    assert fake_api.presses == [("PAY-0001", "start")]
    assert fake_api.cards_presented == [("PAY-0001", "visa-approved", "chip")]
    assert fake_api.online_changes == [("PAY-0001", False)]
    assert fake_api.charger_actions == [("EVSE-1", "ev-full")]


async def test_errors(fake_api: FakeControlApi) -> None:
    async with ControlClient(fake_api.url) as client:
        with pytest.raises(ControlApiError) as err:
            await client.press("PAY-0001", "nope")
        assert err.value.status == 409 and err.value.code == "invalid_key"
        with pytest.raises(ControlApiError) as err:
            await client.exchange(99)
        assert err.value.status == 404
        with pytest.raises(ControlApiError) as err:
            await client.chargers()
        assert err.value.code == "no_cpo_sim"
        with pytest.raises(ValueError):
            await client.charger_action("EVSE-1", "explode")


async def test_admin_token_is_sent() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    seen: list[str | None] = []

    async def clock(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"mode": "real", "now": "x"})

    app = web.Application()
    app.router.add_get("/__admin/clock", clock)
    async with TestServer(app) as server:
        async with ControlClient(str(server.make_url("")), admin_token="s3cret") as client:
            await client.clock()
    assert seen == ["Bearer s3cret"]


async def test_event_stream_reconnects_with_since(fake_api: FakeControlApi) -> None:
    fake_api.publish("terminal.screen", serial_number="PAY-0001")
    received: list[object] = []
    delays: list[float] = []

    async def no_sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    async with ControlClient(fake_api.url) as client:
        stream = client.events(sleep=no_sleep)

        async def take(n: int) -> None:
            for _ in range(n):
                received.append(await anext(stream))

        await take(2)  # connected, event 1
        await fake_api.drop_streams()
        fake_api.publish("finding", rule="OCPI-03")
        await take(3)  # disconnected, connected, event 2
        await stream.aclose()
    assert isinstance(received[0], StreamStatus) and received[0].connected
    assert received[1]["id"] == 1  # type: ignore[index]
    assert isinstance(received[2], StreamStatus) and not received[2].connected
    assert isinstance(received[3], StreamStatus) and received[3].connected
    assert received[4]["id"] == 2  # type: ignore[index]
    assert fake_api.stream_connections == [0, 1]
    assert delays == [0.2]


async def test_event_stream_reports_an_unreachable_emulator() -> None:
    delays: list[float] = []

    async def no_sleep(delay: float) -> None:
        delays.append(delay)

    async with ControlClient("http://127.0.0.1:9", timeout=2) as client:
        stream = client.events(sleep=no_sleep)
        first = await anext(stream)
        second = await anext(stream)
        await stream.aclose()
    assert isinstance(first, StreamStatus) and not first.connected
    assert isinstance(second, StreamStatus) and not second.connected
    assert delays == [0.2]


def test_list_answers() -> None:
    assert _as_list([{"a": 1}, 2]) == [{"a": 1}]
    assert _as_list({"cards": [{"id": "x"}]}, "cards") == [{"id": "x"}]
    assert _as_list({"data": [{"id": "y"}]}) == [{"id": "y"}]
    assert _as_list(None) == []
