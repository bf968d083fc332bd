"""Fixtures of the TUI tests: the fake control API, a wait helper, SVG snapshots."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot

sys.path.insert(0, str(Path(__file__).parent))

from fake_api import FakeControlApi

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeControlApi]:
    """A fake emulator control API on loopback, seeded with fixtures."""
    api = await FakeControlApi().start()
    yield api
    await api.stop()


async def wait_for(
    pilot: Pilot[object], condition: Callable[[], bool], *, tries: int = 200, what: str = ""
) -> None:
    """Let the app run until ``condition()`` holds (HTTP round trips take a few loop turns)."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")


def assert_snapshot(app: App[object], name: str) -> None:
    """Compare the app's SVG screenshot with ``snapshots/<name>.svg``.

    ``UPDATE_SNAPSHOTS=1`` writes the file instead. On a mismatch the new screenshot is
    written next to it as ``<name>.new.svg`` (ignored by git) to look at.
    """
    svg = app.export_screenshot(title=name)
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"no snapshot {path.name}; run with UPDATE_SNAPSHOTS=1 to create it")
    expected = path.read_text(encoding="utf-8")
    if svg != expected:
        new = path.with_name(f"{name}.new.svg")
        new.write_text(svg, encoding="utf-8")
        raise AssertionError(f"screenshot differs from {path.name}; see {new.name}")
