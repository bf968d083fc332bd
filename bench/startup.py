"""Start-up: from process start to the ready file, against the import floor
(``python -c "import aiohttp, pydantic, sqlite_utils"``), interleaved, medians."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from bench._common import PYTHON, ROOT, free_port, median, taskset
from bench.registry import Options, Result, benchmark

FLOOR = [PYTHON, "-c", "import aiohttp, pydantic, sqlite_utils"]


# One bytecode cache for the whole benchmark run, for the emulator's modules and the
# libraries alike. The cache must be written: an environment with PYTHONDONTWRITEBYTECODE
# (common in containers) would otherwise compile the emulator's own modules from source
# on every "cached" start.
CACHE = tempfile.mkdtemp(prefix="bench-pycache-")


def _env(cache: bool, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    if cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = CACHE
    else:
        # An empty pycache prefix: every module is compiled from source, nothing is written.
        env["PYTHONPYCACHEPREFIX"] = prefix
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# CPU (user + system) of the last process measured: a figure that holds on a busy machine,
# where the wall-clock time depends on what else runs.
LAST_CPU: list[float] = [0.0]


def time_to_exit(args: list[str], core: int | None, cache: bool) -> float:
    with tempfile.TemporaryDirectory() as prefix:
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        subprocess.run(
            [*taskset(core), *args],
            cwd=ROOT,
            check=True,
            env=_env(cache, prefix),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        LAST_CPU[0] = _children_cpu() - cpu0
        return time.perf_counter() - t0


def time_to_ready(args: list[str], core: int | None, cache: bool, timeout: float = 60) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        cpu0 = _children_cpu()
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
            # Includes the few milliseconds between the ready file and SIGTERM.
            LAST_CPU[0] = _children_cpu() - cpu0


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


CPU: dict[str, list[float]] = {}


def compare(opts: Options, args: list[str], cache: bool) -> tuple[list[float], list[float]]:
    """Wall-clock seconds to ready (ours) and to exit (the floor), interleaved; the CPU
    seconds of each run go to ``CPU["ours"]`` and ``CPU["floor"]``."""
    time_to_ready(args, opts.server_core, True)  # warm the bytecode cache once
    time_to_exit(FLOOR, opts.server_core, True)
    runs = max(opts.runs, 5)
    ours, floor = [], []
    CPU["ours"], CPU["floor"] = [], []
    for _ in range(runs):
        ours.append(time_to_ready(args, opts.server_core, cache))
        CPU["ours"].append(LAST_CPU[0])
        floor.append(time_to_exit(FLOOR, opts.server_core, cache))
        CPU["floor"].append(LAST_CPU[0])
    return ours, floor


def cpu_ratio() -> str:
    ours, floor = median(CPU["ours"]), median(CPU["floor"])
    return f"{ours * 1000:.0f} / {floor * 1000:.0f} / {ours / floor:.2f}"


@benchmark(
    "startup",
    "serve --db :memory: start-up to the ready file vs importing aiohttp, "
    "pydantic and sqlite_utils",
    target="≤ 1.5x the import floor with a bytecode cache",
)
def startup(opts: Options) -> Result:
    ours, floor = compare(opts, serve_args(), cache=True)
    cached_cpu = cpu_ratio()
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
            "CPU with a bytecode cache (ms, emulator / floor / ratio)": cached_cpu,
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
        {
            "CPU (ms, demo / import floor / ratio)": cpu_ratio(),
            "runs (ms)": [round(x * 1000) for x in ours],
        },
    )
