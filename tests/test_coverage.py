"""Coverage marks: a check notes its rules where it runs (``checked`` / ``@checks``), and the
enclosing scope marks them for its platform; a check outside any scope marks nothing; a rule
that could not run and then ran is passed "in part", with the reason kept."""

from __future__ import annotations

from emulator.app import EmulatorNode
from emulator.coverage import checked, checks


@checks("OCPI-33")
def a_check(value: int) -> int:
    return value * 2


def status_of(node: EmulatorNode, platform_id: int, rule: str) -> dict:
    rows = node.rt.coverage.checks(platform_id, [], "2.3.0")
    return next(r for r in rows if r["rule"] == rule)


async def test_a_check_marks_its_rules_for_the_platform_of_its_scope(
    emulator: EmulatorNode,
) -> None:
    coverage = emulator.rt.coverage
    assert a_check(2) == 4  # outside a scope: still a plain function, nothing marked
    checked("OCPI-35")
    assert status_of(emulator, 1, "OCPI-33")["status"] == "not_exercised"
    assert status_of(emulator, 1, "OCPI-35")["status"] == "not_exercised"
    with coverage.scope(1):
        a_check(1)
        with coverage.scope(2):  # an outbound call for another platform, say
            checked("OCPI-35")
    assert status_of(emulator, 1, "OCPI-33")["status"] == "passed"
    assert status_of(emulator, 1, "OCPI-35")["status"] == "not_exercised"
    assert status_of(emulator, 2, "OCPI-35")["status"] == "passed"


async def test_a_rule_that_could_not_run_and_then_ran_passed_in_part(
    emulator: EmulatorNode,
) -> None:
    coverage = emulator.rt.coverage
    coverage.not_checked("OCPI-26", 1, "OCPI-06b (data as a list)")
    assert status_of(emulator, 1, "OCPI-26") == {
        **status_of(emulator, 1, "OCPI-26"),
        "status": "not_run",
        "reason": "not checked: OCPI-06b (data as a list)",
    }
    coverage.ran("OCPI-26", 1)
    row = status_of(emulator, 1, "OCPI-26")
    assert row["status"] == "passed"
    assert row["reason"] == "partly not checked: OCPI-06b (data as a list)"
