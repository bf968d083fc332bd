"""Every CPS endpoint and its errors, over HTTP against a running emulator (payter.md §3.4)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from cps_client import KEY, CpsClient, WebhookServer

from emulator.app import EmulatorNode
from emulator.clock import ManualClock

T = "terminals/CPS-1"


def assert_error(body: Any, status: int, code: str, **details: Any) -> None:
    """The one CPS error shape: {"error": {"code", "message", "status", ...}}."""
    assert set(body) == {"error"}, body
    error = body["error"]
    assert (error["status"], error["code"]) == (status, code), error
    assert isinstance(error["message"], str) and error["message"]
    for name, value in details.items():
        assert error[name] == value, error


# --- authentication and keys ---------------------------------------------------------------------


async def test_missing_or_wrong_key_is_401(cps: CpsClient, terminal: str) -> None:
    for client in (cps.with_key(None), cps.with_key("nope")):
        status, body = await client.get("terminals")
        assert status == 401
        assert_error(body, 401, "unauthorized")
        assert "CPS apikey=" in body["error"]["message"]
    status, body = await cps.call("GET", "terminals", headers={"Authorization": "Bearer " + KEY})
    assert_error(body, 401, "unauthorized")
    async with cps.http.get(f"{cps.base_url}/terminals") as resp:
        assert resp.headers["WWW-Authenticate"].startswith("CPS")


async def test_key_header_forms(cps: CpsClient, terminal: str) -> None:
    for value in (f'CPS apikey="{KEY}"', f"CPS apikey={KEY}", f'cps APIKEY = "{KEY}"'):
        status, _ = await cps.call("GET", "terminals", headers={"Authorization": value})
        assert status == 200, value


async def test_only_cps_terminals_are_visible(
    cps: CpsClient, terminal: str, node: EmulatorNode
) -> None:
    status, body = await cps.get("terminals")
    assert status == 200
    assert body == [
        {
            "serialNumber": "CPS-1",
            "online": True,
            "state": "IDLE",
            "model": "Apollo",
            "currency": "EUR",
        }
    ]
    # APO-0001 is the default terminal, in mode ocpi: Payter's own journey drives it.
    assert node.terminals.mode("APO-0001") == "ocpi"
    status, body = await cps.get("terminals/APO-0001")
    assert_error(body, 404, "unknown_terminal")
    assert "mode 'ocpi'" in body["error"]["message"]
    status, body = await cps.post("terminals/APO-0001/start")
    assert status == 404


async def test_unknown_terminal_is_404_everywhere(cps: CpsClient, terminal: str) -> None:
    u = "terminals/NOPE"
    for method, path, params in [
        ("GET", u, None),
        ("POST", f"{u}/start", None),
        ("GET", f"{u}/card", None),
        ("POST", f"{u}/stop", None),
        ("POST", f"{u}/authorize", None),
        ("GET", f"{u}/sessions", None),
        ("GET", f"{u}/sessions/S1", None),
        ("POST", f"{u}/sessions/S1/commit", {"commitAmount": 1}),
        ("POST", f"{u}/sessions/S1/cancel", None),
        ("POST", f"{u}/sessions/S1/increment", {"amount": 1}),
    ]:
        status, body = await cps.call(method, path, params)
        assert status == 404, (method, path)
        assert_error(body, 404, "unknown_terminal")
    status, body = await cps.post(f"{u}/ui", json={"id": "a", "type": "info"})
    assert_error(body, 404, "unknown_terminal")


async def test_key_limited_to_serials(
    cps: CpsClient, admin_call: Callable[..., Any], terminal: str
) -> None:
    await admin_call("POST", "terminals", {"serial_number": "CPS-2", "mode": "cps"}, status=201)
    minted = await admin_call("POST", "cps/api-keys", {"serial_numbers": ["CPS-2"]}, status=201)
    assert set(minted) >= {"apikey", "token", "serial_numbers"}
    limited = cps.with_key(minted["apikey"])
    status, body = await limited.get("terminals")
    assert [t["serialNumber"] for t in body] == ["CPS-2"]
    status, body = await limited.get(T)
    assert_error(body, 404, "unknown_terminal")
    status, _ = await limited.post(f"{T}/start")
    assert status == 404
    status, _ = await limited.post("terminals/CPS-2/start")
    assert status == 200

    everything = await admin_call("POST", "cps/api-keys", None, status=201)
    assert everything["serial_numbers"] is None
    status, body = await cps.with_key(everything["apikey"]).get("terminals")
    assert [t["serialNumber"] for t in body] == ["CPS-1", "CPS-2"]

    listing = await admin_call("GET", "cps/api-keys", status=200)
    assert listing[0] == {
        "apikey": KEY[:4] + "…",  # secrets are shown shortened, the fixed key too
        "label": "fixed (settings)",
        "serial_numbers": None,
        "fixed": True,
        "created_at": None,
    }
    assert [k["serial_numbers"] for k in listing[1:]] == [["CPS-2"], None]
    assert all(k["apikey"].endswith("…") for k in listing[1:])  # minted keys are shortened

    bad = await admin_call("POST", "cps/api-keys", {"serial_numbers": [1]}, status=400)
    assert bad["error"]["code"] == "invalid_field"


async def test_apikey_endpoint(cps: CpsClient, admin_call: Callable[..., Any]) -> None:
    anonymous = cps.with_key(None)
    status, body = await anonymous.get("apikey", {"token": "payter-emulator-cps-token"})
    assert (status, body) == (200, {"apikey": KEY})
    minted = await admin_call("POST", "cps/api-keys", {"label": "ci"}, status=201)
    status, body = await anonymous.get("apikey", {"token": minted["token"]})
    assert (status, body) == (200, {"apikey": minted["apikey"]})
    status, body = await anonymous.get("apikey", {"token": "wrong"})
    assert_error(body, 401, "unknown_token")
    status, body = await anonymous.get("apikey")
    assert_error(body, 400, "missing_parameter", parameter="token")


# --- terminals and card reading ------------------------------------------------------------------


async def test_start_card_stop(cps: CpsClient, terminal: str, present: Callable[..., Any]) -> None:
    # Payter answers start and stop with an empty body (public integrations); so does the
    # emulator by default: the state is in GET /terminals/{sn}.
    status, body = await cps.post(f"{T}/start", {"authorizedAmount": 5000, "uiMessage": "Tap"})
    assert (status, body) == (200, None)
    assert (await cps.get(T))[1]["state"] == "READING"
    status, body = await cps.get(f"{T}/card")
    assert (status, body) == (204, None)  # nothing read yet, no waitTime: at once

    await present("CPS-1", "visa-approved")
    status, card = await cps.get(f"{T}/card", {"waitTime": 10})
    assert status == 200
    assert card == {
        "serialNumber": "CPS-1",
        "ifd": "CONTACTLESS",
        "aid": "A0000000031010",
        "cardId": card["cardId"],
        "maskedPan": "411111******1111",
        "sessions": [],
    }
    assert len(card["cardId"]) == 32
    status, body = await cps.get(T)
    assert body["state"] == "CARD"

    status, body = await cps.post(f"{T}/stop", {"uiMessage": "Bye", "uiMessageTimeout": 1})
    assert (status, body) == (200, None)
    assert (await cps.get(T))[1]["state"] == "IDLE"
    status, _ = await cps.get(f"{T}/card")
    assert status == 204


async def test_start_parameters_reach_the_terminal(
    cps: CpsClient, terminal: str, admin_call: Callable[..., Any]
) -> None:
    status, _ = await cps.post(
        f"{T}/start",
        {
            "authorizedAmount": 5000,
            "uiMessage": "Tap to charge",
            "uiMessageTitle": "Bay 2",
            "language": "nl",
            "supportedPaymentMethods": ["CONTACTLESS", "QR_CODE"],
        },
    )
    assert status == 200
    view = await admin_call("GET", "terminals/CPS-1", status=200)
    assert view["reading"]["methods"] == ["CONTACTLESS", "QR_CODE"]
    props = view["screen"]["properties"]
    assert (props["title"], props["message"], props["language"]) == ("Bay 2", "Tap to charge", "nl")
    assert (props["amount"], props["currency"], props["media"]) == ("5000", "EUR", "contactless,qr")

    await cps.post(f"{T}/start", {"authorizedAmount": 5000, "hideAmount": "true"})
    view = await admin_call("GET", "terminals/CPS-1", status=200)
    assert "amount" not in view["screen"]["properties"]


async def test_card_while_not_reading_is_ignored(
    cps: CpsClient,
    terminal: str,
    present: Callable[..., Any],
    hooks: WebhookServer,
    node: EmulatorNode,
) -> None:
    await cps.post(f"{T}/start", {"callbackUrl": f"{hooks.url}/card"})
    await cps.post(f"{T}/stop")
    ignored = await present("CPS-1", "visa-approved")
    assert (ignored["result"], ignored["reason"]) == ("ignored", "not_reading")
    assert (await cps.get(T))[1]["state"] == "IDLE"
    assert await cps.get(f"{T}/card") == (204, None)
    status, body = await cps.post(f"{T}/authorize")
    assert_error(body, 409, "no_card", state="IDLE")
    await node.rt.background.drain()
    assert hooks.bodies("card") == []


async def test_empty_and_null_bodies_are_accepted(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    json_type = {"Content-Type": "application/json"}
    for data in (b"", b"null", b"{}"):
        status, body = await cps.post(f"{T}/start", data=data, headers=json_type)
        assert status == 200, (data, body)
        status, body = await cps.post(f"{T}/stop", data=data, headers=json_type)
        assert status == 200, (data, body)
    sessions = []
    for data in (b"", b"null", b"{}"):
        await cps.post(f"{T}/start", {"authorizedAmount": 500}, data=data, headers=json_type)
        await present("CPS-1", "visa-incremental")
        status, session = await cps.post(f"{T}/authorize", data=data, headers=json_type)
        assert status == 200, (data, session)
        sessions.append(session["sessionId"])
    for sid, data in zip(sessions, (b"", b"null", b"{}"), strict=True):
        path = f"{T}/sessions/{sid}"
        status, body = await cps.post(f"{path}/increment?amount=1", data=data, headers=json_type)
        assert status == 200, (data, body)
        status, body = await cps.post(f"{path}/commit?commitAmount=1", data=data, headers=json_type)
        assert (status, body["state"]) == (200, "COMMITTED"), (data, body)
        status, body = await cps.post(f"{path}/cancel", data=data, headers=json_type)
        assert status == 409, (data, body)  # completed: the body was not the problem
    for data in (b"", b"null"):
        status, body = await cps.post(
            "webhook?url=http://csms.test/s", data=data, headers=json_type
        )
        assert (status, body) == (200, {"url": "http://csms.test/s"}), (data, body)


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("start", {"authorizedAmount": "50.00"}, "authorizedAmount"),
        ("start", {"authorizedAmount": "-1"}, "authorizedAmount"),
        ("start", {"authorizedAmount": "ten"}, "authorizedAmount"),
        ("start", {"hideAmount": "maybe"}, "hideAmount"),
        ("start", {"callbackUrl": "not a url"}, "callbackUrl"),
        ("start", {"callbackUrl": "ftp://example.com/x"}, "callbackUrl"),
        ("start", {"uiMessageTimeout": "soon"}, "uiMessageTimeout"),
        ("start", {"customIdleScreen": "perhaps"}, "customIdleScreen"),
        ("stop", {"uiMessageTimeout": "-3"}, "uiMessageTimeout"),
        ("authorize", {"uiMessageTimeout": "x"}, "uiMessageTimeout"),
        ("authorize", {"authorizedAmount": "0"}, "authorizedAmount"),
        ("ui", {"callbackUrl": "/relative"}, "callbackUrl"),
    ],
)
async def test_bad_query_values_are_400_naming_the_parameter(
    cps: CpsClient, terminal: str, path: str, params: dict[str, str], parameter: str
) -> None:
    status, body = await cps.post(f"{T}/{path}", params, json={"id": "s", "type": "info"})
    assert_error(body, 400, "invalid_parameter", parameter=parameter)
    assert f"'{parameter}'" in body["error"]["message"]


async def test_bad_wait_time(cps: CpsClient, terminal: str) -> None:
    status, body = await cps.get(f"{T}/card", {"waitTime": "long"})
    assert_error(body, 400, "invalid_parameter", parameter="waitTime")


@pytest.mark.parametrize(
    ("path", "query", "parameter", "words"),
    [
        # Empty numbers, booleans and URLs: a lost value, not "not given".
        ("start", "authorizedAmount=", "authorizedAmount", "is empty"),
        ("start", "hideAmount=", "hideAmount", "is empty"),
        ("start", "callbackUrl=", "callbackUrl", "is empty"),
        ("start", "supportedPaymentMethods=", "supportedPaymentMethods", "is empty"),
        ("stop", "uiMessageTimeout=", "uiMessageTimeout", "is empty"),
        # A parameter that is not repeatable, given twice.
        ("start", "authorizedAmount=100&authorizedAmount=200", "authorizedAmount", "2 times"),
        ("start", "uiMessage=a&uiMessage=b", "uiMessage", "2 times"),
        # Bounds: 4-byte amounts, and no time a timer cannot hold (was a 500).
        ("start", "authorizedAmount=2147483648", "authorizedAmount", "at most 2147483647"),
        (
            "stop",
            "uiMessage=Bye&uiMessageTimeout=3.1e307",
            "uiMessageTimeout",
            "from 0 to 2147483647",
        ),
        ("stop", "uiMessageTimeout=inf", "uiMessageTimeout", "from 0 to 2147483647"),
        # URLs are printable ASCII (RFC 3986).
        ("start", "callbackUrl=https%3A%2F%2Fa%0Fb.test%2F", "callbackUrl", "printable ASCII"),
        ("start", "callbackUrl=https%3A%2F%2Fb%C3%BCcher.test%2F", "callbackUrl", "ASCII"),
        ("start", "callbackUrl=http%3A%2F%2Fa.test%2F+x", "callbackUrl", "ASCII"),
    ],
)
async def test_query_values_that_are_refused(
    cps: CpsClient, terminal: str, path: str, query: str, parameter: str, words: str
) -> None:
    status, body = await cps.post(f"{T}/{path}?{query}")
    assert status == 400, body
    assert_error(body, 400, "invalid_parameter", parameter=parameter)
    assert words in body["error"]["message"]
    assert (await cps.get(T))[1]["state"] == "IDLE"  # nothing happened


async def test_edge_values_that_are_accepted(cps: CpsClient, terminal: str) -> None:
    status, body = await cps.post(
        f"{T}/start?authorizedAmount=2147483647&uiMessage=&uiMessageTimeout=2147483647"
        "&hideAmount=TRUE&callbackUrl=HTTPS%3A%2F%2Fcsms.test%2Fcard%3Fsecret%3Dx"
        "&customIdleScreen=false&qr=https%3A%2F%2Fapp.test%2Fpay&language=en"
        "&supportedPaymentMethods=EMV&supportedPaymentMethods=QR_CODE,RFID"
    )
    assert (status, body) == (200, None)
    assert (await cps.get(T))[1]["state"] == "READING"
    status, body = await cps.post(f"{T}/stop?uiMessage=Bye&uiMessageTimeout=2147483647")
    assert (status, body) == (200, None)
    assert (await cps.get(T))[1]["state"] == "IDLE"


async def test_offline_terminal(
    cps: CpsClient, terminal: str, present: Callable[..., Any], admin_call: Callable[..., Any]
) -> None:
    """Offline: reading, authorizing, screens and increments are refused with 503; the terminal
    and its sessions can still be read, and commit/cancel are queued (§3.7)."""
    sid = (await _authorized(cps, present, "visa-incremental"))["sessionId"]
    await admin_call("POST", "terminals/CPS-1/offline", status=200)
    for path, params, json in [
        ("start", None, None),
        ("stop", None, None),
        ("authorize", None, None),
        ("ui", None, {"id": "s", "type": "info"}),
        (f"sessions/{sid}/increment", {"amount": 100}, None),
    ]:
        status, body = await cps.post(f"{T}/{path}", params, json=json)
        assert_error(body, 503, "terminal_offline")
    status, body = await cps.get(T)
    assert (status, body["online"], body["state"]) == (200, False, "IDLE")
    status, body = await cps.get(f"{T}/card", {"waitTime": 0})
    assert status == 204
    status, body = await cps.get(f"{T}/sessions/{sid}")
    assert (status, body["state"], body["authorizedAmount"]) == (200, "AUTHORIZED", 5000)


async def test_start_is_busy_during_pin_entry_and_offline(
    cps: CpsClient, terminal: str, present: Callable[..., Any], admin_call: Callable[..., Any]
) -> None:
    await cps.post(f"{T}/start", {"authorizedAmount": 5000})
    await present("CPS-1", "visa-pin")
    pending = asyncio.create_task(cps.post(f"{T}/authorize"))
    await _until_state(cps, "AUTHORIZING")
    status, body = await cps.post(f"{T}/start")
    assert_error(body, 409, "busy", state="AUTHORIZING")
    for key in ("1", "2", "3", "4", "ok"):
        await admin_call("POST", "terminals/CPS-1/press", {"key": key}, status=200)
    status, session = await pending
    assert (status, session["state"], session["authorizedAmount"]) == (200, "AUTHORIZED", 5000)

    await admin_call("POST", "terminals/CPS-1/offline", status=200)
    status, body = await cps.get(T)
    assert (body["online"], body["state"]) == (False, "IDLE")
    for path in ("start", "stop", "authorize"):
        status, body = await cps.post(f"{T}/{path}")
        assert_error(body, 503, "terminal_offline")


async def _until_state(cps: CpsClient, state: str) -> None:
    for _ in range(200):
        _, body = await cps.get(T)
        if body["state"] == state:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"terminal never reached {state}")


# --- sessions ------------------------------------------------------------------------------------


async def _authorized(
    cps: CpsClient, present: Callable[..., Any], card: str = "visa-approved", amount: int = 5000
) -> dict[str, Any]:
    status, _ = await cps.post(f"{T}/start", {"authorizedAmount": amount})
    assert status == 200
    await present("CPS-1", card)
    status, session = await cps.post(f"{T}/authorize", {"receiptLine": ["Charger 7", "Bay 2"]})
    assert status == 200, session
    return session


async def test_authorize_without_a_card(cps: CpsClient, terminal: str) -> None:
    status, body = await cps.post(f"{T}/authorize")
    assert_error(body, 409, "no_card", state="IDLE")
    await cps.post(f"{T}/start")
    status, body = await cps.post(f"{T}/authorize")
    assert_error(body, 409, "no_card", state="READING")


async def test_authorize_needs_an_amount(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    await cps.post(f"{T}/start")  # no authorizedAmount
    await present("CPS-1", "visa-approved")
    status, body = await cps.post(f"{T}/authorize")
    assert_error(body, 400, "no_amount")
    assert "authorizedAmount" in body["error"]["message"]
    assert (await cps.get(T))[1]["state"] == "CARD"  # the card still waits
    status, session = await cps.post(f"{T}/authorize", {"authorizedAmount": 1500})
    assert (status, session["authorizedAmount"]) == (200, 1500)


async def test_authorize_commit_and_repeat(
    cps: CpsClient, terminal: str, present: Callable[..., Any], node: EmulatorNode
) -> None:
    session = await _authorized(cps, present)
    assert session["state"] == "AUTHORIZED"
    assert (session["authorizedAmount"], session["currency"]) == (5000, "EUR")
    assert session["receiptLines"] == ["Charger 7", "Bay 2"]
    assert session["ifd"] == "CONTACTLESS" and session["maskedPan"] == "411111******1111"
    assert session["expiresAt"] == "2025-03-02T09:00:00Z"  # cps_session_timeout: 24 h
    sid = session["sessionId"]

    status, listed = await cps.get(f"{T}/sessions")
    assert [s["sessionId"] for s in listed] == [sid]
    status, one = await cps.get(f"{T}/sessions/{sid}")
    assert one == session
    status, body = await cps.get(f"{T}/sessions/nope")
    assert_error(body, 404, "unknown_session")
    for call in ("commit?commitAmount=1", "cancel", "increment?amount=1"):
        status, body = await cps.post(f"{T}/sessions/nope/{call}")
        assert_error(body, 404, "unknown_session")

    status, body = await cps.post(f"{T}/sessions/{sid}/commit", {"commitAmount": 5001})
    assert_error(body, 400, "amount_exceeds_authorization", authorizedAmount=5000)
    [finding] = node.rt.findings.list(rule="CPS-02")
    assert "5001" in finding["message"]
    assert (finding["axis"], finding["severity"]) == ("payter", "error")
    exchange = node.rt.journal.get(finding["exchange_id"])
    assert exchange is not None
    assert (exchange["module"], exchange["status"]) == ("commit", 400)
    assert "commitAmount=5001" in exchange["url"]

    status, body = await cps.post(f"{T}/sessions/{sid}/commit")
    assert_error(body, 400, "missing_parameter", parameter="commitAmount")
    status, body = await cps.post(f"{T}/sessions/{sid}/commit", {"commitAmount": "12.34"})
    assert_error(body, 400, "invalid_parameter", parameter="commitAmount")

    status, done = await cps.post(
        f"{T}/sessions/{sid}/commit",
        {"commitAmount": 1234, "uiMessage": "Thanks", "receiptLine": "kWh 5.1"},
    )
    assert status == 200
    assert (done["state"], done["commitAmount"], done["capturedAmount"]) == (
        "COMMITTED",
        1234,
        1234,
    )
    assert done["captureStatus"] == "SUCCESS" and done["expiresAt"] is None
    assert done["receiptLines"] == ["Charger 7", "Bay 2", "kWh 5.1"]

    # Payter's retry policy treats 409 as definitive: a repeat is a conflict (§3.7).
    status, body = await cps.post(f"{T}/sessions/{sid}/commit", {"commitAmount": 1234})
    assert_error(body, 409, "session_completed", sessionState="COMMITTED")
    status, body = await cps.post(f"{T}/sessions/{sid}/cancel")
    assert_error(body, 409, "session_completed")


async def test_cancel_and_repeat(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    sid = (await _authorized(cps, present))["sessionId"]
    status, body = await cps.post(f"{T}/sessions/{sid}/cancel", {"uiMessage": "Cancelled"})
    assert (status, body["state"], body["capturedAmount"]) == (200, "CANCELLED", None)
    status, body = await cps.post(f"{T}/sessions/{sid}/cancel")
    assert_error(body, 409, "session_completed", sessionState="CANCELLED")
    status, body = await cps.post(f"{T}/sessions/{sid}/commit", {"commitAmount": 1})
    assert status == 409


async def test_decline_is_an_error_with_a_reason(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    await cps.post(f"{T}/start", {"authorizedAmount": 5000})
    await present("CPS-1", "visa-insufficient-funds")
    status, body = await cps.post(f"{T}/authorize")
    assert_error(body, 402, "declined", responseCode="51", reason="Insufficient funds")
    assert body["error"]["sessionId"]
    status, terminal_view = await cps.get(T)
    assert terminal_view["state"] == "IDLE"
    status, sessions = await cps.get(f"{T}/sessions")
    assert sessions == []  # a declined attempt is no session


async def test_commit_while_offline_is_queued(
    cps: CpsClient, terminal: str, present: Callable[..., Any], admin_call: Callable[..., Any]
) -> None:
    sid = (await _authorized(cps, present))["sessionId"]
    await admin_call("POST", "terminals/CPS-1/offline", status=200)
    status, body = await cps.post(f"{T}/sessions/{sid}/commit", {"commitAmount": 2000})
    assert status == 200
    assert (body["state"], body["queued"], body["capturedAmount"]) == ("COMMITTED", "commit", None)
    status, body = await cps.post(f"{T}/sessions/{sid}/commit", {"commitAmount": 2000})
    assert status == 409

    await admin_call("POST", "terminals/CPS-1/online", status=200)
    status, body = await cps.get(f"{T}/sessions/{sid}")
    assert (body["queued"], body["capturedAmount"], body["captureStatus"]) == (
        None,
        2000,
        "SUCCESS",
    )


async def test_cancel_while_offline_is_queued(
    cps: CpsClient, terminal: str, present: Callable[..., Any], admin_call: Callable[..., Any]
) -> None:
    sid = (await _authorized(cps, present))["sessionId"]
    await admin_call("POST", "terminals/CPS-1/offline", status=200)
    status, body = await cps.post(f"{T}/sessions/{sid}/cancel")
    assert (status, body["state"], body["queued"]) == (200, "CANCELLED", "cancel")
    await admin_call("POST", "terminals/CPS-1/online", status=200)
    status, body = await cps.get(f"{T}/sessions/{sid}")
    assert body["queued"] is None


async def test_incremental_authorization(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    sid = (await _authorized(cps, present, "visa-incremental"))["sessionId"]
    status, body = await cps.post(f"{T}/sessions/{sid}/increment", {"amount": 2500})
    assert status == 200
    assert (body["approved"], body["amount"], body["authorizedAmount"]) == (True, 2500, 7500)
    assert body["session"]["increments"] == [2500]
    status, body = await cps.post(f"{T}/sessions/{sid}/commit", {"commitAmount": 7000})
    assert (status, body["capturedAmount"]) == (200, 7000)

    status, body = await cps.post(f"{T}/sessions/{sid}/increment", {"amount": 1})
    assert_error(body, 409, "session_completed")
    status, body = await cps.post(f"{T}/sessions/{sid}/increment")
    assert_error(body, 400, "missing_parameter", parameter="amount")


async def test_increment_refused_by_the_card(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    sid = (await _authorized(cps, present, "visa-approved"))["sessionId"]
    status, body = await cps.post(f"{T}/sessions/{sid}/increment", {"amount": 1000})
    assert_error(body, 402, "increment_declined", responseCode="57", authorizedAmount=5000)


async def test_rfid_card_identifies_but_cannot_pay(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    await cps.post(f"{T}/start", {"supportedPaymentMethods": "RFID"})
    await present("CPS-1", "04A2B3C4D5E680", "rfid")
    status, card = await cps.get(f"{T}/card")
    assert card == {
        "serialNumber": "CPS-1",
        "ifd": "MIFARE",
        "aid": "",
        "cardId": "04A2B3C4D5E680",
        "sessions": [],
    }
    status, body = await cps.post(f"{T}/authorize")
    assert_error(body, 409, "not_a_payment_card", ifd="MIFARE")
    status, body = await cps.get(T)
    assert body["state"] == "CARD"  # the card waits for stop, as any read card does


async def test_rfid_is_read_by_default(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    await cps.post(f"{T}/start", {"authorizedAmount": 5000})
    read = await present("CPS-1", "rfid-mifare-classic", "rfid")
    assert (read["result"], read["cardId"]) == ("read", "5A1B2C3D")


async def test_qr_code_read(cps: CpsClient, terminal: str, present: Callable[..., Any]) -> None:
    # A QR-only start as integrators send it: authorizedAmount=0, hideAmount=true.
    status, _ = await cps.post(
        f"{T}/start",
        {"authorizedAmount": 0, "supportedPaymentMethods": "QR_CODE", "hideAmount": "true"},
    )
    assert status == 200
    ignored = await present("CPS-1", "visa-approved")
    assert (ignored["result"], ignored["reason"]) == ("ignored", "medium_not_accepted")
    await present("CPS-1", "https://example.com/borrow?id=42", "qr")
    status, card = await cps.get(f"{T}/card")
    assert (card["ifd"], card["cardId"], card["aid"]) == (
        "QR_CODE",
        "https://example.com/borrow?id=42",
        "",
    )
    status, body = await cps.post(f"{T}/authorize", {"authorizedAmount": 100})
    assert_error(body, 409, "not_a_payment_card", ifd="QR_CODE")


async def test_card_object_lists_open_sessions_of_the_card(
    cps: CpsClient, terminal: str, present: Callable[..., Any]
) -> None:
    sid = (await _authorized(cps, present))["sessionId"]
    await cps.post(f"{T}/start")
    await present("CPS-1", "visa-approved")
    status, card = await cps.get(f"{T}/card")
    assert card["sessions"] == [sid]


# --- UI ------------------------------------------------------------------------------------------

CAROUSEL = {
    "id": "welcome",
    "type": "carousel",
    "properties": {
        "title": "Welcome",
        "subtitle": "Press start",
        "cards.0": "",
        "cards.0.logo": "mastercard",
        "buttons.start": "",
        "buttons.start.label": "Start",
    },
}


async def test_ui_screen_and_event(
    cps: CpsClient,
    terminal: str,
    hooks: WebhookServer,
    node: EmulatorNode,
    admin_call: Callable[..., Any],
) -> None:
    status, body = await cps.post(f"{T}/ui", {"callbackUrl": f"{hooks.url}/ui"}, json=CAROUSEL)
    assert (status, body) == (200, None)  # as Payter answers
    view = await admin_call("GET", "terminals/CPS-1", status=200)
    assert view["screen"]["id"] == "welcome"
    await admin_call("POST", "terminals/CPS-1/press", {"key": "start"}, status=200)
    await node.rt.background.drain()
    assert hooks.bodies("ui") == [
        {"serialNumber": "CPS-1", "screenId": "welcome", "response": "start"}
    ]


async def test_ui_held_during_payment(
    cps: CpsClient,
    terminal: str,
    present: Callable[..., Any],
    admin_call: Callable[..., Any],
    clock: ManualClock,
) -> None:
    """§4.2: a screen sent while a payment flow owns the display (reading, card read,
    authorizing) is held, and shown once the flow releases the display (after the
    authorize's uiMessage has had its time)."""
    await cps.post(f"{T}/start", {"authorizedAmount": 5000})
    status, body = await cps.post(f"{T}/ui", json=CAROUSEL)
    assert (status, body) == (200, None)

    async def display() -> tuple[str, str | None]:
        view = await admin_call("GET", "terminals/CPS-1", status=200)
        held = view["held_screen"]["id"] if view["held_screen"] else None
        return view["screen"]["id"], held

    assert await display() == ("payter.present_card", "welcome")
    await present("CPS-1")
    assert await display() == ("payter.processing", "welcome")
    status, _ = await cps.post(f"{T}/authorize", {"uiMessage": "Approved", "uiMessageTimeout": 5})
    assert status == 200
    screen, held = await display()
    assert held is None and screen != "welcome"  # released; the uiMessage first
    await clock.advance(5)
    assert await display() == ("welcome", None)

    # A stop releases the display too.
    await cps.post(f"{T}/start", {"authorizedAmount": 5000})
    info = {"id": "info-1", "type": "info", "properties": {"title": "Tariff"}}
    await cps.post(f"{T}/ui", json=info)
    assert (await display())[1] == "info-1"
    await cps.post(f"{T}/stop")
    assert await display() == ("info-1", None)


SCREENS = [
    # §4.3, one per Apollo screen type, with the properties Payter documents.
    ({"title": "Tariff", "subtitle": "0.59 EUR/kWh", "offset": 235, "qr": "https://x.test/t",
      "logo": True}, "info", []),
    ({"title": "Charging", "subtitle": "Bay 2", "advice": "Unplug to stop", "message": "Started",
      "icon": "approved", "color": "1"}, "notification", []),
    ({"title": "Choose", "type": "0", "items.fast": "", "items.fast.label": "Fast",
      "items.fast.amount": "0.79", "items.fast.currency": "EUR", "items.slow": "",
      "items.slow.label": "Slow", "items.slow.disabled": "true"}, "selection", ["fast"]),
    ({}, "screensaver", ["touch"]),
    ({"title": "Stop?", "message": "Stop charging on bay 2?", "buttons.yes": "",
      "buttons.yes.label": "Yes", "buttons.no": "", "buttons.no.label": "No"}, "message",
     ["yes", "no"]),
    ({"title": "Welcome", "cards.0": "", "cards.0.logo": "visa", "cards.0.cardholder": "Visa",
      "buttons.start": "", "buttons.start.label": "Start", "buttons.lang": "",
      "buttons.lang.language": "true"}, "carousel", ["start", "lang"]),
]  # fmt: skip


@pytest.mark.parametrize(("properties", "kind", "keys"), SCREENS, ids=[s[1] for s in SCREENS])
async def test_ui_screen_types(
    cps: CpsClient,
    terminal: str,
    hooks: WebhookServer,
    node: EmulatorNode,
    admin_call: Callable[..., Any],
    properties: dict[str, Any],
    kind: str,
    keys: list[str],
) -> None:
    screen = {"id": f"my-{kind}", "type": kind, "properties": properties}
    status, body = await cps.post(f"{T}/ui", {"callbackUrl": f"{hooks.url}/ui"}, json=screen)
    assert (status, body) == (200, None)
    view = await admin_call("GET", "terminals/CPS-1", status=200)
    shown = view["screen"]
    assert (shown["type"], shown["id"], shown["keys"]) == (kind, f"my-{kind}", keys)
    # Numbers and booleans are kept as their text, as Payter's examples give every value.
    assert all(isinstance(v, str) for v in shown["properties"].values())
    for key in keys:
        if kind == "screensaver":
            continue  # a touch wakes the screensaver; it is no UI event
        await admin_call("POST", "terminals/CPS-1/press", {"key": key}, status=200)
        await admin_call("POST", "terminals/CPS-1/press", {"key": key}, status=200)
    await node.rt.background.drain()
    expected = [k for k in keys if kind != "screensaver" for _ in range(2)]
    assert hooks.bodies("ui") == [
        {"serialNumber": "CPS-1", "screenId": f"my-{kind}", "response": k} for k in expected
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (None, "missing_body"),
        ({"id": "x", "type": "payment"}, "invalid_screen"),
        ({"id": "x", "type": "info", "properties": {"offset": "999"}}, "invalid_screen"),
        ({"type": "info"}, "invalid_screen"),
        ([1, 2], "invalid_screen"),
    ],
)
async def test_ui_refuses_bad_screens(cps: CpsClient, terminal: str, body: Any, code: str) -> None:
    status, answer = await cps.post(f"{T}/ui", json=body)
    assert_error(answer, 400, code)


