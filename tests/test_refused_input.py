"""Input that cannot be text or is shaped to exhaust the parser is refused up front, in the
protocol's own terms, on every layer (OCPI, CPS, control API), and never reaches state: the
terminal, the platforms and the journal keep working afterwards. Requests aiohttp itself refuses
before routing are answered in JSON too."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import pytest
import structlog
from helpers import admin, token_header

from emulator.app import EmulatorNode

TOKEN_A = "payter-emulator-token-a"
CPS_AUTH = {"Authorization": 'CPS apikey="payter-emulator-cps-key"'}
DEEP = ("[" * 500 + "]" * 500).encode()


async def raw_request(node: EmulatorNode, data: bytes) -> tuple[int, dict[str, Any]]:
    """Send bytes as they are (aiohttp's client would refuse to) and read the answer."""
    assert node.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(data)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"application/json" in head.lower(), head
    return status, json.loads(body)


def is_envelope(body: Any, code: int) -> bool:
    return isinstance(body, dict) and body.get("status_code") == code and "timestamp" in body


async def cps_terminal(http: aiohttp.ClientSession, node: EmulatorNode) -> str:
    status, _ = await admin(
        http, node, "POST", "terminals", json={"serial_number": "CPS-1", "mode": "cps"}
    )
    assert status == 201
    return f"{node.cps.base_url}terminals/CPS-1"


# --- OCPI --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"token": "\\ud800", "url": "http://127.0.0.1:1/v", "roles": []}',
        b'{"token": "t", "url": "http://127.0.0.1:1/\xed\xa0\x80", "roles": []}',
        DEEP,
    ],
)
async def test_ocpi_refuses_bad_bodies_with_2001(
    emulator: EmulatorNode, http: aiohttp.ClientSession, body: bytes
) -> None:
    headers = token_header(TOKEN_A) | {"Content-Type": "application/json"}
    async with http.post(
        f"{emulator.rt.base_url}/ocpi/2.3.0/credentials", data=body, headers=headers
    ) as resp:
        answer = await resp.json()
        assert resp.status == 400
    assert is_envelope(answer, 2001), answer
    assert "request body refused" in answer["status_message"]
    # No registration was attempted; the journal kept the exchange in readable form.
    assert emulator.platforms.all() == []
    exchange = emulator.rt.journal.list(protocol="ocpi")[-1]
    assert exchange["status"] == 400
    json.dumps(exchange, ensure_ascii=False).encode("utf-8")


async def test_ocpi_refuses_a_header_that_is_not_utf8(emulator: EmulatorNode) -> None:
    token = base64.b64encode(TOKEN_A.encode())
    status, body = await raw_request(
        emulator,
        b"GET /ocpi/versions HTTP/1.1\r\nHost: x\r\nAuthorization: Token "
        + token
        + b"\r\nX-Request-ID: \xed\xa0\x80\r\nConnection: close\r\n\r\n",
    )
    assert status == 400
    assert is_envelope(body, 2001)
    assert "X-Request-ID" in body["status_message"]


