"""The driver's journey end to end: the emulator's terminal against the simulated CPO, over
real HTTP on loopback, both on one manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from helpers import admin, clock_of, make_settings, sim_settings

from emulator.app import EmulatorNode, build_emulator
from emulator.cpo_sim.node import CpoSimNode, build_cpo_sim

SERIAL = "APO-0001"


@pytest.fixture
async def pair() -> AsyncIterator[Callable[..., Any]]:
    started: list[Any] = []

    async def start(**sim: Any) -> tuple[EmulatorNode, CpoSimNode]:
        emu = build_emulator(make_settings())
        cpo = build_cpo_sim(sim_settings(**sim), clock=emu.rt.clock)
        await emu.start()
        await cpo.start()
        started.extend([cpo, emu])
        return emu, cpo

    yield start
    for node in started:
        await node.stop()


class Driver:
    def __init__(self, emu: EmulatorNode, cpo: CpoSimNode, http: Any) -> None:
        self.emu, self.cpo, self.http = emu, cpo, http

    async def screen(self) -> dict[str, Any]:
        _, terminal = await admin(self.http, self.emu, "GET", f"terminals/{SERIAL}")
        return terminal["screen"]

    async def press(self, key: str) -> dict[str, Any]:
        """Press ``key``; a screensaver on the display is woken with a touch first."""
        if key != "touch" and (await self.screen())["type"] == "screensaver":
            await self.press("touch")
        status, body = await admin(
            self.http, self.emu, "POST", f"terminals/{SERIAL}/press", json={"key": key}
        )
        assert status == 200, body
        return await self.screen()

    async def tap(self, card: str) -> dict[str, Any]:
        status, body = await admin(
            self.http, self.emu, "POST", f"terminals/{SERIAL}/present-card", json={"card": card}
        )
        assert status == 200, body
        return await self.screen()

    async def advance(self, seconds: float) -> None:
        await clock_of(self.emu).advance(seconds)

    def journeys(self) -> list[dict[str, Any]]:
        return [self.emu.journey.view(r) for r in self.emu.journey.records.all()]

    def journey(self) -> dict[str, Any]:
        return self.journeys()[-1]

    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.emu.rt.findings.list() if f["severity"] == "error"]

    async def start_charging(self, card: str = "visa-approved") -> None:
        assert (await self.screen())["id"] == "journey.home"
        choose = await self.press("start")
        assert choose["keys"][0] == "evse1", choose
        tariff = await self.press("evse1")
        assert tariff["id"] == "journey.tariff", tariff
        await self.press("accept")
        await self.tap(card)


def rules(d: Driver) -> dict[str, str]:
    """Rule → severity of everything the emulator found."""
    found: dict[str, set[str]] = {}
    for f in d.emu.rt.findings.list():
        found.setdefault(f["rule"], set()).add(f["severity"])
    assert all(len(s) == 1 for s in found.values()), found
    return {rule: severities.pop() for rule, severities in found.items()}


async def connected(pair: Callable[..., Any], http: Any, **sim: Any) -> Driver:
    emu, cpo = await pair(**sim)
    status, body = await admin(
        http,
        emu,
        "POST",
        "platforms/register",
        json={
            "versions_url": cpo.server.versions_url,
            "token": "cpo-sim-token-a",
            "version": "2.3.0",
        },
    )
    assert status == 201, body
    driver = Driver(emu, cpo, http)
    # The terminal went to the CPO at registration; the CPO assigns it a moment later, and
    # the emulator's first crawl of Locations and Tariffs runs on the clock.
    await driver.advance(5)
    assert emu.ptp.payments.terminals()[0]["object"].get("location_ids"), "not assigned"
    assert (await driver.screen())["id"] == "journey.home"
    return driver


async def test_full_journey_against_the_simulated_cpo(pair, http) -> None:
    d = await connected(
        pair, http, invoicing=True, auto_plug_in_delay=10, session_patch_interval=300
    )
    await d.start_charging("visa-approved")
    assert d.journey()["money"] == "AUTHORIZED" and d.journey()["state"] == "STARTING"
    await d.advance(3)  # the charger's CommandResult comes after 2 s
    assert (await d.screen())["properties"]["title"] == "Charging started"
    await d.advance(15)  # the car is plugged in: the Session arrives
    assert d.journey()["state"] == "CHARGING"
    await d.advance(1800)
    journey = d.journey()
    assert journey["kwh"] > 5 and journey["session_cost"] > 0
    # The driver stops on the terminal, with the card used.
    stop = await d.press("stop")
    assert stop["id"] == "journey.stop"
    assert (await d.tap("visa-approved"))["id"] == "journey.stop_confirm"
    await d.press("yes")
    await d.advance(5)
    assert (await d.screen())["properties"]["title"] == "Charging stopped"
    await d.advance(60)
    journey = d.journey()
    assert journey["state"] == "COMPLETED", journey
    assert journey["money"] == "CAPTURED" and journey["capture_status"] == "SUCCESS"
    assert journey["captured_amount"] == journey["cdr_total"] > 0
    assert journey["invoice_reference_id"] and journey["fac_delivered"] is True
    # The CPO holds a FAC with the same authorization_reference and the captured amount.
    _, facs = await admin(http, d.cpo, "GET", "financial-advice-confirmations")
    [fac] = facs
    fac_obj = fac.get("object", fac)
    assert fac_obj["authorization_reference"] == journey["authorization_reference"]
    total = fac_obj["total_costs"]
    captured = float(total["before_taxes"]) + sum(float(t["amount"]) for t in total["taxes"])
    assert round(captured * 100) == journey["captured_amount"]
    # Nothing at all to report about a correct CPO (warnings included).
    assert d.emu.rt.findings.list() == [], d.emu.rt.findings.list()
    # The receipt shows the invoice QR (the CPO invoices: invoice_base_url + reference).
    await d.advance(10)
    await d.press("receipt")
    receipt = await d.press("r1")
    assert receipt["properties"]["qr"].endswith(journey["authorization_reference"])


async def test_start_rejected_by_the_cpo(pair, http) -> None:
    d = await connected(pair, http, preset="reject-start")
    await d.start_charging()
    journey = d.journey()
    assert journey["state"] == "START_FAILED" and journey["money"] == "VOIDED"
    assert (await d.screen())["properties"]["title"] == "Could not start"
    # Legal, but the EVSE is AVAILABLE in the CPO's own Locations: noted.
    assert rules(d) == {"OCPI-55": "info"}


async def test_no_session_after_accept(pair, http) -> None:
    d = await connected(pair, http, preset="no-session-after-accept")
    await d.start_charging()
    await d.advance(3)
    assert d.journey()["state"] == "STARTED"
    await d.advance(300)
    assert d.journey()["money"] == "VOIDED"
    # Legal by the spec's own diagram (the EV was never plugged in): one finding, an info;
    # the money is released.
    assert rules(d) == {"OCPI-46": "info"}


async def test_cdr_over_authorization(pair, http) -> None:
    d = await connected(
        pair,
        http,
        preset="cdr-over-authorization",
        auto_plug_in_delay=5,
        session_patch_interval=600,
        car_battery_kwh=200,
        car_soc=0,
        charger_power_kw=150,
        car_max_power_kw=150,
    )
    await d.start_charging()
    await d.advance(5 * 3600)  # 22 kW AC: the €50 pre-authorization is used up after ~4 h
    journey = d.journey()
    # The emulator stopped the session at the limit; the CPO billed above it anyway.
    assert journey["stop_reason"] == "pre-authorized amount reached"
    await d.advance(600)
    journey = d.journey()
    assert journey["money"] == "CAPTURED", journey
    assert journey["cdr_total"] > journey["preauthorized_amount"]
    assert journey["captured_amount"] == journey["preauthorized_amount"]
    assert journey["capture_status"] == "PARTIAL_SUCCESS"
    # Payter's view (captured less than billed) and the spec's (the CPO should have stopped
    # at the limit).
    assert rules(d) == {"PAYTER-06": "warning", "OCPI-58": "info"}


async def test_cdr_without_invoice_reference_although_the_cpo_invoices(pair, http) -> None:
    d = await connected(
        pair, http, invoicing=True, auto_plug_in_delay=10, session_patch_interval=300
    )
    [terminal] = d.emu.ptp.payments.terminals()
    assert terminal["object"]["invoice_creator"] == "CPO"
    await d.start_charging()
    await d.advance(20)
    assert d.journey()["state"] == "CHARGING"
    d.cpo.backend.settings.invoicing = False  # the CPO's billing forgets the invoice
    await d.advance(600)
    await d.press("stop")
    await d.tap("visa-approved")
    await d.press("yes")
    await d.advance(60)
    journey = d.journey()
    assert journey["money"] == "CAPTURED" and not journey["invoice_reference_id"]
    [finding] = d.emu.rt.findings.list(rule="OCPI-56")
    assert finding["severity"] == "error" and "no invoice_reference_id" in finding["message"]
    assert rules(d) == {"OCPI-56": "error"}


# --- error paths against the simulated CPO ------------------------------------------------------


def shown(d: Driver) -> list[str]:
    out = []
    for event in d.emu.rt.bus.recent(kinds={"terminal.screen"}):
        screen = event.data["screen"]
        title = screen["properties"].get("title")
        out.append(f"{screen['id']}:{title}" if screen["id"] == "journey.notice" else screen["id"])
    return out


async def cpo_commands(d: Driver) -> list[str]:
    status, rows = await admin(d.http, d.cpo, "GET", "commands")
    assert status == 200, rows
    return [r.get("command") or r.get("object", {}).get("command") for r in rows]


async def test_declined_card_sends_nothing_to_the_cpo(pair, http) -> None:
    d = await connected(pair, http)
    await d.start_charging("visa-declined")
    await d.advance(3)
    declined, retry = d.journeys()
    assert (declined["state"], declined["money"]) == ("DECLINED", "NONE")
    assert retry["state"] == "PRESENTING"  # "Try another card" reads the next card
    assert shown(d)[-2:] == ["journey.notice:Declined", "payter.present_card"]
    assert await cpo_commands(d) == []
    assert rules(d) == {}


async def test_card_timeout(pair, http) -> None:
    d = await connected(pair, http)
    await d.press("start")
    await d.press("evse1")
    await d.press("accept")
    await d.advance(63)
    journey = d.journey()
    assert (journey["state"], journey["money"]) == ("CARD_TIMEOUT", "NONE")
    assert shown(d)[-2:] == ["journey.notice:Timed out", "journey.home"]
    assert await cpo_commands(d) == []
    assert rules(d) == {}


async def test_command_result_after_its_timeout(pair, http) -> None:
    d = await connected(pair, http, preset="late-result")
    await d.start_charging()
    await d.advance(40)  # the CPO announced 30 s; the grace is 5 s
    journey = d.journey()
    assert (journey["state"], journey["reason"], journey["money"]) == (
        "START_FAILED",
        "NO_RESULT",
        "VOIDED",
    )
    assert "journey.notice:Could not start" in shown(d)
    await d.advance(60)  # the late result changes nothing
    assert d.journey()["money"] == "VOIDED"
    # One late result, one finding: an info (a result "might never be send").
    assert rules(d) == {"OCPI-43c": "info"}
    assert [s["state"] for s in d.emu.terminals.sessions(SERIAL)] == ["CANCELLED"]


async def test_evse_out_of_order_while_the_card_is_presented(pair, http) -> None:
    d = await connected(pair, http)
    await d.press("start")
    await d.press("evse1")
    await d.press("accept")
    status, _ = await admin(http, d.cpo, "POST", "evses/SIM-AMS-1/out-of-order")
    assert status == 200
    await d.advance(0)  # the CPO's status PATCH reaches the emulator
    screen = await d.tap("visa-approved")
    assert screen["properties"]["title"] == "Could not start"
    journey = d.journey()
    assert (journey["state"], journey["reason"], journey["money"]) == (
        "START_FAILED",
        "EVSE_UNAVAILABLE",
        "VOIDED",
    )
    assert await cpo_commands(d) == [] and rules(d) == {}


async def test_evse_out_of_order_while_charging_is_billed_from_its_cdr(pair, http) -> None:
    d = await connected(pair, http, session_patch_interval=300)
    await d.start_charging()
    await d.advance(3)
    status, _ = await admin(http, d.cpo, "POST", "evses/SIM-AMS-1/plug-in", json={})
    assert status == 200
    await d.advance(1800)
    assert d.journey()["state"] == "CHARGING"
    await admin(http, d.cpo, "POST", "evses/SIM-AMS-1/out-of-order")
    await d.advance(5)
    journey = d.journey()
    assert (journey["state"], journey["money"]) == ("COMPLETED", "CAPTURED")
    assert journey["captured_amount"] == journey["cdr_total"] > 0
    assert await cpo_commands(d) == ["START_SESSION"] and rules(d) == {}


async def test_terminal_offline_during_the_capture(pair, http) -> None:
    d = await connected(pair, http, session_patch_interval=300, invoicing=True)
    await d.start_charging()
    await d.advance(3)
    await admin(http, d.cpo, "POST", "evses/SIM-AMS-1/plug-in", json={})
    await d.advance(600)
    await admin(http, d.emu, "POST", f"terminals/{SERIAL}/offline")
    session_id = d.journey()["session_id"]
    status, _ = await admin(http, d.cpo, "POST", f"sessions/{session_id}/stop")
    assert status == 200
    await d.advance(5)
    journey = d.journey()
    assert (journey["state"], journey["money"]) == ("CAPTURING", "CAPTURE_QUEUED")
    _, facs = await admin(http, d.cpo, "GET", "financial-advice-confirmations")
    assert facs == []
    await admin(http, d.emu, "POST", f"terminals/{SERIAL}/online")
    await d.advance(1)
    journey = d.journey()
    assert (journey["money"], journey["captured_amount"]) == ("CAPTURED", journey["cdr_total"])
    assert journey["fac_delivered"] is True
    _, facs = await admin(http, d.cpo, "GET", "financial-advice-confirmations")
    assert len(facs) == 1 and rules(d) == {}
