"""A fake control API for the TUI tests: JSON fixtures in, presses and card taps recorded.

It serves the emulator's ``/__admin/`` routes the TUI uses (terminals, cards, clock, journal,
findings, report, journeys, events over WebSocket and JSON poll) and the simulated CPO's
charger routes, from plain data a test sets up, and records every action the TUI takes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

SCREENS = Path(__file__).parent / "fixtures" / "screens"
CLOCK_START = "2025-03-01T09:00:00Z"


def screen(name: str) -> dict[str, Any]:
    """A screen fixture (``tests/tui/fixtures/screens/<name>.json``) as the control API
    reports it: the emulator's own reading of it (``keys``, ``view``) comes from the emulator's
    screen code, so the fake cannot drift from what the TUI is given in real life."""
    from emulator.terminal.screens import Screen

    data = json.loads((SCREENS / f"{name}.json").read_text(encoding="utf-8"))
    return Screen.parse(data, allow_payment=True).as_json()


def reported(data: dict[str, Any]) -> dict[str, Any]:
    """A terminal as the control API reports it: a terminal without a display (a P6X) with
    what its reader shows, from the emulator's own code (as for screens)."""
    from emulator.terminal.screens import Screen, reader_screen

    if data.get("has_screen") is not False:
        return data
    shown = Screen.from_dict(data["screen"])
    reader = reader_screen(data["model"], data["online"], data["state"], shown)
    return {**data, "reader": reader}


def terminal(serial: str, screen_name: str = "selection_home", **extra: Any) -> dict[str, Any]:
    shown = screen(screen_name)
    data = {
        "serial_number": serial,
        "model": "APOLLO",
        "currency": "EUR",
        "online": True,
        "state": "IDLE",
        "out_of_service": shown["view"]["out_of_service"],
        "screen": shown,
        "sessions": [],
    }
    data.update(extra)
    return data


CARDS = [
    {
        "id": "visa-approved",
        "label": "Visa, approved",
        "brand": "visa",
        "media": ["contactless", "chip"],
        "outcome": "approved",
    },
    {
        "id": "visa-declined",
        "label": "Visa, declined (05 do not honour)",
        "brand": "visa",
        "media": ["contactless", "chip"],
        "outcome": "declined",
    },
    {
        "id": "visa-pin",
        "label": "Visa, asks for a PIN",
        "brand": "visa",
        "media": ["contactless", "chip"],
        "outcome": "pin_required",
    },
    {
        # The longest label of the emulator's catalogue: it wraps in the pane at 80 columns.
        "id": "mastercard-incremental",
        "label": "Mastercard (2-series), incremental authorization allowed",
        "brand": "mastercard",
        "media": ["contactless", "chip"],
        "outcome": "incremental_ok",
    },
    {
        "id": "qr-sample",
        "label": "QR code read by the camera",
        "media": ["qr"],
        "content": "EMU-QR-0001",
        "outcome": "no_payment",
    },
    {
        "id": "rfid-mifare-classic",
        "label": "RFID MiFare Classic",
        "media": ["rfid"],
        "uid": "5A1B2C3D",
        "outcome": "no_payment",
    },
]

JOURNAL = [
    {
        "id": 1,
        "at": "2025-03-01T09:00:01Z",
        "direction": "in",
        "protocol": "ocpi",
        "module": "versions",
        "method": "GET",
        "url": "http://127.0.0.1:8080/ocpi/versions",
        "status": 200,
        "ocpi_status": 1000,
    },
    {
        "id": 2,
        "at": "2025-03-01T09:00:02Z",
        "direction": "out",
        "protocol": "ocpi",
        "module": "credentials",
        "method": "POST",
        "url": "http://127.0.0.1:9090/ocpi/2.3.0/credentials",
        "status": 200,
        "ocpi_status": 1000,
    },
    {
        "id": 3,
        "at": "2025-03-01T09:00:03Z",
        "direction": "in",
        "protocol": "ocpi",
        "module": "locations",
        "method": "PUT",
        "url": "http://127.0.0.1:8080/ocpi/2.3.0/receiver/locations/NL/CPO/LOC1",
        "status": 400,
        "ocpi_status": 2001,
    },
]

