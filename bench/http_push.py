"""OCPI pushes through the emulator's full path (auth, checks, findings, journal, SQLite)
against the bare baseline (:mod:`bench.baseline_server`), interleaved A/B/A/B, server on one
core and wrk on the other."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench import _objects as O
from bench._common import PYTHON, Server, median, server, wrk
from bench._common import fixed_rate as fixed_rate_load
from bench._cpo import call, ocpi_headers, register, running_cpo
from bench.baseline_server import CPS_KEY, TOKEN
from bench.registry import Options, Result, benchmark

TOKEN_A = "bench-token-a"
CPS_SERIAL = "APO-CPS"


def emulator_args(db: str = ":memory:") -> list[str]:
    return [
        PYTHON,
        "-m",
        "emulator",
        "serve",
        "--db",
        db,
        "--log-level",
        "warning",
        "--token-a",
        TOKEN_A,
        "--poll-interval",
        "0",
        "--seed",
        "1",
        "--cps-api-key",
        CPS_KEY,
    ]


@dataclass
class Target:
    """One server ready for a load: its base URL and the request to send."""

    url: str
    path: str
    headers: dict[str, str]
    server: Server | None = None


@contextmanager
def emulator_target(opts: Options, setup: Callable[[str, str], str]) -> Iterator[Target]:
    """The emulator with a registered CPO; ``setup(url, token_c)`` returns the path to load."""
    with running_cpo() as cpo, server(emulator_args(), core=opts.server_core) as emu:
        token_c = register(emu.url, cpo, TOKEN_A)
        path = setup(emu.url, token_c)
        yield Target(emu.url, path, ocpi_headers(token_c), emu)


@contextmanager
def baseline_target(opts: Options, path: str) -> Iterator[Target]:
    with server([PYTHON, "-m", "bench.baseline_server"], core=opts.server_core) as base:
        yield Target(base.url, path, ocpi_headers(TOKEN), base)


def put_location(url: str, token: str, lid: str = "LOC1") -> None:
    status, body = call(
        "PUT",
        f"{url}/ocpi/2.2.1/locations/NL/CPO/{lid}",
        token,
        O.location(lid),
        ocpi_headers(token),
    )
    if status not in (200, 201):
        raise RuntimeError(f"PUT location: {status} {body}")


def evse_patch_path(url: str, token: str) -> str:
    put_location(url, token)
    return "/ocpi/2.2.1/locations/NL/CPO/LOC1/EVSE3"


PATCH_BODY = O.dumps({"status": "CHARGING", "last_updated": "2025-03-01T09:00:00Z"})
PATCH_ALT = O.dumps({"status": "AVAILABLE", "last_updated": "2025-03-01T09:00:01Z"})


def throughput(
    opts: Options,
    name: str,
    *,
    method: str,
    emulator_setup: Callable[[str, str], str],
    baseline_path: str,
    body: str | None,
    alt: str | None = None,
    target: float = 0.5,
    title: str = "",
) -> Result:
    emu_rps: list[float] = []
    base_rps: list[float] = []
    cpu: dict[str, list[float]] = {"emulator": [], "baseline": []}
    errors = 0
    with emulator_target(opts, emulator_setup) as emu, baseline_target(opts, baseline_path) as base:
        for _ in range(opts.runs):
            for tgt, out, label in ((emu, emu_rps, "emulator"), (base, base_rps, "baseline")):
                assert tgt.server is not None
                before = tgt.server.cpu_seconds()
                r = wrk(
                    tgt.url,
                    tgt.path,
                    method=method,
                    body=body,
                    alt_body=alt,
                    headers=tgt.headers,
                    connections=16,
                    duration=opts.duration,
                    core=opts.load_core,
                )
                errors += r.errors + r.non_2xx
                out.append(r.rps)
                cpu[label].append(cpu_per_request(tgt.server, before, r.requests))
    e, b = median(emu_rps), median(base_rps)
    return Result(
        name,
        "req/s",
        e,
        b,
        "bare handler",
        True,
        f"≥ {target}x the bare handler",
        e / b >= target,
        {
            "emulator runs": [round(x) for x in emu_rps],
            "baseline runs": [round(x) for x in base_rps],
            "errors / non-2xx": errors,
            "connections": 16,
            **cpu_details(cpu),
        },
    )


def cpu_per_request(server: Server, before: float, requests: int) -> float:
    """The server's own CPU (user + system) per answered request, in microseconds: what
    the throughput on a core of its own would be, whatever else the machine runs."""
    return (server.cpu_seconds() - before) * 1e6 / max(requests, 1)


def cpu_details(cpu: dict[str, list[float]]) -> dict[str, object]:
    e, b = median(cpu["emulator"]), median(cpu["baseline"])
    return {
        "server CPU per request (us), emulator / baseline": f"{e:.0f} / {b:.0f}",
        "throughput ratio from CPU per request (baseline / emulator)": round(b / e, 3),
    }


@benchmark(
    "patch",
    "EVSE status PATCH, full path, registered CPO, 16 connections",
    target="≥ 0.5x the bare handler",
)
def patch(opts: Options) -> Result:
    return throughput(
        opts,
        "patch",
        method="PATCH",
        emulator_setup=evse_patch_path,
        baseline_path="/ocpi/2.2.1/locations/NL/CPO/LOC1/EVSE3",
        body=PATCH_BODY,
        alt=PATCH_ALT,
    )


@benchmark(
    "put-location",
    "Location PUT (10 EVSEs), full path, 16 connections",
    target="≥ 0.5x the bare handler doing a PUT of the same size",
)
def put(opts: Options) -> Result:
    body = O.dumps(O.location("LOC1"))
    return throughput(
        opts,
        "put-location",
        method="PUT",
        emulator_setup=lambda url, token: "/ocpi/2.2.1/locations/NL/CPO/LOC1",
        baseline_path="/ocpi/2.2.1/locations/NL/CPO/LOC1",
        body=body,
    )


@benchmark(
    "cdr-post",
    "CDR POST (a new CDR each time), full path, 16 connections",
    target="≥ 0.5x the bare handler doing a PUT of the same size",
)
def cdr_post(opts: Options) -> Result:
    def setup(url: str, token: str) -> str:
        put_location(url, token)
        return "/ocpi/2.2.1/cdrs"

    body = O.dumps(O.cdr("CDR-__N__"))
    return throughput(
        opts,
        "cdr-post",
        method="POST",
        emulator_setup=setup,
        baseline_path="/ocpi/2.2.1/cdrs",
        body=body,
    )


@benchmark("cps-get", "CPS GET /cps/terminals/{serial}, 16 connections", target="≥ 0.5x a bare GET")
def cps_get(opts: Options) -> Result:
    path = f"/cps/terminals/{CPS_SERIAL}"
    emu_rps: list[float] = []
    base_rps: list[float] = []
    headers = {"Authorization": f'CPS apikey="{CPS_KEY}"'}
    cpu: dict[str, list[float]] = {"emulator": [], "baseline": []}
    with (
        server(emulator_args(), core=opts.server_core) as emu,
        server([PYTHON, "-m", "bench.baseline_server"], core=opts.server_core) as base,
    ):
        _switch_to_cps(emu)
        for _ in range(opts.runs):
            for tgt, out, label in ((emu, emu_rps, "emulator"), (base, base_rps, "baseline")):
                before = tgt.cpu_seconds()
                r = wrk(tgt.url, path, headers=headers, duration=opts.duration, core=opts.load_core)
                if r.non_2xx:
                    raise RuntimeError(f"{tgt.url}{path}: {r.non_2xx} non-2xx answers")
                out.append(r.rps)
                cpu[label].append(cpu_per_request(tgt, before, r.requests))
    e, b = median(emu_rps), median(base_rps)
    return Result(
        "cps-get",
        "req/s",
        e,
        b,
        "bare GET",
        True,
        "≥ 0.5x a bare GET",
        e / b >= 0.5,
        {
            "emulator runs": [round(x) for x in emu_rps],
            "baseline runs": [round(x) for x in base_rps],
            **cpu_details(cpu),
        },
    )


def _switch_to_cps(emu: Server) -> None:
    """The default terminal, handed to the Cloud Payment Service driver."""
    status, body = call(
        "POST", f"{emu.url}/__admin/terminals", None, {"serial_number": CPS_SERIAL, "mode": "cps"}
    )
    if status != 201:
        raise RuntimeError(f"creating a CPS terminal: {status} {body}")


@benchmark(
    "patch-p99",
    "EVSE status PATCH latency at a fixed 1,000 req/s (open loop)",
    target="p99 < 10 ms at 1,000 req/s",
)
def patch_p99(opts: Options) -> Result:
    rate = 1000.0
    emu_p99: list[float] = []
    base_p99: list[float] = []
    details: dict[str, object] = {}
    with (
        emulator_target(opts, evse_patch_path) as emu,
        baseline_target(opts, "/ocpi/2.2.1/locations/NL/CPO/LOC1/EVSE3") as base,
    ):
        for _ in range(opts.runs):
            for tgt, out, label in ((emu, emu_p99, "emulator"), (base, base_p99, "baseline")):
                r = fixed_rate_load(
                    tgt.url + tgt.path,
                    rate=rate,
                    duration=opts.duration,
                    method="PATCH",
                    bodies=[PATCH_BODY, PATCH_ALT],
                    headers=tgt.headers,
                    core=opts.load_core,
                )
                out.append(r["p99"])
                details.setdefault(f"{label} runs (p50/p99/max ms, errors)", []).append(  # type: ignore[union-attr]
                    f"{r['p50']:.1f}/{r['p99']:.1f}/{r['max']:.0f}, {r['errors']}"
                )
    e, b = median(emu_p99), median(base_p99)
    return Result(
        "patch-p99", "ms p99", e, b, "bare handler", False, "p99 < 10 ms", e < 10.0, details
    )
