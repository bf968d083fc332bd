"""What real CPO libraries do, from the CPO double (tests/cpo_double.py): data wrapped in a list,
endpoint URLs with a trailing slash, a bare 404 without an OCPI envelope, a PATCH with explicit
nulls, an enum value from another OCPI version. Each gets a protocol answer, the one right
finding (the checks that depended on it say "not checked" in the coverage), and no crash.
(The CommandResult orders are in tests/journey/test_journey_command_races.py.)"""

from __future__ import annotations

from typing import Any

import ocpi_objects as obj
import pytest
from cpo_double import TOKEN_A, CpoDouble, refuse_payments_posts, register_double
from helpers import admin, findings, ocpi

from emulator.app import EmulatorNode

ROUTING = {
    "OCPI-from-country-code": "NL",
    "OCPI-from-party-id": "CPO",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "PAY",
}


registered = register_double


def checks(node: EmulatorNode) -> dict[str, dict[str, Any]]:
    [part] = [p for p in node.rt.findings.report()["coverage"] if p["platform_id"] is not None]
    return {c["rule"]: c for c in part["checks"]}


def rules(node: EmulatorNode) -> dict[str, str]:
    return {f["rule"]: f["severity"] for f in findings(node)}


async def test_objects_wrapped_in_a_list_are_one_finding(emulator, doubles, http) -> None:
    """OCPI-06b once per answer; the by-id check and the Tokens Receiver check do not invent
    a second defect (the CPO matched the id and returned the token): "not checked"."""
    double, _ = await registered(emulator, doubles, wrap_objects=True)
    assert set(rules(emulator)) == {"OCPI-06b"}, findings(emulator)
    assert {f["severity"] for f in findings(emulator, "OCPI-06b")} == {"warning"}
    by_rule = checks(emulator)
    assert by_rule["OCPI-26"]["status"] == "not_run"
    assert by_rule["OCPI-26"]["reason"].startswith("not checked: OCPI-06b")
    # The other sender checks ran and passed.
    for rule in ("OCPI-22", "OCPI-26b", "OCPI-27", "OCPI-20", "OCPI-21"):
        assert by_rule[rule]["status"] == "passed", (rule, by_rule[rule])
    status, check = await admin(http, emulator, "POST", "ocpi/tokens/check", json={})
    assert status == 200, check
    assert [(s["step"].split()[0], s["ok"]) for s in check["steps"]] == [
        ("PUT", True),
        ("GET", False),
        ("PATCH", True),
        ("GET", False),
    ]
    assert all(s["not_checked"].startswith("OCPI-06b") for s in check["steps"] if not s["ok"])
    assert set(rules(emulator)) == {"OCPI-06b"}
    # The PUT and PATCH were checked (and passed); the GETs could not be, and it says so.
    ocpi_50 = checks(emulator)["OCPI-50"]
    assert ocpi_50["status"] == "passed"
    assert ocpi_50["reason"].startswith("partly not checked: OCPI-06b")


async def test_a_tokens_receiver_that_ignores_the_patch(emulator, doubles, http) -> None:
    double, _ = await registered(emulator, doubles)
    original = double.tokens_receiver

    def ignore_patch(request: Any, module: str, body: Any) -> Any:
        if request.method == "PATCH":
            return double.envelope(request=request)  # says yes, changes nothing
        return original(request, module, body)

    double.tokens_receiver = ignore_patch  # type: ignore[method-assign]
    status, check = await admin(http, emulator, "POST", "ocpi/tokens/check", json={})
    assert [s["ok"] for s in check["steps"]] == [True, True, True, False]
    assert check["steps"][-1]["finding"] == "OCPI-50"
    [finding] = findings(emulator, "OCPI-50")
    assert "still says valid True" in finding["message"] and finding["severity"] == "error"


