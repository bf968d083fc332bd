"""``payter-emulator tui``, ``tui-serve`` and ``python -m tui``: options in, tokens never on a
command line, and textual-serve's page served for real."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tui.__main__
import tui.app
from emulator.cli import main

ROOT = Path(__file__).resolve().parents[2]


class _Recorder:
    """Stands in for ``make_app``: keeps the arguments, and ``run()`` returns at once."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> _Recorder:
        self.calls.append((args, kwargs))
        return self

    def run(self) -> None:
        return None


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    recorder = _Recorder()
    monkeypatch.setattr(tui.app, "make_app", recorder)
    monkeypatch.setattr(tui.__main__, "make_app", recorder)
    for name in ("EMULATOR_ADMIN_TOKEN", "EMULATOR_CPO_SIM_ADMIN_TOKEN", "EMULATOR_TUI_CPO_SIM"):
        monkeypatch.delenv(name, raising=False)
    return recorder


def test_tui_passes_its_options(make_app: _Recorder) -> None:
    result = CliRunner().invoke(
        main,
        ["tui", "--connect", "http://emu:8080", "--admin-token", "t1", "--cpo-sim", "http://sim"],
        env={"EMULATOR_CPO_SIM_ADMIN_TOKEN": "t2"},
    )
    assert result.exit_code == 0, result.output
    assert make_app.calls == [
        (
            ("http://emu:8080",),
            {"admin_token": "t1", "cpo_sim_url": "http://sim", "cpo_sim_token": "t2"},
        )
    ]


def test_python_m_tui_reads_the_same_variables(
    make_app: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_ADMIN_TOKEN", "t1")
    tui.__main__.main(["--connect", "http://emu:8080"])
    assert make_app.calls == [
        (
            ("http://emu:8080",),
            {"admin_token": "t1", "cpo_sim_url": None, "cpo_sim_token": None},
        )
    ]


def test_tui_serve_keeps_tokens_off_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("textual_serve")
    import textual_serve.server

    served: list[tuple[str, dict[str, Any]]] = []

    class FakeServer:
        def __init__(self, command: str, **kwargs: Any) -> None:
            served.append((command, kwargs))

        def serve(self) -> None:
            return None

    monkeypatch.setattr(textual_serve.server, "Server", FakeServer)
    # tui-serve writes the tokens into os.environ: set them here so that they are restored.
    monkeypatch.setenv("EMULATOR_ADMIN_TOKEN", "")
    monkeypatch.setenv("EMULATOR_CPO_SIM_ADMIN_TOKEN", "")
    result = CliRunner().invoke(
        main,
        [
            "tui-serve",
            "--connect",
            "http://emu:8080",
            "--admin-token",
            "s3cret",
            "--cpo-sim",
            "http://sim",
            "--cpo-sim-token",
            "s3cret-2",
            "--port",
            "8123",
        ],
    )
    assert result.exit_code == 0, result.output
    [(command, kwargs)] = served
    assert command.endswith("-m tui --connect http://emu:8080 --cpo-sim http://sim")
    assert "s3cret" not in command
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 8123
    assert os.environ["EMULATOR_ADMIN_TOKEN"] == "s3cret"
    assert os.environ["EMULATOR_CPO_SIM_ADMIN_TOKEN"] == "s3cret-2"


def test_tui_serve_without_textual_serve_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    result = CliRunner().invoke(main, ["tui-serve"])
    assert result.exit_code == 1
    assert "pip install 'payter-emulator[serve]'" in result.output


def test_tui_serve_serves_the_page() -> None:
    """The real server: its page loads (each browser tab then starts ``python -m tui``)."""
    pytest.importorskip("textual_serve")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "tui-serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    page = resp.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert "Payter emulator" in page and "textual.js" in page
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_options_come_from_flags_or_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    import emulator.demo

    seen: list[Any] = []

    async def run(options: Any) -> int:
        seen.append(options)
        return 0

    monkeypatch.setattr(emulator.demo, "run", run)
    result = CliRunner().invoke(
        main,
        ["demo", "--ready-file", "ready.json", "--clock", "manual"],
        env={"EMULATOR_DEMO_HEADLESS": "1", "EMULATOR_DEMO_TERMINALS": "3"},
    )
    assert result.exit_code == 0, result.output
    [options] = seen
    assert options.headless and options.terminals == 3 and options.clock == "manual"
    assert str(options.ready_file) == "ready.json"
    help_text = CliRunner().invoke(main, ["demo", "--help"]).output
    assert "EMULATOR_DEMO_READY_FILE" in help_text
