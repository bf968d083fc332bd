"""The findings ledger: what the CPO did wrong, by which rule, on which axis.

A finding names a rule of :mod:`emulator.rules`, the exchange of the traffic journal it came
from, a one-line explanation and, where it applies, the JSON pointer of the offending value.
Its severity is the rule's for the OCPI version of the platform it concerns (the spec's own
keyword in that version), never chosen at the call site.

The report sums findings up per axis (``spec`` and ``payter``) into a verdict, and says what
was checked (:mod:`emulator.coverage`): ``PASS`` only when nothing failed and the flows Payter
needs were exercised, ``INCOMPLETE`` when they were not, ``FAIL`` on an error (or, strict, on a
warning). Infos never fail a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from emulator import logs
from emulator.coverage import GAP_KINDS, STATUSES, Coverage, payter_gaps
from emulator.datetimes import format_datetime
from emulator.events import EventBus
from emulator.rules import RULES, Rule, RuleId
from emulator.store import Store, TableSpec

log = logs.get_logger("emulator.findings")

Rows = list[dict[str, Any]]

# The three verdicts, wherever one is printed.
PASS, FAIL, INCOMPLETE = "PASS", "FAIL", "INCOMPLETE"

FINDINGS = TableSpec(
    name="findings",
    columns={
        "id": int,
        "at": str,
        "rule": str,
        "severity": str,
        "axis": str,
        "title": str,
        "message": str,
        "pointer": str,
        "reference": str,
        "platform_id": int,
        "exchange_id": int,
        "context": str,
    },
    json_columns=frozenset({"context"}),
    indexes=(("rule",), ("platform_id",), ("severity",)),
)


class Finding(TypedDict):
    """One finding of the ledger (``findings``), as the control API, the report and the
    event stream (without ``context``) show it."""

    id: int | None
    at: str
    rule: str
    severity: str  # error | warning | info
    axis: str  # spec | payter
    title: str
    message: str
    pointer: str | None
    reference: str
    platform_id: int | None
    exchange_id: int | None
    context: dict[str, Any] | None


FindingRows = list[Finding]


@dataclass(frozen=True)
class Problem:
    """A finding not yet recorded: what a check found (``rule``, ``message``, the JSON
    ``pointer`` of the offending value); the caller records it on its exchange. Its severity
    is the rule's in the platform's OCPI version (emulator.rules), never the check's."""

    rule: RuleId
    message: str
    pointer: str | None = None


