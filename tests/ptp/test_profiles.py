"""The two profiles: 'ptp' (OCPI 2.3.0 with Payments) and 'emsp' (2.2.1 platforms, no
Payments). Version details list exactly what is hosted for the profile and the version."""

from __future__ import annotations

import pytest
from helpers import ocpi

TOKEN_A = "payter-emulator-token-a"

RECEIVERS = {"locations", "tariffs", "sessions", "cdrs"}
SENDERS = {"commands", "tokens"}


async def details(http, node, version: str) -> dict[str, str | None]:
    status, _, env = await ocpi(
        http, "GET", node.server.version_url(version), TOKEN_A, raw=version == "2.1.1"
    )
    assert status == 200 and env["data"]["version"] == version, env
    return {e["identifier"]: e.get("role") for e in env["data"]["endpoints"]}


async def offered(http, node) -> list[str]:
    _, _, env = await ocpi(http, "GET", node.server.versions_url, TOKEN_A)
    return [v["version"] for v in env["data"]]


def expected(payments: bool, roles: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {"credentials": "SENDER" if roles else None}
    out.update({m: "RECEIVER" if roles else None for m in RECEIVERS})
    out.update({m: "SENDER" if roles else None for m in SENDERS})
    if payments:
        out["payments"] = "SENDER"
    return out


async def test_ptp_profile_hosts_payments_on_2_3_0_and_2_2_1(start_emulator, http) -> None:
    node = await start_emulator(profile="ptp")
    assert await offered(http, node) == ["2.3.0", "2.2.1", "2.1.1"]
    assert await details(http, node, "2.3.0") == expected(payments=True, roles=True)
    # Payter's "Direct Payment 2.2.1": the same module on 2.2.1.
    assert await details(http, node, "2.2.1") == expected(payments=True, roles=True)
    assert await details(http, node, "2.1.1") == expected(payments=False, roles=False)
    _, _, creds = await ocpi(http, "GET", node.server.endpoint_url("2.3.0", "credentials"), TOKEN_A)
    # EMSP in every profile: a value of the version's Role enum (PTP is not one).
    assert creds["data"]["roles"][0]["role"] == "EMSP"
    # What is not listed is not served either.
    status, _, env = await ocpi(
        http, "GET", node.server.endpoint_url("2.1.1", "payments") + "/terminals", TOKEN_A, raw=True
    )
    assert status in (401, 404) and env["status_code"] == 2000


async def test_payments_versions_leaves_2_2_1_without_payments(start_emulator, http) -> None:
    node = await start_emulator(profile="ptp", payments_versions="2.3.0")
    assert await details(http, node, "2.3.0") == expected(payments=True, roles=True)
    assert await details(http, node, "2.2.1") == expected(payments=False, roles=True)
    status, _, env = await ocpi(
        http, "GET", node.server.endpoint_url("2.2.1", "payments") + "/terminals", TOKEN_A
    )
    assert status in (401, 404) and env["status_code"] == 2000


async def test_emsp_profile_is_2_2_1_without_payments(start_emulator, http) -> None:
    node = await start_emulator(profile="emsp")
    assert await offered(http, node) == ["2.2.1", "2.1.1"]
    assert await details(http, node, "2.2.1") == expected(payments=False, roles=True)
    assert await details(http, node, "2.1.1") == expected(payments=False, roles=False)
    status, _, env = await ocpi(http, "GET", node.server.version_url("2.3.0"), TOKEN_A)
    assert status == 404 and env["status_code"] == 3002  # unsupported version
    _, _, creds = await ocpi(http, "GET", node.server.endpoint_url("2.2.1", "credentials"), TOKEN_A)
    # 2.2.1's Role enum has no PTP: the eMSP-like peer says EMSP.
    assert creds["data"]["roles"][0]["role"] == "EMSP"


@pytest.mark.parametrize("role", ["OTHER", "PTP"])
async def test_emsp_profile_with_2_3_0_still_hosts_no_payments(start_emulator, http, role) -> None:
    node = await start_emulator(profile="emsp", versions="2.3.0,2.2.1", role=role)
    assert await offered(http, node) == ["2.3.0", "2.2.1"]
    assert await details(http, node, "2.3.0") == expected(payments=False, roles=True)
    _, _, creds = await ocpi(http, "GET", node.server.endpoint_url("2.3.0", "credentials"), TOKEN_A)
    assert creds["data"]["roles"][0]["role"] == role
