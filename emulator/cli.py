"""``payter-emulator``: the command line.

Every command's options are generated from its settings class (:mod:`emulator.settings`), so a
flag, its ``EMULATOR_*`` variable, ``--help`` and the README table never drift apart.

Exit codes: 0 normal stop; 1 the server could not start (port taken, bad database file);
2 bad command line or settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import errno
import functools
import json
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from emulator.settings import EmulatorSettings, env_name


def _click_type(annotation: Any) -> Any:
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is not None and str(origin).endswith("Literal"):
        return click.Choice([str(a) for a in get_args(annotation)])
    if args and origin is not None and len(args) == 1:
        return _click_type(args[0])
    if annotation is int:
        return int
    if annotation is float:
        return float
    if annotation is Path:
        return click.Path(path_type=Path)
    return str


def settings_options(cls: type[BaseSettings]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding one option per settings field (default None = not given)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for name, info in reversed(list(cls.model_fields.items())):
            flag = "--" + name.replace("_", "-")
            env = env_name(cls, name)
            default = info.default
            shown = "" if default is None else f" [default: {default}]"
            help_text = f"{info.description}{shown} [env: {env}]"
            annotation = info.annotation
            if annotation is bool:
                option = click.option(
                    f"{flag}/--no-{name.replace('_', '-')}", name, default=None, help=help_text
                )
            else:
                option = click.option(
                    flag,
                    name,
                    type=_click_type(annotation),
                    default=None,
                    help=help_text,
                    metavar=name.upper(),
                )
            func = option(func)
        return func

    return decorate


def load_settings(cls: type[BaseSettings], given: dict[str, Any]) -> Any:
    explicit = {k: v for k, v in given.items() if v is not None and k in cls.model_fields}
    try:
        return cls(**explicit)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            flag = "--" + loc.replace("_", "-")
            lines.append(f"{flag} / {env_name(cls, loc)}: {err['msg']}")
        raise click.UsageError("invalid settings:\n  " + "\n  ".join(lines)) from None


class _LazyCommands(dict[str, click.Command]):
    """A group's commands, ``cpo-sim`` made on first look-up."""

    def __missing__(self, name: str) -> click.Command:
        if name != "cpo-sim":
            raise KeyError(name)
        command = self[name] = _cpo_sim_command()
        return command

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default


class _Commands(click.Group):
    """The commands; ``cpo-sim`` is built when it is asked for (run, or listed by --help),
    so that ``serve`` does not build the simulated CPO's settings class at start-up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(self.commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "cpo-sim"})


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="payter-emulator")
def main() -> None:
    """Emulator of the Payter payment terminal and of Payter's platform (OCPI PTP + CPS)."""
    for warning in unknown_environment(os.environ):
        click.echo(f"warning: {warning}", err=True)


def known_environment() -> set[str]:
    """Every ``EMULATOR_*`` variable some command reads: the settings of ``serve`` and
    ``cpo-sim`` and the ``envvar`` of every option of every command."""
    from emulator.cpo_sim.settings import CpoSimSettings

    names = {
        env_name(cls, field)
        for cls in (EmulatorSettings, CpoSimSettings)
        for field in cls.model_fields
    }

    def walk(command: click.Command) -> None:
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    main.commands["cpo-sim"]  # built on demand: built now, so that the walk sees it
    walk(main)
    return names


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """A misspelt variable would be ignored without a word: say so, with the likely name."""
    if not any(name.startswith("EMULATOR_") for name in environ):
        return []  # nothing to judge: the settings classes need not be built
    known = known_environment()
    out = []
    for name in sorted(environ):
        if not name.startswith("EMULATOR_") or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        out.append(f"{name} is not a setting of payter-emulator and is ignored{hint}")
    return out


@main.command()
@settings_options(EmulatorSettings)
def serve(**given: Any) -> None:
    """Run the emulator: OCPI peer, CPS API and control API on one port.

    Prints one JSON line {"event": "listening", ...} on stdout once it accepts connections.
    """
    _serve_node("emulator.app:build_emulator", load_settings(EmulatorSettings, given))


def _cpo_sim_command() -> click.Command:
    from emulator.cpo_sim.settings import CpoSimSettings

    @click.command("cpo-sim")
    @settings_options(CpoSimSettings)
    def cpo_sim(**given: Any) -> None:
        """Run the simulated CPO: an OCPI 2.3.0/2.2.1 CPO backend with simulated chargers.

        Prints one JSON line {"event": "listening", ...} on stdout once it accepts connections.
        """
        _serve_node("emulator.cpo_sim.node:build_cpo_sim", load_settings(CpoSimSettings, given))

    return cpo_sim


