"""What was checked: per platform, which rules ran, which could not run and why, and which of
the flows Payter needs were exercised.

A check marks its rule as run when it looks at something (``ran``), whether it finds a
problem or not; a recorded finding marks its rule as run too. A check that cannot run says why
(``not_run``); one that cannot run because of an earlier finding names that finding
(``not_checked``: "not checked: OCPI-06b ..."), so one root cause gives one finding and the
dependent checks are visible instead of silently skipped or falsely failed.

Flows are what a run must have gone through for its verdict to mean something: the OCPI
registration, the mirror of the CPO's Locations and Tariffs, and a card journey through to
capture (or, for a CPS integration, a CPS session committed). Without them the report's
verdict is ``INCOMPLETE``, never ``PASS``.

Marks are kept in SQLite (they survive a restart) and cached in memory, so a check that runs on
every request costs a set look-up, not a write.

A check says that it ran where it runs, once: :func:`checked` (or the :func:`checks` decorator
on a check function) notes its rules in the current :meth:`Coverage.scope`, which knows the
platform the work is for and marks them when it ends. The scopes are where the platform is
known: an inbound OCPI request (the transport, once the token named the platform), the answer
to an outbound call (the client), a platform's crawl or push. A check run outside any scope
(a unit test calling a check function) marks nothing.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, ParamSpec, TypeVar

from emulator.datetimes import format_datetime
from emulator.rules import RULES, Rule, RuleId
from emulator.store import Store, TableSpec

Flow = Literal["registration", "mirror", "journey", "cps"]

# The flows of an OCPI integration, in order, with what each means.
OCPI_FLOWS: dict[Flow, str] = {
    "registration": "the OCPI registration (credentials handshake) completed",
    "mirror": "the CPO's Locations and Tariffs were mirrored (a complete crawl)",
    "journey": "a card journey ran through to capture",
}
CPS_FLOWS: dict[Flow, str] = {"cps": "a CPS payment session was committed"}

COVERAGE = TableSpec(
    name="coverage",
    columns={
        "key": str,  # platform/rule
        "platform_id": int,
        "rule": str,
        "state": str,  # ran | not_run
        "reason": str,
        "at": str,
    },
    pk="key",
    indexes=(("platform_id",),),
)

FLOWS = TableSpec(
    name="coverage_flows",
    columns={"key": str, "platform_id": int, "flow": str, "detail": str, "at": str},
    pk="key",
)

# Status of a check in the report.
PASSED, FAILED, NOTED, NOT_RUN, NOT_APPLICABLE, NOT_EXERCISED = (
    "passed",
    "failed",
    "noted",
    "not_run",
    "not_applicable",
    "not_exercised",
)
STATUSES = (PASSED, FAILED, NOTED, NOT_RUN, NOT_APPLICABLE, NOT_EXERCISED)

# Why a rule does not apply to a platform (None: it applies), given the platform id and the
# rule: a node that knows what it runs with a platform says so (Payments, for one).
Applicability = Callable[[int, Rule], str | None]


_P = ParamSpec("_P")
_R = TypeVar("_R")

# The rules whose checks ran in the current scope (None: no scope, nothing is marked).
_checked: contextvars.ContextVar[set[RuleId] | None] = contextvars.ContextVar(
    "coverage_checked", default=None
)


def checked(*rules: RuleId) -> None:
    """The checks of ``rules`` ran here (whether they found something or not): marked as run
    for the platform of the enclosing :meth:`Coverage.scope`."""
    bucket = _checked.get()
    if bucket is not None:
        # (Called for every string and DateTime a peer's object holds: the common case of
        # one rule added without building a second collection.)
        if len(rules) == 1:
            bucket.add(rules[0])
        else:
            bucket.update(rules)


def checks(*rules: RuleId) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorator of a check function: calling it runs the checks of ``rules``."""

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            checked(*rules)
            return fn(*args, **kwargs)

        return run

    return wrap


def _key(platform_id: int | None, name: str) -> str:
    return f"{platform_id if platform_id is not None else '-'}/{name}"


