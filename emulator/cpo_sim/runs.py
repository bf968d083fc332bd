"""What the simulated CPO's backend keeps in flight, and the small values its parts share:
a command's synchronous answer and refusal, the place a command names, a start waiting for
the car, a reservation, a charging session's run.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from emulator.clock import Timer
from emulator.cpo_sim.charger import Evse
from emulator.cpo_sim.state import ObjectRow
from emulator.ocpi import status
from emulator.ocpi.platforms import Platform


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


# --- helpers ----------------------------------------------------------------------------------


def _kw(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def _owned(row: ObjectRow | None, platform: Platform | None) -> dict[str, Any] | None:
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
