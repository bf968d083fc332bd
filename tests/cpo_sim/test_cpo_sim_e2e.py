"""The simulated CPO and the emulator, over real HTTP on loopback, on one manual clock.

Registration in both directions for OCPI 2.2.1 and 2.3.0 (each through the other side's
``/__admin/tokens-a`` and ``/__admin/platforms/register``), then the emulator's own checks on
what the simulated CPO serves and pushes: with preset ``correct`` the driver's whole card
journey on the terminal leaves the emulator's strict report PASS on both axes, and each other
preset shows up under exactly the rules it names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from helpers import make_settings, sim_settings

from emulator.app import EmulatorNode, build_emulator
from emulator.clock import ManualClock
from emulator.cpo_sim.node import CpoSimNode, build_cpo_sim
from emulator.cpo_sim.presets import PRESETS
from emulator.node import Node
from emulator.ocpi.types import format_datetime

Pair = tuple[EmulatorNode, CpoSimNode]


async def admin(
    http: aiohttp.ClientSession, node: Node, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    url = f"{node.rt.base_url}/__admin/{path}"
    async with http.request(method, url, json=body) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def pair() -> AsyncIterator[Callable[..., Any]]:
    """An emulator and a simulated CPO that share the emulator's manual clock."""
    started: list[Node] = []

    async def start(emulator: dict[str, Any] | None = None, **sim: Any) -> Pair:
        emu = build_emulator(make_settings(**(emulator or {})))
        cpo = build_cpo_sim(sim_settings(**sim), clock=emu.rt.clock)
        await emu.start()
        await cpo.start()
        started.extend([cpo, emu])
        return emu, cpo

    yield start
    for node in started:
        await node.stop()


def clock(emu: EmulatorNode) -> ManualClock:
    assert isinstance(emu.rt.clock, ManualClock)
    return emu.rt.clock


async def register(
    http: aiohttp.ClientSession, emu: EmulatorNode, cpo: CpoSimNode, direction: str, version: str
) -> None:
    """``cpo->emu``: the CPO registers with the emulator; ``emu->cpo``: the other way."""
    sender, receiver = (cpo, emu) if direction == "cpo->emu" else (emu, cpo)
    status, minted = await admin(http, receiver, "POST", "tokens-a", {"label": "e2e"})
    assert status == 201
    status, body = await admin(
        http,
        sender,
        "POST",
        "platforms/register",
        {"versions_url": minted["versions_url"], "token": minted["token"], "version": version},
    )
    assert status == 201, body
    assert body["status"] == "REGISTERED" and body["version"] == version


def errors(node: Node) -> list[dict[str, Any]]:
    return [f for f in node.rt.findings.list() if f["severity"] == "error"]


@pytest.mark.parametrize("version", ["2.3.0", "2.2.1"])
@pytest.mark.parametrize("direction", ["cpo->emu", "emu->cpo"])
async def test_registration_both_directions(pair, http, direction: str, version: str) -> None:
    emu, cpo = await pair()
    await register(http, emu, cpo, direction, version)
    [seen_by_cpo] = cpo.platforms.registered()
    [seen_by_emu] = emu.platforms.registered()
    assert seen_by_cpo.version == seen_by_emu.version == version
    assert seen_by_cpo.owns("NL", "PAY") and seen_by_emu.owns("NL", "SIM")
    assert seen_by_cpo.registered_by == ("us" if direction == "cpo->emu" else "peer")
    # Each side reaches the other's modules with the tokens of the handshake.
    modules = {e["identifier"] for e in seen_by_emu.endpoints}
    expected = {"credentials", "locations", "tariffs", "sessions", "cdrs", "commands", "tokens"}
    # Payments on 2.3.0, and on 2.2.1 as Payter's "Direct Payment 2.2.1".
    assert modules == expected | {"payments"}
    assert {e["role"] for e in seen_by_emu.endpoints if e["identifier"] == "locations"} == {
        "SENDER"
    }
    # At registration the emulator crawls the CPO's Locations and Tariffs (its mirror); when
    # the CPO registered with the emulator, that (and the terminal push) waits a moment after
    # the credentials answer (registration_followup_delay), so the CPO has completed its side.
    await clock(emu).advance(1)
    status, locations = await admin(http, emu, "GET", "ocpi/locations")
    assert status == 200
    assert {loc["object"]["id"] for loc in locations} == {
        "SIM-AMS-STATION",
        "SIM-UTR-GARAGE",
        "SIM-DH-DEPOT",
    }
    _, tariffs = await admin(http, emu, "GET", "ocpi/tariffs")
    assert len(tariffs) == 3
    found = errors(emu)
    [terminal] = emu.ptp.payments.terminals()
    assert terminal["push_state"] == "PUSHED"
    assert len(cpo.backend.terminals.rows()) == 1
    # Nothing the CPO did broke a rule the emulator checks.
    assert found == []


