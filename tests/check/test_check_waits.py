"""A wait on the manual clock steps from timer to timer, and looks at its condition again
only when the emulator says something happened (the last event id in the clock's answer):
a wait that runs out costs one request per timer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from emulator.check.runner import CheckResult, Runner, Target, _CheckRun
from emulator.check.scenario import Check
from emulator.datetimes import format_datetime, parse_datetime

START = datetime(2025, 3, 1, 9, 0, tzinfo=parse_datetime("2025-03-01T09:00:00Z").tzinfo)


class FakeEmulator:
    """The clock part of the control API: a timer every 10 minutes; the ones listed in
    ``events_at`` (minutes) publish an event."""

    def __init__(self, events_at: set[int]) -> None:
        self.now = START
        self.last_event_id = 0
        self.events_at = events_at
        self.requests = 0

    def _next(self) -> datetime:
        return START + timedelta(minutes=(int((self.now - START).total_seconds() // 600) + 1) * 10)

    def _clock(self) -> dict[str, Any]:
        return {
            "mode": "manual",
            "now": format_datetime(self.now),
            "next_timer_at": format_datetime(self._next()),
            "last_event_id": self.last_event_id,
        }

    async def get(self, path: str, **params: Any) -> Any:
        self.requests += 1
        assert path == "clock"
        return self._clock()

    async def post(self, path: str, body: Any = None) -> Any:
        self.requests += 1
        assert path == "clock/advance"
        target = self.now + timedelta(seconds=body["seconds"])
        while self._next() <= target:
            self.now = self._next()
            if int((self.now - START).total_seconds() // 60) in self.events_at:
                self.last_event_id += 1
        self.now = target
        return self._clock()


def a_check_run(emu: FakeEmulator) -> _CheckRun:
    target = Target(
        emulator=emu,  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]
        manual_clock=True,
        platform=None,
        direction=None,
        profile="ptp",
        terminal="APO-1",
        hooks={},
    )
    check = Check("t.x", "x", "t", [], [], [], {}, [], [], "test")
    return _CheckRun(Runner(target), check, CheckResult("t.x", "x", "t", [], []))


async def test_a_wait_that_runs_out_looks_again_only_when_something_happened() -> None:
    emu = FakeEmulator(events_at={120, 480})
    looks: list[datetime] = []

    async def holds() -> bool:
        looks.append(emu.now)
        return False

    assert await a_check_run(emu).wait_until(holds, 86400) is False
    # 144 timers in a day, one request each (and the first look at the clock) ...
    assert emu.requests == 145
    # ... and the condition looked at first, after each of the two events and at the end.
    assert [int((t - START).total_seconds() // 60) for t in looks] == [0, 120, 480, 1440]


async def test_a_wait_ends_at_the_event_that_makes_it_hold() -> None:
    emu = FakeEmulator(events_at={30, 70})
    seen: list[int] = []

    async def holds() -> bool:
        seen.append(emu.last_event_id)
        return emu.last_event_id == 2

    assert await a_check_run(emu).wait_until(holds, 7200) is True
    assert emu.now == START + timedelta(minutes=70, milliseconds=1) and seen == [0, 1, 2]
