"""The simulated CPO's Sender interfaces: Locations, Tariffs, Sessions, CDRs (pagination per
transport_and_format; checklist 5.3)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from helpers import clock_of
from ptp_double import PtpDouble

from emulator.cpo_sim.node import CpoSimNode

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def next_link(headers: dict[str, str]) -> str | None:
    value = headers.get("Link")
    if value is None:
        return None
    m = LINK.match(value)
    assert m, value
    return m.group("url")


async def crawl(ptp: PtpDouble, module: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Follow Link to the end, checking the paging headers on every page."""
    pages = []
    status, headers, env = await ptp.call("GET", module, params=params)
    while True:
        assert status == 200 and env["status_code"] == 1000, env
        pages.append((headers, env["data"]))
        url = next_link(headers)
        if url is None:
            break
        status, headers, env = await ptp.call("GET", module, url=url)
    return pages


async def test_locations_paging_and_link(start_sim, ptp_factory) -> None:
    sim = await start_sim(ocpi_page_limit=2)
    ptp = await ptp_factory(sim)
    pages = await crawl(ptp, "locations", {})
    assert [len(d) for _, d in pages] == [2, 1]
    # X-Limit is the server's page size on every page, not the count (checklist 5.3 #21).
    assert [h["X-Limit"] for h, _ in pages] == ["2", "2"]
    assert [h["X-Total-Count"] for h, _ in pages] == ["3", "3"]
    ids = [loc["id"] for _, data in pages for loc in data]
    # Creation order, each object once.
    assert ids == ["SIM-AMS-STATION", "SIM-UTR-GARAGE", "SIM-DH-DEPOT"]
    link = next_link(pages[0][0])
    assert link is not None and link.startswith(sim.rt.base_url + "/ocpi/cpo/2.3.0/locations")
    # A requested limit below the maximum is kept; offset continues.
    pages = await crawl(ptp, "locations", {"limit": "1", "offset": "1"})
    assert [[loc["id"] for loc in d] for _, d in pages] == [["SIM-UTR-GARAGE"], ["SIM-DH-DEPOT"]]
    # A limit above X-Limit is capped.
    _, headers, env = await ptp.call("GET", "locations", params={"limit": "500"})
    assert len(env["data"]) == 2 and headers["X-Limit"] == "2"
    # Beyond the end: an empty page and no Link.
    _, headers, env = await ptp.call("GET", "locations", params={"offset": "10"})
    assert env["data"] == [] and "Link" not in headers and headers["X-Total-Count"] == "3"


async def test_date_filters_inclusive_exclusive_and_kept_in_link(start_sim, ptp_factory) -> None:
    sim = await start_sim(ocpi_page_limit=2)
    ptp = await ptp_factory(sim)
    # Locations: AMS 2024-11-05T10:30, UTR 2024-12-02T14:00, DH 2025-01-15T07:45.
    params = {"date_from": "2024-12-02T14:00:00Z", "date_to": "2025-01-15T07:45:00Z"}
    _, headers, env = await ptp.call("GET", "locations", params=params)
    # date_from is inclusive, date_to exclusive (checklist 5.3 #22).
    assert [loc["id"] for loc in env["data"]] == ["SIM-UTR-GARAGE"]
    assert headers["X-Total-Count"] == "1" and "Link" not in headers
    params = {"date_from": "2024-11-05T10:30:00Z", "limit": "1"}
    pages = await crawl(ptp, "locations", params)
    assert [[loc["id"] for loc in d] for _, d in pages] == [
        ["SIM-AMS-STATION"],
        ["SIM-UTR-GARAGE"],
        ["SIM-DH-DEPOT"],
    ]
    for headers, _ in pages[:-1]:
        query = parse_qs(urlsplit(next_link(headers) or "").query)
        # The Link repeats the filters and the limit (checklist 5.3 #20).
        assert query["date_from"] == ["2024-11-05T10:30:00Z"] and query["limit"] == ["1"]
    # An EVSE change bumps the Location's last_updated, so the date filter finds it.
    await sim.backend.chargers.set_fault("SIM-AMS-1", "out-of-order")
    _, _, env = await ptp.call("GET", "locations", params={"date_from": "2025-03-01T09:00:00Z"})
    [loc] = env["data"]
    assert loc["id"] == "SIM-AMS-STATION" and loc["last_updated"] == "2025-03-01T09:00:00Z"
    evse = next(e for e in loc["evses"] if e["uid"] == "SIM-AMS-1")
    assert evse["status"] == "OUTOFORDER" and evse["last_updated"] == loc["last_updated"]
    # A bad parameter is 2001.
    _, _, env = await ptp.call("GET", "locations", params={"date_from": "yesterday"})
    assert env["status_code"] == 2001


async def test_get_one_location_evse_connector(sim: CpoSimNode, ptp: PtpDouble) -> None:
    status, _, env = await ptp.call("GET", "locations", "SIM-AMS-STATION")
    assert status == 200 and env["data"]["id"] == "SIM-AMS-STATION"
    location = env["data"]
    assert (location["country_code"], location["party_id"]) == ("NL", "SIM")
    assert location["parking_places"] and location["help_phone"]  # 2.3.0 fields
    caps = set(location["evses"][0]["capabilities"])
    assert {
        "CHIP_CARD_SUPPORT",
        "CONTACTLESS_CARD_SUPPORT",
        "CREDIT_CARD_PAYABLE",
        "DEBIT_CARD_PAYABLE",
        "PED_TERMINAL",
        "REMOTE_START_STOP_CAPABLE",
    } <= caps
    _, _, env = await ptp.call("GET", "locations", "sim-ams-station/sim-ams-3")
    assert env["data"]["uid"] == "SIM-AMS-3"
    assert "START_SESSION_CONNECTOR_REQUIRED" in env["data"]["capabilities"]
    assert len(env["data"]["connectors"]) == 2
    _, _, env = await ptp.call("GET", "locations", "SIM-AMS-STATION/SIM-AMS-3/2")
    assert env["data"]["standard"] == "CHADEMO"
    for path in ("NOPE", "SIM-AMS-STATION/NOPE", "SIM-AMS-STATION/SIM-AMS-3/9"):
        status, _, env = await ptp.call("GET", "locations", path)
        assert status == 404 and env["status_code"] in (2000, 2003) and "timestamp" in env


