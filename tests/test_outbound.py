"""The outbound policy: what the emulator refuses to call, whoever chose the URL (a peer's
credentials url, a CPS webhook or callbackUrl), and answers that never tell whether a port is
open."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from helpers import ocpi

from emulator.app import EmulatorNode
from emulator.outbound import OutboundPolicy, OutboundRefused, PolicyResolver, Rules
from emulator.settings import EmulatorSettings

TOKEN_A = "payter-emulator-token-a"
CPS = {"Authorization": 'CPS apikey="payter-emulator-cps-key"'}

# Every kind of target refused by default, and why.
REFUSED = [
    ("169.254.169.254", "link-local"),  # AWS, GCP, Azure, DigitalOcean metadata
    ("169.254.10.20", "link-local"),
    ("[fe80::1]", "link-local"),
    ("[::ffff:169.254.169.254]", "link-local"),  # the same, IPv4-mapped
    ("[fd00:ec2::254]", "metadata"),  # AWS IPv6 metadata
    ("100.100.100.200", "metadata"),  # Alibaba Cloud metadata
    ("metadata.google.internal", "metadata host"),
    ("Metadata.Google.Internal.", "metadata host"),
    ("0.0.0.0", "not an address to call"),
    ("224.0.0.1", "not an address to call"),
    ("8.8.8.8", "public address"),
    ("[2001:4860:4860::8888]", "public address"),
]
ALLOWED = ["127.0.0.1", "[::1]", "10.1.2.3", "172.20.0.5", "192.168.1.10", "100.64.0.1"]


def refusal(policy: OutboundPolicy, url: str) -> str | None:
    try:
        policy.check_url(url)
    except OutboundRefused as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("host", "why"), REFUSED)
def test_refused_by_default(host: str, why: str) -> None:
    message = refusal(OutboundPolicy(), f"http://{host}:8080/ocpi/versions")
    assert message is not None and why in message


@pytest.mark.parametrize("host", ALLOWED)
def test_loopback_and_private_networks_are_allowed_by_default(host: str) -> None:
    assert refusal(OutboundPolicy(), f"http://{host}:8080/ocpi/versions") is None


def test_allow_and_deny_lists() -> None:
    policy = OutboundPolicy.from_settings(
        allow="203.0.113.0/24, cpo.example.com, .staging.example.net, 169.254.0.0/16",
        deny="10.0.0.0/8, intranet.local",
    )
    assert refusal(policy, "https://203.0.113.7/ocpi") is None
    assert "public address" in str(refusal(policy, "https://198.51.100.7/ocpi"))
    assert "denied" in str(refusal(policy, "http://10.9.9.9/"))
    assert refusal(policy, "http://192.168.0.2/") is None  # still private, still allowed
    assert "denied" in str(refusal(policy, "http://INTRANET.local/"))
    # Link-local stays refused, even when listed.
    assert "link-local" in str(refusal(policy, "http://169.254.169.254/"))
    # Everything public: the whole address space.
    everything = OutboundPolicy.from_settings(allow="0.0.0.0/0,::/0", deny="")
    assert refusal(everything, "http://8.8.8.8/") is None


@pytest.mark.parametrize("entry", ["http://x/", "a b", "10.0.0.0/33", "host:80"])
def test_malformed_list_entries_are_refused_as_settings(entry: str) -> None:
    with pytest.raises(ValueError):
        Rules.parse(entry)
    with pytest.raises(ValueError):
        EmulatorSettings(allow_outbound=entry)


class FakeResolver:
    """What DNS answers for a name (a test never asks the real one)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.answers[host]
        ]

    async def close(self) -> None:
        return None


