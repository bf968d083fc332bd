"""What ``payter-emulator check`` writes: a progress line per check, the summary table with
the findings of failed checks, JUnit XML for CI and a JSON document."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import TYPE_CHECKING, Any

from emulator import jsonio
from emulator.check.runner import ERROR, FAILED, NOT_RUN, PASSED, CheckResult
from emulator.rules import RULES

if TYPE_CHECKING:
    from emulator.check.run import Outcome

LABEL = {PASSED: "PASS", FAILED: "FAIL", NOT_RUN: "NOT RUN", ERROR: "ERROR"}
COLOUR = {PASSED: "32", FAILED: "31", NOT_RUN: "33", ERROR: "35"}
NOT_A_CERTIFICATE = (
    "Passing these checks is not Payter's certificate of validation: Payter's Protocol "
    "Validation and Live Proving still follow."
)


def _label(status: str, color: bool) -> str:
    text = f"{LABEL[status]:<7}"
    return f"\x1b[{COLOUR[status]}m{text}\x1b[0m" if color else text


def progress_line(result: CheckResult, color: bool = False) -> str:
    line = f"{_label(result.status, color)} {result.id}  ({result.seconds:.2f} s)"
    if result.status in (NOT_RUN, ERROR) and result.reason:
        line += f": {result.reason}"
    elif result.status == FAILED:
        first = result.failures[:1] or [f"{f['rule']}: {f['message']}" for f in result.findings[:1]]
        line += f": {first[0]}" if first else ""
    return line


def finding_lines(findings: list[dict[str, Any]], per_rule: int = 3) -> list[str]:
    """Findings grouped by rule: the rule, its title and spec reference once, then its
    messages, each once with how often it came (one root cause, often many exchanges)."""
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        by_rule.setdefault(str(f["rule"]), []).append(f)
    lines: list[str] = []
    for rule, group in by_rule.items():
        first = group[0]
        count = f" x{len(group)}" if len(group) > 1 else ""
        lines.append(f"[{first['severity']}] {rule}{count}: {first.get('title', '')}")
        lines.append(f"    see {first.get('reference', '')}")
        messages: dict[str, list[dict[str, Any]]] = {}
        for f in group:
            label = f["message"] + (" (outside the check)" if f.get("outside") else "")
            messages.setdefault(label, []).append(f)
        for label, same in list(messages.items())[:per_rule]:
            times = f" (x{len(same)})" if len(same) > 1 else ""
            lines.append(f"    - {label}{times}")
            exchange = same[0].get("exchange_id")
            if exchange:
                lines.append(f"      exchange {exchange} (GET /__admin/journal/{exchange})")
        if len(messages) > per_rule:
            lines.append(f"    - ... and {len(messages) - per_rule} other messages")
    return lines


def counts(results: list[CheckResult]) -> Counter[str]:
    return Counter(r.status for r in results)


def summary(outcome: Outcome, *, color: bool = False) -> str:
    lines = [""]
    if outcome.error:
        lines.append(f"Could not run: {outcome.error}")
    results = outcome.results
    if results:
        width = max(len(r.id) for r in results)
        lines.append(f"{'Check':<{width}}  Result   Rules")
        for r in results:
            lines.append(f"{r.id:<{width}}  {_label(r.status, color)}  {' '.join(r.rules)}")
        lines.append("")
    failed = [r for r in results if r.status == FAILED]
    if failed:
        lines.append("Failed checks:")
        for r in failed:
            lines.append(f"  {r.id}: {r.title}")
            for failure in r.failures:
                lines.append(f"    - {failure}")
            lines.extend("    " + line for line in finding_lines(r.findings))
            if r.notes:
                lines.append("    noted while it ran (infos: they fail nothing, but say why):")
                lines.extend("    " + line for line in finding_lines(r.notes))
        lines.append("")
    if outcome.other_findings:
        lines.append("Errors the emulator found that no check names:")
        for f in outcome.other_findings:
            lines.append(f"    [{f['severity']}] {f['rule']}: {f['message']}")
        lines.append("")
    lines.extend(emulator_lines(outcome.emulator_report))
    c = counts(results)
    lines.append(
        f"{len(results)} checks: {c[PASSED]} passed, {c[FAILED]} failed, "
        f"{c[NOT_RUN]} not run, {c[ERROR]} errors in {outcome.seconds:.1f} s. "
        f"Verdict: {outcome.verdict} (exit {outcome.exit_code})"
    )
    lines.append(NOT_A_CERTIFICATE)
    return "\n".join(lines) + "\n"


def emulator_lines(report: dict[str, Any] | None) -> list[str]:
    """The emulator's own verdict of the run, per axis, and what keeps it from PASS: the
    same report as GET /__admin/report (the checks judge the selected steps; the report the
    whole run, so a subset of checks can pass while the report is INCOMPLETE)."""
    if not report or "axes" not in report:
        return []
    axes = report["axes"]
    lines = [
        f"The emulator's report: {report.get('verdict')} (OCPI specification "
        f"{axes['spec']['verdict']}, Payter's solution {axes['payter']['verdict']})",
        "  (its verdict on all the run's traffic, GET /__admin/report: warnings fail it only "
        "with --strict)",
    ]
    lines.extend(f"  incomplete: {why}" for why in report.get("incomplete") or [])
    lines.append("")
    return lines


def coverage(results: list[CheckResult]) -> dict[str, Any]:
    """Which rules the run exercised, which its checks name but could not exercise, and
    which no selected check names."""
    tested = sorted({rule for r in results if r.status in (PASSED, FAILED) for rule in r.rules})
    untested = sorted(
        {rule for r in results if r.status in (NOT_RUN, ERROR) for rule in r.rules} - set(tested)
    )
    named = set(tested) | set(untested)
    return {
        "tested": tested,
        "not_tested": untested,
        "not_in_any_check": sorted(set(RULES) - named),
    }


def as_json(outcome: Outcome) -> dict[str, Any]:
    c = counts(outcome.results)
    return {
        "verdict": outcome.verdict,
        "exit_code": outcome.exit_code,
        "error": outcome.error,
        "target": outcome.target,
        "seconds": round(outcome.seconds, 3),
        "summary": {
            "checks": len(outcome.results),
            "passed": c[PASSED],
            "failed": c[FAILED],
            "not_run": c[NOT_RUN],
            "errors": c[ERROR],
        },
        "checks": [r.as_json() for r in outcome.results],
        "other_findings": outcome.other_findings,
        "coverage": coverage(outcome.results),
        "emulator_report": outcome.emulator_report,
        "note": NOT_A_CERTIFICATE,
    }


def json_text(outcome: Outcome) -> str:
    return jsonio.dumps(as_json(outcome), indent=2) + "\n"


def junit_xml(outcome: Outcome) -> str:
    """JUnit XML as CI systems read it: one testsuite per suite, one testcase per check;
    a failed check is a <failure>, a check not run is <skipped>, a check that could not be
    carried out an <error>."""
    results = outcome.results
    root = ET.Element("testsuites", name="payter-emulator check")
    _totals(root, results, outcome.seconds)
    # The format counts skipped test cases per testsuite only.
    del root.attrib["skipped"]
    if outcome.error:
        root.set("tests", str(len(results) + 1))
        root.set("errors", str(counts(results)[ERROR] + 1))
    suites: dict[str, list[CheckResult]] = {}
    for r in results:
        suites.setdefault(r.suite, []).append(r)
    if outcome.error:
        suites.setdefault("setup", [])
    for name, members in suites.items():
        suite = ET.SubElement(root, "testsuite", name=name)
        _totals(suite, members, sum(r.seconds for r in members))
        props = ET.SubElement(suite, "properties")
        for key, value in sorted(outcome.target.items()):
            ET.SubElement(props, "property", name=str(key), value=str(value))
        if name == "setup" and outcome.error:
            suite.set("tests", "1")
            suite.set("errors", "1")
            case = ET.SubElement(suite, "testcase", name="setup", classname="setup", time="0")
            ET.SubElement(case, "error", message=outcome.error, type="could-not-run")
        for r in members:
            case = ET.SubElement(
                suite, "testcase", name=r.id, classname=r.suite, time=f"{r.seconds:.3f}"
            )
            if r.status == FAILED:
                rules = sorted({f["rule"] for f in r.findings})
                message = (r.failures or [f"{f['rule']}: {f['message']}" for f in r.findings])[0]
                failure = ET.SubElement(
                    case, "failure", message=message, type=" ".join(rules) or "check"
                )
                failure.text = _failure_text(r)
            elif r.status == NOT_RUN:
                ET.SubElement(case, "skipped", message=f"not run: {r.reason}")
            elif r.status == ERROR:
                ET.SubElement(case, "error", message=r.reason or "error", type="could-not-run")
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(
                [f"{r.title}", f"rules: {' '.join(r.rules)}", *r.references, *r.log]
            )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _totals(element: ET.Element, results: list[CheckResult], seconds: float) -> None:
    c = counts(results)
    element.set("tests", str(len(results)))
    element.set("failures", str(c[FAILED]))
    element.set("errors", str(c[ERROR]))
    element.set("skipped", str(c[NOT_RUN]))
    element.set("time", f"{seconds:.3f}")


def _failure_text(r: CheckResult) -> str:
    lines = [*r.failures, *finding_lines(r.findings, per_rule=10)]
    if r.notes:
        lines.append("noted while it ran (infos):")
        lines.extend(finding_lines(r.notes, per_rule=10))
    return "\n".join(lines)
