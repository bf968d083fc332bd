"""pytest plugin (entry point ``pytest11``): run the emulator as a test double.

Fixtures:

* ``payter_emulator_process`` (any test, sync): a ``payter-emulator serve`` subprocess on a free
  loopback port with an in-memory database and the manual clock; yields a
  :class:`RunningEmulator` (URLs, token A, ``admin()`` and ``advance()`` helpers). Use it from
  any test framework style, including tests of a CPO backend written in another language.
* ``payter_emulator_args``: override to pass extra CLI flags to that subprocess.

Import-light on purpose: pytest loads this module in every session of a project that
installs the package, so nothing of the emulator is imported until a fixture is used.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class RunningEmulator:
    info: dict[str, Any]
    token_a: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def versions_url(self) -> str:
        return str(self.info["ocpi_versions_url"])

    @property
    def cps_base_url(self) -> str:
        return str(self.info["cps_base_url"])

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API; returns the decoded JSON (raises on HTTP errors)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/__admin/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def advance(self, seconds: float) -> Any:
        """Move the emulator's manual clock forward, firing what falls due."""
        return self.admin("POST", "clock/advance", {"seconds": seconds})

    def report(self) -> Any:
        return self.admin("GET", "report")


@pytest.fixture
def payter_emulator_args() -> list[str]:
    """Extra ``serve`` flags for :func:`payter_emulator_process` (override in conftest)."""
    return []


@pytest.fixture
def payter_emulator_process(payter_emulator_args: list[str]) -> Iterator[RunningEmulator]:
    with tempfile.TemporaryDirectory(prefix="payter-emulator-") as tmp:
        token_a = "payter-emulator-token-a"
        command = [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            "0",
            "--db",
            ":memory:",
            "--clock",
            "manual",
            "--seed",
            "1",
            "--log-level",
            "warning",
            *payter_emulator_args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp,
        )
        assert process.stdout is not None
        # The first stdout line is the JSON 'listening' object, printed once the port accepts
        # connections; end of file means the process died.
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=10)
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"payter-emulator exited with {process.returncode}: {err}")
        info = json.loads(line)
        running = RunningEmulator(info=info, token_a=token_a, process=process)
        try:
            yield running
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            for stream in (process.stdout, process.stderr):
                if stream:
                    stream.close()
