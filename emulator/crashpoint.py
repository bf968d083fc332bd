"""Places where the crash test kills the emulator with SIGKILL, at an exact point of a journey.

``tests/test_crash_recovery.py`` runs the emulator as a subprocess with ``EMULATOR_CRASH_AT``
naming points (``registering``, ``cdr-stored``, ``capturing``, ``fac-creating``,
``fac-created``, ``fac-delivering``; comma-separated); the first time the
process reaches it, it sends itself SIGKILL — the same ``kill -9`` an operator or the OOM
killer gives, nothing flushed, nothing closed — between two steps no outside kill can aim at
reliably. Without the variable (always, outside that test) :func:`reached` is a set look-up.
"""

from __future__ import annotations

import os
import signal

_ARMED = frozenset(p.strip() for p in os.environ.get("EMULATOR_CRASH_AT", "").split(",") if p)


def reached(point: str) -> None:
    """Die here with SIGKILL if the crash test armed ``point``."""
    if point in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
