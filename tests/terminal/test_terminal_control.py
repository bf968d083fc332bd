"""Control API of the terminals, through aiohttp's test client against an EmulatorNode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from emulator.app import EmulatorNode

Client = TestClient[Any, Any]
P = "/__admin/terminals"


@pytest.fixture
async def client(node: EmulatorNode, aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    await node.terminals.create("APO1")
    return await aiohttp_client(node.app)


async def call(client: Client, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    resp = await client.request(method, path, json=body)
    data = await resp.json()
    assert resp.status == status, data
    return data


async def test_terminal_view(client: Client) -> None:
    data = await call(client, "GET", f"{P}/APO1")
    assert (data["serial_number"], data["model"], data["mode"]) == ("APO1", "Apollo", "ocpi")
    assert (data["online"], data["state"], data["forced_outcome"]) == (True, "IDLE", None)
    assert set(data["screen"]) == {"type", "id", "properties", "keys", "view"}
    assert data["screen"]["type"] == "carousel"
    assert data["screen"]["properties"]["cards.0.logo"] == "mastercard"
    # The screen as a renderer draws it, read by the terminal (the TUI reads nothing itself).
    assert data["screen"]["view"]["cards"][0] == {
        "name": "0",
        "logo": "mastercard",
        "cardholder": "Mastercard",
    }
    assert data["sessions"] == [] and data["out_of_service"] is None


async def test_an_offline_terminal_says_why_it_is_out_of_service(client: Client) -> None:
    data = await call(client, "POST", f"{P}/APO1/offline")
    assert data["out_of_service"] == "the terminal is offline"
    assert data["screen"]["view"]["out_of_service"] == "the terminal is offline"
    data = await call(client, "POST", f"{P}/APO1/online")
    assert data["out_of_service"] != "the terminal is offline"


async def test_unknown_terminal_is_404(client: Client) -> None:
    for method, path, body in [
        ("GET", f"{P}/NOPE", None),
        ("GET", f"{P}/NOPE/sessions", None),
        ("POST", f"{P}/NOPE/present-card", {"card": "visa-approved"}),
        ("POST", f"{P}/NOPE/press", {"key": "x"}),
        ("POST", f"{P}/NOPE/offline", None),
        ("POST", f"{P}/NOPE/online", None),
        ("POST", f"{P}/NOPE/outcome", {"outcome": None}),
    ]:
        data = await call(client, method, path, body, status=404)
        assert data["error"]["code"] == "not_found"


async def test_present_card_flow(client: Client, node: EmulatorNode) -> None:
    ignored = await call(client, "POST", f"{P}/APO1/present-card", {"card": "visa-approved"})
    assert (ignored["result"], ignored["reason"]) == ("ignored", "not_reading")

    await node.terminals.start_reading("APO1", amount=5000)
    read = await call(
        client, "POST", f"{P}/APO1/present-card", {"card": "visa-approved", "medium": "chip"}
    )
    assert (read["result"], read["ifd"], read["maskedPan"]) == ("read", "CHIP", "411111******1111")
    assert read["terminal"]["state"] == "CARD"

    result = await node.terminals.authorize("APO1")
    view = await call(client, "GET", f"{P}/APO1")
    assert [s["session_id"] for s in view["sessions"]] == [result["session_id"]]
    sessions = await call(client, "GET", f"{P}/APO1/sessions")
    assert sessions[0]["state"] == "AUTHORIZED"


async def test_present_qr_content(client: Client, node: EmulatorNode) -> None:
    await node.terminals.start_reading("APO1", methods=["QR_CODE"])
    read = await call(
        client, "POST", f"{P}/APO1/present-card", {"card": "any text at all", "medium": "qr"}
    )
    assert (read["ifd"], read["cardId"], read["aid"]) == ("QR_CODE", "any text at all", "")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"card": "no-such-card"}, "unknown_card"),
        ({"card": "visa-approved", "medium": "magstripe"}, "invalid_medium"),
        ({"card": "maestro-pin", "medium": "contactless"}, "medium_not_supported"),
        ({"medium": "chip"}, "missing_field"),
        ({"card": 4111111111111111}, "invalid_field"),
        (None, "invalid_body"),
    ],
)
async def test_present_card_errors(client: Client, body: Any, code: str) -> None:
    data = await call(client, "POST", f"{P}/APO1/present-card", body, status=400)
    assert data["error"]["code"] == code


async def test_press(client: Client, node: EmulatorNode) -> None:
    data = await call(client, "POST", f"{P}/APO1/press", {"key": "start"}, status=400)
    assert data["error"]["code"] == "unknown_key"
    assert data["error"]["accepted"] == []

    await node.terminals.show(
        "APO1",
        {
            "id": "home",
            "type": "message",
            "properties": {"title": "Go?", "buttons.yes.label": "Yes", "buttons.no.label": "No"},
        },
    )
    data = await call(client, "POST", f"{P}/APO1/press", {"key": "maybe"}, status=400)
    assert data["error"]["accepted"] == ["yes", "no"]
    assert "maybe" in data["error"]["message"]

    pressed = await call(client, "POST", f"{P}/APO1/press", {"key": "yes"})
    assert (pressed["screen_id"], pressed["ui_event"]) == ("home", True)
    ui = [e.data for e in node.rt.bus.recent(kinds={"terminal.ui_event"})]
    assert ui == [{"screenId": "home", "response": "yes", "serial_number": "APO1"}]
    await call(client, "POST", f"{P}/APO1/press", {}, status=400)


async def test_offline_and_online(client: Client, node: EmulatorNode) -> None:
    data = await call(client, "POST", f"{P}/APO1/offline")
    assert (data["online"], data["screen"]["id"]) == (False, "payter.offline")
    ignored = await call(client, "POST", f"{P}/APO1/present-card", {"card": "visa-approved"})
    assert ignored["reason"] == "offline"
    data = await call(client, "POST", f"{P}/APO1/online")
    assert (data["online"], data["state"]) == (True, "IDLE")
    states = [
        (e.data["online"], e.data["state"]) for e in node.rt.bus.recent(kinds={"terminal.state"})
    ]
    assert states[-2:] == [(False, "IDLE"), (True, "IDLE")]


async def test_forced_outcome(client: Client, node: EmulatorNode) -> None:
    data = await call(client, "POST", f"{P}/APO1/outcome", {"outcome": "declined"})
    assert data["forced_outcome"] == "declined"
    await node.terminals.start_reading("APO1", amount=100)
    await call(client, "POST", f"{P}/APO1/present-card", {"card": "visa-approved"})
    result = await node.terminals.authorize("APO1")
    assert (result["status"], result["response_code"]) == ("declined", "05")

    data = await call(client, "POST", f"{P}/APO1/outcome", {"outcome": None})
    assert data["forced_outcome"] is None
    error = await call(client, "POST", f"{P}/APO1/outcome", {"outcome": "lucky"}, status=400)
    assert error["error"]["code"] == "invalid_outcome"
    assert "capture_fails" in error["error"]["accepted"]
    error = await call(client, "POST", f"{P}/APO1/outcome", {}, status=400)
    assert error["error"]["code"] == "missing_field"


async def test_cards_list(client: Client) -> None:
    cards = await call(client, "GET", "/__admin/cards")
    by_id = {c["id"]: c for c in cards}
    assert by_id["visa-approved"]["outcome"] == "approved"
    assert by_id["mastercard-capture-fails"]["outcome"] == "capture_fails"
    assert by_id["qr-sample"]["media"] == ["qr"]
    assert {c["outcome"] for c in cards} >= {
        "approved",
        "declined",
        "insufficient_funds",
        "expired",
        "pin_required",
        "auth_timeout",
        "capture_fails",
        "partial_capture",
        "incremental_ok",
    }


async def test_card_timeout_through_the_clock_endpoint(client: Client, node: EmulatorNode) -> None:
    await node.terminals.start_reading("APO1", amount=5000)
    # Payter's card-detect timeout: 60 s by default.
    advanced = await call(client, "POST", "/__admin/clock/advance", {"seconds": 59})
    assert advanced["timers_fired"] == 0
    assert (await call(client, "GET", f"{P}/APO1"))["state"] == "READING"
    advanced = await call(client, "POST", "/__admin/clock/advance", {"seconds": 1})
    assert advanced["timers_fired"] == 1
    data = await call(client, "GET", f"{P}/APO1")
    assert (data["state"], data["screen"]["id"]) == ("IDLE", "payter.idle")


async def test_routes_are_listed_in_the_admin_index(client: Client) -> None:
    routes = (await call(client, "GET", "/__admin/"))["routes"]
    assert "POST /__admin/terminals/{serial}/present-card" in routes
    assert "GET /__admin/cards" in routes
