"""Commands (mod_commands): the synchronous CommandResponse, then the charger's answer
POSTed as a CommandResult to the ``response_url``; reservations.

A part of :class:`emulator.cpo_sim.backend.CpoBackend` (``backend.commanding``); the state it
works on is the backend's (``self.b``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from emulator import logs
from emulator.clock import Timer
from emulator.cpo_sim import catalog
from emulator.cpo_sim.charger import Evse
from emulator.cpo_sim.peers import Delivery
from emulator.cpo_sim.runs import (
    COMMAND_RESULTS,
    Answer,
    ChargerAnswer,
    PendingStart,
    Place,
    Refused,
    Reservation,
    _fold,
    _same_token,
    reservation_key,
)
from emulator.cpo_sim.state import (
    ObjectRow,
    key_of,
    micros,
)
from emulator.ocpi import status
from emulator.ocpi.platforms import Platform
from emulator.ocpi.types import parse_datetime

if TYPE_CHECKING:
    from emulator.cpo_sim.backend import CpoBackend

log = logs.get_logger("emulator.cpo_sim")


class Commanding:
    def __init__(self, backend: CpoBackend) -> None:
        self.b = backend

    def _record_command(
        self, command: str, platform: Platform, body: dict[str, Any], answer: Answer
    ) -> str:
        command_id = self.b.rt.ids.uuid()
        response = self.command_response(answer)
        self.b.commands.save(
            command_id,
            {"id": command_id, "received": self.b.stamp(), "request": body},
            command=command,
            platform_id=platform.id,
            response={"status_code": answer.status_code, **response},
        )
        self.b.rt.bus.publish("cpo_sim.command", command=command, result=answer.result)
        return command_id

    def command_response(self, answer: Answer) -> dict[str, Any]:
        response: dict[str, Any] = {
            "result": answer.result,
            "timeout": self.b.settings.command_timeout,
        }
        if answer.message:
            response["message"] = [{"language": "en", "text": answer.message}]
        return response

    def _result_delay(self) -> float:
        if self.b.presets.on("late-result"):
            # OCPI-43: the CommandResult arrives well after the announced timeout.
            return self.b.settings.command_timeout + 30.0
        return self.b.settings.command_result_delay

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
            due = self.b.now() + timedelta(seconds=self._result_delay())
            self.b.commands.update(command_id, due_at=micros(due))
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
        delay = max((due - self.b.now()).total_seconds(), 0.0)
        self.b.later(delay, lambda: then(command_id), command)

    def resume_command(self, row: ObjectRow) -> None:
        """A restart with an accepted command whose CommandResult was still due: the charger
        answers it now, as it stands after the restart."""
        command_id, command = row["key"], row["command"]
        platform = self.b.peers.platforms.get(row["platform_id"])
        handler = self._handler(command)
        due = datetime.fromtimestamp((row.get("due_at") or 0) / 1_000_000, tz=UTC)
        if platform is None or handler is None:
            self.b.commands.update(command_id, due_at=None)
            return
        try:
            then = handler(platform, row["object"]["request"])
        except Refused as refused:
            # What the charger can no longer do is a failed command (CommandResultType).
            result = refused.answer.result
            result = result if result in COMMAND_RESULTS else "FAILED"
            message = refused.answer.message

            async def then(cid: str) -> None:
                await self.deliver_result(cid, result, message)

        self._result_at(command, command_id, then, due)

    def _place(self, body: dict[str, Any], need: str, *, allow_pick: bool = True) -> Place:
        """Where a command points: location_id / evse_uid / connector_id, resolved."""
        location = self.b.location(body["location_id"])
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
        return Place(location, self.b.evses[obj["uid"].casefold()], connector_id, capabilities)

    def _pick_evse(self, location: dict[str, Any], need: str) -> dict[str, Any] | None:
        """No evse_uid given: the first free EVSE that can do it without a connector_id."""
        for obj in location.get("evses") or []:
            caps = obj.get("capabilities") or []
            evse = self.b.evses[obj["uid"].casefold()]
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
        if self.b.presets.on("reject-start"):
            raise Refused("REJECTED", "start refused by the CPO")
        pending = self._pending(platform, body, place)

        async def then(command_id: str) -> None:
            pending.command_id = command_id
            await self._start_result(pending)

        return then

    def _stop_session(self, platform: Platform, body: dict[str, Any]) -> ChargerAnswer:
        row = self.b.sessions.get(key_of(body["session_id"]))
        if row is None or not self._session_of(platform, row):
            # An eMSP may only stop its own sessions; others do not exist for it.
            raise Refused("UNKNOWN_SESSION", "no such session for this party")
        session_id = row["object"]["id"]
        if session_id not in self.b.runs:
            raise Refused("REJECTED", f"the session is {row['status']}, not running")

        async def then(command_id: str) -> None:
            run = self.b.runs.get(session_id)
            if run is not None and not run.evse.online:
                await self.deliver_result(command_id, "TIMEOUT")  # the charger is offline
            elif run is not None:
                await self.deliver_result(command_id, "ACCEPTED")
                await self.b.charging.end_session(
                    session_id, "stopped by the eMSP/PTP (STOP_SESSION)"
                )
            else:
                await self.deliver_result(command_id, "REJECTED", "the session already ended")

        return then

    def _session_of(self, platform: Platform, row: ObjectRow) -> bool:
        token = row["object"].get("cdr_token") or {}
        return row.get("platform_id") == platform.id or platform.owns(
            token.get("country_code"), token.get("party_id")
        )

    def _reserve_now(self, platform: Platform, body: dict[str, Any]) -> ChargerAnswer:
        expiry = parse_datetime(body["expiry_date"])
        if expiry <= self.b.now():
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
            reservation = self.b.reservations.get(reservation_key(platform.id, reservation_id))
            if reservation is None:
                await self.deliver_result(command_id, "UNKNOWN_RESERVATION")
                return
            await self.deliver_result(command_id, "ACCEPTED")
            # Checklist 5.5 #47: the ReserveNow's response_url hears CANCELED_RESERVATION.
            await self.deliver_result(
                reservation.start.command_id,
                "CANCELED_RESERVATION",
                url=reservation.start.response_url,
            )
            await self.end_reservation(reservation, "canceled")

        return then

    def _unlock_connector(self, platform: Platform, body: dict[str, Any]) -> ChargerAnswer:
        evse = self._place(body, "UNLOCK_CAPABLE", allow_pick=False).evse

        async def then(command_id: str) -> None:
            await self.deliver_result(command_id, "ACCEPTED" if evse.online else "TIMEOUT")

        return then

    async def deliver_result(
        self, command_id: str, result: str, message: str | None = None, *, url: str | None = None
    ) -> Delivery | None:
        """POST a CommandResult to exactly the command's response_url (mod_commands)."""
        row = self.b.commands.get(command_id)
        if row is None:
            return None
        platform = self.b.peers.platforms.get(row["platform_id"])
        body: dict[str, Any] = {"result": result}
        if message:
            body["message"] = [{"language": "en", "text": message}]
        target = url or row["object"]["request"]["response_url"]
        if platform is None or not platform.registered:
            delivery = Delivery(False, "POST", target, error="the platform is not registered")
        else:
            delivery = await self.b.peers.send(platform, "POST", "commands", url=target, body=body)
        if url is None:
            self.b.commands.update(
                command_id, result=body, delivery=delivery.as_json(), due_at=None
            )
        self.b.rt.bus.publish("cpo_sim.command_result", command_id=command_id, result=result)
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
            reservation = self.b._reservation_at(evse)
            if (
                reservation is None
                or token is None
                or not _same_token(reservation.start.token, token)
            ):
                return "EVSE_OCCUPIED"
        return None

    async def _start_result(self, pending: PendingStart) -> None:
        evse = self.b.evses[pending.evse_uid.casefold()]
        refusal = self._refusal(evse, pending.token)
        await self.deliver_result(pending.command_id, refusal or "ACCEPTED")
        if refusal is not None:
            return
        if self.b.presets.on("no-session-after-accept"):
            return  # OCPI-46: accepted, but the charger never starts
        evse.waiting_start = pending.command_id
        self.b.waiting[pending.command_id] = pending
        if evse.car is not None:
            await self.b.charging.begin_session(evse, pending)
            return
        now = self.b.now()
        pending.lapse_at = now + timedelta(seconds=self.b.settings.plug_in_timeout)
        if self.b.settings.auto_plug_in_delay >= 0:
            pending.plug_in_at = now + timedelta(seconds=self.b.settings.auto_plug_in_delay)
        self.wait_for_car(evse, pending)
        self.b._save(evse)

    def wait_for_car(self, evse: Evse, pending: PendingStart) -> None:
        """An accepted start waits for a car: it lapses at ``lapse_at``; the simulated driver
        plugs one in at ``plug_in_at``."""

        async def lapse() -> None:
            # No car within the connection timeout: the start lapses without a session
            # (mod_commands sequence "accepted, EV never plugged in").
            await self.drop_waiting(evse)

        assert pending.lapse_at is not None
        pending.timers.append(self.b.at(pending.lapse_at, lapse, "plug-in timeout"))
        if pending.plug_in_at is not None:

            async def driver() -> None:
                if evse.car is None and evse.waiting_start == pending.command_id:
                    await self.b.chargers.plug_in(evse.uid, driven=True)

            pending.timers.append(self.b.at(pending.plug_in_at, driver, "plug-in"))

    async def drop_waiting(self, evse: Evse) -> None:
        """The start that waits at this EVSE will not happen (no car came, or a fault)."""
        pending = self.b.waiting.pop(evse.waiting_start or "", None)
        if pending is None:
            return
        evse.waiting_start = None
        pending.cancel()
        await self.b.pushes.evse_changed(evse)

    async def _reserve_result(
        self, pending: PendingStart, reservation_id: str, expires: datetime
    ) -> None:
        evse = self.b.evses[pending.evse_uid.casefold()]
        key = reservation_key(pending.platform_id, reservation_id)
        existing = self.b.reservations.get(key)
        if existing is not None:
            if existing.start.location_id.casefold() == pending.location_id.casefold():
                # The same reservation_id for the same location replaces the reservation.
                await self._replace_reservation(existing, pending, expires)
            else:
                await self.deliver_result(
                    pending.command_id,
                    "REJECTED",
                    f"reservation {reservation_id} is held at another location",
                )
            return
        refusal = self._refusal(evse)
        await self.deliver_result(pending.command_id, refusal or "ACCEPTED")
        if refusal is not None:
            return
        session_id = self.b.rt.ids.uuid()
        reservation = Reservation(reservation_id, pending, expires, session_id)
        self.b.reservations[key] = reservation
        evse.reservation_id = reservation_id
        reservation.timer = self.expiry_timer(reservation)
        # mod_sessions, Reservation: a RESERVE_NOW creates a Session with status RESERVATION.
        _, obj = self.b._evse_objects(evse)
        connectors = obj.get("connectors") or []
        connector = connectors[0]
        tariff = self.b._tariff_of(connector)
        session = self.b.charging.new_session(
            session_id,
            pending,
            evse.uid,
            self._reserved_connector(evse),
            str((tariff or {}).get("currency", "EUR")),
            status_value="RESERVATION",
        )
        session["total_cost"] = {"before_taxes": Decimal("0.00"), "taxes": []}
        await self.b.pushes.put_session(session, pending)
        await self.b.pushes.evse_changed(evse)

    async def _replace_reservation(
        self, existing: Reservation, pending: PendingStart, expires: datetime
    ) -> None:
        """A RESERVE_NOW with the reservation_id of a reservation at the same location: the
        new expiry, EVSE and authorization_reference replace the old (mod_commands,
        ReserveNow); the Session follows (the last authorization_reference applies)."""
        old_evse = self.b.evses[existing.start.evse_uid.casefold()]
        new_evse = self.b.evses[pending.evse_uid.casefold()]
        if new_evse is not old_evse:
            refusal = self._refusal(new_evse)
            if refusal is not None:
                await self.deliver_result(pending.command_id, refusal)
                return
        if existing.timer is not None:
            existing.timer.cancel()
        existing.expiry, existing.start = expires, pending
        existing.timer = self.expiry_timer(existing)
        await self.deliver_result(pending.command_id, "ACCEPTED")
        old_evse.reservation_id = None
        new_evse.reservation_id = existing.reservation_id
        row = self.b.sessions.get(key_of(existing.session_id))
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
                changes["last_updated"] = self.b.stamp()
                session.update(changes)
                auth_ref = _fold(session.get("authorization_reference"))
                self.b.sessions.save(key_of(session["id"]), session, auth_ref=auth_ref)
                await self.b.pushes.patch_session(session, row.get("platform_id"), dict(changes))
        await self.b.pushes.evse_changed(old_evse)
        await self.b.pushes.evse_changed(new_evse)

    def _reserved_connector(self, evse: Evse) -> str:
        """No connector is chosen yet: #NA is allowed for a reservation (mod_sessions), unless
        the EVSE has only one."""
        _, obj = self.b._evse_objects(evse)
        connectors = obj.get("connectors") or []
        return str(connectors[0]["id"]) if len(connectors) == 1 else "#NA"

    def expiry_timer(self, reservation: Reservation) -> Timer:
        async def expire() -> None:
            if self.b.reservations.get(reservation.key) is reservation:
                await self.end_reservation(reservation, "expired")

        return self.b.at(reservation.expiry, expire, "reservation expiry")

    async def end_reservation(self, reservation: Reservation, why: str) -> None:
        self.b.reservations.pop(reservation.key, None)
        if reservation.timer is not None:
            reservation.timer.cancel()
        evse = self.b.evses[reservation.start.evse_uid.casefold()]
        if evse.reservation_id == reservation.reservation_id:
            evse.reservation_id = None
        row = self.b.sessions.get(key_of(reservation.session_id))
        if row is not None and row["object"]["status"] == "RESERVATION":
            # A reservation that does not lead to charging ends COMPLETED (mod_sessions).
            session = row["object"]
            stamp = self.b.stamp()
            session.update(status="COMPLETED", end_date_time=stamp, last_updated=stamp)
            self.b.sessions.save(key_of(session["id"]), session, status="COMPLETED")
            await self.b.pushes.patch_session(
                session,
                row.get("platform_id"),
                {"status": "COMPLETED", "end_date_time": stamp, "last_updated": stamp},
            )
        log.info("reservation ended", reservation_id=reservation.reservation_id, why=why)
        await self.b.pushes.evse_changed(evse)
