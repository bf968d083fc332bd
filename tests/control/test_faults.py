"""Scoped fault injection (/__admin/faults): matching, counting and every action, in both
directions, as the peer sees it and as the journal records it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from helpers import SIM_TOKEN_A, admin, make_settings, sim_settings

from emulator import jsonio
from emulator.app import EmulatorNode, build_emulator
from emulator.cpo_sim.node import CpoSimNode, build_cpo_sim

TOKEN_A = base64.b64encode(b"payter-emulator-token-a").decode()
AUTH = {"Authorization": f"Token {TOKEN_A}", "X-Request-ID": "r1", "X-Correlation-ID": "c1"}


@pytest.fixture
async def pair() -> AsyncIterator[Callable[..., Any]]:
    started: list[Any] = []

    async def start(**sim: Any) -> tuple[EmulatorNode, CpoSimNode]:
        emu = build_emulator(make_settings())
        cpo = build_cpo_sim(sim_settings(**sim), clock=emu.rt.clock)
        await emu.start()
        await cpo.start()
        started.extend([cpo, emu])
        return emu, cpo

    yield start
    for node in started:
        await node.stop()


async def add_fault(http: aiohttp.ClientSession, node: Any, **spec: Any) -> dict[str, Any]:
    status, body = await admin(http, node, "POST", "faults", json=spec)
    assert status == 201, body
    return dict(body)


async def get_versions(http: aiohttp.ClientSession, node: EmulatorNode) -> tuple[int, bytes, Any]:
    async with http.get(node.server.versions_url, headers=AUTH) as resp:
        return resp.status, await resp.read(), resp.headers


async def test_http_status_fires_the_given_number_of_times_and_shows_in_the_journal(
    emulator, http
) -> None:
    fault = await add_fault(
        http,
        emulator,
        direction="in",
        module="versions",
        action="http_status",
        status=503,
        times=2,
        after=1,
    )
    assert fault["active"] and fault["description"] == "fault #1: http_status 503"
    statuses = [(await get_versions(http, emulator))[0] for _ in range(4)]
    # The first match passes (after=1), the next two are refused, then the fault is spent.
    assert statuses == [200, 503, 503, 200]
    status, body, _ = await get_versions(http, emulator)
    _, listed = await admin(http, emulator, "GET", "faults")
    assert listed[0]["matched"] == 3 and listed[0]["fired"] == 2 and not listed[0]["active"]
    _, rows = await admin(http, emulator, "GET", "journal?fault=true")
    assert [r["status"] for r in rows] == [503, 503]
    assert all(r["fault"] == "fault #1: http_status 503" for r in rows)
    assert jsonio.loads(rows[0]["response_body"])["status_code"] == 3000
    # Faults are in the event stream too.
    _, events = await admin(http, emulator, "GET", "events?kinds=fault")
    kinds = [e["kind"] for e in events]
    assert kinds == ["fault.added", "fault.fired", "fault.fired"]


async def test_ocpi_status_answers_an_envelope_without_handling(emulator, http) -> None:
    await add_fault(
        http,
        emulator,
        direction="in",
        path="/ocpi/versions",
        action="ocpi_status",
        ocpi_status=2001,
    )
    status, body, _ = await get_versions(http, emulator)
    assert status == 200 and jsonio.loads(body)["status_code"] == 2001
    # The token A was not spent and nothing was handled: the version list has no data.
    assert "data" not in jsonio.loads(body)


async def test_malformed_truncated_and_missing_header_corrupt_the_real_answer(
    emulator, http
) -> None:
    await add_fault(http, emulator, direction="in", module="versions", action="malformed", times=1)
    await add_fault(http, emulator, direction="in", module="versions", action="truncated", times=1)
    await add_fault(
        http,
        emulator,
        direction="in",
        module="versions",
        action="missing_header",
        header="X-Request-ID",
        times=1,
    )
    _, malformed, _ = await get_versions(http, emulator)
    _, truncated, _ = await get_versions(http, emulator)
    status, whole, headers = await get_versions(http, emulator)
    for body in (malformed, truncated):
        with pytest.raises(ValueError):
            jsonio.loads(body)
    assert jsonio.loads(whole)["status_code"] == 1000 and "X-Request-ID" not in headers
    assert "X-Correlation-ID" in headers
    _, intact, headers = await get_versions(http, emulator)
    assert jsonio.loads(intact)["status_code"] == 1000 and "X-Request-ID" in headers


async def test_drop_closes_the_connection_without_an_answer(emulator, http) -> None:
    await add_fault(http, emulator, direction="in", module="credentials", action="drop", times=1)
    url = emulator.server.endpoint_url("2.3.0", "credentials")
    with pytest.raises(aiohttp.ClientError):
        async with http.post(url, headers=AUTH, json={}) as resp:
            await resp.read()
    [row] = emulator.rt.journal.list(module="credentials")
    assert row["error"] == "connection dropped" and row["fault"] == "fault #1: drop"
    assert emulator.platforms.all() == []  # never handled


async def test_probability_is_seeded_and_repeats(start_emulator, http) -> None:
    outcomes = []
    for _ in range(2):
        node = await start_emulator()
        await add_fault(
            http,
            node,
            direction="in",
            module="versions",
            action="http_status",
            status=500,
            probability=0.5,
            seed=42,
        )
        outcomes.append([(await get_versions(http, node))[0] for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert 500 in outcomes[0] and 200 in outcomes[0]


async def test_delay_holds_the_answer(emulator, http) -> None:
    await add_fault(http, emulator, direction="in", module="versions", action="delay", seconds=5)
    with pytest.raises(TimeoutError):
        async with http.get(
            emulator.server.versions_url, headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.2)
        ) as resp:
            await resp.read()


async def test_invalid_faults_are_refused_and_faults_can_be_removed(emulator, http) -> None:
    for spec in (
        {"direction": "in", "action": "teleport"},
        {"direction": "sideways", "action": "drop"},
        {"direction": "in", "action": "delay"},  # no seconds
        {"direction": "in", "action": "http_status", "status": 42},
        {"direction": "in", "action": "drop", "probability": 0},
        {"direction": "in", "action": "drop", "colour": "red"},
    ):
        status, body = await admin(http, emulator, "POST", "faults", json=spec)
        assert status == 400 and body["error"]["code"] == "invalid_fault", (spec, body)
    status, body = await admin(http, emulator, "POST", "faults", data=b"[1,")
    assert status == 400 and body["error"]["code"] == "invalid_json"
    fault = await add_fault(http, emulator, direction="out", action="drop", label="x")
    assert (await admin(http, emulator, "GET", f"faults/{fault['id']}"))[1]["label"] == "x"
    assert (await admin(http, emulator, "DELETE", f"faults/{fault['id']}"))[0] == 200
    assert (await admin(http, emulator, "GET", f"faults/{fault['id']}"))[0] == 404
    assert (await admin(http, emulator, "GET", "faults/abc"))[0] == 400
    await add_fault(http, emulator, direction="out", action="drop")
    assert (await admin(http, emulator, "DELETE", "faults"))[1] == {"removed": 1}
    await add_fault(http, emulator, direction="out", action="drop")
    await admin(http, emulator, "POST", "reset")
    assert (await admin(http, emulator, "GET", "faults"))[1] == []


async def test_outbound_fault_keeps_the_request_from_the_peer(pair, http) -> None:
    emu, cpo = await pair()
    await add_fault(
        http,
        emu,
        direction="out",
        protocol="ocpi",
        module="versions",
        method="GET",
        action="http_status",
        status=503,
        times=1,
    )
    status, body = await admin(
        http,
        emu,
        "POST",
        "platforms/register",
        json={"versions_url": cpo.server.versions_url, "token": SIM_TOKEN_A},
    )
    assert status == 502 and body["error"]["ocpi_status_code"] == 3001, body
    [row] = emu.rt.journal.list(direction="out")
    assert row["status"] == 503 and row["fault"] == "fault #1: http_status 503"
    # The simulated CPO never saw it, and nothing is judged against it.
    assert cpo.rt.journal.list(direction="in") == []
    assert emu.rt.findings.list() == []
    # The fault is spent: the next attempt registers.
    status, body = await admin(
        http,
        emu,
        "POST",
        "platforms/register",
        json={"versions_url": cpo.server.versions_url, "token": SIM_TOKEN_A},
    )
    assert status == 201, body


async def test_outbound_malformed_body_reaches_the_peer(pair, http) -> None:
    emu, cpo = await pair()
    await add_fault(
        http, emu, direction="out", module="credentials", method="POST", action="malformed"
    )
    status, body = await admin(
        http,
        emu,
        "POST",
        "platforms/register",
        json={"versions_url": cpo.server.versions_url, "token": SIM_TOKEN_A},
    )
    assert status == 409 and body["error"]["ocpi_status_code"] == 2000, body
    [seen] = cpo.rt.journal.list(direction="in", module="credentials")
    assert seen["status"] == 400  # the CPO refused a body that is not JSON
    [sent] = emu.rt.journal.list(direction="out", module="credentials")
    assert sent["fault"] == "fault #1: malformed"
