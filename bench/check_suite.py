"""Benchmark ``check_suite``: the whole built-in go-live suite of ``payter-emulator check``
against the simulated CPO, both in this process on one manual clock (what
``payter-emulator check --against cpo-sim`` runs). Goal: under 10 s.

    python -m bench check-suite          # through the bench registry
    python -m bench.check_suite [--repeat N]  # alone, one JSON line per run

Prints one JSON line per run and a summary line: wall seconds (start-up, registration and
every check), the checks' own seconds, the slowest checks, and whether the suite passed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time

from bench.registry import Options, Result, benchmark
from emulator import logs
from emulator.check.run import CheckOptions, CheckRun

GOAL_SECONDS = 10.0


async def once() -> dict[str, object]:
    started = time.perf_counter()
    outcome = await CheckRun(CheckOptions(against="cpo-sim"), io.StringIO()).execute()
    wall = time.perf_counter() - started
    slowest = sorted(outcome.results, key=lambda r: r.seconds, reverse=True)[:3]
    return {
        "benchmark": "check_suite",
        "seconds": round(wall, 3),
        "checks": len(outcome.results),
        "checks_seconds": round(sum(r.seconds for r in outcome.results), 3),
        "slowest": {r.id: round(r.seconds, 3) for r in slowest},
        "verdict": outcome.verdict,
    }


@benchmark(
    "check-suite",
    "payter-emulator check --against cpo-sim: the whole built-in suite on the manual clock",
    target=f"< {GOAL_SECONDS:g} s",
)
def check_suite(opts: Options) -> Result:
    logs.configure("console", "error")
    runs = [asyncio.run(once()) for _ in range(1 if opts.quick else max(opts.runs, 1))]
    seconds = [float(r["seconds"]) for r in runs]  # type: ignore[arg-type]
    best = min(seconds)
    passed = all(r["verdict"] == "PASS" for r in runs)
    return Result(
        name="check-suite",
        unit="s",
        emulator=best,
        baseline=GOAL_SECONDS,
        baseline_label="goal",
        higher_is_better=False,
        target=f"< {GOAL_SECONDS:g} s, every check passing",
        met=passed and best < GOAL_SECONDS,
        details={
            "runs (s)": [round(x, 2) for x in seconds],
            "median (s)": round(statistics.median(seconds), 2),
            "checks": runs[0]["checks"],
            "slowest": runs[0]["slowest"],
            "verdict": runs[-1]["verdict"],
        },
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logs.configure("console", "error")
    runs = []
    for _ in range(args.repeat):
        result = asyncio.run(once())
        print(json.dumps(result))
        runs.append(result)
    best = min(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
    median = statistics.median(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
    passed = all(r["verdict"] == "PASS" for r in runs)
    print(
        f"check_suite: best {best:.2f} s, median {median:.2f} s over {len(runs)} runs "
        f"(goal < {GOAL_SECONDS:g} s); suite {'passed' if passed else 'FAILED'}"
    )
    return 0 if passed and best < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
