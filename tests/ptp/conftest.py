"""Fixtures of the PTP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cpo_double import CpoDouble


@pytest.fixture
async def doubles() -> AsyncIterator[list[CpoDouble]]:
    """CPO doubles a test starts (it appends them), stopped after it."""
    started: list[CpoDouble] = []
    yield started
    for double in started:
        await double.stop()