@pytest.mark.parametrize("version", ["2.3.0", "2.2.1"])
async def test_endpoint_urls_with_a_trailing_slash(emulator, doubles, http, version) -> None:
    double, _ = await registered(emulator, doubles, version, trailing_slash=True)
    [platform] = emulator.platforms.registered()
    assert all(ep["url"].endswith("/") for ep in platform.endpoints)
    status, record = await admin(
        http,
        emulator,
        "POST",
        "ocpi/commands/START_SESSION",
        json={"location_id": "LOC-1", "evse_uid": "EVSE-1", "connector_id": "1"},
    )
    assert status == 201 and record["state"] == "WAITING", record
    # No double slash anywhere: the paths the CPO saw.
    assert not [s.path for s in double.seen if "//" in s.path]
    assert double.commands[-1]["command"] == "START_SESSION"
    assert findings(emulator) == [], findings(emulator)


async def test_a_bare_404_is_ocpi_06_once(emulator, doubles) -> None:
    """An unknown Location answered with a bare HTTP 404: the envelope is missing (OCPI-06),
    the 404 itself is right (OCPI-26b passes), and the date-filter checks still run."""
    await registered(emulator, doubles, bare_404=True)
    [missing] = findings(emulator)
    assert missing["rule"] == "OCPI-06" and "HTTP 404" in missing["message"]
    by_rule = checks(emulator)
    assert by_rule["OCPI-26b"]["status"] == "passed"
    assert by_rule["OCPI-22"]["status"] == "passed"
    assert by_rule["OCPI-26"]["status"] == "passed"


async def test_a_sender_check_that_cannot_run_says_why(emulator, doubles) -> None:
    """The date-filter crawls answered without an envelope: OCPI-22 could not run, and the
    report says so (before, only a log line did)."""
    double, _ = await registered(emulator, doubles)
    del double  # the first crawl and checks ran cleanly; now a second platform breaks
    second = await CpoDouble(party_id="CP2", token_a="cp2-token-a").start()
    doubles.append(second)
    second.locations = [obj.location(pid="CP2")]
    second.tariffs = [obj.tariff(pid="CP2")]
    original = second.sender

    def no_envelope_on_filters(request: Any, module: str) -> Any:
        from aiohttp import web

        if request.query.get("date_from") or request.query.get("date_to"):
            return web.Response(status=404, text="not here")
        return original(request, module)

    second.sender = no_envelope_on_filters  # type: ignore[method-assign]
    token_a = emulator.platforms.mint_token_a()
    await second.register_with(emulator.server.versions_url, token_a, "2.3.0")
    await emulator.rt.clock.advance(1)
    await emulator.rt.background.drain()
    platform = next(p for p in emulator.platforms.registered() if p.roles[0]["party_id"] == "CP2")
    report = emulator.rt.findings.report(platform.id)
    [part] = report["coverage"]
    by_rule = {c["rule"]: c for c in part["checks"]}
    assert by_rule["OCPI-22"]["status"] == "not_run"
    assert by_rule["OCPI-22"]["reason"].startswith("not checked: OCPI-06 (HTTP 404")
    assert [f["rule"] for f in findings(emulator) if f["platform_id"] == platform.id] == ["OCPI-06"]
    text = emulator.rt.findings.report(platform.id)
    assert text["verdict"] == "FAIL"  # OCPI-06 is an error: a bare 404 is no envelope


async def test_a_patch_with_explicit_nulls(emulator, doubles, http) -> None:
    _, token = await registered(emulator, doubles)
    url = emulator.server.endpoint_url("2.3.0", "locations") + "/NL/CPO/LOC-1/EVSE-1"
    # null for an optional field clears it: accepted, nothing to say.
    status, _, env = await ocpi(
        http,
        "PATCH",
        url,
        token,
        json={"floor_level": None, "status": "CHARGING", "last_updated": "2025-03-01T09:00:05Z"},
        headers=ROUTING,
    )
    assert (status, env["status_code"]) == (200, 1000) and findings(emulator) == []
    evse = emulator.ptp.mirror.locations.object(1, "NL", "CPO", "LOC-1")["evses"][0]
    assert evse["status"] == "CHARGING"
    # null for a required field: refused in OCPI terms, one finding.
    status, _, env = await ocpi(
        http,
        "PATCH",
        url,
        token,
        json={"status": None, "last_updated": "2025-03-01T09:00:06Z"},
        headers=ROUTING,
    )
    assert status == 200 and env["status_code"] == 2001, env
    assert [f["pointer"] for f in findings(emulator)] == ["/status"]


