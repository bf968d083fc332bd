"""Payter's mirror of a CPO's Locations and Tariffs.

Payter "mirrors the locations structure of the CPO by polling for updates periodically" and
expects EVSE status pushes (payter.md §2.3). The mirror is built by crawling the CPO's Sender
interfaces with full pagination — on registration and every ``poll_interval`` seconds on the
clock — and kept current by the pushes the Receiver modules accept. A full crawl is the new
truth: objects it no longer returns are marked invalid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from emulator.ocpi.client import PeerError
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.platforms import Platform
from emulator.ocpi.types import ci_equal, collect_notes, format_datetime
from emulator.ptp import checks
from emulator.ptp.objects import LOCATIONS, TARIFFS, OwnedObjects, object_key

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

log = structlog.get_logger("emulator.ptp.mirror")

MODEL_NAME = {"locations": "Location", "tariffs": "Tariff"}


class Mirror:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self.locations = OwnedObjects(self.rt.store, LOCATIONS)
        self.tariffs = OwnedObjects(self.rt.store, TARIFFS)
        self._timers: dict[int, Any] = {}
        self.last_poll: dict[tuple[int, str], dict[str, Any]] = {}

    def repo(self, module: str) -> OwnedObjects:
        return self.locations if module == "locations" else self.tariffs

    # --- validation shared by pushes and polls ---

    def validate(
        self, platform: Platform, module: str, obj: Any, exchange_id: int | None, where: str
    ) -> dict[str, Any] | None:
        """Validate one object from a Sender list; findings for what is wrong."""
        version = platform.version or "2.2.1"
        model = model_for(version, MODEL_NAME[module])
        from emulator.ocpi.transport import validation_findings

        with collect_notes() as notes:
            try:
                parsed = model.model_validate(obj)
            except Exception as exc:
                from pydantic import ValidationError

                if isinstance(exc, ValidationError):
                    for rule, pointer, message in validation_findings(exc):
                        self.rt.findings.record(
                            rule,
                            f"{where}: {message}",
                            platform_id=platform.id,
                            exchange_id=exchange_id,
                            pointer=pointer,
                        )
                return None
        for n in notes:
            self.rt.findings.record(
                n.rule, f"{where}: {n.message}", platform_id=platform.id, exchange_id=exchange_id
            )
        data: dict[str, Any] = parsed.model_dump(mode="json", exclude_none=True, by_alias=True)
        return data

    # --- polling ---

    async def poll(self, platform: Platform, module: str) -> dict[str, Any]:
        """Crawl the CPO's Sender list of ``module``; returns a summary."""
        repo = self.repo(module)
        summary: dict[str, Any] = {
            "module": module,
            "platform_id": platform.id,
            "at": format_datetime(self.rt.now()),
        }
        if platform.endpoint(module, "SENDER" if platform.version != "2.1.1" else None) is None:
            summary["error"] = f"the platform exposes no {module} Sender"
            self.last_poll[(platform.id, module)] = summary
            return summary
        try:
            crawl = await self.ptp.node.client.get_all(
                platform, module, role="SENDER" if platform.version != "2.1.1" else None
            )
        except PeerError as exc:
            summary["error"] = exc.message
            log.warning("poll failed", module=module, platform=platform.id, error=exc.message)
            self.last_poll[(platform.id, module)] = summary
            return summary
        keep: set[str] = set()
        valid = 0
        last_exchange = crawl.exchange_ids[-1] if crawl.exchange_ids else None
        for i, item in enumerate(crawl.items):
            where = f"{module} item {i}" + (
                f" ({item.get('id')})" if isinstance(item, dict) else ""
            )
            obj = self.validate(platform, module, item, last_exchange, where)
            if obj is None:
                continue
            if "country_code" in obj and not platform.owns(
                obj.get("country_code"), obj.get("party_id")
            ):
                self.rt.findings.record(
                    "OCPI-24",
                    f"{where} belongs to {obj.get('country_code')}/"
                    f"{obj.get('party_id')}, which is not among the platform's "
                    "CredentialsRoles (ignored)",
                    platform_id=platform.id,
                    exchange_id=last_exchange,
                )
                continue
            if module == "locations":
                for p in checks.check_location_tree(obj):
                    self.rt.findings.record(
                        p.rule,
                        f"{where}: {p.message}",
                        platform_id=platform.id,
                        exchange_id=last_exchange,
                        pointer=p.pointer,
                        severity=p.severity,
                    )
            role = platform.primary_role("CPO") or {}
            repo.save(
                obj,
                platform_id=platform.id,
                version=platform.version,
                source="poll",
                now=self.rt.now(),
                country_code=role.get("country_code"),
                party_id=role.get("party_id"),
            )
            cc = obj.get("country_code", role.get("country_code"))
            pid = obj.get("party_id", role.get("party_id"))
            keep.add(object_key(cc, pid, str(obj["id"])))
            valid += 1
        gone = repo.invalidate_missing(platform.id, keep)
        summary.update(
            objects=len(crawl.items), valid=valid, pages=crawl.pages, no_longer_valid=len(gone)
        )
        self.last_poll[(platform.id, module)] = summary
        self.rt.bus.publish(f"ocpi.{module}.polled", **summary)
        if module == "locations":
            self.check_tariff_references(platform)
        return summary

    async def poll_all(self, platform: Platform) -> None:
        await self.poll(platform, "tariffs")
        await self.poll(platform, "locations")

    def schedule(self, platform: Platform) -> None:
        """Poll now (in the background) and every ``poll_interval`` seconds after (0: once)."""
        interval = self.ptp.settings.poll_interval
        self.cancel(platform.id)

        async def tick() -> None:
            self._timers.pop(platform.id, None)
            current = self.ptp.node.platforms.get(platform.id)
            if current is None or not current.registered:
                return
            await self.poll_all(current)
            if interval > 0:
                self._timers[platform.id] = self.rt.clock.call_later(
                    interval, tick, name=f"poll-{platform.id}"
                )

        self._timers[platform.id] = self.rt.clock.call_later(0, tick, name=f"poll-{platform.id}")

    def cancel(self, platform_id: int) -> None:
        timer = self._timers.pop(platform_id, None)
        if timer is not None:
            timer.cancel()

    # --- single objects ---

    async def fetch_location(self, platform: Platform, location_id: str) -> dict[str, Any] | None:
        """GET one Location from the CPO's Sender (the journey does this before the tariff
        screen: payment_transaction step 2) and update the mirror."""
        try:
            reply = await self.ptp.node.client.call(
                platform, "GET", "locations", location_id, role="SENDER", expect="object"
            )
        except PeerError:
            return None
        if not reply.ok or not isinstance(reply.data, dict):
            return None
        obj = self.validate(
            platform, "locations", reply.data, reply.exchange_id, f"location {location_id}"
        )
        if obj is None:
            return None
        role = platform.primary_role("CPO") or {}
        self.locations.save(
            obj,
            platform_id=platform.id,
            version=platform.version,
            source="poll",
            now=self.rt.now(),
            country_code=role.get("country_code"),
            party_id=role.get("party_id"),
        )
        return obj

    def evse(
        self,
        location_id: str,
        evse_uid: str,
        platform_id: int | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        row = self.locations.find(location_id, platform_id)
        if row is None:
            return None
        loc = row["object"]
        for evse in loc.get("evses") or []:
            if ci_equal(str(evse.get("uid")), evse_uid):
                return loc, evse
        return None

    def tariff(self, tariff_id: str, platform_id: int | None = None) -> dict[str, Any] | None:
        row = self.tariffs.find(tariff_id, platform_id)
        return row["object"] if row and row["valid"] else None

    def check_tariff_references(self, platform: Platform) -> None:
        """Connector.tariff_ids refer to tariffs the CPO published (checklist 5.4 #41)."""
        polled = self.last_poll.get((platform.id, "tariffs"))
        known = {r["id"].upper() for r in self.tariffs.rows(platform.id, valid_only=True)}
        if not known and (polled is None or "error" in polled):
            return  # nothing to compare with: the tariffs were never read
        missing: set[str] = set()
        for row in self.locations.rows(platform.id, valid_only=True):
            for evse in row["object"].get("evses") or []:
                for conn in evse.get("connectors") or []:
                    ids = conn.get("tariff_ids") or (
                        [conn["tariff_id"]] if conn.get("tariff_id") else []
                    )
                    missing |= {t for t in ids if str(t).upper() not in known}
        if missing:
            self.rt.findings.record(
                "OCPI-41",
                "connectors refer to tariffs the CPO does not publish: "
                + ", ".join(sorted(missing)),
                platform_id=platform.id,
                once=True,
            )
