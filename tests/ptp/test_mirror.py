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
        assert mirror.locations.get(1, "NL", "CPO", "LOC-2")["valid"] == 0
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


async def test_two_platforms_of_the_same_party_keep_their_own_mirror(
    emulator: EmulatorNode, http
) -> None:
    """A CPO's two backends (staging and test, both NL/CPO) registered at once: each keeps its
    own Locations, Tariffs and Sessions, even under the same ids (objects are keyed per
    platform), so the terminals of both keep their chargers."""
    first, second = CpoDouble(), CpoDouble()
    await first.start()
    await second.start()
    try:
        first.locations = [obj.location("LOC-1", evses=[obj.evse("EVSE-A")])]
        second.locations = [obj.location("LOC-1", evses=[obj.evse("EVSE-B")])]
        first.tariffs = second.tariffs = [obj.tariff()]
        await first.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
        # The fixed token A is spent by the first registration; a minted one for the second.
        _, minted = await admin(http, emulator, "POST", "tokens-a")
        await second.register_with(emulator.server.versions_url, minted["token"], "2.3.0")
        await admin(http, emulator, "POST", "clock/advance", json={"seconds": 1})
        one, two = (p.id for p in emulator.platforms.registered())
        mirror = emulator.ptp.mirror
        assert mirror.evse("LOC-1", "EVSE-A", one) is not None
        assert mirror.evse("LOC-1", "EVSE-B", two) is not None
        assert mirror.evse("LOC-1", "EVSE-B", one) is None
        # Polling one platform again leaves the other's objects valid.
        await admin(http, emulator, "POST", "clock/advance", json={"seconds": 600})
        assert {r["platform_id"] for r in mirror.locations.rows(valid_only=True)} == {one, two}
    finally:
        await first.stop()
        await second.stop()


def test_objects_kept_from_before_per_platform_keys_are_rekeyed() -> None:
    from emulator.ptp.objects import LOCATIONS, OwnedObjects
    from emulator.store import Store

    store = Store(":memory:")
    store.register(LOCATIONS)
    store.insert(
        LOCATIONS.name,
        {"key": "NL/CPO/LOC-1", "platform_id": 3, "id": "LOC-1", "valid": 1, "object": {}},
    )
    repo = OwnedObjects(store, LOCATIONS)
    assert repo.get(3, "nl", "cpo", "loc-1") is not None
    OwnedObjects(store, LOCATIONS)  # a second start changes nothing
    assert [r["key"] for r in repo.rows()] == ["3#NL/CPO/LOC-1"]


async def test_a_refused_tariff_is_still_published_for_the_connectors(
    emulator: EmulatorNode, http
) -> None:
    """A Tariff the CPO lists without a required field is refused (OCPI-30, the one finding);
    the connectors that refer to it refer to a tariff the CPO does publish (no OCPI-41)."""
    cpo = await CpoDouble().start()
    try:
        broken = obj.tariff("AD-HOC-1")
        del broken["tax_included"]  # 2.3.0: cardinality 1
        cpo.locations = [obj.location("LOC-1")]
        cpo.tariffs = [broken]
        await cpo.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
        await admin(http, emulator, "POST", "clock/advance", json={"seconds": 1})
        assert any(f["pointer"] == "/tax_included" for f in findings(emulator, "OCPI-30"))
        assert findings(emulator, "OCPI-41") == []
    finally:
        await cpo.stop()
