"""Locations Receiver (mod_locations.asciidoc): the CPO pushes Locations, EVSEs, Connectors.

``{locations}/{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]``: GET,
PUT (create or replace at that depth) and PATCH (partial, ``last_updated`` required). A change
to an EVSE or Connector updates the parents' ``last_updated``. POST and DELETE are not part of
the interface (an EVSE is removed with status REMOVED).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from emulator.coverage import checked
from emulator.ocpi import status
from emulator.ocpi.models.base import partial_model
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import Module, OcpiRequest, OcpiResult, Route
from emulator.ocpi.types import ci_equal, format_datetime, parse_datetime
from emulator.ptp import checks
from emulator.ptp.objects import EvseSlot, object_key

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

LOC = "/{country_code}/{party_id}/{location_id}"
EVSE = LOC + "/{evse_uid}"
CONN = EVSE + "/{connector_id}"


def _later(a: Any, b: Any) -> Any:
    """The later of two OCPI DateTimes (as given)."""
    if a is None:
        return b
    if b is None:
        return a
    try:
        return a if parse_datetime(a) >= parse_datetime(b) else b
    except ValueError:
        return a


class LocationsReceiver(Module):
    id = "locations"
    interface = "RECEIVER"
    versions = ("2.1.1", "2.2.1", "2.3.0")

    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp

    def routes(self) -> list[Route]:
        return [
            Route("GET", LOC, self.get),
            Route("GET", EVSE, self.get),
            Route("GET", CONN, self.get),
            Route("PUT", LOC, self.put),
            Route("PUT", EVSE, self.put),
            Route("PUT", CONN, self.put),
            Route("PATCH", LOC, self.patch),
            Route("PATCH", EVSE, self.patch),
            Route("PATCH", CONN, self.patch),
        ]

    # --- helpers -------------------------------------------------------------------------------

    def _stored(self, req: OcpiRequest, cc: str, pid: str) -> dict[str, Any] | None:
        return self.ptp.mirror.locations.object(
            req.require_platform().id, cc, pid, req.params["location_id"]
        )

    @staticmethod
    def _find(items: list[dict[str, Any]], key: str, value: str) -> int | None:
        for i, item in enumerate(items):
            if ci_equal(str(item.get(key)), value):
                return i
        return None

    def _locate(
        self, req: OcpiRequest, location: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        evse = conn = None
        if "evse_uid" in req.params:
            i = self._find(location.get("evses") or [], "uid", req.params["evse_uid"])
            if i is None:
                return None, None
            evse = location["evses"][i]
            if "connector_id" in req.params:
                j = self._find(evse.get("connectors") or [], "id", req.params["connector_id"])
                if j is None:
                    return evse, None
                conn = evse["connectors"][j]
        return evse, conn

    def _depth(self, req: OcpiRequest) -> str:
        if "connector_id" in req.params:
            return "Connector"
        if "evse_uid" in req.params:
            return "EVSE"
        return "Location"

    def _save(self, req: OcpiRequest, location: dict[str, Any]) -> bool:
        """A whole Location (PUT or PATCH of the Location itself)."""
        platform = req.require_platform()
        created = self.ptp.mirror.locations.save(
            location,
            platform_id=platform.id,
            version=req.version,
            source="push",
            now=req.rt.now(),
            country_code=req.params["country_code"],
            party_id=req.params["party_id"],
        )
        self._published(
            req,
            location.get("id"),
            {e.get("uid"): e.get("status") for e in location.get("evses") or []},
        )
        return created

    def _save_evse(
        self,
        req: OcpiRequest,
        key: str,
        head: dict[str, Any],
        evse: dict[str, Any],
        stamp: Any,
    ) -> None:
        """One EVSE (or one of its Connectors) was PUT: that EVSE's row is written, and the
        Location's last_updated, which the receiver SHALL update (mod_locations.asciidoc)."""
        platform = req.require_platform()
        locations = self.ptp.mirror.locations
        head = dict(head)
        head["last_updated"] = _later(head.get("last_updated"), stamp)
        with req.rt.store.atomic():
            locations.save_evse(key, evse)
            locations.save_head(
                key,
                head,
                platform_id=platform.id,
                version=req.version,
                source="push",
                now=req.rt.now(),
            )
        self._published(req, head.get("id"), locations.statuses(key))

    def _published(self, req: OcpiRequest, location_id: Any, evses: dict[str, Any]) -> None:
        req.rt.bus.publish(
            "ocpi.location",
            platform_id=req.require_platform().id,
            location_id=location_id,
            evses=evses,
            change=req.http.method,
        )

    def _key(self, req: OcpiRequest, cc: str, pid: str) -> str:
        return object_key(req.require_platform().id, cc, pid, req.params["location_id"])

    def _head(self, req: OcpiRequest, cc: str, pid: str, missing: str) -> dict[str, Any]:
        """The stored Location's own fields (its EVSEs stay where they are stored)."""
        row = self.ptp.mirror.locations.head(self._key(req, cc, pid))
        if row is None:
            raise OcpiError(
                status.UNKNOWN_LOCATION,
                f"unknown location {req.params['location_id']}: {missing}",
            )
        return dict(row["object"])

    # --- handlers ------------------------------------------------------------------------------

    async def get(self, req: OcpiRequest) -> Any:
        cc, pid = req.require_owner()
        location = self._stored(req, cc, pid)
        if location is None:
            raise OcpiError(status.UNKNOWN_LOCATION, "unknown location", http_status=404)
        evse, conn = self._locate(req, location)
        depth = self._depth(req)
        if depth == "Location":
            return location
        if depth == "EVSE" and evse is not None:
            return evse
        if conn is not None:
            return conn
        raise OcpiError(status.CLIENT_ERROR, f"unknown {depth}", http_status=404)

    async def put(self, req: OcpiRequest) -> OcpiResult:
        try:
            return await self._put(req)
        except OcpiError:
            self._refused(req)
            raise

    async def patch(self, req: OcpiRequest) -> OcpiResult:
        try:
            return await self._patch(req)
        except OcpiError:
            self._refused(req)
            raise

    def _refused(self, req: OcpiRequest) -> None:
        """Remember a refused push of a Location: a later crawl that sees the change must not
        say the CPO never pushed it (PAYTER-02); the refusal's own finding names the cause."""
        if req.platform is None:
            return
        why = next((f for f in reversed(req.findings)), None)
        self.ptp.mirror.refused_push(
            req.platform.id,
            req.params["location_id"],
            f"{why.rule}: {why.message}" if why is not None else "the push was refused",
        )

    async def _put(self, req: OcpiRequest) -> OcpiResult:
        cc, pid = req.require_owner()
        version = req.version or "2.2.1"
        depth = self._depth(req)
        obj = req.parse(model_for(version, depth), what=depth).dump()
        url_id = {
            "Location": req.params["location_id"],
            "EVSE": req.params.get("evse_uid"),
            "Connector": req.params.get("connector_id"),
        }[depth]
        id_field = "uid" if depth == "EVSE" else "id"
        problems = checks.check_url_matches(
            obj if depth == "Location" else {id_field: obj.get(id_field)},
            cc,
            pid,
            str(url_id),
            id_field,
        )
        for p in problems:
            req.finding(p.rule, p.message, pointer=p.pointer)
        if problems:
            raise OcpiError(status.INVALID_PARAMETERS, problems[0].message)
        now = req.rt.now()
        if depth == "Location":
            location = obj
            for p in checks.check_location_tree(location):
                req.finding(p.rule, p.message, pointer=p.pointer)
            created = self._save(req, location)
            await self._notify(req)
            return OcpiResult(http_status=201 if created else 200, omit_data=True)
        head = self._head(req, cc, pid, "PUT the Location first")
        key = self._key(req, cc, pid)
        locations = self.ptp.mirror.locations
        if depth == "EVSE":
            evse = obj
            stamp = obj.get("last_updated") or format_datetime(now)
        else:
            found = locations.evse(key, req.params["evse_uid"])
            if found is None:
                raise OcpiError(
                    status.INVALID_PARAMETERS,
                    f"unknown EVSE {req.params['evse_uid']}: PUT the EVSE first",
                )
            evse = found
            conns = evse.setdefault("connectors", [])
            j = self._find(conns, "id", req.params["connector_id"])
            if j is None:
                conns.append(obj)
            else:
                conns[j] = obj
            evse["last_updated"] = _later(evse.get("last_updated"), obj.get("last_updated"))
            stamp = obj.get("last_updated") or format_datetime(now)
        self._save_evse(req, key, head, evse, stamp)
        await self._notify(req)
        return OcpiResult(omit_data=True)

    async def _notify(self, req: OcpiRequest) -> None:
        await self.ptp.notify(self.ptp.location_listeners, req.params["location_id"], req.platform)

    async def _patch(self, req: OcpiRequest) -> OcpiResult:
        cc, pid = req.require_owner()
        version = req.version or "2.2.1"
        depth = self._depth(req)
        body = req.parse(partial_model(model_for(version, depth)), what=f"{depth} PATCH")
        changes = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
        checked("OCPI-31")
        if "last_updated" not in changes:
            if version == "2.1.1":
                # 2.1.1 has no such rule (its own PATCH example has none): stamp it now.
                changes["last_updated"] = format_datetime(req.rt.now())
            else:
                req.finding(
                    "OCPI-31", f"{depth} PATCH without last_updated", pointer="/last_updated"
                )
                raise OcpiError(status.INVALID_PARAMETERS, "a PATCH must contain last_updated")
        key = self._key(req, cc, pid)
        slot: EvseSlot | None = None
        if depth == "Location":
            stored = self._stored(req, cc, pid)
            if stored is None:
                raise OcpiError(
                    status.UNKNOWN_LOCATION,
                    f"unknown location {req.params['location_id']}: PUT it first",
                )
            head = stored
        else:
            # The EVSE and its siblings' statuses in one read; the Location's own row is only
            # read when the EVSE is not there (an unknown Location says so first).
            slot = self.ptp.mirror.locations.evse_slot(key, req.params["evse_uid"])
            if slot.evse is None:
                self._head(req, cc, pid, "PUT it first")
        id_field = {"Location": "id", "EVSE": "uid", "Connector": "id"}[depth]
        checked("OCPI-29")
        url_id = {
            "Location": req.params["location_id"],
            "EVSE": req.params.get("evse_uid"),
            "Connector": req.params.get("connector_id"),
        }[depth]
        if id_field in changes and not ci_equal(str(changes[id_field]), str(url_id)):
            req.finding(
                "OCPI-29",
                f"PATCH body {id_field} {changes[id_field]!r} differs from the URL's {url_id!r}",
                pointer=f"/{id_field}",
            )
            raise OcpiError(
                status.INVALID_PARAMETERS, f"{id_field} in the body differs from the URL"
            )
        stamp = changes["last_updated"]
        if depth == "Location":
            location = copy.deepcopy(head)
            location.update(changes)
            self._save(req, location)
            await self._notify(req)
            return OcpiResult(omit_data=True)
        assert slot is not None
        evse = slot.evse
        if evse is None:
            raise OcpiError(
                status.INVALID_PARAMETERS,
                f"unknown EVSE {req.params['evse_uid']}: PUT it first",
            )
        if depth == "EVSE":
            evse.update(changes)
        else:
            j = self._find(evse.get("connectors") or [], "id", req.params["connector_id"])
            if j is None:
                raise OcpiError(
                    status.INVALID_PARAMETERS,
                    f"unknown connector {req.params['connector_id']}: PUT it first",
                )
            evse["connectors"][j].update(changes)
            evse["last_updated"] = _later(evse.get("last_updated"), stamp)
        platform = req.require_platform()
        locations = self.ptp.mirror.locations
        with req.rt.store.atomic():
            locations.save_evse(key, evse, slot.position)
            # The Location's last_updated, which the receiver SHALL update
            # (mod_locations.asciidoc), without reading or rewriting its other fields.
            _, location_id = locations.touch(
                key,
                stamp,
                platform_id=platform.id,
                version=req.version,
                source="push",
                now=req.rt.now(),
            )
        self._published(req, location_id, slot.statuses_after(evse))
        await self._notify(req)
        return OcpiResult(omit_data=True)
