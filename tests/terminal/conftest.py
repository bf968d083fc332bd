"""Fixtures for the virtual terminal: a fixed time, a seeded acquirer, an emulator node on a
manual clock with an in-memory store. Nothing here reads the wall clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from emulator.app import EmulatorNode, build_emulator
from emulator.background import Background
from emulator.clock import ManualClock
from emulator.ids import Ids
from emulator.settings import EmulatorSettings
from emulator.terminal.acquirer import Acquirer
from emulator.terminal.cards import CardCatalogue, Medium, default_catalogue
from emulator.terminal.device import Device, PresentedCard, Timeouts

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def cards() -> CardCatalogue:
    return default_catalogue()


@pytest.fixture
def acquirer() -> Acquirer:
    return Acquirer(Ids(7))


@pytest.fixture
def make_device(acquirer: Acquirer) -> Callable[..., Device]:
    """A booted device (its boot effects are dropped)."""

    def make(model: str = "Apollo", timeouts: Timeouts | None = None) -> Device:
        device = Device("APO1", model, acquirer=acquirer, timeouts=timeouts)
        device.boot(now=T0)
        return device

    return make


@pytest.fixture
def device(make_device: Callable[..., Device]) -> Device:
    return make_device()


@pytest.fixture
def present(cards: CardCatalogue) -> Callable[..., PresentedCard]:
    def make(ref: str, medium: str = "contactless") -> PresentedCard:
        return PresentedCard(cards.presentation(ref, medium), Medium(medium))

    return make


@pytest.fixture
async def node() -> AsyncIterator[EmulatorNode]:
    clock = ManualClock(Background(), start=T0)
    settings = EmulatorSettings(db=":memory:", seed=1, clock="manual", default_terminal="")
    node = build_emulator(settings, clock=clock)
    await node.terminals.start()
    yield node
    await node.rt.close()
