"""Fixtures of the simulated CPO's tests: the node on loopback with a manual clock, and a PTP
double registered with it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import SIM_TOKEN_A, sim_settings
from ptp_double import PtpDouble

from emulator.cpo_sim.node import CpoSimNode, build_cpo_sim


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

    async def make(
        node: CpoSimNode, version: str = "2.3.0", *, with_token_a: str | None = None, **kw: Any
    ) -> PtpDouble:
        """A PTP double registered with ``node`` (with the fixed token A unless given)."""
        double = await PtpDouble(**kw).start()
        started.append(double)
        await double.register_with(node.server.versions_url, with_token_a or SIM_TOKEN_A, version)
        return double

    yield make
    for double in started:
        await double.stop()


@pytest.fixture
async def ptp(sim: CpoSimNode, ptp_factory: Callable[..., Any]) -> PtpDouble:
    """A PTP double registered with the simulated CPO over OCPI 2.3.0."""
    return await ptp_factory(sim)
