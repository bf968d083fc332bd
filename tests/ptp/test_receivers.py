"""Receiver modules of the emulator (Locations, Tariffs, Sessions, CDRs): what is stored, what
is refused, and the findings (checklist 5.4)."""

from __future__ import annotations

import ocpi_objects as obj
import pytest
from cpo_double import CpoDouble
from helpers import findings, ocpi

from emulator.app import EmulatorNode

TOKEN_A = "payter-emulator-token-a"
ROUTING = {
    "OCPI-from-country-code": "NL",
    "OCPI-from-party-id": "CPO",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "PAY",
}


class Cpo:
    """A registered CPO talking to the emulator with its token C."""

    def __init__(self, node: EmulatorNode, double: CpoDouble, token: str, version: str) -> None:
        self.node, self.double, self.token, self.version = node, double, token, version

    @property
    def platform_id(self) -> int:
        [platform] = self.node.platforms.registered()
        return platform.id

    def url(self, module: str, *parts: str) -> str:
        base = self.node.server.endpoint_url(self.version, module)
        return "/".join([base, *parts]) if parts else base

    async def call(self, http, method: str, module: str, *parts: str, json=None, **kw):
        return await ocpi(
            http,
            method,
            self.url(module, *parts),
            self.token,
            json=json,
            headers={**ROUTING, **kw.pop("headers", {})},
            **kw,
        )


async def registered(node: EmulatorNode, double: CpoDouble, version: str) -> Cpo:
    answer = await double.register_with(node.server.versions_url, TOKEN_A, version)
    assert answer["status_code"] == 1000, answer
    return Cpo(node, double, answer["data"]["token"], version)


@pytest.fixture(params=["2.3.0", "2.2.1"])
async def cpo(request, emulator: EmulatorNode):
    double = await CpoDouble().start()
    yield await registered(emulator, double, request.param)
    await double.stop()


def errors(node: EmulatorNode) -> list[dict]:
    return [f for f in findings(node) if f["severity"] == "error"]


# --- Locations ------------------------------------------------------------------------------


async def test_location_put_get_and_replace(cpo: Cpo, http) -> None:
    loc = obj.location()
    loc["vendor_note"] = "kept"  # unknown fields are accepted and kept (2.3.0 rule)
    status, _, env = await cpo.call(http, "PUT", "locations", "NL", "CPO", "LOC-1", json=loc)
    assert status == 201 and env["status_code"] == 1000, env
    status, headers, env = await cpo.call(http, "GET", "locations", "NL", "CPO", "loc-1")
    assert status == 200 and env["data"]["id"] == "LOC-1"
    assert env["data"]["vendor_note"] == "kept"
    assert headers["OCPI-to-party-id"] == "CPO"
    status, _, env = await cpo.call(http, "GET", "locations", "NL", "CPO", "LOC-1", "EVSE-2", "1")
    assert status == 200 and env["data"]["standard"] == "IEC_62196_T2_COMBO"
    status, _, _ = await cpo.call(http, "PUT", "locations", "NL", "CPO", "LOC-1", json=loc)
    assert status == 200
    assert errors(cpo.node) == []


