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
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from emulator.clock import Timer
from emulator.cpo_sim import billing, catalog
from emulator.cpo_sim.charger import Car, Evse, charge
from emulator.cpo_sim.peers import Delivery, Peers
from emulator.cpo_sim.presets import Presets
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
    micros,
)
from emulator.ocpi import pricing, status
from emulator.ocpi.platforms import Platform
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import Identity
from emulator.ocpi.types import format_datetime, parse_datetime
from emulator.runtime import Runtime

log = structlog.get_logger("emulator.cpo_sim")


class ControlFailure(Exception):
    """A control action that cannot be done in the EVSE's current state."""

    def __init__(self, code: str, message: str, http_status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


@dataclass
class Answer:
    """The synchronous part of a command: OCPI status code and CommandResponse.result."""

    result: str
    message: str | None = None
    status_code: int = status.SUCCESS


class Refused(Exception):
    """A command answered at once with something other than ACCEPTED."""

    def __init__(self, result: str, message: str, status_code: int = status.SUCCESS) -> None:
        super().__init__(message)
        self.answer = Answer(result, message, status_code)


# What the charger does once the command reaches it; called with the command's id.
ChargerAnswer = Callable[[str], Awaitable[None]]

# CommandResultType (mod_commands).
COMMAND_RESULTS = frozenset(
    {
        "ACCEPTED",
        "CANCELED_RESERVATION",
        "EVSE_OCCUPIED",
        "EVSE_INOPERATIVE",
        "FAILED",
        "NOT_SUPPORTED",
        "REJECTED",
        "TIMEOUT",
        "UNKNOWN_RESERVATION",
    }
)


@dataclass
class Place:
    """Where a command points, resolved against the Locations."""

    location: dict[str, Any]
    evse: Evse
    connector_id: str | None
    capabilities: list[str]


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _at(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


@dataclass
class PendingStart:
    """An accepted START_SESSION (or a reservation) on its way to becoming a session."""

    command_id: str
    platform_id: int
    token: dict[str, Any]
    authorization_reference: str | None
    location_id: str
    evse_uid: str
    connector_id: str | None
    response_url: str
    timers: list[Timer] = field(default_factory=list)
    # When the start lapses without a car, and when the simulated driver plugs one in.
    lapse_at: datetime | None = None
    plug_in_at: datetime | None = None

    def cancel(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()

    _KEPT = (
        "command_id",
        "platform_id",
        "token",
        "authorization_reference",
        "location_id",
        "evse_uid",
        "connector_id",
        "response_url",
    )

    def as_json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self._KEPT}
        out.update(lapse_at=_when(self.lapse_at), plug_in_at=_when(self.plug_in_at))
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingStart:
        pending = cls(**{name: data[name] for name in cls._KEPT})
        pending.lapse_at, pending.plug_in_at = _at(data["lapse_at"]), _at(data["plug_in_at"])
        return pending


@dataclass
class Reservation:
    reservation_id: str
    start: PendingStart
    expiry: datetime
    session_id: str
    timer: Timer | None = None

    @property
    def key(self) -> tuple[int, str]:
        return reservation_key(self.start.platform_id, self.reservation_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "reservation_id": self.reservation_id,
            "start": self.start.as_json(),
            "expiry": _when(self.expiry),
            "session_id": self.session_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reservation:
        expiry = _at(data["expiry"])
        assert expiry is not None
        start = PendingStart.from_json(data["start"])
        return cls(data["reservation_id"], start, expiry, data["session_id"])


def reservation_key(platform_id: int, reservation_id: str) -> tuple[int, str]:
    """Reservations are the eMSP's ids: unique per platform, not across them (mod_commands,
    ReserveNow: the CPO maps them to ids unique at the charge point)."""
    return platform_id, reservation_id.casefold()


@dataclass
class SessionRun:
    """A session while it runs: the charger's meter and what is still to be pushed."""

    session_id: str
    evse: Evse
    tariff: dict[str, Any]
    start: datetime
    time_zone: str
    limit_kw: float
    stop_at: Decimal | None
    last_at: datetime
    energy_wh: float = 0.0
    charging_s: float = 0.0
    parking_s: float = 0.0
    # The cumulative values already reported in charging periods.
    rep_wh: int = 0
    rep_charging_s: int = 0
    rep_parking_s: int = 0
    new_periods: list[dict[str, Any]] = field(default_factory=list)
    cdr_periods: list[dict[str, Any]] = field(default_factory=list)
    # The stored Session (without its charging periods) and where it is pushed.
    session: dict[str, Any] = field(default_factory=dict)
    platform_id: int | None = None
    periods_stored: int = 0
    last_total: Decimal = Decimal(0)
    timer: Timer | None = None

    # The meter and what is still to be reported survive a restart; the Session is the stored
    # one and the EVSE the simulated one.
    _FLOATS = ("limit_kw", "energy_wh", "charging_s", "parking_s")
    _INTS = ("rep_wh", "rep_charging_s", "rep_parking_s", "periods_stored")
    _AS_IS = ("session_id", "tariff", "time_zone", "new_periods", "cdr_periods", "platform_id")

    def as_json(self) -> dict[str, Any]:
        out = {n: getattr(self, n) for n in (*self._FLOATS, *self._INTS, *self._AS_IS)}
        out.update(
            start=_when(self.start),
            last_at=_when(self.last_at),
            stop_at=None if self.stop_at is None else str(self.stop_at),
            last_total=str(self.last_total),
        )
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], evse: Evse, session: dict[str, Any]) -> SessionRun:
        start, last_at = _at(data["start"]), _at(data["last_at"])
        assert start is not None and last_at is not None
        run = cls(
            session_id=data["session_id"],
            evse=evse,
            tariff=data["tariff"],
            start=start,
            time_zone=data["time_zone"],
            limit_kw=float(data["limit_kw"]),
            stop_at=None if data["stop_at"] is None else Decimal(data["stop_at"]),
            last_at=last_at,
            session=session,
            last_total=Decimal(data["last_total"]),
        )
        for name in cls._FLOATS:
            setattr(run, name, float(data[name]))
        for name in cls._INTS:
            setattr(run, name, int(data[name]))
        run.new_periods, run.cdr_periods = data["new_periods"], data["cdr_periods"]
        run.platform_id = data["platform_id"]
        return run

    @property
    def wh(self) -> int:
        # The meter counts whole Wh; the epsilon absorbs float sums such as 999.9999999.
        return int(self.energy_wh + 1e-6)

    @property
    def time_s(self) -> int:
        return round(self.charging_s)

    @property
    def park_s(self) -> int:
        return round(self.parking_s)


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
        for row in self.store.rows(CHARGERS.name):
            evse = self.evses.get(row["key"])
            if evse is None:
                continue  # the fixtures no longer have this EVSE
            state = row["state"]
            evse.restore(state)
            if state.get("driven"):
                self.driven.add(row["key"])
            if state.get("pending") and evse.waiting_start:
                pending = PendingStart.from_json(state["pending"])
                self.waiting[pending.command_id] = pending
                self._wait_for_car(evse, pending)
            if state.get("reservation") and evse.reservation_id:
                reservation = Reservation.from_json(state["reservation"])
                self.reservations[reservation.key] = reservation
                reservation.timer = self._expiry_timer(reservation)
            stored = self.sessions.object(key_of(evse.session_id or ""))
            if state.get("run") and stored is not None:
                run = SessionRun.from_json(state["run"], evse, stored)
                self.runs[run.session_id] = run
                self._next_tick(run, run.last_at)
            elif evse.session_id is not None:
                evse.end()  # stopped while its last update went out: nothing left to run
            elif evse.uid.casefold() in self.driven and evse.car and not evse.waiting_start:
                self._driver_leaves(evse)
        for row in self.commands.rows("due_at is not null"):
            self._resume_command(row)
        if self.settings.terminal_assignment != "none":
            for row in self.terminals.rows("assignment is null"):
                terminal_id = row["object"]["terminal_id"]
                self.later(0, lambda t=terminal_id: self.assign_terminal(t), "terminal assignment")
        for evse in self.evses.values():
            # Statuses that changed while nobody was told (the fixtures, a lost push) go out.
            await self.evse_changed(evse)

    def _next_tick(self, run: SessionRun, after: datetime) -> None:
        interval = timedelta(seconds=self.settings.session_patch_interval)
        session_id = run.session_id
        run.timer = self.at(after + interval, lambda: self._tick(session_id), "session tick")

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

    # --- EVSE status -------------------------------------------------------------------------

    def _store_status(self, evse: Evse) -> bool:
        """Write the EVSE's status into its Location; True if it changed. An EVSE change bumps
        the EVSE's and the Location's last_updated (mod_locations)."""
        location, obj = self._evse_objects(evse)
        status_now = evse.status()
        if obj.get("status") == status_now:
            return False
        stamp = self.stamp()
        obj["status"] = status_now
        obj["last_updated"] = stamp
        location["last_updated"] = stamp
        self.locations.save(key_of(location["id"]), location)
        self.rt.bus.publish(
            "cpo_sim.evse", evse_uid=evse.uid, location_id=evse.location_id, status=status_now
        )
        return True

    async def evse_changed(self, evse: Evse) -> list[Delivery]:
        """Store the charger's state and its status; PATCH a new status to every Locations
        Receiver."""
        self._save(evse)
        if not self._store_status(evse):
            return []
        location, obj = self._evse_objects(evse)
        body: dict[str, Any] = {"status": obj["status"], "last_updated": obj["last_updated"]}
        if self.presets.on("patch-without-last-updated"):
            del body["last_updated"]  # OCPI-31: a PATCH SHALL carry last_updated
        path = f"{self.cc}/{self.pid}/{location['id']}/{evse.uid}"
        return [
            await self.peers.send(p, "PATCH", "locations", path, body=body)
            for p in self.peers.with_receiver("locations")
        ]

    async def push_locations(self, platform_id: int | None = None) -> list[dict[str, Any]]:
        """PUT every Location to the Locations Receivers (or to one platform)."""
        targets = self.peers.with_receiver("locations")
        if platform_id is not None:
            targets = [p for p in targets if p.id == platform_id]
        out = []
        for platform in targets:
            assert platform.version is not None
            for row in self.locations.rows():
                location = row["object"]
                delivery = await self.peers.send(
                    platform,
                    "PUT",
                    "locations",
                    f"{self.cc}/{self.pid}/{location['id']}",
                    body=catalog.location_for(location, platform.version),
                )
                out.append({"platform_id": platform.id, **delivery.as_json()})
        return out

    # --- commands: synchronous part ----------------------------------------------------------

    def _record_command(
        self, command: str, platform: Platform, body: dict[str, Any], answer: Answer
    ) -> str:
        command_id = self.rt.ids.uuid()
        response = self.command_response(answer)
        self.commands.save(
            command_id,
            {"id": command_id, "received": self.stamp(), "request": body},
            command=command,
            platform_id=platform.id,
            response={"status_code": answer.status_code, **response},
        )
        self.rt.bus.publish("cpo_sim.command", command=command, result=answer.result)
        return command_id

    def command_response(self, answer: Answer) -> dict[str, Any]:
        response: dict[str, Any] = {
            "result": answer.result,
            "timeout": self.settings.command_timeout,
        }
        if answer.message:
            response["message"] = [{"language": "en", "text": answer.message}]
        return response

    def _result_delay(self) -> float:
        if self.presets.on("late-result"):
            # OCPI-43: the CommandResult arrives well after the announced timeout.
            return self.settings.command_timeout + 30.0
        return self.settings.command_result_delay

    async def command(
        self, command: str, platform: Platform, body: dict[str, Any]
    ) -> tuple[Answer, str]:
        """Answer a command now (the CommandResponse); the charger's answer, the
        CommandResult, follows on the clock and only after ACCEPTED (mod_commands)."""
        handler = self._handler(command)
        then: ChargerAnswer | None = None
        if handler is None:
            answer = Answer("NOT_SUPPORTED", f"command {command} is not supported")
        else:
            try:
                then = handler(platform, body)
                answer = Answer("ACCEPTED")
            except Refused as refused:
                answer = refused.answer
        command_id = self._record_command(command, platform, body, answer)
        if then is not None:
            due = self.now() + timedelta(seconds=self._result_delay())
            self.commands.update(command_id, due_at=micros(due))
            self._result_at(command, command_id, then, due)
        return answer, command_id

    def _handler(self, command: str) -> Callable[[Platform, dict[str, Any]], ChargerAnswer] | None:
        return {
            "START_SESSION": self._start_session,
            "STOP_SESSION": self._stop_session,
            "RESERVE_NOW": self._reserve_now,
            "CANCEL_RESERVATION": self._cancel_reservation,
            "UNLOCK_CONNECTOR": self._unlock_connector,
        }.get(command)

    def _result_at(self, command: str, command_id: str, then: ChargerAnswer, due: datetime) -> None:
        delay = max((due - self.now()).total_seconds(), 0.0)
        self.later(delay, lambda: then(command_id), command)

    def _resume_command(self, row: dict[str, Any]) -> None:
        """A restart with an accepted command whose CommandResult was still due: the charger
        answers it now, as it stands after the restart."""
        command_id, command = row["key"], row["command"]
        platform = self.peers.platforms.get(row["platform_id"])
        handler = self._handler(command)
        due = datetime.fromtimestamp(row["due_at"] / 1_000_000, tz=UTC)
        if platform is None or handler is None:
            self.commands.update(command_id, due_at=None)
            return
        try:
            then = handler(platform, row["object"]["request"])
        except Refused as refused:
            # What the charger can no longer do is a failed command (CommandResultType).
            result = refused.answer.result
            result = result if result in COMMAND_RESULTS else "FAILED"
            message = refused.answer.message

            async def then(cid: str) -> None:
                await self._deliver_result(cid, result, message)

        self._result_at(command, command_id, then, due)

    def _place(self, body: dict[str, Any], need: str, *, allow_pick: bool = True) -> Place:
        """Where a command points: location_id / evse_uid / connector_id, resolved."""
        location = self.location(body["location_id"])
        if location is None:
            # mod_commands: an unknown Location is 2003 with REJECTED (checklist 5.5 #42).
            raise Refused("REJECTED", "unknown location", status.UNKNOWN_LOCATION)
        evse_uid, connector_id = body.get("evse_uid"), body.get("connector_id")
        if connector_id and not evse_uid:
            # StartSession: evse_uid is required when connector_id is set.
            raise Refused(
                "REJECTED",
                "evse_uid is required when connector_id is given",
                status.INVALID_PARAMETERS,
            )
        if evse_uid:
            obj = catalog.find_evse(location, evse_uid)
            if obj is None:
                raise Refused("REJECTED", f"unknown EVSE {evse_uid}")
        elif allow_pick:
            obj = self._pick_evse(location, need)
            if obj is None:
                raise Refused("REJECTED", "no EVSE available at this location")
        else:
            raise Refused("REJECTED", "evse_uid is required")
        if connector_id and catalog.find_connector(obj, connector_id) is None:
            raise Refused("REJECTED", f"unknown connector {connector_id}")
        capabilities = obj.get("capabilities") or []
        if need not in capabilities:
            raise Refused("NOT_SUPPORTED", f"this EVSE is not {need}")
        return Place(location, self.evses[obj["uid"].casefold()], connector_id, capabilities)

    def _pick_evse(self, location: dict[str, Any], need: str) -> dict[str, Any] | None:
        """No evse_uid given: the first free EVSE that can do it without a connector_id."""
        for obj in location.get("evses") or []:
            caps = obj.get("capabilities") or []
            evse = self.evses[obj["uid"].casefold()]
            if need not in caps or "START_SESSION_CONNECTOR_REQUIRED" in caps:
                continue
            if evse.status() == "AVAILABLE" and evse.waiting_start is None:
                return obj
        return None

    def _pending(self, platform: Platform, body: dict[str, Any], place: Place) -> PendingStart:
        return PendingStart(
            command_id="",
            platform_id=platform.id,
            token=body["token"],
            authorization_reference=body.get("authorization_reference"),
            location_id=place.location["id"],
            evse_uid=place.evse.uid,
            connector_id=place.connector_id,
            response_url=body["response_url"],
        )

    def _start_session(self, platform: Platform, body: dict[str, Any]) -> ChargerAnswer:
        place = self._place(body, "REMOTE_START_STOP_CAPABLE")
        if "START_SESSION_CONNECTOR_REQUIRED" in place.capabilities and not place.connector_id:
            # mod_commands, StartSession.connector_id (checklist 5.5 #44).
            raise Refused("REJECTED", "this EVSE needs a connector_id to start a session")
        if self.presets.on("reject-start"):
            raise Refused("REJECTED", "start refused by the CPO")
        pending = self._pending(platform, body, place)

        async def then(command_id: str) -> None:
            pending.command_id = command_id
            await self._start_result(pending)

        return then

    def _stop_session(self, platform: Platform, body: dict[str, Any]) -> ChargerAnswer:
        row = self.sessions.get(key_of(body["session_id"]))
        if row is None or not self._session_of(platform, row):
            # An eMSP may only stop its own sessions; others do not exist for it.
            raise Refused("UNKNOWN_SESSION", "no such session for this party")
        session_id = row["object"]["id"]
        if session_id not in self.runs:
            raise Refused("REJECTED", f"the session is {row['status']}, not running")

        async def then(command_id: str) -> None:
            run = self.runs.get(session_id)
            if run is not None and not run.evse.online:
                await self._deliver_result(command_id, "TIMEOUT")  # the charger is offline
            elif run is not None:
                await self._deliver_result(command_id, "ACCEPTED")
                await self.end_session(session_id, "stopped by the eMSP/PTP (STOP_SESSION)")
            else:
                await self._deliver_result(command_id, "REJECTED", "the session already ended")

        return then

    def _session_of(self, platform: Platform, row: dict[str, Any]) -> bool:
        token = row["object"].get("cdr_token") or {}
        return row.get("platform_id") == platform.id or platform.owns(
            token.get("country_code"), token.get("party_id")
        )

    def _reserve_now(self, platform: Platform, body: dict[str, Any]) -> ChargerAnswer:
        expiry = parse_datetime(body["expiry_date"])
        if expiry <= self.now():
            raise Refused("REJECTED", "expiry_date is not in the future", status.INVALID_PARAMETERS)
        pending = self._pending(platform, body, self._place(body, "RESERVABLE"))
        pending.connector_id = None
        reservation_id = str(body["reservation_id"])

        async def then(command_id: str) -> None:
            pending.command_id = command_id
            await self._reserve_result(pending, reservation_id, expiry)

        return then

    def _cancel_reservation(self, platform: Platform, body: dict[str, Any]) -> ChargerAnswer:
        reservation_id = str(body["reservation_id"])

        async def then(command_id: str) -> None:
            reservation = self.reservations.get(reservation_key(platform.id, reservation_id))
            if reservation is None:
                await self._deliver_result(command_id, "UNKNOWN_RESERVATION")
                return
            await self._deliver_result(command_id, "ACCEPTED")
            # Checklist 5.5 #47: the ReserveNow's response_url hears CANCELED_RESERVATION.
            await self._deliver_result(
                reservation.start.command_id,
                "CANCELED_RESERVATION",
                url=reservation.start.response_url,
            )
            await self._end_reservation(reservation, "canceled")

        return then

    def _unlock_connector(self, platform: Platform, body: dict[str, Any]) -> ChargerAnswer:
        evse = self._place(body, "UNLOCK_CAPABLE", allow_pick=False).evse

        async def then(command_id: str) -> None:
            await self._deliver_result(command_id, "ACCEPTED" if evse.online else "TIMEOUT")

        return then

    # --- commands: the charger's answer ------------------------------------------------------

    async def _deliver_result(
        self, command_id: str, result: str, message: str | None = None, *, url: str | None = None
    ) -> Delivery | None:
        """POST a CommandResult to exactly the command's response_url (mod_commands)."""
        row = self.commands.get(command_id)
        if row is None:
            return None
        platform = self.peers.platforms.get(row["platform_id"])
        body: dict[str, Any] = {"result": result}
        if message:
            body["message"] = [{"language": "en", "text": message}]
        target = url or row["object"]["request"]["response_url"]
        if platform is None or not platform.registered:
            delivery = Delivery(False, "POST", target, error="the platform is not registered")
        else:
            delivery = await self.peers.send(platform, "POST", "commands", url=target, body=body)
        if url is None:
            self.commands.update(command_id, result=body, delivery=delivery.as_json(), due_at=None)
        self.rt.bus.publish("cpo_sim.command_result", command_id=command_id, result=result)
        return delivery

    def _refusal(self, evse: Evse, token: dict[str, Any] | None = None) -> str | None:
        """Why the charger cannot take a start or reservation now (CommandResultType)."""
        if not evse.online:
            return "TIMEOUT"  # the charger does not answer
        if evse.out_of_order:
            return "EVSE_INOPERATIVE"
        if evse.busy or evse.waiting_start is not None:
            return "EVSE_OCCUPIED"
        if evse.reservation_id is not None:
            reservation = self._reservation_at(evse)
            if (
                reservation is None
                or token is None
                or not _same_token(reservation.start.token, token)
            ):
                return "EVSE_OCCUPIED"
        return None

    async def _start_result(self, pending: PendingStart) -> None:
        evse = self.evses[pending.evse_uid.casefold()]
        refusal = self._refusal(evse, pending.token)
        await self._deliver_result(pending.command_id, refusal or "ACCEPTED")
        if refusal is not None:
            return
        if self.presets.on("no-session-after-accept"):
            return  # OCPI-46: accepted, but the charger never starts
        evse.waiting_start = pending.command_id
        self.waiting[pending.command_id] = pending
        if evse.car is not None:
            await self._begin_session(evse, pending)
            return
        now = self.now()
        pending.lapse_at = now + timedelta(seconds=self.settings.plug_in_timeout)
        if self.settings.auto_plug_in_delay >= 0:
            pending.plug_in_at = now + timedelta(seconds=self.settings.auto_plug_in_delay)
        self._wait_for_car(evse, pending)
        self._save(evse)

    def _wait_for_car(self, evse: Evse, pending: PendingStart) -> None:
        """An accepted start waits for a car: it lapses at ``lapse_at``; the simulated driver
        plugs one in at ``plug_in_at``."""

        async def lapse() -> None:
            # No car within the connection timeout: the start lapses without a session
            # (mod_commands sequence "accepted, EV never plugged in").
            await self._drop_waiting(evse)

        assert pending.lapse_at is not None
        pending.timers.append(self.at(pending.lapse_at, lapse, "plug-in timeout"))
        if pending.plug_in_at is not None:

            async def driver() -> None:
                if evse.car is None and evse.waiting_start == pending.command_id:
                    await self.plug_in(evse.uid, driven=True)

            pending.timers.append(self.at(pending.plug_in_at, driver, "plug-in"))

    async def _drop_waiting(self, evse: Evse) -> None:
        """The start that waits at this EVSE will not happen (no car came, or a fault)."""
        pending = self.waiting.pop(evse.waiting_start or "", None)
        if pending is None:
            return
        evse.waiting_start = None
        pending.cancel()
        await self.evse_changed(evse)

    async def _reserve_result(
        self, pending: PendingStart, reservation_id: str, expires: datetime
    ) -> None:
        evse = self.evses[pending.evse_uid.casefold()]
        key = reservation_key(pending.platform_id, reservation_id)
        existing = self.reservations.get(key)
        if existing is not None:
            if existing.start.location_id.casefold() == pending.location_id.casefold():
                # The same reservation_id for the same location replaces the reservation.
                await self._replace_reservation(existing, pending, expires)
            else:
                await self._deliver_result(
                    pending.command_id,
                    "REJECTED",
                    f"reservation {reservation_id} is held at another location",
                )
            return
        refusal = self._refusal(evse)
        await self._deliver_result(pending.command_id, refusal or "ACCEPTED")
        if refusal is not None:
            return
        session_id = self.rt.ids.uuid()
        reservation = Reservation(reservation_id, pending, expires, session_id)
        self.reservations[key] = reservation
        evse.reservation_id = reservation_id
        reservation.timer = self._expiry_timer(reservation)
        # mod_sessions, Reservation: a RESERVE_NOW creates a Session with status RESERVATION.
        _, obj = self._evse_objects(evse)
        connectors = obj.get("connectors") or []
        connector = connectors[0]
        tariff = self._tariff_of(connector)
        session = self._new_session(
            session_id,
            pending,
            evse.uid,
            self._reserved_connector(evse),
            str((tariff or {}).get("currency", "EUR")),
            status_value="RESERVATION",
        )
        session["total_cost"] = {"before_taxes": Decimal("0.00"), "taxes": []}
        await self._put_session(session, pending)
        await self.evse_changed(evse)

    async def _replace_reservation(
        self, existing: Reservation, pending: PendingStart, expires: datetime
    ) -> None:
        """A RESERVE_NOW with the reservation_id of a reservation at the same location: the
        new expiry, EVSE and authorization_reference replace the old (mod_commands,
        ReserveNow); the Session follows (the last authorization_reference applies)."""
        old_evse = self.evses[existing.start.evse_uid.casefold()]
        new_evse = self.evses[pending.evse_uid.casefold()]
        if new_evse is not old_evse:
            refusal = self._refusal(new_evse)
            if refusal is not None:
                await self._deliver_result(pending.command_id, refusal)
                return
        if existing.timer is not None:
            existing.timer.cancel()
        existing.expiry, existing.start = expires, pending
        existing.timer = self._expiry_timer(existing)
        await self._deliver_result(pending.command_id, "ACCEPTED")
        old_evse.reservation_id = None
        new_evse.reservation_id = existing.reservation_id
        row = self.sessions.get(key_of(existing.session_id))
        if row is not None and row["object"]["status"] == "RESERVATION":
            session = row["object"]
            changes: dict[str, Any] = {}
            if session["evse_uid"] != new_evse.uid:
                changes["evse_uid"] = new_evse.uid
                changes["connector_id"] = self._reserved_connector(new_evse)
            reference = pending.authorization_reference
            if reference and reference != session.get("authorization_reference"):
                changes["authorization_reference"] = reference
            if changes:
                changes["last_updated"] = self.stamp()
                session.update(changes)
                auth_ref = _fold(session.get("authorization_reference"))
                self.sessions.save(key_of(session["id"]), session, auth_ref=auth_ref)
                await self._patch_session(session, row.get("platform_id"), dict(changes))
        await self.evse_changed(old_evse)
        await self.evse_changed(new_evse)

    def _reserved_connector(self, evse: Evse) -> str:
        """No connector is chosen yet: #NA is allowed for a reservation (mod_sessions), unless
        the EVSE has only one."""
        _, obj = self._evse_objects(evse)
        connectors = obj.get("connectors") or []
        return str(connectors[0]["id"]) if len(connectors) == 1 else "#NA"

    def _expiry_timer(self, reservation: Reservation) -> Timer:
        async def expire() -> None:
            if self.reservations.get(reservation.key) is reservation:
                await self._end_reservation(reservation, "expired")

        return self.at(reservation.expiry, expire, "reservation expiry")

    async def _end_reservation(self, reservation: Reservation, why: str) -> None:
        self.reservations.pop(reservation.key, None)
        if reservation.timer is not None:
            reservation.timer.cancel()
        evse = self.evses[reservation.start.evse_uid.casefold()]
        if evse.reservation_id == reservation.reservation_id:
            evse.reservation_id = None
        row = self.sessions.get(key_of(reservation.session_id))
        if row is not None and row["object"]["status"] == "RESERVATION":
            # A reservation that does not lead to charging ends COMPLETED (mod_sessions).
            session = row["object"]
            stamp = self.stamp()
            session.update(status="COMPLETED", end_date_time=stamp, last_updated=stamp)
            self.sessions.save(key_of(session["id"]), session, status="COMPLETED")
            await self._patch_session(
                session,
                row.get("platform_id"),
                {"status": "COMPLETED", "end_date_time": stamp, "last_updated": stamp},
            )
        log.info("reservation ended", reservation_id=reservation.reservation_id, why=why)
        await self.evse_changed(evse)

    # --- the car at the charger --------------------------------------------------------------

    def default_car(self) -> Car:
        s = self.settings
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
        evse = self.evse(evse_uid)
        if evse.car is not None:
            raise ControlFailure("already_plugged_in", f"a car is already plugged in at {evse.uid}")
        base = self.default_car()
        car = Car(
            battery_kwh if battery_kwh is not None else base.battery_kwh,
            soc if soc is not None else base.soc,
            max_power_kw if max_power_kw is not None else base.max_power_kw,
        )
        if connector_id is not None:
            _, obj = self._evse_objects(evse)
            if catalog.find_connector(obj, connector_id) is None:
                raise ControlFailure("not_found", f"no connector {connector_id} at {evse.uid}", 404)
        evse.plug_in(car, connector_id)
        if driven:
            self.driven.add(evse.uid.casefold())
        self._save(evse)
        self.rt.bus.publish("cpo_sim.plug_in", evse_uid=evse.uid, soc=car.soc)
        if evse.waiting_start is not None:
            pending = self.waiting.get(evse.waiting_start)
            if pending is not None:
                await self._begin_session(evse, pending)
        return evse

    async def unplug(self, evse_uid: str) -> Evse:
        evse = self.evse(evse_uid)
        if evse.car is None:
            raise ControlFailure("not_plugged_in", f"no car is plugged in at {evse.uid}")
        session_id = evse.session_id
        if session_id is not None and session_id in self.runs:
            self._advance(self.runs[session_id])
        evse.unplug()
        self.driven.discard(evse.uid.casefold())
        self.rt.bus.publish("cpo_sim.unplug", evse_uid=evse.uid)
        if session_id is not None:
            await self.end_session(session_id, "the car was unplugged")
        else:
            await self.evse_changed(evse)
        return evse

    async def ev_full(self, evse_uid: str) -> Evse:
        evse = self.evse(evse_uid)
        if evse.car is None:
            raise ControlFailure("not_plugged_in", f"no car is plugged in at {evse.uid}")
        if evse.session_id in self.runs:
            self._advance(self.runs[evse.session_id])  # charging counted up to now
        evse.car = Car(evse.car.battery_kwh, 100.0, evse.car.max_power_kw)
        self._save(evse)
        return evse

    async def set_fault(self, evse_uid: str, fault: str) -> Evse:
        """``offline`` (the charger loses its connection), ``out-of-order`` (it faults: a
        running session ends), or ``repair`` (both cleared)."""
        evse = self.evse(evse_uid)
        if fault == "offline":
            evse.online = False
        elif fault == "out-of-order":
            evse.out_of_order = True
            if evse.session_id is not None:
                await self.end_session(evse.session_id, "the EVSE went out of order")
            await self._drop_waiting(evse)
            reservation = self._reservation_at(evse)
            if reservation is not None:
                # A CPO-side cancellation: CANCELED_RESERVATION to the ReserveNow's
                # response_url (mod_commands; checklist 5.5 #47).
                await self._deliver_result(
                    reservation.start.command_id,
                    "CANCELED_RESERVATION",
                    "the EVSE is out of order",
                    url=reservation.start.response_url,
                )
                await self._end_reservation(reservation, "the EVSE went out of order")
        elif fault == "repair":
            evse.online = True
            evse.out_of_order = False
        else:
            raise ControlFailure("invalid_field", f"unknown fault {fault!r}", 400)
        await self.evse_changed(evse)
        return evse

    # --- sessions ----------------------------------------------------------------------------

    def _cdr_token(self, token: dict[str, Any]) -> dict[str, Any]:
        cdr_token = {
            k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
        }
        if self.presets.on("wrong-cdr-token"):
            # OCPI-35: the CPO's own card instead of the token of the START_SESSION.
            cdr_token.update(uid="SIMRFID0001", type="RFID", contract_id="NL-SIM-C00000001-X")
        return cdr_token

    def _new_session(
        self,
        session_id: str,
        pending: PendingStart,
        evse_uid: str,
        connector_id: str,
        currency: str,
        *,
        status_value: str,
    ) -> dict[str, Any]:
        stamp = self.stamp()
        session: dict[str, Any] = {
            "country_code": self.cc,
            "party_id": self.pid,
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

    def _owner(self, pending: PendingStart) -> Platform | None:
        """The platform that owns the token (its CredentialsRoles), else the one that sent
        the command."""
        token = pending.token
        owner = self.peers.owner_of(str(token["country_code"]), str(token["party_id"]))
        if owner is None:
            owner = self.peers.platforms.get(pending.platform_id)
        return owner

    async def _put_session(
        self,
        session: dict[str, Any],
        pending: PendingStart,
        context: dict[str, Any] | None = None,
    ) -> int | None:
        """PUT a new Session to the token owner; a PUT replaces the charging periods too."""
        owner = self._owner(pending)
        delivery: Delivery | None = None
        self.periods.clear(session["id"])
        if owner is not None and owner.registered and owner.version:
            delivery = await self.peers.send(
                owner,
                "PUT",
                "sessions",
                f"{self.cc}/{self.pid}/{session['id']}",
                body=catalog.session_for({**session, "charging_periods": []}, owner.version),
            )
        self.sessions.save(
            key_of(session["id"]),
            session,
            status=session["status"],
            platform_id=owner.id if owner else None,
            auth_ref=_fold(session.get("authorization_reference")),
            delivery=delivery.as_json() if delivery else None,
            context=context,
        )
        self.rt.bus.publish("cpo_sim.session", session_id=session["id"], status=session["status"])
        return owner.id if owner else None

    def session_view(self, session: dict[str, Any]) -> dict[str, Any]:
        """A stored Session with its charging periods, as the Sender interface returns it."""
        return {**session, "charging_periods": self.periods.of(session["id"])}

    async def _patch_session(
        self, session: dict[str, Any], platform_id: int | None, body: dict[str, Any]
    ) -> None:
        if self.presets.on("patch-without-last-updated"):
            body.pop("last_updated", None)  # OCPI-31
        platform = self.peers.platforms.get(platform_id) if platform_id else None
        if platform is None or not platform.registered or not platform.version:
            return
        if "total_cost" in body:
            body = catalog.session_for(body, platform.version)
        delivery = await self.peers.send(
            platform, "PATCH", "sessions", f"{self.cc}/{self.pid}/{session['id']}", body=body
        )
        self.sessions.update(key_of(session["id"]), delivery=delivery.as_json())

    async def _begin_session(self, evse: Evse, pending: PendingStart) -> None:
        self.waiting.pop(pending.command_id, None)
        pending.cancel()
        location, obj = self._evse_objects(evse)
        connector_id = pending.connector_id or evse.connector_id
        connectors = obj.get("connectors") or []
        connector = (
            catalog.find_connector(obj, connector_id) if connector_id else None
        ) or connectors[0]
        tariff = self._tariff_of(connector)
        if tariff is None:
            tariff = {"id": "#NA", "currency": "EUR", "elements": []}
        reservation = self._reservation_at(evse)
        if reservation is not None:
            self.reservations.pop(reservation.key, None)
            if reservation.timer is not None:
                reservation.timer.cancel()
        # A reservation that leads to charging becomes ACTIVE (mod_sessions, Reservation).
        session_id = reservation.session_id if reservation else self.rt.ids.uuid()
        session = self._new_session(
            session_id,
            pending,
            evse.uid,
            str(connector["id"]),
            str(tariff.get("currency", "EUR")),
            status_value="ACTIVE",
        )
        connector_kw = int(connector.get("max_electric_power") or 0) / 1000
        limit_kw = min(self.settings.charger_power_kw, connector_kw or evse.max_power_kw)
        run = SessionRun(
            session_id=session_id,
            evse=evse,
            tariff=tariff,
            start=self.now(),
            time_zone=str(location.get("time_zone") or "UTC"),
            limit_kw=limit_kw,
            stop_at=None
            if self.presets.on("cdr-over-authorization")
            else billing.stop_limit(tariff),
            last_at=self.now(),
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
        self.runs[session_id] = run
        run.session = session
        run.platform_id = await self._put_session(session, pending, context)
        self._next_tick(run, run.start)
        await self.evse_changed(evse)

    def _bill(self, run: SessionRun) -> billing.Bill:
        """The session's cost so far, from the charging periods as the CDR will carry them."""
        return billing.bill(
            run.tariff,
            run.cdr_periods,
            start=run.start,
            end=run.last_at,
            time_zone=run.time_zone,
            # cdr-over-authorization (PAYTER-06): max_price does not bound the total.
            bounded=not self.presets.on("cdr-over-authorization"),
        )

    def _advance(self, run: SessionRun) -> None:
        """Move the charger and its meter up to now, cutting charging periods where the car
        goes from charging to standing full (mod_cdrs: a new period at every moment relevant
        to the cost)."""
        now = self.now()
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

    async def _tick(self, session_id: str) -> None:
        run = self.runs.get(session_id)
        if run is None:
            return
        self._advance(run)
        bill = self._bill(run)
        if self._limit_reached(run, bill):
            await self.end_session(session_id, "the pre-authorized amount was reached")
            return
        if run.evse.online:
            # An offline charger sends nothing; the periods go with the next update.
            await self._push_progress(run, bill)
        if session_id in self.runs:
            self._next_tick(run, self.now())

    async def _push_progress(
        self, run: SessionRun, bill: billing.Bill, final: dict[str, Any] | None = None
    ) -> None:
        session = run.session
        stamp = self.stamp()
        periods, run.new_periods = run.new_periods, []
        session["kwh"] = billing.kwh(run.wh)
        session["total_cost"] = billing.price(bill.total)
        session["last_updated"] = stamp
        session.update(final or {})
        self.sessions.save(key_of(run.session_id), session, status=session["status"])
        self.periods.append(run.session_id, run.periods_stored, periods)
        run.periods_stored += len(periods)
        self._save(run.evse)
        body: dict[str, Any] = dict(final or {})
        body.update(kwh=session["kwh"], total_cost=session["total_cost"], last_updated=stamp)
        if periods:
            # A PATCH appends charging_periods (mod_sessions): only the new ones.
            body["charging_periods"] = periods
        await self._patch_session(session, run.platform_id, body)

    async def end_session(self, session_id: str, why: str) -> bool:
        """The session ends (remote stop, unplug, fault, limit, CPO): final PATCH, EVSE
        status, CDR."""
        run = self.runs.pop(session_id, None)
        if run is None:
            return False
        if run.timer is not None:
            run.timer.cancel()
        self._advance(run)
        bill = self._bill(run)
        stamp = self.stamp()
        await self._push_progress(run, bill, {"status": "COMPLETED", "end_date_time": stamp})
        evse = run.evse
        evse.end()
        log.info("session ended", session_id=session_id, why=why)
        self.rt.bus.publish("cpo_sim.session", session_id=session_id, status="COMPLETED", why=why)
        await self.evse_changed(evse)
        await self._send_cdr(run, bill)
        if evse.car is not None and self.settings.auto_plug_in_delay >= 0:
            # The simulated driver takes the car away after its session, also one plugged in
            # through the control API: a finished session leaves the charger free.
            self.driven.add(evse.uid.casefold())
            self._save(evse)
            self._driver_leaves(evse)
        return True

    def _driver_leaves(self, evse: Evse) -> None:
        """The simulated driver comes back and unplugs."""

        async def leave() -> None:
            if evse.car is not None and evse.session_id is None:
                await self.unplug(evse.uid)

        self.later(max(self.settings.auto_plug_in_delay, 0.0), leave, "unplug")

    # --- CDRs ----------------------------------------------------------------------------------

    def _cdr(
        self, run: SessionRun, bill: billing.Bill, session: dict[str, Any], context: dict[str, Any]
    ) -> dict[str, Any]:
        stamp = self.stamp()
        periods = copy.deepcopy(run.cdr_periods) or [
            # A CDR has at least one charging period (mod_cdrs, CDR.charging_periods +).
            {
                "start_date_time": session["start_date_time"],
                "dimensions": [{"type": "ENERGY", "volume": Decimal(0)}],
                "tariff_id": str(run.tariff.get("id")),
            }
        ]
        cdr: dict[str, Any] = {
            "country_code": self.cc,
            "party_id": self.pid,
            "id": "CDR-" + self.rt.ids.code(16),
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
        if self.settings.invoicing:
            # mod_payments: set means the CPO issued the invoice (checklist 5.7 #56).
            cdr["invoice_reference_id"] = "INV-" + self.rt.ids.code(12)
        cdr["last_updated"] = stamp
        return {k: v for k, v in cdr.items() if v is not None}

    async def _send_cdr(self, run: SessionRun, bill: billing.Bill) -> None:
        row = self.sessions.get(key_of(run.session_id))
        if row is None:
            return
        context = row.get("context") or {}
        cdr = self._cdr(run, bill, row["object"], context)
        platform_id = row.get("platform_id")
        platform = self.peers.platforms.get(platform_id) if platform_id else None
        delivery: Delivery | None = None
        if platform is not None and platform.registered and platform.version:
            # The CDR goes to the party that pays: the token owner (mod_cdrs).
            delivery = await self.peers.send(
                platform, "POST", "cdrs", body=catalog.cdr_for(cdr, platform.version)
            )
        self.cdrs.save(
            key_of(cdr["id"]),
            cdr,
            session_id=cdr["session_id"],
            platform_id=platform_id,
            auth_ref=_fold(cdr.get("authorization_reference")),
            delivery=delivery.as_json() if delivery else None,
        )
        self.rt.bus.publish("cpo_sim.cdr", cdr_id=cdr["id"], session_id=cdr["session_id"])

    # --- tokens (Receiver) ---------------------------------------------------------------------

    def token(self, cc: str, pid: str, uid: str, kind: str) -> dict[str, Any] | None:
        return self.tokens.object(key_of(cc, pid, uid, kind))

    def put_token(self, platform: Platform, token: dict[str, Any]) -> bool:
        key = key_of(token["country_code"], token["party_id"], token["uid"], token["type"])
        created = self.tokens.get(key) is None
        self.tokens.save(key, token, ident=token["uid"], platform_id=platform.id)
        return created

    # --- payments (Receiver) --------------------------------------------------------------------

    def terminal(self, terminal_id: str, platform: Platform | None = None) -> dict[str, Any] | None:
        """A terminal; with ``platform``, only if that platform's (the PTP that created it)."""
        return _owned(self.terminals.get(key_of(terminal_id)), platform)

    def receive_terminal(self, platform: Platform, terminal: dict[str, Any]) -> bool:
        key = key_of(terminal["terminal_id"])
        existing = self.terminals.get(key)
        if existing is not None and existing.get("platform_id") != platform.id:
            raise OcpiError(
                status.INVALID_PARAMETERS,
                f"terminal {terminal['terminal_id']} belongs to another platform",
            )
        created = existing is None
        stored = dict(terminal)
        if not stored.get("last_updated"):
            stored["last_updated"] = self.stamp()
        self.terminals.save(key, stored, ident=terminal["terminal_id"], platform_id=platform.id)
        self.rt.bus.publish("cpo_sim.terminal", terminal_id=terminal["terminal_id"])
        if self.settings.terminal_assignment != "none":
            self.later(
                self.settings.terminal_assignment_delay,
                lambda: self.assign_terminal(terminal["terminal_id"]),
                "terminal assignment",
            )
        return created

    def patch_terminal(self, platform: Platform, terminal_id: str, changes: dict[str, Any]) -> bool:
        row = self.terminals.get(key_of(terminal_id))
        if row is None or row.get("platform_id") != platform.id:
            return False
        terminal = {**row["object"], **changes}
        if "last_updated" not in changes:
            terminal["last_updated"] = self.stamp()
        self.terminals.save(key_of(terminal_id), terminal, ident=terminal["terminal_id"])
        return True

    def assignment(self) -> dict[str, list[str]]:
        """What a new terminal is assigned to (setting ``terminal_assignment``): EVSEs that
        take cards, or the Locations that have them."""
        rule = self.settings.terminal_assignment
        location_ids: list[str] = []
        evse_uids: list[str] = []
        for row in self.locations.rows():
            location = row["object"]
            card_evses = [e["uid"] for e in location.get("evses") or [] if catalog.takes_cards(e)]
            if card_evses:
                location_ids.append(location["id"])
                evse_uids.extend(card_evses)
        if rule == "locations":
            return {"location_ids": location_ids}
        if rule == "first-location":
            return {"location_ids": location_ids[:1]}
        if rule == "evses":
            return {"evse_uids": evse_uids}
        return {}

    def invoice_base_url(self) -> str:
        return self.settings.invoice_base_url or f"{self.rt.base_url}/invoices/"

    async def assign_terminal(self, terminal_id: str) -> Delivery | None:
        """PATCH the PTP's Terminal with location_ids/evse_uids (mod_payments, Sender
        interface of the PTP: the CPO assigns)."""
        row = self.terminals.get(key_of(terminal_id))
        if row is None:
            return None
        body: dict[str, Any] = self.assignment()
        if not body:
            return None
        if self.settings.invoicing:
            body["invoice_creator"] = "CPO"
            body["invoice_base_url"] = self.invoice_base_url()
        body["last_updated"] = self.stamp()
        if self.presets.on("patch-without-last-updated"):
            del body["last_updated"]  # OCPI-52b
        platform = self.peers.platforms.get(row["platform_id"])
        if platform is None or not platform.registered:
            delivery = Delivery(False, "PATCH", None, error="the platform is not registered")
        else:
            delivery = await self.peers.send(
                platform,
                "PATCH",
                "payments",
                f"terminals/{row['object']['terminal_id']}",
                body=body,
                role="SENDER",
            )
        terminal = row["object"]
        terminal.update({k: v for k, v in body.items()})
        self.terminals.save(
            key_of(terminal_id),
            terminal,
            ident=terminal["terminal_id"],
            assignment=delivery.as_json(),
        )
        return delivery

    def receive_fac(self, platform: Platform, fac: dict[str, Any]) -> bool:
        reference = str(fac["authorization_reference"])
        known = self.sessions.first(
            "auth_ref = ? and platform_id = ?", [reference.casefold(), platform.id]
        )
        if known is None:
            # Checklist 5.7 #57: the FAC names the authorization_reference of a session (of
            # this PTP: the one its START_SESSION carried).
            raise OcpiError(
                status.INVALID_PARAMETERS,
                f"no session with authorization_reference {reference!r}",
            )
        key = key_of(fac["id"])
        existing = self.facs.get(key)
        if existing is not None and existing.get("platform_id") != platform.id:
            raise OcpiError(status.INVALID_PARAMETERS, f"FAC id {fac['id']} is taken")
        created = existing is None
        self.facs.save(key, fac, platform_id=platform.id, auth_ref=reference.casefold())
        self.rt.bus.publish("cpo_sim.fac", fac_id=fac["id"], authorization_reference=reference)
        return created

    def fac(self, fac_id: str, platform: Platform | None = None) -> dict[str, Any] | None:
        return _owned(self.facs.get(key_of(fac_id)), platform)

    def invoice(self, authorization_reference: str) -> dict[str, Any] | None:
        """The invoice at invoice_base_url + authorization_reference (mod_payments,
        InvoiceCreator CPO)."""
        ref = authorization_reference.casefold()
        row = self.cdrs.first("auth_ref = ?", [ref])
        if row is None or not row["object"].get("invoice_reference_id"):
            return None
        cdr = row["object"]
        fac_row = self.facs.first("auth_ref = ?", [ref])
        fac = fac_row["object"] if fac_row else None
        return {
            "invoice_reference_id": cdr["invoice_reference_id"],
            "authorization_reference": cdr["authorization_reference"],
            "seller": self.identity.business_name,
            "cdr_id": cdr["id"],
            "session_id": cdr.get("session_id"),
            "location": cdr["cdr_location"],
            "start_date_time": cdr["start_date_time"],
            "end_date_time": cdr["end_date_time"],
            "total_energy": cdr["total_energy"],
            "total_cost": cdr["total_cost"],
            "currency": cdr["currency"],
            "payment": None
            if fac is None
            else {
                "captured": fac["total_costs"],
                "capture_status_code": fac["capture_status_code"],
                "eft_data": fac["eft_data"],
            },
        }


# --- helpers ----------------------------------------------------------------------------------


def _kw(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def _owned(row: dict[str, Any] | None, platform: Platform | None) -> dict[str, Any] | None:
    if row is None or (platform is not None and row.get("platform_id") != platform.id):
        return None
    return row["object"]


def _fold(value: Any) -> str | None:
    return None if value is None else str(value).casefold()


def _same_token(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(
        str(a.get(k, "")).casefold() == str(b.get(k, "")).casefold()
        for k in ("country_code", "party_id", "uid", "type")
    )


def _merge_cdr_period(
    periods: list[dict[str, Any]], stamp: str, dims: list[dict[str, Any]], tariff_id: str
) -> None:
    """CDR periods change only where the cost does (charging ↔ standing full): consecutive
    periods of the same kind are one CDR period. Session-only dimensions stay out."""
    kinds = [d["type"] for d in dims]
    if periods and [d["type"] for d in periods[-1]["dimensions"]] == kinds:
        for mine, new in zip(periods[-1]["dimensions"], dims, strict=True):
            if mine["type"] == "MAX_POWER":
                mine["volume"] = max(mine["volume"], new["volume"])
            else:
                mine["volume"] += new["volume"]
        return
    periods.append(
        {"start_date_time": stamp, "dimensions": copy.deepcopy(dims), "tariff_id": tariff_id}
    )
