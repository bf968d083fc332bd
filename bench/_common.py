"""Shared plumbing: servers in their own processes pinned to a core, load generation (wrk for
throughput, an open-loop generator for latency at a fixed rate), medians."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def taskset(core: int | None) -> list[str]:
    if core is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(core)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    info: dict[str, Any]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU the server process used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def server(
    args: list[str],
    *,
    core: int | None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> Iterator[Server]:
    """Start ``args`` (which must accept ``--port`` and ``--ready-file``) pinned to ``core``;
    yield once the ready file exists; stop it with SIGTERM."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ready = Path(tmp) / "ready.json"
        cmd = [*taskset(core), *args, "--port", str(port), "--ready-file", str(ready)]
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        try:
            deadline = time.monotonic() + timeout
            while not ready.exists():
                if proc.poll() is not None:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {err[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(args)} not ready after {timeout} s")
                time.sleep(0.02)
            yield Server(proc, json.loads(ready.read_text()), port)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- wrk -------------------------------------------------------------------------------------

WRK_SCRIPT = """
local counter = 0
local method, path, body = %(method)s, %(path)s, %(body)s
local alt = %(alt)s
local headers = %(headers)s
request = function()
  counter = counter + 1
  local h = {}
  for k, v in pairs(headers) do h[k] = v end
  h["X-Request-ID"] = "bench-" .. counter
  h["X-Correlation-ID"] = "bench-" .. counter
  local b = body
  if alt ~= nil and counter %% 2 == 0 then b = alt end
  if b ~= nil then b = string.gsub(b, "__N__", tostring(counter)) end
  return wrk.format(method, path, h, b)
end
"""


def _lua(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[ {_lua(k)} ] = {_lua(v)}" for k, v in value.items()) + "}"
    return "[==[" + str(value) + "]==]"


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    requests: int


def wrk(
    url: str,
    path: str,
    *,
    method: str = "GET",
    body: str | None = None,
    alt_body: str | None = None,
    headers: dict[str, str] | None = None,
    connections: int = 16,
    duration: float = 5.0,
    core: int | None = None,
) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the HTTP benchmarks: apt-get install wrk")
    script = WRK_SCRIPT % {
        "method": _lua(method),
        "path": _lua(path),
        "body": _lua(body),
        "alt": _lua(alt_body),
        "headers": _lua(headers or {}),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        lua = f.name
    try:
        out = subprocess.run(
            [
                *taskset(core),
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "-s",
                lua,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(lua)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    non_2xx = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in", out)
    requests = int(m.group(1)) if m else 0
    return WrkResult(rps, latency("50"), latency("99"), errors, non_2xx, requests)


# --- open-loop load at a fixed rate ------------------------------------------------------------

FIXED_RATE_SCRIPT = r"""
import asyncio, json, sys, time
import aiohttp

async def main(spec):
    rate, duration, url = spec["rate"], spec["duration"], spec["url"]
    bodies = [b.encode() for b in spec["bodies"]]
    n = int(rate * duration)
    latencies, errors = [], 0
    conn = aiohttp.TCPConnector(limit=spec["connections"])
    async with aiohttp.ClientSession(connector=conn) as http:
        start = time.perf_counter() + 0.05
        async def one(i):
            nonlocal errors
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            headers = dict(spec["headers"])
            headers["X-Request-ID"] = headers["X-Correlation-ID"] = f"fixed-{i}"
            try:
                async with http.request(spec["method"], url, data=bodies[i % len(bodies)],
                                        headers=headers) as r:
                    await r.read()
                    if r.status >= 300:
                        errors += 1
            except Exception:
                errors += 1
            # Measured from when the request was due: no coordinated omission.
            latencies.append((time.perf_counter() - due) * 1000)
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]
    print(json.dumps({"sent": n, "elapsed": elapsed, "p50": pct(50), "p99": pct(99),
                      "max": latencies[-1], "errors": errors}))

asyncio.run(main(json.loads(sys.argv[1])))
"""


def fixed_rate(
    url: str,
    *,
    rate: float,
    duration: float,
    method: str,
    bodies: list[str],
    headers: dict[str, str],
    connections: int = 64,
    core: int | None = None,
) -> dict[str, Any]:
    """Send ``rate`` requests a second for ``duration`` seconds whatever the answers' pace;
    latency percentiles (ms) counted from each request's due time."""
    spec = {
        "url": url,
        "rate": rate,
        "duration": duration,
        "method": method,
        "bodies": bodies,
        "headers": headers,
        "connections": connections,
    }
    out = subprocess.run(
        [*taskset(core), PYTHON, "-c", FIXED_RATE_SCRIPT, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


def interleave(
    runs: int, a: Callable[[], float], b: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """A/B/A/B…: ``runs`` figures of each, alternating so a noisy neighbour hits both."""
    xs, ys = [], []
    for _ in range(runs):
        xs.append(a())
        ys.append(b())
    return xs, ys
