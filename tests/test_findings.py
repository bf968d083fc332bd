"""The findings ledger over the control API: filters, and the report with a verdict per axis
(JSON and text), in normal and strict mode."""

from __future__ import annotations

from helpers import admin

from emulator.app import EmulatorNode


def seed(node: EmulatorNode) -> None:
    record = node.rt.findings.record
    record("OCPI-31", "Session PATCH without last_updated", platform_id=1, pointer="/last_updated")
    record("OCPI-31", "EVSE PATCH without last_updated", platform_id=2)
    # A SHOULD of the spec: a warning.
    record("OCPI-20b", "Link drops the request's date_from", platform_id=1)
    # MAY / silent: an info, which never fails a run.
    record("OCPI-43c", "no CommandResult within the timeout", platform_id=1)
    record("PAYTER-03", "tariff T1 has no tariff_alt_text", platform_id=1)


async def test_findings_filters(emulator: EmulatorNode, http) -> None:
    seed(emulator)
    status, rows = await admin(http, emulator, "GET", "findings")
    assert status == 200 and len(rows) == 5
    first = rows[0]
    assert first["rule"] == "OCPI-31" and first["severity"] == "error" and first["axis"] == "spec"
    assert first["pointer"] == "/last_updated"
    assert first["reference"] == "mod_sessions.asciidoc §PATCH (2.2.1, 2.3.0: SHALL)"
    assert first["title"] and first["message"] == "Session PATCH without last_updated"
    for query, expected in (
        ("platform_id=2", ["OCPI-31"]),
        ("rule=ocpi-31", ["OCPI-31", "OCPI-31"]),  # rule ids in any case
        ("severity=warning", ["OCPI-20b", "PAYTER-03"]),
        ("severity=info", ["OCPI-43c"]),
        ("axis=payter", ["PAYTER-03"]),
        ("platform_id=1&severity=error", ["OCPI-31"]),
        (f"since={first['id']}&limit=1", ["OCPI-31"]),
    ):
        status, rows = await admin(http, emulator, "GET", f"findings?{query}")
        assert status == 200 and [r["rule"] for r in rows] == expected, query
    for query in ("rule=OCPI-999", "severity=fatal", "axis=cps", "platform_id=x"):
        status, body = await admin(http, emulator, "GET", f"findings?{query}")
        assert status == 400 and body["error"]["code"] == "invalid_parameter", query


async def test_an_empty_run_is_incomplete_not_pass(emulator: EmulatorNode, http) -> None:
    """serve, no platform, no traffic: nothing failed, but nothing was tested either."""
    status, report = await admin(http, emulator, "GET", "report")
    assert status == 200 and report["verdict"] == "INCOMPLETE" and not report["strict"]
    assert [a["verdict"] for a in report["axes"].values()] == ["INCOMPLETE", "INCOMPLETE"]
    assert [w.split(":")[0] for w in report["incomplete"]] == ["registration", "mirror", "journey"]
    async with http.get(f"{emulator.rt.base_url}/__admin/report?format=text") as resp:
        text = await resp.text()
    assert text.startswith("Verdict: INCOMPLETE\n  incomplete: registration")


async def test_report_verdict_per_axis(emulator: EmulatorNode, http) -> None:
    seed(emulator)
    status, report = await admin(http, emulator, "GET", "report")
    spec, payter = report["axes"]["spec"], report["axes"]["payter"]
    assert report["verdict"] == "FAIL"
    assert (spec["verdict"], spec["errors"], spec["warnings"], spec["infos"]) == ("FAIL", 2, 1, 1)
    # Warnings alone do not fail an axis; the flows were not exercised: INCOMPLETE.
    assert (payter["verdict"], payter["errors"], payter["warnings"]) == ("INCOMPLETE", 0, 1)
    assert payter["rules"][0]["basis"] == "documented"
    # Each rule is listed with its severity, errors first, infos last.
    assert [(r["rule"], r["severity"], r["count"]) for r in spec["rules"]] == [
        ("OCPI-31", "error", 2),
        ("OCPI-20b", "warning", 1),
        ("OCPI-43c", "info", 1),
    ]
    assert spec["rules"][1]["example"] == "Link drops the request's date_from"
    # Per platform.
    _, only2 = await admin(http, emulator, "GET", "report?platform_id=2")
    assert only2["platform_id"] == 2 and only2["axes"]["spec"]["errors"] == 1
    assert only2["axes"]["payter"]["verdict"] == "INCOMPLETE"
    # Strict for one report: warnings fail too, infos never.
    _, strict = await admin(http, emulator, "GET", "report?strict=true")
    assert strict["strict"] and strict["axes"]["payter"]["verdict"] == "FAIL"
    status, body = await admin(http, emulator, "GET", "report?strict=maybe")
    assert status == 400 and body["error"]["code"] == "invalid_parameter"