async def test_terminal_assignment_with_the_emulator(pair, http) -> None:
    emu, cpo = await pair()
    await register(http, emu, cpo, "emu->cpo", "2.3.0")
    # The emulator POSTed its terminal to the CPO's Payments Receiver at registration...
    [terminal] = cpo.backend.terminals.rows()
    terminal_id = terminal["object"]["terminal_id"]
    await clock(emu).advance(1)
    # ... and the CPO assigned it by PATCHing the emulator's Terminal.
    _, terminals = await admin(http, emu, "GET", "terminals")
    [mine] = [t for t in terminals if t.get("terminal_id") == terminal_id]
    assert mine["terminal"]["location_ids"] == ["SIM-AMS-STATION", "SIM-UTR-GARAGE"]
    assert {e["evse_uid"] for e in mine["evses"]} == {
        "SIM-AMS-1",
        "SIM-AMS-2",
        "SIM-AMS-3",
        "SIM-UTR-1",
    }
    assert cpo.backend.terminals.rows()[0]["assignment"]["ok"] is True
    assert errors(emu) == []


async def test_card_journey_with_the_emulator(pair, http) -> None:
    emu, cpo = await pair(auto_plug_in_delay=5, session_patch_interval=300)
    await register(http, emu, cpo, "emu->cpo", "2.3.0")
    status, command = await admin(
        http,
        emu,
        "POST",
        "ocpi/commands/START_SESSION",
        {"location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-1", "connector_id": "1"},
    )
    assert status in (200, 201), command
    await clock(emu).advance(10)
    _, sessions = await admin(http, emu, "GET", "ocpi/sessions")
    [session] = sessions
    assert session["object"]["status"] == "ACTIVE"
    await clock(emu).advance(1800)
    session_id = session["object"]["id"]
    status, _ = await admin(
        http, emu, "POST", "ocpi/commands/STOP_SESSION", {"session_id": session_id}
    )
    await clock(emu).advance(10)
    _, sessions = await admin(http, emu, "GET", "ocpi/sessions")
    assert sessions[0]["object"]["status"] == "COMPLETED"
    _, cdrs = await admin(http, emu, "GET", "ocpi/cdrs")
    [cdr] = cdrs
    token = session["object"]["cdr_token"]
    assert cdr["object"]["cdr_token"] == token and token["type"] == "AD_HOC_USER"
    assert cdr["object"]["authorization_reference"] == session["object"]["authorization_reference"]
    # The emulator found nothing wrong with the CPO.
    assert errors(emu) == [], errors(emu)
    _, commands = await admin(http, emu, "GET", "ocpi/commands")
    assert all("ACCEPTED" in c["state"] for c in commands), commands


async def journey(http: aiohttp.ClientSession, emu: EmulatorNode, hours: float = 1.0) -> None:
    """The emulator starts a session at SIM-AMS-1, lets it run, stops it, re-reads Locations;
    a day later whatever was still expected (a Session, a CDR) is overdue."""
    await admin(
        http,
        emu,
        "POST",
        "ocpi/commands/START_SESSION",
        {"location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-1", "connector_id": "1"},
    )
    await clock(emu).advance(70)
    await clock(emu).advance(hours * 3600)
    _, sessions = await admin(http, emu, "GET", "ocpi/sessions")
    for session in sessions:
        if session["object"]["status"] == "ACTIVE":
            await admin(
                http,
                emu,
                "POST",
                "ocpi/commands/STOP_SESSION",
                {"session_id": session["object"]["id"]},
            )
    await clock(emu).advance(70)
    await admin(http, emu, "POST", "ocpi/poll", {})
    await clock(emu).advance(emu.settings.cdr_timeout)


