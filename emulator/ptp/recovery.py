"""What the CPO sent while the emulator could not hear it, fetched back before money moves.

A CPO pushes a Session or a CDR once and does not retry (the simulated CPO neither): when the
emulator is down, or its answer is lost, the push is gone, and "the receiver re-syncs with
GET" (transport_and_format.asciidoc). So, before any timeout settles a pre-authorization (no
Session: void; no CDR or no update: capture the last known cost), and after every restart, the
CPO's Sessions and CDRs are pulled from its Senders — ``date_from`` since the journey began,
every page — and go through the same checks, store and listeners as a push
(:meth:`emulator.ptp.mirror.Mirror.pull`): a CDR found that way captures exactly as a pushed
one would.

A push the emulator stored but died before passing on (killed between the two) is stored with
``notified = 0``; on restart it is passed on again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from emulator import logs
from emulator.ocpi.types import parse_datetime_or_none
from emulator.ptp.objects import CDRS, SESSIONS

if TYPE_CHECKING:
    from emulator.ptp.commands import CommandRecord
    from emulator.ptp.core import Ptp

log = logs.get_logger("emulator.ptp.recovery")

# The CPO's clock and ours differ; look back a little further than the journey's start.
CLOCK_MARGIN = timedelta(minutes=5)


class Recovery:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self._locks: dict[int, asyncio.Lock] = {}

    async def pull_for(
        self, command_ids: Iterable[str | None], since: datetime | str | None = None
    ) -> None:
        """Pull the Sessions and CDRs of these START_SESSIONs' platforms, ``date_from``
        ``since`` (else when the earliest of them was sent), following every page."""
        by_platform: dict[int, list[CommandRecord]] = {}
        for command_id in command_ids:
            record = self.ptp.commands.get(command_id) if command_id else None
            if record is not None and record.get("platform_id") is not None:
                by_platform.setdefault(int(record["platform_id"]), []).append(record)
        for platform_id, records in by_platform.items():
            platform = self.ptp.node.platforms.get(platform_id)
            if platform is None or not platform.registered:
                continue
            times = [parse_datetime_or_none(r.get("sent_at")) for r in records]
            times.append(parse_datetime_or_none(since))
            known = [t for t in times if t is not None]
            if not known:
                continue
            earliest = min(known)
            lock = self._locks.setdefault(platform_id, asyncio.Lock())
            async with lock:
                for module in ("sessions", "cdrs"):
                    summary = await self.ptp.mirror.pull(
                        platform, module, since=earliest - CLOCK_MARGIN
                    )
                    if summary.get("error"):
                        log.warning(
                            "could not pull what the CPO may have sent",
                            platform=platform_id,
                            module=module,
                            error=summary["error"],
                        )

    async def pass_on_unheard(self) -> int:
        """Sessions and CDRs stored but never passed on to the listeners (the process died in
        between): passed on now, Sessions first. Returns how many."""
        count = 0
        for spec, listeners in (
            (SESSIONS, self.ptp.session_listeners),
            (CDRS, self.ptp.cdr_listeners),
        ):
            for row in self.rt.store.rows(spec.name, "notified = 0", order_by="last_updated"):
                command = self.ptp.start_of(row["object"])
                try:
                    if spec is SESSIONS:
                        await self.ptp.notify(listeners, row, None, command)
                    else:
                        await self.ptp.notify(listeners, row, command)
                except Exception:
                    # One object the listeners cannot take must not keep the others (and the
                    # pull after them) from every journey's recovery; it stays unheard.
                    log.exception("a stored push could not be passed on", key=row["key"])
                    continue
                self.rt.store.update(spec.name, row["key"], {"notified": 1})
                count += 1
        return count

    async def after_restart(self, open_starts: Iterable[tuple[str | None, datetime | str]]) -> None:
        """After a restart: pass on what was stored but never heard, then pull what the CPO
        sent for the journeys still open (their START_SESSION and when each began)."""
        await self.pass_on_unheard()
        starts = [(c, parse_datetime_or_none(began)) for c, began in open_starts if c]
        if starts:
            began = [b for _, b in starts if b is not None]
            await self.pull_for([c for c, _ in starts], since=min(began) if began else None)
