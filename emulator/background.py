"""Background work that outlives the request that started it.

Every task the emulator starts on its own (a command result to deliver, a webhook retry, a
poll of the CPO's locations) goes through :class:`Background`, so that a test or the manual
clock can wait until the emulator has nothing left to do (:meth:`Background.drain`).

Rule for callers: a background task must finish. Recurring work is re-scheduled on the clock,
never written as an endless loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from emulator import logs

log = logs.get_logger("emulator.background")


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        # Tasks currently parked on the manual clock: drain() must not wait for them, the
        # clock only moves when somebody advances it.
        self.parked: set[asyncio.Task[Any]] = set()

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self.parked.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task failed", task=task.get_name(), error=repr(exc))

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every task has finished or is parked on the manual clock."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        me = asyncio.current_task()
        while True:
            # Give freshly scheduled callbacks a chance to create their tasks.
            await asyncio.sleep(0)
            running = {t for t in self._tasks if t is not me and t not in self.parked}
            if not running:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                names = ", ".join(sorted(t.get_name() for t in running))
                raise TimeoutError(f"background tasks still running: {names}")
            await asyncio.wait(running, timeout=min(0.05, remaining))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
