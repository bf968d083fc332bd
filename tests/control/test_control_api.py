"""The control API under /__admin/: plain JSON, errors, clock, reset, findings, events."""

from __future__ import annotations

import asyncio
import io

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from cpo_double import CpoDouble
from helpers import admin, ocpi

from emulator.app import EmulatorNode
from emulator.control.http import admin_middleware

TOKEN_A = "payter-emulator-token-a"


async def test_clock_advance_and_set(start_emulator, http) -> None:
    emulator = await start_emulator(default_terminal="")  # no terminal: no screensaver timer
    status, body = await admin(http, emulator, "GET", "clock")
    assert status == 200 and body == {
        "mode": "manual",
        "now": "2025-03-01T09:00:00Z",
        "pending_timers": 0,
        "next_timer_at": None,
    }
    fired: list[str] = []
    emulator.rt.clock.call_later(90, lambda: fired.append("x"))
    status, body = await admin(http, emulator, "POST", "clock/advance", json={"seconds": 120})
    assert status == 200 and body["now"] == "2025-03-01T09:02:00Z" and body["timers_fired"] == 1
    assert fired == ["x"]
    status, body = await admin(http, emulator, "POST", "clock/advance?seconds=60")
    assert body["now"] == "2025-03-01T09:03:00Z"
    status, body = await admin(
        http, emulator, "POST", "clock/set", json={"at": "2025-03-02T00:00:00Z"}
    )
    assert status == 200 and body["now"] == "2025-03-02T00:00:00Z"
    for bad in ({"seconds": -1}, {"seconds": "soon"}, {}):
        status, body = await admin(http, emulator, "POST", "clock/advance", json=bad)
        assert status == 400 and "error" in body


async def test_real_clock_cannot_be_advanced(start_emulator, http) -> None:
    node = await start_emulator(clock="real")
    status, body = await admin(http, node, "POST", "clock/advance", json={"seconds": 1})
    assert status == 409 and body["error"]["code"] == "clock_not_manual"


async def test_findings_filters_report_and_reset(
    emulator: EmulatorNode, cpo: CpoDouble, http
) -> None:
    await ocpi(http, "GET", emulator.server.version_url("2.3.0"), TOKEN_A, raw=True)  # OCPI-01
    async with http.get(
        emulator.server.version_url("2.3.0"), headers={"Authorization": "Token " + _b64(TOKEN_A)}
    ) as resp:
        assert resp.status == 200  # OCPI-03: no request ids
    status, rows = await admin(http, emulator, "GET", "findings?rule=OCPI-03")
    assert status == 200 and rows and {r["rule"] for r in rows} == {"OCPI-03"}
    assert rows[0]["exchange_id"] and rows[0]["reference"].startswith("transport_and_format")
    status, exchange = await admin(http, emulator, "GET", f"journal/{rows[0]['exchange_id']}")
    assert status == 200 and exchange["findings"][0]["rule"] == "OCPI-03"
    status, report = await admin(http, emulator, "GET", "report")
    assert report["verdict"] == "FAIL" and report["axes"]["spec"]["errors"] >= 2
    # No Payter finding, but nothing of Payter's flows ran either.
    assert report["axes"]["payter"]["verdict"] == "INCOMPLETE"
    async with http.get(f"{emulator.rt.base_url}/__admin/report?format=text") as resp:
        text = await resp.text()
    assert "Verdict: FAIL" in text and "OCPI-01" in text and "see transport_and_format" in text
    await cpo.register_with(emulator.server.versions_url, TOKEN_A)
    assert emulator.platforms.registered()
    status, _body = await admin(http, emulator, "POST", "reset")
    assert status == 200
    assert emulator.platforms.all() == [] and emulator.rt.findings.list() == []
    # The fixed token A works again after a reset.
    status, _, _ = await ocpi(http, "GET", emulator.server.versions_url, TOKEN_A)
    assert status == 200


def _b64(token: str) -> str:
    import base64

    return base64.b64encode(token.encode()).decode()