EXCHANGE_DETAIL = {
    **JOURNAL[2],
    "request_headers": {"Authorization": "Token ZXhh…", "X-Request-ID": "r-1"},
    "request_body": json.dumps({"id": "LOC1", "country_code": "NL"}),
    "response_headers": {"Content-Type": "application/json"},
    "response_body": json.dumps({"status_code": 2001, "status_message": "missing last_updated"}),
    "findings": [
        {"rule": "OCPI-20", "severity": "error", "message": "last_updated missing"},
    ],
}

FINDINGS = [
    {
        "id": 1,
        "at": "2025-03-01T09:00:03Z",
        "rule": "OCPI-03",
        "severity": "error",
        "axis": "spec",
        "message": "request without X-Request-ID and X-Correlation-ID",
        "exchange_id": 3,
    },
    {
        "id": 2,
        "at": "2025-03-01T09:00:04Z",
        "rule": "PAYTER-01",
        "severity": "warning",
        "axis": "payter",
        "message": "OCPI 2.3.0 endpoints lack payments:RECEIVER",
        "exchange_id": None,
    },
]

REPORT = {
    "verdict": "FAIL",
    "strict": False,
    "axes": {
        "spec": {"verdict": "FAIL", "errors": 1, "warnings": 0, "rules": []},
        "payter": {"verdict": "PASS", "errors": 0, "warnings": 1, "rules": []},
    },
}

# The shape of ``GET /__admin/journeys`` (amounts in minor units).
JOURNEYS = [
    {
        "id": "j1",
        "serial_number": "PAY-0001",
        "evse_uid": "EVSE-1",
        "authorization_reference": "AUTH0001",
        "state": "CHARGING",
        "money": "AUTHORIZED",
        "currency": "EUR",
        "preauthorized_amount": 5000,
        "captured_amount": None,
        "capture_status": None,
        "voided_amount": None,
        "session_id": "S-1",
        "cdr_id": None,
        "fac_id": None,
        "fac_delivered": False,
    },
    {
        "id": "j2",
        "serial_number": "PAY-0001",
        "evse_uid": "EVSE-2",
        "authorization_reference": "AUTH0002",
        "state": "COMPLETED",
        "money": "CAPTURED",
        "currency": "EUR",
        "preauthorized_amount": 5000,
        "captured_amount": 1344,
        "capture_status": "SUCCESS",
        "voided_amount": None,
        "session_id": "S-2",
        "cdr_id": "CDR-2",
        "fac_id": "FAC-2",
        "fac_delivered": True,
    },
    {
        "id": "j3",
        "serial_number": "PAY-0001",
        "evse_uid": "EVSE-1",
        "authorization_reference": None,
        "state": "DECLINED",
        "money": "NONE",
        "currency": "EUR",
        "preauthorized_amount": 5000,
        "captured_amount": None,
        "capture_status": None,
        "voided_amount": None,
        "session_id": None,
        "cdr_id": None,
        "fac_id": None,
        "fac_delivered": False,
    },
]

CHARGERS = [
    {
        "evse_uid": "EVSE-1",
        "location_id": "LOC1",
        "status": "AVAILABLE",
        "online": True,
        "out_of_order": False,
        "car": None,
        "session_id": None,
        "max_power_kw": 150,
    },
    {
        "evse_uid": "EVSE-2",
        "location_id": "LOC1",
        "status": "CHARGING",
        "online": True,
        "out_of_order": False,
        "car": {"battery_kwh": 60, "soc": 42.5, "max_power_kw": 50, "connector_id": "1"},
        "session_id": "S-1",
        "max_power_kw": 22,
    },
]


