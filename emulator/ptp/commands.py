"""Commands, with the emulator as Sender (mod_commands.asciidoc; checklist 5.5).

Each command gets its own ``response_url`` (``{commands endpoint}/{COMMAND}/{uid}``), so a
CommandResult is matched to exactly one command. The synchronous CommandResponse is checked;
when it is ACCEPTED a timer on the clock waits ``timeout`` seconds (plus a grace) for the
CommandResult. The spec lets the result never come ("might never be send"): a missing or late
result is noted once (OCPI-43c, info), a result to a URL we never gave out is OCPI-43.

The result may arrive in any order with the synchronous answer: before it (the CPO POSTs the
result, then answers the command), during it, twice, or for a command we do not know. Every
order ends the same way as a result after the answer: the command record is written once with
the result, and the answer, when it comes later, fills in the response without undoing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypedDict, cast

from emulator import logs
from emulator.ocpi import status
from emulator.ocpi.client import PeerError
from emulator.ocpi.models.base import validate_peer_object
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.platforms import Platform
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import OcpiRequest, OcpiResult
from emulator.ocpi.types import collect_notes, format_datetime, parse_datetime
from emulator.ptp.objects import StoredObject
from emulator.rules import RuleId
from emulator.store import TableSpec

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

log = logs.get_logger("emulator.ptp.commands")

COMMANDS = TableSpec(
    name="ocpi_commands",
    columns={
        "id": str,
        "platform_id": int,
        "version": str,
        "command": str,
        "request": str,
        "response": str,
        "response_status": int,
        "sent_at": str,
        "timeout_at": str,
        "result": str,
        "result_at": str,
        "state": str,
        "authorization_reference": str,
        "exchange_id": int,
        # RESERVE_NOW / CANCEL_RESERVATION: which reservation.
        "reservation_id": str,
        # A result after the first (CANCELED_RESERVATION to a ReserveNow's response_url).
        "later_result": str,
        # What must still follow the command, and by when (see Commands.expect).
        "expect": str,
        "expect_due_at": str,
    },
    json_columns=frozenset({"request", "response", "result", "later_result"}),
    indexes=(("platform_id",), ("authorization_reference",)),
)


class CommandRecord(TypedDict):
    """A command Payter sent to a CPO, as ``ocpi_commands`` holds it: every column, None
    where not known yet. ``request``, ``response``, ``result``: the JSON as sent and received."""

    id: str
    platform_id: int
    version: str | None
    command: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    response_status: int | None
    sent_at: str
    timeout_at: str | None
    result: dict[str, Any] | None
    result_at: str | None
    state: str
    authorization_reference: str | None
    exchange_id: int | None
    reservation_id: str | None
    later_result: dict[str, Any] | None
    expect: str | None
    expect_due_at: str | None


# Terminal states of a command record.
SENDING = "SENDING"
UNREACHABLE = "UNREACHABLE"  # the CPO could not be reached / answered garbage
ERROR = "ERROR"  # OCPI error status on the command POST
WAITING = "WAITING"  # ACCEPTED, waiting for the CommandResult
NO_RESULT = "NO_RESULT"  # ACCEPTED, result never came within timeout

# What a command's record can still expect (column ``expect``), each with a deadline:
EXPECT_SESSION = "SESSION"  # an ACCEPTED START_SESSION: its Session (checklist 5.7 #55)
EXPECT_CDR = "CDR"  # its Session COMPLETED: the CDR, POSTed to us (5.7 #55)
EXPECT_CANCELED = "CANCELED_RESERVATION"  # a RESERVE_NOW cancelled: its result (5.5 #47)
# The rule whose check an expectation's deadline makes.
_EXPECTATION_RULE: dict[str, RuleId] = {
    EXPECT_SESSION: "OCPI-46",
    EXPECT_CDR: "OCPI-55",
    EXPECT_CANCELED: "OCPI-47",
}

# Commands whose Sessions (and CDRs) we follow.
STARTING = ("START_SESSION", "RESERVE_NOW")

Listener = Callable[[CommandRecord], Awaitable[None] | None]
ExpectationListener = Callable[[CommandRecord, str], Awaitable[None] | None]
# (``Commands.list`` hides the builtin inside the class)
Records = list[CommandRecord]
Objects = list[StoredObject]


class Commands:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self.rt.store.register(COMMANDS)
        # Sessions and CDRs find their command by authorization_reference, a CiString: an
        # index on the upper-cased value keeps that lookup O(log n) per push.
        self.rt.store.execute(
            "create index if not exists idx_ocpi_commands_upper_ref "
            "on ocpi_commands(upper(authorization_reference))"
        )
        self.listeners: list[Listener] = []
        # Told (record, what) when what an accepted command expects (EXPECT_*) is overdue: the
        # journey voids or captures on the same deadline instead of watching it again.
        self.expectation_listeners: list[ExpectationListener] = []
        self._timers: dict[str, Any] = {}

    def get(self, command_id: str) -> CommandRecord | None:
        return cast("CommandRecord | None", self.rt.store.get("ocpi_commands", command_id))

    def list(self, platform_id: int | None = None) -> Records:
        where, params = (
            ("platform_id = ?", [platform_id]) if platform_id is not None else (None, [])
        )
        return cast(Records, self.rt.store.rows("ocpi_commands", where, params, order_by="sent_at"))

    def _first(self, where: str, params: Sequence[Any]) -> CommandRecord | None:
        found = self.rt.store.first("ocpi_commands", where, params, order_by="sent_at desc")
        return cast("CommandRecord | None", found)

    def start_for(self, obj: dict[str, Any]) -> CommandRecord | None:
        """The START_SESSION (or RESERVE_NOW) a Session or CDR belongs to: by
        authorization_reference, else by the AD_HOC_USER token we issued for it."""
        ref = obj.get("authorization_reference")
        if ref:
            found = self._first(
                "upper(authorization_reference) = ? and command in (?, ?)",
                [str(ref).upper(), *STARTING],
            )
            if found is not None:
                return found
        uid = (obj.get("cdr_token") or {}).get("uid") or obj.get("auth_id")
        issued = self.ptp.tokens.find(str(uid), None) if uid else None
        if issued is None or not issued.get("authorization_reference"):
            return None
        return self._first(
            "authorization_reference = ? and command in (?, ?)",
            [issued["authorization_reference"], *STARTING],
        )

    def _objects_of(self, table: str, command: CommandRecord) -> Objects:
        """Sessions or CDRs (``table``) of a START_SESSION: same authorization_reference, or
        charged to the token issued for it."""
        clauses, params = [], []
        if command.get("authorization_reference"):
            clauses.append("upper(authorization_reference) = ?")
            params.append(str(command["authorization_reference"]).upper())
        uid = ((command.get("request") or {}).get("token") or {}).get("uid")
        if uid:
            clauses.append("token_uid = ?")
            params.append(str(uid).upper())
        if not clauses:
            return []
        # Without platform_id in the query, SQLite uses the two indexes (OR optimisation).
        rows = cast(Objects, self.rt.store.rows(table, " or ".join(clauses), params))
        return [r for r in rows if r["platform_id"] == command["platform_id"]]

    def response_url(self, platform: Platform, command: str, uid: str) -> str:
        version = platform.version or "2.2.1"
        return f"{self.ptp.node.server.endpoint_url(version, 'commands')}/{command}/{uid}"

    async def send(self, platform: Platform, command: str, body: dict[str, Any]) -> CommandRecord:
        """POST a command to the CPO's Commands Receiver; returns the command record."""
        uid = self.rt.ids.uuid()
        body = {**body, "response_url": self.response_url(platform, command, uid)}
        now = self.rt.now()
        record: dict[str, Any] = {
            "id": uid,
            "platform_id": platform.id,
            "version": platform.version,
            "command": command,
            "request": body,
            "sent_at": format_datetime(now),
            "state": SENDING,
            "authorization_reference": body.get("authorization_reference"),
            "reservation_id": body.get("reservation_id"),
        }
        self.rt.store.insert("ocpi_commands", record)
        try:
            reply = await self.ptp.node.client.call(
                platform, "POST", "commands", command, role="RECEIVER", body=body, expect="object"
            )
        except PeerError as exc:
            failed: dict[str, Any] = {
                "response": {"error": exc.message},
                "exchange_id": exc.exchange_id,
            }
            if not self._has_result(uid):
                failed["state"] = UNREACHABLE
            return await self._update(uid, **failed)
        changes: dict[str, Any] = {
            "response": reply.envelope,
            "response_status": reply.status_code,
            "exchange_id": reply.exchange_id,
        }
        data = command_response(reply.data)
        version = platform.version or "2.2.1"
        response_type = None
        success = status.is_success(reply.status_code)
        if data is not None:
            response_type = self._check_response(platform, reply.exchange_id, version, data)
        elif success and isinstance(reply.data, list):
            # data is a list, not the object: OCPI-06b (recorded by the client) says so.
            self.rt.coverage.not_checked(
                "OCPI-42",
                platform.id,
                f"OCPI-06b ({command} answered with data as {_kind(reply.data)})",
            )
        elif success:
            self.rt.findings.record(
                "OCPI-42",
                f"{command}: the answer has no CommandResponse in data",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
                pointer="/data",
            )
        if not success and response_type == "ACCEPTED":
            # With an error status the data is unspecified (status_codes.asciidoc): an error
            # is not an acceptance.
            response_type = None
        if command == "START_SESSION" and response_type is not None:
            self._check_start_response(platform, reply.exchange_id, body, response_type, data)
        current = self.get(uid)
        earlier = current["result"] if current is not None else None
        if earlier is not None:
            # The CommandResult came before (or while) the answer: it stands. A result after
            # a REJECTED/NOT_SUPPORTED answer is noted, as when it comes after the answer.
            if response_type not in (None, "ACCEPTED"):
                self.rt.findings.record(
                    "OCPI-43b",
                    f"a CommandResult ({earlier.get('result')}) came for {command} "
                    f"{uid}, which was answered {response_type}; a result follows ACCEPTED",
                    platform_id=platform.id,
                    exchange_id=reply.exchange_id,
                )
            return await self._update(uid, **changes)
        if not success and response_type is None:
            changes["state"] = ERROR
        elif response_type == "ACCEPTED":
            timeout = _int(data.get("timeout")) if data is not None else None
            wait = timeout if timeout is not None else self.ptp.settings.command_result_timeout
            due = now + timedelta(seconds=wait + self.ptp.settings.command_result_grace)
            changes["state"] = WAITING
            changes["timeout_at"] = format_datetime(due)
            self._timers[uid] = self.rt.clock.call_at(
                due, lambda: self._timed_out(uid), name=f"command-timeout-{uid}"
            )
        else:
            changes["state"] = response_type or ERROR
        return await self._update(uid, **changes)

    def _check_start_response(
        self,
        platform: Platform,
        exchange_id: int,
        body: dict[str, Any],
        response_type: str,
        data: Any,
    ) -> None:
        """What the CPO answered to a START_SESSION, against what its Locations say
        (checklist 5.5 #44, 5.7 #55)."""
        location_id, evse_uid = body.get("location_id"), body.get("evse_uid")
        found = (
            self.ptp.mirror.evse(str(location_id), str(evse_uid), platform.id) if evse_uid else None
        )
        evse = found[1] if found else {}
        record = self.rt.findings.record
        if response_type == "ACCEPTED":
            self.rt.coverage.ran("OCPI-44", platform.id)
            if evse and not body.get("connector_id"):
                if "START_SESSION_CONNECTOR_REQUIRED" in (evse.get("capabilities") or []):
                    record(
                        "OCPI-44",
                        f"START_SESSION without connector_id was ACCEPTED at EVSE {evse_uid}, "
                        "which has START_SESSION_CONNECTOR_REQUIRED: it should be REJECTED "
                        "(or answered with a clear message)",
                        platform_id=platform.id,
                        exchange_id=exchange_id,
                    )
            if body.get("connector_id") and not evse_uid:
                record(
                    "OCPI-44",
                    "START_SESSION with a connector_id but no evse_uid was ACCEPTED; evse_uid "
                    "is required when connector_id is given",
                    platform_id=platform.id,
                    exchange_id=exchange_id,
                )
        elif response_type == "REJECTED" and evse.get("status") == "AVAILABLE":
            if self.ptp.uses_payments(platform):
                self.rt.coverage.ran("OCPI-55", platform.id)
                said = _message_text(data)
                record(
                    "OCPI-55",
                    f"START_SESSION at EVSE {evse_uid}, AVAILABLE in the CPO's Locations, was "
                    f"REJECTED{f' ({said})' if said else ''}: the driver paid (pre-authorized) "
                    "and no session can follow",
                    platform_id=platform.id,
                    exchange_id=exchange_id,
                )

    def _has_result(self, uid: str) -> bool:
        record = self.get(uid)
        return record is not None and record.get("result") is not None

    def _check_response(
        self, platform: Platform, exchange_id: int, version: str, data: dict[str, Any]
    ) -> str | None:
        model = model_for(version, "CommandResponse")
        with collect_notes() as notes:
            try:
                parsed = validate_peer_object(model, data).dump()
            except Exception as exc:
                self.rt.findings.record(
                    "OCPI-42",
                    f"invalid CommandResponse: {_first_line(exc)}",
                    platform_id=platform.id,
                    exchange_id=exchange_id,
                    pointer="/data",
                )
                result = data.get("result")
                return result if isinstance(result, str) else None
        for n in notes:
            self.rt.findings.record(
                n.rule,
                f"CommandResponse: {n.message}",
                platform_id=platform.id,
                exchange_id=exchange_id,
            )
        self.rt.coverage.ran("OCPI-42", platform.id)
        return str(parsed.get("result"))

    async def _update(self, uid: str, **changes: Any) -> CommandRecord:
        self.rt.store.update("ocpi_commands", uid, changes)
        record = self.get(uid)
        assert record is not None
        self.rt.bus.publish(
            "ocpi.command",
            id=uid,
            command=record["command"],
            state=record["state"],
            authorization_reference=record.get("authorization_reference"),
            result=(record.get("result") or {}).get("result"),
        )
        for listener in self.listeners:
            outcome = listener(record)
            if outcome is not None:
                await outcome
        return record

    async def _timed_out(self, uid: str) -> None:
        self._timers.pop(uid, None)
        record = self.get(uid)
        if record is None or record["state"] != WAITING:
            return
        # mod_commands: without a result within the timeout the eMSP "can assume that the
        # message might never be send": noted once, not a defect. A late result adds nothing.
        self.rt.findings.record(
            "OCPI-43c",
            f"{record['command']} was ACCEPTED but no CommandResult reached our response_url "
            f"within the timeout ({record['timeout_at']})",
            platform_id=record["platform_id"],
            exchange_id=record.get("exchange_id"),
        )
        await self._update(uid, state=NO_RESULT)

    async def receive_result(self, req: OcpiRequest) -> OcpiResult:
        """POST {response_url}: the CPO's asynchronous CommandResult."""
        command, uid = req.params["command"], req.params["uid"]
        record = self.get(uid)
        if record is None or record["command"] != command.upper():
            req.finding(
                "OCPI-43",
                f"CommandResult POSTed to {req.http.path}, which is not a response_url we gave out",
            )
            raise OcpiError(
                status.CLIENT_ERROR,
                f"unknown response_url: no {command.upper()} command {uid} was sent",
                http_status=404,
            )
        # The result came to our response_url (#43), at a time that can be judged (#43c),
        # after an answer whose type can be judged (#43b).
        req.rt.coverage.ran(["OCPI-43", "OCPI-43b", "OCPI-43c"], record["platform_id"])
        version = req.version or record["version"] or "2.2.1"
        name = "CommandResponse" if version == "2.1.1" else "CommandResult"
        result = req.parse(model_for(version, name), what=name).dump()
        now = self.rt.now()
        earlier = record["result"]
        if earlier is not None:
            first = earlier.get("result")
            if (
                record["command"] == "RESERVE_NOW"
                and first == "ACCEPTED"
                and record.get("later_result") is None
            ):
                # A reservation's end comes to the ReserveNow's response_url, after its
                # ACCEPTED (mod_commands, CANCELED_RESERVATION).
                later = {**result, "at": format_datetime(now)}
                await self._update(
                    uid,
                    later_result=later,
                    state=f"RESERVATION_{result.get('result')}",
                    **self._met(record, EXPECT_CANCELED),
                )
                return OcpiResult(omit_data=True)
            if result.get("result") != first:
                # The same result again is a retry (at-least-once delivery): answered, nothing
                # to say. A different one contradicts the first, which stands.
                req.finding(
                    "OCPI-43c",
                    f"a second CommandResult for {command} {uid} says {result.get('result')}; "
                    f"the first said {first} and stands",
                )
            return OcpiResult(omit_data=True)
        response_type = _response_type(record)
        if response_type and response_type != "ACCEPTED":
            req.finding(
                "OCPI-43b",
                f"CommandResult after the command was answered "
                f"{response_type}; a result comes only after ACCEPTED",
            )
        # Late: after the timeout, already noted (OCPI-43c) when the timeout passed.
        late = bool(record.get("timeout_at")) and now > parse_datetime(record["timeout_at"])
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()
        state = f"RESULT_{result.get('result')}"
        if late:
            state = f"LATE_{result.get('result')}"
        changes: dict[str, Any] = {}
        if result.get("result") == "ACCEPTED":
            changes = self._expectation_after_result(record)
        await self._update(
            uid, result=result, result_at=format_datetime(now), state=state, **changes
        )
        return OcpiResult(omit_data=True)

    # --- what must follow an accepted command ---

    def _expectation_after_result(self, record: CommandRecord) -> dict[str, Any]:
        platform = self.ptp.node.platforms.get(record["platform_id"])
        settings = self.ptp.settings
        if record["command"] == "START_SESSION":
            if platform is None:
                return {}
            if self._objects_of("ocpi_sessions", record):
                return {}
            return self._expect(record["id"], EXPECT_SESSION, settings.session_start_timeout)
        if record["command"] == "CANCEL_RESERVATION" and record.get("reservation_id"):
            reservation = self._first(
                "command = 'RESERVE_NOW' and upper(reservation_id) = ? and platform_id = ?",
                [str(record["reservation_id"]).upper(), record["platform_id"]],
            )
            if reservation is not None and reservation.get("later_result") is None:
                wait = settings.command_result_timeout + settings.command_result_grace
                changes = self._expect(reservation["id"], EXPECT_CANCELED, wait)
                self.rt.store.update("ocpi_commands", reservation["id"], changes)
        return {}

    def _expect(self, uid: str, what: str, seconds: float) -> dict[str, Any]:
        """Arm the deadline of ``what`` for command ``uid``; the changes to store."""
        due = self.rt.now() + timedelta(seconds=seconds)
        self._arm_expectation(uid, due)
        return {"expect": what, "expect_due_at": format_datetime(due)}

    def _arm_expectation(self, uid: str, due: Any) -> None:
        old = self._timers.pop(f"expect-{uid}", None)
        if old is not None:
            old.cancel()
        self._timers[f"expect-{uid}"] = self.rt.clock.call_at(
            due, lambda: self._expectation_due(uid), name=f"command-expect-{uid}"
        )

    def _met(self, record: CommandRecord, what: str) -> dict[str, Any]:
        if record.get("expect") != what:
            return {}
        timer = self._timers.pop(f"expect-{record['id']}", None)
        if timer is not None:
            timer.cancel()
        return {"expect": None, "expect_due_at": None}

    async def on_session(
        self,
        row: StoredObject,
        previous: dict[str, Any] | None,
        command: CommandRecord | None,
    ) -> None:
        """A Session arrived (pushed or pulled) with its START_SESSION (``command``): that
        command now expects the CDR once it is COMPLETED (INVALID: it will not be billed)."""
        session = row["object"]
        if command is None or command["command"] != "START_SESSION":
            return
        # A Session followed the START_SESSION (#46 is about one that does not).
        self.rt.coverage.ran("OCPI-46", row["platform_id"])
        changes = self._met(command, EXPECT_SESSION)
        status_value = session.get("status")
        platform_id = row["platform_id"]
        platform = self.ptp.node.platforms.get(platform_id) if platform_id is not None else None
        if status_value == "INVALID":
            changes = {**changes, **self._met(command, EXPECT_CDR)}
        elif (
            status_value == "COMPLETED"
            and command.get("expect") != EXPECT_CDR
            and platform is not None
            and self.ptp.uses_payments(platform)
            and not self._pushed_cdrs(command)
        ):
            changes = self._expect(command["id"], EXPECT_CDR, self.ptp.settings.cdr_timeout)
        if changes:
            self.rt.store.update("ocpi_commands", command["id"], changes)

    def _pushed_cdrs(self, command: CommandRecord) -> Objects:
        return [r for r in self._objects_of("ocpi_cdrs", command) if r["source"] == "push"]

    async def _expectation_due(self, uid: str) -> None:
        self._timers.pop(f"expect-{uid}", None)
        record = self.get(uid)
        what = record["expect"] if record is not None else None
        if record is None or not what:
            return
        if record["command"] == "START_SESSION" and what in (EXPECT_SESSION, EXPECT_CDR):
            # Before the journey voids or captures on this deadline: what the CPO has that
            # never reached us (a push lost while we were down), through the push path.
            await self.ptp.recovery.pull_for([uid])
            record = self.get(uid)
            if record is None or record.get("expect") != what:
                return  # the pull brought it (and a new expectation, if any)
        self.rt.store.update("ocpi_commands", uid, {"expect": None, "expect_due_at": None})
        ref = record.get("authorization_reference")
        message = None
        rule: RuleId = "OCPI-55"
        self.rt.coverage.ran(_EXPECTATION_RULE.get(what, "OCPI-55"), record["platform_id"])
        if what == EXPECT_SESSION and not self._objects_of("ocpi_sessions", record):
            # Legal (mod_commands: accepted, but the EV was never plugged in): noted.
            rule = "OCPI-46"
            message = (
                f"START_SESSION {ref} was ACCEPTED, but no Session carrying its "
                f"authorization_reference (or token) arrived within "
                f"{self.ptp.settings.session_start_timeout:g} s"
            )
        elif what == EXPECT_CDR and not self._pushed_cdrs(record):
            pulled = self._objects_of("ocpi_cdrs", record)
            if pulled:
                message = (
                    f"the CDR of START_SESSION {ref} was found only on the CPO's CDRs Sender "
                    f"({pulled[0]['id']}), not POSTed to our CDRs Receiver"
                )
            # No CDR at all: PAYTER-05 names it where the money is (the journey).
        elif what == EXPECT_CANCELED and record.get("later_result") is None:
            rule = "OCPI-47"
            message = (
                f"reservation {record.get('reservation_id')} was cancelled (CANCEL_RESERVATION "
                "ACCEPTED), but no CANCELED_RESERVATION reached the ReserveNow's response_url"
            )
        if message:
            self.rt.findings.record(
                rule,
                message,
                platform_id=record["platform_id"],
                exchange_id=record.get("exchange_id"),
            )
        for listener in self.expectation_listeners:
            outcome = listener(record, what)
            if outcome is not None:
                await outcome

    def rearm(self) -> None:
        """After a restart: wait again for results of commands still WAITING, and for what
        accepted commands still expect."""
        for record in cast(Records, self.rt.store.rows("ocpi_commands", "state = ?", [WAITING])):
            if record.get("timeout_at"):
                uid = record["id"]
                self._timers[uid] = self.rt.clock.call_at(
                    parse_datetime(record["timeout_at"]),
                    partial(self._timed_out, uid),
                    name=f"command-timeout-{uid}",
                )
        expecting = self.rt.store.rows("ocpi_commands", "expect_due_at is not null")
        for record in cast(Records, expecting):
            self._arm_expectation(record["id"], parse_datetime(record["expect_due_at"] or ""))


def command_response(data: Any) -> dict[str, Any] | None:
    """The CommandResponse object of a synchronous answer: ``data`` itself, or the one object
    of a list wrapped around it (that wrapping is OCPI-06b's, recorded by the client; the
    journey goes on with what the CPO meant)."""
    if isinstance(data, dict):
        return data
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        return data[0]
    return None


def _response_type(record: CommandRecord) -> str | None:
    """The result of a command's synchronous answer, as stored (any shape, never raises)."""
    envelope = record.get("response")
    if not isinstance(envelope, dict):
        return None
    data = command_response(envelope.get("data"))
    result = data.get("result") if data is not None else None
    return result if isinstance(result, str) else None


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else type(value).__name__


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _message_text(data: Any) -> str | None:
    """The text of a CommandResponse's ``message`` (DisplayText list), if any."""
    if not isinstance(data, dict):
        return None
    texts = [m.get("text") for m in data.get("message") or [] if isinstance(m, dict)]
    return "; ".join(str(t) for t in texts if t) or None
