"""The CSMS's own commit/cancel retries, checked against Payter's ladder.

Payter's pre-session checklist advises a CSMS to retry a commit or cancel that failed "every
minute for the first 5 attempts, followed by less frequent retries (every hour for 24 hours,
then daily for up to 7 days)", and to "cease retries upon receiving definitive response codes
(HTTP 200, 409)" (payter.md §3.7). The emulator's CPS never fails a commit by itself, so a test
injects failures (:class:`CommitFaults`): a 5xx, a timeout (the request is held, then answered
504), or the terminal going offline (the commit is then confirmed and queued, as Payter
documents: a 200 the CSMS must not retry).

:class:`RetryCheck` sees every commit/cancel call and its answer, per session: after a
transient failure (5xx, 408, 429) the next attempt is expected between half and twice the
ladder step's delay after the failed one (a timer reports a retry that never comes); any call
after a 200 or a 409 is a retry that should not have happened. Each deviation is a CPS-04
finding; ``GET /__admin/cps/retries`` answers the verdict per session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, TypedDict, cast

from emulator.clock import Timer
from emulator.datetimes import format_datetime, parse_datetime
from emulator.runtime import Runtime
from emulator.store import TableSpec

CPS_CALLS = TableSpec(
    name="cps_commit_calls",
    columns={
        "id": int,
        "serial_number": str,
        "session_id": str,
        "call": str,  # commit | cancel
        "at": str,
        "status": int,
        "fault": str,  # the injected fault that answered it, if any
    },
    indexes=(("serial_number", "session_id"),),
)


class CommitCall(TypedDict):
    """One commit or cancel call a CSMS made (``cps_commit_calls``) and how it was answered."""

    id: int
    serial_number: str
    session_id: str
    call: str  # commit | cancel
    at: str
    status: int
    fault: str | None


CALLS = ("commit", "cancel")
FAULTS = ("error", "timeout", "offline")
# Answers after which Payter's ladder says to stop.
DEFINITIVE = (200, 409)


def transient(status: int) -> bool:
    """A failure worth retrying: the server side failed or did not answer in time."""
    return status >= 500 or status in (408, 429)


@dataclass
class Fault:
    id: int
    fault: str  # error | timeout | offline
    calls: tuple[str, ...] = CALLS
    serial_number: str | None = None
    times: int = 1
    status: int = 503  # error
    hold: float = 60.0  # timeout: seconds the request is held (Payter's commit/void timeout)
    offline_for: float = 60.0  # offline: seconds until the terminal is back
    used: int = 0

    def matches(self, serial_number: str, call: str) -> bool:
        return (
            self.used < self.times
            and call in self.calls
            and (self.serial_number is None or self.serial_number == serial_number)
        )

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fault": self.fault,
            "calls": list(self.calls),
            "serial_number": self.serial_number,
            "times": self.times,
            "remaining": self.times - self.used,
            **({"status": self.status} if self.fault == "error" else {}),
            **({"hold": self.hold} if self.fault == "timeout" else {}),
            **({"offline_for": self.offline_for} if self.fault == "offline" else {}),
        }


@dataclass
class CommitFaults:
    """Failures to inject into the next commit/cancel calls (kept in memory: a test sets them
    up and uses them in one run)."""

    faults: list[Fault] = field(default_factory=list)
    _next_id: int = 1

    def add(self, **values: Any) -> Fault:
        fault = Fault(id=self._next_id, **values)
        self._next_id += 1
        self.faults.append(fault)
        return fault

    def take(self, serial_number: str, call: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(serial_number, call):
                fault.used += 1
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()


class RetryCheck:
    def __init__(self, rt: Runtime, *, ladder: list[float]) -> None:
        self.rt = rt
        self.ladder = ladder
        rt.store.register(CPS_CALLS)
        self._timers: dict[tuple[str, str], Timer] = {}
        rt.reset_hooks.append(self.close)
        rt.close_hooks.append(self.close)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def calls(self, serial_number: str, session_id: str) -> list[CommitCall]:
        rows = self.rt.store.rows(
            CPS_CALLS.name,
            "serial_number = ? and session_id = ?",
            [serial_number, session_id],
            order_by="id",
        )
        return cast("list[CommitCall]", rows)

    def window(self, retry: int) -> tuple[float, float] | None:
        """Seconds after a failed attempt within which retry number ``retry`` (1-based) is
        expected: half to twice the ladder's step; None once the ladder has run out."""
        if retry > len(self.ladder):
            return None
        step = self.ladder[retry - 1]
        return step / 2, step * 2

    def observe(
        self, serial_number: str, session_id: str, call: str, status: int, fault: str | None
    ) -> None:
        """A commit/cancel call on a session was answered ``status``."""
        now = self.rt.now()
        earlier = self.calls(serial_number, session_id)
        self.rt.store.insert(
            CPS_CALLS.name,
            {
                "serial_number": serial_number,
                "session_id": session_id,
                "call": call,
                "at": format_datetime(now),
                "status": status,
                "fault": fault,
            },
        )
        key = (serial_number, session_id)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if earlier:
            self._judge_retry(serial_number, session_id, call, earlier, now)
        if transient(status):
            failures = self._failures_in_a_row(self.calls(serial_number, session_id))
            window = self.window(failures)
            if window is not None:
                late = now + timedelta(seconds=window[1])
                self._timers[key] = self.rt.clock.call_at(
                    late,
                    lambda: self._no_retry(serial_number, session_id, call, failures, now),
                    name=f"cps-retry-check:{serial_number}:{session_id}",
                )

    @staticmethod
    def _failures_in_a_row(calls: list[CommitCall]) -> int:
        count = 0
        for row in reversed(calls):
            if not transient(int(row["status"])):
                break
            count += 1
        return count

    def _judge_retry(
        self,
        serial_number: str,
        session_id: str,
        call: str,
        earlier: list[CommitCall],
        now: datetime,
    ) -> None:
        last = earlier[-1]
        status = int(last["status"])
        context = {"serial_number": serial_number, "session_id": session_id}
        if status in DEFINITIVE:
            self.rt.findings.record(
                "CPS-04",
                f"{call} of session {session_id} ({serial_number}) sent again after the "
                f"{last['call']} was answered HTTP {status}: Payter's advice is to cease retries "
                "on a definitive answer (HTTP 200 or 409)",
                context=context,
                once=True,
            )
            return
        if not transient(status):
            return  # a 4xx: the request was wrong; the ladder says nothing about it
        failures = self._failures_in_a_row(earlier)
        window = self.window(failures)
        gap = (now - parse_datetime(last["at"])).total_seconds()
        if window is None:
            self.rt.findings.record(
                "CPS-04",
                f"{call} of session {session_id} ({serial_number}) retried after "
                f"{failures} failed attempts: Payter's ladder ends after "
                f"{len(self.ladder)} retries (7 days)",
                context=context,
                once=True,
            )
            return
        # Too late is the timer's to say (_no_retry): it fires when the window closes.
        if gap < window[0]:
            self.rt.findings.record(
                "CPS-04",
                f"{call} of session {session_id} ({serial_number}) retried {gap:g} s after a "
                f"failed attempt (retry {failures}); Payter's ladder says about "
                f"{self.ladder[failures - 1]:g} s (every minute 5 times, hourly for 24 h, daily "
                "up to 7 days)",
                context=context,
                once=True,
            )

    async def _no_retry(
        self, serial_number: str, session_id: str, call: str, retry: int, failed_at: datetime
    ) -> None:
        self._timers.pop((serial_number, session_id), None)
        step = self.ladder[retry - 1]
        self.rt.findings.record(
            "CPS-04",
            f"{call} of session {session_id} ({serial_number}) failed at "
            f"{format_datetime(failed_at)} and was not retried within {step * 2:g} s; Payter's "
            f"ladder retries it after about {step:g} s (every minute 5 times, hourly for 24 h, "
            "daily up to 7 days) until HTTP 200 or 409",
            context={"serial_number": serial_number, "session_id": session_id},
            once=True,
        )

    # --- the verdict -----------------------------------------------------------------------------

    def verdicts(self, serial_number: str | None = None) -> list[dict[str, Any]]:
        where, params = ("serial_number = ?", [serial_number]) if serial_number else (None, [])
        rows = cast(
            "list[CommitCall]", self.rt.store.rows(CPS_CALLS.name, where, params, order_by="id")
        )
        sessions: dict[tuple[str, str], list[CommitCall]] = {}
        for row in rows:
            sessions.setdefault((row["serial_number"], row["session_id"]), []).append(row)
        return [self._verdict(serial, sid, calls) for (serial, sid), calls in sessions.items()]

    def _verdict(
        self, serial_number: str, session_id: str, calls: list[CommitCall]
    ) -> dict[str, Any]:
        retried_on_ladder: bool | None = None
        stopped: bool | None = None
        for index, (before, after) in enumerate(pairwise(calls)):
            status = int(before["status"])
            if status in DEFINITIVE:
                stopped = False
            elif transient(status):
                failures = self._failures_in_a_row(calls[: index + 1])
                window = self.window(failures)
                gap = (parse_datetime(after["at"]) - parse_datetime(before["at"])).total_seconds()
                fits = window is not None and window[0] <= gap <= window[1]
                retried_on_ladder = fits and retried_on_ladder is not False
        last = int(calls[-1]["status"])
        waiting = False
        if transient(last):
            failures = self._failures_in_a_row(calls)
            window = self.window(failures)
            waited = (self.rt.now() - parse_datetime(calls[-1]["at"])).total_seconds()
            if window is not None and waited < window[1]:
                waiting = True
            elif window is not None:
                retried_on_ladder = False
        if last in DEFINITIVE and stopped is None:
            stopped = True
        return {
            "serial_number": serial_number,
            "session_id": session_id,
            "calls": [{k: row[k] for k in ("call", "at", "status", "fault")} for row in calls],
            "retried_on_ladder": retried_on_ladder,
            "stopped_on_definitive": stopped,
            "waiting_for_retry": waiting,
        }
