"""What the simulated CPO pushes to its peers' Receivers: EVSE status and Locations,
Sessions (PUT, then PATCHes), CDRs.

A part of :class:`emulator.cpo_sim.backend.CpoBackend` (``backend.pushes``); the state it
works on is the backend's (``self.b``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.cpo_sim import billing, catalog
from emulator.cpo_sim.charger import Evse
from emulator.cpo_sim.peers import Delivery
from emulator.cpo_sim.runs import (
    PendingStart,
    SessionRun,
    _fold,
)
from emulator.cpo_sim.state import (
    key_of,
)

if TYPE_CHECKING:
    from emulator.cpo_sim.backend import CpoBackend


class Pushes:
    def __init__(self, backend: CpoBackend) -> None:
        self.b = backend

    def _store_status(self, evse: Evse) -> bool:
        """Write the EVSE's status into its Location; True if it changed. An EVSE change bumps
        the EVSE's and the Location's last_updated (mod_locations)."""
        location, obj = self.b._evse_objects(evse)
        status_now = evse.status()
        if obj.get("status") == status_now:
            return False
        stamp = self.b.stamp()
        obj["status"] = status_now
        obj["last_updated"] = stamp
        location["last_updated"] = stamp
        self.b.locations.save(key_of(location["id"]), location)
        self.b.rt.bus.publish(
            "cpo_sim.evse", evse_uid=evse.uid, location_id=evse.location_id, status=status_now
        )
        return True

    async def evse_changed(self, evse: Evse) -> list[Delivery]:
        """Store the charger's state and its status; PATCH a new status to every Locations
        Receiver."""
        self.b._save(evse)
        if not self._store_status(evse):
            return []
        location, obj = self.b._evse_objects(evse)
        body: dict[str, Any] = {"status": obj["status"], "last_updated": obj["last_updated"]}
        if self.b.presets.on("patch-without-last-updated"):
            del body["last_updated"]  # OCPI-31: a PATCH SHALL carry last_updated
        path = f"{self.b.cc}/{self.b.pid}/{location['id']}/{evse.uid}"
        return [
            await self.b.peers.send(p, "PATCH", "locations", path, body=body)
            for p in self.b.peers.with_receiver("locations")
        ]

    async def push_locations(self, platform_id: int | None = None) -> list[dict[str, Any]]:
        """PUT every Location to the Locations Receivers (or to one platform)."""
        targets = self.b.peers.with_receiver("locations")
        if platform_id is not None:
            targets = [p for p in targets if p.id == platform_id]
        out = []
        for platform in targets:
            assert platform.version is not None
            for row in self.b.locations.rows():
                location = row["object"]
                delivery = await self.b.peers.send(
                    platform,
                    "PUT",
                    "locations",
                    f"{self.b.cc}/{self.b.pid}/{location['id']}",
                    body=catalog.location_for(location, platform.version),
                )
                out.append({"platform_id": platform.id, **delivery.as_json()})
        return out

    async def put_session(
        self,
        session: dict[str, Any],
        pending: PendingStart,
        context: dict[str, Any] | None = None,
    ) -> int | None:
        """PUT a new Session to the token owner; a PUT replaces the charging periods too."""
        owner = self.b.charging.owner(pending)
        delivery: Delivery | None = None
        self.b.periods.clear(session["id"])
        if owner is not None and owner.registered and owner.version:
            delivery = await self.b.peers.send(
                owner,
                "PUT",
                "sessions",
                f"{self.b.cc}/{self.b.pid}/{session['id']}",
                body=catalog.session_for({**session, "charging_periods": []}, owner.version),
            )
        self.b.sessions.save(
            key_of(session["id"]),
            session,
            status=session["status"],
            platform_id=owner.id if owner else None,
            auth_ref=_fold(session.get("authorization_reference")),
            delivery=delivery.as_json() if delivery else None,
            context=context,
        )
        self.b.rt.bus.publish("cpo_sim.session", session_id=session["id"], status=session["status"])
        return owner.id if owner else None

    async def patch_session(
        self, session: dict[str, Any], platform_id: int | None, body: dict[str, Any]
    ) -> None:
        if self.b.presets.on("patch-without-last-updated"):
            body.pop("last_updated", None)  # OCPI-31
        platform = self.b.peers.platforms.get(platform_id) if platform_id else None
        if platform is None or not platform.registered or not platform.version:
            return
        if "total_cost" in body:
            body = catalog.session_for(body, platform.version)
        delivery = await self.b.peers.send(
            platform, "PATCH", "sessions", f"{self.b.cc}/{self.b.pid}/{session['id']}", body=body
        )
        self.b.sessions.update(key_of(session["id"]), delivery=delivery.as_json())

    async def push_progress(
        self, run: SessionRun, bill: billing.Bill, final: dict[str, Any] | None = None
    ) -> None:
        session = run.session
        stamp = self.b.stamp()
        periods, run.new_periods = run.new_periods, []
        session["kwh"] = billing.kwh(run.wh)
        session["total_cost"] = billing.price(bill.total)
        session["last_updated"] = stamp
        session.update(final or {})
        self.b.sessions.save(key_of(run.session_id), session, status=session["status"])
        self.b.periods.append(run.session_id, run.periods_stored, periods)
        run.periods_stored += len(periods)
        self.b._save(run.evse)
        body: dict[str, Any] = dict(final or {})
        body.update(kwh=session["kwh"], total_cost=session["total_cost"], last_updated=stamp)
        if periods:
            # A PATCH appends charging_periods (mod_sessions): only the new ones.
            body["charging_periods"] = periods
        await self.patch_session(session, run.platform_id, body)

    async def send_cdr(self, run: SessionRun, bill: billing.Bill) -> None:
        row = self.b.sessions.get(key_of(run.session_id))
        if row is None:
            return
        context = row.get("context") or {}
        cdr = self.b.charging.cdr(run, bill, row["object"], context)
        platform_id = row.get("platform_id")
        platform = self.b.peers.platforms.get(platform_id) if platform_id else None
        delivery: Delivery | None = None
        if platform is not None and platform.registered and platform.version:
            # The CDR goes to the party that pays: the token owner (mod_cdrs).
            delivery = await self.b.peers.send(
                platform, "POST", "cdrs", body=catalog.cdr_for(cdr, platform.version)
            )
        self.b.cdrs.save(
            key_of(cdr["id"]),
            cdr,
            session_id=cdr["session_id"],
            platform_id=platform_id,
            auth_ref=_fold(cdr.get("authorization_reference")),
            delivery=delivery.as_json() if delivery else None,
        )
        self.b.rt.bus.publish("cpo_sim.cdr", cdr_id=cdr["id"], session_id=cdr["session_id"])