# What the emulator reports for each preset when it drives a session by hand (no terminal),
# each at the severity of its rule's keyword. PAYTER-06 is the journey's
# (tests/journey/test_journey_with_cpo_sim.py).
REPORTED = {
    "correct": {},
    "sloppy-headers": {"OCPI-03": "error", "OCPI-04": "error", "OCPI-04b": "error"},
    # "might never be send": one info for the missing result, nothing more when it comes.
    "late-result": {"OCPI-43c": "info"},
    # Legal, noted: the EVSE is AVAILABLE in the CPO's own Locations.
    "reject-start": {"OCPI-55": "info"},
    # Legal (mod_commands: the EV was never plugged in), noted.
    "no-session-after-accept": {"OCPI-46": "info"},
    # The refused PATCHes are the finding; the crawl that then sees the status change does
    # not blame the CPO for not pushing (it did).
    "patch-without-last-updated": {"OCPI-31": "error", "OCPI-52b": "info"},
    "wrong-cdr-token": {"OCPI-35": "error"},
    # The CDR's total is above what its tariff gives (capped at max_price) and above the
    # pre-authorized amount.
    "cdr-over-authorization": {"OCPI-38": "warning", "OCPI-58": "info"},
    "bad-paging": {"OCPI-20b": "warning", "OCPI-21": "error"},
    "raw-token": {"OCPI-01": "error"},
}
JOURNEY_ONLY = {"PAYTER-06"}
# A CDR is overdue 15 minutes after its Session ended, not a day.
FAST = {"cdr_timeout": 900}


def test_every_preset_is_covered() -> None:
    """Each preset names exactly the rules it makes the emulator report, nothing unrelated."""
    assert set(REPORTED) == set(PRESETS)
    for name, preset in PRESETS.items():
        assert set(preset.rules) - JOURNEY_ONLY == set(REPORTED[name]), name


@pytest.mark.parametrize("preset", list(REPORTED))
async def test_the_emulator_reports_each_preset(pair, http, preset: str) -> None:
    emu, cpo = await pair(
        emulator=FAST, preset=preset, auto_plug_in_delay=5, session_patch_interval=300
    )
    await register(http, emu, cpo, "emu->cpo", "2.3.0")
    await clock(emu).advance(1)  # the first crawl: the emulator knows the CPO's Locations
    hours = 1.0
    if preset == "cdr-over-authorization":
        # A big battery charges past the 50.00 the terminal authorized.
        status, _ = await admin(
            http, cpo, "POST", "evses/SIM-AMS-1/plug-in", {"battery_kwh": 150, "soc": 0}
        )
        assert status == 200
        hours = 6
    await journey(http, emu, hours=hours)
    found: dict[str, set[str]] = {}
    for f in emu.rt.findings.list():
        found.setdefault(f["rule"], set()).add(f["severity"])
    assert found == {rule: {severity} for rule, severity in REPORTED[preset].items()}, found
    # The simulated CPO judges the emulator too: the emulator never breaks the spec to test.
    assert cpo.rt.findings.list() == [], cpo.rt.findings.list()
    _, report = await admin(http, emu, "GET", "report")
    errors = any(s == "error" for s in REPORTED[preset].values())
    # Driven by hand, no card journey reached a capture: never PASS.
    assert report["verdict"] == ("FAIL" if errors else "INCOMPLETE")
    assert report["axes"]["spec"]["verdict"] == ("FAIL" if errors else "INCOMPLETE")


async def test_what_the_presets_leave_behind(pair, http) -> None:
    # reject-start: the command is refused, nothing follows.
    emu, cpo = await pair(
        emulator=FAST, preset="reject-start", auto_plug_in_delay=5, session_patch_interval=600
    )
    await register(http, emu, cpo, "emu->cpo", "2.3.0")
    await clock(emu).advance(1)
    await journey(http, emu)
    _, commands = await admin(http, emu, "GET", "ocpi/commands")
    assert [c["state"] for c in commands] == ["REJECTED"]
    # no-session-after-accept: ACCEPTED, then silence.
    status, _ = await admin(http, cpo, "PUT", "preset", {"preset": "no-session-after-accept"})
    assert status == 200
    await journey(http, emu)
    _, commands = await admin(http, emu, "GET", "ocpi/commands")
    assert commands[-1]["state"] == "RESULT_ACCEPTED"
    _, sessions = await admin(http, emu, "GET", "ocpi/sessions")
    assert sessions == []
    # cdr-over-authorization: the CDR goes past the 50.00 the terminal authorized.
    await admin(http, cpo, "PUT", "preset", {"preset": "cdr-over-authorization"})
    status, _ = await admin(
        http, cpo, "POST", "evses/SIM-AMS-1/plug-in", {"battery_kwh": 150, "soc": 0}
    )
    assert status == 200
    await journey(http, emu, hours=6)
    _, cdrs = await admin(http, emu, "GET", "ocpi/cdrs")
    [cdr] = cdrs
    price = cdr["object"]["total_cost"]
    total = price["before_taxes"] + sum(t["amount"] for t in price["taxes"])
    assert total > 72.60  # above the pre-authorized 50.00 and the max_price