def _serve_node(builder: str, settings: Any) -> None:
    """Log as configured, run the node built by ``module:function`` until a signal, exit."""
    import importlib

    from emulator import logs

    logs.configure(settings.log_format, settings.log_level, lazy=True)
    warning = settings.exposure_warning()
    if warning:
        click.echo(warning, err=True)
    module, _, name = builder.partition(":")
    build = getattr(importlib.import_module(module), name)  # imported only when run
    sys.exit(asyncio.run(_run(build, settings)))


async def _run(build: Callable[[Any], Any], settings: Any) -> int:
    from emulator.node import print_listening, started

    if settings.ready_file:
        # Removed before anything else: a script waiting for it never reads a stale one.
        settings.ready_file.unlink(missing_ok=True)
    try:
        node = build(settings)
        info = await node.start()
    except OSError as exc:
        hint = ""
        if exc.errno == errno.EADDRINUSE:
            hint = (
                f"; port {settings.port} is taken: choose another with --port, "
                "or --port 0 for a free one (the URL is in the listening line and --ready-file)"
            )
        click.echo(f"cannot start: {exc}{hint}", err=True)
        return 1
    except sqlite3.Error as exc:
        click.echo(f"cannot start: database {settings.db}: {exc}", err=True)
        return 1
    finally:
        started()
    print_listening(info)
    await _wait_for_signal()
    await node.stop()
    return 0


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@main.command()
@click.option(
    "--connect",
    "url",
    default="http://127.0.0.1:8080",
    show_default=True,
    envvar="EMULATOR_TUI_CONNECT",
    show_envvar=True,
    help="Base URL of the emulator to attach to.",
)
@click.option(
    "--admin-token",
    default=None,
    envvar="EMULATOR_ADMIN_TOKEN",
    show_envvar=True,
    help="Bearer token of the emulator's control API (when it has one).",
)
@click.option(
    "--cpo-sim",
    "cpo_sim",
    default=None,
    envvar="EMULATOR_TUI_CPO_SIM",
    show_envvar=True,
    help="Base URL of a simulated CPO, for the charger panel.",
)
@click.option(
    "--cpo-sim-token",
    default=None,
    envvar="EMULATOR_CPO_SIM_ADMIN_TOKEN",
    show_envvar=True,
    help="Bearer token of the simulated CPO's control API (default: the --admin-token).",
)
def tui(url: str, admin_token: str | None, cpo_sim: str | None, cpo_sim_token: str | None) -> None:
    """Terminal UI attached to a running emulator through its control API and event stream."""
    from tui.app import make_app

    make_app(url, admin_token=admin_token, cpo_sim_url=cpo_sim, cpo_sim_token=cpo_sim_token).run()


@main.command("tui-serve")
@click.option(
    "--connect",
    "url",
    default="http://127.0.0.1:8080",
    show_default=True,
    envvar="EMULATOR_TUI_CONNECT",
    show_envvar=True,
    help="Base URL of the emulator every browser tab attaches to.",
)
@click.option(
    "--admin-token",
    default=None,
    envvar="EMULATOR_ADMIN_TOKEN",
    show_envvar=True,
    help="Bearer token of the emulator's control API (passed to the TUI processes through "
    "the environment, never on their command line).",
)
@click.option(
    "--cpo-sim",
    "cpo_sim",
    default=None,
    envvar="EMULATOR_TUI_CPO_SIM",
    show_envvar=True,
    help="Base URL of a simulated CPO, for the charger panel.",
)
@click.option(
    "--cpo-sim-token",
    default=None,
    envvar="EMULATOR_CPO_SIM_ADMIN_TOKEN",
    show_envvar=True,
    help="Bearer token of the simulated CPO's control API (default: the --admin-token; "
    "passed through the environment too).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to serve on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to serve on.")
