"""``payter-emulator demo``: the emulator, the simulated CPO and the TUI in one process.

Both servers listen on loopback ports (``0`` picks free ones) and share one clock. The demo
registers them with each other over OCPI (the emulator as Sender, with a token A minted at the
simulated CPO), creates the terminals, waits until the simulated CPO has assigned its EVSEs to
them (it PATCHes Payter's Terminal objects after they are pushed), and then shows the first
terminal in the TUI, or, with ``--headless``, just runs until stopped.

Every step goes through the same control API a person or a CI script uses, so the demo shows
nothing that a separate ``serve`` + ``cpo-sim`` pair could not do.

The clock is a manual clock that the demo "paces": it follows the wall clock, and the TUI's
+1 min / +1 h (``POST /__admin/clock/advance``) jump it forwards on top. ``--clock manual``
leaves it still until advanced, for scripts.

Nothing here imports Textual unless the TUI is shown (``tests/tui/test_tui_import_hygiene.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import aiohttp

from emulator.background import Background
from emulator.clock import ManualClock
from emulator.datetimes import parse_datetime

# How long registration and EVSE assignment may take before the demo gives up (real seconds:
# these are HTTP round trips on loopback).
SETUP_TIMEOUT = 30.0
PACE_INTERVAL = 0.25
# With the manual clock, setup may move it this far: the simulated CPO assigns EVSEs to a new
# terminal after a (virtual) delay.
SETUP_CLOCK_ALLOWANCE = timedelta(seconds=30)


class PacedClock(ManualClock):
    """The manual clock the demo moves along with the wall clock (``GET /__admin/clock``
    reports its mode as ``paced``); it can still be advanced."""

    kind = "paced"


class DemoError(RuntimeError):
    """The demo could not be set up; the message says which step failed."""


@dataclass
class DemoOptions:
    headless: bool = False
    ready_file: Path | None = None
    host: str = "127.0.0.1"
    emulator_port: int = 0
    cpo_sim_port: int = 0
    terminals: int = 1
    version: str = "2.3.0"
    seed: int | None = 7
    clock: Literal["paced", "manual"] = "paced"
    clock_start: str | None = None
    preset: str | None = None
    log_level: str = "warning"
    emulator_settings: dict[str, Any] = field(default_factory=dict)
    cpo_sim_settings: dict[str, Any] = field(default_factory=dict)

    def serial(self, index: int) -> str:
        return f"PAY-DEMO-{index + 1:04d}"


def _load_cpo_sim() -> tuple[Callable[..., Any], type[Any]]:
    try:
        from emulator.cpo_sim.node import build_cpo_sim
        from emulator.cpo_sim.settings import CpoSimSettings
    except ImportError as exc:
        raise DemoError(
            "the simulated CPO (emulator/cpo_sim) is not part of this build; "
            f"the demo needs it ({exc})"
        ) from None
    return build_cpo_sim, CpoSimSettings


class Demo:
    """Start, register and stop the two servers of the demo."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.emulator: Any = None
        self.cpo_sim: Any = None
        self.clock: ManualClock | None = None
        self.ready: dict[str, Any] = {}
        self._pacer: asyncio.Task[None] | None = None
        self.admin_token: str | None = None
        self.cpo_sim_admin_token: str | None = None
        self._http: aiohttp.ClientSession | None = None
        # The setup step under way, named when it fails.
        self._step = "starting"

    # --- start / stop ---------------------------------------------------------------------

    def settings(self) -> tuple[datetime | None, Any, Any]:
        """The clock's start and the settings of the two servers; raises ``ValueError`` (a
        pydantic ``ValidationError`` among them) for a bad option, before anything starts.

        Settings the demo does not fix come from the ``EMULATOR_*`` and
        ``EMULATOR_CPO_SIM_*`` variables as for ``serve`` and ``cpo-sim`` (an admin token, a
        strict mode, ...)."""
        from emulator.settings import EmulatorSettings

        _, cpo_settings_cls = _load_cpo_sim()
        opts = self.options
        try:
            start = parse_datetime(opts.clock_start) if opts.clock_start else None
        except ValueError as exc:
            raise ValueError(f"--clock-start: {exc}") from None
        common = {
            "host": opts.host,
            "db": ":memory:",
            "clock": "manual",
            "seed": opts.seed,
            "log_level": opts.log_level,
        }
        # The demo creates its own terminals (PAY-DEMO-…): no default one beside them.
        emulator_settings = EmulatorSettings(
            **{
                **common,
                "port": opts.emulator_port,
                "default_terminal": "",
                **opts.emulator_settings,
            }
        )
        cpo_extra = {"preset": opts.preset} if opts.preset else {}
        # The simulated CPO issues the invoices: the receipt shows the invoice's QR code and
        # the capture is followed by a financial advice confirmation, the whole journey.
        cpo_settings = cpo_settings_cls(
            **{
                **common,
                "port": opts.cpo_sim_port,
                "invoicing": True,
                # The demo's terminals are assigned at once: no second of waiting at start-up.
                "terminal_assignment_delay": 0,
                **cpo_extra,
                **opts.cpo_sim_settings,
            }
        )
        return start, emulator_settings, cpo_settings

    async def start(self) -> dict[str, Any]:
        from emulator.app import build_emulator

        build_cpo_sim, _ = _load_cpo_sim()
        opts = self.options
        if opts.ready_file:
            # A ready file left by an earlier run must never be read as this one's.
            opts.ready_file.unlink(missing_ok=True)
        start, emulator_settings, cpo_settings = self.settings()
        if start is None and opts.clock == "paced":
            # A paced demo starts at the wall-clock time a person expects to see.
            start = datetime.now(UTC).replace(microsecond=0)
        self.clock = (PacedClock if opts.clock == "paced" else ManualClock)(Background(), start)
        # With EMULATOR_ADMIN_TOKEN / EMULATOR_CPO_SIM_ADMIN_TOKEN set, the control APIs want
        # them, from the demo's own calls and from its TUI alike. Never in the ready object.
        self.admin_token = emulator_settings.admin_token
        self.cpo_sim_admin_token = cpo_settings.admin_token
        self.emulator = build_emulator(emulator_settings, clock=self.clock)
        self.cpo_sim = build_cpo_sim(cpo_settings, clock=self.clock)
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=SETUP_TIMEOUT), trust_env=False
        )
        try:
            emulator_info = await self.emulator.start()
            cpo_info = await self.cpo_sim.start()
            if opts.clock == "paced":
                self._pacer = asyncio.create_task(self._pace(), name="demo-pacer")
            try:
                async with asyncio.timeout(SETUP_TIMEOUT):
                    self._step = f"registering over OCPI {opts.version}"
                    platform = await self._register(cpo_info)
                    self._step = "creating the terminals"
                    serials = await self._create_terminals(platform.get("id"))
                    self._step = "waiting for the simulated CPO to assign EVSEs to the terminals"
                    evses = await self._wait_for_assignment(serials)
            except TimeoutError:
                raise DemoError(f"{self._step}: not done within {SETUP_TIMEOUT:g} s") from None
        except BaseException:
            await self.stop()
            raise
        self.ready = {
            "event": "ready",
            "emulator": emulator_info,
            "cpo_sim": cpo_info,
            "platform_id": platform.get("id"),
            "ocpi_version": platform.get("version"),
            "terminals": serials,
            "evses": evses,
        }
        if opts.ready_file:
            from emulator.node import write_ready_file

            write_ready_file(opts.ready_file, self.ready)
        return self.ready

    async def stop(self) -> None:
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(BaseException):
                await self._pacer
            self._pacer = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        for node in (self.cpo_sim, self.emulator):
            if node is not None:
                with contextlib.suppress(Exception):
                    await node.stop()
        self.cpo_sim = self.emulator = None

    async def _pace(self) -> None:
        """Move the manual clock along with the wall clock (the demo's 'paced' clock)."""
        assert self.clock is not None
        last = time.monotonic()
        while True:
            await asyncio.sleep(PACE_INTERVAL)
            now = time.monotonic()
            await self.clock.advance(now - last)
            last = now

    # --- setup through the control APIs ---------------------------------------------------

    async def _admin(
        self, base_url: str, method: str, path: str, body: Any = None, *, expect: int = 200
    ) -> Any:
        assert self._http is not None
        url = f"{base_url}/__admin/{path}"
        own = base_url == self.emulator.rt.base_url
        token = self.admin_token if own else self.cpo_sim_admin_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self._http.request(method, url, json=body, headers=headers) as resp:
            data = await resp.json(content_type=None)
            if resp.status != expect and not (expect == 200 and resp.status == 201):
                raise DemoError(f"{method} {url} answered {resp.status}: {data}")
            return data

    async def _register(self, cpo_info: dict[str, Any]) -> dict[str, Any]:
        cpo_url = cpo_info["url"]
        minted = await self._admin(
            cpo_url, "POST", "tokens-a", {"label": "payter-emulator demo"}, expect=201
        )
        platform = await self._admin(
            self.emulator.rt.base_url,
            "POST",
            "platforms/register",
            {
                "versions_url": minted.get("versions_url") or cpo_info["ocpi_versions_url"],
                "token": minted["token"],
                "version": self.options.version,
            },
            expect=201,
        )
        return dict(platform)

    async def _create_terminals(self, platform_id: int | None) -> list[str]:
        serials = []
        for index in range(self.options.terminals):
            serial = self.options.serial(index)
            body: dict[str, Any] = {"serial_number": serial, "model": "Apollo"}
            if platform_id is not None:
                body["platform_id"] = platform_id
            await self._admin(self.emulator.rt.base_url, "POST", "terminals", body, expect=201)
            serials.append(serial)
        return serials

    async def _wait_for_assignment(self, serials: list[str]) -> dict[str, list[str]]:
        """Until the simulated CPO has assigned EVSEs to every demo terminal."""
        assert self.clock is not None
        limit = self.clock.now() + SETUP_CLOCK_ALLOWANCE
        while True:
            listed = await self._admin(self.emulator.rt.base_url, "GET", "terminals")
            evses = {
                t["serial_number"]: [e.get("evse_uid") for e in t.get("evses") or []]
                for t in listed
                if t.get("serial_number") in serials
            }
            if all(evses.get(s) for s in serials):
                return evses
            for t in listed:
                if t.get("serial_number") in serials and t.get("push_state") in (
                    "NO_ENDPOINT",
                    "FAILED",
                ):
                    why = t.get("push_error") or (
                        "the simulated CPO lists no payments RECEIVER for OCPI "
                        f"{self.options.version}"
                    )
                    raise DemoError(
                        f"terminal {t['serial_number']} could not be pushed to the simulated "
                        f"CPO (push_state {t['push_state']}: {why}), so it gets no EVSEs"
                    )
            # The simulated CPO assigns after a short virtual delay: move the manual clock to
            # its next timer (the paced clock gets there by itself).
            due = self.clock.next_due()
            if self.options.clock == "manual" and due is not None and due <= limit:
                await self.clock.advance_to(due)
            else:
                await self.clock.advance(0)
            await asyncio.sleep(0.05)


