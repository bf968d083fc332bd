"""payter-emulator check and the emulator's report agree on a CPO without Payments: the
journeys that wait for an assignment the CPO cannot make could not run (not failed), the
Payments rules are not applicable, and the run stays on the OCPI version it asked for."""

from __future__ import annotations

import io

import pytest

from emulator.check.run import CheckOptions, CheckRun, write_outputs
from emulator.check.runner import ERROR, NOT_RUN, PASSED


async def test_a_221_cpo_without_payments_is_incomplete_in_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMULATOR_CPO_SIM_PAYMENTS_VERSIONS", "2.3.0")
    options = CheckOptions(against="cpo-sim", ocpi_version="2.2.1")
    outcome = await CheckRun(options, io.StringIO()).execute()
    by_id = {r.id: r for r in outcome.results}
    assert by_id["registration.update"].status == PASSED
    assert by_id["payments.assignment"].status == NOT_RUN
    approved = by_id["journey.approved"]
    assert approved.status == ERROR, (approved.status, approved.failures)
    assert approved.reason == (
        "terminal APO-0001 is not assigned: the emulator runs no Payments module with this "
        "CPO (the CPO offers no Payments module (its OCPI 2.2.1 endpoints list none)), so the "
        "CPO cannot assign it; assign it by hand (POST /__admin/terminals/APO-0001/assign) to "
        "run the journeys"
    )
    assert not [r.id for r in outcome.results if r.status == "failed"]
    assert (outcome.exit_code, outcome.verdict) == (2, "INCOMPLETE")
    report = outcome.emulator_report
    assert report is not None and report["verdict"] == "INCOMPLETE"
    # The credentials update kept the version the run asked for.
    [platform] = report["platforms"]
    assert platform["version"] == "2.2.1" == outcome.target["ocpi_version"]
    [part] = [c for c in report["coverage"] if c["platform_id"] == platform["id"]]
    by_rule = {c["rule"]: c["status"] for c in part["checks"]}
    assert by_rule["OCPI-54"] == by_rule["OCPI-58"] == "not_applicable"
    out = io.StringIO()
    write_outputs(options, outcome, out)
    assert "Verdict: INCOMPLETE (exit 2)" in out.getvalue()
    assert (
        "The emulator's report: INCOMPLETE (OCPI specification INCOMPLETE, Payter's solution "
        "INCOMPLETE)\n  (its verdict on all the run's traffic, GET /__admin/report: warnings "
        "fail it only with --strict)\n"
        "  incomplete: journey: a card journey ran through to capture (not yet)\n"
    ) in out.getvalue()