async def test_ocpi_refuses_a_query_string_that_is_not_utf8(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    async with http.get(
        aiohttp.client.URL(f"{emulator.rt.base_url}/ocpi/versions?x=%ED%A0%80", encoded=True),
        headers=token_header(TOKEN_A),
    ) as resp:
        body = await resp.json()
        assert resp.status == 400
    assert is_envelope(body, 2001)


async def test_the_ocpi_root_answers_with_an_envelope(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{emulator.rt.base_url}/ocpi", headers=token_header(TOKEN_A)) as resp:
        body = await resp.json()
        assert resp.status == 404
    assert is_envelope(body, 2000)


async def test_ocpi_refuses_an_unreadable_body_in_its_own_terms(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    headers = token_header(TOKEN_A) | {"Content-Encoding": "gzip"}
    async with http.post(
        f"{emulator.rt.base_url}/ocpi/2.3.0/credentials", data=b"not gzip", headers=headers
    ) as resp:
        body = await resp.json()
        assert resp.status == 400
    assert is_envelope(body, 2000)
    assert "content-encoding" in body["status_message"].lower()


# --- CPS ---------------------------------------------------------------------------------------


async def test_cps_refuses_a_surrogate_in_the_query_and_the_terminal_keeps_working(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    terminal = await cps_terminal(http, emulator)
    url = aiohttp.client.URL(f"{terminal}/start?uiMessage=%ED%A0%80", encoded=True)
    async with http.post(url, headers=CPS_AUTH) as resp:
        body = await resp.json()
        assert resp.status == 400
    assert body["error"]["code"] == "invalid_text"
    # Nothing of it reached the terminal: it is idle, and start/stop and the admin view work.
    status, device = await admin(http, emulator, "GET", "terminals/CPS-1")
    assert (status, device["state"]) == (200, "IDLE")
    async with http.post(f"{terminal}/start", headers=CPS_AUTH) as resp:
        assert resp.status == 200
    async with http.post(f"{terminal}/stop", headers=CPS_AUTH) as resp:
        assert resp.status == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"id": "x\\ud800", "type": "info", "properties": {}}', "invalid_text"),
        (b'{"id": "x", "type": "info", "properties": {"title": "\xed\xa0\x80"}}', "invalid_text"),
        (DEEP, "invalid_body"),
        (b'{"id": "x", "type": "info", "properties": {"n": 1e999}}', "invalid_body"),
    ],
)
async def test_cps_ui_refuses_bad_bodies_before_the_screen_changes(
    emulator: EmulatorNode, http: aiohttp.ClientSession, body: bytes, code: str
) -> None:
    terminal = await cps_terminal(http, emulator)
    _, before = await admin(http, emulator, "GET", "terminals/CPS-1")
    async with http.post(f"{terminal}/ui", data=body, headers=CPS_AUTH) as resp:
        answer = await resp.json()
        assert resp.status == 400
    assert answer["error"]["code"] == code
    assert answer["error"]["status"] == 400
    status, after = await admin(http, emulator, "GET", "terminals/CPS-1")
    assert status == 200
    assert after["screen"] == before["screen"]


async def test_cps_refuses_a_bad_webhook_body(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{emulator.cps.base_url}webhook",
        data=b'{"url": "http://127.0.0.1/\\udfff"}',
        headers=CPS_AUTH,
    ) as resp:
        answer = await resp.json()
        assert resp.status == 400
    assert answer["error"]["code"] == "invalid_text"
    async with http.get(f"{emulator.cps.base_url}webhook", headers=CPS_AUTH) as resp:
        assert resp.status == 200
        assert (await resp.json()).get("url") is None


# --- control API -------------------------------------------------------------------------------


async def test_the_control_api_refuses_bad_text_in_its_error_body(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{emulator.rt.base_url}/__admin/terminals",
        data=b'{"serial_number": "A\\ud800", "mode": "cps"}',
    ) as resp:
        answer = await resp.json()
        assert resp.status == 400
    assert answer["error"]["code"] == "invalid_text"
    status, _ = await admin(http, emulator, "GET", "terminals")
    assert status == 200
    async with http.get(
        aiohttp.client.URL(f"{emulator.rt.base_url}/__admin/terminals/%ED%A0%80", encoded=True)
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "invalid_text"


# --- refused by aiohttp before routing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "shape"),
    [
        (b"GET /ocpi/2.3.0/sessions/\xed\xa0\x80 HTTP/1.1\r\nHost: x\r\n\r\n", "ocpi"),
        (b"GET /cps/terminals HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", "error"),
        (
            b"POST /ocpi/2.3.0/credentials HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
            b"Content-Length: 2\r\n\r\n{}",
            "ocpi",
        ),
        (
            b"GET /ocpi/versions HTTP/1.1\r\nHost: x\r\nX-Token: Token secret-"
            + b"a" * 9000
            + b"\r\n\r\n",
            "ocpi",
        ),
        (b"GET /__admin/terminals?token=secret-1 HTTP/1.1\r\nHost: x\r\nX:\x01\r\n\r\n", "error"),
        # No request line to read the path from: both shapes in one body.
        (b"\x16\x03\x01 secret-tls-hello\r\n\r\n", "both"),
    ],
)
async def test_what_aiohttp_refuses_is_answered_in_the_protocols_shape(
    emulator: EmulatorNode, request_bytes: bytes, shape: str
) -> None:
    status, body = await raw_request(emulator, request_bytes)
    assert status == 400
    # The request line tells which protocol the request was for (OCPI: the envelope; CPS and
    # the control API: their error object); without one, both shapes in one body.
    if shape in ("ocpi", "both"):
        assert is_envelope(body, 2000)
    else:
        assert "status_code" not in body
    if shape in ("error", "both"):
        assert body["error"]["status"] == 400
    else:
        assert "error" not in body
    if shape == "both":
        assert body["error"]["message"] == body["status_message"]
    # Nothing of the refused request is echoed (a header or a query may carry a token).
    assert "secret" not in json.dumps(body)
    # The server is fine afterwards.
    status, ready = await raw_request(
        emulator, b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert (status, ready["status"]) == (200, "ready")


# --- numbers beyond what the store holds ---------------------------------------------------


async def test_integers_beyond_the_store_are_refused_not_a_500(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    """SQLite integers are 64-bit: an id or a limit of 10**30 is a client's mistake."""
    huge = 10**30
    status, body = await admin(http, emulator, "GET", f"findings?limit={huge}")
    assert status == 400 and body["error"]["code"] == "invalid_parameter", body
    status, body = await admin(http, emulator, "GET", f"platforms/{huge}")
    assert status == 404 and body["error"]["code"] == "not_found", body
    status, body = await admin(http, emulator, "GET", "events?wait=soon")
    assert status == 400 and body["error"]["code"] == "invalid_parameter", body
    status, body = await admin(http, emulator, "GET", "findings?limit=5")
    assert status == 200


@pytest.mark.parametrize(
    "seconds",
    ["1e400", "inf", "nan", "Infinity", 1e29, 9007199254740993, True, "9" * 400],
)
async def test_the_clock_refuses_seconds_it_cannot_move_by(
    emulator: EmulatorNode, http: aiohttp.ClientSession, seconds: Any
) -> None:
    """Infinite, not-a-number or beyond any date: a 400, never a 500; the clock stays put."""
    _, before = await admin(http, emulator, "GET", "clock")
    status, body = await admin(http, emulator, "POST", "clock/advance", json={"seconds": seconds})
    assert status == 400 and body["error"]["code"] == "invalid_field", body
    status, body = await admin(http, emulator, "POST", f"clock/advance?seconds={seconds}")
    assert status == 400 and body["error"]["code"] == "invalid_field", body
    status, after = await admin(http, emulator, "GET", "clock")
    assert status == 200 and after["now"] == before["now"]


async def test_the_clock_is_not_set_where_its_timers_cannot_follow(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    status, body = await admin(
        http, emulator, "POST", "clock/set", json={"at": "9999-12-31T23:59:59Z"}
    )
    assert status == 400 and "no later than 9000-01-01" in body["error"]["message"], body
    # Up to that limit it goes, and beyond it is refused in the same terms.
    status, body = await admin(
        http, emulator, "POST", "clock/set", json={"at": "8999-12-31T00:00:00Z"}
    )
    assert status == 200, body
    status, body = await admin(http, emulator, "POST", "clock/advance", json={"seconds": 86401})
    assert status == 400 and body["error"]["code"] == "invalid_field", body
    status, body = await admin(http, emulator, "POST", "clock/advance", json={"seconds": 3600})
    assert (status, body["now"]) == (200, "8999-12-31T01:00:00Z"), body


async def test_cps_answers_a_host_header_that_is_no_host_name(emulator: EmulatorNode) -> None:
    """``request.url`` cannot be built from such a Host: the CPS index still answers."""
    status, body = await raw_request(
        emulator, b"GET /cps/ HTTP/1.1\r\nHost: a:99999999\r\nConnection: close\r\n\r\n"
    )
    assert status < 500, body


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/ocpi/2.3.0/credentials", 401),  # answered before the body is read
        ("POST", "/ocpi/2.3.0/credentials", 400),  # read by the handler
        ("POST", "/cps/terminals/CPS-1/ui", 400),
        ("POST", "/cps/terminals/CPS-1/ui", 401),
        ("POST", "/__admin/terminals", 400),
        ("GET", "/readyz", 200),  # a body no handler reads
    ],
)
async def test_an_undecodable_body_is_one_warning_line_on_every_path(
    emulator: EmulatorNode,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    status: int,
) -> None:
    await cps_terminal(http, emulator)
    auth = {
        "/ocpi": token_header(TOKEN_A if status != 401 else "nope"),
        "/cps/": CPS_AUTH if status != 401 else {"Authorization": 'CPS apikey="nope"'},
    }
    headers = {"Content-Encoding": "deflate", "Content-Type": "application/json"}
    headers |= next((h for prefix, h in auth.items() if path.startswith(prefix)), {})
    caplog.clear()
    with structlog.testing.capture_logs() as logged:
        async with http.request(
            method, f"{emulator.rt.base_url}{path}", data=b"not deflated" * 100, headers=headers
        ) as resp:
            assert resp.status == status
            answer = await resp.json()
        status, ready = await raw_request(
            emulator, b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    assert status == 200
    if path.startswith("/ocpi"):
        assert is_envelope(answer, 2000), answer
    elif resp.status >= 400:
        assert set(answer) == {"error"} and answer["error"]["code"], answer
    # aiohttp's own logger says nothing (no "Unhandled exception" with a traceback); ours says
    # it once, in one line, without the body.
    assert "Unhandled exception" not in caplog.text and "Traceback" not in caplog.text
    warnings = [e for e in logged if e["log_level"] in ("warning", "error")]
    assert len(warnings) == 1, warnings
    assert "content-encoding" in str(warnings[0].get("reason")).lower(), warnings
    assert "not deflated" not in str(warnings)


@pytest.mark.parametrize("encoding", ["br", "zstd"])
async def test_an_encoding_the_server_cannot_decode_is_refused_without_install_advice(
    emulator: EmulatorNode, http: aiohttp.ClientSession, encoding: str
) -> None:
    headers = token_header(TOKEN_A) | {"Content-Encoding": encoding}
    async with http.post(
        f"{emulator.rt.base_url}/ocpi/2.3.0/credentials", data=b"{}", headers=headers
    ) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert is_envelope(body, 2000), body
    assert "content-encoding" in body["status_message"].lower()
    assert "install" not in body["status_message"].lower(), body


async def test_an_undecodable_body_after_a_401_is_one_warning(
    emulator: EmulatorNode, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Authorization": "Token nope", "Content-Encoding": "gzip"}
    async with http.post(
        f"{emulator.rt.base_url}/ocpi/2.3.0/credentials", data=b"not gzip" * 100, headers=headers
    ) as resp:
        assert resp.status == 401
    status, ready = await raw_request(
        emulator, b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == 200
    assert "Unhandled exception" not in caplog.text
