"""The check command line, scenario files and their schema, and the hooks."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from emulator.check.hooks import Hook, HookFailed
from emulator.check.scenario import BUILT_IN, ScenarioError, built_in, load_file, parse, schema
from emulator.cli import main

OWN = """
suite: team
title: Our own checks
checks:
  - id: team.faulty-cdr-answer
    title: A CDR POST answered 503 is seen in the journal
    rules: [OCPI-37]
    references: ["our runbook"]
    needs: [plug-in, unplug]
    steps:
      - fault: {direction: in, module: cdrs, method: POST, action: http_status, status: 503,
                times: 1}
      - wait: {terminal: {assigned: true}, within: 120}
      - start_charging: {card: visa-approved}
      - wait: {journey: {state: [STARTED, CHARGING]}, within: 120}
      - hook: plug-in
      - wait: {journey: {state: CHARGING}, within: 180}
      - hook: unplug
      - wait: {exchange: {direction: in, module: cdrs, method: POST, status: 503}, within: 3600}
    expect:
      - exchange: {direction: in, module: cdrs, method: POST, fault: true}
  - id: team.tokens
    title: Payter's RFID token round trip through our Tokens Receiver
    rules: [OCPI-50]
    steps:
      - tokens_check: {}
      - request: {method: GET, path: "platforms/${platform_id}"}
    expect:
      - last: {status: REGISTERED}
"""


def test_the_schema_is_valid_and_the_built_in_suites_follow_it() -> None:
    Draft202012Validator.check_schema(schema())
    for name in BUILT_IN:
        suite = built_in(name)
        assert suite.checks and all(c.id.startswith(f"{name}.") for c in suite.checks)
        assert all(c.title and c.references for c in suite.checks)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("suite: x\nchecks: []\n", "checks"),
        ("suite: x\nchecks: [{id: x.a, title: t, rules: [], steps: [{fly: 1}]}]\n", "fly"),
        ("suite: x\nchecks: [{id: x.a, title: t, rules: [OCPI-99], steps: []}]\n", "OCPI-99"),
        (
            "suite: x\nchecks: [{id: x.a, title: t, rules: [], steps: [{wait: {within: 5}}]}]\n",
            "wait",
        ),
        ("suite: x\nchecks: [{id: x.a, title: t, rules: [], steps: [], colour: red}]\n", "colour"),
        ("suite: [\n", "not valid YAML"),
    ],
)
def test_a_bad_scenario_file_is_refused_with_where_and_why(text: str, complaint: str) -> None:
    with pytest.raises(ScenarioError, match=r"team\.yaml") as info:
        parse(text, "team.yaml")
    assert complaint in str(info.value)


def test_a_teams_own_scenario_runs_with_the_cli(tmp_path: Path) -> None:
    own = tmp_path / "team.yaml"
    own.write_text(OWN)
    assert [c.id for c in load_file(own).checks] == ["team.faulty-cdr-answer", "team.tokens"]
    junit, report = tmp_path / "junit.xml", tmp_path / "check.json"
    result = CliRunner().invoke(
        main,
        ["check", "--against", "cpo-sim", "--scenario", str(own),
         "--only", "registration.handshake", "--only", "team", "--suite", "registration",
         "--junit", str(junit), "--json", str(report)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert [c["id"] for c in data["checks"]] == [
        "registration.handshake",
        "team.faulty-cdr-answer",
        "team.tokens",
    ]
    assert "PASS    team.faulty-cdr-answer" in result.output
    assert "Verdict: PASS (exit 0)" in result.output
    assert 'name="team.tokens"' in junit.read_text()


def test_list_print_schema_and_usage_errors() -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["check", "--against", "cpo-sim", "--list", "--suite", "journey"])
    assert listed.exit_code == 0 and "journey.approved" in listed.output
    assert "registration.handshake" not in listed.output
    printed = runner.invoke(main, ["check", "--print-schema"])
    assert json.loads(printed.output)["title"].startswith("payter-emulator check")
    bad = runner.invoke(main, ["check", "--against", "cpo-sim:nonsense"])
    assert bad.exit_code == 2 and "unknown preset nonsense" in bad.output
    bad = runner.invoke(main, ["check", "--against", "cpo-sim", "--suite", "nope"])
    assert bad.exit_code == 2 and "no built-in suite" in bad.output
    # No target at all: could not run, exit 2.
    none = runner.invoke(main, ["check", "--suite", "registration"])
    assert none.exit_code == 2 and "give one target" in none.output


async def test_a_command_hook_gets_the_check_in_its_environment(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    hook = Hook(
        "plug-in",
        f'echo "$PAYTER_CHECK_HOOK $PAYTER_CHECK_EVSE_UID $PAYTER_CHECK_SESSION_ID" > {seen}',
    )
    async with aiohttp.ClientSession() as http:
        await hook.run(http, {"evse_uid": "EVSE-7", "session_id": "S-1", "location_id": "L"})
        assert seen.read_text().split() == ["plug-in", "EVSE-7", "S-1"]
        with pytest.raises(HookFailed, match="exited with 3"):
            await Hook("unplug", "echo no charger; exit 3").run(http, {})


async def test_a_url_hook_is_posted_with_the_names_filled_in(aiohttp_server) -> None:
    from aiohttp import web

    received: list[tuple[str, dict[str, str]]] = []
    raw_paths: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((request.path, await request.json()))
        raw_paths.append(request.raw_path)
        return web.json_response({}, status=200 if "EVSE-7" in request.path else 409)

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.port}"
        await Hook("ev-full", base + "/chargers/{evse_uid}/full").run(http, {"evse_uid": "EVSE-7"})
        assert received == [("/chargers/EVSE-7/full", {"hook": "ev-full", "evse_uid": "EVSE-7"})]
        with pytest.raises(HookFailed, match="answered 409"):
            await Hook("ev-full", base + "/x/{evse_uid}").run(http, {"evse_uid": "E8"})
        # Values are URL-encoded where they go into the URL (an id may hold '/', '&', ' ').
        received.clear()
        url = base + "/EVSE-7/{session_id}/stop?ref={reference}"
        await Hook("cpo-stop", url).run(http, {"session_id": "S 1/2", "reference": "A&B"})
        [(_, body)] = received
        assert raw_paths[-1] == "/EVSE-7/S%201%2F2/stop?ref=A%26B"
        assert body == {"hook": "cpo-stop", "session_id": "S 1/2", "reference": "A&B"}
