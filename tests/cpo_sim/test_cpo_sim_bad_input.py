"""Bad input to the simulated CPO gets OCPI errors, in the envelope and with the HTTP status
the spec gives (transport_and_format, status_codes), and changes nothing."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from helpers import SIM_TOKEN_A, clock_of, token_header
from ptp_double import PtpDouble

from emulator.cpo_sim.node import CpoSimNode
from emulator.ocpi.types import parse_datetime

START = {
    "location_id": "SIM-AMS-STATION",
    "evse_uid": "SIM-AMS-1",
    "connector_id": "1",
}


async def send(
    ptp: PtpDouble,
    method: str,
    url: str,
    *,
    data: str | bytes | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    h = ptp.headers() if headers is None else headers
    if data is not None:
        h = {**h, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s:
        async with s.request(method, url, headers=h, data=data, json=json) as r:
            return r.status, await r.json(content_type=None)


def envelope(body: dict[str, Any], code: int) -> None:
    """An OCPI error envelope: the status code, a message, a timestamp, no data."""
    assert body["status_code"] == code, body
    assert body["status_message"] and parse_datetime(body["timestamp"])
    assert "data" not in body


@pytest.fixture
async def sim(start_sim) -> CpoSimNode:
    return await start_sim(max_body_bytes=4096)


async def test_authentication(sim: CpoSimNode, ptp: PtpDouble) -> None:
    locations = ptp.endpoints["locations"]
    status, body = await send(ptp, "GET", locations, headers={})
    assert status == 401
    envelope(body, 2000)
    status, body = await send(ptp, "GET", locations, headers=token_header("no-such-token"))
    assert status == 401
    envelope(body, 2000)
    # Token A is spent once the PTP registered, and never opened functional modules.
    status, body = await send(ptp, "GET", locations, headers=token_header(SIM_TOKEN_A))
    assert status == 401
    envelope(body, 2000)
    status, body = await send(ptp, "GET", sim.server.versions_url, headers={})
    assert status == 401


async def test_malformed_bodies(sim: CpoSimNode, ptp: PtpDouble) -> None:
    commands, tokens = ptp.endpoints["commands"], ptp.endpoints["tokens"]
    payments = ptp.endpoints["payments"]
    url = ptp.response_url()
    cases: list[tuple[str, str, dict[str, Any], int, int]] = [
        # Not JSON: HTTP 400 (status_codes.asciidoc).
        ("POST", f"{commands}/START_SESSION", {"data": "{not json"}, 400, 2000),
        ("PUT", f"{tokens}/NL/PAY/T1", {"data": '{"uid": '}, 400, 2000),
        # Valid JSON, wrong shape or types: HTTP 200 with 2001.
        ("POST", f"{commands}/START_SESSION", {"json": [START]}, 200, 2001),
        (
            "POST",
            f"{commands}/START_SESSION",
            {"json": {**START, "response_url": url, "token": "PAY-TX-1"}},
            200,
            2001,
        ),
        (
            "POST",
            f"{commands}/STOP_SESSION",
            {"json": {"response_url": url, "session_id": 42}},
            200,
            2001,
        ),
        (
            "POST",
            f"{commands}/RESERVE_NOW",
            {
                "json": {
                    "response_url": url,
                    "token": ptp.token(),
                    "expiry_date": "tomorrow",
                    "reservation_id": "R-1",
                    "location_id": "SIM-AMS-STATION",
                }
            },
            200,
            2001,
        ),
        ("POST", f"{commands}/UNLOCK_CONNECTOR", {"json": {"response_url": url}}, 200, 2001),
        ("PUT", f"{tokens}/NL/PAY/T1", {"json": {"uid": "T1"}}, 200, 2001),
        (
            "PATCH",
            f"{tokens}/NL/PAY/T1",
            {"json": {"whitelist": "SOMETIMES", "last_updated": "2025-03-01T09:00:00Z"}},
            200,
            2001,
        ),
        (
            "POST",
            f"{payments}/terminals",
            {"json": {"location_ids": ["SIM-AMS-STATION"]}},
            200,
            2001,
        ),
        ("POST", f"{payments}/financial-advice-confirmations", {"json": {"id": 7}}, 200, 2001),
        # Too big: HTTP 413, still an OCPI envelope.
        ("POST", f"{commands}/START_SESSION", {"data": '{"x": "' + "y" * 5000 + '"}'}, 413, 2000),
    ]
    for method, target, body, http_status, code in cases:
        status, answer = await send(ptp, method, target, **body)
        assert status == http_status, (method, target, answer)
        envelope(answer, code)
    await clock_of(sim).advance(60)
    # Nothing was stored, and no charger answered anything.
    assert sim.backend.commands.rows() == [] and ptp.results == {}
    assert sim.backend.tokens.rows() == [] and sim.backend.terminals.rows() == []
    assert sim.backend.facs.rows() == []


async def test_unknown_objects_and_routes(sim: CpoSimNode, ptp: PtpDouble) -> None:
    locations, payments = ptp.endpoints["locations"], ptp.endpoints["payments"]
    for target, code in (
        (f"{locations}/NOPE", 2003),
        (f"{locations}/SIM-AMS-STATION/NOPE", 2000),
        (f"{locations}/SIM-AMS-STATION/SIM-AMS-1/9", 2000),
        (f"{ptp.endpoints['tariffs']}/NOPE", 2000),
        (f"{ptp.endpoints['tokens']}/NL/PAY/NOPE", 2004),
        (f"{payments}/terminals/NOPE", 2000),
        (f"{payments}/financial-advice-confirmations/NOPE", 2000),
        (f"{locations}/a/b/c/d", 2000),
    ):
        status, body = await send(ptp, "GET", target)
        assert status == 404, target
        envelope(body, code)
    # Locations are never deleted (mod_locations); a Sender has no POST.
    status, body = await send(ptp, "DELETE", f"{locations}/SIM-AMS-STATION")
    assert status == 405
    envelope(body, 2000)
    # A client-owned URL outside the caller's CredentialsRoles.
    token = {**ptp.token("T9"), "country_code": "DE", "party_id": "OTH"}
    status, body = await send(ptp, "PUT", f"{ptp.endpoints['tokens']}/DE/OTH/T9", json=token)
    assert status == 404
    envelope(body, 2000)
    assert sim.backend.tokens.rows() == []


@pytest.mark.parametrize(
    "query",
    ["offset=-1", "limit=-5", "limit=abc", "date_from=yesterday", "date_to=2025-13-01T00:00:00Z"],
)
async def test_bad_paging_parameters(sim: CpoSimNode, ptp: PtpDouble, query: str) -> None:
    status, body = await send(ptp, "GET", f"{ptp.endpoints['locations']}?{query}")
    assert status == 200
    envelope(body, 2001)


async def test_sessions_list_needs_date_from(sim: CpoSimNode, ptp: PtpDouble) -> None:
    status, body = await send(ptp, "GET", ptp.endpoints["sessions"])
    assert status == 200
    envelope(body, 2001)
    assert "date_from" in body["status_message"]
