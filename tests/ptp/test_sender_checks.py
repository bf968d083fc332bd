"""What the emulator checks of a CPO's Sender interfaces beyond a crawl (checklist 5.3 #22,
#23, #26, #27), and PAYTER-02 (EVSE status changes pushed, not only polled)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import ocpi_objects as obj
import pytest
from cpo_double import CpoDouble
from helpers import admin, findings

from emulator.app import EmulatorNode

TOKEN_A = "payter-emulator-token-a"


@pytest.fixture
async def connect(start_emulator) -> AsyncIterator[Callable[..., Any]]:
    """A CpoDouble (knobs as keyword arguments) registered with a fresh emulator; the
    first crawl (and with it the sender checks) has run."""
    doubles: list[CpoDouble] = []

    async def start(emulator: dict[str, Any] | None = None, **knobs: Any):
        node = await start_emulator(**(emulator or {}))
        cpo = await CpoDouble(**knobs).start()
        doubles.append(cpo)
        cpo.locations = [
            obj.location("LOC-1", last_updated="2025-03-01T08:00:00Z"),
            obj.location("LOC-2", last_updated="2025-03-01T08:30:00Z"),
            obj.location("LOC-3", last_updated="2025-03-01T08:45:00Z"),
        ]
        cpo.tariffs = [obj.tariff()]
        await cpo.register_with(node.server.versions_url, TOKEN_A, "2.3.0")
        await node.rt.clock.advance(1)
        return node, cpo

    yield start
    for cpo in doubles:
        await cpo.stop()


def rules(node: EmulatorNode) -> set[str]:
    return {f["rule"] for f in findings(node)}


async def test_a_correct_sender_passes_every_check(connect) -> None:
    node, cpo = await connect()
    assert rules(node) == set()
    paths = [s.path.split("/2.3.0/", 1)[1] for s in cpo.seen if "/2.3.0/locations" in s.path]
    # The crawl, the first page again, LOC-1 and its EVSE in another case, an unknown id,
    # then the two crawls with date filters.
    assert paths[:5] == [
        "locations",
        "locations",
        "locations/loc-1",
        "locations/loc-1/evse-1",
        paths[4],
    ]
    assert paths[4].startswith("locations/PAYTER-EMULATOR-NO-SUCH-")
    assert paths[5:] == ["locations", "locations"]
    # Once per platform: the next crawl is a crawl only.
    before = len(cpo.seen)
    await node.rt.clock.advance(600)
    assert [s.path.rsplit("/", 1)[1] for s in cpo.seen[before:]] == ["tariffs", "locations"]


async def test_checks_can_be_switched_off(connect) -> None:
    node, cpo = await connect(emulator={"sender_checks": False}, unknown_id_http_200=True)
    located = [s for s in cpo.seen if "/2.3.0/locations" in s.path]
    assert len(located) == 1 and rules(node) == set()


@pytest.mark.parametrize(
    ("knob", "rule", "says"),
    [
        ("ignore_date_filters", "OCPI-22", "date_to means last_updated < 2025-03-01T08:45:00Z"),
        # The spec: a GET of a resource that does not exist SHOULD be a 404 (a warning).
        ("unknown_id_http_200", "OCPI-26b", "answered HTTP 200, OCPI 2003"),
        ("unstable_order", "OCPI-27", "came back in another order"),
    ],
)
async def test_each_sender_mistake_is_reported(connect, knob: str, rule: str, says: str) -> None:
    node, _ = await connect(**{knob: True})
    assert rules(node) == {rule}
    [finding] = findings(node, rule)
    assert says in finding["message"] and finding["exchange_id"]


async def test_ids_are_matched_case_insensitively(connect) -> None:
    # A CPO that matches ids case-sensitively does not find loc-1.
    node, cpo = await connect()
    node.ptp.probes._done.clear()
    cpo.locations = [obj.location("Loc-1")]
    platform = node.platforms.registered()[0]
    original = cpo.sender

    def case_sensitive(request, module):  # type: ignore[no-untyped-def]
        kind, _, rest = module.partition("/")
        if rest and rest.split("/")[0] != "Loc-1":
            return cpo.envelope(code=2003, http=404, request=request)
        return original(request, module)

    cpo.sender = case_sensitive  # type: ignore[method-assign]
    await node.ptp.mirror.poll(platform, "locations")
    [finding] = findings(node, "OCPI-26")
    assert "'lOC-1'" in finding["message"] and "HTTP 404" in finding["message"]


async def test_a_list_that_needs_parameters_is_reported(connect) -> None:
    node, _ = await connect(list_needs_parameters=True)
    found = findings(node, "OCPI-23")
    assert {f["message"].split(" without")[0] for f in found} == {"GET tariffs", "GET locations"}
    assert all(f["severity"] == "error" for f in found)


async def test_status_changes_that_were_not_pushed(connect, http) -> None:
    node, cpo = await connect()
    # EVSE-1 starts charging; the CPO does not push it, the next crawl shows it.
    loc = obj.location("LOC-1", last_updated="2025-03-01T09:05:00Z")
    loc["evses"][0].update(status="CHARGING", last_updated="2025-03-01T09:05:00Z")
    cpo.locations[0] = loc
    status, _ = await admin(http, node, "POST", "ocpi/poll", json={"modules": ["locations"]})
    assert status == 200
    [finding] = findings(node, "PAYTER-02")
    assert finding["severity"] == "warning" and finding["axis"] == "payter"
    assert "EVSE-1 of location LOC-1 went from AVAILABLE to CHARGING" in finding["message"]
    # A change the crawl sees with an older stamp than the mirror's is not one.
    status, _ = await admin(http, node, "POST", "ocpi/poll", json={"modules": ["locations"]})
    assert len(findings(node, "PAYTER-02")) == 1


async def test_poll_refuses_unknown_modules(connect, http) -> None:
    node, _ = await connect()
    status, body = await admin(http, node, "POST", "ocpi/poll", json={"modules": ["tokens"]})
    assert status == 400 and body["error"]["code"] == "invalid_field"
