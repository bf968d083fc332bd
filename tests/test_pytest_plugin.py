"""The pytest plugin the package ships (entry point pytest11)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from emulator.pytest_plugin import RunningEmulator, _wait_ready, token_a_from


def test_process_fixture_serves_and_controls(payter_emulator_process) -> None:
    emu = payter_emulator_process
    token = base64.b64encode(emu.token_a.encode()).decode()
    request = urllib.request.Request(emu.versions_url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        versions = json.load(response)["data"]
    assert [v["version"] for v in versions] == ["2.3.0", "2.2.1", "2.1.1"]
    before = emu.admin("GET", "clock")["now"]
    after = emu.advance(3600)["now"]
    assert before != after and after.endswith("Z")
    # Nothing ran through the flows Payter needs yet: neither PASS nor FAIL.
    assert emu.report()["verdict"] == "INCOMPLETE"
    row = emu.wait_for_exchange(within=5, module="versions", method="GET")
    assert row["url"] == "/ocpi/versions"
    with pytest.raises(AssertionError, match="nearest misses"):
        emu.wait_for_exchange(within=0.05, module="versions", method="DELETE")


class TestChattyLogAndOwnToken:
    """With the most verbose log the subprocess keeps answering (its log goes to a file, not
    to a pipe nobody reads), and the token A comes from the fixture's own arguments."""

    @pytest.fixture
    def payter_emulator_args(self) -> list[str]:
        return ["--log-level", "debug", "--log-format", "json", "--token-a", "team-token-a"]

    def test_many_calls(self, payter_emulator_process: RunningEmulator) -> None:
        emu = payter_emulator_process
        assert emu.token_a == "team-token-a"
        token = base64.b64encode(b"team-token-a").decode()
        request = urllib.request.Request(
            emu.versions_url, headers={"Authorization": f"Token {token}"}
        )
        for _ in range(400):  # each one logs a line; a full pipe froze the server by ~320
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        assert emu.log().count('"ocpi request"') >= 400


def test_token_a_from_arguments() -> None:
    assert token_a_from([]) == "payter-emulator-token-a"
    assert token_a_from(["--token-a", "a", "--seed", "2"]) == "a"
    assert token_a_from(["--token-a=b", "--token-a", "c"]) == "c"


def test_start_up_times_out_with_the_log(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("still importing ...\n")
    never = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        running = RunningEmulator(info={}, token_a="t", process=never, log_path=log)
        with pytest.raises(RuntimeError, match=r"not ready within 0.1 s:\nstill importing"):
            _wait_ready(never, tmp_path / "ready.json", 0.1, running)
    finally:
        never.kill()
        never.wait()


def test_start_up_failure_says_why(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("cannot start: address in use\n")
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    dead.wait()
    running = RunningEmulator(info={}, token_a="t", process=dead, log_path=log)
    with pytest.raises(RuntimeError, match="exited with 1 before it was ready"):
        _wait_ready(dead, tmp_path / "ready.json", 10, running)


async def test_in_process_fixture_runs_on_the_test_loop(payter_emulator) -> None:
    import asyncio

    emu = payter_emulator
    assert emu.node.rt.background is emu.clock.background
    before = emu.clock.now()
    assert await emu.advance(3600) >= 0
    assert (emu.clock.now() - before).total_seconds() == 3600
    status, clock = await emu.admin("GET", "clock")
    assert status == 200 and clock["mode"] == "manual"
    assert emu.versions_url == f"{emu.url}/ocpi/versions"
    # The node's HTTP session lives on this very loop.
    assert emu.node.rt.http._loop is asyncio.get_running_loop()
    assert emu.report()["verdict"] == "INCOMPLETE" and emu.findings() == []
