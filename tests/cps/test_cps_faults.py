"""Faults injected on the CPS API (/__admin/faults): what a CSMS sees, and its retry."""

from __future__ import annotations

from typing import Any


async def test_commit_refused_once_then_the_retry_goes_through(
    cps, terminal, present, admin_call, node
) -> None:
    await cps.post(f"terminals/{terminal}/start", {"authorizedAmount": 1000})
    await present(terminal)
    status, session = await cps.post(f"terminals/{terminal}/authorize")
    assert status == 200, session
    fault: Any = await admin_call(
        "POST",
        "faults",
        {"direction": "in", "protocol": "cps", "module": "commit", "action": "http_status",
         "status": 503, "times": 1},
        status=201,
    )  # fmt: skip
    path = f"terminals/{terminal}/sessions/{session['sessionId']}/commit"
    status, body = await cps.post(path, {"commitAmount": 500})
    assert status == 503 and body["error"]["code"] == "injected_fault"
    # Refused before it was handled: the session is still open.
    _, open_sessions = await cps.get(f"terminals/{terminal}/sessions")
    assert open_sessions[-1]["state"] == "AUTHORIZED"
    status, body = await cps.post(path, {"commitAmount": 500})
    assert status == 200 and body["state"] == "COMMITTED"
    rows = node.rt.journal.list(protocol="cps", module="commit")
    assert [(r["status"], r["fault"]) for r in rows] == [(503, fault["description"]), (200, None)]


async def test_answer_lost_after_the_commit_was_made(cps, terminal, present, admin_call) -> None:
    await cps.post(f"terminals/{terminal}/start", {"authorizedAmount": 1000})
    await present(terminal)
    _, session = await cps.post(f"terminals/{terminal}/authorize")
    await admin_call(
        "POST",
        "faults",
        {"direction": "in", "module": "commit", "action": "http_status", "status": 502,
         "after_handling": True, "times": 1},
        status=201,
    )  # fmt: skip
    path = f"terminals/{terminal}/sessions/{session['sessionId']}/commit"
    status, _ = await cps.post(path, {"commitAmount": 500})
    assert status == 502
    # Handled before the answer was replaced: a retry meets the finished session (409).
    status, body = await cps.post(path, {"commitAmount": 500})
    assert status == 409 and body["error"]["code"] == "session_completed"
