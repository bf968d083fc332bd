"""The README as a newcomer follows it: its commands run as written, and every flag it names
exists (with a value the flag takes)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from emulator.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Flags of other tools the README shows (docker compose, the benchmarks' own runner).
OTHER_TOOLS = {"--build", "--wait", "--rm", "--duration", "--runs", "--no-pin", "--quick"}
SHELL_BREAKS = {"&", "&&", "|", "||", ";", ">", ">>", "2>", "<", "\\"}


def _sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def _section(title: str) -> str:
    start = README.index(f"### {title}")
    following = re.compile(r"^#{2,3} ", re.M).search(README, start + 4)
    return README[start : following.start() if following else len(README)]


def _options(command: click.Command) -> dict[str, click.Parameter]:
    found: dict[str, click.Parameter] = {}
    for param in command.params:
        for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
            found[opt] = param
    return found


def _every_option() -> dict[str, click.Parameter]:
    found: dict[str, click.Parameter] = {}

    def walk(command: click.Command) -> None:
        found.update(_options(command))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(main)
    return found


def _check_value(flag: str, param: click.Parameter, value: str | None, where: str) -> None:
    choices = getattr(param.type, "choices", None)
    if choices and value is not None and not value.startswith("-"):
        # A table cell writes alternatives as `--profile ptp\|emsp`.
        for alternative in value.replace("\\", "").split("|"):
            assert alternative in choices, (
                f"{where}: {flag} {alternative!r} is not one of {list(choices)}"
            )


def test_every_command_line_of_the_readme_names_real_commands_and_flags() -> None:
    lines = [
        line
        for block in _sh_blocks(README)
        for line in block.splitlines()
        if line.lstrip().startswith("payter-emulator ") or " payter-emulator " in line
    ]
    assert len(lines) > 15, "the README's command lines were not found"
    for line in lines:
        words = shlex.split(line.split(" #")[0].rstrip().removesuffix("\\"), posix=True)
        words = words[words.index("payter-emulator") + 1 :]
        command: click.Command = main
        options = _options(main)
        for index, word in enumerate(words):
            if word in SHELL_BREAKS or word.startswith(("$", ">", "2>")):
                break
            sub = getattr(command, "commands", {}).get(word)
            if sub is not None:
                command = sub
                options.update(_options(sub))
                continue
            if word.startswith("--"):
                flag, _, inline = word.partition("=")
                assert flag in options, f"{line!r}: {flag} is not an option of {command.name}"
                following = inline or (words[index + 1] if index + 1 < len(words) else None)
                _check_value(flag, options[flag], following, line)


def test_every_flag_the_readme_names_exists() -> None:
    """Also the flags named in the prose (`--log-format text`, `--clock manual`, ...)."""
    options = _every_option()
    for match in re.finditer(r"`(--[a-z][a-z0-9-]*[a-z0-9])(?:[ =]([^`\s]+))?`", README):
        flag, value = match.group(1), match.group(2)
        if flag in OTHER_TOOLS:
            continue
        assert flag in options, f"README names {flag}, which no command takes"
        _check_value(flag, options[flag], value, match.group(0))
    unknown = {
        flag
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])(?![\w*-])", README)
        if flag not in options and flag not in OTHER_TOOLS
    }
    assert unknown == set()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(120)
def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """The "Walkthrough with curl" blocks, run by bash as a reader pastes them, with
    `payter-emulator` on the PATH as in an activated virtualenv. Only the ports differ
    (8080 and 8081 may be taken on a shared machine): both are replaced by free ones."""
    emulator, cpo = _free_port(), _free_port()
    script = "\n".join(_sh_blocks(_section("Walkthrough with curl")))
    assert "press start" in script and "present-card" in script
    script = script.replace("8080", str(emulator)).replace("8081", str(cpo))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["EMULATOR_LOG_LEVEL"] = env["EMULATOR_CPO_SIM_LOG_LEVEL"] = "warning"
    # Files, not pipes: the servers started in the background keep a pipe open after the
    # script ends.
    stdout, stderr = tmp_path / "out.txt", tmp_path / "err.txt"
    with stdout.open("w") as out_file, stderr.open("w") as err_file:
        process = subprocess.Popen(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env=env,
            stdout=out_file,
            stderr=err_file,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=100)
        finally:
            # The two servers it started in the background go with its process group.
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
    out, err = stdout.read_text(), stderr.read_text()
    assert returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    # What the comments promise.
    assert "journey.choose" in out and "payter.present_card" in out
    assert '"money": "CAPTURED"' in out
    assert "Verdict: PASS" in out


def test_the_demo_captures_are_at_the_sizes_they_claim() -> None:
    from rich.cells import cell_len

    for columns, rows in ((80, 24), (120, 40)):
        marker = f"({columns}x{rows}):\n\n```\n"
        assert marker in README, f"no capture at {columns}x{rows}"
        start = README.index(marker) + len(marker)
        lines = README[start : README.index("```", start)].rstrip("\n").split("\n")
        assert len(lines) == rows
        assert max(cell_len(line) for line in lines) <= columns
        assert "PAY-DEMO-0001" in lines[1]
