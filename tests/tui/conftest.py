"""Fixtures of the TUI tests: the fake control API, a wait helper, SVG snapshots."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot

sys.path.insert(0, str(Path(__file__).parent))

from fake_api import FakeControlApi

SNAPSHOTS = Path(__file__).parent / "snapshots"
ROOT = Path(__file__).resolve().parents[2]


def skip_unless_built(module: str, reason: str) -> None:
    """Skip unless ``module`` is part of this checkout.

    ``importorskip`` is not enough: with the package installed in editable mode from another
    checkout, a submodule missing here is found there, and the test would mix two versions.
    """
    spec = importlib.util.find_spec(module)
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    if origin is None or ROOT not in origin.parents:
        pytest.skip(reason, allow_module_level=True)


@pytest.fixture(autouse=True)
def _no_color_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual reads ``NO_COLOR`` when an app is built: a developer who sets it would get
    monochrome screenshots and every snapshot would differ."""
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeControlApi]:
    """A fake emulator control API on loopback, seeded with fixtures."""
    api = await FakeControlApi().start()
    yield api
    await api.stop()


@pytest.fixture
async def demo() -> AsyncIterator[Any]:
    """The demo's two servers (emulator + simulated CPO) on one manual clock, registered over
    OCPI 2.3.0, with terminal PAY-DEMO-0001 assigned to the simulated CPO's EVSEs."""
    skip_unless_built("emulator.cpo_sim.node", "the simulated CPO is not in this build")
    from emulator.demo import Demo, DemoOptions

    running = Demo(DemoOptions(clock="manual", clock_start="2025-03-01T09:00:00Z"))
    await running.start()
    yield running
    await running.stop()


async def wait_for(
    pilot: Pilot[object], condition: Callable[[], bool], *, timeout: float = 15.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` holds (HTTP round trips take a few loop turns).

    The deadline is generous because a loaded CI machine is slow; a passing test never waits
    for it.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


def snapshot_mismatch(app: App[object], name: str) -> list[str]:
    """Compare the app's SVG screenshot with ``snapshots/<name>.svg``: ``[]`` if they are the
    same, else what is wrong.

    ``UPDATE_SNAPSHOTS=1`` writes the file instead. On a mismatch the new screenshot is
    written next to it as ``<name>.new.svg`` (ignored by git) to look at.
    """
    svg = app.export_screenshot(title=name)
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        return []
    if not path.exists():
        return [f"no snapshot {path.name}; run with UPDATE_SNAPSHOTS=1 to create it"]
    expected = path.read_text(encoding="utf-8")
    if svg != expected:
        new = path.with_name(f"{name}.new.svg")
        new.write_text(svg, encoding="utf-8")
        return [f"screenshot differs from {path.name}; see {new.name}"]
    return []