async def test_ui_refuses_invalid_json(cps: CpsClient, terminal: str) -> None:
    status, answer = await cps.post(
        f"{T}/ui", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_error(answer, 400, "invalid_json")


# --- state webhook configuration -----------------------------------------------------------------


async def test_webhook_get_set_delete(cps: CpsClient) -> None:
    assert await cps.get("webhook") == (200, {"url": None})
    assert await cps.post("webhook", {"url": "http://csms.test/state"}) == (
        200,
        {"url": "http://csms.test/state"},
    )
    assert await cps.get("webhook") == (200, {"url": "http://csms.test/state"})
    assert await cps.post("webhook", json={"url": "https://csms.test/v2"}) == (
        200,
        {"url": "https://csms.test/v2"},
    )
    assert await cps.delete("webhook") == (200, {"url": None})
    assert await cps.get("webhook") == (200, {"url": None})

    status, body = await cps.post("webhook")
    assert_error(body, 400, "missing_parameter", parameter="url")
    status, body = await cps.post("webhook", json={"url": "mailto:x@y"})
    assert_error(body, 400, "invalid_parameter", parameter="url")
    status, body = await cps.with_key(None).get("webhook")
    assert status == 401


async def test_webhook_url_forms(cps: CpsClient) -> None:
    """?url= wins over the body; callbackUrl is taken too; a URL is checked wherever it is
    given, and a body that is not an object is refused even when ?url= is there."""
    status, body = await cps.post(
        "webhook", {"url": "http://q.test/"}, json={"url": "http://b.test/"}
    )
    assert (status, body) == (200, {"url": "http://q.test/"})
    assert await cps.post("webhook", {"callbackUrl": "http://c.test/"}) == (
        200,
        {"url": "http://c.test/"},
    )
    assert await cps.post("webhook", json={"callbackUrl": "http://d.test/", "x": 1}) == (
        200,
        {"url": "http://d.test/"},
    )
    for bad in ([1, 2], 42, True, "http://e.test/"):
        status, body = await cps.post("webhook", {"url": "http://q.test/"}, json=bad)
        assert_error(body, 400, "invalid_body")
    status, body = await cps.post("webhook", {"url": "http://q.test/"}, json={"url": ""})
    assert_error(body, 400, "invalid_parameter", parameter="url")
    status, body = await cps.post("webhook", json={"callbackUrl": "ftp://x/"})
    assert_error(body, 400, "invalid_parameter", parameter="callbackUrl")
    status, body = await cps.post("webhook", "url=")
    assert_error(body, 400, "invalid_parameter", parameter="url")
    status, body = await cps.post("webhook", {"url": "http://q.test/", "callbackUrl": "x"})
    assert_error(body, 400, "invalid_parameter", parameter="callbackUrl")
    status, body = await cps.post(
        "webhook", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_error(body, 400, "invalid_json")
    assert await cps.get("webhook") == (200, {"url": "http://d.test/"})  # unchanged by errors


async def test_webhook_is_per_key(cps: CpsClient, admin_call: Callable[..., Any]) -> None:
    other = cps.with_key((await admin_call("POST", "cps/api-keys", {}, status=201))["apikey"])
    await cps.post("webhook", {"url": "http://a.test/"})
    assert await other.get("webhook") == (200, {"url": None})


# --- the HTTP layer ------------------------------------------------------------------------------


async def test_unknown_path_and_method(cps: CpsClient) -> None:
    status, body = await cps.get("nothing/here")
    assert_error(body, 404, "not_found")
    status, body = await cps.delete("terminals")
    assert_error(body, 405, "method_not_allowed", allowed=["GET", "HEAD"])
    for method, path, allow in [
        ("DELETE", "terminals", "GET, HEAD"),
        ("TRACE", "webhook", "DELETE, GET, HEAD, POST"),
        ("GET", "terminals/CPS-1/start", "POST"),
    ]:
        async with cps.http.request(
            method, f"{cps.base_url}/{path}", headers=cps.headers()
        ) as resp:
            assert (resp.status, resp.headers["Allow"]) == (405, allow)  # RFC 9110 §15.5.6


async def test_requests_are_journaled_redacted(
    cps: CpsClient, terminal: str, node: EmulatorNode
) -> None:
    await cps.post(f"{T}/start", {"authorizedAmount": 100})
    await cps.with_key("wrong-key-123").get("terminals")
    await cps.with_key(None).get("apikey", {"token": "payter-emulator-cps-token"})
    rows = node.rt.journal.list(protocol="cps")
    assert [(r["method"], r["status"], r["module"]) for r in rows] == [
        ("POST", 200, "start"),
        ("GET", 401, "terminals"),
        ("GET", 200, "apikey"),
    ]
    assert rows[0]["direction"] == "in"
    assert rows[0]["request_headers"]["Authorization"] == 'CPS apikey="payt…"'
    assert "payter-emulator-cps-token" not in rows[2]["url"]
    assert KEY not in (rows[2]["response_body"] or "")


async def test_cps_index(cps: CpsClient) -> None:
    status, body = await cps.with_key(None).get("")
    assert status == 200 and body["openapi"].endswith("/cps/openapi.json")


async def test_own_port_serves_at_the_root(
    start_emulator: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    node = await start_emulator(cps_port=0, cps_path="/payter/cps")
    base = node.cps.base_url
    assert base.endswith("/") and base != f"{node.rt.base_url}/cps/"
    assert node.listening()["cps_base_url"] == base
    status, body = await CpsClient(http, base).get("terminals")
    assert (status, body) == (200, [])
    mounted = CpsClient(http, f"{node.rt.base_url}/payter/cps")
    assert (await mounted.get("terminals"))[0] == 200
    async with http.get(f"{node.rt.base_url}/cps/terminals") as resp:
        assert resp.status == 404


async def test_listening_info_names_the_cps_base_url(node: EmulatorNode) -> None:
    assert node.listening()["cps_base_url"] == f"{node.rt.base_url}/cps/"


async def test_acquirer_timeout_ends_on_the_clock(
    cps: CpsClient, terminal: str, present: Callable[..., Any], clock: ManualClock
) -> None:
    """authorize answers when the outcome is known; an acquirer that never answers is declined
    after the authorization timeout (Apollo: 3 min 30 s) of the emulator's clock."""
    await cps.post(f"{T}/start", {"authorizedAmount": 5000})
    await present("CPS-1", "visa-auth-timeout")
    pending = asyncio.create_task(cps.post(f"{T}/authorize"))
    await _until_state(cps, "AUTHORIZING")
    await clock.advance(209)
    assert not pending.done()
    await clock.advance(1)
    status, body = await pending
    assert_error(body, 402, "declined", responseCode="68")


async def test_body_too_large(
    start_emulator: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    node = await start_emulator(max_body_bytes=1024)
    await node.terminals.create("CPS-1", mode="cps")
    cps = CpsClient(http, node.cps.base_url)
    screen = {"id": "big", "type": "info", "properties": {"title": "x" * 4096}}
    status, body = await cps.post(f"{T}/ui", json=screen)
    assert_error(body, 413, "body_too_large")
    [row] = node.rt.journal.list(protocol="cps")
    assert (row["status"], row["request_body"]) == (413, None)


async def test_one_log_line_per_request_without_secrets(cps: CpsClient, terminal: str) -> None:
    import logging

    import structlog
    from structlog.testing import capture_logs

    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        with capture_logs() as logs:
            await cps.post(f"{T}/start", {"authorizedAmount": 100})
            await cps.with_key(None).get("apikey", {"token": "payter-emulator-cps-token"})
    finally:
        structlog.configure(**saved)
    lines = [e for e in logs if e["event"] == "cps request"]
    assert [(e["method"], e["path"], e["status"]) for e in lines] == [
        ("POST", "/cps/terminals/CPS-1/start", 200),
        ("GET", "/cps/apikey", 200),
    ]
    text = repr(logs)
    assert "payter-emulator-cps-token" not in text and KEY not in text