class FakeControlApi:
    """State a test sets, routes the TUI calls, and a record of what it did."""

    def __init__(self) -> None:
        self.terminals: dict[str, dict[str, Any]] = {"PAY-0001": terminal("PAY-0001")}
        self.cards = copy.deepcopy(CARDS)
        self.clock = {"mode": "manual", "now": CLOCK_START}
        self.journal = copy.deepcopy(JOURNAL)
        self.findings = copy.deepcopy(FINDINGS)
        self.report = copy.deepcopy(REPORT)
        self.journeys: list[dict[str, Any]] | None = copy.deepcopy(JOURNEYS)
        self.chargers = copy.deepcopy(CHARGERS)
        # How often each path was read (GET), to see what the TUI asks for and when.
        self.reads: collections.Counter[str] = collections.Counter()
        # Injected faults as ``GET /__admin/faults`` lists them (the same for the CPO's).
        self.faults: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.presses: list[tuple[str, str]] = []
        self.cards_presented: list[tuple[str, str, str]] = []
        self.online_changes: list[tuple[str, bool]] = []
        self.charger_actions: list[tuple[str, str]] = []
        self.advances: list[float] = []
        # Every action in the order the fake finished it, and a gate that holds an advance.
        self.order: list[str] = []
        self.advance_gate: asyncio.Event | None = None
        self.advance_started = asyncio.Event()
        # What a press turns into: (serial, key) -> screen fixture name.
        self.on_press: dict[tuple[str, str], str] = {}
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._sockets: set[web.WebSocketResponse] = set()
        # ``since`` of every event-stream connection, in order.
        self.stream_connections: list[int] = []
        self.server: TestServer | None = None
        # When set, every route wants "Authorization: Bearer <admin_token>" (as --admin-token).
        self.admin_token: str | None = None

    # --- test helpers ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def publish(self, kind: str, **data: Any) -> dict[str, Any]:
        event = {"id": len(self.events) + 1, "kind": kind, "at": self.clock["now"], "data": data}
        self.events.append(event)
        for queue in list(self._subscribers):
            queue.put_nowait(event)
        return event

    def set_screen(self, serial: str, name: str, *, publish: bool = True) -> None:
        self.terminals[serial]["screen"] = screen(name)
        self.terminals[serial]["out_of_service"] = screen(name)["view"]["out_of_service"]
        if publish:
            self.publish("terminal.screen", serial_number=serial, screen=screen(name))

    async def drop_streams(self) -> None:
        """Close every event-stream connection from the server side."""
        for ws in list(self._sockets):
            await ws.close()

    async def start(self) -> FakeControlApi:
        self.server = TestServer(self.app())
        await self.server.start_server()
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    # --- routes --------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET":
            self.reads[request.path.removeprefix("/__admin/")] += 1
        if self.admin_token and request.headers.get("Authorization") != (
            f"Bearer {self.admin_token}"
        ):
            message = "the control API needs 'Authorization: Bearer <admin token>'"
            return web.json_response(
                {"error": {"code": "unauthorized", "message": message}}, status=401
            )
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        p = "/__admin"
        r = app.router
        r.add_get(f"{p}/", self._index)
        r.add_get(f"{p}/terminals", self._terminals)
        r.add_get(f"{p}/terminals/{{serial}}", self._terminal)
        r.add_post(f"{p}/terminals/{{serial}}/press", self._press)
        r.add_post(f"{p}/terminals/{{serial}}/present-card", self._present)
        r.add_post(f"{p}/terminals/{{serial}}/offline", self._offline)
        r.add_post(f"{p}/terminals/{{serial}}/online", self._online)
        r.add_get(f"{p}/cards", self._cards)
        r.add_get(f"{p}/clock", self._clock)
        r.add_post(f"{p}/clock/advance", self._advance)
        r.add_get(f"{p}/journal", self._journal)
        r.add_get(f"{p}/journal/{{id}}", self._exchange)
        r.add_get(f"{p}/findings", self._findings)
        r.add_get(f"{p}/report", self._report)
        r.add_get(f"{p}/journeys", self._journeys)
        r.add_get(f"{p}/events", self._events)
        r.add_get(f"{p}/faults", self._faults)
        r.add_get(f"{p}/evses", self._chargers)
        r.add_post(f"{p}/evses/{{uid}}/{{action}}", self._charger_action)
        return app

    def _serial(self, request: web.Request) -> str:
        serial = request.match_info["serial"]
        if serial not in self.terminals:
            raise web.HTTPNotFound(
                text=json.dumps({"error": {"code": "not_found", "message": serial}}),
                content_type="application/json",
            )
        return serial

    async def _index(self, request: web.Request) -> web.Response:
        return web.json_response({"service": "fake"})

    async def _terminals(self, request: web.Request) -> web.Response:
        return web.json_response([reported(t) for t in self.terminals.values()])

    async def _terminal(self, request: web.Request) -> web.Response:
        return web.json_response(reported(self.terminals[self._serial(request)]))

    async def _press(self, request: web.Request) -> web.Response:
        serial = self._serial(request)
        key = (await request.json())["key"]
        current = self.terminals[serial]["screen"]
        if key not in current.get("keys", []):
            return web.json_response(
                {"error": {"code": "invalid_key", "message": f"{key!r} cannot be pressed"}},
                status=409,
            )
        self.presses.append((serial, key))
        self.order.append(f"press {key}")
        following = self.on_press.get((serial, key))
        if following:
            self.set_screen(serial, following)
        self.publish(
            "terminal.ui_event", serial_number=serial, screenId=current["id"], response=key
        )
        return web.json_response({"pressed": key})

    async def _present(self, request: web.Request) -> web.Response:
        serial = self._serial(request)
        body = await request.json()
        self.cards_presented.append((serial, body["card"], body.get("medium", "contactless")))
        self.publish("terminal.card", serial_number=serial, card=body["card"])
        return web.json_response({"presented": body["card"]})

    async def _offline(self, request: web.Request) -> web.Response:
        serial = self._serial(request)
        self.online_changes.append((serial, False))
        self.terminals[serial]["online"] = False
        return web.json_response(reported(self.terminals[serial]))

    async def _online(self, request: web.Request) -> web.Response:
        serial = self._serial(request)
        self.online_changes.append((serial, True))
        self.terminals[serial]["online"] = True
        return web.json_response(reported(self.terminals[serial]))

    async def _cards(self, request: web.Request) -> web.Response:
        return web.json_response(self.cards)

    async def _clock(self, request: web.Request) -> web.Response:
        return web.json_response(self.clock)

    async def _advance(self, request: web.Request) -> web.Response:
        seconds = float((await request.json())["seconds"])
        self.advance_started.set()
        if self.advance_gate is not None:
            await self.advance_gate.wait()
        self.advances.append(seconds)
        self.order.append(f"advance {seconds:g}")
        from datetime import datetime, timedelta

        now = datetime.fromisoformat(self.clock["now"].replace("Z", "+00:00"))
        self.clock["now"] = (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response({**self.clock, "timers_fired": 0})

    async def _journal(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response([r for r in self.journal if r["id"] > since])

    async def _exchange(self, request: web.Request) -> web.Response:
        if request.match_info["id"] == str(EXCHANGE_DETAIL["id"]):
            return web.json_response(EXCHANGE_DETAIL)
        return web.json_response({"error": {"code": "not_found", "message": "no"}}, status=404)

    async def _findings(self, request: web.Request) -> web.Response:
        return web.json_response(self.findings)

    async def _report(self, request: web.Request) -> web.Response:
        return web.json_response(self.report)

    async def _journeys(self, request: web.Request) -> web.Response:
        if self.journeys is None:
            return web.json_response(
                {"error": {"code": "not_found", "message": "no journeys"}}, status=404
            )
        return web.json_response(self.journeys)

    async def _faults(self, request: web.Request) -> web.Response:
        active = request.query.get("active") == "true"
        return web.json_response([f for f in self.faults if f.get("active") or not active])

    async def _chargers(self, request: web.Request) -> web.Response:
        return web.json_response(self.chargers)

    async def _charger_action(self, request: web.Request) -> web.Response:
        self.charger_actions.append((request.match_info["uid"], request.match_info["action"]))
        return web.json_response({"ok": True})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        since = int(request.query.get("since", "0") or 0)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response([e for e in self.events if e["id"] > since])
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.stream_connections.append(since)
        self._sockets.add(ws)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            for event in self.events:
                if event["id"] > since:
                    await ws.send_str(json.dumps(event))

            async def pump() -> None:
                while True:
                    await ws.send_str(json.dumps(await queue.get()))

            task = asyncio.create_task(pump())
            try:
                async for _ in ws:
                    pass
            finally:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        finally:
            self._subscribers.discard(queue)
            self._sockets.discard(ws)
        return ws
