"""Identifiers and secrets from one generator, seeded for deterministic tests.

Without a seed the generator draws from the operating system (tokens must not be guessable in
a shared environment); with ``--seed N`` every id, token and EFT number repeats run after run.
"""

from __future__ import annotations

import random
import secrets
import string
import uuid

_ALNUM = string.ascii_uppercase + string.digits


class Ids:
    def __init__(self, seed: int | None = None, *, start: int = 0) -> None:
        """``start`` counts the earlier starts on the same database: a restart with the same
        seed must not hand out the ids of the first run again (journey ids, authorization
        references, payment sessions), yet stays repeatable."""
        self.seed = seed
        self._rng: random.Random
        if seed is None:
            self._rng = secrets.SystemRandom()
        else:
            self._rng = random.Random(seed if start == 0 else f"{seed}/{start}")

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def token(self) -> str:
        """A credentials token: 40 characters of [0-9a-f] plus dashes (well inside string(64))."""
        return self.uuid() + "-" + self.hex(3)

    def hex(self, nbytes: int) -> str:
        return "".join(f"{self._rng.getrandbits(8):02x}" for _ in range(nbytes))

    def code(self, length: int, alphabet: str = _ALNUM) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def digits(self, length: int) -> str:
        return self.code(length, string.digits)

    def randint(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def random(self) -> float:
        return self._rng.random()
