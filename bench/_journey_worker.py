"""Runs in its own process (pinned to the server core by :mod:`bench.journeys`): the emulator
and the simulated CPO in one process on one manual clock, ``--terminals`` terminals, each
assigned one Location of its own; then ``--journeys`` complete card journeys. Prints one JSON
object with the timings.

A journey: Home → start → the charger → accept the tariff → card → START_SESSION →
CommandResult → Session (plugged in) → 2 minutes of charging (Session PATCHes) → stop on the
terminal → STOP_SESSION → Session COMPLETED → CDR → capture → FAC to the CPO.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp

from emulator import logs
from emulator.app import build_emulator
from emulator.cpo_sim.node import build_cpo_sim
from emulator.cpo_sim.settings import CpoSimSettings
from emulator.settings import EmulatorSettings

START = "2025-03-01T09:00:00Z"


def write_fixtures(folder: Path, count: int) -> None:
    """``count`` Locations of one EVSE each (the packaged garage, copied) and the tariffs."""
    packaged = resources.files("payter_emulator_fixtures") / "cpo_sim"
    locations = json.loads((packaged / "locations.json").read_text(encoding="utf-8"))
    template = next(loc for loc in locations if len(loc.get("evses") or []) == 1)
    out = []
    for i in range(count):
        loc = json.loads(json.dumps(template))
        loc["id"] = f"BENCH-LOC-{i:04d}"
        loc["name"] = f"Bench site {i}"
        evse = loc["evses"][0]
        evse["uid"] = f"BENCH-EVSE-{i:04d}"
        evse["evse_id"] = f"NL*SIM*E{i:05d}*1"
        out.append(loc)
    (folder / "locations.json").write_text(json.dumps(out), encoding="utf-8")
    (folder / "tariffs.json").write_text(
        (packaged / "tariffs.json").read_text(encoding="utf-8"), encoding="utf-8"
    )


class Rig:
    def __init__(self, terminals: int, fixtures: Path) -> None:
        self.n = terminals
        self.emu = build_emulator(
            EmulatorSettings(
                db=":memory:",
                port=0,
                clock="manual",
                clock_start=START,
                seed=7,
                log_level="warning",
                default_terminal="",
                poll_interval=0,
            )
        )
        self.cpo = build_cpo_sim(
            CpoSimSettings(
                db=":memory:",
                port=0,
                clock="manual",
                clock_start=START,
                seed=11,
                log_level="warning",
                fixtures=fixtures,
                terminal_assignment="none",
                auto_plug_in_delay=5,
                session_patch_interval=60,
                invoicing=True,
                ocpi_page_limit=1000,
            ),
            clock=self.emu.rt.clock,
        )
        self.http: aiohttp.ClientSession | None = None

    def serial(self, i: int) -> str:
        return f"APO-{i:04d}"

    async def start(self) -> None:
        await self.emu.start()
        await self.cpo.start()
        self.http = aiohttp.ClientSession()
        status, body = await self.admin(
            "POST",
            "platforms/register",
            {
                "versions_url": self.cpo.server.versions_url,
                "token": "cpo-sim-token-a",
                "version": "2.3.0",
            },
        )
        assert status == 201, body
        await self.advance(1)

    async def stop(self) -> None:
        assert self.http is not None
        await self.http.close()
        await self.cpo.stop()
        await self.emu.stop()

    async def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.http is not None
        async with self.http.request(
            method, f"{self.emu.rt.base_url}/__admin/{path}", json=body
        ) as r:
            return r.status, await r.json(content_type=None)

    async def advance(self, seconds: float) -> None:
        await self.emu.rt.clock.advance(seconds)  # type: ignore[attr-defined]

    async def create_and_assign(self) -> None:
        """Each terminal through the control API (pushed to the CPO), then the CPO assigns
        it its own Location over OCPI (PATCH on the emulator's Payments Sender)."""
        ids = []
        for i in range(self.n):
            status, body = await self.admin("POST", "terminals", {"serial_number": self.serial(i)})
            assert status == 201, body
            ids.append(body["terminal_id"])
        peers = self.cpo.peers
        [platform] = peers.platforms.registered()
        for i, terminal_id in enumerate(ids):
            delivery = await peers.send(
                platform,
                "PATCH",
                "payments",
                f"terminals/{terminal_id}",
                role="SENDER",
                body={"location_ids": [f"BENCH-LOC-{i:04d}"], "last_updated": START},
            )
            assert delivery.ok, delivery.as_json()
        await self.advance(1)

    def screen(self, serial: str) -> dict[str, Any]:
        return dict(self.emu.terminals.get(serial)["screen"])

    async def press(self, serial: str, key: str) -> None:
        host = self.emu.terminals
        if key != "touch" and self.screen(serial)["type"] == "screensaver":
            await host.press(serial, "touch")
        await host.press(serial, key)

    async def journeys(self, serials: list[str]) -> None:
        """One journey on each of ``serials`` at once."""
        for s in serials:
            await self.press(s, "start")
            await self.press(s, "evse1")
            assert self.screen(s)["id"] == "journey.tariff", (s, self.screen(s))
            await self.press(s, "accept")
            await self.emu.terminals.present_card(s, "visa-approved")
        await self.advance(3)  # CommandResult
        await self.advance(10)  # the car is plugged in: Session
        for _ in range(2):
            await self.advance(60)  # Session PATCHes
        for s in serials:
            await self.press(s, "stop")
            await self.emu.terminals.present_card(s, "visa-approved")  # the card used
            await self.press(s, "yes")
        await self.advance(5)
        await self.advance(60)
        await self.advance(60)


async def key_presses(rig: Rig, presses: int) -> list[float]:
    """Milliseconds from a key press on the control API to its ``terminal.screen`` event on
    the event bus (what the TUI's event stream carries)."""
    latencies = []
    with rig.emu.rt.bus.subscribe(maxsize=100000) as sub:
        for i in range(presses):
            serial = rig.serial((i * 7919) % rig.n)
            for key in ("start", "back"):
                if rig.screen(serial)["type"] == "screensaver":
                    await rig.press(serial, "touch")
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                t0 = time.perf_counter()
                status, body = await rig.admin("POST", f"terminals/{serial}/press", {"key": key})
                assert status == 200, body
                while True:
                    event = await asyncio.wait_for(sub.get(), 10)
                    if (
                        event.kind == "terminal.screen"
                        and event.data.get("serial_number") == serial
                    ):
                        break
                latencies.append((time.perf_counter() - t0) * 1000)
    return latencies


def sql_statements(rig: Rig) -> int:
    counter = getattr(rig.emu.rt.store, "statements", None)
    return int(counter) if counter is not None else -1


async def main(terminals: int, journeys: int, batch: int, presses: int) -> dict[str, Any]:
    logs.configure("console", "error")
    with tempfile.TemporaryDirectory(prefix="bench-journeys-") as tmp:
        write_fixtures(Path(tmp), terminals)
        rig = Rig(terminals, Path(tmp))
        await rig.start()
        t0, c0 = time.perf_counter(), time.process_time()
        await rig.create_and_assign()
        create_s, create_cpu = time.perf_counter() - t0, time.process_time() - c0
        rss_after_create = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        press_ms = sorted(await key_presses(rig, presses)) if presses else []
        done = 0
        serial_index = 0
        t0, c0 = time.perf_counter(), time.process_time()
        s0 = sql_statements(rig)
        while done < journeys:
            count = min(batch, journeys - done)
            serials = [rig.serial((serial_index + k) % terminals) for k in range(count)]
            serial_index += count
            await rig.journeys(serials)
            done += count
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        statements = sql_statements(rig) - s0 if s0 >= 0 else -1
        records = rig.emu.journey.records.all()
        completed = sum(1 for j in records if j.state == "COMPLETED" and j.money == "CAPTURED")
        result = {
            "terminals": terminals,
            "journeys": journeys,
            "completed": completed,
            "wall_s": wall,
            "cpu_s": cpu,
            "journeys_per_s": journeys / wall,
            "cpu_ms_per_journey": cpu * 1000 / journeys,
            "sql_per_journey": statements / journeys if statements >= 0 else None,
            "create_assign_s": create_s,
            "create_assign_cpu_s": create_cpu,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_after_create_mb": rss_after_create,
            "press_p50_ms": press_ms[len(press_ms) // 2] if press_ms else None,
            "press_p99_ms": press_ms[min(len(press_ms) - 1, int(0.99 * len(press_ms)))]
            if press_ms
            else None,
            "pid": os.getpid(),
        }
        await rig.stop()
        return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--terminals", type=int, default=10)
    parser.add_argument("--journeys", type=int, default=50)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--presses", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.terminals, args.journeys, args.batch, args.presses))))
