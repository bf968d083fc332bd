"""The README's example test for a CPO team runs as pasted, against a simulated CPO."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- pytest-example:start -->", "<!-- pytest-example:end -->"

pytest_plugins = ["pytester"]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(START, 1)[1].split(END, 1)[0]
    return block.split("```python", 1)[1].split("```", 1)[0]


@pytest.fixture
def cpo_sim(tmp_path: Path) -> Iterator[dict[str, str]]:
    ready = tmp_path / "cpo.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    with (tmp_path / "cpo.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "cpo-sim", "--port", "0", "--db", ":memory:",
             "--log-level", "warning", "--terminal-assignment-delay", "0.05",
             "--ready-file", str(ready)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "cpo-sim did not start"
            time.sleep(0.02)  # a child process's start-up, not test time
        yield json.loads(ready.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_readme_example_passes(pytester: pytest.Pytester, cpo_sim, monkeypatch) -> None:
    monkeypatch.setenv("CPO_VERSIONS_URL", cpo_sim["ocpi_versions_url"])
    monkeypatch.setenv("CPO_TOKEN_A", "cpo-sim-token-a")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_payter_emulator=readme_example())
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
