"""What `pip install .` puts in site-packages: every package of the source tree, the data."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_list_covers_the_source_tree() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("emulator", "tui")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk | {"payter_emulator_fixtures"} == listed
    # Every directory with Python modules is a package (no namespace packages by accident).
    for top in ("emulator", "tui"):
        for module in (ROOT / top).rglob("*.py"):
            assert (module.parent / "__init__.py").exists(), module.parent


def test_the_data_is_installed_under_its_own_name() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"payter_emulator_fixtures": "fixtures"}
    patterns = config["package-data"]["payter_emulator_fixtures"]
    data = {p.relative_to(ROOT / "fixtures") for p in (ROOT / "fixtures").rglob("*.json")}
    assert data and all(any(f.match(p) for p in patterns) for f in data)
