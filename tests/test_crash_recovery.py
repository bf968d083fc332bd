"""kill -9 at points across the journey, restart, and the money still ends right.

The emulator and the simulated CPO run as subprocesses on database files, each on its own
manual clock (advanced together). First the emulator dies in its registration, after the CPO
answered the credentials POST (its token C lost, the CPO's token A spent): the CPO completes
the registration with a credentials PUT. Then journeys run one after another; at a seeded order
of points the emulator dies with SIGKILL — from outside (just after the STOP_SESSION was
answered, while charging, just after the card was approved) or from inside at an exact step
(``EMULATOR_CRASH_AT``: the CDR stored but not yet passed on, the capture decided but not yet
made, the capture made and its FAC not yet made, the FAC made but the journey not yet naming
it, the FAC delivered but not yet marked) — while the CPO goes on pushing into the void
(it never retries). The emulator is then started again on the same files and port.

Invariant: every authorized journey ends with exactly one capture or one void, a capture at the
CDR's total; no registration, terminal, Session, CDR or FAC is lost or doubled.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SEED = 11
SERIAL = "APO-0001"
START = "2025-03-01T09:00:00Z"
# Outside points: the test kills the process after the step named.
OUTSIDE = ("after-approval", "while-charging", "after-stop")
# Inside points: the emulator kills itself there (emulator/crashpoint.py).
INSIDE = ("cdr-stored", "capturing", "fac-creating", "fac-created", "fac-delivering")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}/__admin/{path.lstrip('/')}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from None


@dataclass
class Node:
    """One server process on a database file (started again on the same file and port)."""

    command: str
    directory: Path
    port: int
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, clock_start: str, crash_at: str | None = None) -> None:
        env = _env(EMULATOR_CRASH_AT=crash_at) if crash_at else _env()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator",
                self.command,
                "--port",
                str(self.port),
                "--db",
                str(self.directory / f"{self.command}.db"),
                "--clock",
                "manual",
                "--clock-start",
                clock_start,
                "--seed",
                str(SEED),
                "--log-level",
                "error",
                *self.args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=self.directory,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until it listens (or exits)
        assert line, f"{self.command} exited before it listened"
        self.info = json.loads(line)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def died(self) -> bool:
        """Whether the process killed itself (a crash point); waits for the exit."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return code == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def now(self) -> str:
        return str(call(self.base, "GET", "clock")["now"])


class Pair:
    def __init__(self, directory: Path) -> None:
        self.emu = Node("serve", directory, _free_port(), ["--poll-interval", "0"])
        self.cpo = Node(
            "cpo-sim",
            directory,
            _free_port(),
            ["--invoicing", "--auto-plug-in-delay", "5", "--session-patch-interval", "300"],
        )
        self.restarts = 0

    def advance(self, seconds: float, *, emulator: bool = True) -> None:
        """Both clocks, the emulator's first (what it sends, the CPO answers on its own)."""
        if emulator:
            call(self.emu.base, "POST", "clock/advance", {"seconds": seconds})
        call(self.cpo.base, "POST", "clock/advance", {"seconds": seconds})
        if emulator:
            call(self.emu.base, "POST", "clock/advance", {"seconds": 0})

    def restart(self, crash_at: str | None = None) -> None:
        """The emulator again on its files and port, at the CPO's time; waits until what it
        does in the background after a restart (recovery) is done."""
        self.emu.start(self.cpo.now(), crash_at)
        self.restarts += 1
        call(self.emu.base, "POST", "clock/advance", {"seconds": 0})

    def press(self, key: str) -> dict[str, Any]:
        screen = call(self.emu.base, "GET", f"terminals/{SERIAL}")["screen"]
        if key != "touch" and screen["type"] == "screensaver":
            self.press("touch")
        call(self.emu.base, "POST", f"terminals/{SERIAL}/press", {"key": key})
        return dict(call(self.emu.base, "GET", f"terminals/{SERIAL}")["screen"])

    def home(self) -> None:
        """Wait (on the clocks) for the terminal's Home screen, waking a screensaver."""
        for _ in range(3):
            screen = call(self.emu.base, "GET", f"terminals/{SERIAL}")["screen"]
            if screen["type"] == "screensaver":
                self.press("touch")
                screen = call(self.emu.base, "GET", f"terminals/{SERIAL}")["screen"]
            if screen["id"] == "journey.home":
                return
            self.advance(60)
        raise AssertionError(f"no Home screen: {screen}")


def latest(pair: Pair) -> dict[str, Any]:
    return dict(call(pair.emu.base, "GET", "journeys")[-1])


