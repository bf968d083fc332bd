"""Conformance checks on what a CPO pushes or returns (checklist 5.3-5.4 of spec/ocpi.md).

Each check returns :class:`Problem` s; the caller records them as findings (on the exchange
they came from) and decides whether the message is refused. Checks never raise. Each notes the
rules it checks (:mod:`emulator.coverage`): the report counts a rule as passed only where its
check ran.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from emulator.coverage import checked, checks
from emulator.findings import Problem
from emulator.ocpi.types import ci_equal, parse_datetime_or_none

if TYPE_CHECKING:
    from emulator.ptp.commands import CommandRecord

SESSION_TRANSITIONS = {
    "PENDING": {"PENDING", "ACTIVE", "COMPLETED", "INVALID", "RESERVATION"},
    "RESERVATION": {"RESERVATION", "ACTIVE", "COMPLETED", "INVALID"},
    "ACTIVE": {"ACTIVE", "COMPLETED", "INVALID"},
    "COMPLETED": {"COMPLETED", "INVALID"},
    "INVALID": {"INVALID"},
}

CARD_PAYMENT_CAPABILITIES = (
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
)


# --- ownership and ids (5.4 #28, #29) -------------------------------------------------------


@checks("OCPI-28", "OCPI-29")
def check_url_matches(
    body: dict[str, Any], url_cc: str, url_pid: str, url_id: str, id_field: str = "id"
) -> list[Problem]:
    out = []
    if "country_code" in body and not ci_equal(str(body["country_code"]), url_cc):
        out.append(
            Problem(
                "OCPI-28",
                f"URL country_code {url_cc!r} differs from the object's {body['country_code']!r}",
                "/country_code",
            )
        )
    if "party_id" in body and not ci_equal(str(body["party_id"]), url_pid):
        out.append(
            Problem(
                "OCPI-28",
                f"URL party_id {url_pid!r} differs from the object's {body['party_id']!r}",
                "/party_id",
            )
        )
    if id_field in body and not ci_equal(str(body[id_field]), url_id):
        out.append(
            Problem(
                "OCPI-29",
                f"URL id {url_id!r} differs from the object's {id_field} {body[id_field]!r}",
                f"/{id_field}",
            )
        )
    return out


# --- locations (5.3 #25, 5.1 #12) ------------------------------------------------------------


@checks("OCPI-25", "OCPI-12")
def check_location_tree(location: dict[str, Any]) -> list[Problem]:
    """Children's last_updated never later than their parent's (changes bump parents)."""
    out = []
    loc_lu = parse_datetime_or_none(location.get("last_updated"))
    for i, evse in enumerate(location.get("evses") or []):
        evse_lu = parse_datetime_or_none(evse.get("last_updated"))
        if loc_lu and evse_lu and evse_lu > loc_lu:
            out.append(
                Problem(
                    "OCPI-25",
                    f"EVSE {evse.get('uid')} last_updated is later than "
                    "its Location's: an EVSE change must bump the Location",
                    f"/evses/{i}/last_updated",
                )
            )
        for j, conn in enumerate(evse.get("connectors") or []):
            conn_lu = parse_datetime_or_none(conn.get("last_updated"))
            if evse_lu and conn_lu and conn_lu > evse_lu:
                out.append(
                    Problem(
                        "OCPI-25",
                        f"Connector {evse.get('uid')}/{conn.get('id')} "
                        "last_updated is later than its EVSE's",
                        f"/evses/{i}/connectors/{j}/last_updated",
                    )
                )
        for field in ("evse_id", "uid"):
            if evse.get(field) == "#NA":
                out.append(
                    Problem(
                        "OCPI-12",
                        f"EVSE {field} is '#NA'; only allowed where the spec says so",
                        f"/evses/{i}/{field}",
                    )
                )
    return out


@checks("OCPI-54b")
def check_card_payment_evse(evse: dict[str, Any], where: str) -> list[Problem]:
    """What Payter's terminal needs of an assigned EVSE (checklist 5.7 #54)."""
    caps = set(evse.get("capabilities") or [])
    out = []
    if "REMOTE_START_STOP_CAPABLE" not in caps:
        out.append(
            Problem(
                "OCPI-54b",
                f"{where} lacks capability REMOTE_START_STOP_CAPABLE: the "
                "terminal starts sessions with START_SESSION",
            )
        )
    if not caps & set(CARD_PAYMENT_CAPABILITIES):
        out.append(
            Problem(
                "OCPI-54b",
                f"{where} has none of the card-payment capabilities "
                f"({', '.join(CARD_PAYMENT_CAPABILITIES)})",
            )
        )
    return out


