"""Shared fixtures. Each removes one source of nondeterminism or starts one server."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cpo_double import CpoDouble

from emulator import logs
from emulator.app import EmulatorNode, build_emulator

logs.configure("console", "warning")
from helpers import make_settings  # noqa: E402


@pytest.fixture(autouse=True)
def _no_emulator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's EMULATOR_* variables must not change what the tests see."""
    import os

    for key in list(os.environ):
        if key.startswith("EMULATOR_"):
            monkeypatch.delenv(key)


@pytest.fixture
async def start_emulator() -> AsyncIterator[Callable[..., Any]]:
    """Start emulators on loopback (real sockets) and stop them after the test."""
    started: list[EmulatorNode] = []

    async def start(**overrides: Any) -> EmulatorNode:
        node = build_emulator(make_settings(**overrides))
        await node.start()
        started.append(node)
        return node

    yield start
    for node in started:
        await node.stop()


@pytest.fixture
async def emulator(start_emulator: Callable[..., Any]) -> EmulatorNode:
    return await start_emulator()


@pytest.fixture
async def cpo() -> AsyncIterator[CpoDouble]:
    double = await CpoDouble().start()
    yield double
    await double.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
