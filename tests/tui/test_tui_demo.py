"""``payter-emulator demo``: the emulator and the simulated CPO in one process, registered over
OCPI 2.3.0, a terminal assigned to the simulated CPO's EVSEs, and the TUI on top.

These need the simulated CPO (``emulator/cpo_sim``); they are skipped in a build without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import skip_unless_built, wait_for

from emulator.cli import main
from emulator.datetimes import parse_datetime
from emulator.demo import Demo, DemoOptions
from tui.app import make_app
from tui.client import ControlApiError, ControlClient
from tui.screens.exchange_screen import ExchangeScreen
from tui.widgets.terminal_frame import TerminalFrame

ROOT = Path(__file__).resolve().parents[2]

skip_unless_built("emulator.cpo_sim.node", "the simulated CPO is not in this build")


async def test_ready_object_and_assignment(demo: Demo) -> None:
    ready = demo.ready
    assert ready["event"] == "ready"
    assert ready["emulator"]["event"] == "listening" and ready["cpo_sim"]["event"] == "listening"
    assert ready["terminals"] == ["PAY-DEMO-0001"]
    assert ready["ocpi_version"] == "2.3.0"
    assert ready["evses"]["PAY-DEMO-0001"], "the simulated CPO assigned no EVSE"
    # One clock: advancing the emulator's moves the simulated CPO's.
    assert demo.emulator.rt.clock is demo.cpo_sim.rt.clock


async def test_the_paced_clock_says_so_and_can_be_advanced() -> None:
    """The demo's default clock follows the wall clock; the control API (and so the TUI's top
    bar) names it "paced", and +1 h still jumps it forwards."""
    demo = Demo(DemoOptions(clock="paced", clock_start="2025-03-01T09:00:00Z"))
    ready = await demo.start()
    try:
        async with ControlClient(ready["emulator"]["url"]) as client:
            assert (await client.clock())["mode"] == "paced"
            advanced = await client.advance(3600)
        # As times, not as text ('…10:00:00.250Z' sorts before '…10:00:00Z').
        later = parse_datetime(advanced["now"]) >= parse_datetime("2025-03-01T10:00:00Z")
        assert advanced["mode"] == "paced" and later
    finally:
        await demo.stop()


async def test_admin_tokens_from_the_environment_are_used_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With EMULATOR_ADMIN_TOKEN / EMULATOR_CPO_SIM_ADMIN_TOKEN exported (as for a TUI against
    Docker), the demo's own setup calls and its TUI send them; the ready object has neither."""
    monkeypatch.setenv("EMULATOR_ADMIN_TOKEN", "tok-emulator")
    monkeypatch.setenv("EMULATOR_CPO_SIM_ADMIN_TOKEN", "tok-cpo-sim")
    demo = Demo(DemoOptions(clock="manual", clock_start="2025-03-01T09:00:00Z"))
    ready = await demo.start()
    try:
        assert "tok-" not in json.dumps(ready)
        assert (demo.admin_token, demo.cpo_sim_admin_token) == ("tok-emulator", "tok-cpo-sim")
        async with ControlClient(ready["emulator"]["url"]) as anonymous:
            with pytest.raises(ControlApiError) as refused:
                await anonymous.terminals()
        assert refused.value.status == 401
    finally:
        await demo.stop()


def test_bad_options_are_a_usage_error() -> None:
    for args, flag in (
        (["--preset", "bogus"], "--preset"),
        (["--clock-start", "yesterday"], "--clock-start"),
    ):
        result = CliRunner().invoke(main, ["demo", "--headless", *args])
        assert result.exit_code == 2 and flag in result.output


async def test_tui_shows_the_demo_terminal_and_its_chargers(demo: Demo) -> None:
    ready = demo.ready
    app = make_app(
        ready["emulator"]["url"],
        cpo_sim_url=ready["cpo_sim"]["url"],
        initial_serial="PAY-DEMO-0001",
        animate=False,
        poll_interval=0,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        frame = app.screen.query_one(TerminalFrame)
        await wait_for(pilot, lambda: "PAY-DEMO-0001" in frame.border_title, what="terminal")
        await pilot.press("c")
        table = app.screen.query_one("#chargers-table")
        evses = ready["evses"]["PAY-DEMO-0001"]
        await wait_for(pilot, lambda: table.row_count >= len(evses), what="chargers")
        await pilot.press("P")
        await wait_for(
            pilot, lambda: str(table.cells_at(0)["car"]).endswith("%"), what="car plugged in"
        )
        traffic = app.screen.query_one("#traffic-table")
        await wait_for(pilot, lambda: traffic.row_count > 0, what="OCPI traffic")
        # The registration's credentials exchange, opened from the traffic log: the tokens in
        # its header and bodies are cut short.
        await pilot.press("l")
        row = next(
            i
            for i in range(traffic.row_count)
            if str(traffic.cells_at(i)["path"]).endswith("credentials")
        )
        traffic.move_cursor(row=row)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen), what="detail")
        exchange = app.screen.exchange  # type: ignore[attr-defined]
        assert exchange["request_headers"]["Authorization"].endswith("…")
        token = json.loads(exchange["request_body"])["token"]
        assert token.endswith("…") and len(token) <= 8


def test_headless_demo_writes_the_ready_file(tmp_path: Path) -> None:
    ready_file = tmp_path / "ready.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "demo",
            "--headless",
            "--clock",
            "manual",
            "--ready-file",
            str(ready_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        deadline = time.monotonic() + 10
        while not ready_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = json.loads(ready_file.read_text())
        assert ready == line
        assert set(ready) >= {"emulator", "cpo_sim", "terminals"}
        url = ready["emulator"]["url"] + "/__admin/terminals/" + ready["terminals"][0]
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert json.load(resp)["screen"]["type"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
