"""The car at the charger: plugging in and out, a full battery, faults.

A part of :class:`emulator.cpo_sim.backend.CpoBackend` (``backend.chargers``); the state it
works on is the backend's (``self.b``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.cpo_sim import catalog
from emulator.cpo_sim.charger import Car, Evse
from emulator.cpo_sim.runs import (
    ControlFailure,
)

if TYPE_CHECKING:
    from emulator.cpo_sim.backend import CpoBackend


class Chargers:
    def __init__(self, backend: CpoBackend) -> None:
        self.b = backend

    def default_car(self) -> Car:
        s = self.b.settings
        return Car(s.car_battery_kwh, s.car_soc, s.car_max_power_kw)

    async def plug_in(
        self,
        evse_uid: str,
        *,
        battery_kwh: float | None = None,
        soc: float | None = None,
        max_power_kw: float | None = None,
        connector_id: str | None = None,
        driven: bool = False,
    ) -> Evse:
        evse = self.b.evse(evse_uid)
        if evse.car is not None:
            raise ControlFailure("already_plugged_in", f"a car is already plugged in at {evse.uid}")
        base = self.default_car()
        car = Car(
            battery_kwh if battery_kwh is not None else base.battery_kwh,
            soc if soc is not None else base.soc,
            max_power_kw if max_power_kw is not None else base.max_power_kw,
        )
        if connector_id is not None:
            _, obj = self.b._evse_objects(evse)
            if catalog.find_connector(obj, connector_id) is None:
                raise ControlFailure("not_found", f"no connector {connector_id} at {evse.uid}", 404)
        evse.plug_in(car, connector_id)
        if driven:
            self.b.driven.add(evse.uid.casefold())
        self.b._save(evse)
        self.b.rt.bus.publish("cpo_sim.plug_in", evse_uid=evse.uid, soc=car.soc)
        if evse.waiting_start is not None:
            pending = self.b.waiting.get(evse.waiting_start)
            if pending is not None:
                await self.b.charging.begin_session(evse, pending)
        return evse

    async def unplug(self, evse_uid: str) -> Evse:
        evse = self.b.evse(evse_uid)
        if evse.car is None:
            raise ControlFailure("not_plugged_in", f"no car is plugged in at {evse.uid}")
        session_id = evse.session_id
        if session_id is not None and session_id in self.b.runs:
            self.b.charging.advance(self.b.runs[session_id])
        evse.unplug()
        self.b.driven.discard(evse.uid.casefold())
        self.b.rt.bus.publish("cpo_sim.unplug", evse_uid=evse.uid)
        if session_id is not None:
            await self.b.charging.end_session(session_id, "the car was unplugged")
        else:
            await self.b.pushes.evse_changed(evse)
        return evse

    async def ev_full(self, evse_uid: str) -> Evse:
        evse = self.b.evse(evse_uid)
        if evse.car is None:
            raise ControlFailure("not_plugged_in", f"no car is plugged in at {evse.uid}")
        if evse.session_id in self.b.runs:
            self.b.charging.advance(self.b.runs[evse.session_id])  # charging counted up to now
        evse.car = Car(evse.car.battery_kwh, 100.0, evse.car.max_power_kw)
        self.b._save(evse)
        return evse

    async def set_fault(self, evse_uid: str, fault: str) -> Evse:
        """``offline`` (the charger loses its connection), ``out-of-order`` (it faults: a
        running session ends), or ``repair`` (both cleared)."""
        evse = self.b.evse(evse_uid)
        if fault == "offline":
            evse.online = False
        elif fault == "out-of-order":
            evse.out_of_order = True
            if evse.session_id is not None:
                await self.b.charging.end_session(evse.session_id, "the EVSE went out of order")
            await self.b.commanding.drop_waiting(evse)
            reservation = self.b._reservation_at(evse)
            if reservation is not None:
                # A CPO-side cancellation: CANCELED_RESERVATION to the ReserveNow's
                # response_url (mod_commands; checklist 5.5 #47).
                await self.b.commanding.deliver_result(
                    reservation.start.command_id,
                    "CANCELED_RESERVATION",
                    "the EVSE is out of order",
                    url=reservation.start.response_url,
                )
                await self.b.commanding.end_reservation(reservation, "the EVSE went out of order")
        elif fault == "repair":
            evse.online = True
            evse.out_of_order = False
        else:
            raise ControlFailure("invalid_field", f"unknown fault {fault!r}", 400)
        await self.b.pushes.evse_changed(evse)
        return evse
