"""Payter's mirror of a CPO's Locations and Tariffs.

Payter "mirrors the locations structure of the CPO by polling for updates periodically" and
expects EVSE status pushes (payter.md §2.3). The mirror is built by crawling the CPO's Sender
interfaces with full pagination — on registration and every ``poll_interval`` seconds on the
clock — and kept current by the pushes the Receiver modules accept. A full crawl is the new
truth: objects it no longer returns are marked invalid.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from emulator import logs
from emulator.coverage import checked
from emulator.ocpi.client import PeerError, PeerUnreachable
from emulator.ocpi.models.base import validate_peer_object
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.platforms import Platform
from emulator.ocpi.types import (
    ci_equal,
    collect_notes,
    format_datetime,
    parse_datetime,
    parse_datetime_or_none,
)
from emulator.ptp import checks
from emulator.ptp.objects import TARIFFS, Locations, OwnedObjects, StoredObject, object_key

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

log = logs.get_logger("emulator.ptp.mirror")

MODEL_NAME = {"locations": "Location", "tariffs": "Tariff", "sessions": "Session", "cdrs": "CDR"}


class Mirror:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self.locations = Locations(self.rt.store)
        self.tariffs = OwnedObjects(self.rt.store, TARIFFS)
        self._timers: dict[int, Any] = {}
        self._generation: dict[int, int] = {}
        self.last_poll: dict[tuple[int, str], dict[str, Any]] = {}
        # Ids (upper case) the last crawl of a module listed but OCPI-30 & co. refused: the
        # CPO publishes them, so a reference to one is not a second finding (OCPI-41).
        self.refused_ids: dict[tuple[int, str], set[str]] = {}
        # Location pushes we refused, per (platform, LOCATION ID): why (PAYTER-02 must not
        # say "without a push" when there was one).
        self._refused: dict[tuple[int, str], str] = {}

    def refused_push(self, platform_id: int, location_id: str, why: str) -> None:
        self._refused[(platform_id, location_id.upper())] = why

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
                parsed = validate_peer_object(model, obj)
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
        if module in ("sessions", "cdrs"):
            return await self.pull(platform, module)
        with self.rt.coverage.scope(platform.id):
            return await self._poll(platform, module)

    async def _poll(self, platform: Platform, module: str) -> dict[str, Any]:
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
        interface = "SENDER" if platform.version != "2.1.1" else None
        try:
            crawl = await self.ptp.node.client.get_all(platform, module, role=interface)
        except PeerError as exc:
            summary["error"] = exc.message
            log.warning("poll failed", module=module, platform=platform.id, error=exc.message)
            if exc.reply is not None and exc.reply.url == platform.endpoint(module, interface):
                # Checklist 5.3 #23: only the Sessions list may require parameters.
                self.rt.findings.record(
                    "OCPI-23",
                    f"GET {module} without parameters answered {exc.reply.describe()}; every "
                    "Sender list but Sessions works without parameters",
                    platform_id=platform.id,
                    exchange_id=exc.reply.exchange_id,
                    once=True,
                )
            self.last_poll[(platform.id, module)] = summary
            return summary
        checked("OCPI-23")  # the list answered without parameters
        keep: set[str] = set()
        valid = 0
        refused: set[str] = set()
        self.refused_ids[(platform.id, module)] = refused
        last_exchange = crawl.exchange_ids[-1] if crawl.exchange_ids else None
        for i, item in enumerate(crawl.items):
            where = f"{module} item {i}" + (
                f" ({item.get('id')})" if isinstance(item, dict) else ""
            )
            obj = self.validate(platform, module, item, last_exchange, where)
            if obj is None:
                if isinstance(item, dict) and item.get("id") is not None:
                    refused.add(str(item["id"]).upper())
                continue
            checked("OCPI-24")
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
                    )
            role = platform.primary_role("CPO") or {}
            cc = obj.get("country_code", role.get("country_code"))
            pid = obj.get("party_id", role.get("party_id"))
            if module == "locations":
                previous = repo.get(platform.id, cc, pid, str(obj["id"]))
                self._check_pushed(platform, previous, obj, last_exchange)
            repo.save(
                obj,
                platform_id=platform.id,
                version=platform.version,
                source="poll",
                now=self.rt.now(),
                country_code=role.get("country_code"),
                party_id=role.get("party_id"),
            )
            keep.add(object_key(platform.id, cc, pid, str(obj["id"])))
            valid += 1
        gone = repo.invalidate_missing(platform.id, keep)
        summary.update(
            objects=len(crawl.items), valid=valid, pages=crawl.pages, no_longer_valid=len(gone)
        )
        self.last_poll[(platform.id, module)] = summary
        self.rt.bus.publish(f"ocpi.{module}.polled", **summary)
        if all(
            "error" not in self.last_poll.get((platform.id, m), {"error": None})
            for m in ("locations", "tariffs")
        ):
            # Locations and Tariffs crawled through: the mirror the verdict needs.
            self.rt.coverage.flow("mirror", platform.id, f"{module} crawled")
        if module == "locations":
            self.check_tariff_references(platform)
            if self.ptp.probes.due(platform):
                await self.ptp.probes.run(platform, crawl)
        return summary

    def _check_pushed(
        self,
        platform: Platform,
        stored: StoredObject | None,
        polled: dict[str, Any],
        exchange_id: int | None,
    ) -> None:
        """PAYTER-02: Payter shows the chargers' status from the CPO's pushes. An EVSE whose
        status changed (a newer last_updated) without a push shows up only in a crawl."""
        if stored is None or not stored["valid"]:
            return
        checked("PAYTER-02")  # a status the crawl sees changed must have been pushed
        before = {
            str(e.get("uid")).upper(): e
            for e in stored["object"].get("evses") or []
            if e.get("uid")
        }
        for evse in polled.get("evses") or []:
            old = before.get(str(evse.get("uid")).upper())
            if old is None or old.get("status") == evse.get("status"):
                continue
            then, now = (
                parse_datetime_or_none(old.get("last_updated")),
                parse_datetime_or_none(evse.get("last_updated")),
            )
            if then is None or now is None or now <= then:
                continue
            refused = self._refused.get((platform.id, str(polled.get("id")).upper()))
            if refused is not None:
                # The CPO pushed; we refused the push. Its finding is the one root cause.
                self.rt.coverage.not_checked(
                    "PAYTER-02",
                    platform.id,
                    f"{refused} (a push of location {polled.get('id')} was refused)",
                )
                continue
            self.rt.findings.record(
                "PAYTER-02",
                f"EVSE {evse.get('uid')} of location {polled.get('id')} went from "
                f"{old.get('status')} to {evse.get('status')} ({evse.get('last_updated')}) "
                "without a push; the terminal shows it only after the next crawl",
                platform_id=platform.id,
                exchange_id=exchange_id,
                once=True,
            )

    # --- Sessions and CDRs, for CPOs that do not (only) push them ---

    async def pull(
        self, platform: Platform, module: str, *, since: datetime | None = None
    ) -> dict[str, Any]:
        """GET the CPO's Sessions or CDRs changed since ``since``, else since the last pull
        (the first one looks back ``receipt_window``), every page. Sessions "can be GET from
        the CPO system, or pushed" (payter.md §2.3); the Sessions list needs ``date_from``
        (mod_sessions.asciidoc). New objects go through the same checks as pushed ones."""
        with self.rt.coverage.scope(platform.id):
            return await self._pull(platform, module, since=since)

    async def _pull(
        self, platform: Platform, module: str, *, since: datetime | None = None
    ) -> dict[str, Any]:
        now = self.rt.now()
        # A pull from a given time (recovery) does not move the regular pull's bookmark.
        bookmark = since is None
        summary: dict[str, Any] = {
            "module": module,
            "platform_id": platform.id,
            "at": format_datetime(now),
        }
        role = "SENDER" if platform.version != "2.1.1" else None
        if platform.endpoint(module, role) is None:
            summary["error"] = f"the platform exposes no {module} Sender"
            if bookmark:
                self.last_poll[(platform.id, module)] = summary
            return summary
        last = self.last_poll.get((platform.id, module))
        if since is None:
            since = (
                parse_datetime(last["at"])
                if last and "error" not in last
                else now - timedelta(seconds=self.ptp.settings.receipt_window)
            )
        date_from = format_datetime(since)
        try:
            crawl = await self.ptp.node.client.get_all(
                platform, module, role=role, params={"date_from": date_from}
            )
        except PeerError as exc:
            summary["error"] = exc.message
            if bookmark:
                self.last_poll[(platform.id, module)] = summary
            return summary
        exchange_id = crawl.exchange_ids[-1] if crawl.exchange_ids else None
        version = platform.version or "2.2.1"
        role_ids = platform.primary_role("CPO") or {}
        new = 0
        for i, item in enumerate(crawl.items):
            where = f"{module} item {i}" + (
                f" ({item.get('id')})" if isinstance(item, dict) else ""
            )
            obj = self.validate(platform, module, item, exchange_id, where)
            if obj is None:
                continue
            cc = str(obj.get("country_code") or role_ids.get("country_code") or "")
            pid = str(obj.get("party_id") or role_ids.get("party_id") or "")
            checked("OCPI-22", "OCPI-24")  # date_from kept, and owned by the platform
            if "country_code" in obj and not platform.owns(cc, pid):
                self.rt.findings.record(
                    "OCPI-24",
                    f"{where} belongs to {cc}/{pid}, which is not among the platform's "
                    "CredentialsRoles (ignored)",
                    platform_id=platform.id,
                    exchange_id=exchange_id,
                )
                continue
            stamp = parse_datetime_or_none(obj.get("last_updated"))
            if stamp is not None and stamp < since:
                self.rt.findings.record(
                    "OCPI-22",
                    f"GET {module}?date_from={date_from} returned {where}, last_updated "
                    f"{obj.get('last_updated')}: date_from means last_updated ≥ {date_from}",
                    platform_id=platform.id,
                    exchange_id=exchange_id,
                )
            if await self._ingest(platform, version, module, obj, cc, pid, exchange_id):
                new += 1
        summary.update(objects=len(crawl.items), new=new, pages=crawl.pages, date_from=date_from)
        if bookmark:
            self.last_poll[(platform.id, module)] = summary
        self.rt.bus.publish(f"ocpi.{module}.polled", **summary)
        return summary

    async def _ingest(
        self,
        platform: Platform,
        version: str,
        module: str,
        obj: dict[str, Any],
        cc: str,
        pid: str,
        exchange_id: int | None,
    ) -> bool:
        """A pulled Session or CDR that is new (or, for a Session, newer): checked as a push
        would be, then stored. Returns whether it was taken."""
        ptp = self.ptp
        command = None
        if module == "cdrs":
            if ptp.cdrs.get(platform.id, cc, pid, str(obj["id"])) is not None:
                return False  # CDRs are final: the one we have is the one
            command = ptp.start_of(obj)
            problems = ptp.cdr_problems(platform, version, obj, cc, pid, command=command)
        else:
            previous = ptp.sessions.get(platform.id, cc, pid, str(obj["id"]))
            if previous is not None:
                then, now = (
                    parse_datetime_or_none(previous["last_updated"]),
                    parse_datetime_or_none(obj.get("last_updated")),
                )
                if then is not None and now is not None and now <= then:
                    return False
            command = ptp.start_of(obj)
            problems = ptp.session_problems(
                version, previous["object"] if previous else None, obj, command=command
            )
        where = f"{module[:-1]} {obj['id']} (pulled)"
        for p in problems:
            self.rt.findings.record(
                p.rule,
                f"{where}: {p.message}",
                platform_id=platform.id,
                exchange_id=exchange_id,
                pointer=p.pointer,
            )
        if module == "cdrs":
            await ptp.store_cdr(platform, version, obj, cc, pid, source="poll", command=command)
        else:
            await ptp.store_session(
                platform,
                platform.version,
                obj,
                previous["object"] if previous else None,
                cc,
                pid,
                source="poll",
                command=command,
            )
        return True

    async def poll_all(self, platform: Platform) -> None:
        await self.poll(platform, "tariffs")
        await self.poll(platform, "locations")

    def schedule(self, platform: Platform) -> None:
        """Poll now (in the background) and every ``poll_interval`` seconds after (with 0:
        only now)."""
        interval = self.ptp.settings.poll_interval
        self.cancel(platform.id)
        # One chain of polls per platform: a tick still crawling when the platform is
        # scheduled again (a credentials PUT, a restart) does not start a second chain.
        generation = self._generation[platform.id] = self._generation.get(platform.id, 0) + 1

        async def tick() -> None:
            self._timers.pop(platform.id, None)
            current = self.ptp.node.platforms.get(platform.id)
            if current is None or not current.registered:
                return
            await self.poll_all(current)
            if interval > 0 and self._generation.get(platform.id) == generation:
                # 0: at registration (and on demand) only
                self._timers[platform.id] = self.rt.clock.call_later(
                    interval, tick, name=f"poll-{platform.id}"
                )

        self._timers[platform.id] = self.rt.clock.call_later(0, tick, name=f"poll-{platform.id}")

    def cancel(self, platform_id: int) -> None:
        self._generation[platform_id] = self._generation.get(platform_id, 0) + 1
        timer = self._timers.pop(platform_id, None)
        if timer is not None:
            timer.cancel()

    # --- single objects ---

    async def fetch_location(self, platform: Platform, location_id: str) -> dict[str, Any] | None:
        """GET one Location from the CPO's Sender (the journey does this before the tariff
        screen: payment_transaction step 2) and update the mirror. A CPO that cannot be
        reached raises :class:`PeerUnreachable` (the journey then takes no card)."""
        try:
            reply = await self.ptp.node.client.call(
                platform, "GET", "locations", location_id, role="SENDER", expect="object"
            )
        except PeerUnreachable:
            raise
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
        # A tariff the CPO lists but whose object was refused (OCPI-30 names that) is
        # published all the same: one root cause, one finding.
        known |= self.refused_ids.get((platform.id, "tariffs"), set())
        if not known and (polled is None or "error" in polled):
            return  # nothing to compare with: the tariffs were never read
        self.rt.coverage.ran("OCPI-41", platform.id)
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