# --- sessions (5.4 #33-#36) -----------------------------------------------------------------


def check_session_change(
    old: dict[str, Any] | None, new: dict[str, Any], *, patch: dict[str, Any] | None = None
) -> list[Problem]:
    out = []
    if old is not None:
        checked("OCPI-34", "OCPI-34b")
        before, after = old.get("status"), new.get("status")
        if before in SESSION_TRANSITIONS and after and after not in SESSION_TRANSITIONS[before]:
            out.append(
                Problem(
                    "OCPI-34",
                    f"session status {before} → {after} is not a valid transition",
                    "/status",
                )
            )
        if patch is not None and "kwh" in patch:
            try:
                if float(new.get("kwh") or 0) < float(old.get("kwh") or 0):
                    out.append(
                        Problem(
                            "OCPI-34",
                            f"kwh decreased from {old.get('kwh')} to {new.get('kwh')} in a PATCH",
                            "/kwh",
                        )
                    )
            except (TypeError, ValueError):
                pass
        if (
            before == "PENDING"
            and after == "ACTIVE"
            and old.get("start_date_time") == new.get("start_date_time")
            and patch is not None
            and "start_date_time" not in patch
        ):
            out.append(
                Problem(
                    "OCPI-34b",
                    "start_date_time was not updated when the session became ACTIVE",
                    "/start_date_time",
                )
            )
    out.extend(check_periods(new.get("charging_periods") or [], "/charging_periods"))
    return out


@checks("OCPI-33")
def check_periods(periods: list[dict[str, Any]], pointer: str) -> list[Problem]:
    out = []
    previous: datetime | None = None
    for i, period in enumerate(periods):
        start = parse_datetime_or_none(period.get("start_date_time"))
        if start is not None and previous is not None and start <= previous:
            out.append(
                Problem(
                    "OCPI-33",
                    f"charging period {i} starts at or before the previous "
                    "one (periods must be chronological, without overlap)",
                    f"{pointer}/{i}/start_date_time",
                )
            )
        previous = start or previous
    return out


@checks("OCPI-38")
def check_session_energy(session: dict[str, Any]) -> list[Problem]:
    """ENERGY volumes that look like Wh (the spec's own session example has them): valid, so
    accepted, but worth a warning (checklist 5.4 #38)."""
    out = []
    for i, period in enumerate(session.get("charging_periods") or []):
        for j, dim in enumerate(period.get("dimensions") or []):
            if not isinstance(dim, dict) or dim.get("type") != "ENERGY":
                continue
            try:
                volume = float(str(dim.get("volume")))
            except ValueError:
                continue
            if volume > 1000:
                out.append(
                    Problem(
                        "OCPI-38",
                        f"Session ENERGY volume {dim.get('volume')} looks like Wh; ENERGY is in "
                        "kWh",
                        f"/charging_periods/{i}/dimensions/{j}/volume",
                    )
                )
    return out


@checks("OCPI-39")
def check_cdr_location(cdr: dict[str, Any], session: dict[str, Any]) -> list[Problem]:
    """The CDR's cdr_location is where its Session took place (checklist 5.4 #39)."""
    where = cdr.get("cdr_location") or {}
    out = []
    for field, theirs in (
        ("id", "location_id"),
        ("evse_uid", "evse_uid"),
        ("connector_id", "connector_id"),
    ):
        mine, known = where.get(field), session.get(theirs)
        if mine is None or known is None or known == "#NA" or ci_equal(str(mine), str(known)):
            continue
        out.append(
            Problem(
                "OCPI-39",
                f"CDR cdr_location.{field} is {mine!r}; its Session {session.get('id')} has "
                f"{theirs} {known!r}",
                f"/cdr_location/{field}",
            )
        )
    return out


@checks("OCPI-35")
def check_token_echo(obj: dict[str, Any], token: dict[str, Any], what: str) -> list[Problem]:
    """The Session/CDR cdr_token is the token we sent in START_SESSION (5.4 #35)."""
    cdr_token = obj.get("cdr_token") or {}
    out = []
    for field in ("uid", "type", "contract_id", "country_code", "party_id"):
        if field not in token:
            continue
        theirs = cdr_token.get(field)
        if theirs is None or not ci_equal(str(theirs), str(token[field])):
            out.append(
                Problem(
                    "OCPI-35",
                    f"{what} cdr_token.{field} is {theirs!r}; the "
                    f"START_SESSION token had {token[field]!r}",
                    f"/cdr_token/{field}",
                )
            )
    if obj.get("auth_method") not in (None, "COMMAND"):
        out.append(
            Problem(
                "OCPI-35",
                f"{what} auth_method is {obj.get('auth_method')!r}; a "
                "session started by START_SESSION has COMMAND",
                "/auth_method",
            )
        )
    return out


