"""Commands, Sessions and CDRs of the simulated CPO against a PTP double (mod_commands,
mod_sessions, mod_cdrs; checklist 5.4, 5.5)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from helpers import clock_of
from ptp_double import PtpDouble

from emulator.cpo_sim.node import CpoSimNode
from emulator.ocpi.pricing import check_cdr_totals

CENT = Decimal("0.01")
START = {
    "location_id": "SIM-AMS-STATION",
    "evse_uid": "SIM-AMS-1",
    "connector_id": "1",
    "authorization_reference": "AUTH-0001",
}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def volumes(periods: list[dict[str, Any]], kind: str) -> Decimal:
    return sum(
        (Decimal(str(d["volume"])) for p in periods for d in p["dimensions"] if d["type"] == kind),
        Decimal(0),
    )


def incl(price: dict[str, Any]) -> Decimal:
    return Decimal(str(price["before_taxes"])) + sum(
        (Decimal(str(t["amount"])) for t in price.get("taxes") or []), Decimal(0)
    )


async def start_session(sim: CpoSimNode, ptp: PtpDouble, **extra: Any) -> tuple[str, str]:
    """START_SESSION with the car already plugged in; returns (result key, session id)."""
    await sim.backend.chargers.plug_in(extra.pop("evse_uid", START["evse_uid"]))
    status, env, key = await ptp.command("START_SESSION", {"token": ptp.token(), **START, **extra})
    assert status == 200 and env["status_code"] == 1000, env
    await clock_of(sim).advance(2)
    [session_id] = list(ptp.sessions)
    return key, session_id


async def test_start_session_accepted_then_result_then_session(
    sim: CpoSimNode, ptp: PtpDouble
) -> None:
    status, env, key = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    # Synchronous CommandResponse with a timeout (checklist 5.5 #42).
    assert status == 200 and env["status_code"] == 1000
    assert env["data"] == {"result": "ACCEPTED", "timeout": 30}
    assert ptp.results == {}
    await clock_of(sim).advance(2)
    # The CommandResult goes to exactly the response_url (checklist 5.5 #43).
    assert ptp.results[key] == [{"result": "ACCEPTED"}]
    [post] = ptp.received("POST", f"/results/{key}")
    assert post.headers["Authorization"].startswith("Token ")
    assert post.headers["OCPI-to-party-id"] == "PAY"
    # No car yet: no session.
    assert ptp.sessions == {}
    await sim.backend.chargers.plug_in("SIM-AMS-1", soc=50.0)
    [(session_id, session)] = ptp.sessions.items()
    assert session["status"] == "ACTIVE" and session["auth_method"] == "COMMAND"
    assert session["authorization_reference"] == "AUTH-0001"
    token = ptp.token()
    # The cdr_token echoes the START_SESSION token (checklist 5.4 #35).
    assert session["cdr_token"] == {
        k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
    }
    assert (session["location_id"], session["evse_uid"], session["connector_id"]) == (
        "SIM-AMS-STATION",
        "SIM-AMS-1",
        "1",
    )
    assert session["start_date_time"] == "2025-03-01T09:00:02Z"
    assert session["total_cost"]["before_taxes"] == 0.5  # the start fee
    # The EVSE status went to every Locations Receiver, with last_updated.
    [patch] = ptp.received("PATCH", "/locations/NL/SIM/SIM-AMS-STATION/SIM-AMS-1")
    assert patch.body == {"status": "CHARGING", "last_updated": "2025-03-01T09:00:02Z"}
    assert session_id in sim.backend.runs


async def test_session_patches_grow_and_cdr_adds_up(sim: CpoSimNode, ptp: PtpDouble) -> None:
    _key, session_id = await start_session(sim, ptp)
    clock = clock_of(sim)
    kwh_seen = []
    for _ in range(4):
        await clock.advance(600)
        kwh_seen.append(Decimal(str(ptp.sessions[session_id]["kwh"])))
    # 22 kW (the connector) for 40 minutes, reported every 60 s.
    assert kwh_seen == sorted(kwh_seen) and kwh_seen[0] > 0
    assert kwh_seen[-1] == Decimal("14.666")
    patches = ptp.received("PATCH", f"/sessions/NL/SIM/{session_id}")
    assert len(patches) == 40
    assert all("last_updated" in p.body and "kwh" in p.body for p in patches)
    session = ptp.sessions[session_id]
    # PATCH appends charging periods: the PTP's copy has them all, in order.
    periods = session["charging_periods"]
    assert len(periods) == 40
    assert [p["start_date_time"] for p in periods] == sorted(p["start_date_time"] for p in periods)
    assert volumes(periods, "ENERGY") == Decimal(str(session["kwh"]))
    # STOP_SESSION from the PTP.
    _status, env, stop_key = await ptp.command("STOP_SESSION", {"session_id": session_id})
    assert env["data"] == {"result": "ACCEPTED", "timeout": 30}
    await clock.advance(2)
    assert ptp.results[stop_key] == [{"result": "ACCEPTED"}]
    assert ptp.sessions[session_id]["status"] == "COMPLETED"
    assert ptp.sessions[session_id]["end_date_time"] == "2025-03-01T09:40:04Z"
    [cdr] = ptp.cdrs
    assert cdr["session_id"] == session_id and cdr["authorization_reference"] == "AUTH-0001"
    assert cdr["cdr_token"] == session["cdr_token"] and cdr["auth_method"] == "COMMAND"
    assert cdr["cdr_location"]["evse_uid"] == "SIM-AMS-1"
    assert cdr["cdr_location"]["connector_standard"] == "IEC_62196_T2"
    assert [t["id"] for t in cdr["tariffs"]] == ["SIM-AC-CARD"]
    assert "invoice_reference_id" not in cdr
    # The CDR's totals add up under the tariff (checklist 5.4 #38).
    energy = Decimal(str(cdr["total_energy"]))
    charging = volumes(cdr["charging_periods"], "TIME")
    assert energy == volumes(cdr["charging_periods"], "ENERGY") == Decimal("14.678")
    assert Decimal(str(cdr["total_time"])) == Decimal("0.6672")  # 40 min 2 s
    assert charging == Decimal("0.6672")
    assert "total_parking_time" not in cdr
    fixed = Decimal("0.50")
    energy_cost = cents(Decimal("0.45") * energy)
    time_cost = cents(Decimal("0.60") * charging)
    assert Decimal(str(cdr["total_fixed_cost"]["before_taxes"])) == fixed
    assert Decimal(str(cdr["total_energy_cost"]["before_taxes"])) == energy_cost
    assert Decimal(str(cdr["total_time_cost"]["before_taxes"])) == time_cost
    before = Decimal(str(cdr["total_cost"]["before_taxes"]))
    assert before == fixed + energy_cost + time_cost
    [vat] = cdr["total_cost"]["taxes"]
    assert vat["name"] == "VAT" and vat["percentage"] == 21
    parts = ("total_fixed_cost", "total_energy_cost", "total_time_cost")
    assert Decimal(str(vat["amount"])) == sum(
        (Decimal(str(cdr[p]["taxes"][0]["amount"])) for p in parts), Decimal(0)
    )
    # The emulator's own CDR arithmetic agrees (emulator.ocpi.pricing).
    assert check_cdr_totals(cdr, version="2.3.0", time_zone="Europe/Amsterdam") == []
    assert incl(cdr["total_cost"]) == sum((incl(cdr[p]) for p in parts), Decimal(0))
    # The last PATCH and the CDR agree.
    assert incl(ptp.sessions[session_id]["total_cost"]) == incl(cdr["total_cost"])
    # The CDR is POSTed once; the CPO keeps the receiver's Location.
    [row] = sim.backend.cdrs.rows()
    assert row["delivery"]["location"].endswith(f"/cdrs/{cdr['id']}")
    assert row["delivery"]["http_status"] == 201
    # The EVSE stays in use until the car is unplugged.
    assert sim.backend.evse("SIM-AMS-1").status() == "CHARGING"
    await sim.backend.chargers.unplug("SIM-AMS-1")
    last = ptp.received("PATCH", "/locations/")[-1]
    assert last.body["status"] == "AVAILABLE"


async def test_car_full_starts_a_parking_period(sim: CpoSimNode, ptp: PtpDouble) -> None:
    await sim.backend.chargers.plug_in("SIM-AMS-1", battery_kwh=10.0, soc=90.0)
    _, _env, _ = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    clock = clock_of(sim)
    await clock.advance(2)
    [session_id] = ptp.sessions
    await clock.advance(3600)
    # 1 kWh with the taper above 80 %, then the car stands full.
    await sim.backend.charging.end_session(session_id, "test")
    [cdr] = ptp.cdrs
    kinds = [[d["type"] for d in p["dimensions"]] for p in cdr["charging_periods"]]
    assert kinds == [["ENERGY", "TIME", "MAX_POWER"], ["PARKING_TIME"]]
    assert Decimal(str(cdr["total_energy"])) == Decimal("1.000")
    parking = Decimal(str(cdr["total_parking_time"]))
    time = volumes(cdr["charging_periods"], "TIME")
    assert abs(time + parking - Decimal(str(cdr["total_time"]))) <= Decimal("0.0001")
    assert Decimal(str(cdr["total_parking_cost"]["before_taxes"])) == cents(Decimal(3) * parking)
    assert check_cdr_totals(cdr, version="2.3.0", time_zone="Europe/Amsterdam") == []
    # Session-only dimensions stay out of the CDR (mod_cdrs, CdrDimensionType).
    session_kinds = {
        d["type"] for p in ptp.sessions[session_id]["charging_periods"] for d in p["dimensions"]
    }
    assert {"STATE_OF_CHARGE", "POWER"} <= session_kinds
    assert not {"STATE_OF_CHARGE", "POWER"} & {t for k in kinds for t in k}


async def test_card_session_stops_at_the_preauthorized_amount(
    sim: CpoSimNode, ptp: PtpDouble
) -> None:
    await sim.backend.chargers.plug_in("SIM-AMS-1", battery_kwh=200.0, soc=0.0)
    await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    clock = clock_of(sim)
    await clock.advance(2)
    await clock.advance(6 * 3600)
    [cdr] = ptp.cdrs
    # preauthorize_amount of SIM-AC-CARD is 50.00 (checklist 5.7 #58).
    total = incl(cdr["total_cost"])
    assert Decimal("49") < total <= Decimal("50.00")
    [session] = ptp.sessions.values()
    assert session["status"] == "COMPLETED"


async def test_unknown_location_unknown_session_connector_required(
    sim: CpoSimNode, ptp: PtpDouble
) -> None:
    status, env, _key = await ptp.command(
        "START_SESSION", {"token": ptp.token(), "location_id": "NOPE"}
    )
    # 2003 with REJECTED (mod_commands; checklist 5.5 #42), HTTP 200.
    assert status == 200 and env["status_code"] == 2003
    assert env["data"]["result"] == "REJECTED" and env["data"]["timeout"] == 30
    status, env, _ = await ptp.command(
        "START_SESSION",
        {"token": ptp.token(), "location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-3"},
    )
    assert env["status_code"] == 1000 and env["data"]["result"] == "REJECTED"
    assert "connector_id" in env["data"]["message"][0]["text"]
    status, env, _ = await ptp.command(
        "START_SESSION",
        {"token": ptp.token(), "location_id": "SIM-AMS-STATION", "connector_id": "1"},
    )
    assert env["status_code"] == 2001 and env["data"]["result"] == "REJECTED"
    status, env, _ = await ptp.command("STOP_SESSION", {"session_id": "no-such-session"})
    assert env["data"]["result"] == "UNKNOWN_SESSION"
    status, env, _ = await ptp.command(
        "START_SESSION", {"token": ptp.token(), "location_id": "SIM-DH-DEPOT"}
    )
    assert env["data"]["result"] == "ACCEPTED"  # the CPO picks an EVSE
    await clock_of(sim).advance(200)
    # No CommandResult after REJECTED (checklist 5.5 #43).
    assert list(ptp.results) == [str(5)]
    # Case-insensitive ids (CiString).
    status, env, _ = await ptp.command(
        "START_SESSION",
        {
            "token": ptp.token(),
            "location_id": "sim-ams-station",
            "evse_uid": "sim-ams-3",
            "connector_id": "2",
        },
    )
    assert env["data"]["result"] == "ACCEPTED"
    # Malformed body: 2001.
    status, env, _ = await ptp.command("START_SESSION", {"location_id": "SIM-AMS-STATION"})
    assert env["status_code"] == 2001


async def test_start_without_a_car_lapses_without_session(sim: CpoSimNode, ptp: PtpDouble) -> None:
    _, _env, key = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    clock = clock_of(sim)
    await clock.advance(2)
    assert ptp.results[key] == [{"result": "ACCEPTED"}]
    await clock.advance(120)
    # Accepted, the EV never came: no Session (mod_commands sequence), and the EVSE is free.
    assert ptp.sessions == {}
    assert sim.backend.evse("SIM-AMS-1").waiting_start is None
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    assert ptp.sessions == {}


async def test_simulated_driver_plugs_in_and_leaves(start_sim, ptp_factory) -> None:
    sim = await start_sim(auto_plug_in_delay=5)
    ptp = await ptp_factory(sim)
    await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    clock = clock_of(sim)
    await clock.advance(2 + 5)  # the CommandResult, then the driver
    [session_id] = ptp.sessions
    await clock.advance(600)
    await ptp.command("STOP_SESSION", {"session_id": session_id})
    await clock.advance(10)
    assert ptp.cdrs and sim.backend.evse("SIM-AMS-1").status() == "AVAILABLE"
    statuses = [s.body["status"] for s in ptp.received("PATCH", "/locations/")]
    assert statuses == ["CHARGING", "AVAILABLE"]


async def test_a_car_plugged_in_by_hand_leaves_after_its_session_too(
    start_sim, ptp_factory
) -> None:
    """The demo's presenter plugs the car in before starting: once the session is over the
    simulated driver takes it away, and the charger is free for the next start."""
    sim = await start_sim(auto_plug_in_delay=5)
    ptp = await ptp_factory(sim)
    clock = clock_of(sim)
    for round_ in range(2):  # repeatable
        await sim.backend.chargers.plug_in("SIM-AMS-1")
        await ptp.command("START_SESSION", {"token": ptp.token(f"PAY-TX-{round_}"), **START})
        await clock.advance(2)
        session_id = sim.backend.evse("SIM-AMS-1").session_id
        assert session_id is not None
        await clock.advance(600)
        await ptp.command("STOP_SESSION", {"session_id": session_id})
        await clock.advance(10)
        evse = sim.backend.evse("SIM-AMS-1")
        assert (evse.status(), evse.car, evse.session_id) == ("AVAILABLE", None, None)
    assert len(ptp.cdrs) == 2


async def test_second_start_on_busy_evse_is_occupied(sim: CpoSimNode, ptp: PtpDouble) -> None:
    await start_session(sim, ptp)
    _, env, key = await ptp.command("START_SESSION", {"token": ptp.token("PAY-TX-2"), **START})
    assert env["data"]["result"] == "ACCEPTED"
    await clock_of(sim).advance(2)
    assert ptp.results[key] == [{"result": "EVSE_OCCUPIED"}]


async def test_faults(sim: CpoSimNode, ptp: PtpDouble) -> None:
    _key, session_id = await start_session(sim, ptp)
    clock = clock_of(sim)
    await clock.advance(300)
    before = len(ptp.received("PATCH", "/sessions/"))
    await sim.backend.chargers.set_fault("SIM-AMS-1", "offline")
    assert ptp.received("PATCH", "/locations/")[-1].body["status"] == "UNKNOWN"
    await clock.advance(300)
    # An offline charger reports nothing...
    assert len(ptp.received("PATCH", "/sessions/")) == before
    await sim.backend.chargers.set_fault("SIM-AMS-1", "repair")
    await clock.advance(60)
    # ... and catches up: the periods of the offline time arrive with the next PATCH.
    periods = ptp.sessions[session_id]["charging_periods"]
    assert volumes(periods, "ENERGY") == Decimal(str(ptp.sessions[session_id]["kwh"]))
    # Out of order ends the session (with its CDR) and is pushed.
    await sim.backend.chargers.set_fault("SIM-AMS-1", "out-of-order")
    assert ptp.sessions[session_id]["status"] == "COMPLETED" and len(ptp.cdrs) == 1
    assert ptp.received("PATCH", "/locations/")[-1].body["status"] == "OUTOFORDER"
    _, _env, key2 = await ptp.command("START_SESSION", {"token": ptp.token("PAY-TX-2"), **START})
    await clock.advance(2)
    assert ptp.results[key2] == [{"result": "EVSE_INOPERATIVE"}]


async def test_reservation_flow(sim: CpoSimNode, ptp: PtpDouble) -> None:
    clock = clock_of(sim)
    reserve = {
        "token": ptp.token(),
        "expiry_date": "2025-03-01T09:30:00Z",
        "reservation_id": "R-1",
        "location_id": "SIM-AMS-STATION",
        "evse_uid": "SIM-AMS-2",
        "authorization_reference": "AUTH-R1",
    }
    _, env, key = await ptp.command("RESERVE_NOW", reserve)
    assert env["data"]["result"] == "ACCEPTED"
    await clock.advance(2)
    assert ptp.results[key] == [{"result": "ACCEPTED"}]
    # A RESERVE_NOW creates a Session with status RESERVATION (checklist 5.5 #47).
    [(session_id, session)] = ptp.sessions.items()
    assert session["status"] == "RESERVATION" and session["evse_uid"] == "SIM-AMS-2"
    assert ptp.received("PATCH", "/locations/")[-1].body["status"] == "RESERVED"
    # Someone else's start on the reserved EVSE is refused by the charger.
    start = {**START, "evse_uid": "SIM-AMS-2"}
    _, _, other = await ptp.command("START_SESSION", {"token": ptp.token("OTHER"), **start})
    await clock.advance(2)
    assert ptp.results[other] == [{"result": "EVSE_OCCUPIED"}]
    # CANCEL_RESERVATION: its own result, and CANCELED_RESERVATION to the RESERVE_NOW's URL.
    _, env, cancel = await ptp.command("CANCEL_RESERVATION", {"reservation_id": "R-1"})
    await clock.advance(2)
    assert ptp.results[cancel] == [{"result": "ACCEPTED"}]
    assert ptp.results[key][-1] == {"result": "CANCELED_RESERVATION"}
    assert ptp.sessions[session_id]["status"] == "COMPLETED"
    assert sim.backend.evse("SIM-AMS-2").status() == "AVAILABLE"
    _, _, unknown = await ptp.command("CANCEL_RESERVATION", {"reservation_id": "R-9"})
    await clock.advance(2)
    assert ptp.results[unknown] == [{"result": "UNKNOWN_RESERVATION"}]
    # A reservation that leads to charging with the same token becomes ACTIVE.
    _, _, key = await ptp.command("RESERVE_NOW", {**reserve, "reservation_id": "R-2"})
    await clock.advance(2)
    reserved_id = next(i for i, s in ptp.sessions.items() if s["status"] == "RESERVATION")
    await sim.backend.chargers.plug_in("SIM-AMS-2")
    _, _, go = await ptp.command("START_SESSION", {"token": ptp.token(), **start})
    await clock.advance(2)
    assert ptp.results[go] == [{"result": "ACCEPTED"}]
    assert ptp.sessions[reserved_id]["status"] == "ACTIVE"
    assert ptp.sessions[reserved_id]["authorization_reference"] == "AUTH-0001"
    # An unused reservation expires and its session completes.
    _, _, _ = await ptp.command(
        "RESERVE_NOW", {**reserve, "reservation_id": "R-3", "evse_uid": "SIM-AMS-1"}
    )
    await clock.advance(2)
    expiring = next(i for i, s in ptp.sessions.items() if s["status"] == "RESERVATION")
    await clock.advance(1800)
    assert ptp.sessions[expiring]["status"] == "COMPLETED"
    assert sim.backend.evse("SIM-AMS-1").status() == "AVAILABLE"


async def test_unlock_connector(sim: CpoSimNode, ptp: PtpDouble) -> None:
    body = {"location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-1", "connector_id": "1"}
    _, env, key = await ptp.command("UNLOCK_CONNECTOR", body)
    assert env["data"]["result"] == "ACCEPTED"
    await clock_of(sim).advance(2)
    assert ptp.results[key] == [{"result": "ACCEPTED"}]
    _, env, _ = await ptp.command("UNLOCK_CONNECTOR", {**body, "evse_uid": "SIM-UTR-1"})
    assert env["data"]["result"] == "REJECTED"  # not at that location
    _, env, _ = await ptp.command(
        "UNLOCK_CONNECTOR",
        {"location_id": "SIM-UTR-GARAGE", "evse_uid": "SIM-UTR-1", "connector_id": "1"},
    )
    assert env["data"]["result"] == "NOT_SUPPORTED"  # no UNLOCK_CAPABLE
    _, env, _ = await ptp.command("UNLOCK_CONNECTOR", {**body, "location_id": "X"})
    assert env["status_code"] == 2003 and env["data"]["result"] == "REJECTED"
    _, env, _ = await ptp.command("NOT_A_COMMAND", {})
    assert env["data"]["result"] == "NOT_SUPPORTED"


async def test_peer_errors_do_not_break_the_cpo(sim: CpoSimNode, ptp: PtpDouble) -> None:
    ptp.fail = {"sessions": (500, 3000), "cdrs": (200, 2001), "locations": (404, 2000)}
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    _, _, key = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    await clock_of(sim).advance(2)
    assert ptp.results[key] == [{"result": "ACCEPTED"}]
    [session_id] = sim.backend.runs
    await clock_of(sim).advance(300)
    assert await sim.backend.charging.end_session(session_id, "test")
    row = sim.backend.sessions.rows()[0]
    assert row["status"] == "COMPLETED" and row["delivery"]["ok"] is False
    [cdr] = sim.backend.cdrs.rows()
    assert cdr["delivery"]["ocpi_status"] == 2001 and cdr["delivery"]["ok"] is False
    # A peer that is gone entirely.
    await ptp.stop()
    await sim.backend.chargers.plug_in("SIM-AMS-2")
    assert sim.backend.evse("SIM-AMS-2").status() == "AVAILABLE"
    await sim.backend.chargers.set_fault("SIM-AMS-2", "out-of-order")
    assert sim.backend.evse("SIM-AMS-2").status() == "OUTOFORDER"


async def test_reservation_rules(sim: CpoSimNode, ptp_factory) -> None:
    ptp = await ptp_factory(sim)
    clock = clock_of(sim)
    reserve = {
        "token": ptp.token(),
        "expiry_date": "2025-03-01T09:30:00Z",
        "reservation_id": "R-1",
        "location_id": "SIM-AMS-STATION",
        "evse_uid": "SIM-AMS-1",
        "authorization_reference": "AUTH-R1",
    }
    # An expiry that has passed cannot be reserved: refused at once, no CommandResult.
    _, env, past = await ptp.command(
        "RESERVE_NOW", {**reserve, "expiry_date": "2025-03-01T08:00:00Z"}
    )
    assert env["status_code"] == 2001 and env["data"]["result"] == "REJECTED"
    _, _, key = await ptp.command("RESERVE_NOW", reserve)
    await clock.advance(2)
    assert past not in ptp.results and ptp.results[key] == [{"result": "ACCEPTED"}]
    [session_id] = ptp.sessions
    # The same reservation_id at the same location replaces it: another EVSE, a new
    # authorization_reference; the Session follows.
    _, _, again = await ptp.command(
        "RESERVE_NOW", {**reserve, "evse_uid": "SIM-AMS-2", "authorization_reference": "AUTH-R2"}
    )
    await clock.advance(2)
    assert ptp.results[again] == [{"result": "ACCEPTED"}]
    assert list(ptp.sessions) == [session_id]
    session = ptp.sessions[session_id]
    assert (session["evse_uid"], session["authorization_reference"]) == ("SIM-AMS-2", "AUTH-R2")
    assert sim.backend.evse("SIM-AMS-1").status() == "AVAILABLE"
    assert sim.backend.evse("SIM-AMS-2").status() == "RESERVED"
    # Reservation ids are the eMSP's own: another platform's R-1 is another reservation.
    minted = sim.platforms.mint_token_a("other")
    other = await ptp_factory(sim, with_token_a=minted, party_id="OTH")
    _, _, theirs = await other.command("RESERVE_NOW", {**reserve, "token": other.token()})
    await clock.advance(2)
    assert other.results[theirs] == [{"result": "ACCEPTED"}]
    assert sim.backend.evse("SIM-AMS-1").status() == "RESERVED"
    _, _, cancel = await other.command("CANCEL_RESERVATION", {"reservation_id": "R-1"})
    await clock.advance(2)
    assert other.results[cancel] == [{"result": "ACCEPTED"}]
    assert sim.backend.evse("SIM-AMS-1").status() == "AVAILABLE"
    assert sim.backend.evse("SIM-AMS-2").status() == "RESERVED"
    # The EVSE breaks: the CPO cancels the reservation itself, CANCELED_RESERVATION to the
    # RESERVE_NOW's response_url (checklist 5.5 #47), and the Session completes.
    await sim.backend.chargers.set_fault("SIM-AMS-2", "out-of-order")
    assert ptp.results[key] == [{"result": "ACCEPTED"}]
    assert ptp.results[again][-1]["result"] == "CANCELED_RESERVATION"
    assert ptp.sessions[session_id]["status"] == "COMPLETED"
    await sim.backend.chargers.set_fault("SIM-AMS-2", "repair")
    assert sim.backend.evse("SIM-AMS-2").status() == "AVAILABLE"


async def test_out_of_order_drops_a_start_waiting_for_its_car(
    sim: CpoSimNode, ptp: PtpDouble
) -> None:
    _, _, key = await ptp.command("START_SESSION", {"token": ptp.token(), **START})
    await clock_of(sim).advance(2)
    assert ptp.results[key] == [{"result": "ACCEPTED"}]
    await sim.backend.chargers.set_fault("SIM-AMS-1", "out-of-order")
    # A car that comes now finds a broken charger: no session.
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    assert ptp.sessions == {} and sim.backend.evse("SIM-AMS-1").waiting_start is None