class Coverage:
    def __init__(self, store: Store, now: Callable[[], Any]) -> None:
        self.store = store
        self.now = now
        store.register(COVERAGE)
        store.register(FLOWS)
        self._ran: set[str] = set()
        self._flows: set[str] = set()
        # The flows that make a run complete, per kind of integration (set by the node).
        self.ocpi_flows: dict[Flow, str] = dict(OCPI_FLOWS)
        self.cps_flows: dict[Flow, str] = dict(CPS_FLOWS)
        # Why a rule cannot apply to a platform (set by the node that runs the modules).
        self.applicability: list[Applicability] = []

    def not_applicable(self, rule_id: RuleId | str, platform_id: int | None) -> str | None:
        """Why the rule cannot apply to ``platform_id`` (the module it checks is not in use
        with it), or None when it applies. A rule of a version the platform does not speak is
        left out of the report altogether; this is for rules of its version that still
        cannot apply, such as the Payments checks with a CPO that offers no Payments."""
        if platform_id is None or not self.applicability:
            return None
        rule = RULES[rule_id]
        for hook in self.applicability:
            why = hook(platform_id, rule)
            if why:
                return why
        return None

    def clear_cache(self) -> None:
        """After POST /__admin/reset emptied the tables."""
        self._ran.clear()
        self._flows.clear()

    # --- marks ------------------------------------------------------------------------------

    @contextmanager
    def collect(self) -> Iterator[set[RuleId]]:
        """The rules whose checks run inside the block (the caller marks them, when it knows
        the platform). Nested blocks keep their own: an outbound call made while handling an
        inbound request marks its answer's checks for its own platform."""
        bucket: set[RuleId] = set()
        token = _checked.set(bucket)
        try:
            yield bucket
        finally:
            _checked.reset(token)

    @contextmanager
    def scope(self, platform_id: int | None) -> Iterator[None]:
        """Checks that run inside the block are marked as run for ``platform_id`` (none
        without one: an OCPI check concerns a platform)."""
        with self.collect() as bucket:
            try:
                yield
            finally:
                if platform_id is not None:
                    self.ran(bucket, platform_id)

    def ran(self, rule_ids: RuleId | Iterable[RuleId], platform_id: int | None) -> None:
        """The checks of ``rule_ids`` ran for ``platform_id``."""
        for rule_id in [rule_ids] if isinstance(rule_ids, str) else rule_ids:
            self._ran_one(rule_id, platform_id)

    def _ran_one(self, rule_id: RuleId, platform_id: int | None) -> None:
        key = _key(platform_id, rule_id)
        if key in self._ran:
            return
        self._ran.add(key)
        row = self.store.get(COVERAGE.name, key)
        if row is not None:
            # Ran before (a restart), or could not run before and ran now: in part, with the
            # reason kept.
            if row.get("state") != "ran":
                self.store.update(COVERAGE.name, key, {"state": "ran"})
            return
        self.store.upsert(
            COVERAGE.name,
            {
                "key": key,
                "platform_id": platform_id,
                "rule": rule_id,
                "state": "ran",
                "reason": None,
                "at": format_datetime(self.now()),
            },
        )

    def has_run(self, rule_id: RuleId, platform_id: int | None) -> bool:
        """The check of ``rule_id`` ran for ``platform_id`` (now or before a restart)."""
        key = _key(platform_id, rule_id)
        if key in self._ran:
            return True
        row = self.store.get(COVERAGE.name, key)
        return row is not None and row.get("state") == "ran"

    def not_run(self, rule_id: RuleId, platform_id: int | None, reason: str) -> None:
        """The check of ``rule_id`` could not run; ``reason`` says why. A check that did run
        (now or before) stays run, with the reason kept: it ran only in part."""
        key = _key(platform_id, rule_id)
        row = self.store.get(COVERAGE.name, key)
        if key in self._ran or (row is not None and row.get("state") == "ran"):
            self._ran.add(key)
            if row is not None and not row.get("reason"):
                self.store.update(COVERAGE.name, key, {"reason": reason})
            return
        self.store.upsert(
            COVERAGE.name,
            {
                "key": key,
                "platform_id": platform_id,
                "rule": rule_id,
                "state": "not_run",
                "reason": reason,
                "at": format_datetime(self.now()),
            },
        )

    def not_checked(
        self,
        rule_ids: RuleId | Iterable[RuleId],
        platform_id: int | None,
        because: Mapping[str, Any] | str | None,
    ) -> None:
        """The checks of ``rule_ids`` could not run because of an earlier finding (a finding
        row, or its rule and message as text): one root cause, one finding."""
        if isinstance(because, Mapping):
            why = f"not checked: {because.get('rule')} ({because.get('message')})"
        else:
            why = f"not checked: {because}" if because else "not checked"
        for rule_id in [rule_ids] if isinstance(rule_ids, str) else rule_ids:
            self.not_run(rule_id, platform_id, why)

    def flow(self, name: Flow, platform_id: int | None, detail: str | None = None) -> None:
        key = _key(platform_id, name)
        if key in self._flows:
            return
        self._flows.add(key)
        if self.store.get(FLOWS.name, key) is not None:
            return
        self.store.upsert(
            FLOWS.name,
            {
                "key": key,
                "platform_id": platform_id,
                "flow": name,
                "detail": detail,
                "at": format_datetime(self.now()),
            },
        )

    # --- reading ----------------------------------------------------------------------------

    def flows(self, platform_id: int | None = None) -> dict[str, dict[str, Any]]:
        """Flows exercised: ``{platform key: {flow: at}}`` (key ``"-"`` for no platform)."""
        rows = self.store.rows(FLOWS.name)
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            if platform_id is not None and r["platform_id"] != platform_id:
                continue
            pid = "-" if r["platform_id"] is None else str(r["platform_id"])
            out.setdefault(pid, {})[r["flow"]] = r["at"]
        return out

    def missing_flows(self, platform_id: int | None = None) -> list[str]:
        """What keeps the run from being complete ([] when complete): for one platform, its
        OCPI flows not yet exercised; for the whole run, those of the platform that got
        furthest (or the CPS flow, for a run with CPS traffic and no OCPI platform)."""
        seen = self.flows(platform_id)
        ocpi = {k: v for k, v in seen.items() if k != "-"}
        if platform_id is None:
            cps_done = set(seen.get("-", {}))
            if not ocpi and cps_done and all(f in cps_done for f in self.cps_flows):
                return []
        best: list[Flow] | None = None
        for flows in ocpi.values():
            missing: list[Flow] = [f for f in self.ocpi_flows if f not in flows]
            if best is None or len(missing) < len(best):
                best = missing
        if best is None:
            best = list(self.ocpi_flows)
        return [f"{f}: {self.ocpi_flows[f]} (not yet)" for f in best]

    def checks(
        self,
        platform_id: int | None,
        findings: Sequence[Mapping[str, Any]],
        version: str | None,
    ) -> list[dict[str, Any]]:
        """Every rule that applies to ``version`` with its status for ``platform_id``:
        passed (ran, no finding), failed (an error or warning), noted (infos only), not_run
        (with the reason), not_applicable (with the reason: the module it checks is not in
        use with the platform) or not_exercised (nothing reached it yet)."""
        rows = {
            r["rule"]: r
            for r in self.store.rows(
                COVERAGE.name, "coalesce(platform_id, -1) = ?", [_pid(platform_id)]
            )
        }
        by_rule: dict[str, list[Mapping[str, Any]]] = {}
        for f in findings:
            by_rule.setdefault(f["rule"], []).append(f)
        out = []
        for rule in RULES.values():
            if version is not None and not rule.applies_to(version):
                continue
            mine = by_rule.get(rule.id, [])
            row = rows.get(rule.id)
            reason = None
            if any(f["severity"] in ("error", "warning") for f in mine):
                state = FAILED
            elif mine:
                state = NOTED
            elif why := self.not_applicable(rule.id, platform_id):
                # Whatever ran before (a platform whose modules changed): it cannot apply now.
                state, reason = NOT_APPLICABLE, why
            elif row is not None and row["state"] == "ran":
                state = PASSED
                if row.get("reason"):
                    reason = f"partly {row['reason']}"
            elif row is not None:
                state, reason = NOT_RUN, row.get("reason")
            else:
                state = NOT_EXERCISED
            if platform_id is not None and rule.id.startswith("CPS-"):
                continue  # CPS checks are not about an OCPI platform
            item: dict[str, Any] = {
                "rule": rule.id,
                "status": state,
                "severity": rule.severity(version),
                "title": rule.title,
            }
            if mine:
                item["findings"] = len(mine)
                if row is not None and row.get("reason"):
                    reason = f"partly {row['reason']}"
            if reason:
                item["reason"] = reason
            out.append(item)
        return out


