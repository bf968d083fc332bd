"""The simulated CPO's backend: its chargers, sessions, CDRs, commands and terminals.

What a CPO's CSMS does between the OCPI handlers (:mod:`emulator.cpo_sim.modules`) and its
chargers (:mod:`emulator.cpo_sim.charger`), on the injected clock:

* Commands (mod_commands): the handler gets the synchronous CommandResponse; the charger's
  answer follows ``command_result_delay`` seconds later as a CommandResult POSTed to the
  ``response_url``, only after ACCEPTED.
* Sessions (mod_sessions): PUT to the token owner when charging starts, then a PATCH every
  ``session_patch_interval`` seconds with ``kwh``, the new ``charging_periods`` (a PATCH
  appends them) and ``total_cost``; the final PATCH sets COMPLETED and ``end_date_time``.
* CDRs (mod_cdrs): POSTed to the token owner's CDRs Receiver when the session ends, priced by
  :mod:`emulator.cpo_sim.billing` under the tariff valid at the start.
* EVSE status (mod_locations): every change bumps the EVSE's and the Location's
  ``last_updated`` and is PATCHed to every Locations Receiver.
* Terminals (mod_payments): a terminal the PTP POSTs is assigned by PATCHing the PTP's
  Terminal with ``location_ids``/``evse_uids``.

Deviations of the behaviour presets are switched on where the behaviour happens
(``self.presets.on(...)``).

:class:`CpoBackend` holds the state (stores, chargers, runs, the clock) and its seeding and
restart; the work is split by responsibility into parts: ``chargers``
(:mod:`~emulator.cpo_sim.chargers`), ``commanding`` (:mod:`~emulator.cpo_sim.commanding`),
``charging`` (sessions and CDRs, :mod:`~emulator.cpo_sim.charging`), ``payments`` (tokens,
terminals, FACs, :mod:`~emulator.cpo_sim.payments`) and ``pushes`` (to the peers,
:mod:`~emulator.cpo_sim.pushes`); the values in flight are :mod:`~emulator.cpo_sim.runs`.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from emulator.clock import Timer
from emulator.cpo_sim import catalog
from emulator.cpo_sim.charger import Evse
from emulator.cpo_sim.chargers import Chargers
from emulator.cpo_sim.charging import Charging
from emulator.cpo_sim.commanding import Commanding
from emulator.cpo_sim.payments import Payments
from emulator.cpo_sim.peers import Peers
from emulator.cpo_sim.presets import Presets
from emulator.cpo_sim.pushes import Pushes
from emulator.cpo_sim.runs import (
    ControlFailure,
    PendingStart,
    Reservation,
    SessionRun,
)
from emulator.cpo_sim.settings import CpoSimSettings
from emulator.cpo_sim.state import (
    CDRS,
    CHARGERS,
    COMMANDS,
    FACS,
    LOCATIONS,
    SESSIONS,
    TARIFFS,
    TERMINALS,
    TOKENS,
    Objects,
    SessionPeriods,
    key_of,
)
from emulator.ocpi import pricing
from emulator.ocpi.transport import Identity
from emulator.ocpi.types import format_datetime
from emulator.runtime import Runtime


class CpoBackend:
    def __init__(
        self,
        rt: Runtime,
        identity: Identity,
        settings: CpoSimSettings,
        presets: Presets,
        peers: Peers,
    ) -> None:
        self.rt = rt
        self.identity = identity
        self.settings = settings
        self.presets = presets
        self.peers = peers
        store = rt.store
        self.locations = Objects(store, LOCATIONS)
        self.tariffs = Objects(store, TARIFFS)
        self.sessions = Objects(store, SESSIONS)
        self.periods = SessionPeriods(store)
        self.cdrs = Objects(store, CDRS)
        self.commands = Objects(store, COMMANDS)
        self.tokens = Objects(store, TOKENS)
        self.terminals = Objects(store, TERMINALS)
        self.facs = Objects(store, FACS)
        self.store = store
        store.register(CHARGERS)
        self.evses: dict[str, Evse] = {}
        self.runs: dict[str, SessionRun] = {}
        self.waiting: dict[str, PendingStart] = {}
        self.reservations: dict[tuple[int, str], Reservation] = {}
        self.driven: set[str] = set()  # EVSEs whose car the simulated driver plugged in
        self._timers: list[Timer] = []
        # Its parts, by responsibility.
        self.pushes = Pushes(self)
        self.commanding = Commanding(self)
        self.chargers = Chargers(self)
        self.charging = Charging(self)
        self.payments = Payments(self)

    # --- time and ids ------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.rt.clock.now()

    def stamp(self) -> str:
        return format_datetime(self.now())

    def later(self, seconds: float, callback: Any, name: str) -> Timer:
        timer = self.rt.clock.call_later(seconds, callback, name=f"cpo-sim {name}")
        now = self.now()
        self._timers = [t for t in self._timers if not t.cancelled and t.when > now] + [timer]
        return timer

    def at(self, when: datetime, callback: Any, name: str) -> Timer:
        """``callback`` at ``when``, or at once if that has passed (after a restart)."""
        return self.later(max((when - self.now()).total_seconds(), 0.0), callback, name)

    @property
    def cc(self) -> str:
        return self.identity.country_code

    @property
    def pid(self) -> str:
        return self.identity.party_id

    # --- seeding -----------------------------------------------------------------------------

    def seed(self) -> None:
        """Load the fixtures into the store (objects already there are kept), then build the
        simulated EVSEs from the stored Locations."""
        for raw in catalog.load(self.settings.fixtures, "tariffs.json"):
            tariff = catalog.stamp_owner(raw, self.cc, self.pid)
            if self.tariffs.get(key_of(tariff["id"])) is None:
                self.tariffs.save(key_of(tariff["id"]), tariff)
        for raw in catalog.load(self.settings.fixtures, "locations.json"):
            location = catalog.stamp_owner(raw, self.cc, self.pid)
            if self.locations.get(key_of(location["id"])) is None:
                self.locations.save(key_of(location["id"]), location)
        self.evses.clear()
        for row in self.locations.rows():
            location = row["object"]
            for evse in location.get("evses") or []:
                powers = [
                    int(c.get("max_electric_power") or 0) / 1000
                    for c in evse.get("connectors") or []
                ]
                self.evses[evse["uid"].casefold()] = Evse(
                    uid=evse["uid"],
                    location_id=location["id"],
                    max_power_kw=max(powers) if any(powers) else self.settings.charger_power_kw,
                )

    # --- restarts ----------------------------------------------------------------------------

    def _save(self, evse: Evse) -> None:
        """Keep what the charger is doing in the store (one row per EVSE), so that a restart
        resumes it: the car, faults, the running session with its meter, a start waiting for
        the car, a reservation."""
        uid = evse.uid.casefold()
        state = evse.snapshot()
        state["driven"] = uid in self.driven
        pending = self.waiting.get(evse.waiting_start or "")
        state["pending"] = pending.as_json() if pending is not None else None
        reservation = self._reservation_at(evse)
        state["reservation"] = reservation.as_json() if reservation is not None else None
        run = self.runs.get(evse.session_id or "")
        state["run"] = run.as_json() if run is not None else None
        self.store.upsert(CHARGERS.name, {"key": uid, "state": state})

    def _reservation_at(self, evse: Evse) -> Reservation | None:
        uid = evse.uid.casefold()
        return next(
            (r for r in self.reservations.values() if r.start.evse_uid.casefold() == uid), None
        )

    async def resume(self) -> None:
        """After a (re)start: take the chargers up where they were, on the clock. Timers that
        fell due while the server was down fire at once; a session's meter catches up with
        the time that passed (the charger kept charging, as when it was offline)."""
        for charger in self.store.rows(CHARGERS.name):
            evse = self.evses.get(charger["key"])
            if evse is None:
                continue  # the fixtures no longer have this EVSE
            state = charger["state"]
            evse.restore(state)
            if state.get("driven"):
                self.driven.add(charger["key"])
            if state.get("pending") and evse.waiting_start:
                pending = PendingStart.from_json(state["pending"])
                self.waiting[pending.command_id] = pending
                self.commanding.wait_for_car(evse, pending)
            if state.get("reservation") and evse.reservation_id:
                reservation = Reservation.from_json(state["reservation"])
                self.reservations[reservation.key] = reservation
                reservation.timer = self.commanding.expiry_timer(reservation)
            stored = self.sessions.object(key_of(evse.session_id or ""))
            if state.get("run") and stored is not None:
                run = SessionRun.from_json(state["run"], evse, stored)
                self.runs[run.session_id] = run
                self._next_tick(run, run.last_at)
            elif evse.session_id is not None:
                evse.end()  # stopped while its last update went out: nothing left to run
            elif evse.uid.casefold() in self.driven and evse.car and not evse.waiting_start:
                self.charging.driver_leaves(evse)
        for row in self.commands.rows("due_at is not null"):
            self.commanding.resume_command(row)
        if self.settings.terminal_assignment != "none":
            for row in self.terminals.rows("assignment is null"):
                terminal_id = row["object"]["terminal_id"]
                self.later(
                    0, lambda t=terminal_id: self.payments.assign_terminal(t), "terminal assignment"
                )
        for evse in self.evses.values():
            # Statuses that changed while nobody was told (the fixtures, a lost push) go out.
            await self.pushes.evse_changed(evse)

    def _next_tick(self, run: SessionRun, after: datetime) -> None:
        interval = timedelta(seconds=self.settings.session_patch_interval)
        session_id = run.session_id
        run.timer = self.at(
            after + interval, lambda: self.charging.tick(session_id), "session tick"
        )

    def reset(self) -> None:
        """After POST /__admin/reset: stop every timer, forget the chargers, re-seed."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.runs.clear()
        self.waiting.clear()
        self.reservations.clear()
        self.driven.clear()
        self.seed()

    # --- look-ups ----------------------------------------------------------------------------

    def location(self, location_id: str) -> dict[str, Any] | None:
        return self.locations.object(key_of(location_id))

    def tariff(self, tariff_id: str) -> dict[str, Any] | None:
        return self.tariffs.object(key_of(tariff_id))

    def evse(self, evse_uid: str) -> Evse:
        found = self.evses.get(evse_uid.casefold())
        if found is None:
            raise ControlFailure("not_found", f"no EVSE {evse_uid}", 404)
        return found

    def _evse_objects(self, evse: Evse) -> tuple[dict[str, Any], dict[str, Any]]:
        location = self.location(evse.location_id)
        assert location is not None
        found = catalog.find_evse(location, evse.uid)
        assert found is not None
        return location, found

    def _tariff_of(self, connector: dict[str, Any]) -> dict[str, Any] | None:
        """The tariff of a card session on this connector, as the PTP chooses it (DESIGN.md:
        AD_HOC_PAYMENT, then one without type, then REGULAR); a copy, as it is at the start."""
        ids = [str(t) for t in connector.get("tariff_ids") or []]
        known = [t for t in (self.tariff(i) for i in ids) if t is not None]
        chosen = pricing.select_tariff(known, ids, now=self.now())
        return copy.deepcopy(chosen) if chosen is not None else None
