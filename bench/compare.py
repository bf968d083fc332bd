"""This checkout's emulator against another checkout's, interleaved, on the same machine at the
same time: a before/after that holds on a busy machine, where figures taken at different
moments do not.

    python -m bench.compare ../before patch put-location cdr-post cps-get journeys

Each server is ``python -m emulator serve`` started in its checkout's folder with this Python
(the same libraries; ``-m`` imports the checkout's own ``emulator``). HTTP rows report each
server's CPU per request (µs, from /proc) under the same wrk load as ``python -m bench``;
``journeys`` runs :mod:`bench._journey_worker` in each checkout (CPU per journey at
``--terminals``, CPU to create and assign them). Figures are medians of ``--runs`` rounds;
the ratio is this checkout's over the other's (below 1: this one is cheaper).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench import _objects as O
from bench import http_push as H
from bench._common import PYTHON, ROOT, Server, median, server, taskset, wrk
from bench._cpo import MiniCpo, ocpi_headers, register, running_cpo

HTTP = ("patch", "put-location", "cdr-post", "cps-get")


@contextmanager
def _target(tree: Path, name: str, cpo: MiniCpo) -> Iterator[tuple[Server, str, dict[str, str]]]:
    with server(H.emulator_args(), core=0, cwd=tree) as emu:
        if name == "cps-get":
            H._switch_to_cps(emu)
            yield (
                emu,
                f"/cps/terminals/{H.CPS_SERIAL}",
                {"Authorization": f'CPS apikey="{H.CPS_KEY}"'},
            )
            return
        token = register(emu.url, cpo, H.TOKEN_A)
        if name == "patch":
            path = H.evse_patch_path(emu.url, token)
        elif name == "put-location":
            path = "/ocpi/2.2.1/locations/NL/CPO/LOC1"
        else:
            H.put_location(emu.url, token)
            path = "/ocpi/2.2.1/cdrs"
        yield emu, path, ocpi_headers(token)


REQUESTS: dict[str, tuple[str, Callable[[], str | None], str | None]] = {
    "patch": ("PATCH", lambda: H.PATCH_BODY, H.PATCH_ALT),
    "put-location": ("PUT", lambda: O.dumps(O.location("LOC1")), None),
    "cdr-post": ("POST", lambda: O.dumps(O.cdr("CDR-__N__")), None),
    "cps-get": ("GET", lambda: None, None),
}


def http_row(name: str, trees: list[Path], runs: int, duration: float) -> dict[str, float]:
    method, body, alt = REQUESTS[name]
    cpu: dict[Path, list[float]] = {t: [] for t in trees}
    with running_cpo() as cpo, ExitStack() as stack:
        targets = {t: stack.enter_context(_target(t, name, cpo)) for t in trees}
        for _ in range(runs):
            for tree, (emu, path, headers) in targets.items():
                before = emu.cpu_seconds()
                r = wrk(
                    emu.url,
                    path,
                    method=method,
                    body=body(),
                    alt_body=alt,
                    headers=headers,
                    connections=16,
                    duration=duration,
                    core=1,
                )
                if r.errors or r.non_2xx:
                    raise RuntimeError(f"{name} on {tree}: {r.errors} errors, {r.non_2xx} non-2xx")
                cpu[tree].append((emu.cpu_seconds() - before) * 1e6 / max(r.requests, 1))
    return {str(t): median(v) for t, v in cpu.items()}


def journeys_row(trees: list[Path], runs: int, terminals: int) -> dict[str, dict[str, float]]:
    out: dict[Path, list[dict[str, Any]]] = {t: [] for t in trees}
    for _ in range(runs):
        for tree in trees:
            done = subprocess.run(
                [
                    *taskset(0),
                    PYTHON,
                    "-m",
                    "bench._journey_worker",
                    "--terminals",
                    str(terminals),
                    "--journeys",
                    "50",
                ],
                cwd=tree,
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            out[tree].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        str(t): {
            "cpu ms per journey": median([r["cpu_ms_per_journey"] for r in rs]),
            "create+assign CPU s": median([r["create_assign_cpu_s"] for r in rs]),
            "create+assign wall s": median([r["create_assign_s"] for r in rs]),
        }
        for t, rs in out.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (its folder)")
    parser.add_argument("names", nargs="+", choices=[*HTTP, "journeys"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--terminals", type=int, default=1000)
    args = parser.parse_args()
    trees = [args.other.resolve(), ROOT]
    print(f"# this: {ROOT}  other: {trees[0]}  load average {os.getloadavg()[0]:.2f}")
    for name in args.names:
        if name == "journeys":
            rows = journeys_row(trees, args.runs, args.terminals)
            for key in next(iter(rows.values())):
                a, b = rows[str(trees[0])][key], rows[str(ROOT)][key]
                print(f"journeys {key}: other {a:.2f} | this {b:.2f} | ratio {b / a:.3f}")
        else:
            cpu = http_row(name, trees, args.runs, args.duration)
            a, b = cpu[str(trees[0])], cpu[str(ROOT)]
            print(f"{name} CPU per request (us): other {a:.0f} | this {b:.0f} | ratio {b / a:.3f}")
    print(f"# done, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
