"""The verdict and the Payments checks: Payter's axis is not PASS while checks it needs could
not run (INCOMPLETE, with the reason), and the Payments rules are not applicable, not "not
exercised", with a CPO the emulator runs no Payments with (they hold no verdict)."""

from __future__ import annotations

from typing import Any

from cpo_double import TOKEN_A, CpoDouble, refuse_payments_posts, register_double
from helpers import findings

from emulator.app import EmulatorNode
from emulator.findings import report_text
from emulator.rules import RULES

PAYMENTS_RULES_221 = {r.id for r in RULES.values() if r.payments_only and r.applies_to("2.2.1")}
WITHOUT_PAYMENTS = tuple(m for m in CpoDouble.modules if m[0] != "payments")


async def registered(
    node: EmulatorNode, doubles: list[CpoDouble], version: str, **knobs: Any
) -> CpoDouble:
    double, _ = await register_double(node, doubles, version, **knobs)
    return double


def exercise_the_flows(node: EmulatorNode) -> int:
    """Registration, mirror and a journey to capture marked as done for the platform (what
    the report's verdict waits for; the journeys themselves are tested elsewhere)."""
    [platform] = node.platforms.registered()
    for flow in ("registration", "mirror", "journey"):
        node.rt.coverage.flow(flow, platform.id)
    return platform.id


