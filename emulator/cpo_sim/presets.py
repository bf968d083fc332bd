"""Behaviour presets: the simulated CPO made wrong on purpose, one rule at a time.

``correct`` is the default and follows the spec. Each other preset switches on one deviation,
named after what it does and tied to the rule ids (:mod:`emulator.rules`) under which the
emulator reports it, at the severity of that rule's keyword: ``late-result`` and
``no-session-after-accept`` are legal by the spec (noted as infos), ``reject-start`` too (it
exercises the PTP's "start rejected" path; noted because the EVSE was AVAILABLE). Presets can
be combined (comma-separated). The code tests them with :meth:`Presets.on` at the one place
where the behaviour happens, so the correct path stays the readable default.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.rules import RuleId


@dataclass(frozen=True)
class Preset:
    name: str
    does: str
    # Every rule the emulator reports for it, and only those (tests/cpo_sim/test_cpo_sim_e2e).
    rules: tuple[RuleId, ...]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("correct", "Follows the OCPI specification.", ()),
        Preset(
            "sloppy-headers",
            "Sends requests without X-Request-ID / X-Correlation-ID and with wrong routing "
            "headers (OCPI-to names itself; routing headers on configuration modules); its "
            "responses echo no request ids and swap nothing.",
            ("OCPI-03", "OCPI-04", "OCPI-04b"),
        ),
        Preset(
            "late-result",
            "POSTs the CommandResult only after the timeout it announced in the CommandResponse "
            "(legal: the spec says a result might never come; noted).",
            ("OCPI-43c",),
        ),
        Preset(
            "reject-start",
            "Answers every START_SESSION with REJECTED. Legal (it breaks no rule), but no "
            "session can start: exercises the PTP's 'start rejected' path (noted: the EVSE was "
            "AVAILABLE).",
            ("OCPI-55",),
        ),
        Preset(
            "no-session-after-accept",
            "Accepts START_SESSION (CommandResult ACCEPTED) but the charger never starts: "
            "no Session and no CDR follow (legal: the EV was never plugged in; noted).",
            ("OCPI-46",),
        ),
        Preset(
            "patch-without-last-updated",
            "Leaves last_updated out of every PATCH (Locations, Sessions, Terminal).",
            ("OCPI-31", "OCPI-52b"),
        ),
        Preset(
            "wrong-cdr-token",
            "Puts its own RFID token instead of the START_SESSION token in the Session's and "
            "CDR's cdr_token.",
            ("OCPI-35",),
        ),
        Preset(
            "cdr-over-authorization",
            "Neither stops the session at the pre-authorized amount nor caps the cost at "
            "max_price, so the CDR can exceed what the terminal authorized (and its tariff).",
            ("PAYTER-06", "OCPI-38", "OCPI-58"),
        ),
        Preset(
            "bad-paging",
            "Sender lists: the Link header drops the date filters (seen when a peer filters "
            "by date) and X-Limit is the number of objects returned instead of the server's "
            "maximum.",
            ("OCPI-20b", "OCPI-21"),
        ),
        Preset(
            "raw-token",
            "Sends its token raw in the Authorization header instead of Base64-encoded.",
            ("OCPI-01",),
        ),
    )
}


def parse_presets(text: str) -> frozenset[str]:
    """``"late-result, raw-token"`` → the set of names; ``correct`` alone is the empty set."""
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = sorted(n for n in names if n not in PRESETS)
    if unknown:
        raise ValueError(f"unknown preset {', '.join(unknown)}; choose from {', '.join(PRESETS)}")
    return frozenset(names - {"correct"})


class Presets:
    """The active deviations; changeable at run time through the control API."""

    def __init__(self, text: str = "correct") -> None:
        self.active = parse_presets(text)

    def on(self, name: str) -> bool:
        assert name in PRESETS, name
        return name in self.active

    def set(self, text: str) -> None:
        self.active = parse_presets(text)

    @property
    def text(self) -> str:
        return ",".join(sorted(self.active)) or "correct"

    def describe(self) -> list[dict[str, object]]:
        return [
            {"name": p.name, "does": p.does, "rules": list(p.rules), "active": self._is(p.name)}
            for p in PRESETS.values()
        ]

    def _is(self, name: str) -> bool:
        return name in self.active if name != "correct" else not self.active


def markdown_table() -> str:
    rows = ["| Preset | What it does | Rule |", "|---|---|---|"]
    for p in PRESETS.values():
        rules = ", ".join(f"`{r}`" for r in p.rules) or "—"
        rows.append(f"| `{p.name}` | {p.does} | {rules} |")
    return "\n".join(rows)
