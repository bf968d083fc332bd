"""Sessions left neither committed nor cancelled: visible, timed out on the clock with the
configured action, and reported as CPS-01 (payter.md §3.9: Payter enforces session management)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from cps_client import CpsClient
from helpers import make_settings

from emulator.app import EmulatorNode, build_emulator
from emulator.clock import ManualClock

T = "terminals/CPS-1"


async def authorize(
    cps: CpsClient, present: Callable[..., Any], card: str = "visa-approved"
) -> str:
    await cps.post(f"{T}/start", {"authorizedAmount": 4000})
    await present("CPS-1", card)
    status, session = await cps.post(f"{T}/authorize")
    assert status == 200, session
    return str(session["sessionId"])


async def test_session_timeout_voids_by_default(
    cps: CpsClient,
    terminal: str,
    node: EmulatorNode,
    clock: ManualClock,
    present: Callable[..., Any],
) -> None:
    sid = await authorize(cps, present)
    await clock.advance(86400 - 1)
    assert (await cps.get(f"{T}/sessions/{sid}"))[1]["state"] == "AUTHORIZED"
    assert node.rt.findings.list(rule="CPS-01") == []
    await clock.advance(1)
    status, session = await cps.get(f"{T}/sessions/{sid}")
    assert (session["state"], session["capturedAmount"], session["expiresAt"]) == (
        "CANCELLED",
        None,
        None,
    )
    [finding] = node.rt.findings.list(rule="CPS-01")
    assert finding["severity"] == "error" and "voided" in finding["message"]
    assert finding["context"]["session_id"] == sid


async def test_session_timeout_can_commit(
    start_emulator: Callable[..., Any],
    http: aiohttp.ClientSession,
) -> None:
    node = await start_emulator(cps_session_timeout=600, cps_session_timeout_action="commit")
    await node.terminals.create("CPS-1", mode="cps")
    cps = CpsClient(http, node.cps.base_url)
    await cps.post(f"{T}/start", {"authorizedAmount": 4000})
    await node.terminals.present_card("CPS-1", "visa-approved")
    _, session = await cps.post(f"{T}/authorize")
    assert session["expiresAt"] == "2025-03-01T09:10:00Z"
    assert isinstance(node.rt.clock, ManualClock)
    await node.rt.clock.advance(600)
    _, session = await cps.get(f"{T}/sessions/{session['sessionId']}")
    assert (session["state"], session["commitAmount"], session["capturedAmount"]) == (
        "COMMITTED",
        4000,
        4000,
    )
    [finding] = node.rt.findings.list(rule="CPS-01")
    assert "committed the full authorized amount" in finding["message"]


async def test_completed_sessions_do_not_time_out(
    cps: CpsClient,
    terminal: str,
    node: EmulatorNode,
    clock: ManualClock,
    present: Callable[..., Any],
) -> None:
    sid = await authorize(cps, present)
    await cps.post(f"{T}/sessions/{sid}/commit", {"commitAmount": 100})
    await clock.advance(30 * 86400)
    assert node.rt.findings.list(rule="CPS-01") == []
    assert (await cps.get(f"{T}/sessions/{sid}"))[1]["capturedAmount"] == 100


async def test_no_session_timeout_leaves_the_issuer_lapse(
    start_emulator: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    node = await start_emulator(cps_session_timeout=0)
    await node.terminals.create("CPS-1", mode="cps")
    cps = CpsClient(http, node.cps.base_url)
    await cps.post(f"{T}/start", {"authorizedAmount": 4000})
    await node.terminals.present_card("CPS-1", "visa-approved")
    _, session = await cps.post(f"{T}/authorize")
    assert session["expiresAt"] is None
    assert isinstance(node.rt.clock, ManualClock)
    await node.rt.clock.advance(7 * 86400)  # the authorization lapses at the issuer
    _, session = await cps.get(f"{T}/sessions/{session['sessionId']}")
    assert session["state"] == "EXPIRED"
    [finding] = node.rt.findings.list(rule="CPS-01")
    assert "lapsed" in finding["message"]


async def test_open_sessions_in_the_control_api(
    cps: CpsClient,
    terminal: str,
    present: Callable[..., Any],
    admin_call: Callable[..., Any],
) -> None:
    first = await authorize(cps, present)
    second = await authorize(cps, present, "mastercard-approved")
    await cps.post(f"{T}/sessions/{first}/cancel")
    open_ones = await admin_call("GET", "cps/sessions?open=1", status=200)
    assert [s["sessionId"] for s in open_ones] == [second]
    assert open_ones[0]["expiresAt"] == "2025-03-02T09:00:00Z"
    everything = await admin_call("GET", "cps/sessions", status=200)
    assert {s["sessionId"]: s["state"] for s in everything} == {
        first: "CANCELLED",
        second: "AUTHORIZED",
    }
    one = await admin_call("GET", "cps/sessions?open=1&serial_number=CPS-1", status=200)
    assert len(one) == 1
    await admin_call("GET", "cps/sessions?serial_number=APO-0001", status=404)


async def test_open_sessions_are_reported(
    cps: CpsClient,
    terminal: str,
    node: EmulatorNode,
    present: Callable[..., Any],
    admin_call: Callable[..., Any],
) -> None:
    sid = await authorize(cps, present)
    report = await admin_call("GET", "report", status=200)
    [rule] = report["axes"]["payter"]["rules"]
    assert (rule["rule"], rule["count"]) == ("CPS-01b", 1)
    await admin_call("GET", "report", status=200)  # asked again: still one finding
    [finding] = node.rt.findings.list(rule="CPS-01b")
    assert finding["severity"] == "warning" and sid in finding["message"]


async def test_session_timeout_survives_a_restart(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    settings = make_settings(db=str(tmp_path / "emulator.db"), default_terminal="")
    first = build_emulator(settings)
    await first.start()
    try:
        await first.terminals.create("CPS-1", mode="cps")
        cps = CpsClient(http, first.cps.base_url)
        await cps.post(f"{T}/start", {"authorizedAmount": 4000})
        await first.terminals.present_card("CPS-1", "visa-approved")
        _, session = await cps.post(f"{T}/authorize", {"receiptLine": "Bay 1"})
    finally:
        await first.stop()
    second = build_emulator(settings)
    await second.start()
    try:
        assert isinstance(second.rt.clock, ManualClock)
        await second.rt.clock.advance(86400)
        _, after = await CpsClient(http, second.cps.base_url).get(
            f"{T}/sessions/{session['sessionId']}"
        )
        assert (after["state"], after["receiptLines"]) == ("CANCELLED", ["Bay 1"])
        assert len(second.rt.findings.list(rule="CPS-01")) == 1
    finally:
        await second.stop()