async def test_pulls_reservations_and_tokens_with_a_correct_cpo(pair, http) -> None:
    emu, cpo = await pair(emulator=FAST, auto_plug_in_delay=5, session_patch_interval=300)
    await register(http, emu, cpo, "emu->cpo", "2.3.0")
    await clock(emu).advance(1)
    # The Sender checks ran after the first crawl: one location in another case, an unknown
    # one, the date filters.
    urls = [e["url"] for e in emu.rt.journal.list(direction="out") if "/locations" in e["url"]]
    assert any("date_from=" in u for u in urls) and any("date_to=" in u for u in urls)
    assert any(u.endswith("/sim-ams-station") for u in urls)
    # A session, pulled as well as pushed: nothing new, nothing wrong.
    await journey(http, emu)
    status, pulled = await admin(http, emu, "POST", "ocpi/poll", {"modules": ["sessions", "cdrs"]})
    assert status == 200, pulled
    assert [(p["module"], p["objects"], p["new"]) for p in pulled] == [
        ("sessions", 1, 0),
        ("cdrs", 1, 0),
    ]
    # The first pull looks a receipt window (24 h) back.
    assert pulled[0]["date_from"] == format_datetime(clock(emu).now() - timedelta(days=1))
    # Reservations: the Session is RESERVATION; a cancellation reaches the ReserveNow's URL.
    status, reserve = await admin(
        http,
        emu,
        "POST",
        "ocpi/commands/RESERVE_NOW",
        {"location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-2", "reservation_id": "R-1"},
    )
    assert status == 201 and reserve["state"] == "WAITING", reserve
    await clock(emu).advance(5)
    _, sessions = await admin(http, emu, "GET", "ocpi/sessions")
    assert "RESERVATION" in {s["object"]["status"] for s in sessions}
    status, _ = await admin(
        http, emu, "POST", "ocpi/commands/CANCEL_RESERVATION", {"reservation_id": "R-1"}
    )
    await clock(emu).advance(70)
    _, commands = await admin(http, emu, "GET", "ocpi/commands")
    [reserved] = [c for c in commands if c["id"] == reserve["id"]]
    assert reserved["state"] == "RESERVATION_CANCELED_RESERVATION"
    # The Tokens Receiver: PUT, GET, PATCH valid=false, GET.
    status, check = await admin(http, emu, "POST", "ocpi/tokens/check", {})
    assert status == 200 and [s["ok"] for s in check["steps"]] == [True] * 4, check
    assert emu.rt.findings.list() == []


@pytest.mark.parametrize("direction", ["cpo->emu", "emu->cpo"])
async def test_emsp_profile_with_the_simulated_cpo(pair, http, direction: str) -> None:
    emu, cpo = await pair(
        emulator={"profile": "emsp", **FAST}, auto_plug_in_delay=5, session_patch_interval=300
    )
    sender, receiver = (cpo, emu) if direction == "cpo->emu" else (emu, cpo)
    _, minted = await admin(http, receiver, "POST", "tokens-a", {"label": "e2e"})
    # No version asked for: the highest mutual one is 2.2.1 (the profile offers no 2.3.0).
    status, body = await admin(
        http,
        sender,
        "POST",
        "platforms/register",
        {"versions_url": minted["versions_url"], "token": minted["token"]},
    )
    assert status == 201 and body["version"] == "2.2.1", body
    [seen_by_cpo] = cpo.platforms.registered()
    assert [r["role"] for r in seen_by_cpo.roles] == ["EMSP"]
    await clock(emu).advance(1)
    assert emu.ptp.payments.terminals()[0]["push_state"] == "NO_ENDPOINT"  # no Payments
    await journey(http, emu)
    _, cdrs = await admin(http, emu, "GET", "ocpi/cdrs")
    assert len(cdrs) == 1 and "excl_vat" in cdrs[0]["object"]["total_cost"]  # 2.2.1 Price
    assert emu.rt.findings.list() == []


