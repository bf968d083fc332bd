"""Payter's published numbers are the defaults, and every guess says "inferred": each timing
setting either is a value Payter publishes (the default checked against it here, written out
independently of the settings module) or says "inferred" in its description; the README's
"Inferred" section marks each entry and names what changes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.settings import EmulatorSettings

README = Path(__file__).parent.parent / "README.md"

# Values Payter publishes, with the page that says so (spec/payter.md §3.8, §4.3, §5).
PUBLISHED = {
    # PSP configurable options: card-detect-timeout, default 60 (seconds).
    "card_presentation_timeout": (60.0, "card-detect"),
    "cps_read_timeout": (60.0, "card-detect"),
    # PSP timeouts: card read dropped after 30 s; Auth Session 3 min 30 s (Apollo), 30 s (P6X);
    # Commit/Void 60 s.
    "card_read_timeout": (30.0, "PSP timeouts"),
    "authorization_timeout": (210.0, "PSP timeouts"),
    "pin_authorization_timeout": (210.0, "PSP timeouts"),
    "p6x_authorization_timeout": (30.0, "PSP timeouts"),
    "commit_timeout": (60.0, "PSP timeouts"),
    # Apollo UI screensaver: "by default this is after 30 seconds".
    "screensaver_timeout": (30.0, "screensaver"),
    # OCPI overview: Receipt shows the sessions of the last 24 hours.
    "receipt_window": (86400.0, "24 hours"),
    # Pre-session checklist: every minute 5 times, hourly for 24 h, daily up to 7 days.
    "cps_csms_retries": ("60x5,3600x24,86400x7", "pre-session checklist"),
}

TIMING = re.compile(r"timeout|interval|delay|retries|window|validity|wait_time|_seconds|grace")


def timing_fields() -> dict[str, str]:
    return {
        name: field.description or ""
        for name, field in EmulatorSettings.model_fields.items()
        if TIMING.search(name)
    }


def test_published_values_are_the_defaults_and_say_where_payter_publishes_them() -> None:
    fields = EmulatorSettings.model_fields
    for name, (value, page) in PUBLISHED.items():
        assert fields[name].default == value, name
        description = fields[name].description or ""
        assert "Payter" in description and page in description, name


def test_every_other_timing_setting_says_inferred() -> None:
    unlabelled = [
        name
        for name, description in timing_fields().items()
        if name not in PUBLISHED and "inferred" not in description.lower()
    ]
    assert unlabelled == []
    # The walk is not empty: it sees the journey's and the CPS timings.
    assert {"journey_screen_timeout", "cps_webhook_timeout", "poll_interval"} <= set(
        timing_fields()
    )


@pytest.mark.parametrize("name", ["country_code", "party_id", "business_name"])
def test_identity_defaults_say_inferred(name: str) -> None:
    assert "inferred" in (EmulatorSettings.model_fields[name].description or "")


def inferred_rows() -> list[list[str]]:
    text = README.read_text()
    section = text.split("## Inferred: what no public Payter source says", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| Behaviour")
    ]
    return [r for r in rows if not set(r[0]) <= {"-"}]


def test_each_inferred_entry_says_so_and_names_what_changes_it() -> None:
    rows = inferred_rows()
    flags = {"--" + name.replace("_", "-") for name in EmulatorSettings.model_fields}
    for behaviour, choice, setting in rows:
        assert "*inferred*" in choice, behaviour
        named = re.findall(r"--[a-z][a-z0-9-]+", setting)
        # A setting (that exists), a per-terminal field, or the reason there is none.
        assert named or setting.startswith("—") or "`" in setting, behaviour
        assert set(named) <= flags, behaviour
    behaviours = " ".join(r[0] for r in rows)
    # The list, each present.
    for entry in (
        "Identity",
        "Journey texts",
        "Journey screen timeouts",
        "Financial Advice Confirmations",
        "PAYTER-05",
        "PAYTER-06",
        "Pre-authorization amount",
        "CPS session expiry",
        "/webhook",
        "CPS session `state` values",
        "CPS error bodies and statuses",
    ):
        assert entry in behaviours, entry


# Payter-axis rules whose requirement a public Payter page states (checked against the pages
# spec/payter.md cites): every other Payter rule is the emulator's reading.
DOCUMENTED = {
    "PAYTER-01": "ocpi-overview/how",  # "The modules required for Payter's Direct Payment ..."
    "PAYTER-02": "specification/modules",  # "expected to push changes in EVSE status"
    "PAYTER-03": "specification/modules",  # "used languages in the tariff determine ..."
    "PAYTER-04": "ocpi/connecting",  # "should confirm the required customer_reference"
    "CPS-01": "session-management",  # "a fundamental requirement that the final amount ..."
    "CPS-01b": "session-management",  # "... Commit and Cancel commands in a timely fashion"
    "CPS-04": "pre-session-checklist",  # "Suggested retry intervals ..."
}


def test_documented_rules_cite_payters_page_and_the_others_say_inferred() -> None:
    from emulator.rules import RULES

    payter = {rule_id: r for rule_id, r in RULES.items() if r.axis == "payter"}
    assert {i for i, r in payter.items() if r.basis == "documented"} == set(DOCUMENTED)
    for rule_id, rule in payter.items():
        reference = rule.reference()
        if rule_id in DOCUMENTED:
            assert rule.page and DOCUMENTED[rule_id] in rule.page, rule_id
            assert reference.startswith("https://docs.payter.com/"), rule_id
        else:
            # No page of Payter's, and no file a CPO does not have.
            assert reference.startswith("inferred: no public Payter source"), rule_id
        assert "payter.md" not in reference, rule_id