def statuses(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [part] = [p for p in report["coverage"] if p["platform_id"] is not None]
    return {c["rule"]: c for c in part["checks"]}


async def test_payter_is_incomplete_when_the_payments_checks_could_not_run(
    emulator: EmulatorNode, doubles: list[CpoDouble]
) -> None:
    """2.3.0, the CPO's Payments Receiver answers POSTs without the envelope: OCPI-06 fails
    the spec; the terminal and FAC checks could not run, so Payter's axis is INCOMPLETE and
    says which and why (it read PASS before), whatever else ran."""

    double = await CpoDouble().start()
    doubles.append(double)
    refuse_payments_posts(double)
    await double.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
    await emulator.rt.clock.advance(1)
    await emulator.rt.background.drain()
    pid = exercise_the_flows(emulator)
    report = emulator.rt.findings.report()
    spec, payter = report["axes"]["spec"], report["axes"]["payter"]
    assert (report["verdict"], spec["verdict"]) == ("FAIL", "FAIL")
    assert payter["verdict"] == "INCOMPLETE" and payter["errors"] == 0
    assert spec["incomplete"] == []
    [why] = payter["incomplete"]
    assert why.startswith("payments: OCPI-51, OCPI-52, OCPI-52b, ") and "PAYTER-07" in why
    assert f"could not run on platform {pid} (not checked: OCPI-06 (HTTP 405" in why, why
    assert report["incomplete"] == [why]
    text = report_text(report)
    assert "Payter's solution: INCOMPLETE (0 errors, 0 warnings, 0 infos)" in text
    assert f"  incomplete: {why}" in text.splitlines()
    # A Payter rule that failed is FAIL, not INCOMPLETE.
    emulator.rt.findings.record("PAYTER-05", "no CDR for REF-1", platform_id=pid)
    report = emulator.rt.findings.report()
    assert report["axes"]["payter"]["verdict"] == "FAIL"
    assert report["axes"]["payter"]["incomplete"] == [why]


async def test_checks_that_could_not_run_keep_a_clean_run_from_pass(
    emulator: EmulatorNode, doubles: list[CpoDouble]
) -> None:
    """Nothing failed, the flows ran, but the FAC could not be delivered (the CPO was not
    reachable): the run is INCOMPLETE, not PASS, and the spec axis alone passes."""
    await registered(emulator, doubles, "2.3.0")
    pid = exercise_the_flows(emulator)
    report = emulator.rt.findings.report()
    assert report["verdict"] == "PASS", (report["incomplete"], report["axes"])
    emulator.rt.coverage.not_run("OCPI-57", pid, "the CPO was not reachable (connection refused)")
    report = emulator.rt.findings.report()
    assert report["verdict"] == "INCOMPLETE"
    assert report["axes"]["spec"]["verdict"] == "PASS"
    assert report["axes"]["payter"]["verdict"] == "INCOMPLETE"
    assert report["incomplete"] == [
        f"payments: OCPI-57 could not run on platform {pid} (the CPO was not reachable "
        "(connection refused))"
    ]
    # So does a Payter rule that could not run.
    emulator.rt.coverage.not_checked("PAYTER-03", pid, "OCPI-30 (tariff T1 was refused)")
    assert emulator.rt.findings.report()["axes"]["payter"]["incomplete"][1] == (
        f"payter: PAYTER-03 could not run on platform {pid} (not checked: OCPI-30 (tariff T1 "
        "was refused))"
    )
    # An unregistered platform is history: the whole run no longer waits for it.
    [platform] = emulator.platforms.registered()
    await emulator.registration.unregister(platform)
    assert not emulator.rt.findings.report()["axes"]["payter"]["incomplete"][1:]
    assert emulator.rt.findings.report(pid)["axes"]["payter"]["verdict"] == "INCOMPLETE"


async def test_a_cpo_without_a_payments_module_terminal_checks_not_run(
    emulator: EmulatorNode, doubles: list[CpoDouble]
) -> None:
    """2.3.0, where Payter needs Payments, and the CPO lists none: OCPI-51 is the one error;
    the checks that follow from the terminal say "not checked: OCPI-51", and Payter's axis
    is INCOMPLETE for them."""
    await registered(emulator, doubles, "2.3.0", modules=WITHOUT_PAYMENTS)
    exercise_the_flows(emulator)
    report = emulator.rt.findings.report()
    by_rule = statuses(report)
    assert by_rule["OCPI-51"]["status"] == "failed"
    for rule in ("OCPI-52", "OCPI-54", "OCPI-57", "OCPI-58", "PAYTER-07"):
        assert by_rule[rule]["status"] == "not_run", by_rule[rule]
        assert by_rule[rule]["reason"].startswith("not checked: OCPI-51 (the platform exposes")
    # The CPO's own optional call and Payter's opt-in PATCH wait for nothing.
    assert by_rule["OCPI-53"]["status"] == by_rule["PAYTER-04"]["status"] == "not_exercised"
    assert report["axes"]["payter"]["verdict"] == "INCOMPLETE"
    assert [r["rule"] for r in report["axes"]["spec"]["rules"]] == ["OCPI-51"]


async def test_payments_rules_are_not_applicable_without_payments(
    emulator: EmulatorNode, doubles: list[CpoDouble]
) -> None:
    """2.2.1, the CPO lists no payments module: every Payments rule (not just OCPI-54 and
    OCPI-58) is not applicable, with the reason; they hold no verdict, and a Payments finding
    is not raised against that CPO."""
    await registered(emulator, doubles, "2.2.1", modules=WITHOUT_PAYMENTS)
    pid = exercise_the_flows(emulator)
    report = emulator.rt.findings.report()
    moot = {r: c for r, c in statuses(report).items() if c["status"] == "not_applicable"}
    assert set(moot) == PAYMENTS_RULES_221
    assert {"OCPI-54", "OCPI-58", "OCPI-51", "PAYTER-07"} <= set(moot)
    assert {c["reason"] for c in moot.values()} == {
        "the CPO offers no Payments module (its OCPI 2.2.1 endpoints list none)"
    }
    [part] = [p for p in report["coverage"] if p["platform_id"] == pid]
    assert part["counts"]["not_applicable"] == len(PAYMENTS_RULES_221)
    # Not INCOMPLETE for them: the flows ran, nothing failed.
    assert report["verdict"] == "PASS", (report["incomplete"], report["axes"])
    assert report["axes"]["payter"]["verdict"] == "PASS"
    # PAYTER-01 (a warning) says Payter wants the module; the Payments checks are moot.
    assert [f["rule"] for f in findings(emulator)] == ["PAYTER-01"]
    assert emulator.rt.findings.record("OCPI-54", "no tariff", platform_id=pid) is None
    assert statuses(emulator.rt.findings.report())["OCPI-54"]["status"] == "not_applicable"
    lines = report_text(report).splitlines()
    assert (
        f"  not applicable: {', '.join(c for c in statuses(report) if c in moot)}: "
        "the CPO offers no Payments module (its OCPI 2.2.1 endpoints list none)"
    ) in lines
    assert any("13 not applicable" in line for line in lines) == (len(moot) == 13)
    [platform] = report["platforms"]
    assert platform["payments"]["variant"] is None
    assert platform["payments"]["reason"].startswith("the CPO offers no Payments module")


async def test_payments_left_out_by_the_settings_is_not_applicable_either(
    start_emulator: Any, doubles: list[CpoDouble]
) -> None:
    node = await start_emulator(payments_versions="2.3.0")
    await registered(node, doubles, "2.2.1")
    by_rule = statuses(node.rt.findings.report())
    assert by_rule["OCPI-57"] == {
        **by_rule["OCPI-57"],
        "status": "not_applicable",
        "reason": "Payments is not run on OCPI 2.2.1 (--payments-versions 2.3.0)",
    }
    # Rules of other modules are not touched.
    assert by_rule["OCPI-35"]["status"] == "not_exercised"