async def terminal(http: aiohttp.ClientSession, emu: EmulatorNode, action: str = "", **body: Any):
    """GET the terminal APO-0001 (its screen), or POST an action to it; a screensaver is
    woken first."""
    if not action:
        _, found = await admin(http, emu, "GET", "terminals/APO-0001")
        return found["screen"]
    if body.get("key") not in (None, "touch") and (await terminal(http, emu))["type"] == (
        "screensaver"
    ):
        await terminal(http, emu, "press", key="touch")
    status, answer = await admin(http, emu, "POST", f"terminals/APO-0001/{action}", body)
    assert status == 200, answer
    return await terminal(http, emu)


@pytest.mark.parametrize("version", ["2.3.0", "2.2.1"])
@pytest.mark.parametrize("direction", ["cpo->emu", "emu->cpo"])
async def test_a_correct_cpo_passes_the_whole_card_journey(
    pair, http, direction: str, version: str
) -> None:
    """The driver's journey on the emulator's terminal against the simulated CPO with preset
    ``correct``: the emulator's report, strict (warnings fail too), is PASS on both axes."""
    emu, cpo = await pair(
        {"strict": True}, invoicing=True, auto_plug_in_delay=10, session_patch_interval=300
    )
    await register(http, emu, cpo, direction, version)
    # The terminal push, the CPO's assignment (on 2.2.1 too: Payter's "Direct Payment
    # 2.2.1"), the first crawl.
    await clock(emu).advance(5)
    assert (await terminal(http, emu))["id"] == "journey.home"
    await terminal(http, emu, "press", key="start")
    assert (await terminal(http, emu, "press", key="evse1"))["id"] == "journey.tariff"
    await terminal(http, emu, "press", key="accept")
    await terminal(http, emu, "present-card", card="visa-approved")
    await clock(emu).advance(15)  # CommandResult, the car, the Session
    await clock(emu).advance(1800)
    await terminal(http, emu, "press", key="stop")
    await terminal(http, emu, "present-card", card="visa-approved")  # the card used
    await terminal(http, emu, "press", key="yes")
    await clock(emu).advance(60)
    _, [journey] = await admin(http, emu, "GET", "journeys")
    assert journey["state"] == "COMPLETED" and journey["money"] == "CAPTURED", journey
    assert journey["capture_status"] == "SUCCESS"
    assert journey["captured_amount"] == journey["cdr_total"] > 0
    assert journey["fac_delivered"] is True
    # The FAC in the negotiated version's Price shape.
    [fac] = cpo.backend.facs.rows()
    price_keys = {"2.3.0": {"before_taxes", "taxes"}, "2.2.1": {"excl_vat", "incl_vat"}}
    assert set(fac["object"]["total_costs"]) == price_keys[version]
    _, report = await admin(http, emu, "GET", "report")
    assert report["verdict"] == "PASS", emu.rt.findings.list()
    # The report says which Payments variant ran.
    [platform] = report["platforms"]
    assert (platform["version"], platform["payments"]["variant"]) == (version, version)
    for axis in ("spec", "payter"):
        part = report["axes"][axis]
        assert (part["verdict"], part["errors"], part["warnings"]) == ("PASS", 0, 0), part


async def test_a_2_2_1_cpo_without_payments(pair, http) -> None:
    """A 2.2.1 CPO that lists no payments module: no Payments (terminals assigned by hand, no
    FAC), PAYTER-01 says Payter needs it, and the report says no Payments ran."""
    emu, cpo = await pair(payments_versions="2.3.0")
    await register(http, emu, cpo, "emu->cpo", "2.2.1")
    await clock(emu).advance(5)
    [row] = emu.ptp.payments.terminals()
    assert row["push_state"] == "NO_ENDPOINT" and cpo.backend.terminals.rows() == []
    [finding] = emu.rt.findings.list(rule="PAYTER-01")
    assert "payments (RECEIVER)" in finding["message"]
    _, report = await admin(http, emu, "GET", "report")
    assert report["platforms"][0]["payments"]["variant"] is None
    text = await _text_report(http, emu)
    assert "Platform 1 (OCPI 2.2.1): no Payments" in text


async def _text_report(http: aiohttp.ClientSession, emu: EmulatorNode) -> str:
    async with http.get(f"{emu.rt.base_url}/__admin/report?format=text") as resp:
        return await resp.text()
