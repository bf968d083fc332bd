"""Start-up: from process start to the ready file, against the import floor
(``python -c "import aiohttp, pydantic, sqlite_utils"``), interleaved, medians."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench._common import PYTHON, ROOT, free_port, median, taskset
from bench.registry import Options, Result, benchmark

FLOOR = [PYTHON, "-c", "import aiohttp, pydantic, sqlite_utils"]


def _env(cache: bool, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    if not cache:
        # An empty pycache prefix: every module is compiled from source, nothing is written.
        env["PYTHONPYCACHEPREFIX"] = prefix
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def time_to_exit(args: list[str], core: int | None, cache: bool) -> float:
    with tempfile.TemporaryDirectory() as prefix:
        t0 = time.perf_counter()
        subprocess.run(
            [*taskset(core), *args],
            cwd=ROOT,
            check=True,
            env=_env(cache, prefix),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - t0


def time_to_ready(args: list[str], core: int | None, cache: bool, timeout: float = 60) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*taskset(core), *args, "--ready-file", str(ready)],
            cwd=ROOT,
            env=_env(cache, tmp + "/pycache"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            while not ready.exists():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{args} exited: {proc.stderr.read().decode()[-2000:]}"
                        if proc.stderr
                        else str(args)
                    )
                if time.perf_counter() - t0 > timeout:
                    raise RuntimeError(f"{args} not ready after {timeout} s")
                time.sleep(0.002)
            return time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(10)


def serve_args() -> list[str]:
    return [
        PYTHON,
        "-m",
        "emulator",
        "serve",
        "--db",
        ":memory:",
        "--port",
        str(free_port()),
        "--log-level",
        "warning",
    ]


def demo_args() -> list[str]:
    return [
        PYTHON,
        "-m",
        "emulator",
        "demo",
        "--headless",
        "--port",
        "0",
        "--cpo-sim-port",
        "0",
        "--log-level",
        "warning",
    ]


def compare(opts: Options, args: list[str], cache: bool) -> tuple[list[float], list[float]]:
    time_to_ready(args, opts.server_core, True)  # warm the bytecode cache once
    time_to_exit(FLOOR, opts.server_core, True)
    runs = max(opts.runs, 5)
    ours, floor = [], []
    for _ in range(runs):
        ours.append(time_to_ready(args, opts.server_core, cache))
        floor.append(time_to_exit(FLOOR, opts.server_core, cache))
    return ours, floor


@benchmark(
    "startup",
    "serve --db :memory: start-up to the ready file vs importing aiohttp, "
    "pydantic and sqlite_utils",
    target="≤ 1.5x the import floor with a bytecode cache",
)
def startup(opts: Options) -> Result:
    ours, floor = compare(opts, serve_args(), cache=True)
    cold_ours, cold_floor = compare(opts, serve_args(), cache=False)
    e, b = median(ours) * 1000, median(floor) * 1000
    return Result(
        "startup",
        "ms",
        e,
        b,
        "import floor",
        False,
        "≤ 1.5x the floor (cached)",
        e / b <= 1.5,
        {
            "without a bytecode cache (ms, emulator / floor / ratio)": (
                f"{median(cold_ours) * 1000:.0f} / {median(cold_floor) * 1000:.0f} / "
                f"{median(cold_ours) / median(cold_floor):.2f}"
            ),
            "runs (ms)": [round(x * 1000) for x in ours],
        },
    )


@benchmark(
    "demo",
    "demo --headless start-up to the ready file (both servers registered, terminal assigned)",
    target="< 1 s",
)
def demo(opts: Options) -> Result:
    ours, floor = compare(opts, demo_args(), cache=True)
    e, b = median(ours) * 1000, median(floor) * 1000
    return Result(
        "demo",
        "ms",
        e,
        b,
        "import floor",
        False,
        "< 1000 ms",
        e < 1000,
        {"runs (ms)": [round(x * 1000) for x in ours]},
    )
