"""The simulated CPO's control routes, its command line and its building blocks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from helpers import SIM_TOKEN_A, clock_of
from ptp_double import PtpDouble

from emulator.cli import main
from emulator.cpo_sim import catalog
from emulator.cpo_sim.charger import Car, Evse, charge
from emulator.cpo_sim.node import CpoSimNode

ROOT = Path(__file__).resolve().parents[2]


async def admin(
    http: aiohttp.ClientSession, node: CpoSimNode, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, f"{node.rt.base_url}/__admin/{path}", json=body) as resp:
        return resp.status, await resp.json()


async def test_evse_control(sim: CpoSimNode, ptp: PtpDouble, http) -> None:
    status, evses = await admin(http, sim, "GET", "evses")
    assert status == 200 and len(evses) == 5
    assert {e["status"] for e in evses} == {"AVAILABLE"}
    status, evse = await admin(
        http, sim, "POST", "evses/sim-ams-1/plug-in", {"battery_kwh": 40, "soc": 50}
    )
    assert status == 200 and evse["car"]["soc"] == 50 and evse["status"] == "AVAILABLE"
    status, body = await admin(http, sim, "POST", "evses/SIM-AMS-1/plug-in", {})
    assert status == 409 and body["error"]["code"] == "already_plugged_in"
    status, body = await admin(http, sim, "POST", "evses/SIM-AMS-1/plug-in", {"soc": 150})
    assert status == 400
    await ptp.command(
        "START_SESSION",
        {"token": ptp.token(), "location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-1"},
    )
    await clock_of(sim).advance(600)
    status, evse = await admin(http, sim, "GET", "evses/SIM-AMS-1")
    assert evse["status"] == "CHARGING" and evse["session_id"] and evse["car"]["soc"] > 50
    status, evse = await admin(http, sim, "POST", "evses/SIM-AMS-1/ev-full")
    assert evse["car"]["soc"] == 100
    status, sessions = await admin(http, sim, "GET", "sessions")
    [row] = sessions
    assert row["status"] == "ACTIVE" and row["object"]["id"] == evse["session_id"]
    status, stopped = await admin(http, sim, "POST", f"sessions/{evse['session_id']}/stop")
    assert status == 200 and stopped["status"] == "COMPLETED"
    status, body = await admin(http, sim, "POST", f"sessions/{evse['session_id']}/stop")
    assert status == 409
    status, cdrs = await admin(http, sim, "GET", "cdrs")
    assert len(cdrs) == 1 and cdrs[0]["delivery"]["ok"] is True
    status, evse = await admin(http, sim, "POST", "evses/SIM-AMS-1/unplug")
    assert evse["status"] == "AVAILABLE" and evse["car"] is None
    for action, expected in (
        ("offline", "UNKNOWN"),
        ("repair", "AVAILABLE"),
        ("out-of-order", "OUTOFORDER"),
        ("repair", "AVAILABLE"),
    ):
        status, evse = await admin(http, sim, "POST", f"evses/SIM-AMS-2/{action}")
        assert evse["status"] == expected
    status, body = await admin(http, sim, "POST", "evses/NOPE/unplug")
    assert status == 404
    status, commands = await admin(http, sim, "GET", "commands")
    assert [c["command"] for c in commands] == ["START_SESSION"]
    assert commands[0]["result"] == {"result": "ACCEPTED"}
    statuses = [s.body["status"] for s in ptp.received("PATCH", "/locations/")]
    assert statuses == ["CHARGING", "AVAILABLE", "UNKNOWN", "AVAILABLE", "OUTOFORDER", "AVAILABLE"]


async def test_lists_and_location_push(sim: CpoSimNode, ptp: PtpDouble, http) -> None:
    await ptp.call(
        "PUT",
        "tokens",
        "NL/PAY/CARD1",
        json_body={
            **ptp.token("CARD1"),
            "type": "RFID",
            "whitelist": "ALLOWED",
        },
    )
    await ptp.call("POST", "payments", "terminals", json_body={"terminal_id": "T-9"})
    _, tokens = await admin(http, sim, "GET", "tokens")
    assert [t["object"]["uid"] for t in tokens] == ["CARD1"]
    _, terminals = await admin(http, sim, "GET", "terminals")
    assert [t["object"]["terminal_id"] for t in terminals] == ["T-9"]
    status, delivery = await admin(http, sim, "POST", "terminals/T-9/assign")
    assert status == 200 and delivery["ok"] is True
    _, facs = await admin(http, sim, "GET", "financial-advice-confirmations")
    assert facs == []
    status, pushed = await admin(http, sim, "POST", "locations/push", {})
    assert status == 200 and len(pushed) == 3 and all(p["ok"] for p in pushed)
    puts = ptp.received("PUT", "/locations/NL/SIM/")
    assert [p.path.rsplit("/", 1)[1] for p in puts] == [
        "SIM-AMS-STATION",
        "SIM-UTR-GARAGE",
        "SIM-DH-DEPOT",
    ]
    assert puts[0].body["evses"][0]["uid"] == "SIM-AMS-1"
    status, body = await admin(http, sim, "GET", "")
    assert status == 200 and "POST /__admin/evses/{uid}/plug-in" in body["routes"]
    assert body["ocpi_versions_url"].endswith("/ocpi/cpo/versions")


async def test_reset_reseeds(sim: CpoSimNode, ptp: PtpDouble, http) -> None:
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    await sim.backend.chargers.set_fault("SIM-AMS-2", "out-of-order")
    status, _ = await admin(http, sim, "POST", "reset")
    assert status == 200
    _, evses = await admin(http, sim, "GET", "evses")
    assert {e["status"] for e in evses} == {"AVAILABLE"} and all(e["car"] is None for e in evses)
    assert sim.platforms.registered() == []
    # The fixed token A works again.
    again = await PtpDouble().start()
    try:
        await again.register_with(sim.server.versions_url, SIM_TOKEN_A)
    finally:
        await again.stop()


def test_charger_curve() -> None:
    car = Car(battery_kwh=50.0, soc=20.0, max_power_kw=50.0)
    after, segments = charge(car, 11.0, 3600)
    assert [s.kind for s in segments] == ["charging"]
    assert segments[0].energy_wh == pytest.approx(11000.0)
    assert after.soc == pytest.approx(42.0)
    # Above 80 % the car takes less than the charger offers.
    high = Car(battery_kwh=50.0, soc=90.0, max_power_kw=50.0)
    assert high.accepts_kw() < 50.0
    full, segments = charge(high, 50.0, 4 * 3600)
    assert full.full and [s.kind for s in segments] == ["charging", "parking"]
    assert sum(s.energy_wh for s in segments) == pytest.approx(5000.0)
    assert sum(s.seconds for s in segments) == pytest.approx(4 * 3600)
    evse = Evse("E", "L", 22.0)
    assert evse.status() == "AVAILABLE"
    evse.plug_in(car, "1")
    assert evse.status() == "AVAILABLE"  # no session: still startable
    evse.begin("S")
    assert evse.status() == "CHARGING"
    evse.end()
    assert evse.status() == "CHARGING"  # still plugged in
    evse.unplug()
    evse.online = False
    assert evse.status() == "UNKNOWN"


def test_221_shapes_are_derived() -> None:
    [location] = [
        loc for loc in catalog.load(None, "locations.json") if loc["id"] == "SIM-AMS-STATION"
    ]
    old = catalog.location_for(location, "2.2.1")
    assert "parking_places" not in old and "parking_places" in location
    tariffs = catalog.load(None, "tariffs.json")
    for tariff in tariffs:
        old_tariff = catalog.tariff_for(tariff, "2.2.1")
        assert "tax_included" not in old_tariff and "preauthorize_amount" not in old_tariff
    price = catalog.price_v221(
        {"before_taxes": 10, "taxes": [{"name": "VAT", "percentage": 21, "amount": Decimal("2.1")}]}
    )
    assert price == {"excl_vat": 10, "incl_vat": Decimal("12.1")}


def test_command_line_help_and_settings_table() -> None:
    result = CliRunner().invoke(main, ["cpo-sim", "--help"])
    assert result.exit_code == 0
    assert "--preset" in result.output and "EMULATOR_CPO_SIM_PRESET" in result.output
    assert "[default: 8081]" in result.output
    result = CliRunner().invoke(main, ["cpo-sim", "--preset", "nonsense"])
    assert result.exit_code == 2 and "unknown preset" in result.output
    result = CliRunner().invoke(main, ["settings-table", "--command", "cpo-sim"])
    assert "`EMULATOR_CPO_SIM_TERMINAL_ASSIGNMENT`" in result.output


def test_unusable_database_exits_1(tmp_path: Path) -> None:
    db = tmp_path / "missing" / "cpo-sim.db"
    result = CliRunner().invoke(main, ["cpo-sim", "--port", "0", "--db", str(db)])
    assert result.exit_code == 1
    assert f"cannot start: database {db}: unable to open database file" in result.output


def launch(command: str, tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """``payter-emulator COMMAND`` as its own process on a free port; its listening line."""
    ready = tmp_path / f"{command}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["EMULATOR_LOG_LEVEL"] = env["EMULATOR_CPO_SIM_LOG_LEVEL"] = "warning"
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "emulator", command, "--port", "0", "--db", ":memory:"]
    argv += ["--clock", "manual", "--ready-file", str(ready)]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    assert json.loads(ready.read_text()) == info
    return proc, info


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, json.load(resp)


def test_cpo_sim_prints_listening_line_and_writes_ready_file(tmp_path: Path) -> None:
    proc, info = launch("cpo-sim", tmp_path)
    try:
        assert info["event"] == "listening"
        assert set(info) == {"event", "url", "ocpi_versions_url", "admin_url"}
        assert info["ocpi_versions_url"] == info["url"] + "/ocpi/cpo/versions"
        with urllib.request.urlopen(info["url"] + "/readyz", timeout=5) as resp:
            assert json.load(resp)["status"] == "ready"
        with urllib.request.urlopen(info["admin_url"] + "evses", timeout=5) as resp:
            assert len(json.load(resp)) == 5
    finally:
        stop(proc)


def test_two_processes_register_in_both_directions(tmp_path: Path) -> None:
    """``payter-emulator serve`` and ``payter-emulator cpo-sim`` as separate processes, the
    README's calls: the emulator registers with the CPO (2.2.1), and the CPO with the
    emulator (2.3.0)."""
    cpo, cpo_info = launch("cpo-sim", tmp_path)
    try:
        emu, emu_info = launch("serve", tmp_path)
        try:
            status, platform = post(
                emu_info["admin_url"] + "platforms/register",
                {
                    "versions_url": cpo_info["ocpi_versions_url"],
                    "token": "cpo-sim-token-a",
                    "version": "2.2.1",
                },
            )
            assert status == 201 and platform["status"] == "REGISTERED"
            assert platform["version"] == "2.2.1" and platform["registered_by"] == "us"
            # Unregister (DELETE at the CPO), then the other way round.
            request = urllib.request.Request(
                emu_info["admin_url"] + f"platforms/{platform['id']}", method="DELETE"
            )
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert resp.status == 200
            _, minted = post(emu_info["admin_url"] + "tokens-a", {})
            status, platform = post(
                cpo_info["admin_url"] + "platforms/register",
                {"versions_url": minted["versions_url"], "token": minted["token"]},
            )
            assert status == 201 and platform["status"] == "REGISTERED"
            assert platform["version"] == "2.3.0" and platform["registered_by"] == "us"
            with urllib.request.urlopen(cpo_info["admin_url"] + "platforms", timeout=5) as resp:
                seen = json.load(resp)
            assert sorted((p["status"], p["version"], p["registered_by"]) for p in seen) == [
                ("REGISTERED", "2.3.0", "us"),
                ("UNREGISTERED", "2.2.1", "peer"),
            ]
        finally:
            stop(emu)
    finally:
        stop(cpo)


def test_readme_tables_are_current() -> None:
    from emulator.cpo_sim.presets import markdown_table as presets_table
    from emulator.cpo_sim.settings import CpoSimSettings
    from emulator.settings import markdown_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert presets_table() in readme
    assert markdown_table(CpoSimSettings) in readme