async def test_a_name_is_checked_on_every_address_it_resolves_to() -> None:
    resolver = PolicyResolver(
        OutboundPolicy.from_settings("cpo.example.com", ""),
        FakeResolver(  # type: ignore[arg-type]
            {
                "rebound.example": ["169.254.169.254"],
                "mixed.example": ["8.8.4.4", "10.0.0.7"],
                "public.example": ["93.184.216.34"],
                "cpo.example.com": ["93.184.216.34"],
            }
        ),
    )
    with pytest.raises(OutboundRefused, match="link-local"):
        await resolver.resolve("rebound.example", 80)
    assert [r["host"] for r in await resolver.resolve("mixed.example", 80)] == ["10.0.0.7"]
    with pytest.raises(OutboundRefused, match="public address"):
        await resolver.resolve("public.example", 80)
    # Allowed by name: whatever it resolves to (but never link-local).
    assert [r["host"] for r in await resolver.resolve("cpo.example.com", 80)] == ["93.184.216.34"]
    with pytest.raises(OutboundRefused, match="metadata host"):
        await resolver.resolve("metadata.google.internal", 80)


# --- through the emulator --------------------------------------------------------------------


async def credentials_post(
    http: aiohttp.ClientSession, node: EmulatorNode, url: str
) -> dict[str, Any]:
    creds = {
        "token": "peer-token-b",
        "url": url,
        "roles": [
            {
                "role": "CPO",
                "party_id": "CPO",
                "country_code": "NL",
                "business_details": {"name": "CPO"},
            }
        ],
    }
    _, _, env = await ocpi(
        http, "POST", f"{node.rt.base_url}/ocpi/2.3.0/credentials", TOKEN_A, json=creds
    )
    return env


@pytest.mark.parametrize(("host", "why"), REFUSED)
async def test_a_peer_cannot_aim_the_registration_at_a_refused_target(
    emulator: EmulatorNode, http: aiohttp.ClientSession, host: str, why: str
) -> None:
    env = await credentials_post(http, emulator, f"http://{host}/latest/meta-data/")
    assert env["status_code"] == 3001
    assert (
        "refused by the outbound policy" in env["status_message"] and why in env["status_message"]
    )
    assert emulator.platforms.all() == []
    # The fixed token A still works: the refused attempt did not spend it.
    assert emulator.platforms.token_a(TOKEN_A) is not None
    [attempt] = emulator.rt.journal.list(direction="out")
    assert attempt["status"] is None and "outbound policy" in attempt["error"]


@pytest.mark.parametrize(("host", "why"), REFUSED)
async def test_a_registered_peer_cannot_move_its_url_to_a_refused_target(
    emulator: EmulatorNode, cpo: Any, http: aiohttp.ClientSession, host: str, why: str
) -> None:
    """A credentials PUT (the peer updates its url): refused before any call; the
    registration it had, and its token, stay as they were."""
    answer = await cpo.register_with(emulator.server.versions_url, TOKEN_A)
    token = answer["data"]["token"]
    [before] = emulator.platforms.all()
    creds = {
        "token": "peer-token-moved",
        "url": f"http://{host}/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "CPO",
                "country_code": "NL",
                "business_details": {"name": "CPO"},
            }
        ],
    }
    url = f"{emulator.rt.base_url}/ocpi/2.3.0/credentials"
    _, _, env = await ocpi(http, "PUT", url, token, json=creds)
    assert env["status_code"] == 3001, env
    assert (
        "refused by the outbound policy" in env["status_message"] and why in env["status_message"]
    )
    [after] = emulator.platforms.all()
    assert (after.versions_url, after.status) == (before.versions_url, "REGISTERED")
    _, _, env = await ocpi(http, "GET", url, token)
    assert env["status_code"] == 1000, env
    outs = [e for e in emulator.rt.journal.list(direction="out") if host.strip("[]") in e["url"]]
    assert [e["status"] for e in outs] == [None] and "outbound policy" in outs[0]["error"]


@pytest.mark.parametrize(("host", "why"), REFUSED)
async def test_the_operator_cannot_register_at_a_refused_target(
    emulator: EmulatorNode, http: aiohttp.ClientSession, host: str, why: str
) -> None:
    async with http.post(
        f"{emulator.rt.base_url}/__admin/platforms/register",
        json={"versions_url": f"http://{host}/ocpi/versions", "token": "cpo-token-a"},
    ) as resp:
        body = await resp.json()
        assert resp.status == 502, body
    assert why in body["error"]["message"], body
    assert emulator.platforms.all() == []
    [attempt] = emulator.rt.journal.list(direction="out")
    assert attempt["status"] is None and "outbound policy" in attempt["error"]