async def test_event_stream_poll_sse_and_websocket(start_emulator, http) -> None:
    emulator = await start_emulator(default_terminal="")
    emulator.rt.bus.publish("terminal.screen", serial_number="T1")
    status, events = await admin(http, emulator, "GET", "events?kinds=terminal")
    assert status == 200 and [e["kind"] for e in events] == ["terminal.screen"]
    last = events[-1]["id"]
    # Long poll returns when something happens.
    poll = asyncio.create_task(admin(http, emulator, "GET", f"events?since={last}&wait=5"))
    await asyncio.sleep(0)
    emulator.rt.bus.publish("finding", rule="OCPI-01")
    status, events = await asyncio.wait_for(poll, 5)
    assert [e["kind"] for e in events] == ["finding"]
    # SSE.
    async with http.get(f"{emulator.rt.base_url}/__admin/events?stream=sse&since={last}") as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        line = await asyncio.wait_for(resp.content.readline(), 5)
        assert line.startswith(b"id: ")
    # WebSocket.
    async with http.ws_connect(f"{emulator.rt.base_url}/__admin/events?since={last}") as ws:
        msg = await asyncio.wait_for(ws.receive_json(), 5)
        assert msg["kind"] == "finding"
        emulator.rt.bus.publish("terminal.card", serial_number="T1")
        msg = await asyncio.wait_for(ws.receive_json(), 5)
        assert msg["kind"] == "terminal.card"


async def test_admin_token(start_emulator, http) -> None:
    node = await start_emulator(admin_token="s3cret")
    status, body = await admin(http, node, "GET", "platforms")
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body = await admin(
        http, node, "GET", "platforms", headers={"Authorization": "Bearer s3cret"}
    )
    assert status == 200 and body == []
    status, body = await admin(
        http, node, "GET", "settings", headers={"Authorization": "Bearer s3cret"}
    )
    assert body["admin_token"] == "s3cr…"


async def test_non_loopback_clients_need_the_admin_token() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    class Transport:
        def get_extra_info(self, name: str, default=None):
            return ("10.1.2.3", 5555) if name == "peername" else default

    request = make_mocked_request("GET", "/__admin/platforms", transport=Transport())
    response = await admin_middleware(None)(request, handler)
    assert response.status == 403
    local = make_mocked_request("GET", "/__admin/platforms")
    # The mocked default transport has no peer address: treated as not loopback either.
    assert (await admin_middleware(None)(local, handler)).status == 403
    ocpi_path = make_mocked_request("GET", "/ocpi/versions", transport=Transport())
    assert (await admin_middleware(None)(ocpi_path, handler)).status == 200


async def test_control_api_errors_are_plain_json(emulator: EmulatorNode, http) -> None:
    async with http.post(
        f"{emulator.rt.base_url}/__admin/platforms/register",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    ) as resp:
        body = await resp.json()
        assert resp.status == 400 and body["error"]["code"] == "invalid_json"
    # An unknown path is named, and GET /__admin/ (which lists the routes) is pointed to.
    status, body = await admin(http, emulator, "GET", "no-such-thing")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert body["error"]["path"] == "/__admin/no-such-thing"
    assert body["error"]["message"] == (
        "no control API route GET /__admin/no-such-thing: GET /__admin/ lists them"
    )
    status, body = await admin(http, emulator, "DELETE", "clock")
    assert status == 405 and body["error"]["allowed"] == ["GET", "HEAD"]
    assert "GET /__admin/ lists the routes" in body["error"]["message"]
    status, index = await admin(http, emulator, "GET", "")
    assert status == 200 and "GET /__admin/clock" in index["routes"]
    status, body = await admin(http, emulator, "GET", "platforms/abc")
    assert status == 400
    # Control API errors never carry an OCPI envelope.
    assert "status_code" not in body
    big = io.BytesIO(b'{"label": "' + b"x" * 2_000_000 + b'"}')
    status, body = await admin(
        http, emulator, "POST", "tokens-a", data=big, headers={"Content-Type": "application/json"}
    )
    assert status == 413 and body["error"]["code"] == "body_too_large"
    assert "--max-body-bytes" in body["error"]["message"]
    # Wrong types are named.
    status, body = await admin(http, emulator, "POST", "tokens-a", json={"label": 5})
    assert status == 400 and body["error"]["message"] == "'label' must be of type str"
    status, body = await admin(
        http, emulator, "POST", "platforms/register", json={"versions_url": "ftp://x", "token": "a"}
    )
    assert status == 400 and "http(s) URL" in body["error"]["message"]