async def test_the_flows_turn_incomplete_into_pass(emulator: EmulatorNode, http) -> None:
    coverage = emulator.rt.coverage
    emulator.rt.findings.record("OCPI-43c", "no CommandResult within the timeout", platform_id=1)
    for flow in ("registration", "mirror"):
        coverage.flow(flow, 1)
    _, report = await admin(http, emulator, "GET", "report")
    assert report["verdict"] == "INCOMPLETE"
    assert report["incomplete"] == ["journey: a card journey ran through to capture (not yet)"]
    coverage.flow("journey", 1)
    _, report = await admin(http, emulator, "GET", "report")
    assert report["verdict"] == "PASS" and report["incomplete"] == []
    # Another platform without flows: the run is complete (platform 1 went all the way), the
    # other platform's own report is not.
    _, other = await admin(http, emulator, "GET", "report?platform_id=2")
    assert other["verdict"] == "INCOMPLETE"
    # A reset forgets the flows too.
    await admin(http, emulator, "POST", "reset")
    _, report = await admin(http, emulator, "GET", "report")
    assert report["verdict"] == "INCOMPLETE"


async def test_report_as_text(emulator: EmulatorNode, http) -> None:
    seed(emulator)
    for suffix, headers in (("?format=text", {}), ("", {"Accept": "text/plain"})):
        async with http.get(
            f"{emulator.rt.base_url}/__admin/report{suffix}", headers=headers
        ) as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            text = await resp.text()
        lines = text.splitlines()
        assert lines[0] == "Verdict: FAIL"
        assert "OCPI specification: FAIL (2 errors, 1 warnings, 1 infos)" in lines
        assert "Payter's solution: INCOMPLETE (0 errors, 1 warnings, 0 infos)" in lines
        assert "  [error] OCPI-31 x2: PATCH carries last_updated" in lines
        assert any(line.startswith("  [info] OCPI-43c x1: CommandResult timing") for line in lines)
        assert any(line.strip().startswith("see https://docs.payter.com") for line in lines)
        assert any("[documented]" in line for line in lines)


async def test_strict_setting_fails_on_warnings(start_emulator, http) -> None:
    node = await start_emulator(strict=True)
    node.rt.findings.record("PAYTER-03", "tariff T1 has no tariff_alt_text", platform_id=1)
    _, report = await admin(http, node, "GET", "report")
    assert report["strict"] and report["verdict"] == "FAIL"
    assert report["axes"]["payter"]["verdict"] == "FAIL"
    assert report["axes"]["spec"]["verdict"] == "INCOMPLETE"
    async with http.get(f"{node.rt.base_url}/__admin/report?format=text") as resp:
        assert (await resp.text()).startswith("Verdict: FAIL (strict)")
    # ?strict=false asks for the lenient verdict of the same findings.
    _, lenient = await admin(http, node, "GET", "report?strict=false")
    assert lenient["verdict"] == "INCOMPLETE" and not lenient["strict"]


def test_findings_are_pruned_past_the_retention() -> None:
    from datetime import UTC, datetime

    from emulator.events import EventBus
    from emulator.findings import Findings
    from emulator.store import Store

    store = Store(":memory:")
    findings = Findings(
        store,
        EventBus(lambda: datetime(2025, 1, 1, tzinfo=UTC)),
        lambda: datetime(2025, 1, 1, tzinfo=UTC),
        retention=100,
    )
    for i in range(350):
        findings.record("OCPI-03", f"request {i} without X-Request-ID")
    kept = findings.list(limit=10_000)
    # Pruned every 1% of the limit: never more than limit + 1% kept, the newest always.
    assert 100 <= len(kept) <= 101
    assert kept[-1]["message"] == "request 349 without X-Request-ID"
