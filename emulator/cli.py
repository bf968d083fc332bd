"""``payter-emulator``: the command line.

Every command's options are generated from its settings class (:mod:`emulator.settings`), so a
flag, its ``EMULATOR_*`` variable, ``--help`` and the README table never drift apart.

Exit codes: 0 normal stop; 1 the server could not start (port taken, bad database file);
2 bad command line or settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

import click
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from emulator.cpo_sim.settings import CpoSimSettings
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="payter-emulator")
def main() -> None:
    """Emulator of the Payter payment terminal and of Payter's platform (OCPI PTP + CPS)."""


@main.command()
@settings_options(EmulatorSettings)
def serve(**given: Any) -> None:
    """Run the emulator: OCPI peer, CPS API and control API on one port.

    Prints one JSON line {"event": "listening", ...} on stdout once it accepts connections.
    """
    settings = load_settings(EmulatorSettings, given)
    from emulator import logs

    logs.configure(settings.log_format, settings.log_level)
    sys.exit(asyncio.run(_serve(settings)))


async def _serve(settings: EmulatorSettings) -> int:
    from emulator.app import build_emulator

    return await _run(build_emulator, settings)


@main.command("cpo-sim")
@settings_options(CpoSimSettings)
def cpo_sim(**given: Any) -> None:
    """Run the simulated CPO: an OCPI 2.3.0/2.2.1 CPO backend with simulated chargers.

    Prints one JSON line {"event": "listening", ...} on stdout once it accepts connections.
    """
    settings = load_settings(CpoSimSettings, given)
    from emulator import logs

    logs.configure(settings.log_format, settings.log_level)
    sys.exit(asyncio.run(_cpo_sim(settings)))


async def _cpo_sim(settings: CpoSimSettings) -> int:
    from emulator.cpo_sim.node import build_cpo_sim

    return await _run(build_cpo_sim, settings)


async def _run(build: Callable[[Any], Any], settings: Any) -> int:
    from emulator.node import print_listening

    try:
        node = build(settings)
        info = await node.start()
    except OSError as exc:
        click.echo(f"cannot start: {exc}", err=True)
        return 1
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


@main.command("settings-table", hidden=True)
@click.option("--command", "command", type=click.Choice(["serve", "cpo-sim"]), default="serve")
@click.option(
    "--write",
    "target",
    type=click.Path(path_type=Path),
    default=None,
    help="Replace the table between the settings markers of this file (README.md).",
)
def settings_table(command: str, target: Path | None) -> None:
    """Print (or write into the README) the Markdown table of settings."""
    from emulator.settings import markdown_table

    if command == "cpo-sim":
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