@click.option("--public-url", default=None, help="URL browsers use (behind a proxy).")
def tui_serve(
    url: str,
    admin_token: str | None,
    cpo_sim: str | None,
    cpo_sim_token: str | None,
    host: str,
    port: int,
    public_url: str | None,
) -> None:
    """The terminal UI in a browser (textual-serve; one TUI process per browser tab)."""
    import os
    import shlex

    try:
        from textual_serve.server import Server
    except ImportError:
        raise click.ClickException(
            "textual-serve is not installed: from a clone, .venv/bin/pip install -e '.[serve]' "
            "(pip install 'payter-emulator[serve]' where the package is published)"
        ) from None
    # Tokens reach the TUI processes through their environment, never their command line
    # (which any local user can read).
    if admin_token:
        os.environ["EMULATOR_ADMIN_TOKEN"] = admin_token
    if cpo_sim_token:
        os.environ["EMULATOR_CPO_SIM_ADMIN_TOKEN"] = cpo_sim_token
    argv = [sys.executable, "-m", "tui", "--connect", url]
    if cpo_sim:
        argv += ["--cpo-sim", cpo_sim]
    Server(
        shlex.join(argv), host=host, port=port, title="Payter emulator", public_url=public_url
    ).serve()


@main.command()
@click.option(
    "--headless",
    is_flag=True,
    help="No TUI: run the servers until stopped (CI).",
    envvar="EMULATOR_DEMO_HEADLESS",
    show_envvar=True,
)
@click.option(
    "--ready-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Once everything is registered, write one JSON object here: the emulator's and the "
    "simulated CPO's listening objects and the terminal serial numbers.",
    envvar="EMULATOR_DEMO_READY_FILE",
    show_envvar=True,
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface of both servers.",
    envvar="EMULATOR_DEMO_HOST",
    show_envvar=True,
)
@click.option(
    "--port",
    "emulator_port",
    default=0,
    show_default=True,
    help="Emulator port.",
    envvar="EMULATOR_DEMO_PORT",
    show_envvar=True,
)
@click.option(
    "--cpo-sim-port",
    default=0,
    show_default=True,
    help="Simulated CPO port.",
    envvar="EMULATOR_DEMO_CPO_SIM_PORT",
    show_envvar=True,
)
@click.option(
    "--terminals",
    default=1,
    show_default=True,
    type=click.IntRange(1, 50),
    help="How many terminals to create (PAY-DEMO-0001, PAY-DEMO-0002, ...).",
    envvar="EMULATOR_DEMO_TERMINALS",
    show_envvar=True,
)
@click.option(
    "--ocpi-version",
    "ocpi_version",
    type=click.Choice(["2.3.0", "2.2.1"]),
    default="2.3.0",
    show_default=True,
    help="OCPI version the two register with.",
    envvar="EMULATOR_DEMO_OCPI_VERSION",
    show_envvar=True,
)
@click.option(
    "--clock",
    type=click.Choice(["paced", "manual"]),
    default="paced",
    show_default=True,
    help="'paced' follows the wall clock and can be advanced; 'manual' moves only when "
    "advanced (POST /__admin/clock/advance).",
    envvar="EMULATOR_DEMO_CLOCK",
    show_envvar=True,
)
@click.option(
    "--clock-start",
    default=None,
    help="Start time of the clock (RFC 3339, UTC).",
    envvar="EMULATOR_DEMO_CLOCK_START",
    show_envvar=True,
)
@click.option(
    "--seed",
    default=7,
    show_default=True,
    type=int,
    help="Seed for ids and tokens.",
    envvar="EMULATOR_DEMO_SEED",
    show_envvar=True,
)
@click.option(
    "--preset",
    default=None,
    help="Behaviour preset(s) of the simulated CPO, comma-separated (see its README table).",
    envvar="EMULATOR_DEMO_PRESET",
    show_envvar=True,
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log level (headless only: with the TUI nothing is logged).",
    envvar="EMULATOR_DEMO_LOG_LEVEL",
    show_envvar=True,
)
def demo(**given: Any) -> None:
    """The emulator, a simulated CPO and the TUI in one process, registered over OCPI.

    Creates a terminal assigned to the simulated CPO's chargers and shows it. Headless, it
    prints the ready object (as one JSON line) and runs until SIGINT/SIGTERM. Exit codes: 0
    normal stop, 1 the demo could not be set up, 2 invalid command line or settings.
    """
    from emulator.demo import Demo, DemoOptions, run

    options = DemoOptions(
        headless=given["headless"],
        ready_file=given["ready_file"],
        host=given["host"],
        emulator_port=given["emulator_port"],
        cpo_sim_port=given["cpo_sim_port"],
        terminals=given["terminals"],
        version=given["ocpi_version"],
        seed=given["seed"],
        clock=given["clock"],
        clock_start=given["clock_start"],
        preset=given["preset"],
        log_level=given["log_level"],
    )
    try:
        Demo(options).settings()
    except ValidationError as exc:
        lines = [
            f"--{'.'.join(str(p) for p in err['loc']).replace('_', '-')}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise click.UsageError("invalid settings:\n  " + "\n  ".join(lines)) from None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    sys.exit(asyncio.run(run(options)))


# --- payter-emulator admin: the control API from a terminal or a CI script ------------------


@main.group()
@click.option(
    "--url",
    default=None,
    envvar="EMULATOR_ADMIN_URL",
    show_envvar=True,
    help="The emulator (default: the URL in --ready-file, else http://127.0.0.1:8080).",
)
@click.option(
    "--ready-file",
    type=click.Path(path_type=Path),
    default=None,
    envvar="EMULATOR_READY_FILE",
    show_envvar=True,
    help="The ready file of `serve --ready-file` or `demo --ready-file` to read the URL from.",
)
@click.option(
    "--admin-token",
    default=None,
    envvar="EMULATOR_ADMIN_TOKEN",
    show_envvar=True,
    help="Bearer token of the control API (when the emulator has one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the control API's JSON answer.")
@click.pass_context
def admin(
    ctx: click.Context,
    url: str | None,
    ready_file: Path | None,
    admin_token: str | None,
    as_json: bool,
) -> None:
    """The control API (/__admin/) from the command line: the same words for a person at a
    terminal and a CI script.

    Exit codes: 0 done; 1 the emulator refused the call or cannot be reached (the reason is
    printed); 2 invalid command line; 3 `report --check` found no PASS.
    """
    from emulator.control.client import AdminClient, default_url

    try:
        client = AdminClient(url or default_url(ready_file), admin_token=admin_token)
    except ValueError as exc:
        raise click.UsageError(f"--url: {exc}") from None
    ctx.obj = _Admin(client, as_json)


class _Admin:
    def __init__(self, client: Any, as_json: bool) -> None:
        self.client = client
        self.as_json = as_json

    def call(self, what: Callable[[], Any]) -> Any:
        from emulator.control.client import AdminError

        try:
            return what()
        except AdminError as exc:
            details = ""
            for name in ("accepted", "allowed"):
                if exc.details.get(name):
                    values = ", ".join(str(v) for v in exc.details[name])
                    details += f" ({name}: {values})"
            raise click.ClickException(f"{exc.message}{details}") from None

    def show(self, data: Any, text: str) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            click.echo(text)

    def serial(self, given: str | None) -> str:
        """The terminal asked for, or the only one there is."""
        if given:
            return given
        terminals = self.call(self.client.terminals)
        if len(terminals) != 1:
            names = ", ".join(str(t.get("serial_number")) for t in terminals) or "none"
            raise click.UsageError(f"which terminal? --terminal SERIAL (there are: {names})")
        return str(terminals[0]["serial_number"])


def _screen_line(terminal: Mapping[str, Any]) -> str:
    screen = terminal.get("screen") or {}
    keys = " ".join(str(k) for k in screen.get("keys") or [])
    title = (screen.get("view") or {}).get("title") or ""
    line = f"{screen.get('id', '?')}"
    if title:
        line += f" \u201c{title}\u201d"
    if keys:
        line += f"  keys: {keys}"
    if terminal.get("out_of_service"):
        line += f"  (out of service: {terminal['out_of_service']})"
    return line


_TERMINAL = click.option("--terminal", "-t", "serial", default=None, help="Serial number.")


@admin.command("terminals")
@click.argument("serial", required=False)
@click.pass_obj
def admin_terminals(obj: _Admin, serial: str | None) -> None:
    """The terminals and what each shows (or one terminal)."""
    if serial:
        terminal = obj.call(lambda: obj.client.terminal(serial))
        obj.show(terminal, _terminal_line(terminal))
        return
    terminals = obj.call(obj.client.terminals)
    lines = []
    if not obj.as_json:
        for row in terminals:
            # The list has the OCPI side; the screen is in each terminal's own view.
            detail = obj.call(functools.partial(obj.client.terminal, str(row["serial_number"])))
            lines.append(_terminal_line({**row, **detail}))
    obj.show(terminals, "\n".join(lines) or "no terminals")


def _terminal_line(terminal: Mapping[str, Any]) -> str:
    state = "online" if terminal.get("online") else "OFFLINE"
    return (
        f"{terminal.get('serial_number')}  {terminal.get('mode', '')}  {state}  "
        f"{terminal.get('state', '')}  {_screen_line(terminal)}"
    )


@admin.command("press")
@_TERMINAL
@click.argument("key")
@click.pass_obj
def admin_press(obj: _Admin, serial: str | None, key: str) -> None:
    """Press KEY on the terminal's screen (one of its keys; `touch` wakes the screensaver)."""
    terminal = obj.serial(serial)
    answer = obj.call(lambda: obj.client.press(terminal, key))
    obj.show(answer, _screen_line(answer.get("terminal") or {}))


@admin.command("tap")
@_TERMINAL
@click.argument("card", default="visa-approved")
@click.option(
    "--medium",
    type=click.Choice(["contactless", "chip", "qr", "rfid"]),
    default="contactless",
    show_default=True,
    help="How the card is presented.",
)
@click.pass_obj
def admin_tap(obj: _Admin, serial: str | None, card: str, medium: str) -> None:
    """Present a test CARD (default visa-approved; GET /__admin/cards lists them)."""
    terminal = obj.serial(serial)
    answer = obj.call(lambda: obj.client.present_card(terminal, card, medium))
    if answer.get("result") == "ignored":
        text = f"ignored: {answer.get('message') or answer.get('reason')}"
    else:
        shown = obj.call(lambda: obj.client.terminal(terminal))
        text = f"read {card}: {_screen_line(shown)}"
    obj.show(answer, text)


@admin.command("journeys")
@_TERMINAL
@click.option("--state", default=None, help="Only journeys in this state (CHARGING, ...).")
@click.option("--limit", type=int, default=None, help="At most this many.")
@click.pass_obj
def admin_journeys(obj: _Admin, serial: str | None, state: str | None, limit: int | None) -> None:
    """The card payments: state, money and references."""
    rows = obj.call(lambda: obj.client.journeys(serial_number=serial, state=state, limit=limit))
    lines = [
        f"{j.get('serial_number')}  {j.get('evse_uid')}  {j.get('state')}  {_money_line(j)}  "
        f"ref {j.get('authorization_reference') or '-'}"
        for j in rows
    ]
    obj.show(rows, "\n".join(lines) or "no journeys")


def _money_line(journey: Mapping[str, Any]) -> str:
    """Where a journey's money is, in money: ``€50.00 authorized``, ``€13.40 captured``
    (the control API's ``money`` and minor-unit amounts; ``--json`` gives them as they are)."""
    from emulator.money import minor_text

    currency = journey.get("currency")
    money = str(journey.get("money") or "")
    authorized = minor_text(journey.get("preauthorized_amount"), currency)
    if money == "NONE":
        return "not authorized"
    if money == "CAPTURED":
        captured = minor_text(journey.get("captured_amount"), currency)
        return f"{captured} captured of {authorized} authorized"
    if money == "VOIDED":
        voided = journey.get("voided_amount") or journey.get("preauthorized_amount")
        return f"{minor_text(voided, currency)} voided"
    return f"{authorized} {money.lower().replace('_', ' ')}"


@admin.command("report")
@click.option("--strict/--no-strict", default=None, help="Count warnings as failures (or not).")
@click.option("--platform-id", type=int, default=None, help="One registered platform only.")
@click.option("--check", is_flag=True, help="Exit 3 unless the verdict is PASS (for CI).")
@click.pass_obj
def admin_report(obj: _Admin, strict: bool | None, platform_id: int | None, check: bool) -> None:
    """The verdict per axis (OCPI spec, Payter) and the findings behind it."""
    query = {
        "platform_id": platform_id,
        "strict": None if strict is None else str(strict).lower(),
    }
    report = obj.call(lambda: obj.client.report(**query))
    text = "" if obj.as_json else obj.call(lambda: obj.client.report(text=True, **query))
    obj.show(report, str(text).rstrip("\n"))
    if check and report.get("verdict") != "PASS":
        sys.exit(3)


@admin.group("clock", invoke_without_command=True)
@click.pass_context
def admin_clock(ctx: click.Context) -> None:
    """The emulator's clock (its time, its mode)."""
    if ctx.invoked_subcommand is None:
        obj: _Admin = ctx.obj
        clock = obj.call(obj.client.clock)
        obj.show(clock, f"{clock.get('now')} ({clock.get('mode')})")


@admin_clock.command("advance")
@click.argument("seconds", type=float)
@click.pass_obj
def admin_clock_advance(obj: _Admin, seconds: float) -> None:
    """Move a manual (or the demo's paced) clock SECONDS forward; every timer due fires."""
    clock = obj.call(lambda: obj.client.advance(seconds))
    obj.show(clock, f"{clock.get('now')} ({clock.get('timers_fired', 0)} timers fired)")


@main.command()
@click.option(
    "--cpo-versions-url", help="The CPO's OCPI versions URL: the emulator registers with it."
)
@click.option("--cpo-token-a", help="The token A the CPO gave for that registration.")
@click.option(
    "--wait-for-registration",
    is_flag=True,
    help="Print a versions URL and a token A and wait for the CPO to register (with "
    "--cpo-versions-url: first, then the emulator registers with the CPO: both directions).",
)
@click.option(
    "--registration-timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds --wait-for-registration waits.",
)
@click.option(
    "--against",
    metavar="cpo-sim[:PRESET]",
    help="Run against the bundled simulated CPO, in this process on the manual clock "
    "(PRESET: one of its presets, comma-separated; default correct).",
)
@click.option(
    "--ocpi-version",
    type=click.Choice(["2.3.0", "2.2.1", "2.1.1"]),
    help="OCPI version to register with (default: the highest both offer).",
)
@click.option(
    "--profile",
    type=click.Choice(["ptp", "emsp"]),
    default="ptp",
    show_default=True,
    help="The emulator's profile (emsp for a platform not yet on 2.3.0).",
)
@click.option(
    "--cps-base-callback",
    metavar="URL",
    help="The CSMS's CPS webhook (callback) URL: runs the cps suite against that CSMS.",
)
@click.option(
    "--suite",
    "suites",
    multiple=True,
    help="Run this suite (repeatable; default: registration, mirror, payments, journey, "
    "and cps with --cps-base-callback).",
)
@click.option("--only", multiple=True, help="Run only checks matching this id, glob or suite.")
@click.option("--skip", multiple=True, help="Leave out checks matching this id, glob or suite.")
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A scenario file (YAML) of your own to run (repeatable).",
)
@click.option("--hook-plug-in", metavar="CMD|URL", help="Plug a car in at the check's EVSE.")
@click.option("--hook-unplug", metavar="CMD|URL", help="Unplug the car at the check's EVSE.")
@click.option("--hook-ev-full", metavar="CMD|URL", help="The car at the check's EVSE is full.")
@click.option(
    "--hook-evse-unavailable",
    metavar="CMD|URL",
    help="Take the check's EVSE out of service (with --hook-evse-available to put it back).",
)
@click.option(
    "--hook-evse-available", metavar="CMD|URL", help="Put the check's EVSE back in service."
)
@click.option("--hook-cpo-stop", metavar="CMD|URL", help="The CPO ends the check's session itself.")
@click.option(
    "--hook-register",
    metavar="CMD|URL",
    help="The CPO registers with the emulator (PAYTER_CHECK_VERSIONS_URL, PAYTER_CHECK_TOKEN): "
    "with --cpo-versions-url the run makes the handshake in both directions.",
)
@click.option(
    "--hook-activate",
    metavar="CMD|URL",
    help="The CPO activates a terminal at the PTP by reference (PAYTER_CHECK_REFERENCE).",
)
@click.option(
    "--hook-header",
    "hook_headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="A header sent with every URL hook (repeatable), e.g. an Authorization.",
)
@click.option(
    "--emulator",
    "emulator_url",
    metavar="URL",
    help="Use the emulator running at URL (default: start one in this process).",
)
@click.option(
    "--admin-token",
    envvar="EMULATOR_ADMIN_TOKEN",
    show_envvar=True,
    help="Bearer token of that emulator's control API.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface of the emulator this command starts.",
)
@click.option("--port", type=int, default=0, show_default=True, help="Its port (0: a free one).")
@click.option("--public-url", help="The URL the CPO uses to reach it (behind Docker or a proxy).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for ids and tokens.")
@click.option("--strict", is_flag=True, help="A warning finding fails its check too.")
@click.option(
    "--max-wait",
    type=click.FloatRange(min=1),
    help="Cap every wait of the scenarios at this many seconds (their own timeouts follow "
    "Payter's: 60 s for a CommandResult, 24 h for a CDR, ...).",
)
@click.option(
    "--junit", type=click.Path(path_type=Path, dir_okay=False), help="Write JUnit XML here."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the result as JSON here.",
)
@click.option(
    "--print-schema", is_flag=True, help="Print the JSON Schema of scenario files and exit."
)
@click.option("--list", "list_checks", is_flag=True, help="List the selected checks and exit.")
def check(**given: Any) -> None:
    """Run Payter's go-live checks end to end against a CPO backend.

    Exit codes: 0 every check passed; 1 a check failed; 2 the run could not be made or is
    incomplete (nothing answers at the CPO's URL, a check not run for want of a hook).
    """
    from emulator import logs
    from emulator.check import run as check_run
    from emulator.check.scenario import schema

    # The servers this command starts log their errors only; the checks speak for themselves.
    logs.configure("console", "error")
    if given["print_schema"]:
        click.echo(json.dumps(schema(), indent=2))
        return
    from emulator.check.hooks import HOOKS, parse_header

    try:
        [parse_header(h) for h in given["hook_headers"]]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    options = check_run.CheckOptions(
        cpo_versions_url=given["cpo_versions_url"],
        cpo_token_a=given["cpo_token_a"],
        wait_for_registration=given["wait_for_registration"],
        registration_timeout=given["registration_timeout"],
        against=given["against"],
        ocpi_version=given["ocpi_version"],
        profile=given["profile"],
        cps_base_callback=given["cps_base_callback"],
        suites=list(given["suites"]),
        only=list(given["only"]),
        skip=list(given["skip"]),
        scenarios=list(given["scenarios"]),
        hooks=check_run.hooks_from(
            {name: given["hook_" + name.replace("-", "_")] for name in HOOKS}
        ),
        hook_headers=dict(parse_header(h) for h in given["hook_headers"]),
        emulator_url=given["emulator_url"],
        admin_token=given["admin_token"],
        host=given["host"],
        port=given["port"],
        public_url=given["public_url"],
        seed=given["seed"],
        strict=given["strict"],
        max_wait=given["max_wait"],
        junit=given["junit"],
        json_path=given["json_path"],
        color=sys.stdout.isatty(),
    )
    try:
        if given["against"]:
            check_run.parse_against(given["against"])
        checks = check_run.select_checks(options, csms=bool(options.cps_base_callback))
    except (ValueError, check_run.RunError) as exc:
        raise click.UsageError(str(exc)) from None
    if given["list_checks"]:
        for item in checks:
            click.echo(f"{item.id:<32} {item.title}  [{' '.join(item.rules)}]")
        return
    outcome = check_run.run_check(options)
    sys.exit(outcome.exit_code)