async def test_a_closed_port_and_a_listening_one_look_the_same_to_the_peer(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    """The answer to a credentials POST does not tell a closed port from a listening server
    that is not OCPI (a port scan through the emulator learns nothing)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]

    async def not_ocpi(request: web.Request) -> web.Response:
        return web.Response(status=404, text="nginx")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", not_ocpi)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    listening = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        answers = []
        for port in (closed, listening):
            url = f"http://127.0.0.1:{port}/x"
            env = await credentials_post(http, emulator, url)
            assert env["status_code"] == 3001
            message = env["status_message"].replace(url, "URL")
            answers.append(message.rsplit("/__admin/journal/", 1)[0])
        assert answers[0] == answers[1]
        assert "no OCPI answer" in answers[0]
        # The operator's journal keeps what happened.
        outs = emulator.rt.journal.list(direction="out")
        assert [e["status"] for e in outs] == [None, 404]
        assert "connect" in outs[0]["error"]
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("host", "why"), REFUSED)
async def test_cps_refuses_a_webhook_aimed_at_a_refused_target(
    emulator: EmulatorNode, http: aiohttp.ClientSession, host: str, why: str
) -> None:
    async with http.post(
        f"{emulator.cps.base_url}webhook", json={"url": f"http://{host}/hook"}, headers=CPS
    ) as resp:
        body = await resp.json()
        assert resp.status == 400
    assert body["error"]["code"] == "invalid_parameter" and why in body["error"]["message"]
    async with http.post(
        f"{emulator.cps.base_url}webhook", params={"url": f"http://{host}/hook"}, headers=CPS
    ) as resp:
        assert resp.status == 400


async def test_cps_refuses_a_callback_url_aimed_at_a_refused_target(
    emulator: EmulatorNode, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{emulator.rt.base_url}/__admin/terminals", json={"serial_number": "C1", "mode": "cps"}
    ) as resp:
        assert resp.status == 201
    for path in ("start", "ui"):
        async with http.post(
            f"{emulator.cps.base_url}terminals/C1/{path}",
            params={"callbackUrl": "http://169.254.169.254/"},
            json={"id": "s", "type": "info", "properties": {"title": "x"}},
            headers=CPS,
        ) as resp:
            body = await resp.json()
            assert resp.status == 400, body
        assert body["error"]["parameter"] == "callbackUrl"


async def test_a_webhook_name_that_resolves_to_a_refused_address_is_not_called(
    start_emulator: Any, http: aiohttp.ClientSession
) -> None:
    """A name is checked again on the addresses it resolves to when a delivery connects:
    'localhost' passes when the webhook is set, its loopback addresses are denied."""
    node = await start_emulator(deny_outbound="127.0.0.0/8,::1")
    async with http.post(
        f"{node.cps.base_url}webhook", json={"url": "http://localhost:9/hook"}, headers=CPS
    ) as resp:
        assert resp.status == 200
    async with http.post(
        f"{node.rt.base_url}/__admin/terminals", json={"serial_number": "C1", "mode": "cps"}
    ) as resp:
        assert resp.status == 201
    await node.rt.background.drain()
    [delivery] = node.cps.deliveries.list()
    assert delivery["last_status"] is None
    assert "refused by the outbound policy: localhost" in delivery["last_error"]


def test_listening_beyond_loopback_with_default_secrets_warns(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--db",
            ":memory:",
            "--log-level",
            "error",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        json.loads(proc.stdout.readline())
        warning = proc.stderr.readline()
        assert "warning: listening on 0.0.0.0" in warning
        assert "--token-a" in warning and "--cps-api-key" in warning
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    quiet = EmulatorSettings(host="0.0.0.0", token_a="mine", cps_api_key="k", cps_apikey_token="t")
    assert quiet.exposure_warning() is None
    assert EmulatorSettings(host="127.0.0.1").exposure_warning() is None
