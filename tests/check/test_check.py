"""payter-emulator check against the simulated CPO, on the manual clock, in this process:
the suite passes against a correct CPO; each wrong preset fails exactly the checks that name
the rule it breaks; checks that need the CPO's charger are 'not run' without hooks."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from helpers import SIM_TOKEN_A, make_settings, sim_settings

from emulator.app import build_emulator
from emulator.check.hooks import HOOKS
from emulator.check.run import CheckOptions, CheckRun, Outcome, write_outputs
from emulator.cpo_sim.node import build_cpo_sim
from emulator.cpo_sim.presets import PRESETS
from emulator.rules import RULES

JUNIT_XSD = Path(__file__).parent / "junit.xsd"


async def run(**options: Any) -> Outcome:
    return await CheckRun(CheckOptions(**options), io.StringIO()).execute()


def statuses(outcome: Outcome) -> dict[str, str]:
    return {r.id: r.status for r in outcome.results}


async def test_the_whole_suite_passes_against_the_correct_simulated_cpo(tmp_path: Path) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "check.json"
    options = CheckOptions(against="cpo-sim", junit=junit, json_path=report)
    outcome = await CheckRun(options, io.StringIO()).execute()
    assert outcome.exit_code == 0, [(r.id, r.failures, r.reason) for r in outcome.results]
    ids = set(statuses(outcome))
    assert {"registration.handshake", "mirror.locations-crawl", "payments.assignment"} <= ids
    assert {"journey.approved", "journey.stop-limit", "journey.fac-receipt"} <= ids
    assert set(statuses(outcome).values()) == {"passed"} and outcome.other_findings == []
    out = io.StringIO()
    write_outputs(options, outcome, out)
    assert "Verdict: PASS (exit 0)" in out.getvalue()
    assert "not Payter's certificate" in out.getvalue()
    # The JUnit file is what CI systems read: valid against the format's schema.
    xmlschema.XMLSchema(JUNIT_XSD).validate(junit)
    data = json.loads(report.read_text())
    assert data["verdict"] == "PASS" and data["summary"]["passed"] == len(outcome.results)
    # The same run says which rules it tested.
    assert {"OCPI-35", "OCPI-43", "OCPI-51", "PAYTER-05"} <= set(data["coverage"]["tested"])
    assert data["coverage"]["not_tested"] == []
    approved = next(c for c in data["checks"] if c["id"] == "journey.approved")
    assert "hook" in " ".join(approved["log"]) and approved["rules"]
    # The emulator's own coverage of the run: every rule whose check ran on the traffic is
    # passed, the transport's and the schema's included; what stays unexercised is what the
    # suite sends no traffic for (reservations, credit CDRs, real-time authorization, ...).
    # Both handshakes were made: the CPO's platform first (unregistered), then the main one.
    assert [c["platform_id"] for c in data["emulator_report"]["coverage"]] == [1, 2]
    [coverage] = [
        c
        for c in data["emulator_report"]["coverage"]
        if c["platform_id"] == data["target"]["platform_id"]
    ]
    by_status: dict[str, set[str]] = {}
    for check in coverage["checks"]:
        by_status.setdefault(check["status"], set()).add(check["rule"])
    assert set(by_status) == {"passed", "not_exercised"}, by_status
    assert by_status["not_exercised"] <= NO_TRAFFIC_IN_THE_SUITE, by_status["not_exercised"]
    assert {"OCPI-01", "OCPI-03", "OCPI-05", "OCPI-08", "OCPI-10", "OCPI-30"} <= by_status["passed"]
    assert {"OCPI-31", "OCPI-35", "OCPI-43c", "OCPI-46", "OCPI-55", "PAYTER-05"} <= by_status[
        "passed"
    ]


# Rules the built-in suites send no traffic for, against the simulated CPO (emulator first).
NO_TRAFFIC_IN_THE_SUITE = {
    "OCPI-09",  # the unknown-field probe is opt-in (--probe-unknown-fields)
    "OCPI-16b",  # the spent-token-A probe is opt-in
    "OCPI-17",  # the CPO registered with us first: this platform is the one we registered
    "OCPI-32",  # a method the interface does not have
    "OCPI-41b",  # a Tariff DELETE
    "OCPI-47",  # reservations
    "OCPI-48",  # real-time authorization
    "OCPI-50",  # the Tokens Receiver check (POST /__admin/ocpi/tokens/check)
    "PAYTER-04",  # the customer_reference PATCH (off by default)
}


# Each wrong preset with the checks that show it (the long stop-limit journey only where it
# matters), and two checks that must pass whatever the preset breaks.
MATRIX = {
    "sloppy-headers": ["registration.*", "journey.declined"],
    "raw-token": ["registration.*", "journey.declined"],
    "bad-paging": ["mirror.locations-crawl", "registration.handshake", "journey.declined"],
    "late-result": ["journey.approved", "journey.start-rejected", "registration.handshake"],
    "no-session-after-accept": ["mirror.evse-status-push", "journey.approved", "journey.declined"],
    "patch-without-last-updated": [
        "payments.*",
        "journey.approved",
        "journey.declined",
        "journey.stop-cpo",
        "journey.evse-unavailable",
    ],
    "wrong-cdr-token": [
        "journey.approved",
        "journey.declined",
        "mirror.tariff-usable",
        "journey.stop-cpo",
        "journey.evse-unavailable",
    ],
    "cdr-over-authorization": ["journey.stop-limit", "journey.approved"],
    # Legal by the spec, but no session can start: the checks that need one fail.
    "reject-start": ["journey.approved", "journey.start-rejected", "journey.declined"],
}


def test_the_matrix_covers_every_preset_that_breaks_a_rule() -> None:
    assert set(MATRIX) == {p.name for p in PRESETS.values() if p.rules}


@pytest.mark.parametrize("preset", sorted(MATRIX))
async def test_a_wrong_preset_fails_exactly_the_checks_of_its_rules(preset: str) -> None:
    out = io.StringIO()
    outcome = await CheckRun(
        CheckOptions(against=f"cpo-sim:{preset}", only=MATRIX[preset]), out
    ).execute()
    broken = set(PRESETS[preset].rules)
    # A SHOULD (warning) finding fails no check by itself; a preset that breaks only SHOULDs
    # fails the checks naming them on what follows (here: a capture above the authorization).
    errors = {rule for rule in broken if RULES[rule].severity("2.3.0") == "error"} or broken
    expected = {r.id for r in outcome.results if set(r.rules) & errors}
    failed = {r.id for r in outcome.results if r.status == "failed"}
    assert failed == expected and expected, (preset, statuses(outcome))
    assert all(r.status == "passed" for r in outcome.results if r.id not in expected)
    assert outcome.exit_code == 1 and outcome.other_findings == []
    # The progress line of each check already says what the summary says (a finding made
    # before the check ran, during the registration say, fails it there and then).
    live = {
        line.split()[1]: line.split()[0]
        for line in out.getvalue().splitlines()
        if line.startswith(("PASS", "FAIL"))
    }
    assert live == {r.id: {"passed": "PASS", "failed": "FAIL"}[r.status] for r in outcome.results}
    if not errors & {rule for rule in broken if RULES[rule].severity("2.3.0") == "error"}:
        # A legal preset: the journeys fail on what follows, and say why with the infos noted
        # while they ran (a CommandResult or a Session that never came).
        for r in outcome.results:
            if r.status == "failed" and not r.findings and r.suite == "journey":
                assert {f["rule"] for f in r.notes} & broken, (r.id, r.failures)


@pytest.fixture
async def cpo_on_our_clock() -> AsyncIterator[tuple[Any, Any]]:
    """An emulator and a simulated CPO on one manual clock, the CPO used as an outside
    backend: the check only knows its versions URL and token A."""
    emu = build_emulator(make_settings(default_terminal="APO-0001"))
    cpo = build_cpo_sim(sim_settings(), clock=emu.rt.clock)
    await emu.start()
    await cpo.start()
    yield emu, cpo
    await cpo.stop()
    await emu.stop()


async def test_without_hooks_the_charger_checks_are_not_run(cpo_on_our_clock, tmp_path) -> None:
    emu, cpo = cpo_on_our_clock
    junit = tmp_path / "junit.xml"
    options = CheckOptions(
        cpo_versions_url=cpo.server.versions_url,
        cpo_token_a=SIM_TOKEN_A,
        emulator_url=emu.rt.base_url,
        skip=["journey.stop-limit"],
        junit=junit,
    )
    outcome = await CheckRun(options, io.StringIO()).execute()
    write_outputs(options, outcome, io.StringIO())
    result = statuses(outcome)
    charger = [r for r in outcome.results if set(HOOKS) & set(_needs(r.id))]
    assert {"journey.stop-cpo", "journey.evse-unavailable", "payments.activation"} <= {
        r.id for r in charger
    }
    assert charger and all(r.status == "not_run" for r in charger)
    for r in charger:
        first = next(n for n in _needs(r.id) if n in HOOKS)
        assert f"--hook-{first}" in (r.reason or ""), (r.id, r.reason)
    assert result["journey.declined"] == result["registration.handshake"] == "passed"
    # One handshake only (the emulator registered; no register hook for the other way).
    assert "--hook-register" in next(
        r.reason or "" for r in outcome.results if r.id == "registration.both-directions"
    )
    not_run = [r.id for r in outcome.results if r.status == "not_run"]
    assert set(not_run) == {r.id for r in charger} | {"registration.both-directions"}
    assert "failed" not in result.values()
    assert outcome.exit_code == 2 and outcome.verdict == "INCOMPLETE"
    xmlschema.XMLSchema(JUNIT_XSD).validate(junit)
    assert junit.read_text().count("<skipped") == len(not_run)


def _needs(check_id: str) -> list[str]:
    from emulator.check.scenario import built_in

    suite = built_in(check_id.split(".")[0])
    return next(c.needs for c in suite.checks if c.id == check_id)


async def test_nothing_answering_at_the_cpo_url_is_exit_2(unused_tcp_port: int, tmp_path) -> None:
    junit = tmp_path / "junit.xml"
    options = CheckOptions(
        cpo_versions_url=f"http://127.0.0.1:{unused_tcp_port}/ocpi/versions",
        cpo_token_a="a",
        suites=["registration"],
        junit=junit,
    )
    outcome = await CheckRun(options, io.StringIO()).execute()
    assert outcome.exit_code == 2 and outcome.results == []
    assert "could not register" in (outcome.error or "")
    out = io.StringIO()
    write_outputs(options, outcome, out)
    assert "Could not run: could not register" in out.getvalue()
    # CI shows it as an error of the setup, not as a pass.
    xmlschema.XMLSchema(JUNIT_XSD).validate(junit)
    assert '<testsuites name="payter-emulator check" tests="1" failures="0" errors="1"' in (
        junit.read_text()
    )


async def test_an_empty_selection_is_not_a_pass() -> None:
    outcome = await run(against="cpo-sim", only=["no-such-check"])
    assert outcome.exit_code == 2 and "no check selected" in (outcome.error or "")


async def test_the_cps_suite_needs_a_csms() -> None:
    outcome = await run(against="cpo-sim", suites=["cps"])
    assert {r.status for r in outcome.results} == {"not_run"} and len(outcome.results) == 4
    assert all("--cps-base-callback" in (r.reason or "") for r in outcome.results)
    assert outcome.exit_code == 2


@pytest.mark.parametrize(
    ("sloppy", "failing"),
    [({}, set()), ({"cancels": False, "retries": False}, {"cps.no-start-cancel", "cps.retries"})],
)
async def test_the_cps_suite_against_a_csms(sloppy: dict[str, bool], failing: set[str]) -> None:
    """A CSMS double on the emulator's clock: reads cards, authorizes, commits on unplug,
    cancels when no car comes, retries a refused commit every minute (or, sloppy, neither)."""
    from csms_double import CsmsDouble

    emu = build_emulator(make_settings(default_terminal="APO-0001"))
    cpo = build_cpo_sim(sim_settings(), clock=emu.rt.clock)
    await emu.start()
    await cpo.start()
    csms = await CsmsDouble(emu, **sloppy).start()
    try:
        options = CheckOptions(
            cpo_versions_url=cpo.server.versions_url,
            cpo_token_a=SIM_TOKEN_A,
            emulator_url=emu.rt.base_url,
            cps_base_callback=f"{csms.url}/state",
            suites=["cps"],
            hooks={"plug-in": f"{csms.url}/plug-in", "unplug": f"{csms.url}/unplug"},
        )
        # The CSMS starts reading once the check has created its terminal (it retries).
        emu.rt.clock.call_later(0.5, csms.read_cards, name="csms-start")
        outcome = await CheckRun(options, io.StringIO()).execute()
    finally:
        await csms.stop()
        await cpo.stop()
        await emu.stop()
    checks = ["cps.webhook-state", "cps.tap-to-start", "cps.no-start-cancel", "cps.retries"]
    expected = {c: "failed" if c in failing else "passed" for c in checks}
    assert statuses(outcome) == expected, [(r.id, r.failures, r.reason) for r in outcome.results]
    assert outcome.exit_code == (1 if failing else 0)
    # The CSMS heard the terminal go offline and come back.
    states = [w["online"] for w in csms.state_webhooks]
    assert False in states and True in states[states.index(False) :]


async def test_payments_on_2_2_1_and_a_cpo_without_the_module() -> None:
    outcome = await run(against="cpo-sim", ocpi_version="2.2.1", only=["payments.*"])
    assert set(statuses(outcome).values()) == {"passed"} and outcome.exit_code == 0
    # A CPO whose version details list no payments endpoint: the suite is not run.
    from emulator.check.runner import Runner, Target
    from emulator.check.scenario import built_in

    target = Target(
        emulator=None,  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]
        manual_clock=True,
        platform={"id": 1, "version": "2.2.1", "endpoints": [{"identifier": "locations"}]},
        direction="payter",
        profile="ptp",
        terminal="APO-0001",
        hooks={},
    )
    [first, *_] = built_in("payments").checks
    assert Runner(target)._unmet(first) == "the CPO's version details list no payments endpoint"