async def test_221_shapes(sim: CpoSimNode, ptp_factory) -> None:
    ptp = await ptp_factory(sim, "2.2.1")
    assert "/2.2.1/" in ptp.endpoints["locations"]
    _, _, env = await ptp.call("GET", "locations", "SIM-AMS-STATION")
    location = env["data"]
    assert "parking_places" not in location and "help_phone" not in location
    assert all("parking" not in e for e in location["evses"])
    assert all("capabilities" not in c for e in location["evses"] for c in e["connectors"])
    _, _, env = await ptp.call("GET", "tariffs", "SIM-AC-CARD")
    tariff = env["data"]
    assert "tax_included" not in tariff and "preauthorize_amount" not in tariff
    assert tariff["max_price"] == {"excl_vat": 60, "incl_vat": 72.6}
    pages = await crawl(ptp, "tariffs", {})
    assert [t["id"] for _, d in pages for t in d] == ["SIM-AC-CARD", "SIM-DC-CARD", "SIM-REGULAR"]


async def test_230_tariffs(sim: CpoSimNode, ptp: PtpDouble) -> None:
    _, headers, env = await ptp.call("GET", "tariffs")
    # The default page is small on purpose: a peer has to follow Link.
    assert headers["X-Total-Count"] == "3" and headers["X-Limit"] == "2" and "Link" in headers
    tariffs = {t["id"]: t for t in env["data"]}
    card = tariffs["SIM-AC-CARD"]
    assert card["type"] == "AD_HOC_PAYMENT" and card["tax_included"] == "NO"
    assert card["preauthorize_amount"] == 50 and card["max_price"] == {
        "before_taxes": 60,
        "after_taxes": 72.6,
    }
    # The terminal offers the languages the tariff has (payter.md §2.3).
    assert {t["language"] for t in card["tariff_alt_text"]} == {"en", "nl"}
    assert {t["language"] for t in tariffs["SIM-DC-CARD"]["tariff_alt_text"]} == {"en", "nl", "de"}
    dimensions = {pc["type"] for e in card["elements"] for pc in e["price_components"]}
    assert dimensions == {"FLAT", "ENERGY", "TIME", "PARKING_TIME"}
    _, _, env = await ptp.call("GET", "tariffs", "NL/SIM/sim-dc-card")
    assert env["data"]["id"] == "SIM-DC-CARD"
    status, _, env = await ptp.call("GET", "tariffs", "DE/XXX/SIM-DC-CARD")
    assert status == 404


async def test_sessions_and_cdrs_lists(sim: CpoSimNode, ptp: PtpDouble) -> None:
    status, _, env = await ptp.call("GET", "sessions")
    # date_from is required on the Sessions Sender list (mod_sessions).
    assert status == 200 and env["status_code"] == 2001
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    await ptp.command(
        "START_SESSION",
        {"token": ptp.token(), "location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-1"},
    )
    clock = clock_of(sim)
    await clock.advance(600)
    [session_id] = ptp.sessions
    _, headers, env = await ptp.call(
        "GET", "sessions", params={"date_from": "2025-03-01T00:00:00Z"}
    )
    [session] = env["data"]
    assert session["id"] == session_id and headers["X-Total-Count"] == "1"
    assert session["kwh"] == ptp.sessions[session_id]["kwh"]
    assert len(session["charging_periods"]) == len(ptp.sessions[session_id]["charging_periods"])
    _, _, env = await ptp.call("GET", "sessions", params={"date_from": "2025-03-02T00:00:00Z"})
    assert env["data"] == []
    await sim.backend.charging.end_session(session_id, "test")
    _, headers, env = await ptp.call("GET", "cdrs")
    [cdr] = env["data"]
    assert cdr == ptp.cdrs[0]
    status, _, env = await ptp.call(
        "PUT", "sessions", f"{session_id}/charging_preferences", json_body={"profile_type": "FAST"}
    )
    assert status == 404 and env["status_code"] == 2001


async def test_other_platforms_see_only_their_sessions(sim: CpoSimNode, ptp_factory) -> None:
    first = await ptp_factory(sim)
    minted = sim.platforms.mint_token_a("second")
    from ptp_double import PtpDouble as Double

    second = await Double(party_id="OTH").start()
    try:
        await second.register_with(sim.server.versions_url, minted)
        await sim.backend.chargers.plug_in("SIM-AMS-1")
        await first.command(
            "START_SESSION",
            {"token": first.token(), "location_id": "SIM-AMS-STATION", "evse_uid": "SIM-AMS-1"},
        )
        await clock_of(sim).advance(5)
        params = {"date_from": "2025-01-01T00:00:00Z"}
        _, _, mine = await first.call("GET", "sessions", params=params)
        _, _, theirs = await second.call("GET", "sessions", params=params)
        assert len(mine["data"]) == 1 and theirs["data"] == []
        # Nor can the other party stop it.
        session_id = mine["data"][0]["id"]
        _, env, _ = await second.command("STOP_SESSION", {"session_id": session_id})
        assert env["data"]["result"] == "UNKNOWN_SESSION"
    finally:
        await second.stop()