class Findings:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        now: Any,
        *,
        strict: bool = False,
        retention: int | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.now = now
        self.strict = strict
        # Findings kept (None: all). Pruning is amortised like the journal's: O(1) a finding.
        self.retention = retention
        self._since_prune = 0
        # Checks that only make sense when a report is asked for (sessions still open, ...).
        self.before_report: list[Callable[[], None]] = []
        # The negotiated OCPI version of a platform (set by the node that owns platforms):
        # a rule's severity depends on it.
        self.version_of: Callable[[int], str | None] | None = None
        # What was checked (set by the runtime); a finding means its check ran.
        self.coverage: Coverage | None = None
        # The platforms to report coverage for: dicts with id, name, version (set by the node).
        self.platforms_info: Callable[[], list[dict[str, Any]]] | None = None
        # What a node adds to the report (given the platform_id asked for): a dict merged
        # into it, such as the Payments variant used with each platform.
        self.report_context: list[Callable[[int | None], dict[str, Any]]] = []
        store.register(FINDINGS)

    def _version(self, platform_id: int | None, version: str | None) -> str | None:
        if version is not None:
            return version
        if platform_id is not None and self.version_of is not None:
            return self.version_of(platform_id)
        return None

    def severity(self, rule_id: RuleId, platform_id: int | None = None) -> str:
        """The severity ``rule_id`` has for ``platform_id``'s version."""
        return RULES[rule_id].severity(self._version(platform_id, None))

    def record(
        self,
        rule_id: RuleId,
        message: str,
        *,
        platform_id: int | None = None,
        exchange_id: int | None = None,
        pointer: str | None = None,
        context: dict[str, Any] | None = None,
        once: bool = False,
        version: str | None = None,
    ) -> Finding | None:
        """Record a finding under ``rule_id``, at the severity the rule has in the OCPI
        ``version`` (default: the platform's). A rule that does not apply to that version is
        not recorded. With ``once``, an identical one (rule, platform, message) already in
        the ledger is not repeated (used by periodic checks such as polls)."""
        rule: Rule = RULES[rule_id]
        version = self._version(platform_id, version)
        if not rule.applies_to(version):
            log.debug("rule not in this version", rule=rule_id, version=version)
            return None
        if rule.module is not None and self.coverage is not None:
            # A Payments rule with a CPO the emulator runs no Payments with: no spec text
            # binds it there (the report lists the rule as not applicable, and why).
            why = self.coverage.not_applicable(rule_id, platform_id)
            if why:
                log.debug("rule not applicable", rule=rule_id, platform_id=platform_id, why=why)
                return None
        if self.coverage is not None:
            self.coverage.ran(rule_id, platform_id)
        if once and self.store.count(
            "findings",
            "rule = ? and coalesce(platform_id, -1) = ? and message = ?",
            [rule_id, platform_id if platform_id is not None else -1, message],
        ):
            return None
        row: Finding = {
            "id": None,
            "at": format_datetime(self.now()),
            "rule": rule.id,
            "severity": rule.severity(version),
            "axis": rule.axis,
            "title": rule.title,
            "message": message,
            "pointer": pointer,
            "reference": rule.reference(version),
            "platform_id": platform_id,
            "exchange_id": exchange_id,
            "context": context,
        }
        stored = {key: value for key, value in row.items() if key != "id"}
        finding_id = self.store.insert("findings", stored)
        row["id"] = finding_id
        self.bus.publish("finding", **{k: v for k, v in row.items() if k != "context"})
        if finding_id is not None:
            self._prune(finding_id)
        return row

    def withdraw(self, platform_id: int) -> int:
        """Remove the findings of a platform that never came to be: a registration against a
        URL that is not an OCPI versions endpoint judges no CPO (the error answer and the
        journal say what happened). Returns how many were removed."""
        count = self.store.count("findings", "platform_id = ?", [platform_id])
        if count:
            self.store.execute("delete from findings where platform_id = ?", [platform_id])
            self.bus.publish("finding.withdrawn", platform_id=platform_id, count=count)
        return count

    def _prune(self, newest: int) -> None:
        if not self.retention:
            return
        self._since_prune += 1
        if self._since_prune >= max(1, self.retention // 100):
            self._since_prune = 0
            self.store.execute("delete from findings where id <= ?", [newest - self.retention])

    def list(
        self,
        *,
        platform_id: int | None = None,
        rule: str | None = None,
        severity: str | None = None,
        axis: str | None = None,
        exchange_id: int | None = None,
        since_id: int = 0,
        limit: int = 1000,
    ) -> list[Finding]:
        clauses: list[str] = ["id > ?"]
        params: list[Any] = [since_id]
        if platform_id is not None:
            clauses.append("platform_id = ?")
            params.append(platform_id)
        if rule:
            clauses.append("rule = ?")
            params.append(rule)
        if severity:
            clauses.append("severity = ?")
            params.append(severity)
        if axis:
            clauses.append("axis = ?")
            params.append(axis)
        if exchange_id is not None:
            clauses.append("exchange_id = ?")
            params.append(exchange_id)
        rows = self.store.rows(
            "findings", " and ".join(clauses), params, order_by="id", limit=limit
        )
        return cast("list[Finding]", rows)

    def report(
        self, platform_id: int | None = None, *, strict: bool | None = None
    ) -> dict[str, Any]:
        """Findings summed up per axis, and what was checked. An axis fails on an error, or in
        strict mode (the setting, or ``strict`` for this report) on a warning too; infos never
        fail. Nothing failed but the flows Payter needs not all exercised: ``INCOMPLETE``."""
        strict = self.strict if strict is None else strict
        for check in self.before_report:
            check()
        rows = self.list(platform_id=platform_id, limit=1_000_000)
        missing = self.coverage.missing_flows(platform_id) if self.coverage is not None else []
        coverage = self._coverage(platform_id, rows)
        # Payter's axis also needs the checks it relies on to have run (the Payments checks,
        # where Payments is in use): not PASS for work that could not be examined.
        judged = self._judged(platform_id)
        gaps = [
            gap for part in coverage if part["platform_id"] in judged for gap in payter_gaps(part)
        ]
        axes: dict[str, Any] = {}
        for axis in ("spec", "payter"):
            mine = [r for r in rows if r["axis"] == axis]
            errors = sum(1 for r in mine if r["severity"] == "error")
            warnings = sum(1 for r in mine if r["severity"] == "warning")
            infos = sum(1 for r in mine if r["severity"] == "info")
            failed = errors > 0 or (strict and warnings > 0)
            # One line per rule and severity (a rule can differ per OCPI version), errors first.
            by_rule = Counter((r["rule"], r["severity"]) for r in mine)
            rank = {"error": 0, "warning": 1, "info": 2}
            order = sorted(by_rule, key=lambda k: (rank.get(k[1], 3), k[0]))
            incomplete = missing + gaps if axis == "payter" else missing
            axes[axis] = {
                "verdict": FAIL if failed else INCOMPLETE if incomplete else PASS,
                "incomplete": incomplete,
                "errors": errors,
                "warnings": warnings,
                "infos": infos,
                "rules": [
                    {
                        "rule": rule_id,
                        "count": by_rule[(rule_id, severity)],
                        "severity": severity,
                        "title": RULES[rule_id].title,
                        "basis": RULES[rule_id].basis,
                        "reference": next(
                            r["reference"]
                            for r in mine
                            if r["rule"] == rule_id and r["severity"] == severity
                        ),
                        "example": next(
                            r["message"]
                            for r in mine
                            if r["rule"] == rule_id and r["severity"] == severity
                        ),
                    }
                    for rule_id, severity in order
                ],
            }
        verdicts = {a["verdict"] for a in axes.values()}
        overall = FAIL if FAIL in verdicts else INCOMPLETE if INCOMPLETE in verdicts else PASS
        out = {
            "verdict": overall,
            "strict": strict,
            "platform_id": platform_id,
            "generated_at": format_datetime(self.now()),
            "incomplete": missing + gaps,
            "axes": axes,
            "coverage": coverage,
        }
        for context in self.report_context:
            out.update(context(platform_id))
        return out

    def _judged(self, platform_id: int | None) -> set[int]:
        """The platforms whose checks the report judges: the one asked for, or for the whole
        run every registered one (a platform unregistered since is history)."""
        if platform_id is not None:
            return {platform_id}
        platforms = self.platforms_info() if self.platforms_info is not None else []
        return {p["id"] for p in platforms if p.get("status") in (None, "REGISTERED")}

    def _coverage(self, platform_id: int | None, rows: FindingRows) -> Rows:
        """Per platform (and ``null`` for what concerns none, such as CPS): the flows it went
        through and every check with its status."""
        if self.coverage is None:
            return []
        platforms = self.platforms_info() if self.platforms_info is not None else []
        if platform_id is not None:
            platforms = [p for p in platforms if p["id"] == platform_id]
        flows = self.coverage.flows(platform_id)
        out = []
        for p in platforms:
            done = flows.get(str(p["id"]), {})
            checks = self.coverage.checks(
                p["id"], [r for r in rows if r["platform_id"] == p["id"]], p.get("version")
            )
            out.append(_platform_coverage(p, done, self.coverage.ocpi_flows, checks))
        if platform_id is None:
            loose = [r for r in rows if r["platform_id"] is None]
            checks = [
                c for c in self.coverage.checks(None, loose, None) if c["status"] != "not_exercised"
            ]
            done = flows.get("-", {})
            if checks or done:
                out.append(_platform_coverage(None, done, self.coverage.cps_flows, checks))
        return out


def _platform_coverage(
    platform: dict[str, Any] | None,
    done: dict[str, Any],
    required: dict[Any, str],
    checks: list[dict[str, Any]],
) -> dict[str, Any]:
    counts = Counter(c["status"] for c in checks)
    return {
        "platform_id": platform["id"] if platform else None,
        "name": platform.get("name") if platform else None,
        "version": platform.get("version") if platform else None,
        "flows": {f: done.get(f) for f in required},
        "counts": {s: counts.get(s, 0) for s in STATUSES},
        "checks": checks,
    }


def report_text(report: dict[str, Any]) -> str:
    """The report as a person reads it in a terminal or a CI log."""
    lines = [
        f"Verdict: {report['verdict']}" + (" (strict)" if report.get("strict") else ""),
    ]
    for why in report.get("incomplete") or []:
        lines.append(f"  incomplete: {why}")
    lines.append("")
    for axis, label in (("spec", "OCPI specification"), ("payter", "Payter's solution")):
        part = report["axes"][axis]
        lines.append(
            f"{label}: {part['verdict']} ({part['errors']} errors, {part['warnings']} warnings, "
            f"{part.get('infos', 0)} infos)"
        )
        # What keeps this axis alone from PASS (the flows are under the verdict).
        for why in part.get("incomplete") or []:
            if why.startswith(GAP_KINDS):
                lines.append(f"  incomplete: {why}")
        for item in part["rules"]:
            basis = f" [{item['basis']}]" if item.get("basis") else ""
            lines.append(
                f"  [{item['severity']}] {item['rule']} x{item['count']}: {item['title']}{basis}"
            )
            lines.append(f"      e.g. {item['example']}")
            lines.append(f"      see {item['reference']}")
        lines.append("")
    for platform in report.get("platforms") or []:
        payments = platform.get("payments") or {}
        lines.append(
            f"Platform {platform.get('id')} (OCPI {platform.get('version') or '?'}): "
            f"{payments.get('description') or 'no Payments'}"
            + (f": {payments['reason']}" if payments.get("reason") else "")
        )
    for part in report.get("coverage") or []:
        who = (
            f"platform {part['platform_id']}"
            + (f" {part['name']}" if part.get("name") else "")
            + (f" (OCPI {part['version']})" if part.get("version") else "")
            if part["platform_id"] is not None
            else "no platform (CPS, or before registration)"
        )
        lines.append(f"Coverage, {who}:")
        flows = ", ".join(f"{f} {'yes' if at else 'no'}" for f, at in part["flows"].items())
        if flows:
            lines.append(f"  flows: {flows}")
        c = part["counts"]
        lines.append(
            f"  checks: {c['passed']} passed, {c['failed']} failed, {c['noted']} noted, "
            f"{c['not_run']} could not run, {c.get('not_applicable', 0)} not applicable, "
            f"{c['not_exercised']} not exercised"
        )
        for check in part["checks"]:
            if check["status"] == "not_run":
                lines.append(f"  not run: {check['rule']}: {check.get('reason')}")
        # Rules that cannot apply, one line per reason (the Payments checks share one).
        moot: dict[str, list[str]] = {}
        for check in part["checks"]:
            if check["status"] == "not_applicable":
                moot.setdefault(str(check.get("reason")), []).append(check["rule"])
        for reason, rules in moot.items():
            lines.append(f"  not applicable: {', '.join(rules)}: {reason}")
        idle = [ch["rule"] for ch in part["checks"] if ch["status"] == "not_exercised"]
        if idle:
            lines.append(f"  not exercised: {', '.join(idle)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
