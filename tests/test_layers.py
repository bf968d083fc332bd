"""The rooms and the direction of their arrows (ARCHITECTURE.md), held by the import-linter
contracts in pyproject.toml: a change that makes a lower room import a higher one, or that adds
a module no contract places, fails here by name."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"


def _layers() -> list[str]:
    contracts = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    return [name.strip() for layer in layers for name in layer.replace("|", ":").split(":")]


def test_the_import_contracts_are_kept() -> None:
    # In its own process: under pytest, ``tui`` could name the tests' folder of that name.
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--no-cache", "--config", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def test_every_module_of_the_emulator_has_a_layer() -> None:
    placed = set(_layers())
    graph = grimp.build_graph("emulator", cache_dir=None)
    top = {".".join(m.split(".")[:2]) for m in graph.modules if m != "emulator"}
    assert sorted(top - placed) == [], "place the new module in a layer (pyproject.toml)"
    assert sorted(placed - top) == [], "a layer names a module that is gone"


def test_no_import_cycles_between_rooms() -> None:
    # Type-only imports count too: a cycle "just for the annotation" is still a cycle.
    graph = grimp.build_graph("emulator", cache_dir=None)

    def room(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if room(module) != room(imported):
                edges.setdefault(room(module), set()).add(room(imported))
    cycles = []
    for start in sorted(edges):
        # Rooms reachable from start that reach start back.
        seen, todo = set(), list(edges[start])
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(edges.get(current, ()))
        if start in seen:
            cycles.append(start)
    assert cycles == []
