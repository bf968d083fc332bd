"""``payter-emulator admin``: the control API from the command line, against a real emulator.

The command is synchronous (urllib): it runs in a thread so that the emulator, on this test's
event loop, can answer it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from emulator.cli import main
from emulator.control.client import AdminClient, AdminError, default_url, url_from_ready_file


async def _admin(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, main, ["admin", *args])


async def test_terminals_press_tap_clock_and_report(start_emulator: Any) -> None:
    node = await start_emulator()
    url = node.rt.base_url
    result = await _admin("--url", url, "terminals")
    assert result.exit_code == 0, result.output
    # A fresh emulator: its terminal says why it cannot take a card.
    assert result.output.startswith("APO-0001  ocpi  online  IDLE  journey.out")
    assert "(out of service: no CPO registered)" in result.output
    # A key the screen does not take fails loudly, with the reason.
    result = await _admin("--url", url, "press", "start")
    assert result.exit_code == 1
    assert "'start' cannot be pressed on screen 'journey.out'" in result.output
    result = await _admin("--url", url, "tap", "visa-approved")
    assert result.exit_code == 0 and result.output.startswith("ignored: the terminal is not")
    result = await _admin("--url", url, "clock", "advance", "60")
    assert result.exit_code == 0 and result.output.startswith("2025-03-01T09:01:00Z")
    result = await _admin("--url", url, "clock")
    assert result.output == "2025-03-01T09:01:00Z (manual)\n"
    result = await _admin("--url", url, "--json", "journeys")
    assert result.exit_code == 0 and json.loads(result.output) == []
    # The report in words, and --check for CI: nothing ran, so no PASS (exit 3).
    result = await _admin("--url", url, "report")
    assert result.exit_code == 0 and result.output.startswith("Verdict: ")
    result = await _admin("--url", url, "report", "--check")
    assert result.exit_code == 3
    result = await _admin("--url", url, "--json", "report")
    assert json.loads(result.output)["verdict"] in ("FAIL", "INCOMPLETE")


async def test_the_url_comes_from_the_ready_file(start_emulator: Any, tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    node = await start_emulator(ready_file=ready)
    assert url_from_ready_file(ready) == node.rt.base_url
    result = await _admin("--ready-file", str(ready), "--json", "terminals", "APO-0001")
    assert result.exit_code == 0 and json.loads(result.output)["serial_number"] == "APO-0001"
    # The demo's ready file names the emulator inside.
    demo = tmp_path / "demo.json"
    demo.write_text(json.dumps({"event": "ready", "emulator": {"url": "http://h:1"}}))
    assert default_url(demo) == "http://h:1"
    assert default_url(tmp_path / "missing.json") == "http://127.0.0.1:8080"


async def test_the_admin_token_and_an_unreachable_emulator(start_emulator: Any) -> None:
    node = await start_emulator(admin_token="s3cret")
    result = await _admin("--url", node.rt.base_url, "clock")
    assert result.exit_code == 1 and "Authorization: Bearer" in result.output
    result = await _admin("--url", node.rt.base_url, "--admin-token", "s3cret", "clock")
    assert result.exit_code == 0
    result = await _admin("--url", "http://127.0.0.1:9", "terminals")
    assert result.exit_code == 1 and "cannot reach the emulator at http://127.0.0.1:9" in (
        result.output
    )


def test_the_client_reports_the_control_api_error() -> None:
    with pytest.raises(AdminError) as caught:
        AdminClient("127.0.0.1:9", timeout=2).clock()
    assert (caught.value.status, caught.value.code) == (0, "unreachable")


async def test_a_journey_driven_with_the_admin_words(tmp_path: Path) -> None:
    """The demo's servers on a manual clock, driven only with `payter-emulator admin`."""
    pytest.importorskip("emulator.cpo_sim.node")
    from emulator.demo import Demo, DemoOptions

    ready = tmp_path / "demo.json"
    demo = Demo(DemoOptions(clock="manual", clock_start="2025-03-01T09:00:00Z", ready_file=ready))
    await demo.start()
    try:
        for key in ("start", "evse1", "accept"):
            result = await _admin("--ready-file", str(ready), "press", key)
            assert result.exit_code == 0, result.output
        assert result.output.startswith("payter.present_card")
        result = await _admin("--ready-file", str(ready), "tap", "visa-approved")
        assert result.exit_code == 0 and result.output.startswith("read visa-approved")
        # The CommandResult, the simulated driver's car, the Session: ten seconds on.
        result = await _admin("--ready-file", str(ready), "clock", "advance", "10")
        assert result.exit_code == 0, result.output
        result = await _admin("--ready-file", str(ready), "journeys", "--state", "CHARGING")
        assert result.exit_code == 0, result.output
        assert "SIM-AMS-1  CHARGING  money AUTHORIZED" in result.output
    finally:
        await demo.stop()
