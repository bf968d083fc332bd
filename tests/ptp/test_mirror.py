"""Payter's mirror of the CPO's Locations and Tariffs, built by crawling (payter.md §2.3)."""

from __future__ import annotations

import ocpi_objects as obj
from cpo_double import CpoDouble
from helpers import admin, findings

from emulator.app import EmulatorNode

TOKEN_A = "payter-emulator-token-a"


async def test_crawl_builds_the_mirror_and_drops_what_disappears(
    emulator: EmulatorNode, http
) -> None:
    cpo = await CpoDouble().start()
    try:
        cpo.locations = [
            obj.location("LOC-1"),
            obj.location("LOC-2"),
            obj.location("LOC-X", cc="DE", pid="ABC"),
        ]
        cpo.tariffs = [obj.tariff()]
        await cpo.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
        # The first crawl is scheduled on the clock right after registration.
        await admin(http, emulator, "POST", "clock/advance", json={"seconds": 1})
        mirror = emulator.ptp.mirror
        valid = {r["id"] for r in mirror.locations.rows(valid_only=True)}
        assert valid == {"LOC-1", "LOC-2"}
        # A location owned by a party the CPO did not register is reported and ignored.
        assert any("DE/ABC" in f["message"] for f in findings(emulator, "OCPI-24"))
        assert [r["id"] for r in mirror.tariffs.rows(valid_only=True)] == ["AD-HOC-1"]
        # The next crawl (every poll_interval) no longer returns LOC-2: it is not valid now.
        cpo.locations = [obj.location("LOC-1")]
        await admin(http, emulator, "POST", "clock/advance", json={"seconds": 600})
        assert {r["id"] for r in mirror.locations.rows(valid_only=True)} == {"LOC-1"}
        assert mirror.locations.get("NL", "CPO", "LOC-2")["valid"] == 0
        # On demand, too.
        status, summary = await admin(http, emulator, "POST", "ocpi/poll", json={})
        assert status == 200 and {s["module"] for s in summary} == {"tariffs", "locations"}
        assert summary[1]["valid"] == 1
        status, rows = await admin(http, emulator, "GET", "ocpi/locations?valid=1")
        assert [r["id"] for r in rows] == ["LOC-1"]
    finally:
        await cpo.stop()


async def test_poll_interval_zero_crawls_once_at_registration(start_emulator, http) -> None:
    emulator = await start_emulator(poll_interval=0)
    cpo = await CpoDouble().start()
    try:
        cpo.locations = [obj.location("LOC-1")]
        cpo.tariffs = [obj.tariff()]
        await cpo.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
        await admin(http, emulator, "POST", "clock/advance", json={"seconds": 1})
        assert [r["id"] for r in emulator.ptp.mirror.locations.rows()] == ["LOC-1"]
        cpo.locations = [obj.location("LOC-1"), obj.location("LOC-2")]
        await admin(http, emulator, "POST", "clock/advance", json={"seconds": 86400})
        assert [r["id"] for r in emulator.ptp.mirror.locations.rows()] == ["LOC-1"]
    finally:
        await cpo.stop()


async def test_invalid_objects_in_a_crawl_are_findings_not_mirror_entries(
    emulator: EmulatorNode, http
) -> None:
    cpo = await CpoDouble().start()
    try:
        broken = obj.location("LOC-B")
        del broken["coordinates"]
        cpo.locations = [obj.location("LOC-1"), broken]
        cpo.tariffs = []
        await cpo.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
        await admin(http, emulator, "POST", "clock/advance", json={"seconds": 1})
        assert {r["id"] for r in emulator.ptp.mirror.locations.rows()} == {"LOC-1"}
        assert any(f["pointer"] == "/coordinates" for f in findings(emulator, "OCPI-30"))
        # Connectors point at a tariff the CPO does not publish.
        assert findings(emulator, "OCPI-41")
    finally:
        await cpo.stop()
