"""The findings ledger: what the CPO did wrong, by which rule, on which axis.

A finding names a rule of :mod:`emulator.rules`, the exchange of the traffic journal it came
from, a one-line explanation and, where it applies, the JSON pointer of the offending value.
The report sums findings up per axis (``spec`` and ``payter``) into a verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.datetimes import format_datetime
from emulator.events import EventBus
from emulator.rules import RULES, Rule
from emulator.store import Store, TableSpec

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


@dataclass(frozen=True)
class Problem:
    """A finding not yet recorded: what a check found (``rule``, ``message``, the JSON
    ``pointer`` of the offending value); the caller records it on its exchange, with
    ``severity`` where it differs from the rule's."""

    rule: str
    message: str
    pointer: str | None = None
    severity: str | None = None


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
        # What a node adds to the report (given the platform_id asked for): a dict merged
        # into it, such as the Payments variant used with each platform.
        self.report_context: list[Callable[[int | None], dict[str, Any]]] = []
        store.register(FINDINGS)

    def record(
        self,
        rule_id: str,
        message: str,
        *,
        platform_id: int | None = None,
        exchange_id: int | None = None,
        pointer: str | None = None,
        severity: str | None = None,
        context: dict[str, Any] | None = None,
        once: bool = False,
    ) -> dict[str, Any] | None:
        """Record a finding. With ``once``, an identical one (rule, platform, message) already
        in the ledger is not repeated (used by periodic checks such as polls)."""
        rule: Rule = RULES[rule_id]
        if once and self.store.count(
            "findings",
            "rule = ? and coalesce(platform_id, -1) = ? and message = ?",
            [rule_id, platform_id if platform_id is not None else -1, message],
        ):
            return None
        row = {
            "at": format_datetime(self.now()),
            "rule": rule.id,
            "severity": severity or rule.severity,
            "axis": rule.axis,
            "title": rule.title,
            "message": message,
            "pointer": pointer,
            "reference": rule.reference,
            "platform_id": platform_id,
            "exchange_id": exchange_id,
            "context": context,
        }
        finding_id = self.store.insert("findings", row)
        row["id"] = finding_id
        self.bus.publish("finding", **{k: v for k, v in row.items() if k != "context"})
        if finding_id is not None:
            self._prune(finding_id)
        return row

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
    ) -> list[dict[str, Any]]:
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
        return self.store.rows(
            "findings", " and ".join(clauses), params, order_by="id", limit=limit
        )

    def report(
        self, platform_id: int | None = None, *, strict: bool | None = None
    ) -> dict[str, Any]:
        """Findings summed up per axis. An axis fails on an error, or in strict mode (the
        setting, or ``strict`` for this report) on a warning too."""
        strict = self.strict if strict is None else strict
        for check in self.before_report:
            check()
        rows = self.list(platform_id=platform_id, limit=1_000_000)
        axes: dict[str, Any] = {}
        for axis in ("spec", "payter"):
            mine = [r for r in rows if r["axis"] == axis]
            errors = sum(1 for r in mine if r["severity"] == "error")
            warnings = sum(1 for r in mine if r["severity"] == "warning")
            failed = errors > 0 or (strict and warnings > 0)
            # A rule's findings can differ in severity (a check may record a warning under an
            # error rule): one line per rule and severity, errors first.
            by_rule = Counter((r["rule"], r["severity"]) for r in mine)
            order = sorted(by_rule, key=lambda k: (k[1] != "error", k[0]))
            axes[axis] = {
                "verdict": "FAIL" if failed else "PASS",
                "errors": errors,
                "warnings": warnings,
                "rules": [
                    {
                        "rule": rule_id,
                        "count": by_rule[(rule_id, severity)],
                        "severity": severity,
                        "title": RULES[rule_id].title,
                        "reference": RULES[rule_id].reference,
                        "example": next(
                            r["message"]
                            for r in mine
                            if r["rule"] == rule_id and r["severity"] == severity
                        ),
                    }
                    for rule_id, severity in order
                ],
            }
        overall = "FAIL" if any(a["verdict"] == "FAIL" for a in axes.values()) else "PASS"
        out = {
            "verdict": overall,
            "strict": strict,
            "platform_id": platform_id,
            "generated_at": format_datetime(self.now()),
            "axes": axes,
        }
        for context in self.report_context:
            out.update(context(platform_id))
        return out


def report_text(report: dict[str, Any]) -> str:
    """The report as a person reads it in a terminal or a CI log."""
    lines = [
        f"Verdict: {report['verdict']}" + (" (strict)" if report.get("strict") else ""),
        "",
    ]
    for axis, label in (("spec", "OCPI specification"), ("payter", "Payter's solution")):
        part = report["axes"][axis]
        lines.append(
            f"{label}: {part['verdict']} ({part['errors']} errors, {part['warnings']} warnings)"
        )
        for item in part["rules"]:
            lines.append(f"  [{item['severity']}] {item['rule']} x{item['count']}: {item['title']}")
            lines.append(f"      e.g. {item['example']}")
            lines.append(f"      see {item['reference']}")
        lines.append("")
    for platform in report.get("platforms") or []:
        payments = platform.get("payments") or {}
        lines.append(
            f"Platform {platform.get('id')} (OCPI {platform.get('version') or '?'}): "
            f"{payments.get('description') or 'no Payments'}"
        )
    return "\n".join(lines).rstrip() + "\n"
