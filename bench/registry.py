"""The registry of named benchmarks.

A benchmark is a function decorated with :func:`benchmark`; it takes the run's
:class:`Options` and returns a :class:`Result`: the emulator's figure, the baseline's figure
measured in the same run, and the ratio. Every module of the ``bench`` package is imported by
:func:`discover`, so adding a benchmark is adding a module (or a function) here::

    from bench.registry import Options, Result, benchmark

    @benchmark("my-row", "What it measures", target="≥ 0.5x the baseline")
    def my_row(opts: Options) -> Result:
        ...
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Options:
    """What ``python -m bench`` was asked for."""

    runs: int = 3  # interleaved A/B pairs; the figures are medians over them
    duration: float = 5.0  # seconds of load per run (HTTP benchmarks)
    quick: bool = False  # smaller sizes, for a smoke run
    server_core: int | None = 0  # taskset core of the server under test (None: no pinning)
    load_core: int | None = 1  # taskset core of the load generator
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """One row: the emulator's figure, the baseline's, and the ratio emulator/baseline."""

    name: str
    unit: str
    emulator: float
    baseline: float
    baseline_label: str
    # higher_is_better: throughput (ratio = emulator / baseline); otherwise time or
    # latency (ratio = emulator / baseline too, smaller is better).
    higher_is_better: bool
    target: str
    met: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.emulator / self.baseline if self.baseline else float("nan")

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "emulator": self.emulator,
            "baseline": self.baseline,
            "baseline_label": self.baseline_label,
            "ratio": round(self.ratio, 3),
            "target": self.target,
            "met": self.met,
            "details": self.details,
        }


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    target: str
    run: Callable[[Options], Result]


REGISTRY: dict[str, Benchmark] = {}


def benchmark(
    name: str, title: str, *, target: str
) -> Callable[[Callable[[Options], Result]], Callable[[Options], Result]]:
    def register(func: Callable[[Options], Result]) -> Callable[[Options], Result]:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} is registered twice")
        REGISTRY[name] = Benchmark(name, title, target, func)
        return func

    return register


def discover() -> dict[str, Benchmark]:
    """Import every module of the package (each registers its benchmarks)."""
    import bench

    for info in pkgutil.iter_modules(bench.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"bench.{info.name}")
    return REGISTRY
