"""The injected clock (emulator/clock.py): time only moves when told to."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emulator.background import Background
from emulator.clock import ManualClock


async def test_timers_fire_in_order_and_chain() -> None:
    clock = ManualClock(Background(), datetime(2025, 1, 1, tzinfo=UTC))
    fired: list[tuple[str, str]] = []

    def at(name: str):
        return lambda: fired.append((name, clock.now().isoformat()))

    async def chained() -> None:
        fired.append(("chained", clock.now().isoformat()))
        clock.call_later(5, at("from-chain"))

    clock.call_later(30, at("b"))
    clock.call_later(10, at("a"))
    clock.call_later(20, chained)
    cancelled = clock.call_later(15, at("never"))
    cancelled.cancel()
    assert await clock.advance(29) == 3
    assert [n for n, _ in fired] == ["a", "chained", "from-chain"]
    assert fired[2][1] == "2025-01-01T00:00:25+00:00"
    assert clock.now() == datetime(2025, 1, 1, 0, 0, 29, tzinfo=UTC)
    await clock.advance(1)
    assert fired[-1][0] == "b"


async def test_sleep_on_manual_clock_does_not_block_advance() -> None:
    background = Background()
    clock = ManualClock(background, datetime(2025, 1, 1, tzinfo=UTC))
    done: list[datetime] = []

    async def sleeper() -> None:
        await clock.sleep(3600)
        done.append(clock.now())

    background.spawn(sleeper())
    await background.drain()
    assert done == []
    await clock.advance(3600)
    assert done == [datetime(2025, 1, 1, 1, tzinfo=UTC)]


async def test_clock_never_goes_back() -> None:
    clock = ManualClock(Background(), datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.set(datetime(2024, 1, 1, tzinfo=UTC))
