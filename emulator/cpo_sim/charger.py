"""Simulated chargers and cars: pure state and arithmetic, no I/O and no clock.

An :class:`Evse` is one EVSE of the fixtures with what is physically going on at it: online
or not, out of order or not, a car plugged in (a :class:`Car` with a battery and a state of
charge), the session it serves, a reservation. Its OCPI status follows from that state
(:meth:`Evse.status`) with the values of the OCPI Status enum (mod_locations): OCPP's
"Preparing" has no OCPI counterpart, so a car plugged in without a session leaves the EVSE
AVAILABLE (it can still be started remotely), and an EVSE that lost its connection to the
backend is UNKNOWN ("also used when offline").

:func:`charge` advances a car by some seconds at a power limit with a simple curve: full power
up to 80 % state of charge, then a linear taper to 5 % of the car's maximum at 100 %. It
returns the time spent charging and, once the car is full, the time spent parked without
charging, split where that happens so that a new charging period can start there (mod_cdrs,
ChargingPeriod).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

TAPER_FROM = 80.0  # % state of charge where the curve starts to taper
TAPER_FLOOR = 0.05  # fraction of the car's maximum power accepted at 100 %
STEP = 10.0  # seconds per integration step


@dataclass(frozen=True)
class Car:
    battery_kwh: float
    soc: float  # state of charge, percent
    max_power_kw: float

    @property
    def full(self) -> bool:
        return self.soc >= 100.0

    def accepts_kw(self) -> float:
        """The power the car draws at its state of charge."""
        if self.full:
            return 0.0
        if self.soc <= TAPER_FROM:
            return self.max_power_kw
        share = (100.0 - self.soc) / (100.0 - TAPER_FROM)
        return self.max_power_kw * (TAPER_FLOOR + (1.0 - TAPER_FLOOR) * share)

    def as_json(self) -> dict[str, float]:
        return {"battery_kwh": self.battery_kwh, "soc": self.soc, "max_power_kw": self.max_power_kw}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Car:
        return cls(float(data["battery_kwh"]), float(data["soc"]), float(data["max_power_kw"]))


Kind = Literal["charging", "parking"]


@dataclass
class Segment:
    """A stretch of time in which the car either charges or stands full."""

    kind: Kind
    seconds: float
    energy_wh: float = 0.0
    max_power_kw: float = 0.0
    soc_end: float = 0.0


def charge(car: Car, limit_kw: float, seconds: float) -> tuple[Car, list[Segment]]:
    """Advance ``car`` by ``seconds`` at most ``limit_kw``; segments in time order."""
    segments: list[Segment] = []
    left = max(seconds, 0.0)
    while left > 1e-9:
        power = min(limit_kw, car.accepts_kw())
        if power <= 0.0:
            _extend(segments, Segment("parking", left, soc_end=car.soc))
            break
        dt = min(STEP, left)
        need_kwh = car.battery_kwh * (100.0 - car.soc) / 100.0
        got_kwh = power * dt / 3600.0
        if got_kwh >= need_kwh:
            # Full inside this step: charge up to that moment only.
            dt = need_kwh / power * 3600.0
            got_kwh = need_kwh
            car = replace(car, soc=100.0)
        else:
            car = replace(car, soc=min(100.0, car.soc + got_kwh / car.battery_kwh * 100.0))
        _extend(segments, Segment("charging", dt, got_kwh * 1000.0, power, car.soc))
        left -= dt
    return car, segments


def _extend(segments: list[Segment], new: Segment) -> None:
    if segments and segments[-1].kind == new.kind:
        last = segments[-1]
        last.seconds += new.seconds
        last.energy_wh += new.energy_wh
        last.max_power_kw = max(last.max_power_kw, new.max_power_kw)
        last.soc_end = new.soc_end
    elif new.seconds > 0:
        segments.append(new)


@dataclass
class Evse:
    """One simulated EVSE and what happens at it."""

    uid: str
    location_id: str
    max_power_kw: float  # the best of its connectors
    online: bool = True
    out_of_order: bool = False
    car: Car | None = None
    connector_id: str | None = None  # where the car is plugged in
    session_id: str | None = None
    reservation_id: str | None = None
    # A START_SESSION the charger accepted and that waits for a car (command id).
    waiting_start: str | None = None
    # A car that stays plugged in after its session keeps the EVSE in use until unplugged.
    occupied_after_session: bool = False

    def status(self) -> str:
        if not self.online:
            return "UNKNOWN"
        if self.out_of_order:
            return "OUTOFORDER"
        if self.busy:
            return "CHARGING"
        if self.reservation_id is not None:
            return "RESERVED"
        return "AVAILABLE"

    @property
    def usable(self) -> bool:
        return self.online and not self.out_of_order

    @property
    def busy(self) -> bool:
        return self.session_id is not None or self.occupied_after_session

    def plug_in(self, car: Car, connector_id: str | None) -> None:
        self.car = car
        self.connector_id = connector_id

    def unplug(self) -> None:
        self.car = None
        self.connector_id = None
        self.occupied_after_session = False

    def begin(self, session_id: str) -> None:
        self.session_id = session_id
        self.waiting_start = None
        self.reservation_id = None

    def end(self) -> None:
        """The session is over; a car still plugged in keeps the EVSE occupied."""
        self.session_id = None
        self.occupied_after_session = self.car is not None

    # What survives a restart: the physical state (the uid and location come from the
    # fixtures, the power from the connectors).
    _KEPT = (
        "online",
        "out_of_order",
        "connector_id",
        "session_id",
        "reservation_id",
        "waiting_start",
        "occupied_after_session",
    )

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = {name: getattr(self, name) for name in self._KEPT}
        state["car"] = None if self.car is None else self.car.as_json()
        return state

    def restore(self, state: dict[str, Any]) -> None:
        for name in self._KEPT:
            if name in state:
                setattr(self, name, state[name])
        self.car = None if state.get("car") is None else Car.from_json(state["car"])

    def describe(self) -> dict[str, object]:
        return {
            "evse_uid": self.uid,
            "location_id": self.location_id,
            "status": self.status(),
            "online": self.online,
            "out_of_order": self.out_of_order,
            "car": None
            if self.car is None
            else {
                "battery_kwh": self.car.battery_kwh,
                "soc": round(self.car.soc, 2),
                "max_power_kw": self.car.max_power_kw,
                "connector_id": self.connector_id,
            },
            "session_id": self.session_id,
            "reservation_id": self.reservation_id,
            "waiting_start": self.waiting_start,
            "max_power_kw": self.max_power_kw,
        }
