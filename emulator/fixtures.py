"""Where the bundled fixtures are: ``fixtures/`` beside the package in a checkout, or the
installed ``payter_emulator_fixtures`` package (the same files)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any


@cache
def fixtures_dir() -> Path:
    beside = Path(__file__).resolve().parent.parent / "fixtures"
    if beside.is_dir():
        return beside
    import payter_emulator_fixtures  # the installed data package (fixtures/ in the repository)

    return Path(next(iter(payter_emulator_fixtures.__path__)))


def load_json(*parts: str) -> Any:
    return json.loads(fixtures_dir().joinpath(*parts).read_text(encoding="utf-8"))