def journey(pair: Pair, point: str, arm: str | None) -> None:
    """One journey with the emulator killed at ``point``; once it has settled, the emulator is
    started again armed with ``arm`` (the next journey's inside point: armed any earlier, the
    recovery of this journey could reach it)."""
    pair.home()
    choose = pair.press("start")
    evse = next(k for k in choose["keys"] if k.startswith("evse"))  # the first free charger
    assert pair.press(evse)["id"] == "journey.tariff"
    pair.press("accept")
    call(pair.emu.base, "POST", f"terminals/{SERIAL}/present-card", {"card": "visa-approved"})
    if point == "after-approval":
        # START_SESSION went out and was accepted; its result, the Session come while down.
        pair.emu.kill()
        pair.advance(20, emulator=False)
        pair.restart()
    pair.advance(3)  # the charger's CommandResult
    pair.advance(15)  # the car is plugged in: the Session
    pair.advance(600)
    if point == "while-charging":
        pair.emu.kill()
        pair.advance(600, emulator=False)  # two Session PATCHes into the void
        pair.restart()
    pair.press("stop")
    # Stop reads the card used (Payter's advice): tap it, then confirm.
    call(pair.emu.base, "POST", f"terminals/{SERIAL}/present-card", {"card": "visa-approved"})
    pair.press("yes")  # STOP_SESSION sent and answered ACCEPTED
    if point == "after-stop":
        pair.emu.kill()
        pair.advance(65, emulator=False)  # its result, the Session COMPLETED and the CDR
        pair.restart()
        # Settled by the restart itself, from the CDR pulled back (date_from, every page).
        assert latest(pair)["money"] == "CAPTURED", latest(pair)
        pulls = call(pair.emu.base, "GET", "journal?direction=out&limit=1000")
        assert any("/cdrs" in e["url"] and "date_from=" in e["url"] for e in pulls)
    elif point in INSIDE:
        try:
            pair.advance(65)
        except (AssertionError, OSError):
            pass  # the emulator died answering
        assert pair.emu.died(), f"the emulator did not reach {point}"
        pair.advance(5, emulator=False)
        pair.restart()
        # The stored CDR passed on, the capture made, the FAC made: by the restart.
        assert latest(pair)["money"] == "CAPTURED", latest(pair)
        assert latest(pair)["fac_id"] is not None, latest(pair)
    pair.advance(65)  # settled: the CDR, the capture, the FAC delivered (retries at once)
    if arm:
        pair.emu.kill()
        pair.restart(arm)


@pytest.mark.timeout(180)
def test_every_authorized_journey_ends_once_across_kill_minus_9(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    points = [*OUTSIDE, *INSIDE]
    random.Random(SEED).shuffle(points)
    try:
        pair.cpo.start(START)
        # Killed in the registration, after the CPO answered our credentials POST: it holds
        # token B and spent its token A; its token C died with the process.
        pair.emu.start(START, "registering")
        try:
            call(
                pair.emu.base,
                "POST",
                "platforms/register",
                {
                    "versions_url": pair.cpo.info["ocpi_versions_url"],
                    "token": "cpo-sim-token-a",
                    "version": "2.3.0",
                },
            )
        except (AssertionError, OSError):
            pass  # no answer: the emulator died
        assert pair.emu.died(), "the emulator did not reach registering"
        pair.restart(points[0] if points[0] in INSIDE else None)
        # The CPO updates its credentials (PUT with token B): the registration is complete.
        [theirs] = call(pair.cpo.base, "GET", "platforms")
        call(pair.cpo.base, "POST", f"platforms/{theirs['id']}/update", {})
        pair.advance(5)  # the CPO assigns the terminal; the first crawl runs
        for point, after in zip(points, [*points[1:], None], strict=True):
            journey(pair, point, after if after in INSIDE else None)
        pair.advance(120)  # what is still in flight (FAC retries are minutes apart)
        pair.advance(3600)
        check_invariant(pair, len(points))
    finally:
        pair.emu.stop()
        pair.cpo.stop()


def check_invariant(pair: Pair, expected: int) -> None:
    emu, cpo = pair.emu.base, pair.cpo.base
    assert pair.restarts >= expected
    journeys = call(emu, "GET", "journeys")
    assert len(journeys) == expected, [j["state"] for j in journeys]
    payments = call(emu, "GET", f"terminals/{SERIAL}/sessions")
    cpo_cdrs = {
        c["object"]["authorization_reference"]: c["object"] for c in call(cpo, "GET", "cdrs")
    }
    facs = Counter(
        f["object"]["authorization_reference"]
        for f in call(cpo, "GET", "financial-advice-confirmations")
    )
    for j in journeys:
        ref = j["authorization_reference"]
        assert j["money"] in ("CAPTURED", "VOIDED"), j
        if ref in cpo_cdrs:
            cdr = cpo_cdrs[ref]
            total = cdr["total_cost"]
            cents = round(
                (
                    float(total["before_taxes"])
                    + sum(float(t["amount"]) for t in total.get("taxes") or [])
                )
                * 100
            )
            assert j["money"] == "CAPTURED" and j["captured_amount"] == cents, (j, cents)
            assert j["cdr_id"] == cdr["id"]
            assert facs[ref] == 1, (ref, facs)
            assert j["fac_delivered"] is True, j
        else:
            assert j["money"] == "VOIDED", j
    # Exactly one capture or one void for each pre-authorization on the terminal.
    assert len(payments) == expected, payments
    assert all(p["state"] in ("COMMITTED", "CANCELLED") for p in payments), payments
    assert Counter(p["state"] for p in payments)["COMMITTED"] == sum(
        1 for j in journeys if j["money"] == "CAPTURED"
    )
    # Nothing lost or doubled: one registration, one terminal, the CPO's Sessions and CDRs.
    platforms = call(emu, "GET", "platforms")
    assert [p["status"] for p in platforms] == ["REGISTERED"]
    assert [p["status"] for p in call(cpo, "GET", "platforms")] == ["REGISTERED"]
    assert [t["serial_number"] for t in call(emu, "GET", "terminals")] == [SERIAL]
    ours = call(emu, "GET", "ocpi/sessions")
    assert sorted(s["id"] for s in ours) == sorted(
        s["object"]["id"] for s in call(cpo, "GET", "sessions")
    )
    received = call(emu, "GET", "ocpi/cdrs")
    assert sorted(c["id"] for c in received) == sorted(c["id"] for c in cpo_cdrs.values())
    assert len(received) == len({c["id"] for c in received})
