"""Checks of a CPO's Locations Sender that a plain crawl cannot make (checklist 5.3 #22,
#26, #27).

Run once per platform, after its first complete crawl of Locations (setting
``sender_checks``): the first page asked for again (the same query returns the same
sequence), one Location and one of its EVSEs by id in changed case (CiString ids match
case-insensitively), an id that does not exist (HTTP 404), and two crawls with date filters
whose boundaries are objects the CPO returned (``date_from`` inclusive, ``date_to``
exclusive; the crawls also check that ``Link`` keeps the filters).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from emulator import logs
from emulator.ocpi.client import Crawl, OcpiReply, PeerError, PeerProtocolError
from emulator.ocpi.platforms import Platform
from emulator.ocpi.types import ci_equal, format_datetime, parse_datetime_or_none
from emulator.rules import RuleId

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

log = logs.get_logger("emulator.ptp.probes")

MODULE = "locations"


class SenderProbes:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self._done: set[int] = set()

    def due(self, platform: Platform) -> bool:
        return self.ptp.settings.sender_checks and platform.id not in self._done

    async def run(self, platform: Platform, crawl: Crawl) -> None:
        """After a complete crawl of the platform's Locations Sender (``crawl``)."""
        items = [i for i in crawl.items if isinstance(i, dict) and i.get("id")]
        if not items:
            return  # nothing to ask for again yet
        self._done.add(platform.id)
        probes: list[tuple[tuple[RuleId, ...], Any]] = [
            (("OCPI-27",), lambda: self._stable_order(platform, crawl)),
            (("OCPI-26",), lambda: self._one_by_id(platform, items[0])),
            (("OCPI-26b",), lambda: self._unknown_id(platform)),
            (("OCPI-22",), lambda: self._date_filters(platform, items)),
        ]
        # Each check on its own: one that cannot run (the CPO answered without an envelope,
        # or went away) says why in the report's coverage, and the others still run.
        for rules, probe in probes:
            try:
                await probe()
            except PeerError as exc:
                log.warning("sender check not run", platform=platform.id, error=exc.message)
                self.rt.coverage.not_checked(rules, platform.id, _cause(exc))

    def _finding(
        self, rule: RuleId, message: str, platform: Platform, exchange_id: int | None
    ) -> None:
        self.rt.findings.record(rule, message, platform_id=platform.id, exchange_id=exchange_id)

    async def _get(self, platform: Platform, path: str = "", expect: str = "object") -> OcpiReply:
        return await self.ptp.node.client.call(
            platform, "GET", MODULE, path, role=_role(platform), expect=expect
        )

    # --- 5.3 #27: the same query returns the same sequence ---

    async def _stable_order(self, platform: Platform, crawl: Crawl) -> None:
        first = _ids(crawl.first_page)
        reply = await self._get(platform, expect="list")
        if not isinstance(reply.data, list):
            self.rt.coverage.not_checked(
                "OCPI-27", platform.id, f"OCPI-06b (the list came back as {_kind(reply.data)})"
            )
            return
        self.rt.coverage.ran("OCPI-27", platform.id)
        again = _ids(reply.data)
        if reply.ok and sorted(first) == sorted(again) and first != again:
            self._finding(
                "OCPI-27",
                f"the first page of {MODULE} came back in another order when asked for again "
                f"({', '.join(first[:3])}... then {', '.join(again[:3])}...): the same query "
                "must return the same sequence",
                platform,
                reply.exchange_id,
            )

    # --- 5.3 #26: one object by id, ids case-insensitive, 404 for an unknown one ---

    async def _one_by_id(self, platform: Platform, location: dict[str, Any]) -> None:
        location_id = str(location["id"])
        asked = location_id.swapcase()
        reply = await self._get(platform, quote(asked, safe=""))
        if reply.ok and not isinstance(reply.data, dict):
            # One root cause, one finding: the shape is OCPI-06b's (recorded by the client).
            self.rt.coverage.not_checked(
                "OCPI-26",
                platform.id,
                f"OCPI-06b (GET of location {asked!r} answered with data as "
                f"{_kind(reply.data)}, not the object)",
            )
            return
        self.rt.coverage.ran("OCPI-26", platform.id)
        data = reply.data if isinstance(reply.data, dict) else {}
        if not reply.ok or not ci_equal(str(data.get("id")), location_id):
            self._finding(
                "OCPI-26",
                f"GET of location {asked!r} (the id {location_id!r} in another case; ids are "
                f"CiStrings) answered {reply.describe()}"
                + ("" if not reply.ok else f" with location {data.get('id')!r}"),
                platform,
                reply.exchange_id,
            )
            return
        evses = [e for e in location.get("evses") or [] if isinstance(e, dict) and e.get("uid")]
        if not evses:
            return
        uid = str(evses[0]["uid"])
        reply = await self._get(
            platform, f"{quote(asked, safe='')}/{quote(uid.swapcase(), safe='')}"
        )
        if reply.ok and not isinstance(reply.data, dict):
            return  # the shape again: OCPI-06b, already said
        data = reply.data if isinstance(reply.data, dict) else {}
        if not reply.ok or not ci_equal(str(data.get("uid")), uid):
            self._finding(
                "OCPI-26",
                f"GET of EVSE {uid.swapcase()!r} of location {asked!r} (ids in another case) "
                f"answered {reply.describe()}",
                platform,
                reply.exchange_id,
            )

    async def _unknown_id(self, platform: Platform) -> None:
        unknown = f"PAYTER-EMULATOR-NO-SUCH-{self.rt.ids.code(8)}"
        try:
            reply = await self._get(platform, unknown)
        except PeerProtocolError as exc:
            # No envelope (OCPI-06, recorded by the client); the HTTP status is still there.
            if exc.reply is None:
                raise
            reply = exc.reply
        self.rt.coverage.ran("OCPI-26b", platform.id)
        if reply.http_status != 404:
            self._finding(
                "OCPI-26b",
                f"GET of the unknown location {unknown!r} answered {reply.describe()}; a GET "
                "of an object that does not exist is answered HTTP 404",
                platform,
                reply.exchange_id,
            )

    # --- 5.3 #22: date_from inclusive, date_to exclusive ---

    async def _date_filters(self, platform: Platform, items: list[dict[str, Any]]) -> None:
        stamped = [(o, parse_datetime_or_none(o.get("last_updated"))) for o in items]
        dated = [(o, t) for o, t in stamped if t is not None]
        if not dated:
            self.rt.coverage.not_run(
                "OCPI-22", platform.id, "no Location with a usable last_updated to filter on"
            )
            return
        if platform.version == "2.1.1":
            # 2.1.1 says only "after" and "before": no boundary to check.
            return
        oldest = min(t for _, t in dated)
        newest = max(t for _, t in dated)
        # Everything is at least as new as the oldest object: all of it comes back,
        # the oldest included; over several pages, Link keeps date_from.
        since = format_datetime(oldest)
        crawl = await self._filtered(platform, {"date_from": since})
        if crawl is not None:
            self.rt.coverage.ran("OCPI-22", platform.id)
            self._check_window(platform, crawl, since, oldest, lambda t: t >= oldest, "date_from")
            returned = {i.upper() for i in _ids(crawl.items)}
            missing = [
                str(o["id"])
                for o, t in dated
                if t == oldest and str(o["id"]).upper() not in returned
            ]
            if missing:
                self._finding(
                    "OCPI-22",
                    f"GET {MODULE}?date_from={since} left out {', '.join(missing[:3])}, "
                    "whose last_updated is exactly date_from (date_from is inclusive)",
                    platform,
                    _last(crawl),
                )
        until = format_datetime(newest)
        crawl = await self._filtered(platform, {"date_to": until})
        if crawl is not None:
            self._check_window(platform, crawl, until, newest, lambda t: t < newest, "date_to")

    async def _filtered(self, platform: Platform, params: dict[str, str]) -> Crawl | None:
        try:
            return await self.ptp.node.client.get_all(
                platform, MODULE, role=_role(platform), params=params
            )
        except PeerError as exc:
            if exc.reply is None or isinstance(exc, PeerProtocolError):
                raise  # unreachable, or no envelope (OCPI-06): not checked, not a 2nd defect
            name, value = next(iter(params.items()))
            self._finding(
                "OCPI-22",
                f"GET {MODULE}?{name}={value} answered {exc.reply.describe()}; the date "
                "filters must be supported",
                platform,
                exc.reply.exchange_id,
            )
            return None

    def _check_window(
        self,
        platform: Platform,
        crawl: Crawl,
        value: str,
        bound: datetime,
        inside: Any,
        name: str,
    ) -> None:
        outside = [
            f"{o.get('id')} ({o.get('last_updated')})"
            for o in crawl.items
            if isinstance(o, dict)
            and (t := parse_datetime_or_none(o.get("last_updated"))) is not None
            and not inside(t)
        ]
        if outside:
            rule = "≥" if name == "date_from" else "<"
            self._finding(
                "OCPI-22",
                f"GET {MODULE}?{name}={value} returned {', '.join(outside[:3])}"
                f"{' and more' if len(outside) > 3 else ''}: {name} means last_updated "
                f"{rule} {value}",
                platform,
                _last(crawl),
            )


def _cause(exc: PeerError) -> str:
    """Why a check could not run, naming the finding the client recorded for it."""
    return exc.cause()


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else "nothing" if value is None else "a value"


def _role(platform: Platform) -> str | None:
    return None if platform.version == "2.1.1" else "SENDER"


def _ids(items: list[Any]) -> list[str]:
    return [str(i.get("id")) for i in items if isinstance(i, dict) and i.get("id") is not None]


def _last(crawl: Crawl) -> int | None:
    return crawl.exchange_ids[-1] if crawl.exchange_ids else None
