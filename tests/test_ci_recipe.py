"""The CI recipe: compose.yaml, the GitHub Actions workflow and the README's commands use
flags, variables and services that exist (no Docker engine here: their structure is checked)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import yaml

from emulator.check.scenario import parse
from emulator.cli import main
from emulator.cpo_sim.settings import CpoSimSettings
from emulator.settings import EmulatorSettings, env_name

ROOT = Path(__file__).resolve().parent.parent


def parses(argv: list[str]) -> click.Context:
    """The CLI accepts these arguments (without running anything)."""
    command = main.commands[argv[0]]
    return command.make_context(argv[0], argv[1:], resilient_parsing=False)


def shell_commands(script: str) -> list[list[str]]:
    """Every `payter-emulator ...` command of a shell script, shell variables filled in."""
    joined = re.sub(r"\\\n\s*", " ", script)
    out = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line.startswith("payter-emulator "):
            continue
        words = shlex.split(line)
        cut = next((i for i, w in enumerate(words) if w in (">", "&", "2>&1")), len(words))
        args = [w for w in words[1:cut] if w not in ("&",)]
        out.append([re.sub(r"\$\{?\w+\}?", "http://127.0.0.1:1", a) for a in args])
    return out


def known_env(cls: Any) -> set[str]:
    return {env_name(cls, name) for name in cls.model_fields}


def test_compose_file() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"payter-emulator", "cpo-sim", "check"}
    settings = {"payter-emulator": EmulatorSettings, "cpo-sim": CpoSimSettings}
    for name, cls in settings.items():
        service = services[name]
        argv = service["command"]
        ctx = parses(argv)
        assert ctx.params["host"] == "0.0.0.0"
        port = ctx.params["port"]
        assert service["ports"] == [f"{port}:{port}"]
        health = service["healthcheck"]["test"]
        assert health[:2] == ["CMD", "python"] and "curl" not in " ".join(health)
        assert f"127.0.0.1:{port}/readyz" in health[-1]
        assert set(service["environment"]) <= known_env(cls), name
        public = service["environment"][env_name(cls, "public_url")]
        assert urlsplit(public).hostname == name and urlsplit(public).port == port
    check = services["check"]
    assert check["profiles"] == ["check"]
    assert {k: v["condition"] for k, v in check["depends_on"].items()} == {
        "payter-emulator": "service_healthy",
        "cpo-sim": "service_healthy",
    }
    ctx = parses(check["command"])
    p = ctx.params
    for url in (p["emulator_url"], p["cpo_versions_url"], p["hook_plug_in"], p["hook_unplug"]):
        assert urlsplit(url).hostname in services, url
    assert p["junit"].parent == Path("/results") and "/results" in check["volumes"][0]
    token = services["payter-emulator"]["environment"]["EMULATOR_ADMIN_TOKEN"]
    assert check["environment"]["EMULATOR_ADMIN_TOKEN"] == token
    assert p["hook_headers"] == (f"Authorization: Bearer {token}",)
    assert services["cpo-sim"]["environment"]["EMULATOR_CPO_SIM_ADMIN_TOKEN"] == token


def test_github_workflow() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/payter-check.yml").read_text())
    commands: list[list[str]] = []
    uploads = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            commands += shell_commands(step.get("run", ""))
            if "junit" in str(step.get("uses", "")):
                uploads.append(step["with"]["report_paths"])
    assert sorted(c[0] for c in commands) == ["check", "cpo-sim", "serve"]
    for argv in commands:
        ctx = parses(argv)
        if argv[0] in ("serve", "cpo-sim"):
            assert ctx.params["port"] == 0 and ctx.params["ready_file"]
        else:
            assert str(ctx.params["junit"]) in uploads
    assert "check-results/junit.xml" in uploads


def test_readme_ci_recipe_and_scenario_example() -> None:
    readme = (ROOT / "README.md").read_text()
    recipe = readme.split("### CI recipe", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = shell_commands(recipe)
    assert [c[0] for c in commands] == ["cpo-sim", "serve", "check"]
    for argv in commands:
        parses(argv)
    assert "seq 300" in recipe  # the wait is bounded
    example = readme.split("<!-- scenario-example:start -->", 1)[1].split("```yaml", 1)[1]
    scenario = parse(example.split("```", 1)[0], "README")
    assert [c.id for c in scenario.checks] == ["team.cdr-refused-once"]
