"""``payter-emulator check``: set up the target, run the selected checks, write the verdict.

Targets: a CPO backend the emulator registers with (``--cpo-versions-url`` + ``--cpo-token-a``),
one that registers with the emulator (``--wait-for-registration``), or the bundled simulated
CPO (``--against cpo-sim[:preset]``), which runs in this process on the emulator's manual
clock, so the whole suite takes seconds. The emulator is started in this process too, unless
``--emulator URL`` names one that runs already (in CI, the one ``compose.yaml`` starts).

Exit codes: 0 every selected check passed; 1 a check failed (or the emulator found errors no
check names); 2 the run could not be made or is incomplete (nothing answers at the CPO's URL,
no registration, a check not run for want of a hook, an empty selection).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from emulator import logs
from emulator.check import report
from emulator.check.client import AdminClient, ControlApiError
from emulator.check.hooks import HOOKS, Hook, cpo_sim_hooks
from emulator.check.runner import ERROR, FAILED, NOT_RUN, PASSED, CheckResult, Runner, Target
from emulator.check.scenario import Check, Scenario, built_in, load_file

log = logs.get_logger("emulator.check")

# Suites a target runs when --suite is not given: the OCPI ones, and cps with a CSMS.
OCPI_SUITES = ("registration", "mirror", "payments", "journey")
REGISTRATION_TIMEOUT = 300.0


class RunError(Exception):
    """The run could not be made (exit 2)."""


@dataclass
class CheckOptions:
    cpo_versions_url: str | None = None
    cpo_token_a: str | None = None
    wait_for_registration: bool = False
    registration_timeout: float = REGISTRATION_TIMEOUT
    against: str | None = None
    ocpi_version: str | None = None
    profile: str = "ptp"
    cps_base_callback: str | None = None
    suites: list[str] = field(default_factory=list)
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    scenarios: list[Path] = field(default_factory=list)
    hooks: dict[str, str] = field(default_factory=dict)
    hook_headers: dict[str, str] = field(default_factory=dict)
    emulator_url: str | None = None
    admin_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    public_url: str | None = None
    seed: int | None = 1
    strict: bool = False
    max_wait: float | None = None
    junit: Path | None = None
    json_path: Path | None = None
    color: bool = False


@dataclass
class Outcome:
    exit_code: int
    results: list[CheckResult]
    other_findings: list[dict[str, Any]]
    target: dict[str, Any]
    seconds: float
    error: str | None = None
    emulator_report: dict[str, Any] | None = None

    @property
    def verdict(self) -> str:
        return {0: "PASS", 1: "FAIL"}.get(self.exit_code, "INCOMPLETE")


def select_checks(options: CheckOptions, *, csms: bool) -> list[Check]:
    """The checks of the chosen suites and scenario files, after --only / --skip."""
    scenarios: list[Scenario] = []
    names = options.suites or ([] if options.scenarios else _default_suites(csms))
    for name in names:
        scenarios.append(built_in(name))
    for path in options.scenarios:
        scenarios.append(load_file(path))
    checks = [c for s in scenarios for c in s.checks]
    seen: set[str] = set()
    for check in checks:
        if check.id in seen:
            raise RunError(f"check {check.id} is defined twice")
        seen.add(check.id)

    def picked(check: Check, patterns: list[str]) -> bool:
        return any(
            fnmatch.fnmatchcase(check.id, p) or check.suite == p or check.id == p for p in patterns
        )

    if options.only:
        checks = [c for c in checks if picked(c, options.only)]
    if options.skip:
        checks = [c for c in checks if not picked(c, options.skip)]
    return checks


def _default_suites(csms: bool) -> list[str]:
    return [*OCPI_SUITES, "cps"] if csms else list(OCPI_SUITES)


def parse_against(value: str) -> str:
    """``cpo-sim`` or ``cpo-sim:PRESET[,PRESET]`` → the preset text."""
    kind, _, preset = value.partition(":")
    if kind != "cpo-sim":
        raise ValueError(f"--against {value!r}: only 'cpo-sim[:preset]' is bundled")
    from emulator.cpo_sim.presets import parse_presets

    parse_presets(preset or "correct")  # raises ValueError for an unknown preset
    return preset or "correct"


class CheckRun:
    """One run: start what is needed, register, run the checks, stop what was started."""

    def __init__(self, options: CheckOptions, out: TextIO | None = None) -> None:
        self.options = options
        self.out = out or sys.stdout
        self.emulator_node: Any = None
        self.cpo_node: Any = None
        self.http: aiohttp.ClientSession | None = None
        self.target_info: dict[str, Any] = {}
        self._minted: dict[str, Any] | None = None
        self._minted_event = asyncio.Event()

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def execute(self) -> Outcome:
        started = time.monotonic()
        o = self.options
        try:
            self.http = aiohttp.ClientSession(trust_env=False)
            target = await self._connect()
            checks = select_checks(o, csms=target.csms)
            if not checks:
                raise RunError("no check selected (see --suite, --only, --skip)")
            self.say(
                f"payter-emulator check: {len(checks)} checks against "
                f"{self.target_info.get('cpo')} (OCPI {self.target_info.get('ocpi_version')}, "
                f"{'manual' if target.manual_clock else 'real'} clock)"
            )
            runner = Runner(
                target,
                progress=lambda r: self.say(report.progress_line(r, o.color)),
            )
            results = await runner.run(checks)
            outcome = Outcome(
                exit_code(results, runner.other_findings),
                results,
                runner.other_findings,
                self.target_info,
                time.monotonic() - started,
            )
            # The emulator's own report of the same run: its verdict and coverage per axis.
            status, emulator_report = await target.emulator.request("GET", "report")
            if status == 200:
                outcome.emulator_report = emulator_report
        except (RunError, ControlApiError, OSError, aiohttp.ClientError, TimeoutError) as exc:
            outcome = Outcome(2, [], [], self.target_info, time.monotonic() - started, str(exc))
        except Exception as exc:  # a fault of this tool must not read as the CPO's
            log.exception("payter-emulator check failed")
            message = f"internal error: {type(exc).__name__}: {exc}"
            outcome = Outcome(2, [], [], self.target_info, time.monotonic() - started, message)
        finally:
            await self.close()
        return outcome

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        for node in (self.cpo_node, self.emulator_node):
            if node is not None:
                with contextlib.suppress(Exception):
                    await node.stop()

    # --- setting up the target -----------------------------------------------------------

    async def _connect(self) -> Target:
        o = self.options
        assert self.http is not None
        if bool(o.cpo_versions_url) + bool(o.against) > 1 or not (
            o.cpo_versions_url or o.against or o.wait_for_registration
        ):
            raise RunError(
                "give one target: --cpo-versions-url (with --cpo-token-a), "
                "--wait-for-registration or --against cpo-sim[:preset]"
            )
        if o.cpo_versions_url and not o.cpo_token_a:
            raise RunError("--cpo-versions-url needs --cpo-token-a")
        cpo_admin: AdminClient | None = None
        hooks: dict[str, Hook] = {}
        if o.against:
            preset = parse_against(o.against)
            emulator, cpo_admin, cpo_versions = await self._start_pair(preset)
            hooks.update(cpo_sim_hooks(cpo_admin.base_url))
            self.target_info["cpo"] = f"the simulated CPO (preset {preset})"
        else:
            emulator = await self._emulator()
            cpo_versions = o.cpo_versions_url or ""
            self.target_info["cpo"] = o.cpo_versions_url or "the CPO that registers"
        for name, value in o.hooks.items():
            hooks[name] = Hook(name, value, headers=o.hook_headers or None)
        clock = await emulator.get("clock")
        manual = clock.get("mode") in ("manual", "paced")
        settings = await emulator.get("settings")
        # The credentials handshake in each direction the run can make, the main one (the
        # platform the other checks use) last; an earlier one is unregistered (DELETE) first.
        plan = self._registration_plan(hooks)
        registrations: list[dict[str, Any]] = []
        platform: dict[str, Any] = {}
        for i, direction in enumerate(plan):
            if direction == "cpo":
                platform = await self._cpo_registers(emulator, hooks.get("register"))
            else:
                token = o.cpo_token_a or "cpo-sim-token-a"
                platform = await self._register(emulator, cpo_versions, token)
            done: dict[str, Any] = {
                "direction": direction,
                "platform_id": platform.get("id"),
                "status": platform.get("status"),
                "version": platform.get("version"),
            }
            if i < len(plan) - 1:
                done.update(await self._unregister(emulator, platform))
            registrations.append(done)
        direction = plan[-1]
        terminal = await self._terminal(emulator, platform)
        self.target_info.update(
            {
                "emulator": emulator.base_url,
                "ocpi_version": platform.get("version"),
                "registration": direction,
                "platform_id": platform.get("id"),
                "profile": settings.get("profile", o.profile),
                "terminal": terminal,
                "clock": "manual" if manual else "real",
                "hooks": sorted(hooks),
                "registrations": " then ".join(plan),
            }
        )
        csms = bool(o.cps_base_callback)
        if csms:
            await self._csms_webhook(emulator)
        return Target(
            emulator=emulator,
            http=self.http,
            manual_clock=manual,
            platform=platform,
            direction=direction,
            profile=str(settings.get("profile", o.profile)),
            terminal=terminal,
            hooks=hooks,
            csms=csms,
            cpo_sim=cpo_admin,
            strict=o.strict,
            max_wait=o.max_wait,
            registrations=registrations,
        )

    def _registration_plan(self, hooks: dict[str, Hook]) -> list[str]:
        """The handshakes to make, the main one last: ``payter`` (the emulator registers with
        the CPO) and/or ``cpo`` (the CPO registers with the emulator: it is waited for, or
        made by the register hook). Both when the run can make both: against the simulated
        CPO; with --cpo-versions-url and either --hook-register or --wait-for-registration."""
        o = self.options
        can_payter = bool(o.against or o.cpo_versions_url)
        can_cpo = bool(o.wait_for_registration or "register" in hooks)
        if o.cpo_versions_url and o.wait_for_registration:
            return ["cpo", "payter"]  # both asked for: the Payter-initiated one is the main
        if o.wait_for_registration:
            return ["payter", "cpo"] if can_payter else ["cpo"]
        return ["cpo", "payter"] if can_cpo else ["payter"]

    async def _cpo_registers(self, emulator: AdminClient, hook: Hook | None) -> Any:
        """A fresh token A; the CPO registers with it (its register hook, or whoever reads
        the printed line); the new platform once it is REGISTERED."""
        waiting = asyncio.create_task(self._wait_for_registration(emulator, hook=hook is not None))
        if hook is not None:
            minted = asyncio.create_task(self._minted_event.wait())
            await asyncio.wait({minted, waiting}, return_when=asyncio.FIRST_COMPLETED)
            minted.cancel()
            if self._minted is not None:
                context = {
                    "versions_url": self._minted["versions_url"],
                    "token": self._minted["token"],
                    "version": self.options.ocpi_version,
                }
                assert self.http is not None
                try:
                    await hook.run(self.http, context)
                except Exception:
                    waiting.cancel()
                    raise
        platform = await waiting
        self._minted, self._minted_event = None, asyncio.Event()
        return platform

    async def _unregister(self, emulator: AdminClient, platform: dict[str, Any]) -> dict[str, Any]:
        """The emulator unregisters (DELETE of its credentials at the CPO) before the
        handshake in the other direction: whether the CPO took the DELETE."""
        status, answer = await emulator.request("DELETE", f"platforms/{platform.get('id')}")
        if status != 200:
            raise RunError(f"could not unregister platform {platform.get('id')}: {answer}")
        warning = answer.get("warning") if isinstance(answer, dict) else None
        return {"unregistered": warning is None, **({"warning": warning} if warning else {})}

    async def _start_pair(self, preset: str) -> tuple[AdminClient, AdminClient, str]:
        from emulator.app import build_emulator
        from emulator.background import Background
        from emulator.clock import ManualClock
        from emulator.cpo_sim.node import build_cpo_sim
        from emulator.cpo_sim.settings import CpoSimSettings
        from emulator.settings import EmulatorSettings

        o = self.options
        assert self.http is not None
        common: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "db": ":memory:",
            "clock": "manual",
            "seed": o.seed,
            "log_level": "error",
            "strict": o.strict,
        }
        clock = ManualClock(Background())
        self.emulator_node = build_emulator(
            EmulatorSettings(
                **{
                    **common,
                    "profile": o.profile,
                    # The checks crawl when they need to (and the registration does): no
                    # periodic crawl every 10 minutes of clock, which would make a wait that
                    # runs out (a day for a CDR) cost seconds of polls no check looks at.
                    "poll_interval": 0,
                }
            ),
            clock=clock,
        )
        self.cpo_node = build_cpo_sim(
            CpoSimSettings(
                **common,
                preset=preset,
                # The check plugs the car in through the hooks, at the moment it chooses.
                auto_plug_in_delay=-1,
                # The CPO invoices: the capture is followed by a FAC (journey.fac-receipt).
                invoicing=True,
                # A car that takes the whole pre-authorization (journey.stop-limit) within
                # hours, and a Session PATCH every 10 minutes meanwhile.
                car_battery_kwh=200,
                car_soc=0,
                charger_power_kw=150,
                car_max_power_kw=150,
                session_patch_interval=600,
            ),
            clock=clock,
        )
        await self.emulator_node.start()
        await self.cpo_node.start()
        emulator = AdminClient(self.http, self.emulator_node.rt.base_url)
        cpo = AdminClient(self.http, self.cpo_node.rt.base_url)
        return emulator, cpo, str(self.cpo_node.server.versions_url)

    async def _emulator(self) -> AdminClient:
        o = self.options
        assert self.http is not None
        if o.emulator_url:
            client = AdminClient(self.http, o.emulator_url, o.admin_token)
            try:
                await client.get("clock")
            except ControlApiError as exc:
                raise RunError(f"the emulator at {o.emulator_url} cannot be used: {exc}") from None
            return client
        from emulator.app import build_emulator
        from emulator.settings import EmulatorSettings

        settings: dict[str, Any] = {
            "host": o.host,
            "port": o.port,
            "db": ":memory:",
            "clock": "real",
            "seed": o.seed,
            "log_level": "error",
            "profile": o.profile,
            "strict": o.strict,
        }
        if o.public_url:
            settings["public_url"] = o.public_url
        self.emulator_node = build_emulator(EmulatorSettings(**settings))
        await self.emulator_node.start()
        return AdminClient(self.http, self.emulator_node.rt.base_url)

    async def _register(self, emulator: AdminClient, versions_url: str, token: str) -> Any:
        body: dict[str, Any] = {"versions_url": versions_url, "token": token}
        if self.options.ocpi_version:
            body["version"] = self.options.ocpi_version
        status, answer = await emulator.request("POST", "platforms/register", body)
        if status != 201:
            error = answer.get("error", answer) if isinstance(answer, dict) else answer
            message = error.get("message") if isinstance(error, dict) else error
            raise RunError(f"could not register with the CPO at {versions_url}: {message}")
        return answer

    async def _wait_for_registration(self, emulator: AdminClient, *, hook: bool = False) -> Any:
        before = {p["id"] for p in await emulator.get("platforms")}
        minted = await emulator.post("tokens-a", {"label": "payter-emulator check"})
        self._minted = minted
        self._minted_event.set()
        if not hook:  # (the register hook is given the same)
            self.say(
                "Register your CPO with the emulator: versions URL "
                f"{minted['versions_url']} token A {minted['token']} "
                f"(waiting up to {self.options.registration_timeout:g} s)"
            )
        deadline = time.monotonic() + self.options.registration_timeout
        since = 0
        while True:
            for platform in await emulator.get("platforms"):
                if platform["id"] not in before and platform.get("status") == "REGISTERED":
                    return platform
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunError(f"no CPO registered within {self.options.registration_timeout:g} s")
            events = await emulator.call(
                "GET", "events", params={"since": since, "wait": min(remaining, 5)},
                timeout=min(remaining, 5) + 30,
            )  # fmt: skip
            if events:
                since = max(int(e["id"]) for e in events)

    async def _terminal(self, emulator: AdminClient, platform: dict[str, Any]) -> str:
        """An OCPI terminal of the run's platform (one of an earlier, unregistered platform
        is of no use), created when there is none."""
        rows = await emulator.get("terminals")
        ocpi = [
            r
            for r in rows
            if r.get("mode", "ocpi") == "ocpi"
            and r.get("platform_id") in (None, platform.get("id"))
        ]
        if ocpi:
            return str(ocpi[0]["serial_number"])
        created = await emulator.post(
            "terminals", {"serial_number": "APO-CHECK-1", "platform_id": platform.get("id")}
        )
        return str(created["serial_number"])

    async def _csms_webhook(self, emulator: AdminClient) -> None:
        """The CSMS's callback URL is registered as the state webhook of a key of the
        check's own, so it hears the CPS test terminals go online and offline."""
        assert self.http is not None
        callback = self.options.cps_base_callback or ""
        listening = await emulator.get("")
        cps_base = str(listening.get("cps_base_url") or "")
        if not cps_base:
            raise RunError("the emulator serves no CPS API")
        key = await emulator.post("cps/api-keys", {"label": "payter-emulator check"})
        headers = {"Authorization": f'CPS apikey="{key["apikey"]}"'}
        async with self.http.post(
            f"{cps_base}webhook", params={"url": callback}, headers=headers
        ) as resp:
            if resp.status != 200:
                raise RunError(f"cannot register {callback} as the CPS webhook: {resp.status}")
        self.target_info["cps_base_url"] = cps_base
        self.target_info["cps_base_callback"] = callback
        self.say(
            f"CPS: base URL {cps_base}; the CSMS drives the terminal CPS-CHECK-1; state "
            f"webhooks go to {callback}"
        )


def exit_code(results: list[CheckResult], other: list[dict[str, Any]]) -> int:
    if any(r.status == FAILED for r in results) or other:
        return 1
    if not results or any(r.status in (NOT_RUN, ERROR) for r in results):
        return 2
    return 0 if all(r.status == PASSED for r in results) else 2


def run_check(options: CheckOptions, out: TextIO | None = None) -> Outcome:
    """Run a whole check (a new event loop) and write its outputs; the CLI's entry point."""
    stream = out or sys.stdout
    outcome = asyncio.run(CheckRun(options, stream).execute())
    write_outputs(options, outcome, stream)
    return outcome


def write_outputs(options: CheckOptions, outcome: Outcome, out: TextIO) -> None:
    out.write(report.summary(outcome, color=options.color))
    if options.junit:
        options.junit.write_text(report.junit_xml(outcome), encoding="utf-8")
    if options.json_path:
        options.json_path.write_text(report.json_text(outcome), encoding="utf-8")
    out.flush()


def hooks_from(given: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name in HOOKS if (value := given.get(name))}


ProgressFn = Callable[[CheckResult], None]
