"""Webhooks: card read, UI event, terminal state; delivery, the retry ladder on the manual clock,
the journal, and a restart with deliveries still pending (payter.md §3.6, §3.7)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cps_client import CpsClient, WebhookServer
from helpers import make_settings

from emulator.app import EmulatorNode, build_emulator
from emulator.clock import ManualClock
from emulator.ocpi.types import format_datetime, parse_datetime

T0 = "2025-03-01T09:00:00Z"  # make_settings' manual clock start


def at(seconds: float) -> str:
    return format_datetime(parse_datetime(T0) + timedelta(seconds=seconds))


async def test_card_webhook_to_the_start_callback(
    cps: CpsClient,
    terminal: str,
    hooks: WebhookServer,
    node: EmulatorNode,
    present: Callable[..., Any],
) -> None:
    await cps.post(
        "terminals/CPS-1/start", {"authorizedAmount": 5000, "callbackUrl": f"{hooks.url}/card"}
    )
    await present("CPS-1", "visa-approved")
    await node.rt.background.drain()
    [body] = hooks.bodies("card")
    assert body == {
        "serialNumber": "CPS-1",
        "ifd": "CONTACTLESS",
        "aid": "A0000000031010",
        "cardId": body["cardId"],
        "maskedPan": "411111******1111",
        "sessions": [],
    }
    [row] = node.rt.journal.list(protocol="webhook")
    assert (row["direction"], row["module"], row["method"], row["status"]) == (
        "out",
        "card",
        "POST",
        200,
    )
    assert row["url"] == f"{hooks.url}/card"
    [delivery] = node.cps.deliveries.list()
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == (
        "delivered",
        1,
        200,
    )
    [event] = [e.data for e in node.rt.bus.recent(kinds={"cps.webhook"})]
    assert (event["webhook"], event["state"], event["status"], event["attempt"]) == (
        "card",
        "delivered",
        200,
        1,
    )

    # A start without callbackUrl sends no card webhook.
    await cps.post("terminals/CPS-1/start")
    await present("CPS-1", "visa-approved")
    await node.rt.background.drain()
    assert len(hooks.bodies("card")) == 1


async def test_state_webhook_for_the_keys_terminals(
    cps: CpsClient,
    hooks: WebhookServer,
    node: EmulatorNode,
    admin_call: Callable[..., Any],
    present: Callable[..., Any],
) -> None:
    await cps.post("webhook", {"url": f"{hooks.url}/state"})
    limited = await admin_call("POST", "cps/api-keys", {"serial_numbers": ["CPS-2"]}, status=201)
    await cps.with_key(limited["apikey"]).post("webhook", {"url": f"{hooks.url}/limited"})

    await admin_call("POST", "terminals", {"serial_number": "CPS-1", "mode": "cps"}, status=201)
    await cps.post("terminals/CPS-1/start")
    await admin_call("POST", "terminals/CPS-1/offline", status=200)
    await admin_call("POST", "terminals/CPS-1/online", status=200)
    # An OCPI-mode terminal is not CPS's: no state webhook for it.
    await admin_call("POST", "terminals/APO-0001/offline", status=200)
    await node.rt.background.drain()
    assert hooks.bodies("state") == [
        {"serialNumber": "CPS-1", "online": True, "state": "IDLE"},  # created (boot)
        {"serialNumber": "CPS-1", "online": True, "state": "READING"},
        {"serialNumber": "CPS-1", "online": False, "state": "IDLE"},
        {"serialNumber": "CPS-1", "online": True, "state": "IDLE"},
    ]
    assert hooks.bodies("limited") == []  # that key does not see CPS-1

    await admin_call("POST", "terminals", {"serial_number": "CPS-2", "mode": "cps"}, status=201)
    await node.rt.background.drain()
    assert hooks.bodies("limited") == [{"serialNumber": "CPS-2", "online": True, "state": "IDLE"}]


async def test_same_url_for_two_keys_gets_one_delivery(
    cps: CpsClient, hooks: WebhookServer, node: EmulatorNode, admin_call: Callable[..., Any]
) -> None:
    other = await admin_call("POST", "cps/api-keys", None, status=201)
    for client in (cps, cps.with_key(other["apikey"])):
        await client.post("webhook", {"url": f"{hooks.url}/state"})
    await admin_call("POST", "terminals", {"serial_number": "CPS-1", "mode": "cps"}, status=201)
    await node.rt.background.drain()
    assert len(hooks.bodies("state")) == 1


async def _failing_state_delivery(
    cps: CpsClient, hooks: WebhookServer, node: EmulatorNode, admin_call: Callable[..., Any]
) -> None:
    """One state webhook (terminal created) to the hooks server, first attempt done."""
    await cps.post("webhook", {"url": f"{hooks.url}/state"})
    await admin_call("POST", "terminals", {"serial_number": "CPS-1", "mode": "cps"}, status=201)
    await node.rt.background.drain()


async def test_retries_until_200_on_the_clock(
    cps: CpsClient,
    hooks: WebhookServer,
    node: EmulatorNode,
    clock: ManualClock,
    admin_call: Callable[..., Any],
) -> None:
    hooks.script = [500, 503, 404]  # then 200
    await _failing_state_delivery(cps, hooks, node, admin_call)
    assert len(hooks.received) == 1
    [delivery] = node.cps.deliveries.list()
    assert (delivery["state"], delivery["attempts"], delivery["next_attempt_at"]) == (
        "pending",
        1,
        at(60),
    )
    await clock.advance(59)
    assert len(hooks.received) == 1  # not due yet
    await clock.advance(1)
    assert len(hooks.received) == 2
    await clock.advance(3600)
    assert [r.at for r in hooks.received] == [at(0), at(60), at(120), at(180)]
    assert len({str(r.body) for r in hooks.received}) == 1  # the same body every time
    [delivery] = node.cps.deliveries.list()
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == (
        "delivered",
        4,
        200,
    )
    statuses = [r["status"] for r in node.rt.journal.list(protocol="webhook")]
    assert statuses == [500, 503, 404, 200]
    findings = node.rt.findings.list(rule="CPS-03")
    url = f"{hooks.url}/state"
    assert [f["message"] for f in findings] == [
        f"state webhook to {url} failed (HTTP {status}); the emulator redelivers it (its own "
        "schedule, --cps-webhook-retries) until a 2xx or a 409; answer a 2xx to acknowledge it"
        for status in (500, 503, 404)
    ]
    assert all(f["severity"] == "warning" and f["exchange_id"] for f in findings)
    assert all(
        (f["axis"], f["reference"])
        == ("payter", "inferred: no public Payter source (README, Inferred) (cps: SHOULD)")
        for f in findings
    )
    journal_ids = [r["id"] for r in node.rt.journal.list(protocol="webhook")]
    assert [f["exchange_id"] for f in findings] == journal_ids[:3]


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_any_2xx_acknowledges_a_webhook(
    cps: CpsClient,
    hooks: WebhookServer,
    node: EmulatorNode,
    clock: ManualClock,
    admin_call: Callable[..., Any],
    status: int,
) -> None:
    """Public client code answers Payter's callbacks with 202: any 2xx ends a delivery, and is
    no CPS-03 warning."""
    hooks.script = [status]
    await _failing_state_delivery(cps, hooks, node, admin_call)
    await clock.advance(3600)
    assert [r.at for r in hooks.received] == [at(0)]
    [delivery] = node.cps.deliveries.list()
    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == (
        "delivered",
        1,
        status,
    )
    assert node.rt.findings.list(rule="CPS-03") == []


async def test_409_stops_the_retries(
    cps: CpsClient,
    hooks: WebhookServer,
    node: EmulatorNode,
    clock: ManualClock,
    admin_call: Callable[..., Any],
) -> None:
    hooks.script = [409]
    await _failing_state_delivery(cps, hooks, node, admin_call)
    await clock.advance(8 * 86400)
    assert len(hooks.received) == 1
    [delivery] = node.cps.deliveries.list()
    assert (delivery["state"], delivery["attempts"], delivery["next_attempt_at"]) == (
        "rejected",
        1,
        None,
    )
    assert node.rt.findings.list(rule="CPS-03") == []


async def test_the_whole_ladder(
    cps: CpsClient,
    hooks: WebhookServer,
    node: EmulatorNode,
    clock: ManualClock,
    admin_call: Callable[..., Any],
) -> None:
    """Every minute 5 times, then hourly for 24 hours, then daily for 7 days; then give up."""
    hooks.default = 500
    await _failing_state_delivery(cps, hooks, node, admin_call)
    await clock.advance(30 * 86400)
    minutes = [60 * m for m in range(1, 6)]
    hours = [300 + 3600 * h for h in range(1, 25)]
    days = [300 + 24 * 3600 + 86400 * d for d in range(1, 8)]
    expected = [at(s) for s in [0, *minutes, *hours, *days]]
    assert [r.at for r in hooks.received] == expected
    assert len(expected) == 37
    [delivery] = node.cps.deliveries.list()
    assert (delivery["state"], delivery["attempts"]) == ("failed", 37)
    gave_up = [f for f in node.rt.findings.list(rule="CPS-03") if "gave up" in f["message"]]
    assert len(gave_up) == 1 and "after 37 attempts" in gave_up[0]["message"]
    assert len(node.rt.journal.list(protocol="webhook")) == 37
    assert not [name for name in _timer_names(clock) if name.startswith("cps-webhook")]


def _timer_names(clock: ManualClock) -> list[str]:
    return [t.name for _, _, t in clock._heap if not t.cancelled]


async def test_custom_ladder(
    start_emulator: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    node = await start_emulator(cps_webhook_retries="10x2,100")
    hooks = await WebhookServer(node.rt.now, default=500).start()
    try:
        cps = CpsClient(http, node.cps.base_url)
        await cps.post("webhook", {"url": f"{hooks.url}/s"})
        await node.terminals.create("CPS-1", mode="cps")
        await node.rt.background.drain()
        assert isinstance(node.rt.clock, ManualClock)
        await node.rt.clock.advance(1000)
        assert [r.at for r in hooks.received] == [at(0), at(10), at(20), at(120)]
    finally:
        await hooks.stop()


async def test_unreachable_and_slow_endpoints(
    start_emulator: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    node = await start_emulator(cps_webhook_timeout=0.2)
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        cps = CpsClient(http, node.cps.base_url)
        await cps.post("webhook", {"url": f"http://127.0.0.1:{port}/slow"})
        await node.terminals.create("CPS-1", mode="cps")
        await node.rt.background.drain()
        [row] = node.rt.journal.list(protocol="webhook")
        assert (row["status"], row["error"]) == (None, "no answer within 0.2 s")

        await cps.post("webhook", {"url": "http://127.0.0.1:9/refused"})  # discard port
        await node.terminals.set_online("CPS-1", False)
        await node.rt.background.drain()
        rows = node.rt.journal.list(protocol="webhook")
        assert rows[-1]["status"] is None and rows[-1]["error"]
        pending = node.cps.deliveries.list(state="pending")
        assert len(pending) == 2 and all(d["next_attempt_at"] == at(60) for d in pending)
    finally:
        release.set()
        await runner.cleanup()


async def test_restart_keeps_pending_deliveries(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    settings = make_settings(db=str(tmp_path / "emulator.db"), default_terminal="")
    first = build_emulator(settings)
    await first.start()
    hooks = await WebhookServer(first.rt.now, default=500).start()
    try:
        cps = CpsClient(http, first.cps.base_url)
        await cps.post("webhook", {"url": f"{hooks.url}/state"})
        await first.terminals.create("CPS-1", mode="cps")
        await first.rt.background.drain()
        assert len(hooks.received) == 1
    finally:
        await first.stop()

    hooks.default = 200
    second = build_emulator(settings)
    await second.start()
    try:
        hooks.now = second.rt.now
        [pending] = second.cps.deliveries.list(state="pending")
        assert (pending["attempts"], pending["next_attempt_at"]) == (1, at(60))
        assert isinstance(second.rt.clock, ManualClock)
        await second.rt.clock.advance(60)
        assert [r.body for r in hooks.received] == [
            {"serialNumber": "CPS-1", "online": True, "state": "IDLE"}
        ] * 2
        assert hooks.received[1].at == at(60)
        [done] = second.cps.deliveries.list()
        assert (done["state"], done["attempts"]) == ("delivered", 2)
    finally:
        await second.stop()
        await hooks.stop()


async def test_reset_forgets_deliveries(
    cps: CpsClient,
    hooks: WebhookServer,
    node: EmulatorNode,
    clock: ManualClock,
    admin_call: Callable[..., Any],
) -> None:
    hooks.default = 500
    await _failing_state_delivery(cps, hooks, node, admin_call)
    await admin_call("POST", "reset", status=200)
    await clock.advance(3600)
    assert len(hooks.received) == 1
    assert node.cps.deliveries.list() == []


async def test_finished_deliveries_are_pruned(node: EmulatorNode, monkeypatch: Any) -> None:
    import emulator.cps.webhooks as webhooks

    monkeypatch.setattr(webhooks, "FINISHED_KEPT", 2)
    store = node.rt.store
    for state in ("delivered", "pending", "failed", "rejected", "delivered", "delivered"):
        store.insert("cps_deliveries", {"kind": "state", "url": "http://x/", "state": state})
    deliveries = node.cps.deliveries
    deliveries._finished = 99  # the 100th finished delivery prunes
    deliveries._prune()
    kept = [(d["id"], d["state"]) for d in reversed(deliveries.list())]
    assert kept == [(2, "pending"), (5, "delivered"), (6, "delivered")]
