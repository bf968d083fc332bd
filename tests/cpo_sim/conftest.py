"""Fixtures of the simulated CPO's tests: the node on loopback with a manual clock, and a PTP
double registered with it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ptp_double import PtpDouble

from emulator.clock import ManualClock
from emulator.cpo_sim.node import CpoSimNode, build_cpo_sim
from emulator.cpo_sim.settings import CpoSimSettings

SIM_TOKEN_A = "cpo-sim-token-a"


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


def clock_of(node: CpoSimNode) -> ManualClock:
    clock = node.rt.clock
    assert isinstance(clock, ManualClock)
    return clock


@pytest.fixture
async def start_sim() -> AsyncIterator[Callable[..., Any]]:
    started: list[CpoSimNode] = []

    async def start(**overrides: Any) -> CpoSimNode:
        node = build_cpo_sim(sim_settings(**overrides))
        await node.start()
        started.append(node)
        return node

    yield start
    for node in started:
        await node.stop()


@pytest.fixture
async def sim(start_sim: Callable[..., Any]) -> CpoSimNode:
    return await start_sim()


@pytest.fixture
async def ptp_factory() -> AsyncIterator[Callable[..., Any]]:
    started: list[PtpDouble] = []

    async def make(node: CpoSimNode, version: str = "2.3.0", **kw: Any) -> PtpDouble:
        double = await PtpDouble(**kw).start()
        started.append(double)
        await double.register_with(node.server.versions_url, SIM_TOKEN_A, version)
        return double

    yield make
    for double in started:
        await double.stop()


@pytest.fixture
async def ptp(sim: CpoSimNode, ptp_factory: Callable[..., Any]) -> PtpDouble:
    """A PTP double registered with the simulated CPO over OCPI 2.3.0."""
    return await ptp_factory(sim)