async def test_an_enum_value_from_another_version(emulator, doubles, http) -> None:
    """A 2.3.0-only ConnectorType (SAE_J3400) in a 2.2.1 Location, where the enum is closed:
    accepted so the Location stays usable, one OCPI-11 error."""
    _, token = await registered(emulator, doubles, "2.2.1")
    loc = obj.location()
    loc["evses"][0]["connectors"][0]["standard"] = "SAE_J3400"  # 2.3.0 only
    url = emulator.server.endpoint_url("2.2.1", "locations") + "/NL/CPO/LOC-1"
    status, _, env = await ocpi(http, "PUT", url, token, json=loc, headers=ROUTING)
    assert (status, env["status_code"]) in ((200, 1000), (201, 1000)), env
    [finding] = findings(emulator)
    assert (finding["rule"], finding["severity"]) == ("OCPI-11", "error")
    assert "SAE_J3400" in finding["message"]


async def test_payments_posts_answered_without_an_envelope_say_why(emulator, doubles) -> None:
    """A library without the Receiver's POST routes answers the terminal and FAC POSTs with
    HTTP 405 {"detail": ...} (or redirects them): OCPI-06 names that, and the report's
    coverage says OCPI-51 and OCPI-57 could not run, and why, instead of "not exercised"."""

    double = await CpoDouble().start()
    doubles.append(double)
    refuse_payments_posts(double)
    await double.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
    await emulator.rt.clock.advance(1)
    await emulator.rt.background.drain()
    platform = emulator.platforms.registered()[0]
    fac = emulator.ptp.payments.create_fac(
        platform,
        authorization_reference="REF-1",
        total_costs=obj.price(4, 4.84),
        currency="EUR",
        eft_data=["VISA"],
        capture_status_code="SUCCESS",
    )
    assert await emulator.ptp.payments.deliver_fac(fac["id"]) is False
    by_rule = checks(emulator)
    for rule in ("OCPI-51", "OCPI-57", "OCPI-57b"):
        assert by_rule[rule]["status"] == "not_run", (rule, by_rule[rule])
        assert by_rule[rule]["reason"].startswith("not checked: OCPI-06 (HTTP 405"), by_rule[rule]
    assert "payments/terminals" in by_rule["OCPI-51"]["reason"]
    assert {f["rule"] for f in findings(emulator)} == {"OCPI-06"}


async def test_a_redirect_is_named_as_one(emulator, doubles) -> None:
    """FastAPI redirects a POST to .../payments/terminals to .../terminals/ (307, no body):
    the emulator does not follow redirects, and OCPI-06 says it was one, and where to."""
    from aiohttp import web

    double = await CpoDouble().start()
    doubles.append(double)
    original = double.payments

    def redirect(request: Any, sub: str, body: Any) -> Any:
        if request.method == "POST" and not request.path.endswith("/"):
            return web.Response(status=307, headers={"Location": f"{request.url}/"})
        return original(request, sub, body)

    double.payments = redirect  # type: ignore[method-assign]
    await double.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
    await emulator.rt.clock.advance(1)
    await emulator.rt.background.drain()
    [finding] = findings(emulator, "OCPI-06")
    assert "a redirect to http://" in finding["message"], finding
    assert "/payments/terminals/, which the emulator does not follow" in finding["message"]
    assert "HTTP 307" in finding["message"] and double.terminals == {}
