"""The CSMS's own commit/cancel retries against Payter's ladder (every minute 5 times, hourly
for 24 h, daily up to 7 days; stop on HTTP 200 or 409): failures injected on commit/cancel (a
5xx, a timeout, the terminal offline), the verdict per session, CPS-04 for each deviation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from cps_client import CpsClient

from emulator.app import EmulatorNode
from emulator.clock import ManualClock

T = "terminals/CPS-1"


@pytest.fixture
async def session(cps: CpsClient, terminal: str, present: Callable[..., Any]) -> str:
    """An authorized session on CPS-1, to commit or cancel."""
    await cps.post(f"{T}/start", {"authorizedAmount": 5000})
    await present("CPS-1", "visa-approved")
    status, body = await cps.post(f"{T}/authorize")
    assert status == 200
    return str(body["sessionId"])


def cps04(node: EmulatorNode) -> list[str]:
    return [f["message"] for f in node.rt.findings.list(rule="CPS-04")]


async def commit(cps: CpsClient, session_id: str) -> int:
    status, _ = await cps.post(f"{T}/sessions/{session_id}/commit", {"commitAmount": 1234})
    return status


async def test_a_csms_on_the_ladder_passes(
    cps: CpsClient,
    session: str,
    node: EmulatorNode,
    clock: ManualClock,
    admin_call: Callable[..., Any],
) -> None:
    fault = await admin_call(
        "POST", "cps/commit-faults", {"fault": "error", "times": 6, "status": 502}, status=201
    )
    assert (fault["remaining"], fault["status"], fault["calls"]) == (6, 502, ["commit", "cancel"])
    # Five failures a minute apart, the sixth retried an hour later (Payter's ladder).
    answers = [await commit(cps, session)]
    for delay in (60, 60, 60, 60, 60, 3600):
        await clock.advance(delay)
        answers.append(await commit(cps, session))
    assert answers == [502] * 6 + [200]
    [verdict] = await admin_call("GET", "cps/retries", status=200)
    assert verdict["session_id"] == session
    assert (verdict["retried_on_ladder"], verdict["stopped_on_definitive"]) == (True, True)
    assert [c["status"] for c in verdict["calls"]] == answers
    assert [c["fault"] for c in verdict["calls"]] == ["error"] * 6 + [None]
    await clock.advance(86400)  # nothing more comes, nothing is missing
    assert cps04(node) == []
    assert (await admin_call("GET", "cps/commit-faults", status=200))[0]["remaining"] == 0
    session_view = (await cps.get(f"{T}/sessions/{session}"))[1]
    assert session_view["state"] == "COMMITTED"


async def test_too_early_and_after_a_definitive_answer(
    cps: CpsClient, session: str, node: EmulatorNode, clock: ManualClock, admin_call
) -> None:
    await admin_call("POST", "cps/commit-faults", {"fault": "error"}, status=201)
    assert await commit(cps, session) == 503
    await clock.advance(5)  # hammering: Payter says about a minute
    assert await commit(cps, session) == 200
    await clock.advance(60)
    assert await commit(cps, session) == 409  # again after a 200
    messages = cps04(node)
    assert len(messages) == 2
    assert "retried 5 s after a failed attempt" in messages[0] and "about 60 s" in messages[0]
    assert "answered HTTP 200" in messages[1] and "cease retries" in messages[1]
    [verdict] = await admin_call("GET", "cps/retries", status=200)
    assert (verdict["retried_on_ladder"], verdict["stopped_on_definitive"]) == (False, False)
    [finding] = node.rt.findings.list(rule="CPS-04")[:1]
    assert (finding["severity"], finding["axis"]) == ("warning", "payter")


async def test_a_csms_that_never_retries(
    cps: CpsClient, session: str, node: EmulatorNode, clock: ManualClock, admin_call
) -> None:
    await admin_call(
        "POST", "cps/commit-faults", {"fault": "error", "serial_number": "CPS-1"}, status=201
    )
    assert await commit(cps, session) == 503
    [verdict] = await admin_call("GET", "cps/retries", status=200)
    assert verdict["waiting_for_retry"] is True and verdict["retried_on_ladder"] is None
    await clock.advance(119)
    assert cps04(node) == []
    await clock.advance(1)
    [message] = cps04(node)
    assert "was not retried within 120 s" in message
    [verdict] = await admin_call("GET", "cps/retries", status=200)
    assert (verdict["retried_on_ladder"], verdict["waiting_for_retry"]) == (False, False)


async def test_an_injected_timeout_holds_the_commit(
    cps: CpsClient, session: str, node: EmulatorNode, clock: ManualClock, admin_call
) -> None:
    await admin_call(
        "POST", "cps/commit-faults", {"fault": "timeout", "calls": ["cancel"]}, status=201
    )
    # A commit is not a cancel: the fault waits for the cancel.
    assert await commit_then_cancel_refused(cps, session) == 400
    call = asyncio.create_task(cps.post(f"{T}/sessions/{session}/cancel"))
    # Until the emulator has taken the fault (the request is then held on the clock).
    for _ in range(1000):
        if not (await admin_call("GET", "cps/commit-faults", status=200))[0]["remaining"]:
            break
        await asyncio.sleep(0.01)
    assert not call.done()
    await clock.advance(60)  # Payter's commit/void timeout
    status, body = await call
    assert status == 504 and body["error"]["code"] == "terminal_timeout"
    assert (await cps.get(f"{T}/sessions/{session}"))[1]["state"] == "AUTHORIZED"
    await clock.advance(60)
    status, body = await cps.post(f"{T}/sessions/{session}/cancel")
    assert (status, body["state"]) == (200, "CANCELLED")
    [verdict] = await admin_call("GET", "cps/retries", status=200)
    assert [(c["call"], c["status"], c["fault"]) for c in verdict["calls"]] == [
        ("commit", 400, None),
        ("cancel", 504, "timeout"),
        ("cancel", 200, None),
    ]
    assert verdict["retried_on_ladder"] is True and cps04(node) == []


async def commit_then_cancel_refused(cps: CpsClient, session_id: str) -> int:
    """A commit with a bad amount: a 400, no fault taken (the fault is for cancels)."""
    status, _ = await cps.post(f"{T}/sessions/{session_id}/commit", {"commitAmount": "x"})
    return status


async def test_terminal_offline_commit_is_confirmed_and_must_not_be_retried(
    cps: CpsClient, session: str, node: EmulatorNode, clock: ManualClock, admin_call
) -> None:
    """Payter: commits while the terminal is offline are confirmed, stored and carried out
    when it is back. The CSMS gets a 200 and must stop there."""
    await admin_call(
        "POST", "cps/commit-faults", {"fault": "offline", "offline_for": 300}, status=201
    )
    status, body = await cps.post(f"{T}/sessions/{session}/commit", {"commitAmount": 1234})
    assert (status, body["queued"]) == (200, "commit")
    assert (await cps.get(T))[1]["online"] is False
    await clock.advance(300)
    assert (await cps.get(T))[1]["online"] is True
    _, done = await cps.get(f"{T}/sessions/{session}")
    assert (done["state"], done["capturedAmount"]) == ("COMMITTED", 1234)
    await clock.advance(60)
    assert await commit(cps, session) == 409
    [message] = cps04(node)
    assert "answered HTTP 200" in message


async def test_bad_fault_requests(admin_call: Callable[..., Any], terminal: str) -> None:
    for body in (
        {},
        {"fault": "explode"},
        {"fault": "error", "status": 404},
        {"fault": "error", "calls": ["authorize"]},
        {"fault": "error", "calls": []},
        {"fault": "error", "times": 0},
        {"fault": "timeout", "hold": -1},
        {"fault": "offline", "offline_for": "soon"},
    ):
        answer = await admin_call("POST", "cps/commit-faults", body, status=400)
        assert answer["error"]["message"], body
    await admin_call(
        "POST", "cps/commit-faults", {"fault": "error", "serial_number": "NOPE"}, status=404
    )
    assert await admin_call("GET", "cps/commit-faults", status=200) == []
    await admin_call("POST", "cps/commit-faults", {"fault": "error"}, status=201)
    assert await admin_call("DELETE", "cps/commit-faults", status=200) == []
    assert await admin_call("GET", "cps/commit-faults", status=200) == []
    await admin_call("GET", "cps/retries?serial_number=NOPE", status=404)
