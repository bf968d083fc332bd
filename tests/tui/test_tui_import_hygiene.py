"""The emulator never imports Textual; the TUI never imports the emulator (DESIGN.md: "The
TUI is a client"). The emulator must start fast and run headless in CI and Docker, and the TUI
must work against an emulator in another process, so neither may lean on the other's insides.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_emulator_does_not_import_textual() -> None:
    # Every module of the package, not a sample: a new module that pulls in Textual (or the
    # TUI) at import time fails here by name.
    code = (
        "import importlib, pkgutil, sys, emulator\n"
        "count = 0\n"
        "for info in pkgutil.walk_packages(emulator.__path__, 'emulator.'):\n"
        "    if info.name == 'emulator.__main__':\n"
        "        continue  # runs the command line\n"
        "    importlib.import_module(info.name)\n"
        "    count += 1\n"
        "    bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'))\n"
        "    if bad:\n"
        "        print(info.name, ','.join(bad[:3]))\n"
        "        break\n"
        "print('modules', count)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    *offenders, count = done.stdout.strip().splitlines()
    assert offenders == []
    assert int(count.split()[1]) > 20, "the walk found too few modules to prove anything"


def test_demo_headless_does_not_import_textual() -> None:
    code = (
        "import sys, importlib.util\n"
        "if importlib.util.find_spec('emulator.demo'):\n"
        "    import emulator.demo\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('textual'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""


def test_tui_does_not_import_the_emulator() -> None:
    offenders = []
    for path in sorted((ROOT / "tui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "emulator"
            ]
    assert offenders == []


def test_tui_app_imports_without_the_emulator() -> None:
    code = (
        "import sys\n"
        "import tui.app, tui.__main__\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'emulator')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
