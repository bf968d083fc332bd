"""``python -m bench``: list the benchmarks, or run some by name.

python -m bench list
python -m bench patch                 # one row
python -m bench patch put-location    # several
python -m bench all --runs 3          # every row
python -m bench patch --json out.json # also write the figures as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench.registry import Options, Result, discover


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def show(result: Result) -> None:
    better = "higher" if result.higher_is_better else "lower"
    print(
        f"{result.name}: emulator {result.emulator:,.1f} {result.unit} | "
        f"{result.baseline_label} {result.baseline:,.1f} {result.unit} | "
        f"ratio {result.ratio:.3f} ({better} is better) | target {result.target}: "
        f"{'MET' if result.met else 'NOT MET'}"
    )
    for key, value in result.details.items():
        print(f"    {key}: {value}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    registry = discover()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="+", help="benchmark names, 'all', or 'list'")
    parser.add_argument("--runs", type=int, default=3, help="interleaved A/B runs (default 3)")
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds of load per HTTP run (default 5)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin server and load generator to separate cores",
    )
    parser.add_argument("--json", type=Path, help="write the results to this file as JSON")
    args = parser.parse_args(argv)
    if args.names == ["list"]:
        for bench in registry.values():
            print(f"{bench.name:22} {bench.title} (target: {bench.target})")
        return 0
    names = list(registry) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in registry]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; see 'python -m bench list'")
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    opts = Options(
        runs=args.runs,
        duration=args.duration,
        quick=args.quick,
        server_core=0 if pin else None,
        load_core=1 if pin else None,
    )
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')}, {machine_load()}, "
        f"pinning {'on' if pin else 'off'}, runs {opts.runs}"
    )
    results = []
    for name in names:
        result = registry[name].run(opts)
        show(result)
        results.append(result.as_json())
    print(f"# done, {machine_load()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
