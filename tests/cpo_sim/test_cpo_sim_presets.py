"""Each behaviour preset makes exactly its deviation observable."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from helpers import clock_of
from ptp_double import PtpDouble

from emulator.cpo_sim.node import CpoSimNode
from emulator.cpo_sim.presets import PRESETS, markdown_table, parse_presets
from emulator.cpo_sim.settings import CpoSimSettings

START = {"location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-1", "connector_id": "1"}


async def sim_with(start_sim: Any, ptp_factory: Any, preset: str, **kw: Any) -> tuple[Any, Any]:
    sim = await start_sim(preset=preset, **kw)
    ptp = await ptp_factory(sim)
    return sim, ptp


async def run_session(sim: CpoSimNode, ptp: PtpDouble, seconds: float = 600, **car: Any) -> str:
    await sim.backend.chargers.plug_in("SIM-AMS-1", **car)
    await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    await clock_of(sim).advance(2)
    session_id = next(iter(sim.backend.runs))
    await clock_of(sim).advance(seconds)
    return session_id


def test_preset_names_and_rules() -> None:
    assert list(PRESETS) == [
        "correct",
        "sloppy-headers",
        "late-result",
        "reject-start",
        "no-session-after-accept",
        "patch-without-last-updated",
        "wrong-cdr-token",
        "cdr-over-authorization",
        "bad-paging",
        "raw-token",
    ]
    from emulator.rules import RULES

    for preset in PRESETS.values():
        assert all(r in RULES for r in preset.rules), preset
    assert parse_presets("correct") == frozenset()
    assert parse_presets("late-result, raw-token") == {"late-result", "raw-token"}
    with pytest.raises(ValueError, match="unknown preset"):
        parse_presets("nonsense")
    with pytest.raises(ValueError):
        CpoSimSettings(preset="nonsense")
    assert "| `bad-paging` |" in markdown_table()


async def test_correct_sends_what_the_spec_asks(sim: CpoSimNode, ptp: PtpDouble) -> None:
    await run_session(sim, ptp, 120)
    for seen in ptp.seen:
        if seen.path.startswith("/ptp/2.3.0/") or "/results/" in seen.path:
            assert seen.headers["X-Request-ID"] and seen.headers["X-Correlation-ID"]
            assert seen.headers["OCPI-to-party-id"] == "PAY"
            assert seen.headers["OCPI-from-party-id"] == "SIM"
            value = seen.headers["Authorization"].removeprefix("Token ")
            assert base64.b64decode(value).decode() in ptp.valid_tokens


async def test_sloppy_headers(start_sim, ptp_factory) -> None:
    sim, ptp = await sim_with(start_sim, ptp_factory, "sloppy-headers")
    await run_session(sim, ptp, 120)
    pushes = ptp.received("PATCH", "/sessions/")
    assert pushes
    for seen in pushes:
        assert "X-Request-ID" not in seen.headers and "X-Correlation-ID" not in seen.headers
        assert seen.headers["OCPI-to-party-id"] == "SIM"  # names itself (OCPI-04)
    # Its responses echo nothing and swap nothing.
    status, headers, _ = await ptp.call("GET", "locations")
    assert status == 200 and "X-Request-ID" not in headers
    assert headers["OCPI-to-party-id"] == headers["OCPI-from-party-id"] == "SIM"


async def test_late_result(start_sim, ptp_factory) -> None:
    sim, ptp = await sim_with(start_sim, ptp_factory, "late-result")
    _, env, key = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    timeout = env["data"]["timeout"]
    await clock_of(sim).advance(timeout)
    assert key not in ptp.results  # nothing within the timeout (OCPI-43)
    await clock_of(sim).advance(30)
    assert ptp.results[key] == [{"result": "ACCEPTED"}]


async def test_reject_start(start_sim, ptp_factory) -> None:
    sim, ptp = await sim_with(start_sim, ptp_factory, "reject-start")
    status, env, _key = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    assert status == 200 and env["data"]["result"] == "REJECTED"
    await clock_of(sim).advance(60)
    assert ptp.results == {} and ptp.sessions == {}


async def test_no_session_after_accept(start_sim, ptp_factory) -> None:
    sim, ptp = await sim_with(start_sim, ptp_factory, "no-session-after-accept")
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    _, _, key = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    await clock_of(sim).advance(3600)
    assert ptp.results[key] == [{"result": "ACCEPTED"}]
    assert ptp.sessions == {} and ptp.cdrs == []  # OCPI-46


async def test_patch_without_last_updated(start_sim, ptp_factory) -> None:
    sim, ptp = await sim_with(start_sim, ptp_factory, "patch-without-last-updated")
    await run_session(sim, ptp, 120)
    await ptp.call("POST", "payments", "terminals", json_body={"terminal_id": "T-1"})
    await clock_of(sim).advance(2)
    patches = ptp.received("PATCH")
    assert {p.path.split("/")[3] for p in patches} == {"locations", "sessions", "payments"}
    assert all("last_updated" not in p.body for p in patches)  # OCPI-31, OCPI-52b


async def test_wrong_cdr_token(start_sim, ptp_factory) -> None:
    sim, ptp = await sim_with(start_sim, ptp_factory, "wrong-cdr-token")
    session_id = await run_session(sim, ptp, 120)
    await sim.backend.charging.end_session(session_id, "test")
    token = ptp.token()
    for obj in (ptp.sessions[session_id], ptp.cdrs[0]):
        assert obj["cdr_token"]["uid"] != token["uid"]  # OCPI-35
        assert obj["cdr_token"]["type"] == "RFID"
        # Still pushed to the token's owner.
        assert (obj["cdr_token"]["country_code"], obj["cdr_token"]["party_id"]) == ("NL", "PAY")


async def test_cdr_over_authorization(start_sim, ptp_factory) -> None:
    sim, ptp = await sim_with(
        start_sim, ptp_factory, "cdr-over-authorization", session_patch_interval=600
    )
    session_id = await run_session(sim, ptp, 8 * 3600, battery_kwh=200.0, soc=0.0)
    assert session_id in sim.backend.runs  # not stopped at the limit
    await sim.backend.charging.end_session(session_id, "test")
    [cdr] = ptp.cdrs
    total = Decimal(str(cdr["total_cost"]["before_taxes"])) + sum(
        Decimal(str(t["amount"])) for t in cdr["total_cost"]["taxes"]
    )
    # Above the 50.00 pre-authorized and the 72.60 max_price (PAYTER-06).
    assert total > Decimal("72.60")


async def test_bad_paging(start_sim, ptp_factory) -> None:
    _sim, ptp = await sim_with(start_sim, ptp_factory, "bad-paging")
    params = {"date_from": "2024-01-01T00:00:00Z", "limit": "2"}
    _, headers, env = await ptp.call("GET", "locations", params=params)
    assert len(env["data"]) == 2
    assert headers["Link"].startswith("<") and "date_from" not in headers["Link"]  # OCPI-20
    _, headers, env = await ptp.call("GET", "locations", params={"offset": "2"})
    assert headers["X-Limit"] == str(len(env["data"])) == "1"  # OCPI-21


async def test_raw_token(start_sim, ptp_factory) -> None:
    sim, ptp = await sim_with(start_sim, ptp_factory, "raw-token")
    await run_session(sim, ptp, 60)
    [put] = ptp.received("PUT", "/sessions/")
    value = put.headers["Authorization"].removeprefix("Token ")
    assert value.startswith("ptp-token-b-") and value in ptp.valid_tokens  # OCPI-01


async def test_preset_changes_at_run_time(sim: CpoSimNode, ptp: PtpDouble, http) -> None:
    url = f"{sim.rt.base_url}/__admin/preset"
    async with http.get(url) as resp:
        body = await resp.json()
    assert body["preset"] == "correct"
    assert {p["name"]: p["active"] for p in body["presets"]}["correct"] is True
    async with http.put(url, json={"preset": "reject-start,raw-token"}) as resp:
        body = await resp.json()
    assert resp.status == 200 and body["preset"] == "raw-token,reject-start"
    _, env, _ = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    assert env["data"]["result"] == "REJECTED"
    async with http.put(url, json={"preset": "nope"}) as resp:
        body = await resp.json()
    assert resp.status == 400 and "correct" in body["error"]["known"]
    async with http.post(url, json={"preset": "correct"}) as resp:
        assert (await resp.json())["preset"] == "correct"
    _, env, _ = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    assert env["data"]["result"] == "ACCEPTED"
