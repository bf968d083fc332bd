"""The injected clock. Nothing in the emulator reads the wall clock or sleeps directly.

Two implementations behind one interface:

* :class:`RealClock` follows the wall clock; timers run on the event loop.
* :class:`ManualClock` stands still until it is advanced (``POST /__admin/clock/advance`` or
  :meth:`ManualClock.advance`). Advancing fires the due timers in time order, one after the
  other, and waits for the work each one starts, so a two-hour charging session or a seven-day
  retry ladder runs in milliseconds and always in the same order.

Timer callbacks may be plain functions or coroutine functions; coroutines run as
:class:`~emulator.background.Background` tasks.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from emulator.background import Background

TimerCallback = Callable[[], Awaitable[Any] | Any]


class Timer:
    """Handle of a scheduled callback; :meth:`cancel` prevents it from running."""

    __slots__ = ("_handle", "callback", "cancelled", "name", "when")

    def __init__(self, when: datetime, callback: TimerCallback, name: str) -> None:
        self.when = when
        self.callback = callback
        self.name = name
        self.cancelled = False
        self._handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self._handle is not None:
            self._handle.cancel()


class Clock:
    """Interface shared by both clocks."""

    kind = "abstract"

    def __init__(self, background: Background) -> None:
        self.background = background

    def now(self) -> datetime:
        raise NotImplementedError

    def call_later(self, delay: float, callback: TimerCallback, *, name: str = "timer") -> Timer:
        raise NotImplementedError

    def call_at(self, when: datetime, callback: TimerCallback, *, name: str = "timer") -> Timer:
        return self.call_later((when - self.now()).total_seconds(), callback, name=name)

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def _run(self, timer: Timer) -> Awaitable[Any] | None:
        if timer.cancelled:
            return None
        result = timer.callback()
        if asyncio.iscoroutine(result):
            return self.background.spawn(result, name=timer.name)
        return None

    def describe(self) -> dict[str, Any]:
        from emulator.datetimes import format_datetime

        return {"mode": self.kind, "now": format_datetime(self.now())}


class RealClock(Clock):
    kind = "real"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: TimerCallback, *, name: str = "timer") -> Timer:
        timer = Timer(self.now() + timedelta(seconds=max(delay, 0)), callback, name)
        loop = asyncio.get_running_loop()
        timer._handle = loop.call_later(max(delay, 0), self._run, timer)
        return timer

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0))


class ManualClock(Clock):
    kind = "manual"
    # The latest time the manual clock is moved to: timers set a day (or a year) ahead of it,
    # and the dates written from it, stay representable.
    LATEST = datetime(9000, 1, 1, tzinfo=UTC)

    def __init__(self, background: Background, start: datetime | None = None) -> None:
        super().__init__(background)
        self._now = (start or datetime(2025, 1, 1, 12, 0, tzinfo=UTC)).astimezone(UTC)
        self._heap: list[tuple[datetime, int, Timer]] = []
        self._seq = itertools.count()
        self._lock = asyncio.Lock()

    def now(self) -> datetime:
        return self._now

    def call_later(self, delay: float, callback: TimerCallback, *, name: str = "timer") -> Timer:
        timer = Timer(self._now + timedelta(seconds=max(delay, 0)), callback, name)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.call_later(seconds, wake, name="sleep")
        task = asyncio.current_task()
        if task is not None:
            self.background.parked.add(task)
        try:
            await future
        finally:
            if task is not None:
                self.background.parked.discard(task)

    @property
    def pending_timers(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def pending_names(self) -> list[str]:
        """The names of the timers still to fire, soonest first."""
        return [t.name for _, _, t in sorted(self._heap, key=lambda e: e[:2]) if not t.cancelled]

    def next_due(self) -> datetime | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def advance(self, seconds: float) -> int:
        """Move time forward, firing due timers in order. Returns how many fired."""
        return await self.advance_to(self._now + timedelta(seconds=max(seconds, 0)))

    async def advance_to(self, target: datetime) -> int:
        target = target.astimezone(UTC)
        fired = 0
        async with self._lock:
            await self.background.drain()
            while True:
                due = self.next_due()
                if due is None or due > target:
                    break
                _, _, timer = heapq.heappop(self._heap)
                self._now = max(self._now, timer.when)
                self._run(timer)
                fired += 1
                await self.background.drain()
            self._now = max(self._now, target)
            await self.background.drain()
        return fired

    def set(self, when: datetime) -> None:
        """Jump to ``when`` without firing timers (only forwards)."""
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError("the manual clock only moves forwards")
        self._now = when


def make_clock(mode: str, background: Background, start: datetime | None = None) -> Clock:
    if mode == "manual":
        return ManualClock(background, start)
    if mode == "real":
        return RealClock(background)
    raise ValueError(f"unknown clock mode {mode!r} (real or manual)")
