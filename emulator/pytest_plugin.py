"""pytest plugin (entry point ``pytest11``): run the emulator as a test double.

Fixtures:

* ``payter_emulator_process`` (any test, sync): a ``payter-emulator serve`` subprocess on a free
  loopback port with an in-memory database and the manual clock; yields a
  :class:`RunningEmulator` (URLs, token A, ``admin()``, ``advance()``, ``wait_for_exchange()``).
  Use it from any test style, including tests of a CPO backend written in another language.
  Its log goes to a file (``RunningEmulator.log_path``), never to a pipe nobody reads, and it
  must be ready within ``payter_emulator_start_timeout`` seconds.
* ``payter_emulator_args``: override to pass extra ``serve`` flags to that subprocess (a
  ``--token-a`` there is the token A the fixture reports).
* ``payter_emulator`` (async tests): the emulator in the test's own event loop, on a manual
  clock the test moves with ``await emulator.advance(seconds)``; yields an
  :class:`InProcessEmulator`. Settings come from ``payter_emulator_settings``.

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
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DEFAULT_TOKEN_A = "payter-emulator-token-a"
START_TIMEOUT = 30.0


def token_a_from(args: Sequence[str], default: str = DEFAULT_TOKEN_A) -> str:
    """The token A that ``serve`` flags set (the last ``--token-a`` wins, as on the CLI)."""
    token = default
    for i, arg in enumerate(args):
        if arg == "--token-a" and i + 1 < len(args):
            token = args[i + 1]
        elif arg.startswith("--token-a="):
            token = arg.split("=", 1)[1]
    return token


@dataclass
class RunningEmulator:
    info: dict[str, Any]
    token_a: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def versions_url(self) -> str:
        return str(self.info["ocpi_versions_url"])

    @property
    def cps_base_url(self) -> str:
        return str(self.info["cps_base_url"])

    def admin(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> Any:
        """Call the control API; returns the decoded JSON (raises on HTTP errors)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/__admin/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")

    def advance(self, seconds: float) -> Any:
        """Move the emulator's manual clock forward, firing what falls due."""
        return self.admin("POST", "clock/advance", {"seconds": seconds})

    def report(self) -> Any:
        return self.admin("GET", "report")

    def wait_for_exchange(self, within: float = 10, **filters: Any) -> dict[str, Any]:
        """The first journal exchange matching ``filters`` (``module``, ``method``, ``path``,
        ``direction``, ...), waiting up to ``within`` real seconds; AssertionError with the
        nearest misses if none arrives."""
        query = urllib.parse.urlencode({**filters, "wait": within, "limit": 1})
        try:
            rows = self.admin("GET", f"journal?{query}", timeout=within + 10)
        except urllib.error.HTTPError as exc:
            if exc.code != 408:
                raise
            detail = json.loads(exc.read() or b"{}").get("error", {})
            raise AssertionError(
                f"{detail.get('message')}; nearest misses: {detail.get('nearest_misses')}"
            ) from None
        return dict(rows[0])

    def log(self) -> str:
        """What the subprocess logged so far."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def payter_emulator_args() -> list[str]:
    """Extra ``serve`` flags for :func:`payter_emulator_process` (override in conftest)."""
    return []


@pytest.fixture
def payter_emulator_start_timeout() -> float:
    """Seconds the subprocess may take to be ready (override in conftest)."""
    return START_TIMEOUT


@pytest.fixture
def payter_emulator_process(
    payter_emulator_args: list[str], payter_emulator_start_timeout: float
) -> Iterator[RunningEmulator]:
    with tempfile.TemporaryDirectory(prefix="payter-emulator-") as tmp:
        ready = Path(tmp) / "ready.json"
        log_path = Path(tmp) / "emulator.log"
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
            "--ready-file",
            str(ready),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
        with log_path.open("wb") as log_file:
            # Both streams go to a file: a pipe nobody reads fills up and stops the server.
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=tmp
            )
        running = RunningEmulator(
            info={}, token_a=token_a_from(payter_emulator_args), process=process, log_path=log_path
        )
        try:
            running.info = _wait_ready(process, ready, payter_emulator_start_timeout, running)
            yield running
        finally:
            _stop(process)


def _wait_ready(
    process: subprocess.Popen[bytes], ready: Path, timeout: float, running: RunningEmulator
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        if ready.exists():
            return dict(json.loads(ready.read_text(encoding="utf-8")))
        if process.poll() is not None:
            raise RuntimeError(
                f"payter-emulator exited with {process.returncode} before it was ready:\n"
                + running.log()[-4000:]
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"payter-emulator was not ready within {timeout:g} s:\n" + running.log()[-4000:]
            )
        time.sleep(0.02)  # polling a child process's ready file, not waiting on test time


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- in process ------------------------------------------------------------------------------


@dataclass
class InProcessEmulator:
    """The emulator running in the test's event loop, on a manual clock."""

    node: Any
    token_a: str

    @property
    def clock(self) -> Any:
        """The :class:`emulator.clock.ManualClock` (``await clock.advance(seconds)``)."""
        return self.node.rt.clock

    @property
    def url(self) -> str:
        return str(self.node.rt.base_url)

    @property
    def versions_url(self) -> str:
        return str(self.node.server.versions_url)

    @property
    def cps_base_url(self) -> str:
        return str(self.node.cps.base_url)

    async def advance(self, seconds: float) -> int:
        """Move the clock forward, firing every timer that falls due (returns how many)."""
        return int(await self.clock.advance(seconds))

    async def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the control API over HTTP: ``(status, decoded JSON)``."""
        http = self.node.rt.http
        url = f"{self.url}/__admin/{path.lstrip('/')}"
        async with http.request(method, url, json=body) as response:
            return response.status, await response.json(content_type=None)

    def report(self) -> dict[str, Any]:
        return dict(self.node.rt.findings.report())

    def findings(self, rule: str | None = None) -> list[dict[str, Any]]:
        return list(self.node.rt.findings.list(rule=rule))


@pytest.fixture
def payter_emulator_settings() -> dict[str, Any]:
    """Settings of :func:`payter_emulator` (EmulatorSettings fields; override in conftest)."""
    return {}


async def _in_process(settings: dict[str, Any]) -> AsyncIterator[InProcessEmulator]:
    from emulator.app import build_emulator
    from emulator.settings import EmulatorSettings

    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "db": ":memory:",
        "clock": "manual",
        "seed": 1,
        "log_level": "warning",
    }
    node = build_emulator(EmulatorSettings(**{**base, **settings}))
    await node.start()
    try:
        yield InProcessEmulator(node, node.rt.settings.token_a)
    finally:
        await node.stop()


def _async_fixture() -> Any:
    """pytest-asyncio's fixture decorator: the fixture runs in the test's event loop."""
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - pytest-aiohttp brings it
        return pytest.fixture
    return pytest_asyncio.fixture


@_async_fixture()
async def payter_emulator(
    payter_emulator_settings: dict[str, Any],
) -> AsyncIterator[InProcessEmulator]:
    """The emulator in the test's event loop on a manual clock."""
    async for emulator in _in_process(payter_emulator_settings):
        yield emulator
