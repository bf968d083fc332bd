"""Charging sessions and their CDRs: a session's run on the clock, its bill, its end.

A part of :class:`emulator.cpo_sim.backend.CpoBackend` (``backend.charging``); the state it
works on is the backend's (``self.b``).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from emulator import logs
from emulator.cpo_sim import billing, catalog
from emulator.cpo_sim.charger import Evse, charge
from emulator.cpo_sim.runs import (
    PendingStart,
    SessionRun,
    _kw,
    _merge_cdr_period,
)
from emulator.ocpi.platforms import Platform
from emulator.ocpi.types import format_datetime

if TYPE_CHECKING:
    from emulator.cpo_sim.backend import CpoBackend

log = logs.get_logger("emulator.cpo_sim")


class Charging:
    def __init__(self, backend: CpoBackend) -> None:
        self.b = backend

    def _cdr_token(self, token: dict[str, Any]) -> dict[str, Any]:
        cdr_token = {
            k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
        }
        if self.b.presets.on("wrong-cdr-token"):
            # OCPI-35: the CPO's own card instead of the token of the START_SESSION.
            cdr_token.update(uid="SIMRFID0001", type="RFID", contract_id="NL-SIM-C00000001-X")
        return cdr_token

    def new_session(
        self,
        session_id: str,
        pending: PendingStart,
        evse_uid: str,
        connector_id: str,
        currency: str,
        *,
        status_value: str,
    ) -> dict[str, Any]:
        stamp = self.b.stamp()
        session: dict[str, Any] = {
            "country_code": self.b.cc,
            "party_id": self.b.pid,
            "id": session_id,
            "start_date_time": stamp,
            "kwh": Decimal(0),
            "cdr_token": self._cdr_token(pending.token),
            "auth_method": "COMMAND",
        }
        if pending.authorization_reference:
            session["authorization_reference"] = pending.authorization_reference
        session.update(
            location_id=pending.location_id,
            evse_uid=evse_uid,
            connector_id=connector_id,
            meter_id=f"SIM-METER-{evse_uid}",
            currency=currency,
            status=status_value,
            last_updated=stamp,
        )
        return session

    def owner(self, pending: PendingStart) -> Platform | None:
        """The platform that owns the token (its CredentialsRoles), else the one that sent
        the command."""
        token = pending.token
        owner = self.b.peers.owner_of(str(token["country_code"]), str(token["party_id"]))
        if owner is None:
            owner = self.b.peers.platforms.get(pending.platform_id)
        return owner

    def session_view(self, session: dict[str, Any]) -> dict[str, Any]:
        """A stored Session with its charging periods, as the Sender interface returns it."""
        return {**session, "charging_periods": self.b.periods.of(session["id"])}

    async def begin_session(self, evse: Evse, pending: PendingStart) -> None:
        self.b.waiting.pop(pending.command_id, None)
        pending.cancel()
        location, obj = self.b._evse_objects(evse)
        connector_id = pending.connector_id or evse.connector_id
        connectors = obj.get("connectors") or []
        connector = (
            catalog.find_connector(obj, connector_id) if connector_id else None
        ) or connectors[0]
        tariff = self.b._tariff_of(connector)
        if tariff is None:
            tariff = {"id": "#NA", "currency": "EUR", "elements": []}
        reservation = self.b._reservation_at(evse)
        if reservation is not None:
            self.b.reservations.pop(reservation.key, None)
            if reservation.timer is not None:
                reservation.timer.cancel()
        # A reservation that leads to charging becomes ACTIVE (mod_sessions, Reservation).
        session_id = reservation.session_id if reservation else self.b.rt.ids.uuid()
        session = self.new_session(
            session_id,
            pending,
            evse.uid,
            str(connector["id"]),
            str(tariff.get("currency", "EUR")),
            status_value="ACTIVE",
        )
        connector_kw = int(connector.get("max_electric_power") or 0) / 1000
        limit_kw = min(self.b.settings.charger_power_kw, connector_kw or evse.max_power_kw)
        run = SessionRun(
            session_id=session_id,
            evse=evse,
            tariff=tariff,
            start=self.b.now(),
            time_zone=str(location.get("time_zone") or "UTC"),
            limit_kw=limit_kw,
            stop_at=None
            if self.b.presets.on("cdr-over-authorization")
            else billing.stop_limit(tariff),
            last_at=self.b.now(),
        )
        first = self._bill(run)
        run.last_total = first.total.after_taxes
        session["total_cost"] = billing.price(first.total)
        # What the CDR needs as it was at the start (mod_cdrs), kept next to the Session.
        context = {
            "cdr_location": catalog.cdr_location(location, obj, connector),
            "tariff": tariff,
            "command_id": pending.command_id,
        }
        evse.begin(session_id)
        self.b.runs[session_id] = run
        run.session = session
        run.platform_id = await self.b.pushes.put_session(session, pending, context)
        self.b._next_tick(run, run.start)
        await self.b.pushes.evse_changed(evse)

    def _bill(self, run: SessionRun) -> billing.Bill:
        """The session's cost so far, from the charging periods as the CDR will carry them."""
        return billing.bill(
            run.tariff,
            run.cdr_periods,
            start=run.start,
            end=run.last_at,
            time_zone=run.time_zone,
            # cdr-over-authorization (PAYTER-06): max_price does not bound the total.
            bounded=not self.b.presets.on("cdr-over-authorization"),
        )

    def advance(self, run: SessionRun) -> None:
        """Move the charger and its meter up to now, cutting charging periods where the car
        goes from charging to standing full (mod_cdrs: a new period at every moment relevant
        to the cost)."""
        now = self.b.now()
        seconds = (now - run.last_at).total_seconds()
        evse = run.evse
        if seconds <= 0 or evse.car is None:
            run.last_at = max(run.last_at, now)
            return
        car, segments = charge(evse.car, run.limit_kw, seconds)
        evse.car = car
        start = run.last_at
        tariff_id = str(run.tariff.get("id"))
        for seg in segments:
            if seg.kind == "charging":
                run.energy_wh += seg.energy_wh
                run.charging_s += seg.seconds
            else:
                run.parking_s += seg.seconds
            wh, time_s, park_s = run.wh, run.time_s, run.park_s
            energy = billing.kwh(wh) - billing.kwh(run.rep_wh)
            if seg.kind == "charging":
                spent = billing.hours(time_s) - billing.hours(run.rep_charging_s)
                dims = [
                    {"type": "ENERGY", "volume": energy},
                    {"type": "TIME", "volume": spent},
                    {"type": "MAX_POWER", "volume": _kw(seg.max_power_kw)},
                ]
                average = seg.energy_wh / seg.seconds * 3.6 if seg.seconds else 0.0
                session_only = [{"type": "POWER", "volume": _kw(average)}]
            else:
                spent = billing.hours(park_s) - billing.hours(run.rep_parking_s)
                dims = [{"type": "PARKING_TIME", "volume": spent}]
                session_only = []
            session_only.append(
                {"type": "STATE_OF_CHARGE", "volume": Decimal(str(round(seg.soc_end, 1)))}
            )
            stamp = format_datetime(start)
            run.new_periods.append(
                {
                    "start_date_time": stamp,
                    "dimensions": dims + session_only,
                    "tariff_id": tariff_id,
                }
            )
            _merge_cdr_period(run.cdr_periods, stamp, dims, tariff_id)
            run.rep_wh, run.rep_charging_s, run.rep_parking_s = wh, time_s, park_s
            start = start + timedelta(seconds=seg.seconds)
        run.last_at = now

    def _limit_reached(self, run: SessionRun, bill: billing.Bill) -> bool:
        """Stop before the next update would pass what the terminal pre-authorized
        (checklist 5.7 #58: the CPO stops the session itself at that amount)."""
        if run.stop_at is None:
            return False
        total = bill.total.after_taxes
        step = total - run.last_total
        run.last_total = total
        return total + step >= run.stop_at

    async def tick(self, session_id: str) -> None:
        run = self.b.runs.get(session_id)
        if run is None:
            return
        self.advance(run)
        bill = self._bill(run)
        if self._limit_reached(run, bill):
            await self.end_session(session_id, "the pre-authorized amount was reached")
            return
        if run.evse.online:
            # An offline charger sends nothing; the periods go with the next update.
            await self.b.pushes.push_progress(run, bill)
        if session_id in self.b.runs:
            self.b._next_tick(run, self.b.now())

    async def end_session(self, session_id: str, why: str) -> bool:
        """The session ends (remote stop, unplug, fault, limit, CPO): final PATCH, EVSE
        status, CDR."""
        run = self.b.runs.pop(session_id, None)
        if run is None:
            return False
        if run.timer is not None:
            run.timer.cancel()
        self.advance(run)
        bill = self._bill(run)
        stamp = self.b.stamp()
        await self.b.pushes.push_progress(
            run, bill, {"status": "COMPLETED", "end_date_time": stamp}
        )
        evse = run.evse
        evse.end()
        log.info("session ended", session_id=session_id, why=why)
        self.b.rt.bus.publish("cpo_sim.session", session_id=session_id, status="COMPLETED", why=why)
        await self.b.pushes.evse_changed(evse)
        await self.b.pushes.send_cdr(run, bill)
        if evse.car is not None and self.b.settings.auto_plug_in_delay >= 0:
            # The simulated driver takes the car away after its session, also one plugged in
            # through the control API: a finished session leaves the charger free.
            self.b.driven.add(evse.uid.casefold())
            self.b._save(evse)
            self.driver_leaves(evse)
        return True

    def driver_leaves(self, evse: Evse) -> None:
        """The simulated driver comes back and unplugs."""

        async def leave() -> None:
            if evse.car is not None and evse.session_id is None:
                await self.b.chargers.unplug(evse.uid)

        self.b.later(max(self.b.settings.auto_plug_in_delay, 0.0), leave, "unplug")

    def cdr(
        self, run: SessionRun, bill: billing.Bill, session: dict[str, Any], context: dict[str, Any]
    ) -> dict[str, Any]:
        stamp = self.b.stamp()
        periods = copy.deepcopy(run.cdr_periods) or [
            # A CDR has at least one charging period (mod_cdrs, CDR.charging_periods +).
            {
                "start_date_time": session["start_date_time"],
                "dimensions": [{"type": "ENERGY", "volume": Decimal(0)}],
                "tariff_id": str(run.tariff.get("id")),
            }
        ]
        cdr: dict[str, Any] = {
            "country_code": self.b.cc,
            "party_id": self.b.pid,
            "id": "CDR-" + self.b.rt.ids.code(16),
            "start_date_time": session["start_date_time"],
            "end_date_time": session.get("end_date_time", stamp),
            "session_id": session["id"],
            "cdr_token": session["cdr_token"],
            "auth_method": session["auth_method"],
        }
        if session.get("authorization_reference"):
            cdr["authorization_reference"] = session["authorization_reference"]
        cdr.update(
            cdr_location=context["cdr_location"],
            meter_id=session.get("meter_id"),
            currency=bill.currency,
            tariffs=[context["tariff"]],
            charging_periods=periods,
            total_cost=billing.price(bill.total),
        )
        for key, cost in bill.costs.items():
            cdr[key] = billing.price(cost)
        cdr["total_energy"] = billing.kwh(run.wh)
        cdr["total_time"] = billing.hours(round(run.charging_s + run.parking_s))
        if run.park_s:
            cdr["total_parking_time"] = billing.hours(run.park_s)
        if self.b.settings.invoicing:
            # mod_payments: set means the CPO issued the invoice (checklist 5.7 #56).
            cdr["invoice_reference_id"] = "INV-" + self.b.rt.ids.code(12)
        cdr["last_updated"] = stamp
        return {k: v for k, v in cdr.items() if v is not None}
