"""Commands, with the emulator as Sender (mod_commands.asciidoc; checklist 5.5).

Each command gets its own ``response_url`` (``{commands endpoint}/{COMMAND}/{uid}``), so a
CommandResult is matched to exactly one command. The synchronous CommandResponse is checked;
when it is ACCEPTED a timer on the clock waits ``timeout`` seconds (plus a grace) for the
CommandResult and reports it missing (rule OCPI-43) if it never comes. Results that come late,
twice, to an unknown URL or after a REJECTED answer are reported too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from emulator.ocpi import status
from emulator.ocpi.client import PeerError
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.platforms import Platform
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import OcpiRequest, OcpiResult
from emulator.ocpi.types import collect_notes, format_datetime, parse_datetime
from emulator.store import TableSpec

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

log = structlog.get_logger("emulator.ptp.commands")

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
    },
    json_columns=frozenset({"request", "response", "result"}),
    indexes=(("platform_id",), ("authorization_reference",)),
)

# Terminal states of a command record.
SENDING = "SENDING"
UNREACHABLE = "UNREACHABLE"  # the CPO could not be reached / answered garbage
ERROR = "ERROR"  # OCPI error status on the command POST
WAITING = "WAITING"  # ACCEPTED, waiting for the CommandResult
NO_RESULT = "NO_RESULT"  # ACCEPTED, result never came within timeout

Listener = Callable[[dict[str, Any]], Awaitable[None] | None]


class Commands:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self.rt.store.register(COMMANDS)
        self.listeners: list[Listener] = []
        self._timers: dict[str, Any] = {}

    def get(self, command_id: str) -> dict[str, Any] | None:
        return self.rt.store.get("ocpi_commands", command_id)

    def list(self, platform_id: int | None = None) -> list[dict[str, Any]]:
        where, params = (
            ("platform_id = ?", [platform_id]) if platform_id is not None else (None, [])
        )
        return self.rt.store.rows("ocpi_commands", where, params, order_by="sent_at")

    def start_for(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The START_SESSION a Session or CDR belongs to: by authorization_reference, else by
        the AD_HOC_USER token we issued for it."""
        ref = obj.get("authorization_reference")
        if ref:
            found = self.rt.store.first(
                "ocpi_commands",
                "upper(authorization_reference) = ? and command = 'START_SESSION'",
                [str(ref).upper()],
            )
            if found is not None:
                return found
        uid = (obj.get("cdr_token") or {}).get("uid") or obj.get("auth_id")
        issued = self.ptp.tokens.find(str(uid), None) if uid else None
        if issued is None or not issued.get("authorization_reference"):
            return None
        return self.rt.store.first(
            "ocpi_commands",
            "authorization_reference = ? and command = 'START_SESSION'",
            [issued["authorization_reference"]],
        )

    def response_url(self, platform: Platform, command: str, uid: str) -> str:
        version = platform.version or "2.2.1"
        return f"{self.ptp.node.server.endpoint_url(version, 'commands')}/{command}/{uid}"

    async def send(self, platform: Platform, command: str, body: dict[str, Any]) -> dict[str, Any]:
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
        }
        self.rt.store.insert("ocpi_commands", record)
        try:
            reply = await self.ptp.node.client.call(
                platform, "POST", "commands", command, role="RECEIVER", body=body, expect="object"
            )
        except PeerError as exc:
            return await self._update(
                uid, state=UNREACHABLE, response={"error": exc.message}, exchange_id=exc.exchange_id
            )
        changes: dict[str, Any] = {
            "response": reply.envelope,
            "response_status": reply.status_code,
            "exchange_id": reply.exchange_id,
        }
        data = reply.data
        version = platform.version or "2.2.1"
        response_type = None
        if isinstance(data, dict):
            response_type = self._check_response(platform, reply.exchange_id, version, data)
        elif status.is_success(reply.status_code):
            self.rt.findings.record(
                "OCPI-42",
                f"{command}: the answer has no CommandResponse in data",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
                pointer="/data",
            )
        if reply.status_code == status.UNKNOWN_LOCATION and response_type not in (None, "REJECTED"):
            self.rt.findings.record(
                "OCPI-42",
                f"{command} answered 2003 (unknown location) with "
                f"result {response_type}; it should be REJECTED",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
            )
        if not status.is_success(reply.status_code) and response_type is None:
            changes["state"] = ERROR
        elif response_type == "ACCEPTED":
            timeout = _int(data.get("timeout")) if isinstance(data, dict) else None
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

    def _check_response(
        self, platform: Platform, exchange_id: int, version: str, data: dict[str, Any]
    ) -> str | None:
        model = model_for(version, "CommandResponse")
        with collect_notes() as notes:
            try:
                parsed = model.model_validate(data).dump()
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
        return str(parsed.get("result"))

    async def _update(self, uid: str, **changes: Any) -> dict[str, Any]:
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
        self.rt.findings.record(
            "OCPI-43",
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
            raise OcpiError(status.CLIENT_ERROR, "unknown response_url", http_status=404)
        version = req.version or record["version"] or "2.2.1"
        name = "CommandResponse" if version == "2.1.1" else "CommandResult"
        result = req.parse(model_for(version, name), what=name).dump()
        now = self.rt.now()
        if record.get("result") is not None:
            req.finding(
                "OCPI-43",
                f"a second CommandResult for {command} {uid} (the first said "
                f"{record['result'].get('result')})",
                severity="warning",
            )
            return OcpiResult(omit_data=True)
        response_type = ((record.get("response") or {}).get("data") or {}).get("result")
        if response_type and response_type != "ACCEPTED":
            req.finding(
                "OCPI-43b",
                f"CommandResult after the command was answered "
                f"{response_type}; a result comes only after ACCEPTED",
            )
        late = record.get("timeout_at") and now > parse_datetime(record["timeout_at"])
        if late:
            req.finding(
                "OCPI-43",
                f"CommandResult arrived after the command's timeout ({record['timeout_at']})",
            )
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()
        state = f"RESULT_{result.get('result')}"
        if late:
            state = f"LATE_{result.get('result')}"
        await self._update(uid, result=result, result_at=format_datetime(now), state=state)
        return OcpiResult(omit_data=True)

    def rearm(self) -> None:
        """After a restart: wait again for results of commands still WAITING."""
        for record in self.rt.store.rows("ocpi_commands", "state = ?", [WAITING]):
            if record.get("timeout_at"):
                uid = record["id"]
                self._timers[uid] = self.rt.clock.call_at(
                    parse_datetime(record["timeout_at"]),
                    lambda uid=uid: self._timed_out(uid),
                    name=f"command-timeout-{uid}",
                )


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
