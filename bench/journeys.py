"""Journeys, terminals, key presses and memory at scale: the emulator and the simulated CPO in
one process (:mod:`bench._journey_worker`) pinned to the server core, on one manual clock.

The baseline of each row is the same measure at 10 terminals in the same run: the per-journey
cost must not grow with the number of terminals."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from typing import Any

from bench._common import PYTHON, ROOT, median, taskset
from bench.registry import Options, Result, benchmark


@cache
def worker(terminals: int, journeys: int, presses: int, core: int | None) -> dict[str, Any]:
    out = subprocess.run(
        [
            *taskset(core),
            PYTHON,
            "-m",
            "bench._journey_worker",
            "--terminals",
            str(terminals),
            "--journeys",
            str(journeys),
            "--presses",
            str(presses),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"journey worker failed:\n{out.stderr[-3000:]}")
    result = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    if result["completed"] != journeys:
        raise RuntimeError(f"only {result['completed']} of {journeys} journeys completed")
    return result


def sizes(opts: Options) -> tuple[int, int, int]:
    """(small, large terminal counts, journeys per run)."""
    return (10, 100, 20) if opts.quick else (10, 1000, 100)


def both(opts: Options) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    small, big, journeys = sizes(opts)
    xs, ys = [], []
    for _ in range(opts.runs):
        xs.append(worker(small, journeys, 100, opts.server_core))
        ys.append(worker(big, journeys, 100, opts.server_core))
        worker.cache_clear()
    # Keep the last pair for the other rows of the same invocation.
    _last[opts.quick] = (xs, ys)
    return xs, ys


_last: dict[bool, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}


def pairs(opts: Options) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return _last.get(opts.quick) or both(opts)


def med(rows: list[dict[str, Any]], key: str) -> float:
    return median([float(r[key]) for r in rows if r.get(key) is not None])


@benchmark(
    "journeys",
    "Complete card journeys against the simulated CPO, manual clock, "
    "server CPU per journey at 1,000 terminals (baseline: at 10)",
    target="≥ 100 journeys/s, ≤ 10 ms CPU per journey at 10 and at 1,000 terminals",
)
def journeys(opts: Options) -> Result:
    small, big = pairs(opts)
    n_small, n_big, count = sizes(opts)
    cpu_big, cpu_small = med(big, "cpu_ms_per_journey"), med(small, "cpu_ms_per_journey")
    rate_big = med(big, "journeys_per_s")
    return Result(
        "journeys",
        "ms CPU/journey",
        cpu_big,
        cpu_small,
        f"same at {n_small} terminals",
        False,
        "≤ 10 ms CPU per journey, ≥ 100 journeys/s",
        cpu_big <= 10 and rate_big >= 100,
        {
            f"journeys/s at {n_big} terminals": round(rate_big, 1),
            f"journeys/s at {n_small} terminals": round(med(small, "journeys_per_s"), 1),
            f"SQL statements per journey at {n_small} / {n_big}": (
                f"{med(small, 'sql_per_journey')} / {med(big, 'sql_per_journey')}"
            ),
            "journeys per run": count,
            "runs (cpu ms at small / large)": [
                (round(s["cpu_ms_per_journey"], 1), round(b["cpu_ms_per_journey"], 1))
                for s, b in zip(small, big, strict=True)
            ],
        },
    )


@benchmark(
    "terminals",
    "Creating 1,000 terminals (control API, pushed to the CPO) and the "
    "CPO assigning each its Location (baseline: 100x the time for 10)",
    target="< 5 s",
)
def terminals(opts: Options) -> Result:
    small, big = pairs(opts)
    n_small, n_big, _ = sizes(opts)
    t_big, t_small = med(big, "create_assign_s"), med(small, "create_assign_s")
    linear = t_small * n_big / n_small
    return Result(
        "terminals",
        "s",
        t_big,
        linear,
        f"{n_big // n_small}x the time for {n_small}",
        False,
        "< 5 s",
        t_big < 5 * n_big / 1000,
        {
            "runs (s)": [round(b["create_assign_s"], 2) for b in big],
            "CPU (s)": round(med(big, "create_assign_cpu_s"), 2),
        },
    )


@benchmark(
    "keypress",
    "Key press on the control API → terminal.screen event, 1,000 terminals "
    "(baseline: 10 terminals)",
    target="p99 < 50 ms",
)
def keypress(opts: Options) -> Result:
    small, big = pairs(opts)
    n_small, _, _ = sizes(opts)
    p99_big, p99_small = med(big, "press_p99_ms"), med(small, "press_p99_ms")
    return Result(
        "keypress",
        "ms p99",
        p99_big,
        p99_small,
        f"at {n_small} terminals",
        False,
        "p99 < 50 ms",
        p99_big < 50,
        {
            "p50 ms at 1,000 / 10": f"{med(big, 'press_p50_ms'):.1f} / "
            f"{med(small, 'press_p50_ms'):.1f}"
        },
    )


@benchmark(
    "rss",
    "Peak RSS of the emulator + simulated CPO process at 1,000 terminals after "
    "the journeys (baseline: 10 terminals)",
    target="< 200 MB",
)
def rss(opts: Options) -> Result:
    small, big = pairs(opts)
    n_small, _, _ = sizes(opts)
    r_big, r_small = med(big, "rss_mb"), med(small, "rss_mb")
    return Result(
        "rss", "MB", r_big, r_small, f"at {n_small} terminals", False, "< 200 MB", r_big < 200, {}
    )
