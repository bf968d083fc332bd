"""In-process event bus: screen changes, card reads, payment steps, OCPI traffic, findings.

Subscribers (the control API's event stream, the TUI through it, tests) each get their own
queue. The bus also keeps the most recent events so a client that connects late, or polls,
can catch up with ``since``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

from emulator.datetimes import format_datetime


class Event(NamedTuple):
    """One event (immutable; several are made per request, so a tuple, not a dataclass)."""

    id: int
    kind: str
    at: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "at": self.at, "data": self.data}


class EventBus:
    def __init__(self, now: Callable[[], Any], history: int = 1000) -> None:
        self._now = now
        self._seq = itertools.count(1)
        self._history: deque[Event] = deque(maxlen=history)
        self._queues: set[asyncio.Queue[Event]] = set()
        # The id of the last event published (0: none yet): whether anything happened since.
        self.last_id = 0

    def publish(self, kind: str, **data: Any) -> Event:
        event = Event(next(self._seq), kind, format_datetime(self._now()), data)
        self.last_id = event.id
        self._history.append(event)
        for queue in list(self._queues):
            if queue.full():
                # A stalled subscriber loses its oldest event, never blocks the emulator.
                queue.get_nowait()
            queue.put_nowait(event)
        return event

    def recent(self, since: int = 0, kinds: set[str] | None = None) -> list[Event]:
        return [
            e
            for e in self._history
            if e.id > since and (not kinds or e.kind in kinds or e.kind.split(".")[0] in kinds)
        ]

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        return Subscription(self, asyncio.Queue(maxsize=maxsize))


class Subscription:
    def __init__(self, bus: EventBus, queue: asyncio.Queue[Event]) -> None:
        self.bus = bus
        self.queue = queue
        bus._queues.add(queue)

    def close(self) -> None:
        self.bus._queues.discard(self.queue)

    async def get(self) -> Event:
        return await self.queue.get()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aiter__(self) -> AsyncIterator[Event]:
        try:
            while True:
                yield await self.queue.get()
        finally:
            self.close()
