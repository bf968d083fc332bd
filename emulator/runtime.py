"""The services one server (the emulator, or the simulated CPO) runs on.

Everything that touches time, randomness, storage or the network is here and injected, so a
test can build a runtime with a manual clock, a seeded id generator and an in-memory store.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from emulator.background import Background
from emulator.clock import Clock, make_clock
from emulator.coverage import Coverage
from emulator.datetimes import parse_datetime
from emulator.events import EventBus
from emulator.faults import Faults
from emulator.findings import Findings
from emulator.ids import Ids
from emulator.journal import Journal
from emulator.outbound import OutboundPolicy, PolicyResolver
from emulator.settings import ServerSettings
from emulator.store import Store, TableSpec
from emulator.vault import Vault

# One row per start of a server on this database (kept by POST /__admin/reset): a seeded
# restart draws ids the earlier runs did not.
STARTS = TableSpec(name="runtime_starts", columns={"id": int}, keep_on_reset=True)


@dataclass
class Runtime:
    settings: ServerSettings
    clock: Clock
    background: Background
    bus: EventBus
    ids: Ids
    store: Store
    journal: Journal
    findings: Findings
    coverage: Coverage
    faults: Faults
    base_url: str = ""
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    # Keyed hashes and encryption for the secrets the store keeps (emulator/vault.py).
    vault: Vault = field(default_factory=lambda: Vault(os.urandom(32)))
    _http: aiohttp.ClientSession | None = None
    # Called after POST /__admin/reset has emptied the store (re-seed fixtures etc.).
    reset_hooks: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    # Called when the server stops.
    close_hooks: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                # Every name is resolved through the outbound policy (emulator/outbound.py).
                connector=aiohttp.TCPConnector(resolver=PolicyResolver(self.outbound)),
                timeout=aiohttp.ClientTimeout(total=self.settings.http_timeout),
                # The emulator talks to whatever the user points it at; never to a proxy
                # picked up from the environment.
                trust_env=False,
            )
        return self._http

    def now(self) -> datetime:
        return self.clock.now()

    async def close(self) -> None:
        for hook in self.close_hooks:
            result = hook()
            if result is not None:
                await result
        await self.background.close()
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self.journal.close()
        self.store.close()


def build_runtime(
    settings: ServerSettings,
    *,
    clock: Clock | None = None,
    background: Background | None = None,
    store: Store | None = None,
) -> Runtime:
    background = background or (clock.background if clock else Background())
    if clock is None:
        start = parse_datetime(settings.clock_start) if settings.clock_start else None
        clock = make_clock(settings.clock, background, start)
    store = store or Store(settings.db)
    store.register(STARTS)
    earlier_starts = store.count(STARTS.name)
    store.insert(STARTS.name, {"id": earlier_starts})
    bus = EventBus(clock.now)
    coverage = Coverage(store, clock.now)
    findings = Findings(
        store, bus, clock.now, strict=settings.strict, retention=settings.findings_retention
    )
    findings.coverage = coverage
    rt = Runtime(
        settings=settings,
        outbound=OutboundPolicy.from_settings(settings.allow_outbound, settings.deny_outbound),
        vault=Vault.for_database(settings.db, settings.secrets_key),
        clock=clock,
        background=background,
        bus=bus,
        ids=Ids(settings.seed, start=earlier_starts),
        store=store,
        journal=Journal(
            store,
            bus,
            clock.now,
            retention=settings.journal_retention,
            body_bytes=settings.journal_body_bytes,
        ),
        findings=findings,
        coverage=coverage,
        faults=Faults(bus, clock.now, settings.seed),
    )
    rt.reset_hooks.append(coverage.clear_cache)
    return rt


def listening_info(
    base_url: str, *, ocpi_prefix: str = "/ocpi", cps: bool = True
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "event": "listening",
        "url": base_url,
        "ocpi_versions_url": f"{base_url}{ocpi_prefix}/versions",
    }
    if cps:
        info["cps_base_url"] = f"{base_url}/cps/"
    info["admin_url"] = f"{base_url}/__admin/"
    return info
