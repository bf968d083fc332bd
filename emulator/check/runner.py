"""Runs the checks of scenario files against a CPO backend through the emulator's control API.

One :class:`Runner` per run. Each check gets a window (the findings and exchanges recorded
while it runs): it fails when a step or an expectation fails, or when an error finding of one
of its rules is recorded in its window. A finding recorded outside the window of a check that
names its rule (during registration, say) is held against every check of the run that names
the rule; one that no check names is reported as an "other finding". A check whose needs (a
hook, a CSMS, a registration direction, an OCPI version) the run cannot meet is "not run",
never passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp

from emulator.check.client import AdminClient, ControlApiError
from emulator.check.hooks import Hook, HookFailed
from emulator.check.scenario import Check
from emulator.datetimes import format_datetime, parse_datetime

PASSED, FAILED, NOT_RUN, ERROR = "passed", "failed", "not_run", "error"
# Journey states in which a session is under way (journey/records.py ACTIVE).
ACTIVE_JOURNEY = ("STARTED", "CHARGING", "STOPPING")
_VAR = re.compile(r"\$\{(\w+)\}")


class StepFailed(Exception):
    """The CPO did not do what the step waited for, or an expectation does not hold."""


class CannotRun(Exception):
    """The check could not be carried out (a hook failed, the control API refused a call)."""


@dataclass
class CheckResult:
    id: str
    title: str
    suite: str
    rules: list[str]
    references: list[str]
    status: str = PASSED
    reason: str | None = None
    failures: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # Infos of its rules while it ran: they fail nothing, but say why a wait ran out (a
    # CommandResult that never came, a Session that never followed).
    notes: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    seconds: float = 0.0
    clock_start: str | None = None
    clock_end: str | None = None
    allowed: list[str] = field(default_factory=list)
    source: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "suite": self.suite,
            "status": self.status,
            "reason": self.reason,
            "rules": self.rules,
            "references": self.references,
            "failures": self.failures,
            "findings": [_finding_json(f) for f in self.findings],
            "warnings": [_finding_json(f) for f in self.warnings],
            "notes": [_finding_json(f) for f in self.notes],
            "log": self.log,
            "seconds": round(self.seconds, 3),
            "clock": {"start": self.clock_start, "end": self.clock_end},
            "source": self.source,
        }


def _finding_json(f: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "rule", "severity", "axis", "title", "message", "reference", "exchange_id")
    out = {k: f.get(k) for k in keys}
    if f.get("outside"):
        out["outside_the_check"] = True
    return out


@dataclass
class Target:
    """What the run is against, as far as the checks need to know."""

    emulator: AdminClient
    http: aiohttp.ClientSession
    manual_clock: bool
    platform: dict[str, Any] | None
    direction: str | None  # "payter" | "cpo"
    profile: str
    terminal: str
    hooks: dict[str, Hook]
    csms: bool = False
    cpo_sim: AdminClient | None = None
    strict: bool = False
    # Seconds a step waits at most when the scenario's own 'within' is longer.
    max_wait: float | None = None
    # The credentials handshakes the run made, in order, the main one (``platform``) last:
    # ``{"direction", "platform_id", "status", "version", "unregistered"?, "warning"?}``.
    registrations: list[dict[str, Any]] = field(default_factory=list)


class Runner:
    def __init__(self, target: Target, progress: Callable[[CheckResult], None] | None = None):
        self.t = target
        self.emu = target.emulator
        self.progress = progress
        self.results: list[CheckResult] = []
        self.other_findings: list[dict[str, Any]] = []
        # Findings recorded outside any check that names their rule, until the run ends.
        self._held: list[dict[str, Any]] = []
        self._finding_cursor = 0
        self._event_cursor = 0
        # A value no earlier run against the same CPO used: the emulator's clock at the start
        # (seconds, base 36); on the manual clock the same in every run, as the rest is.
        self.unique = ""

    # --- the run -------------------------------------------------------------------------

    async def start(self) -> None:
        """Everything recorded so far (the registration) is the setup window."""
        clock = await self.emu.get("clock")
        self.unique = _base36(int(parse_datetime(clock["now"]).timestamp()))
        self._held.extend(await self._new_findings())

    async def run(self, checks: list[Check]) -> list[CheckResult]:
        await self.start()
        for check in checks:
            result = await self.run_check(check)
            self.results.append(result)
            if self.progress:
                self.progress(result)
        await self.finish()
        return self.results

    async def finish(self) -> None:
        """Findings recorded outside the checks that name their rule go to those checks (the
        ones recorded before a check already went to it when it ended)."""
        self._held.extend(await self._new_findings())
        ran = [r for r in self.results if r.status in (PASSED, FAILED)]
        for f in self._held:
            if not self._counts(f):
                continue
            owners = [r for r in ran if f["rule"] in r.rules and f["rule"] not in r.allowed]
            for r in owners:
                if any(g.get("id") == f.get("id") for g in r.findings):
                    continue
                r.findings.append({**f, "outside": True})
                if r.status == PASSED:
                    r.status = FAILED
            if not owners:
                self.other_findings.append(f)

    def _counts(self, f: dict[str, Any]) -> bool:
        return f.get("severity") == "error" or (self.t.strict and f.get("severity") == "warning")

    async def run_check(self, check: Check) -> CheckResult:
        result = CheckResult(
            check.id, check.title, check.suite, check.rules, check.references, source=check.source
        )
        for rule in _allowed(check):
            result.allowed.append(rule)
        missing = self._unmet(check)
        if missing:
            result.status, result.reason = NOT_RUN, missing
            return result
        started = time.monotonic()
        run = _CheckRun(self, check, result)
        before = await self._new_findings()
        self._held.extend(before)
        result.clock_start = await run.now_text()
        try:
            await run.setup()
            for step in check.steps:
                await run.step(step)
            window = await self._new_findings()
            await run.expectations(window)
        except StepFailed as exc:
            result.failures.append(str(exc))
            window = await self._new_findings()
        except (CannotRun, HookFailed, ControlApiError) as exc:
            result.status, result.reason = ERROR, str(exc)
            window = await self._new_findings()
        finally:
            await run.cleanup()
        result.clock_end = await run.now_text()
        result.seconds = time.monotonic() - started
        for f in window:
            mine = f["rule"] in check.rules
            if mine and f["rule"] in result.allowed:
                continue
            if mine and self._counts(f):
                result.findings.append(f)
            elif mine and f.get("severity") == "warning":
                result.warnings.append(f)
            elif mine and f.get("severity") == "info":
                result.notes.append(f)
            else:
                self._held.append(f)
        if result.status != ERROR:
            # An error of its rules found before it ran (during the registration, say) fails
            # it now, so that its progress line says so (later ones: when the run ends).
            for f in self._held:
                if f["rule"] in check.rules and f["rule"] not in result.allowed and self._counts(f):
                    result.findings.append({**f, "outside": True})
        if result.status != ERROR and (result.failures or result.findings):
            result.status = FAILED
        return result

    def _unmet(self, check: Check) -> str | None:
        t = self.t
        for need in check.needs:
            if need == "csms":
                if not t.csms:
                    return "needs a CSMS on the Cloud Payment Service (--cps-base-callback)"
            elif need == "manual-clock":
                if not t.manual_clock:
                    return "needs the manual clock (hours of charging; --against cpo-sim)"
            elif need == "both-directions":
                if {r["direction"] for r in t.registrations} != {"payter", "cpo"}:
                    return (
                        "needs the handshake in both directions: --cpo-versions-url with "
                        "--hook-register (or with --wait-for-registration), or --against cpo-sim"
                    )
            elif need not in t.hooks:
                return f"needs the {need} hook (--hook-{need})"
        setup = check.setup
        reg = setup.get("registration") or {}
        direction = reg.get("direction", "any")
        if t.platform is None and not setup.get("csms"):
            return "no CPO platform is registered"
        if direction != "any" and t.direction != direction:
            other = "--cpo-versions-url" if direction == "payter" else "--wait-for-registration"
            return f"needs the registration started by {direction} ({other})"
        versions = reg.get("version")
        if versions and t.platform and t.platform.get("version") not in versions:
            return (
                f"applies to OCPI {', '.join(versions)}; the CPO registered with "
                f"{t.platform.get('version')}"
            )
        listed = {e.get("identifier") for e in (t.platform or {}).get("endpoints") or []}
        missing = [m for m in setup.get("endpoints") or [] if m not in listed]
        if missing and t.platform is not None:
            return f"the CPO's version details list no {', '.join(missing)} endpoint"
        profiles = setup.get("profile")
        if profiles and t.profile not in profiles:
            return f"applies to the profile {', '.join(profiles)}; this run is {t.profile}"
        if setup.get("presets") and t.cpo_sim is None:
            return "needs the simulated CPO's presets (--against cpo-sim)"
        if setup.get("csms") and not t.csms:
            return "needs a CSMS on the Cloud Payment Service (--cps-base-callback)"
        return None

    async def _new_findings(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self.emu.get(
            "findings", since=self._finding_cursor, limit=100000
        )
        if rows:
            self._finding_cursor = max(int(r["id"]) for r in rows)
        return rows


def _allowed(check: Check) -> list[str]:
    out: list[str] = []
    for item in check.expect:
        if "findings" in item:
            out.extend(item["findings"].get("allowed") or [])
    return out


class _CheckRun:
    """The state of one check while it runs: its variables, journey and window."""

    def __init__(self, runner: Runner, check: Check, result: CheckResult) -> None:
        self.runner = runner
        self.t = runner.t
        self.emu = runner.emu
        self.check = check
        self.result = result
        # ${unique}: a value of this run's own (a terminal reference to activate, say).
        self.vars: dict[str, Any] = {"terminal": self.t.terminal, "unique": runner.unique}
        if self.t.platform:
            self.vars["platform_id"] = self.t.platform.get("id")
        self.journal_start = 0
        self.known_journeys: set[str] = set()
        self.faults: list[int] = []
        self.presets: str | None = None
        # The car this check plugged in and has not unplugged (unplugged at the end), and the
        # EVSE it took out of service and has not put back (put back at the end).
        self.plugged: dict[str, Any] | None = None
        self.unavailable: dict[str, Any] | None = None

    def log(self, text: str) -> None:
        self.result.log.append(text)

    async def now_text(self) -> str | None:
        try:
            clock = await self.emu.get("clock")
        except ControlApiError:
            return None
        return str(clock.get("now"))

    # --- setup / cleanup ---------------------------------------------------------------

    async def setup(self) -> None:
        latest = await self.emu.get("journal", limit=1, order="desc")
        self.journal_start = int(latest[0]["id"]) if latest else 0
        for terminal in self.check.setup.get("terminals") or []:
            await self._ensure_terminal(terminal)
        presets = self.check.setup.get("presets")
        if presets and self.t.cpo_sim is not None:
            current = await self.t.cpo_sim.get("preset")
            self.presets = current.get("preset") if isinstance(current, dict) else None
            await self.t.cpo_sim.call("PUT", "preset", {"preset": ",".join(presets)})
        for row in await self.emu.get("journeys", limit=100000):
            self.known_journeys.add(str(row["id"]))

    async def _ensure_terminal(self, spec: dict[str, Any]) -> None:
        serial = spec["serial_number"]
        status, _ = await self.emu.request("GET", f"terminals/{serial}")
        if status == 404:
            body = {k: v for k, v in spec.items() if v is not None}
            if self.t.platform and spec.get("mode", "ocpi") == "ocpi":
                body["platform_id"] = self.t.platform["id"]
            await self.emu.post("terminals", body)
            self.log(f"created terminal {serial}")

    async def cleanup(self) -> None:
        unplug = self.t.hooks.get("unplug")
        if self.plugged is not None and unplug is not None:
            # A check that stopped half-way leaves the charger free for the next one.
            with contextlib.suppress(HookFailed):
                await unplug.run(self.t.http, self.plugged)
                self.log("cleanup: unplugged the car")
        available = self.t.hooks.get("evse-available")
        if self.unavailable is not None and available is not None:
            with contextlib.suppress(HookFailed):
                await available.run(self.t.http, self.unavailable)
                self.log("cleanup: the EVSE is back in service")
        for fault_id in self.faults:
            await self.emu.request("DELETE", f"faults/{fault_id}")
        if self.presets is not None and self.t.cpo_sim is not None:
            await self.t.cpo_sim.call("PUT", "preset", {"preset": self.presets})

    # --- variables -----------------------------------------------------------------------

    def subst(self, value: Any) -> Any:
        if isinstance(value, str):
            return _VAR.sub(lambda m: str(self.vars.get(m.group(1), m.group(0))), value)
        if isinstance(value, dict):
            return {k: self.subst(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.subst(v) for v in value]
        return value

    def terminal_of(self, spec: Any) -> str:
        if isinstance(spec, dict) and spec.get("terminal"):
            return str(self.subst(spec["terminal"]))
        return str(self.vars["terminal"])

    # --- steps ---------------------------------------------------------------------------

    async def step(self, raw: dict[str, Any]) -> None:
        [(action, arg)] = raw.items()
        arg = self.subst(arg)
        handler: Callable[[Any], Awaitable[None]] = getattr(self, "do_" + action)
        await handler(arg)

    async def do_press(self, arg: Any) -> None:
        key = arg if isinstance(arg, str) else arg["key"]
        await self.press(self.terminal_of(arg), key)

    async def screen(self, serial: str) -> dict[str, Any]:
        terminal = await self.emu.get(f"terminals/{serial}")
        return dict(terminal.get("screen") or {})

    async def press(self, serial: str, key: str) -> dict[str, Any]:
        screen = await self.screen(serial)
        if key != "touch" and screen.get("type") == "screensaver":
            await self.emu.post(f"terminals/{serial}/press", {"key": "touch"})
            screen = await self.screen(serial)
        status, body = await self.emu.request("POST", f"terminals/{serial}/press", {"key": key})
        if status != 200:
            raise StepFailed(
                f"{serial}: cannot press {key!r} on screen {screen.get('id')} "
                f"(keys {', '.join(screen.get('keys') or [])}): {body}"
            )
        self.log(f"pressed {key} on {screen.get('id')}")
        return await self.screen(serial)

    async def do_tap(self, arg: Any) -> None:
        card = arg if isinstance(arg, str) else arg["card"]
        medium = "contactless" if isinstance(arg, str) else arg.get("medium", "contactless")
        await self.tap(self.terminal_of(arg), card, medium)

    async def tap(self, serial: str, card: str, medium: str = "contactless") -> None:
        answer = await self.emu.post(
            f"terminals/{serial}/present-card", {"card": card, "medium": medium}
        )
        if answer.get("result") != "read":
            raise StepFailed(f"{serial}: card {card} was not read: {answer.get('reason')}")
        self.log(f"tapped {card}")

    async def do_pin(self, arg: str) -> None:
        serial = str(self.vars["terminal"])
        for digit in arg:
            await self.press(serial, digit)
        await self.press(serial, "ok")

    async def do_choose(self, arg: dict[str, Any]) -> None:
        await self.choose(self.terminal_of(arg), arg.get("evse"), arg.get("prefer"))

    async def home(self, serial: str, within: float = 120) -> None:
        """Until the terminal shows Home (notices of the last journey time out first)."""
        last: list[Any] = [None]

        async def at_home() -> bool:
            screen = await self.screen(serial)
            last[0] = screen.get("id")
            if screen.get("type") == "screensaver":
                await self.emu.post(f"terminals/{serial}/press", {"key": "touch"})
                return False
            return screen.get("id") == "journey.home"

        if not await self.wait_until(at_home, within):
            raise StepFailed(f"{serial} shows {last[0]}, not the home screen, after {within:g} s")

    async def choose(self, serial: str, evse: int | None, prefer: str | None = None) -> None:
        await self.home(serial)
        screen = await self.press(serial, "start")
        if screen.get("id") != "journey.choose":
            raise StepFailed(f"{serial}: Start led to {screen.get('id')}: {_text(screen)}")
        props = screen.get("properties") or {}
        keys = [k for k in screen.get("keys") or [] if k.startswith("evse")]
        if evse is None:
            usable = [k for k in keys if props.get(f"items.{k}.disabled") != "true"]
            if not usable:
                raise StepFailed(f"{serial}: no charger is available: {_text(screen)}")
            key = usable[0]
            if prefer == "fastest":
                key = max(usable, key=lambda k: _kw(str(props.get(f"items.{k}.label", ""))))
        else:
            key = f"evse{evse}"
            if key not in keys:
                raise StepFailed(f"{serial}: no charger {evse} on the list ({', '.join(keys)})")
        screen = await self.press(serial, key)
        if screen.get("id") != "journey.tariff":
            raise StepFailed(f"{serial}: choosing {key} led to {screen.get('id')}: {_text(screen)}")

    async def do_start_charging(self, arg: dict[str, Any]) -> None:
        serial = self.terminal_of(arg)
        await self.choose(serial, arg.get("evse"), arg.get("prefer"))
        screen = await self.press(serial, "accept")
        if screen.get("id") != "payter.present_card":
            raise StepFailed(f"{serial}: accepting the tariff led to {screen.get('id')}")
        await self.tap(serial, arg.get("card", "visa-approved"))
        self.vars["card"] = arg.get("card", "visa-approved")
        await self.refresh_journey(serial)

    async def refresh_journey(self, serial: str | None = None) -> dict[str, Any] | None:
        journey_id = self.vars.get("journey_id")
        if journey_id is None:
            rows = await self.emu.get("journeys", serial_number=serial or self.vars["terminal"])
            new = [r for r in rows if str(r["id"]) not in self.known_journeys]
            if not new:
                return None
            # The first new one is the journey this check started: after a decline the
            # terminal opens the next one for the same start ("Try another card").
            journey = new[0]
            self.vars["journey_id"] = journey["id"]
        else:
            journey = await self.emu.get(f"journeys/{journey_id}")
        for key in (
            "location_id",
            "evse_uid",
            "connector_id",
            "session_id",
            "authorization_reference",
            "cdr_id",
        ):
            if journey.get(key) is not None:
                self.vars[key] = journey[key]
        return dict(journey)

    async def do_stop_on_terminal(self, arg: dict[str, Any]) -> None:
        serial = self.terminal_of(arg)
        await self.home(serial)
        screen = await self.press(serial, "stop")
        if screen.get("id") != "journey.stop":
            raise StepFailed(f"{serial}: Stop led to {screen.get('id')}")
        keys = [k for k in screen.get("keys") or [] if k.startswith("s") and k[1:].isdigit()]
        card = arg.get("card")
        if card is None and len(keys) == 1:
            screen = await self.press(serial, keys[0])
            await self.press(serial, "yes")
            return
        await self.tap(serial, card or self.vars.get("card", "visa-approved"))
        screen = await self.screen(serial)
        if "yes" in (screen.get("keys") or []):
            await self.press(serial, "yes")

    async def do_receipt(self, arg: dict[str, Any]) -> None:
        serial = self.terminal_of(arg)
        await self.home(serial)
        screen = await self.press(serial, "receipt")
        keys = [k for k in screen.get("keys") or [] if k.startswith("r") and k[1:].isdigit()]
        if not keys:
            raise StepFailed(f"{serial}: no receipt listed: {_text(screen)}")
        screen = await self.press(serial, keys[0])
        if screen.get("id") != "journey.receipt":
            raise StepFailed(f"{serial}: the receipt did not open ({screen.get('id')})")
        self.vars["receipt"] = screen.get("properties") or {}

    async def do_advance(self, seconds: float) -> None:
        await self.advance(float(seconds))
        self.log(f"clock +{seconds:g} s")

    async def advance(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.t.manual_clock:
            await self.emu.post("clock/advance", {"seconds": seconds})
        else:
            await asyncio.sleep(seconds)

    async def do_hook(self, arg: str | dict[str, Any]) -> None:
        name = arg if isinstance(arg, str) else str(arg["name"])
        hook = self.t.hooks.get(name)
        if hook is None:
            raise CannotRun(f"no {name} hook")
        await self.refresh_journey()
        if isinstance(arg, dict):
            self.vars.update({k: v for k, v in arg.items() if k != "name"})
        out = await hook.run(self.t.http, self.vars)
        self.log(f"{name} hook: {out}".rstrip(": "))
        if name == "plug-in":
            self.plugged = dict(self.vars)
        elif name == "unplug":
            self.plugged = None
        elif name == "evse-unavailable":
            self.unavailable = dict(self.vars)
        elif name == "evse-available":
            self.unavailable = None

    async def do_fault(self, spec: dict[str, Any]) -> None:
        fault = await self.emu.post("faults", spec)
        self.faults.append(int(fault["id"]))
        self.log(f"injected {fault['description']}")

    async def do_command(self, arg: dict[str, Any]) -> None:
        record = await self.emu.post(f"ocpi/commands/{arg['name']}", arg.get("body") or {})
        self.vars["command"] = record
        self.vars["command_id"] = record.get("id")
        self.log(f"{arg['name']}: {record.get('state')}")

    async def do_poll(self, arg: dict[str, Any]) -> None:
        body = {"modules": arg["modules"]} if arg.get("modules") else {}
        self.vars["last"] = await self.emu.post("ocpi/poll", body)

    async def do_update_credentials(self, arg: dict[str, Any]) -> None:
        platform = self.t.platform or {}
        # The same version: the update rotates the tokens, the run stays on its version.
        keep = {"version": platform["version"]} if platform.get("version") else {}
        status, body = await self.emu.request(
            "POST", f"platforms/{platform.get('id')}/update", keep
        )
        if status != 200:
            raise StepFailed(f"credentials update failed: {body}")
        self.t.platform = body
        self.log(f"credentials updated: {body.get('status')} {body.get('version')}")

    async def do_tokens_check(self, arg: dict[str, Any]) -> None:
        self.vars["last"] = await self.emu.post("ocpi/tokens/check", {})

    async def do_terminal_offline(self, serial: str) -> None:
        await self.emu.post(f"terminals/{serial or self.vars['terminal']}/offline")

    async def do_terminal_online(self, serial: str) -> None:
        await self.emu.post(f"terminals/{serial or self.vars['terminal']}/online")

    async def do_request(self, arg: dict[str, Any]) -> None:
        status, body = await self.emu.request(arg["method"], arg["path"], arg.get("body"))
        accepted = arg.get("status") or [200, 201]
        if status not in accepted:
            raise StepFailed(f"{arg['method']} {arg['path']} answered {status}: {body}")
        self.vars["last"] = body

    # --- waiting -------------------------------------------------------------------------

    async def do_wait(self, arg: dict[str, Any]) -> None:
        within = float(arg["within"])
        if self.t.max_wait is not None:
            within = min(within, self.t.max_wait)
        [(kind, condition)] = [(k, v) for k, v in arg.items() if k != "within"]
        probe = getattr(self, "probe_" + kind)
        last: list[Any] = [None]

        async def holds() -> bool:
            ok, seen = await probe(condition)
            last[0] = seen
            return bool(ok)

        if not await self.wait_until(holds, within):
            if kind == "terminal" and condition.get("assigned") is True:
                # Nothing the CPO could do: no terminal on its side to assign.
                await self._cannot_assign()
            raise StepFailed(
                f"waited {within:g} s for {kind} {_describe(condition)}; last seen: "
                f"{_short(last[0])}"
            )
        self.log(f"{kind} {_describe(condition)}")

    async def _cannot_assign(self) -> None:
        """The terminal was never assigned because the CPO could not be asked to: the
        emulator runs no Payments with it (a 2.2.1 CPO without the module), or the terminal
        could not be created on its side (a finding of its own, OCPI-51). The check could not
        run: not a second failure of the CPO."""
        view = await self.terminal_view()
        if view.get("push_state") not in ("NO_ENDPOINT", "FAILED"):
            return
        serial = view.get("serial_number")
        platform_id = (self.t.platform or {}).get("id")
        params = {"platform_id": platform_id} if platform_id is not None else {}
        report = await self.emu.get("report", **params)
        payments = next(
            (p.get("payments") or {} for p in report.get("platforms") or []),
            {},
        )
        if payments.get("variant") is None:
            why = "the emulator runs no Payments module with this CPO" + (
                f" ({payments['reason']})" if payments.get("reason") else ""
            )
        else:
            why = (
                "the terminal could not be created on the CPO's side ("
                + str(view.get("push_error") or "no payments RECEIVER endpoint")
                + ")"
            )
        raise CannotRun(
            f"terminal {serial} is not assigned: {why}, so the CPO cannot assign it; assign it "
            f"by hand (POST /__admin/terminals/{serial}/assign) to run the journeys"
        )

    async def wait_until(self, holds: Callable[[], Awaitable[bool]], within: float) -> bool:
        if self.t.manual_clock:
            return await self._wait_manual(holds, within)
        return await self._wait_real(holds, within)

    async def _wait_manual(self, holds: Callable[[], Awaitable[bool]], within: float) -> bool:
        """Step the clock from timer to timer until ``holds`` or ``within`` seconds passed.

        The condition is looked at again only when something happened meanwhile (the
        emulator published an event: traffic, a journey, a screen), and the clock's answer
        to each step says when its next timer is due: a wait that runs out costs one request
        per timer, not four."""
        clock = await self.emu.get("clock")
        deadline = parse_datetime(clock["now"]) + timedelta(seconds=within)
        looked_at: Any = object()  # the last event id when the condition was looked at
        while True:
            marker = clock.get("last_event_id")
            if marker is None or marker != looked_at:
                looked_at = marker
                if await holds():
                    return True
            now = parse_datetime(clock["now"])
            if now >= deadline:
                # A last look, whatever the events said.
                return marker is not None and await holds()
            due = clock.get("next_timer_at")
            target = min(parse_datetime(due), deadline) if due else deadline
            # Timers carry milliseconds: a millisecond more makes sure the due one fires.
            seconds = max((target - now).total_seconds(), 0) + 0.001
            clock = await self.emu.post("clock/advance", {"seconds": seconds})
            if "next_timer_at" not in clock:  # an emulator that does not say: ask
                clock = await self.emu.get("clock")

    async def _wait_real(self, holds: Callable[[], Awaitable[bool]], within: float) -> bool:
        deadline = time.monotonic() + within
        while True:
            if await holds():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # Sleep until something happens in the emulator (a long poll), then look again.
            events = await self.emu.call(
                "GET",
                "events",
                params={"since": self.runner._event_cursor, "wait": min(remaining, 5)},
                timeout=min(remaining, 5) + 30,
            )
            if events:
                self.runner._event_cursor = max(int(e["id"]) for e in events)

    async def probe_exchange(self, filters: dict[str, Any]) -> tuple[bool, Any]:
        rows = await self.emu.get("journal", since=self.journal_start, limit=1, **filters)
        if rows:
            return True, rows[0]
        return False, "no such exchange yet"

    async def probe_journey(self, fields: dict[str, Any]) -> tuple[bool, Any]:
        journey = await self.refresh_journey()
        if journey is None:
            return False, "no journey yet"
        return _matches(journey, fields), {k: journey.get(k) for k in fields}

    async def probe_screen(self, fields: dict[str, Any]) -> tuple[bool, Any]:
        screen = await self.screen(str(self.vars["terminal"]))
        flat = {"id": screen.get("id"), "type": screen.get("type"), **screen.get("properties", {})}
        return _matches(flat, fields), {k: flat.get(k) for k in fields}

    async def probe_terminal(self, fields: dict[str, Any]) -> tuple[bool, Any]:
        terminal = await self.terminal_view()
        return _matches(terminal, fields), {k: terminal.get(k) for k in fields}

    async def terminal_view(self) -> dict[str, Any]:
        serial = self.vars["terminal"]
        rows = await self.emu.get("terminals")
        view = next((r for r in rows if r.get("serial_number") == serial), None)
        if view is None:
            raise StepFailed(f"no terminal {serial}")
        view = dict(view)
        view["assigned"] = bool(view.get("evses"))
        view["terminal_id"] = view.get("terminal_id")
        return view

    async def probe_fac(self, fields: dict[str, Any]) -> tuple[bool, Any]:
        journey = await self.refresh_journey()
        if journey is None:
            return False, "no journey"
        if not journey.get("invoice_reference_id"):
            return True, "the CPO does not invoice: no FAC is due"
        return bool(journey.get("fac_delivered")), {"fac_delivered": journey.get("fac_delivered")}

    async def probe_settled(self, fields: dict[str, Any]) -> tuple[bool, Any]:
        rows = await self.emu.get("journeys", limit=100000)
        open_ = [r for r in rows if r.get("money") not in ("NONE", "CAPTURED", "VOIDED")]
        return not open_, [f"{r['id']}: {r.get('state')} {r.get('money')}" for r in open_]

    async def probe_command(self, fields: dict[str, Any]) -> tuple[bool, Any]:
        command_id = self.vars.get("command_id")
        rows = await self.emu.get("ocpi/commands")
        record = next((r for r in rows if r.get("id") == command_id), None)
        if record is None:
            return False, "no command"
        self.vars["command"] = record
        return _matches(record, fields), {k: record.get(k) for k in fields}

    # --- expectations --------------------------------------------------------------------

    async def expectations(self, window: list[dict[str, Any]]) -> None:
        failures = self.result.failures
        for raw in self.check.expect:
            [(kind, arg)] = raw.items()
            arg = self.subst(arg)
            if kind == "findings":
                seen = {f["rule"] for f in window}
                for rule in arg.get("required") or []:
                    if rule not in seen:
                        failures.append(f"no {rule} finding, though the check requires one")
                continue
            if kind in ("exchange", "no_exchange"):
                found, row = await self.probe_exchange(arg)
                if kind == "exchange" and not found:
                    failures.append(f"no exchange {_describe(arg)} during the check")
                if kind == "no_exchange" and found:
                    failures.append(
                        f"exchange {row.get('id')} {row.get('method')} {row.get('url')} "
                        f"({_describe(arg)}) should not have happened"
                    )
                continue
            if kind == "endpoints":
                failures.extend(self._endpoints(arg))
                continue
            actual = await self._actual(kind)
            if actual is None:
                failures.append(f"no {kind} to check")
            elif not _matches(actual, arg):
                failures.append(
                    f"{kind}: expected {_describe(arg)}, got "
                    f"{_describe({k: actual.get(k) for k in arg})}"
                )

    async def _actual(self, kind: str) -> dict[str, Any] | None:
        if kind == "journey":
            return await self.refresh_journey()
        if kind == "platform":
            platform_id = (self.t.platform or {}).get("id")
            return dict(await self.emu.get(f"platforms/{platform_id}")) if platform_id else None
        if kind == "terminal":
            return await self.terminal_view()
        if kind == "screen":
            screen = await self.screen(str(self.vars["terminal"]))
            return {"id": screen.get("id"), "type": screen.get("type"), **screen["properties"]}
        if kind == "command":
            await self.probe_command({})
            command = self.vars.get("command")
            return dict(command) if isinstance(command, dict) else None
        if kind == "last":
            last = self.vars.get("last")
            return dict(last) if isinstance(last, dict) else None
        if kind == "registrations":
            # Per direction, what its handshake gave; "earlier_unregistered": whether the CPO
            # took the DELETE that ended the earlier one.
            out: dict[str, Any] = {}
            for r in self.t.registrations:
                out[r["direction"]] = r.get("status")
                out[f"{r['direction']}_version"] = r.get("version")
                if "unregistered" in r:
                    out["earlier_unregistered"] = r["unregistered"]
            return out
        return None

    def _endpoints(self, wanted: dict[str, str]) -> list[str]:
        platform = self.t.platform or {}
        version = str(platform.get("version") or "")
        endpoints = platform.get("endpoints") or []
        out = []
        for module, role in wanted.items():
            hits = [e for e in endpoints if e.get("identifier") == module]
            if not hits:
                out.append(f"the CPO's {version} version details have no {module} endpoint")
            elif version >= "2.2" and not any(e.get("role") == role for e in hits):
                roles = ", ".join(str(e.get("role")) for e in hits)
                out.append(f"the CPO's {module} endpoint is {roles}, not {role}")
        return out


def _matches(actual: dict[str, Any], fields: dict[str, Any]) -> bool:
    for key, wanted in fields.items():
        have = actual.get(key)
        if isinstance(wanted, list):
            if not any(_equal(have, w) for w in wanted):
                return False
        elif not _equal(have, wanted):
            return False
    return True


def _equal(have: Any, wanted: Any) -> bool:
    if wanted is None:
        return have is None
    if isinstance(wanted, bool) or isinstance(have, bool):
        return bool(have) == wanted if isinstance(wanted, bool) else have == wanted
    if isinstance(wanted, (int, float)) and have is not None:
        try:
            return float(have) == float(wanted)
        except (TypeError, ValueError):
            return False
    return str(have) == str(wanted) if have is not None else False


def _kw(label: str) -> float:
    """The power on a charger's label ("3 · CCS · 50 kW · Available"), 0 if none."""
    match = re.search(r"(\d+(?:\.\d+)?)\s*kW", label)
    return float(match.group(1)) if match else 0.0


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _describe(fields: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in fields.items())


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) < 300 else text[:300] + "…"


def _text(screen: dict[str, Any]) -> str:
    props = screen.get("properties") or {}
    parts = [props.get("title"), props.get("subtitle"), props.get("message")]
    return " / ".join(str(p) for p in parts if p)


def clock_text(when: Any) -> str:
    return format_datetime(when)
