"""Scenario files: YAML, validated by the published JSON Schema (``scenario.schema.json``).

A file is one suite: ``suite``, ``title``, an optional ``setup`` and its ``checks``, each with
``id``, ``title``, the ``rules`` it exercises, ``references``, ``needs`` (hooks, a CSMS),
``steps`` and ``expect``. The built-in suites are such files (``emulator/check/suites/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from emulator.rules import RULES

BUILT_IN = ("registration", "mirror", "payments", "journey", "cps")


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not follow the schema."""


@dataclass
class Check:
    id: str
    title: str
    suite: str
    rules: list[str]
    references: list[str]
    needs: list[str]
    setup: dict[str, Any]
    steps: list[dict[str, Any]]
    expect: list[dict[str, Any]]
    source: str


@dataclass
class Scenario:
    suite: str
    title: str
    setup: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    source: str = ""


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (also ``payter-emulator check --print-schema``)."""
    text = resources.files("emulator.check").joinpath("scenario.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def parse(text: str, source: str) -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML: {exc}") from None
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for err in errors[:10]:
            where = "/".join(str(p) for p in err.absolute_path) or "(top)"
            lines.append(f"  {where}: {err.message}")
        raise ScenarioError(f"{source}: does not follow the scenario schema:\n" + "\n".join(lines))
    suite = data["suite"]
    setup = data.get("setup") or {}
    scenario = Scenario(suite, data.get("title", suite), setup, source=source)
    seen: set[str] = set()
    for raw in data["checks"]:
        if raw["id"] in seen:
            raise ScenarioError(f"{source}: check {raw['id']} appears twice")
        seen.add(raw["id"])
        unknown = [r for r in raw["rules"] if r not in RULES]
        if unknown:
            raise ScenarioError(f"{source}: check {raw['id']}: unknown rule {', '.join(unknown)}")
        scenario.checks.append(
            Check(
                id=raw["id"],
                title=raw["title"],
                suite=suite,
                rules=list(raw["rules"]),
                references=list(raw.get("references") or []),
                needs=list(raw.get("needs") or []),
                setup={**setup, **(raw.get("setup") or {})},
                steps=list(raw.get("steps") or []),
                expect=list(raw.get("expect") or []),
                source=source,
            )
        )
    return scenario


def load_file(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc.strerror or exc}") from None
    return parse(text, str(path))


def built_in(name: str) -> Scenario:
    if name not in BUILT_IN:
        raise ScenarioError(f"no built-in suite {name!r} (choose from {', '.join(BUILT_IN)})")
    text = resources.files("emulator.check").joinpath(f"suites/{name}.yaml").read_text("utf-8")
    return parse(text, f"built-in suite {name}")
