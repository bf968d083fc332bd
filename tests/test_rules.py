"""The rule catalogue: every rule's severity is its spec keyword's, per OCPI version; rule ids
are typed; a finding takes the severity of the platform's version; the evidence points at
text that exists (checked against the spec when it is checked out next to the repository)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import get_args

import pytest

from emulator.rules import OCPI_VERSIONS, RULES, RuleId

# The mapping the issue and STYLE fix, written out independently of emulator.rules.
EXPECTED = {
    "MUST": "error",
    "MUST NOT": "error",
    "SHALL": "error",
    "SHALL NOT": "error",
    "REQUIRED": "error",
    "SHOULD": "warning",
    "SHOULD NOT": "warning",
    "RECOMMENDED": "warning",
    "MAY": "info",
    "OPTIONAL": "info",
    "silent": "info",
}


def test_every_rule_has_the_severity_of_its_keyword_in_each_version() -> None:
    walked = 0
    for rule in RULES.values():
        assert rule.versions, rule.id
        for version in rule.versions:
            evidence = rule.evidence[version]
            assert evidence.keyword in EXPECTED, (rule.id, version)
            assert rule.severity(version) == EXPECTED[evidence.keyword], (rule.id, version)
            assert evidence.file and evidence.section, (rule.id, version)
            walked += 1
    assert walked > 150


def test_the_catalogue_and_the_rule_id_type_agree() -> None:
    assert set(get_args(RuleId)) == set(RULES)
    for rule_id, rule in RULES.items():
        assert re.fullmatch(r"(OCPI|PAYTER|CPS)-\d\d[a-z]?", rule_id), rule_id
        assert rule.id == rule_id and rule.title
        if rule.axis == "payter":
            assert rule.basis in ("documented", "inferred"), rule_id
            assert (rule.page is not None) == (rule.basis == "documented"), rule_id
        else:
            assert rule.basis is None and set(rule.versions) <= set(OCPI_VERSIONS), rule_id


def test_a_misspelt_rule_id_is_refused() -> None:
    from emulator.rules import _RULES, Rule, _check_catalogue

    _RULES.append(Rule("OCPI-99", "a rule nobody declared", "spec", {}))  # type: ignore[arg-type]
    try:
        with pytest.raises(ImportError, match="catalogued but not in RuleId: OCPI-99"):
            _check_catalogue()
    finally:
        _RULES.pop()
    with pytest.raises(KeyError):
        RULES["OCPI-O1"]  # the letter O, not a zero


def test_the_source_names_only_catalogued_rules() -> None:
    """Rule ids written in the code are in the catalogue (mypy checks the typed call sites;
    this catches the ones in strings, docs and comments)."""
    root = Path(__file__).parent.parent / "emulator"
    known = {r.upper() for r in RULES}
    unknown = set()
    for path in root.rglob("*.py"):
        for rule_id in re.findall(r'"((?:OCPI|PAYTER|CPS)-\d\d[a-z]?)"', path.read_text()):
            if rule_id.upper() not in known:
                unknown.add(f"{path.name}: {rule_id}")
    assert not unknown


@pytest.mark.parametrize(
    ("rule_id", "version", "severity"),
    [
        # 2.1.1 says "should" where 2.2.1 says MUST NOT.
        ("OCPI-07", "2.1.1", "warning"),
        ("OCPI-07", "2.2.1", "error"),
        # token C: described in 2.1.1, SHALL from 2.2.1.
        ("OCPI-17", "2.1.1", "info"),
        ("OCPI-17", "2.3.0", "error"),
        # The Link SHOULD keep the filters; the headers have to be there.
        ("OCPI-20b", "2.2.1", "warning"),
        ("OCPI-20", "2.2.1", "error"),
        # No Session after an accepted start is legal; a missing result "might never be send".
        ("OCPI-46", "2.3.0", "info"),
        ("OCPI-43c", "2.2.1", "info"),
        # "MAY no longer be used".
        ("OCPI-16b", "2.2.1", "info"),
        # No spec text behind a status transition table.
        ("OCPI-34", "2.2.1", "info"),
        ("OCPI-34b", "2.2.1", "error"),
    ],
)
def test_severity_follows_the_version(rule_id: str, version: str, severity: str) -> None:
    assert RULES[rule_id].severity(version) == severity


def test_rules_that_do_not_exist_in_a_version() -> None:
    assert not RULES["OCPI-31"].applies_to("2.1.1")  # 2.1.1's PATCH example has none
    assert not RULES["OCPI-03"].applies_to("2.1.1")  # no X-Request-ID before 2.2
    assert not RULES["OCPI-09"].applies_to("2.2.1")  # unknown fields: a 2.3.0 rule
    assert RULES["OCPI-51"].applies_to("2.2.1")  # Payments as Payter runs it on 2.2.1
    assert RULES["OCPI-51"].evidence["2.2.1"].text_of == "2.3.0"


async def test_a_finding_takes_the_severity_of_its_platforms_version(emulator) -> None:
    platforms = emulator.platforms
    old = platforms.create(name="old", status="REGISTERED", version="2.1.1")
    new = platforms.create(name="new", status="REGISTERED", version="2.2.1")
    record = emulator.rt.findings.record
    assert record("OCPI-07", "HTTP 500 with status 1000", platform_id=old.id)["severity"] == (
        "warning"
    )
    row = record("OCPI-07", "HTTP 500 with status 1000", platform_id=new.id)
    assert row["severity"] == "error" and "(2.2.1: MUST NOT)" in row["reference"]
    # A rule the version does not have is not recorded at all.
    assert record("OCPI-31", "PATCH without last_updated", platform_id=old.id) is None
    assert [r["rule"] for r in emulator.rt.findings.list(platform_id=old.id)] == ["OCPI-07"]


async def test_the_catalogue_over_the_control_api(emulator, http) -> None:
    from helpers import admin

    status, rules = await admin(http, emulator, "GET", "rules")
    assert status == 200 and len(rules) == len(RULES)
    by_id = {r["id"]: r for r in rules}
    assert by_id["OCPI-07"]["evidence"]["2.1.1"]["severity"] == "warning"
    assert by_id["OCPI-07"]["evidence"]["2.2.1"]["keyword"] == "MUST NOT"
    assert by_id["PAYTER-02"]["basis"] == "documented" and by_id["PAYTER-02"]["page"]
    status, rows = await admin(http, emulator, "GET", "findings?rule=ocpi-06B")
    assert status == 200 and rows == []


def _spec_dir() -> Path:
    """OCPI_SPEC_DIR, else the first ``spec`` directory with the branches above the repo."""
    if os.environ.get("OCPI_SPEC_DIR"):
        return Path(os.environ["OCPI_SPEC_DIR"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "spec" / "release-2.2.1-bugfixes").is_dir():
            return parent / "spec"
    return Path("/nonexistent")


SPEC = _spec_dir()
BRANCH = {
    "2.1.1": "release-2.1.1-bugfixes",
    "2.2.1": "release-2.2.1-bugfixes",
    "2.3.0": "release-2.3.0-bugfixes",
}
HEADING = re.compile(r"^(#+|=+)\s+(.*)$")


def _section(text: str, section: str) -> str | None:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = HEADING.match(line)
        if not m:
            continue
        title = re.sub(r"^[0-9.]+\s+", "", re.sub(r"[*_`]", "", m.group(2)).strip()).lower()
        if title == section.lower() or title.startswith(section.lower() + " "):
            level, body = len(m.group(1)), []
            for following in lines[i + 1 :]:
                n = HEADING.match(following)
                if n and len(n.group(1)) <= level:
                    break
                body.append(following)
            return "\n".join(body)
    return None


@pytest.mark.skipif(not (SPEC / BRANCH["2.2.1"]).is_dir(), reason="OCPI spec not checked out")
def test_the_evidence_is_in_the_spec_text() -> None:
    """Each spec rule's section exists in that version's text and holds its keyword (in
    capitals) or its quoted wording. Set OCPI_SPEC_DIR to a checkout of github.com/ocpi/ocpi
    with the three branches side by side."""
    problems = []
    for rule in RULES.values():
        if rule.axis != "spec":
            continue
        for version in rule.versions:
            ev = rule.evidence[version]
            path = SPEC / BRANCH[ev.text_of or version] / ev.file
            if not path.is_file():
                problems.append(f"{rule.id} {version}: no {path}")
                continue
            body = _section(path.read_text(), ev.section)
            if body is None:
                problems.append(f"{rule.id} {version}: no section {ev.section!r} in {ev.file}")
            elif ev.keyword != "silent":
                found = ev.wording.lower() in body.lower() if ev.wording else ev.keyword in body
                if not found:
                    problems.append(f"{rule.id} {version}: {ev.wording or ev.keyword!r} missing")
    assert not problems


def test_the_readme_table_is_the_catalogue() -> None:
    """Regenerate with: payter-emulator settings-table --command rules --write README.md"""
    from emulator.rules import markdown_table

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"<!-- rules:start -->\n{markdown_table()}\n<!-- rules:end -->" in readme