def _pid(platform_id: int | None) -> int:
    return -1 if platform_id is None else platform_id


# How payter_gaps' reasons begin (a flow's reason begins with the flow).
GAP_KINDS = ("payments:", "payter:")


def payter_gaps(part: Mapping[str, Any]) -> list[str]:
    """What keeps a platform's Payter verdict from PASS although its flows ran: checks Payter
    needs (its own rules, and the Payments module's where Payments is in use) that could not
    run, grouped by the reason, e.g. "payments: OCPI-51, OCPI-57 could not run on platform 2
    (not checked: OCPI-06 (...))". A rule that cannot apply (``not_applicable``) is no gap,
    nor is one nothing reached yet (an optional step such as activation)."""
    by_reason: dict[tuple[str, str], list[str]] = {}
    for check in part.get("checks") or []:
        rule = RULES.get(check["rule"])
        if check["status"] != NOT_RUN or rule is None:
            continue
        if rule.payments_only:
            kind = "payments"
        elif rule.axis == "payter":
            kind = "payter"
        else:
            continue
        by_reason.setdefault((kind, str(check.get("reason") or "")), []).append(rule.id)
    where = f" on platform {part['platform_id']}" if part.get("platform_id") is not None else ""
    return [
        f"{kind}: {', '.join(rules)} could not run{where}" + (f" ({reason})" if reason else "")
        for (kind, reason), rules in by_reason.items()
    ]
