"""GET /__admin/journal: filters, and the long poll that waits for a matching exchange."""

from __future__ import annotations

import asyncio
import base64

from helpers import admin

AUTH = {"Authorization": "Token " + base64.b64encode(b"payter-emulator-token-a").decode()}


async def test_filters_select_exchanges(emulator, http) -> None:
    async with http.get(emulator.server.versions_url, headers=AUTH) as resp:
        assert resp.status == 200
    async with http.get(emulator.server.version_url("2.3.0"), headers=AUTH) as resp:
        assert resp.status == 200
    _, rows = await admin(http, emulator, "GET", "journal?path=/ocpi/2.3.0*")
    assert [r["url"] for r in rows] == ["/ocpi/2.3.0"]
    _, rows = await admin(http, emulator, "GET", "journal?module=VERSIONS&method=get&status=200")
    assert len(rows) == 2
    _, rows = await admin(http, emulator, "GET", "journal?ocpi_status=1000&direction=out")
    assert rows == []
    status, body = await admin(http, emulator, "GET", "journal?status=abc")
    assert status == 400 and body["error"]["code"] == "invalid_parameter"
    status, body = await admin(http, emulator, "GET", "journal?wait=-1")
    assert status == 400
    status, body = await admin(http, emulator, "GET", "journal?wait=1e9")
    assert status == 400


async def test_wait_answers_as_soon_as_the_exchange_arrives(emulator, http) -> None:
    waiting = asyncio.create_task(
        admin(http, emulator, "GET", "journal?wait=30&module=versions&path=/ocpi/2.2.1")
    )
    # Traffic that does not match does not end the wait.
    async with http.get(emulator.server.versions_url, headers=AUTH) as resp:
        assert resp.status == 200
    await asyncio.sleep(0)
    assert not waiting.done()
    async with http.get(emulator.server.version_url("2.2.1"), headers=AUTH) as resp:
        assert resp.status == 200
    status, rows = await asyncio.wait_for(waiting, 10)
    assert status == 200 and [r["url"] for r in rows] == ["/ocpi/2.2.1"]


async def test_wait_times_out_with_the_nearest_misses(emulator, http) -> None:
    async with http.get(emulator.server.versions_url, headers=AUTH) as resp:
        assert resp.status == 200
    async with http.get(emulator.server.version_url("2.3.0"), headers=AUTH) as resp:
        assert resp.status == 200
    status, body = await admin(
        http, emulator, "GET", "journal?wait=0.05&module=versions&method=POST&path=/ocpi/2.3.0"
    )
    assert status == 408
    error = body["error"]
    assert error["code"] == "wait_timeout" and "method=POST" in error["message"]
    misses = error["nearest_misses"]
    # Closest first: /ocpi/2.3.0 misses only the method; /ocpi/versions misses the path too.
    assert misses[0]["url"] == "/ocpi/2.3.0" and misses[0]["mismatched"] == {"method": "GET"}
    assert misses[1]["mismatched"] == {"method": "GET", "path": "/ocpi/versions"}
    # Exchanges before 'since' are neither found nor near misses.
    last = misses[0]["id"]
    status, body = await admin(http, emulator, "GET", f"journal?wait=0.01&since={last}&module=x")
    assert status == 408 and body["error"]["nearest_misses"] == []