@main.command("settings-table", hidden=True)
@click.option(
    "--command",
    "command",
    type=click.Choice(["serve", "cpo-sim", "rules", "presets"]),
    default="serve",
    help="Which table: the settings of serve or cpo-sim, the rule catalogue, the presets.",
)
@click.option(
    "--write",
    "target",
    type=click.Path(path_type=Path),
    default=None,
    help="Replace the table between the settings markers of this file (README.md).",
)
def settings_table(command: str, target: Path | None) -> None:
    """Print (or write into the README) the Markdown table of settings (or of the rules, or
    of the simulated CPO's presets)."""
    from emulator.settings import markdown_table

    if command == "rules":
        from emulator.rules import markdown_table as rules_table

        table = rules_table()
        start, end = "<!-- rules:start -->", "<!-- rules:end -->"
    elif command == "presets":
        from emulator.cpo_sim.presets import markdown_table as presets_table

        table = presets_table()
        start, end = "<!-- cpo-sim-presets:start -->", "<!-- cpo-sim-presets:end -->"
    elif command == "cpo-sim":
        from emulator.cpo_sim.settings import CpoSimSettings

        table = markdown_table(CpoSimSettings)
        start, end = "<!-- cpo-sim-settings:start -->", "<!-- cpo-sim-settings:end -->"
    else:
        table = markdown_table(EmulatorSettings)
        start, end = "<!-- settings:start -->", "<!-- settings:end -->"
    if target is None:
        click.echo(table)
        return
    text = target.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise click.UsageError(f"{target} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    target.write_text(f"{head}{start}\n{table}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