async def _wait_for_signal() -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run(options: DemoOptions) -> int:
    """Run the demo until the TUI quits (or, headless, until SIGINT/SIGTERM)."""
    from emulator import logs
    from emulator.node import print_listening, started

    if options.headless:
        logs.configure("auto", options.log_level, lazy=True)
    else:
        # Textual owns the terminal: not one log line may reach it.
        logs.silence()
    demo = Demo(options)
    try:
        ready = await demo.start()
    except (DemoError, OSError, TimeoutError, aiohttp.ClientError) as exc:
        import sys

        # Some exceptions (a bare TimeoutError, ...) have no message: name them at least.
        sys.stderr.write(f"demo: cannot start: {str(exc) or repr(exc)}\n")
        return 1
    finally:
        started()
    try:
        if options.headless:
            print_listening(ready)
            await _wait_for_signal()
        else:
            from tui.app import make_app

            app = make_app(
                ready["emulator"]["url"],
                admin_token=demo.admin_token,
                cpo_sim_url=ready["cpo_sim"]["url"],
                cpo_sim_token=demo.cpo_sim_admin_token,
                initial_serial=ready["terminals"][0] if ready["terminals"] else None,
                poll_interval=1.0,
            )
            await app.run_async()
    finally:
        await demo.stop()
    return 0
