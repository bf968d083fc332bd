"""Small helpers for tests that talk to a running node over HTTP."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp

from emulator.clock import ManualClock
from emulator.cpo_sim.settings import CpoSimSettings
from emulator.node import Node
from emulator.settings import EmulatorSettings


def token_header(token: str, *, raw: bool = False, ids: bool = True) -> dict[str, str]:
    value = token if raw else base64.b64encode(token.encode()).decode()
    headers = {"Authorization": f"Token {value}"}
    if ids:
        headers["X-Request-ID"] = "req-1"
        headers["X-Correlation-ID"] = "corr-1"
    return headers


async def ocpi(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str | None = None,
    *,
    raw: bool = False,
    json: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], Any]:
    h = token_header(token, raw=raw) if token is not None else {}
    h.update(headers or {})
    async with http.request(method, url, headers=h, json=json, data=data) as resp:
        body = await resp.json(content_type=None)
        return resp.status, dict(resp.headers), body


async def admin(
    http: aiohttp.ClientSession, node: Node, method: str, path: str, json: Any = None, **kw: Any
) -> tuple[int, Any]:
    async with http.request(
        method, f"{node.rt.base_url}/__admin/{path.lstrip('/')}", json=json, **kw
    ) as resp:
        body = await resp.json(content_type=None)
        return resp.status, body


def findings(node: Node, rule: str | None = None) -> list[dict[str, Any]]:
    return node.rt.findings.list(rule=rule)


def make_settings(**overrides: Any) -> EmulatorSettings:
    """Settings for tests: in-memory database, manual clock, fixed seed, ephemeral port."""
    base: dict[str, Any] = {
        "db": ":memory:",
        "port": 0,
        "clock": "manual",
        "clock_start": "2025-03-01T09:00:00Z",
        "seed": 7,
        "log_level": "warning",
    }
    base.update(overrides)
    return EmulatorSettings(**base)


def sim_settings(**overrides: Any) -> CpoSimSettings:
    """In-memory database, manual clock, fixed seed, ephemeral port; no simulated driver
    unless a test asks for one."""
    base: dict[str, Any] = {
        "db": ":memory:",
        "port": 0,
        "clock": "manual",
        "clock_start": "2025-03-01T09:00:00Z",
        "seed": 11,
        "log_level": "warning",
        "auto_plug_in_delay": -1,
    }
    base.update(overrides)
    return CpoSimSettings(**base)


SIM_TOKEN_A = "cpo-sim-token-a"


def clock_of(node: Node) -> ManualClock:
    """The node's manual clock (tests run on it)."""
    clock = node.rt.clock
    assert isinstance(clock, ManualClock)
    return clock