async def test_location_refusals_store_nothing(cpo: Cpo, http) -> None:
    node = cpo.node
    status, _, env = await cpo.call(
        http, "PUT", "locations", "NL", "CPO", "OTHER", json=obj.location()
    )
    assert status == 200 and env["status_code"] == 2001 and findings(node, "OCPI-29")
    status, _, env = await cpo.call(
        http, "PUT", "locations", "DE", "XYZ", "LOC-1", json=obj.location(cc="DE", pid="XYZ")
    )
    assert status == 404 and findings(node, "OCPI-28")
    bad = obj.location(address=None, id="L" * 37)
    del bad["address"]
    bad["evses"][0]["status"] = "BROKEN"
    status, _, env = await cpo.call(http, "PUT", "locations", "NL", "CPO", "L" * 37, json=bad)
    assert env["status_code"] == 2001
    pointers = {f["pointer"] for f in findings(node)}
    assert {"/address", "/id", "/evses/0/status"} <= pointers
    assert node.ptp.mirror.locations.rows() == []
    status, _, env = await cpo.call(http, "DELETE", "locations", "NL", "CPO", "LOC-1")
    assert status == 405 and findings(node, "OCPI-32")
    async with http.put(
        cpo.url("locations", "NL", "CPO", "LOC-1"),
        data=b"{oops",
        headers={"Authorization": "Token " + _b64(cpo.token), "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
    assert node.ptp.mirror.locations.rows() == []


def _b64(token: str) -> str:
    import base64

    return base64.b64encode(token.encode()).decode()


async def test_evse_patch_bumps_parents_and_needs_last_updated(cpo: Cpo, http) -> None:
    await cpo.call(http, "PUT", "locations", "NL", "CPO", "LOC-1", json=obj.location())
    status, _, env = await cpo.call(
        http, "PATCH", "locations", "NL", "CPO", "LOC-1", "EVSE-1", json={"status": "CHARGING"}
    )
    assert env["status_code"] == 2001 and findings(cpo.node, "OCPI-31")
    stored = cpo.node.ptp.mirror.locations.object(cpo.platform_id, "NL", "CPO", "LOC-1")
    assert stored["evses"][0]["status"] == "AVAILABLE"
    status, _, env = await cpo.call(
        http,
        "PATCH",
        "locations",
        "NL",
        "CPO",
        "LOC-1",
        "EVSE-1",
        json={"status": "CHARGING", "last_updated": "2025-03-01T09:30:00Z"},
    )
    assert status == 200 and env["status_code"] == 1000, env
    stored = cpo.node.ptp.mirror.locations.object(cpo.platform_id, "NL", "CPO", "LOC-1")
    assert stored["evses"][0]["status"] == "CHARGING"
    assert stored["last_updated"] == "2025-03-01T09:30:00Z"
    # Connector PATCH bumps EVSE and Location.
    await cpo.call(
        http,
        "PATCH",
        "locations",
        "NL",
        "CPO",
        "LOC-1",
        "EVSE-2",
        "1",
        json={"max_electric_power": 22000, "last_updated": "2025-03-01T09:40:00Z"},
    )
    stored = cpo.node.ptp.mirror.locations.object(cpo.platform_id, "NL", "CPO", "LOC-1")
    assert stored["evses"][1]["last_updated"] == "2025-03-01T09:40:00Z"
    assert stored["evses"][1]["connectors"][0]["max_electric_power"] == 22000
    assert stored["last_updated"] == "2025-03-01T09:40:00Z"
    # A wrong type in a PATCH is refused.
    status, _, env = await cpo.call(
        http,
        "PATCH",
        "locations",
        "NL",
        "CPO",
        "LOC-1",
        "EVSE-1",
        json={"status": 7, "last_updated": "2025-03-01T09:50:00Z"},
    )
    assert env["status_code"] == 2001
    # Unknown location.
    status, _, env = await cpo.call(
        http,
        "PATCH",
        "locations",
        "NL",
        "CPO",
        "NOPE",
        json={"name": "x", "last_updated": "2025-03-01T09:50:00Z"},
    )
    assert env["status_code"] == 2003


async def test_an_evse_patch_moves_the_location_last_updated_forward_only(cpo: Cpo, http) -> None:
    location = obj.location()
    location["name"] = "Caf\u00e9 du Parc"
    location["x_vendor"] = {"amount": 12.50, "n": [1, 2]}
    await cpo.call(http, "PUT", "locations", "NL", "CPO", "LOC-1", json=location)
    before = cpo.node.ptp.mirror.locations.object(cpo.platform_id, "NL", "CPO", "LOC-1")
    later, earlier = "2099-01-01T00:00:00.5Z", "2000-01-01T00:00:00Z"
    # (DateTimes are stored in the emulator's own format: milliseconds.)
    for stamp, expected in (
        (later, "2099-01-01T00:00:00.500Z"),
        (earlier, "2099-01-01T00:00:00.500Z"),
    ):
        status, _, env = await cpo.call(
            http,
            "PATCH",
            "locations",
            "NL",
            "CPO",
            "loc-1",
            "evse-1",
            json={"status": "CHARGING", "last_updated": stamp},
        )
        assert env["status_code"] == 1000, env
        stored = cpo.node.ptp.mirror.locations.object(cpo.platform_id, "NL", "CPO", "LOC-1")
        assert stored["last_updated"] == expected
        # The Location's other fields are as they were PUT.
        assert {k: v for k, v in stored.items() if k not in ("last_updated", "evses")} == {
            k: v for k, v in before.items() if k not in ("last_updated", "evses")
        }
    # A Location found by last_updated (date_from) is found by the later stamp.
    rows = cpo.node.ptp.mirror.locations.rows(cpo.platform_id)
    assert [r["last_updated"] for r in rows] == ["2099-01-01T00:00:00.500000Z"]
    # An unknown EVSE of an unknown Location: the Location is named first.
    patch = {"status": "CHARGING", "last_updated": later}
    _, _, env = await cpo.call(
        http, "PATCH", "locations", "NL", "CPO", "NOPE", "EVSE-1", json=patch
    )
    assert env["status_code"] == 2003
    _, _, env = await cpo.call(
        http, "PATCH", "locations", "NL", "CPO", "LOC-1", "EVSE-9", json=patch
    )
    assert env["status_code"] == 2001 and "unknown EVSE" in env["status_message"]


async def test_put_evse_and_connector_under_a_location(cpo: Cpo, http) -> None:
    await cpo.call(http, "PUT", "locations", "NL", "CPO", "LOC-1", json=obj.location())
    new = obj.evse("EVSE-3", last_updated="2025-03-01T11:00:00Z")
    status, _, env = await cpo.call(
        http, "PUT", "locations", "NL", "CPO", "LOC-1", "EVSE-3", json=new
    )
    assert env["status_code"] == 1000, env
    stored = cpo.node.ptp.mirror.locations.object(cpo.platform_id, "NL", "CPO", "LOC-1")
    assert [e["uid"] for e in stored["evses"]] == ["EVSE-1", "EVSE-2", "EVSE-3"]
    assert stored["last_updated"] == "2025-03-01T11:00:00Z"
    status, _, env = await cpo.call(
        http, "PUT", "locations", "NL", "CPO", "LOC-1", "EVSE-3", json=obj.evse("EVSE-9")
    )
    assert env["status_code"] == 2001 and findings(cpo.node, "OCPI-29")


async def test_child_newer_than_parent_is_reported(cpo: Cpo, http) -> None:
    loc = obj.location()
    loc["evses"][0]["last_updated"] = "2025-03-02T00:00:00Z"
    await cpo.call(http, "PUT", "locations", "NL", "CPO", "LOC-1", json=loc)
    assert findings(cpo.node, "OCPI-25")


# --- Tariffs ----------------------------------------------------------------------------------


async def test_tariffs(cpo: Cpo, http) -> None:
    tariff = obj.tariff(version=cpo.version)
    status, _, env = await cpo.call(http, "PUT", "tariffs", "NL", "CPO", "AD-HOC-1", json=tariff)
    assert status == 201 and env["status_code"] == 1000, env
    status, _, env = await cpo.call(http, "GET", "tariffs", "NL", "CPO", "AD-HOC-1")
    assert env["data"]["currency"] == "EUR"
    status, _, _ = await cpo.call(
        http, "PATCH", "tariffs", "NL", "CPO", "AD-HOC-1", json={"currency": "USD"}
    )
    assert status == 405
    status, _, env = await cpo.call(http, "DELETE", "tariffs", "NL", "CPO", "AD-HOC-1")
    assert env["status_code"] == 1000
    status, _, _ = await cpo.call(http, "GET", "tariffs", "NL", "CPO", "AD-HOC-1")
    assert status == 404


async def test_price_shape_of_the_other_version_is_refused(cpo: Cpo, http) -> None:
    other = "2.2.1" if cpo.version == "2.3.0" else "2.3.0"
    status, _, env = await cpo.call(
        http, "PUT", "tariffs", "NL", "CPO", "AD-HOC-1", json=obj.tariff(version=other)
    )
    assert env["status_code"] == 2001, env
    assert cpo.node.ptp.mirror.tariffs.rows() == []


# --- Sessions -----------------------------------------------------------------------------------


async def test_session_put_patch_appends_periods(cpo: Cpo, http) -> None:
    s = obj.session(version=cpo.version, status="PENDING")
    status, _, env = await cpo.call(http, "PUT", "sessions", "NL", "CPO", "S1", json=s)
    assert status == 201 and env["status_code"] == 1000, env
    period = {
        "start_date_time": "2025-03-01T09:00:00Z",
        "dimensions": [{"type": "ENERGY", "volume": 2.5}],
    }
    patch = {
        "status": "ACTIVE",
        "kwh": 2.5,
        "charging_periods": [period],
        "start_date_time": "2025-03-01T09:01:00Z",
        "last_updated": "2025-03-01T09:15:00Z",
    }
    status, _, env = await cpo.call(http, "PATCH", "sessions", "NL", "CPO", "S1", json=patch)
    assert env["status_code"] == 1000, env
    later = {
        "start_date_time": "2025-03-01T09:15:00Z",
        "dimensions": [{"type": "ENERGY", "volume": 3.0}],
    }
    await cpo.call(
        http,
        "PATCH",
        "sessions",
        "NL",
        "CPO",
        "S1",
        json={"kwh": 5.5, "charging_periods": [later], "last_updated": "2025-03-01T09:30:00Z"},
    )
    stored = cpo.node.ptp.sessions.object(cpo.platform_id, "NL", "CPO", "S1")
    assert stored["kwh"] == 5.5 and len(stored["charging_periods"]) == 2
    assert stored["status"] == "ACTIVE"
    assert [f["rule"] for f in errors(cpo.node)] == []
    # kwh going down, and a status after COMPLETED, are reported.
    await cpo.call(
        http,
        "PATCH",
        "sessions",
        "NL",
        "CPO",
        "S1",
        json={"kwh": 1.0, "last_updated": "2025-03-01T09:31:00Z"},
    )
    await cpo.call(
        http,
        "PATCH",
        "sessions",
        "NL",
        "CPO",
        "S1",
        json={"status": "COMPLETED", "last_updated": "2025-03-01T09:32:00Z"},
    )
    await cpo.call(
        http,
        "PATCH",
        "sessions",
        "NL",
        "CPO",
        "S1",
        json={"status": "ACTIVE", "last_updated": "2025-03-01T09:33:00Z"},
    )
    messages = [f["message"] for f in findings(cpo.node, "OCPI-34")]
    assert any("kwh decreased" in m for m in messages)
    assert any("COMPLETED → ACTIVE" in m for m in messages)
    # PUT replaces the periods.
    await cpo.call(
        http,
        "PUT",
        "sessions",
        "NL",
        "CPO",
        "S1",
        json=obj.session(version=cpo.version, status="COMPLETED", kwh=5.5),
    )
    stored = cpo.node.ptp.sessions.object(cpo.platform_id, "NL", "CPO", "S1")
    assert "charging_periods" not in stored


async def test_session_patch_errors(cpo: Cpo, http) -> None:
    status, _, env = await cpo.call(
        http,
        "PATCH",
        "sessions",
        "NL",
        "CPO",
        "S9",
        json={"kwh": 1, "last_updated": "2025-03-01T09:00:00Z"},
    )
    assert env["status_code"] == 2001
    await cpo.call(http, "PUT", "sessions", "NL", "CPO", "S1", json=obj.session())
    status, _, env = await cpo.call(http, "PATCH", "sessions", "NL", "CPO", "S1", json={"kwh": 1})
    assert env["status_code"] == 2001 and findings(cpo.node, "OCPI-31")
    p1 = {
        "start_date_time": "2025-03-01T09:10:00Z",
        "dimensions": [{"type": "ENERGY", "volume": 1}],
    }
    p0 = {
        "start_date_time": "2025-03-01T09:05:00Z",
        "dimensions": [{"type": "ENERGY", "volume": 1}],
    }
    await cpo.call(
        http,
        "PATCH",
        "sessions",
        "NL",
        "CPO",
        "S1",
        json={"charging_periods": [p1], "last_updated": "2025-03-01T09:11:00Z"},
    )
    await cpo.call(
        http,
        "PATCH",
        "sessions",
        "NL",
        "CPO",
        "S1",
        json={"charging_periods": [p0], "last_updated": "2025-03-01T09:12:00Z"},
    )
    assert findings(cpo.node, "OCPI-33")


# --- CDRs -------------------------------------------------------------------------------------


async def test_cdr_post_location_get_and_once(cpo: Cpo, http) -> None:
    await cpo.call(
        http, "PUT", "sessions", "NL", "CPO", "S1", json=obj.session(version=cpo.version)
    )
    cdr = obj.cdr(version=cpo.version)
    status, headers, env = await cpo.call(http, "POST", "cdrs", json=cdr)
    assert status == 201 and env["status_code"] == 1000, env
    location = headers["Location"]
    assert location.endswith("/cdrs/NL/CPO/CDR1")
    status, _, env = await ocpi(http, "GET", location, cpo.token, headers=ROUTING)
    assert status == 200 and env["data"]["id"] == "CDR1"
    assert [f for f in errors(cpo.node)] == []
    status, _, env = await cpo.call(http, "POST", "cdrs", json=cdr)
    assert env["status_code"] == 2001 and findings(cpo.node, "OCPI-37")
    status, _, _ = await cpo.call(http, "PUT", "cdrs", "NL", "CPO", "CDR1", json=cdr)
    assert status == 405


async def test_cdr_checks(cpo: Cpo, http) -> None:
    cdr = obj.cdr("CDR2", version=cpo.version, session_id="UNKNOWN")
    cdr["total_energy"] = 99  # does not add up with the periods
    status, _, env = await cpo.call(http, "POST", "cdrs", json=cdr)
    assert env["status_code"] == 1000
    assert findings(cpo.node, "OCPI-38")
    # Its Session never reached us (Sessions need not be pushed): OCPI-39 could not be
    # checked, and the report says so instead of blaming the CPO.
    assert not findings(cpo.node, "OCPI-39")
    [check] = [
        c
        for part in cpo.node.rt.findings.report()["coverage"]
        for c in part["checks"]
        if c["rule"] == "OCPI-39"
    ]
    assert check["status"] == "not_run" and "'UNKNOWN' never reached us" in check["reason"]
    incomplete = obj.cdr("CDR3", version=cpo.version)
    del incomplete["charging_periods"]
    status, _, env = await cpo.call(http, "POST", "cdrs", json=incomplete)
    assert env["status_code"] == 2001
    assert cpo.node.ptp.cdrs.get(cpo.platform_id, "NL", "CPO", "CDR3") is None


async def test_a_token_works_on_its_own_version_only(emulator: EmulatorNode, http) -> None:
    double = await CpoDouble().start()
    try:
        cpo = await registered(emulator, double, "2.3.0")
        session = obj.session(version="2.3.0")
        status, _, env = await cpo.call(http, "PUT", "sessions", "NL", "CPO", "S1", json=session)
        assert (status, env["status_code"]) == (201, 1000)
        # The same token on the 2.2.1 endpoints: not this platform's.
        other = Cpo(emulator, double, cpo.token, "2.2.1")
        status, _, env = await other.call(http, "GET", "sessions", "NL", "CPO", "S1")
        assert (status, env["status_code"]) == (401, 2000)
        assert "registered for OCPI 2.3.0" in env["status_message"]
        # Versions and credentials stay open (a credentials PUT at 2.2.1 switches versions).
        status, _, env = await other.call(http, "GET", "credentials")
        assert (status, env["status_code"]) == (200, 1000)
    finally:
        await double.stop()


async def test_implausible_values_are_accepted_and_reported(cpo: Cpo, http) -> None:
    """Negative energy or cost and dates in year 9999: the spec bounds none of them (OCPI-38b,
    information); a negative cost in a CDR that is not a credit CDR is OCPI-37b (only credit
    CDRs carry negative amounts)."""
    session = obj.session(
        version=cpo.version,
        kwh=-3.5,
        start_date_time="9999-01-01T00:00:00Z",
        total_cost=obj.price(-1.0, -1.21, cpo.version),
    )
    status, _, env = await cpo.call(http, "PUT", "sessions", "NL", "CPO", "S1", json=session)
    assert (status, env["status_code"]) == (201, 1000)
    info = {f["pointer"]: f for f in findings(cpo.node, "OCPI-38b")}
    assert set(info) == {"/kwh", "/start_date_time", "/total_cost"}
    assert {f["severity"] for f in info.values()} == {"info"}
    cdr = obj.cdr(
        version=cpo.version,
        total_energy=-10,
        total_cost=obj.price(-4.5, -5.45, cpo.version),
        end_date_time="2025-03-01T08:00:00Z",
    )
    status, _, env = await cpo.call(http, "POST", "cdrs", json=cdr)
    assert (status, env["status_code"]) == (201, 1000)
    [negative_cost] = [f for f in findings(cpo.node, "OCPI-37b") if "/total_cost" == f["pointer"]]
    assert negative_cost["severity"] == "error"  # credit CDRs SHALL carry the negative amounts
    pointers = {f["pointer"] for f in findings(cpo.node, "OCPI-38b")} - set(info)
    assert {"/total_energy", "/end_date_time"} <= pointers
    # Information never fails a verdict.
    assert all(r["rule"] != "OCPI-38b" for r in errors(cpo.node))


@pytest.mark.parametrize("cpo", ["2.3.0"], indirect=True)
async def test_a_cdr_post_reads_as_many_rows_whatever_the_size_of_its_location(
    cpo: Cpo, http
) -> None:
    """The CDR's checks need its Location's time zone, not its EVSEs: a Location of 2 or of
    40 EVSEs costs a CDR POST the same rows (counted through the store, not timed)."""
    store = cpo.node.rt.store
    read: list[int] = []
    for n, lid in ((2, "LOC-1"), (40, "LOC-2")):
        evses = [obj.evse(f"EVSE-{i}") for i in range(1, n + 1)]
        status, _, env = await cpo.call(
            http, "PUT", "locations", "NL", "CPO", lid, json=obj.location(lid, evses=evses)
        )
        assert status in (200, 201), env
        cdr = obj.cdr(f"CDR-{n}", session_id=None)
        cdr["cdr_location"]["id"] = lid
        cpo.node.rt.journal.flush()  # the journal's batch is not the CDR's cost
        before = store.rows_read
        status, _, env = await cpo.call(http, "POST", "cdrs", json=cdr)
        assert status == 201 and env["status_code"] == 1000, env
        read.append(store.rows_read - before)
    assert read[0] == read[1], read