@checks("OCPI-36")
def check_authorization_reference(obj: dict[str, Any], expected: str, what: str) -> list[Problem]:
    ref = obj.get("authorization_reference")
    if ref is None or not ci_equal(str(ref), expected):
        return [
            Problem(
                "OCPI-36",
                f"{what} authorization_reference is {ref!r}; START_SESSION gave {expected!r}",
                "/authorization_reference",
            )
        ]
    return []


def check_against_start(obj: dict[str, Any], command: CommandRecord, what: str) -> list[Problem]:
    """A Session or CDR of a session we started: the START_SESSION's authorization_reference
    and token echoed (checklist 5.4 #35, #36)."""
    out: list[Problem] = []
    if reference := command["authorization_reference"]:
        out.extend(check_authorization_reference(obj, reference, what))
    token = (command["request"] or {}).get("token") or {}
    if token.get("type") in ("AD_HOC_USER", "APP_USER"):
        # Its Session came without a real-time authorization of the command's token (one
        # would have been OCPI-45's finding when it was asked for).
        checked("OCPI-45")
    out.extend(check_token_echo(obj, token, what))
    return out


# Clocks differ; a day ahead of ours is no longer a clock that is a little fast.
FUTURE_TOLERANCE = timedelta(days=1)


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _negative_amounts(price: Any) -> bool:
    """Whether a Price (any version's shape, or a 2.1.1 number) has a negative amount."""
    if isinstance(price, dict):
        values = [price.get(k) for k in ("before_taxes", "excl_vat", "incl_vat")]
        values += [t.get("amount") for t in price.get("taxes") or [] if isinstance(t, dict)]
    else:
        values = [price]
    return any((n := _number(v)) is not None and n < 0 for v in values)


def check_plausible(obj: dict[str, Any], what: str, now: datetime) -> list[Problem]:
    """Values no charging session can have: negative energy, durations or costs, times in the
    future, an end before the start. The spec bounds none of them, so they are information
    (OCPI-38b), except a negative cost in a CDR that is not a credit CDR: only a credit CDR's
    total_cost holds negative amounts (mod_cdrs §Credit CDRs; checklist 5.4 #37 [W])."""
    out: list[Problem] = []
    checked("OCPI-38b")
    if what == "CDR":
        checked("OCPI-37b")  # only a credit CDR has negative costs
    credit = bool(obj.get("credit"))
    for name in ("kwh", "total_energy", "total_time", "total_parking_time"):
        if name not in obj:
            continue
        number = _number(obj[name])
        if number is not None and number < 0 and not credit:
            out.append(Problem("OCPI-38b", f"{what} {name} is negative ({obj[name]})", f"/{name}"))
    for name in ("total_cost", "total_energy_cost", "total_time_cost", "total_parking_cost"):
        if obj.get(name) is None or not _negative_amounts(obj[name]):
            continue
        if what == "CDR" and not credit:
            out.append(
                Problem(
                    "OCPI-37b",
                    f"CDR {name} is negative but the CDR is not a credit CDR (credit: true); "
                    "only a credit CDR's total_cost holds negative amounts",
                    f"/{name}",
                )
            )
        elif what != "CDR":
            out.append(Problem("OCPI-38b", f"{what} {name} is negative", f"/{name}"))
    if credit and obj.get("total_cost") is not None:
        total = obj["total_cost"]
        positive = _number(
            total.get("before_taxes", total.get("excl_vat")) if isinstance(total, dict) else total
        )
        if positive is not None and positive > 0:
            out.append(
                Problem(
                    "OCPI-37b",
                    "credit CDR total_cost is not negative; a credit CDR negates the original's "
                    "total_cost",
                    "/total_cost",
                )
            )
    start = parse_datetime_or_none(obj.get("start_date_time"))
    end = parse_datetime_or_none(obj.get("end_date_time"))
    for name, moment in (("start_date_time", start), ("end_date_time", end)):
        if moment is not None and moment > now + FUTURE_TOLERANCE:
            out.append(
                Problem(
                    "OCPI-38b",
                    f"{what} {name} {obj[name]} is in the future",
                    f"/{name}",
                )
            )
    if start is not None and end is not None and end < start:
        out.append(
            Problem(
                "OCPI-38b",
                f"{what} end_date_time {obj['end_date_time']} is before its start_date_time "
                f"{obj['start_date_time']}",
                "/end_date_time",
            )
        )
    return out
