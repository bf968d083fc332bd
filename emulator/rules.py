"""The catalogue of rules the emulator checks: stable ids, and the evidence behind each.

``OCPI-nn`` follow the numbering of the conformance checklist (``spec/ocpi.md`` section 5), with
a letter suffix where one checklist item holds checks of different strength. ``PAYTER-nn`` are
what Payter's solution needs on top of the spec; ``CPS-nn`` apply to the Cloud Payment Service.

Every rule carries, per OCPI version it applies to, where the spec says it (file and section of
that version's text) and the spec's own keyword there. The severity is derived from the keyword,
never chosen: MUST / MUST NOT / SHALL / SHALL NOT / REQUIRED (a type, cardinality or parameter
definition) are errors; SHOULD / SHOULD NOT / RECOMMENDED are warnings; MAY / OPTIONAL, or a spec
that is silent, give at most an info. A rule can therefore be an error in one version and a
warning in another (OCPI-07: 2.1.1 says "should", 2.2.1 "MUST NOT").

Payter-axis rules carry a ``basis``: ``documented`` (Payter's page says it; ``page`` names it)
or ``inferred`` (the emulator's best reading where Payter publishes nothing).

Rule ids are typed (:data:`RuleId`): a misspelt id is a mypy error at the call site, and the
catalogue below is checked against the type when this module is imported. A rule id never
changes meaning once published: users filter on it in CI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

Severity = Literal["error", "warning", "info"]
Axis = Literal["spec", "payter"]
Basis = Literal["documented", "inferred"]
# A module a rule can belong to alone (Rule.module).
Module = Literal["payments"]
# What a rule applies to: an OCPI version, or the Cloud Payment Service (not versioned).
Scope = Literal["2.1.1", "2.2.1", "2.3.0", "cps"]
Keyword = Literal[
    "MUST",
    "MUST NOT",
    "SHALL",
    "SHALL NOT",
    "REQUIRED",
    "SHOULD",
    "SHOULD NOT",
    "RECOMMENDED",
    "MAY",
    "OPTIONAL",
    "silent",
]

RuleId = Literal[
    "OCPI-01",
    "OCPI-02",
    "OCPI-03",
    "OCPI-04",
    "OCPI-04b",
    "OCPI-05",
    "OCPI-05b",
    "OCPI-06",
    "OCPI-06b",
    "OCPI-07",
    "OCPI-08",
    "OCPI-09",
    "OCPI-10",
    "OCPI-11",
    "OCPI-11b",
    "OCPI-12",
    "OCPI-13",
    "OCPI-14",
    "OCPI-14b",
    "OCPI-15",
    "OCPI-16",
    "OCPI-16b",
    "OCPI-17",
    "OCPI-18",
    "OCPI-19",
    "OCPI-20",
    "OCPI-20b",
    "OCPI-20c",
    "OCPI-21",
    "OCPI-22",
    "OCPI-23",
    "OCPI-24",
    "OCPI-25",
    "OCPI-26",
    "OCPI-26b",
    "OCPI-27",
    "OCPI-28",
    "OCPI-29",
    "OCPI-30",
    "OCPI-31",
    "OCPI-32",
    "OCPI-33",
    "OCPI-34",
    "OCPI-34b",
    "OCPI-35",
    "OCPI-36",
    "OCPI-37",
    "OCPI-37b",
    "OCPI-38",
    "OCPI-38b",
    "OCPI-39",
    "OCPI-40",
    "OCPI-41",
    "OCPI-41b",
    "OCPI-42",
    "OCPI-43",
    "OCPI-43b",
    "OCPI-43c",
    "OCPI-44",
    "OCPI-45",
    "OCPI-46",
    "OCPI-47",
    "OCPI-48",
    "OCPI-49",
    "OCPI-50",
    "OCPI-51",
    "OCPI-52",
    "OCPI-52b",
    "OCPI-53",
    "OCPI-54",
    "OCPI-54b",
    "OCPI-55",
    "OCPI-56",
    "OCPI-57",
    "OCPI-57b",
    "OCPI-58",
    "PAYTER-01",
    "PAYTER-02",
    "PAYTER-03",
    "PAYTER-04",
    "PAYTER-05",
    "PAYTER-06",
    "PAYTER-07",
    "CPS-01",
    "CPS-01b",
    "CPS-02",
    "CPS-03",
    "CPS-04",
    "CPS-05",
    "CPS-06",
]

OCPI_VERSIONS: tuple[Scope, ...] = ("2.1.1", "2.2.1", "2.3.0")

# The spec text each version's evidence points into (github.com/ocpi/ocpi).
SPEC_SOURCES: dict[Scope, str] = {
    "2.1.1": "ocpi/ocpi branch release-2.1.1-bugfixes (*.md)",
    "2.2.1": "ocpi/ocpi branch release-2.2.1-bugfixes (*.asciidoc)",
    "2.3.0": "ocpi/ocpi branch release-2.3.0-bugfixes (*.asciidoc, tag v2.3.0 plus errata)",
    "cps": "Payter Cloud Payment Service documentation (docs.payter.com)",
}

_SEVERITY: dict[Keyword, Severity] = {
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


def severity_of(keyword: Keyword) -> Severity:
    """The severity a keyword of the spec gives a finding."""
    return _SEVERITY[keyword]


@dataclass(frozen=True)
class Evidence:
    """Where one version of the spec (or Payter's documentation) says a rule, and how strongly.

    ``wording`` is the spec's own words for the requirement when they are not the capitalised
    keyword itself (a lowercase "must" in 2.1.1, "have to", a field's cardinality): a few words,
    enough to find the sentence, never the sentence."""

    file: str
    section: str
    keyword: Keyword
    wording: str | None = None
    # The text is another version's (Payments on 2.2.1, as Payter runs it, reads 2.3.0's).
    text_of: Scope | None = None

    @property
    def severity(self) -> Severity:
        return severity_of(self.keyword)

    def cite(self) -> str:
        if self.file.startswith("https://") or self.file == INFERRED_SOURCE:
            # Payter's page, or no public Payter source: what a CPO can read for itself (the
            # section is where the project's own Payter digest discusses it, not shipped).
            return self.file
        return f"{self.file} §{self.section}" + (f" ({self.text_of} text)" if self.text_of else "")


@dataclass(frozen=True)
class Rule:
    id: RuleId
    title: str
    axis: Axis
    evidence: Mapping[Scope, Evidence]
    # Payter-axis rules: documented (with the page) or inferred.
    basis: Basis | None = None
    page: str | None = None
    # Checklist item of spec/ocpi.md section 5 this rule implements, if any.
    checklist: str | None = None
    notes: str | None = field(default=None, compare=False)
    # The OCPI module the rule belongs to when it applies only where that module is in use
    # with a platform ("payments": not applicable to a CPO the emulator runs no Payments with).
    # Derived for spec rules whose every text is the module's; given for Payter's.
    module: Module | None = None

    @property
    def payments_only(self) -> bool:
        """The rule concerns the Payments module alone (see ``module``)."""
        return self.module == "payments"

    @property
    def versions(self) -> tuple[Scope, ...]:
        """What the rule applies to, oldest first."""
        order = (*OCPI_VERSIONS, "cps")
        return tuple(s for s in order if s in self.evidence)

    def applies_to(self, version: str | None) -> bool:
        return version is None or version in self.evidence

    def evidence_for(self, version: str | None) -> Evidence:
        """The evidence for ``version``; without one, the newest version's."""
        if version is not None and version in self.evidence:
            return self.evidence[version]  # type: ignore[index]
        return self.evidence[self.versions[-1]]

    def severity(self, version: str | None = None) -> Severity:
        return self.evidence_for(version).severity

    @property
    def default_severity(self) -> Severity:
        return self.severity(None)

    def reference(self, version: str | None = None) -> str:
        """A citation for a finding: the evidence of ``version`` (or every version's)."""
        if version is not None and version in self.evidence:
            ev = self.evidence[version]  # type: ignore[index]
            return f"{ev.cite()} ({version}: {ev.keyword})"
        by_cite: dict[tuple[str, str], list[str]] = {}
        for scope in self.versions:
            ev = self.evidence[scope]
            by_cite.setdefault((ev.cite(), ev.keyword), []).append(scope)
        return "; ".join(f"{c} ({', '.join(v)}: {k})" for (c, k), v in by_cite.items())

    def public(self) -> dict[str, object]:
        """The rule as the control API and the README table show it."""
        return {
            "id": self.id,
            "title": self.title,
            "axis": self.axis,
            "basis": self.basis,
            "page": self.page,
            "checklist": self.checklist,
            "module": self.module,
            "versions": list(self.versions),
            "evidence": {
                scope: {
                    "file": ev.file,
                    "section": ev.section,
                    "keyword": ev.keyword,
                    "wording": ev.wording,
                    "severity": ev.severity,
                }
                for scope, ev in ((s, self.evidence[s]) for s in self.versions)
            },
        }


# --- evidence helpers ---------------------------------------------------------------------------

V211: tuple[Scope, ...] = ("2.1.1",)
V22X: tuple[Scope, ...] = ("2.2.1", "2.3.0")
V230: tuple[Scope, ...] = ("2.3.0",)
ALL: tuple[Scope, ...] = OCPI_VERSIONS

TF = "transport_and_format"
SC = "status_codes"
CR = "credentials"
VI = "version_information_endpoint"


def _file(name: str, scope: Scope) -> str:
    if scope == "cps" or "/" in name or name.endswith((".md", ".asciidoc")):
        return name
    return f"{name}.md" if scope == "2.1.1" else f"{name}.asciidoc"


def ev(
    name: str,
    section: str,
    keyword: Keyword,
    versions: tuple[Scope, ...] = V22X,
    wording: str | None = None,
) -> dict[Scope, Evidence]:
    """The same evidence for several versions (file name without extension: ``.md`` for
    2.1.1, ``.asciidoc`` after)."""
    return {v: Evidence(_file(name, v), section, keyword, wording) for v in versions}


def payments(section: str, keyword: Keyword, wording: str | None = None) -> dict[Scope, Evidence]:
    """mod_payments exists in the 2.3.0 text only; Payter runs the module on 2.2.1 too, so
    the 2.2.1 evidence is the 2.3.0 text."""
    return {
        "2.2.1": Evidence("mod_payments.asciidoc", section, keyword, wording, text_of="2.3.0"),
        "2.3.0": Evidence("mod_payments.asciidoc", section, keyword, wording),
    }


def spec(
    rule_id: RuleId,
    title: str,
    evidence: dict[Scope, Evidence],
    checklist: str | None = None,
    notes: str | None = None,
) -> Rule:
    # A rule whose every text is mod_payments applies only where Payments is in use.
    payments_text = all(e.file.startswith("mod_payments") for e in evidence.values())
    module: Module | None = "payments" if payments_text else None
    return Rule(rule_id, title, "spec", evidence, checklist=checklist, notes=notes, module=module)


# Payter's pages (spec/payter.md section 1 lists what was read).
PAYTER_MODULES = (
    "https://docs.payter.com/docs/Integration/specifications/ocpi/specification/modules"
)
PAYTER_CONNECTING = "https://docs.payter.com/docs/Integration/specifications/ocpi/connecting"
PAYTER_HOW = "https://docs.payter.com/docs/Integration/specifications/ocpi/ocpi-overview/how"
PAYTER_SESSION_MGMT = "https://docs.payter.com/electric-vehicle-charging/v1/session-management"
PAYTER_PRESESSION = "https://docs.payter.com/electric-vehicle-charging/v1/pre-session-checklist"
PAYTER_AUTH_AMOUNT = (
    "https://docs.payter.com/electric-vehicle-charging/v1/setting-the-authorization-amount"
)


# The evidence of a Payter-axis rule that no public Payter page states: the README's
# "Inferred" section says what the emulator chose and what changes it.
INFERRED_SOURCE = "inferred: no public Payter source (README, Inferred)"


def payter(
    rule_id: RuleId,
    title: str,
    keyword: Keyword,
    basis: Basis,
    page: str | None,
    section: str,
    wording: str | None = None,
    scopes: tuple[Scope, ...] = ALL,
    notes: str | None = None,
    module: Module | None = None,
) -> Rule:
    """A Payter-axis rule: its evidence is Payter's page (documented) or, inferred, the
    emulator's own reading; ``section`` names where the project's Payter digest discusses it."""
    source = page or INFERRED_SOURCE
    return Rule(
        rule_id,
        title,
        "payter",
        {s: Evidence(source, section, keyword, wording) for s in scopes},
        basis=basis,
        page=page,
        notes=notes,
        module=module,
    )


_RULES: list[Rule] = [
    # --- 5.1 transport and security -----------------------------------------------------------
    spec(
        "OCPI-01",
        "Authorization header is 'Token <token>' (the token Base64-encoded from 2.2.1 on)",
        {
            **ev(TF, "Request format", "MUST", V211, wording="must add"),
            **ev(TF, "Authorization header", "SHALL"),
        },
        "5.1 #1",
        "The scheme is matched case-insensitively (RFC 7235): 'token' is not a finding.",
    ),
    spec(
        "OCPI-02",
        "A missing or unknown token is answered HTTP 401",
        {
            **ev(TF, "Request format", "MUST", V211, wording="must respond"),
            **ev(TF, "Authorization header", "SHALL"),
        },
        "5.1 #2",
    ),
    spec(
        "OCPI-03",
        "X-Request-ID and X-Correlation-ID present, and echoed in the response",
        ev(TF, "Unique message IDs", "SHALL"),
        "5.1 #3",
    ),
    spec(
        "OCPI-04",
        "OCPI-from/to routing headers on functional modules, with the parties' ids",
        ev(TF, "Message Routing Headers", "SHALL"),
        "5.1 #4",
        "Not required peer to peer between two platforms that each have one party and one role "
        "(the section's own exception): missing headers are then no finding.",
    ),
    spec(
        "OCPI-04b",
        "No routing headers on configuration modules (credentials, versions, hubclientinfo)",
        ev(TF, "Message Routing Headers", "SHALL NOT"),
        "5.1 #4",
    ),
    spec(
        "OCPI-05",
        "Content-Type: application/json on request bodies",
        {
            **ev(TF, "Request format", "REQUIRED", V211, wording="mimetype of the request body"),
            **ev(TF, "Request format", "SHALL"),
        },
        "5.1 #5",
    ),
    spec(
        "OCPI-05b",
        "Responses are application/json",
        ev(TF, "Response format", "REQUIRED", ALL, wording="'application/json' type"),
        "5.1 #5",
    ),
    spec(
        "OCPI-06",
        "Every response is the OCPI envelope (status_code, timestamp)",
        ev(TF, "Response format", "REQUIRED", ALL, wording="have to be wrapped"),
        "5.1 #6",
    ),
    spec(
        "OCPI-06b",
        "Envelope data has the documented shape (an object, or a list)",
        {
            **ev(SC, "Status codes", "SHOULD", V211, wording="should contain the information"),
            **ev(SC, "Status codes", "SHOULD"),
        },
        "5.1 #6",
    ),
    spec(
        "OCPI-07",
        "A request that reached the OCPI layer gets no HTTP error status",
        {
            **ev(SC, "Status codes", "SHOULD", V211, wording="no HTTP error should be returned"),
            **ev(SC, "Status codes", "MUST NOT"),
        },
        "5.1 #7",
    ),
    spec(
        "OCPI-08",
        "DateTime is UTC, RFC 3339, at most 25 characters",
        ev("types", "DateTime", "SHALL", ALL),
        "5.1 #8",
    ),
    spec(
        "OCPI-09",
        "Payloads are not rejected for undocumented JSON fields",
        ev(TF, "Non-specified JSON fields", "SHALL NOT", V230),
        "5.1 #9",
    ),
    spec(
        "OCPI-10",
        "Strings: types, lengths, character sets",
        ev("types", "CiString", "REQUIRED", ALL, wording="Only printable ASCII allowed"),
        "5.1 #10",
    ),
    spec(
        "OCPI-11",
        "Enum values are exact (case-sensitive, of the version's enum)",
        {
            **ev("types", "string", "REQUIRED", V211, wording="case sensitive"),
            **ev("types", "string", "REQUIRED", ("2.2.1",), wording="case sensitive"),
            **ev("types", "enum", "REQUIRED", V230, wording="finite number of strings"),
        },
        "5.1 #11",
    ),
    spec(
        "OCPI-11b",
        "Unknown OpenEnum value (legal; noted)",
        ev("types", "OpenEnum", "silent", V230),
        "5.1 #11",
    ),
    spec(
        "OCPI-12",
        "#NA only where no data can be given",
        ev(TF, "No data available", "MAY", wording="it is allowed"),
        "5.1 #12",
    ),
    # --- 5.2 versions and credentials ---------------------------------------------------------
    spec(
        "OCPI-13",
        "Versions list non-empty, absolute URLs, known version strings",
        {
            **ev(VI, "Version information endpoint", "MUST", V211, wording="must have"),
            **ev(VI, "Version information endpoint", "MUST"),
        },
        "5.2 #13",
    ),
    spec(
        "OCPI-14",
        "Version details complete, credentials endpoint present",
        {
            **ev(VI, "Version details endpoint", "MUST", V211, wording="must have"),
            **ev(VI, "Version details endpoint", "MUST"),
        },
        "5.2 #14",
    ),
    spec(
        "OCPI-14b",
        "Peer's endpoint roles are the typical ones for its role",
        ev("terminology", "Typical OCPI implementations per Role", "silent"),
        "5.2 #14",
    ),
    spec(
        "OCPI-15",
        "Registration receiver fetches our endpoints with token B and answers with a new token",
        ev(CR, "POST Method", "MUST", ALL, wording="must also fetch"),
        "5.2 #15",
    ),
    spec(
        "OCPI-16",
        "Credentials: 405 on a second POST and on PUT/DELETE unregistered; PUT fetches again "
        "and gives a new token; DELETE unregisters",
        {
            **ev(CR, "PUT Method", "MUST", V211, wording="must fetch"),
            **ev(CR, "PUT Method", "MUST"),
        },
        "5.2 #16",
    ),
    spec(
        "OCPI-16b",
        "Token A no longer accepted after the registration",
        {
            **ev(CR, "Registration", "silent", V211),
            **ev(CR, "Registration", "MAY", wording="MAY no longer be used"),
        },
        "5.2 #16",
        "The spec words it with MAY ('it MAY no longer be used'): an info, never a failure.",
    ),
    spec(
        "OCPI-17",
        "Registration sender POSTs with token A, then uses token C",
        {
            **ev(CR, "Registration", "silent", V211),
            **ev(CR, "Registration", "SHALL"),
        },
        "5.2 #17",
    ),
    spec(
        "OCPI-18",
        "Credentials roles are values of the version's Role enum (no HUB in 2.3.0)",
        ev(CR, "CredentialsRole", "REQUIRED", wording="Role"),
        "5.2 #18",
    ),
    spec(
        "OCPI-19",
        "Role PTP: named by terminology, absent from the Role enum (accepted; noted)",
        ev("types", "Role", "silent"),
        "5.2 #19",
    ),
    # --- 5.3 sender GETs ------------------------------------------------------------------------
    spec(
        "OCPI-20",
        "Paginated GET answers carry X-Total-Count and X-Limit",
        ev(TF, "Paginated Response", "REQUIRED", ALL, wording="have to be added"),
        "5.3 #20",
    ),
    spec(
        "OCPI-20b",
        "Link to the next page while there is one, keeping the request's filters",
        ev(TF, "Paginated Response", "SHOULD", ALL, wording="should be provided"),
        "5.3 #20",
    ),
    spec(
        "OCPI-20c",
        "Link is an absolute URL",
        ev(TF, "Paginated Response", "silent", ALL),
        "5.3 #20",
    ),
    spec(
        "OCPI-21",
        "Page sizes respect limit and X-Limit; X-Limit is the maximum, not the count; a crawl "
        "sees X-Total-Count objects",
        {
            **ev(TF, "Paginated Response", "REQUIRED", V211, wording="upper limit"),
            **ev(TF, "Paginated Response", "SHALL"),
        },
        "5.3 #21",
    ),
    spec(
        "OCPI-22",
        "date_from inclusive, date_to exclusive",
        ev(TF, "Paginated Request", "REQUIRED", wording="have to be supported"),
        "5.3 #22",
    ),
    spec(
        "OCPI-23",
        "Sender lists work without parameters (only Sessions may require date_from)",
        ev(TF, "Paginated Request", "REQUIRED", ALL, wording="might be omitted"),
        "5.3 #23",
    ),
    spec(
        "OCPI-24",
        "Returned objects belong to the peer's CredentialsRoles (others may be ignored)",
        ev(TF, "Client Owned Object Pull", "MAY", wording="may be ignored"),
        "5.3 #24",
    ),
    spec(
        "OCPI-25",
        "Location last_updated covers its EVSEs' and Connectors' changes",
        ev("mod_locations", "Location", "REQUIRED", ALL, wording="last_updated"),
        "5.3 #25",
    ),
    spec(
        "OCPI-26",
        "GET one object by id; ids are CiStrings (any case)",
        ev("types", "CiString", "REQUIRED", ALL, wording="Case Insensitive String"),
        "5.3 #26",
    ),
    spec(
        "OCPI-26b",
        "GET of an unknown object is answered HTTP 404",
        {
            **ev(SC, "Status codes", "SHOULD", V211, wording="should return a HTTP `404"),
            **ev(SC, "Status codes", "SHOULD"),
        },
        "5.3 #26",
    ),
    spec(
        "OCPI-27",
        "Stable ordering of paginated results",
        {
            **ev(TF, "Paginated Response", "SHOULD", V211, wording="as little as possible"),
            **ev(TF, "Paginated Response", "SHOULD", wording="as little as possible"),
        },
        "5.3 #27",
        "The spec words it 'mustn't change, or as little as possible': a recommendation.",
    ),
    # --- 5.4 pushes -----------------------------------------------------------------------------
    spec(
        "OCPI-28",
        "URL country_code/party_id equal the object's, and are the peer's CredentialsRoles",
        {
            **ev("mod_locations", "PUT", "REQUIRED", V211, wording="country_code"),
            **ev("mod_locations", "PUT", "SHALL"),
        },
        "5.4 #28",
    ),
    spec(
        "OCPI-29",
        "URL object id equals the body id",
        ev(TF, "Client Owned Object Push", "REQUIRED", ALL, wording="id"),
        "5.4 #29",
    ),
    spec(
        "OCPI-30",
        "PUT objects carry every required field",
        ev(TF, "PUT", "MUST", ALL, wording="must specify all required fields"),
        "5.4 #30",
    ),
    spec(
        "OCPI-31",
        "PATCH carries last_updated",
        ev("mod_sessions", "PATCH", "SHALL"),
        "5.4 #31",
        "2.1.1 has no such requirement (its own PATCH example has no last_updated).",
    ),
    spec(
        "OCPI-32",
        "Only the methods the interface allows (no DELETE of Locations: status REMOVED)",
        {
            **ev("mod_locations", "Flow and Lifecycle", "REQUIRED", V211, wording="REMOVED"),
            **ev("mod_locations", "Flow and Lifecycle", "MUST"),
        },
        "5.4 #32",
    ),
    spec(
        "OCPI-33",
        "Session charging periods chronological and non-overlapping",
        ev("mod_cdrs", "ChargingPeriod", "REQUIRED", V22X, wording="next period starts"),
        "5.4 #33",
    ),
    spec(
        "OCPI-34",
        "Session status transitions and kWh (no spec text: noted only)",
        ev("mod_sessions", "SessionStatus", "silent", ALL),
        "5.4 #34",
        "The spec has no transition table and no rule on kWh; only a change after COMPLETED "
        "('no more modifications') is worth noting, and only as an info.",
    ),
    spec(
        "OCPI-34b",
        "start_date_time updated when the Session goes PENDING to ACTIVE",
        ev("mod_sessions", "Session", "SHALL"),
        "5.4 #34",
    ),
    spec(
        "OCPI-35",
        "Session/CDR cdr_token is the START_SESSION token; auth_method COMMAND",
        ev("mod_commands", "StartSession", "SHALL"),
        "5.4 #35",
    ),
    spec(
        "OCPI-36",
        "authorization_reference echoed in Session and CDR",
        ev("mod_sessions", "Session", "SHALL"),
        "5.4 #36",
    ),
    spec(
        "OCPI-37",
        "CDR POSTed once, well formed, never modified; id unique",
        {
            **ev("mod_cdrs", "CDR", "REQUIRED", V211, wording="id"),
            **ev("mod_cdrs", "CDR", "SHALL"),
        },
        "5.4 #37",
    ),
    spec(
        "OCPI-37b",
        "Credit CDR: credit, credit_reference_id of an existing CDR, negated total_cost",
        ev("mod_cdrs", "Credit CDRs", "SHALL"),
        "5.4 #37",
    ),
    spec(
        "OCPI-38",
        "CDR totals add up (energy, time, cost under the tariff; any consistent rounding)",
        {
            **ev("mod_cdrs", "Push model", "SHOULD", V211, wording="should contain enough"),
            **ev("mod_cdrs", "Push model", "SHOULD", wording="should contain enough"),
        },
        "5.4 #38",
    ),
    spec(
        "OCPI-38b",
        "Energy, durations, costs and times are plausible: not negative, not in the future",
        {
            **ev("mod_sessions", "Session", "silent", V211),
            **ev("mod_sessions", "Session", "silent"),
        },
        "5.4 #38",
        "The spec bounds none of these values (negative ENERGY is even legal in V2G charging "
        "periods): information for a person, never a failed verdict. A negative cost in a CDR "
        "that is not a credit CDR is OCPI-37b.",
    ),
    spec(
        "OCPI-39",
        "CDR session_id and cdr_location refer to where the Session took place",
        ev("mod_cdrs", "CDR", "SHALL", wording="shall always contain"),
        "5.4 #39",
    ),
    spec(
        "OCPI-40",
        "Price and Tariff shapes match the version",
        ev("types", "Price", "REQUIRED", wording="Card."),
        "5.4 #40",
    ),
    spec(
        "OCPI-41",
        "Connector tariff_ids refer to tariffs the CPO publishes",
        ev("mod_locations", "Connector", "silent", ALL),
        "5.4 #41",
    ),
    spec(
        "OCPI-41b",
        "A Tariff is not DELETEd while a Connector still refers to it",
        ev("mod_tariffs", "DELETE Method", "RECOMMENDED"),
        "5.4 #41",
    ),
    # --- 5.5 commands ---------------------------------------------------------------------------
    spec(
        "OCPI-42",
        "The synchronous answer to a command is a well-formed CommandResponse",
        ev("mod_commands", "CommandResponse", "REQUIRED", ALL, wording="Card."),
        "5.5 #42",
    ),
    spec(
        "OCPI-43",
        "CommandResult is POSTed to the response_url given with the command",
        {
            **ev("mod_commands", "StartSession", "SHOULD", V211, wording="should be sent"),
            **ev("mod_commands", "StartSession", "SHOULD", wording="should be sent"),
        },
        "5.5 #43",
    ),
    spec(
        "OCPI-43b",
        "CommandResult after the command was answered REJECTED or NOT_SUPPORTED",
        ev("mod_commands", "Flow", "silent", ALL),
        "5.5 #43",
    ),
    spec(
        "OCPI-43c",
        "CommandResult timing: none within the timeout, late, or a different second result",
        {
            **ev("mod_commands", "Flow", "silent", V211),
            **ev("mod_commands", "CommandResponse", "MAY", wording="might never be send"),
        },
        "5.5 #43",
        "The spec lets the eMSP assume a result 'might never be send': a missing or late "
        "result is noted once, never an error.",
    ),
    spec(
        "OCPI-44",
        "START_SESSION without connector_id at an EVSE with START_SESSION_CONNECTOR_REQUIRED",
        ev("mod_locations", "Capability", "silent"),
        "5.5 #44",
        "The requirement is on the sender (us); a CPO that still accepts is not at fault.",
    ),
    spec(
        "OCPI-45",
        "No real-time authorize for the AD_HOC_USER/APP_USER token of a command",
        ev("mod_commands", "StartSession", "SHALL NOT"),
        "5.5 #45",
    ),
    spec(
        "OCPI-46",
        "No Session after an ACCEPTED START_SESSION (legal: EV not plugged in)",
        ev("mod_commands", "Flow", "silent", ALL),
        "5.5 #46",
    ),
    spec(
        "OCPI-47",
        "RESERVE_NOW creates a RESERVATION session; its end is POSTed to its response_url",
        ev("mod_sessions", "Reservation", "SHALL"),
        "5.5 #47",
    ),
    # --- 5.6 tokens -----------------------------------------------------------------------------
    spec(
        "OCPI-48",
        "Real-time authorize request well formed (?type= for non-RFID, LocationReferences)",
        ev("mod_tokens", "POST Method", "REQUIRED", wording="type"),
        "5.6 #48",
    ),
    spec(
        "OCPI-49",
        "Whitelist honoured: NEVER means real-time authorization, never the whitelist",
        ev("mod_tokens", "WhitelistType", "SHALL"),
        "5.6 #49",
    ),
    spec(
        "OCPI-50",
        "Tokens Receiver takes PUT and PATCH (type RFID by default) and GET returns the token "
        "as stored",
        ev("mod_tokens", "Receiver Interface", "REQUIRED", wording="PATCH"),
        "5.6 #50",
    ),
    # --- 5.7 payments (mod_payments; Payter runs the module on 2.2.1 too) -------------------
    spec(
        "OCPI-51",
        "CPO exposes payments as RECEIVER and accepts POST terminals",
        payments("Receiver Interface", "REQUIRED", "POST"),
        "5.7 #51",
    ),
    spec(
        "OCPI-52",
        "Terminal assignment names Locations/EVSEs the CPO publishes",
        payments("PATCH Terminal Method", "SHOULD", "should"),
        "5.7 #52",
    ),
    spec(
        "OCPI-52b",
        "Terminal PATCH without last_updated (no spec text requires it; noted)",
        payments("PATCH Terminal Method", "silent"),
        "5.7 #52",
    ),
    spec(
        "OCPI-53",
        "activate carries reference, not terminal_id; deactivate a known terminal",
        payments("POST Activate Terminal Method", "SHOULD", "should"),
        "5.7 #53",
    ),
    spec(
        "OCPI-54",
        "Assigned EVSEs have a tariff the terminal can show and pre-authorize",
        payments("Transaction", "REQUIRED", "has to pull"),
        "5.7 #54",
    ),
    spec(
        "OCPI-54b",
        "Tariff for card payment: AD_HOC_PAYMENT, preauthorize_amount, capabilities",
        payments("Transaction", "SHOULD", "should be pulled"),
        "5.7 #54",
    ),
    spec(
        "OCPI-55",
        "The CDR of a START_SESSION (our token) is POSTed to our CDRs Receiver",
        payments("Transaction", "silent"),
        "5.7 #55",
        "The module narrates 'the PTP will receive a CDR'; whether the CDR arrives at all is "
        "PAYTER-05.",
    ),
    spec(
        "OCPI-56",
        "invoice_reference_id present iff the CPO invoices",
        payments("InvoiceCreator", "REQUIRED", "CPO"),
        "5.7 #56",
    ),
    spec(
        "OCPI-57",
        "CPO accepts our FinancialAdviceConfirmation",
        payments("Transaction", "REQUIRED", "has to push"),
        "5.7 #57",
    ),
    spec(
        "OCPI-57b",
        "CPO takes the FAC's total_costs in the negotiated version's Price shape",
        payments(
            "Financial Advice Confirmation Object",
            "REQUIRED",
            "Real amount that was captured at the PSP",
        ),
        "5.7 #57",
        "The 2.3.0 table says Price (before_taxes/taxes) while the module's FAC examples use "
        "2.2.1's excl_vat/incl_vat. A CPO that refuses the negotiated version's shape is sent "
        "the FAC again in the other shape: if it takes that, it depends on the other shape.",
    ),
    spec(
        "OCPI-58",
        "Session stopped at the pre-authorized limit",
        payments("Transaction", "silent"),
        "5.7 #58",
    ),
    # --- Payter on top of the spec ----------------------------------------------------------
    payter(
        "PAYTER-01",
        "Payter needs every module: Credentials, Locations, Sessions, Commands, CDRs, Tariffs, "
        "Payments, Tokens",
        "SHOULD",
        "documented",
        PAYTER_HOW,
        "2.3-2.4 required modules, milestones",
        wording="modules required for Payter's Direct Payment solution",
    ),
    payter(
        "PAYTER-02",
        "EVSE status changes are pushed, not only polled",
        "SHOULD",
        "documented",
        PAYTER_MODULES,
        "2.3 Locations",
        wording="expected to push changes in EVSE status",
    ),
    payter(
        "PAYTER-03",
        "Tariff texts carry the languages the terminal offers",
        "SHOULD",
        "documented",
        PAYTER_MODULES,
        "2.3 Tariffs, 4.6",
        wording="languages in the tariff determine the available languages",
    ),
    payter(
        "PAYTER-04",
        "customer_reference confirmed before terminals are assigned",
        "SHOULD",
        "documented",
        PAYTER_CONNECTING,
        "2.2 customer_reference",
        wording="should confirm the required customer_reference",
        module="payments",  # a PATCH of the Terminal on the CPO's Payments Receiver
    ),
    payter(
        "PAYTER-05",
        "The CDR arrives, so the pre-authorization can be captured",
        "REQUIRED",
        "inferred",
        None,
        "2.6 steps 8-9",
        notes="Payter's modules page calls the CDR 'the only billing-relevant object', sent "
        "after the session, with 'no requirement to send CDRs in (semi-)realtime' ("
        + PAYTER_MODULES
        + "); its error scenarios commit the last known total when the charger is lost. How "
        "long to wait (--cdr-timeout, --session-update-timeout) and what is captured then are "
        "the emulator's reading.",
    ),
    payter(
        "PAYTER-06",
        "Session cost stays within the pre-authorized amount",
        "SHOULD",
        "inferred",
        None,
        "2.6 step 7, 3.9",
    ),
    payter(
        "PAYTER-07",
        "Terminal assignment uses EVSEs that exist in the mirrored Locations",
        "REQUIRED",
        "inferred",
        None,
        "2.2 Location assignment",
        module="payments",  # the CPO's assignment PATCH of a Payments Terminal
    ),
    payter(
        "CPS-01",
        "Every CPS session ends in commit or cancel",
        "REQUIRED",
        "documented",
        PAYTER_SESSION_MGMT,
        "3.9",
        wording="critical to either commit or cancel every sessionId",
        scopes=("cps",),
    ),
    payter(
        "CPS-01b",
        "A CPS session is committed or cancelled in a timely fashion (still open at report time)",
        "SHOULD",
        "documented",
        PAYTER_SESSION_MGMT,
        "3.9",
        wording="in a timely fashion",
        scopes=("cps",),
    ),
    payter(
        "CPS-02",
        "Commit at most the authorized amount",
        "REQUIRED",
        "inferred",
        None,
        "3.4",
        scopes=("cps",),
    ),
    payter(
        "CPS-03",
        "Webhook endpoint acknowledges a delivery (any 2xx, or 409)",
        "SHOULD",
        "inferred",
        None,
        "3.7 retry policy",
        notes="Payter's ladder is its advice for the CSMS's commit/cancel retries; how Payter "
        "redelivers its own webhooks is not published. Public client code answers Payter's "
        "callbacks with 202: any 2xx acknowledges.",
        scopes=("cps",),
    ),
    payter(
        "CPS-04",
        "Commit/cancel retried on Payter's ladder after a failure, and not after HTTP 200 or 409",
        "RECOMMENDED",
        "documented",
        PAYTER_PRESESSION,
        "3.7",
        wording="every minute for the first 5 attempts ... every hour for 24 hours, then daily "
        "for up to 7 days. Cease retries upon receiving definitive response codes (HTTP 200, 409)",
        scopes=("cps",),
        notes="Checked after failures injected with POST /__admin/cps/commit-faults: a retry "
        "between half and twice the step's delay is on the ladder.",
    ),
    payter(
        "CPS-05",
        "supportedPaymentMethods value the emulator does not know (accepted, ignored)",
        "silent",
        "inferred",
        None,
        "3.4, 4.5",
        scopes=("cps",),
        notes="Payter's full list of payment methods is not public; an unknown value is not "
        "refused.",
    ),
    payter(
        "CPS-06",
        "Optional query parameter given empty (taken as not given)",
        "silent",
        "inferred",
        None,
        "3.4",
        scopes=("cps",),
        notes="Payter does not document refusing an empty value; HTTP clients write a null "
        "parameter as 'name' or 'name=', so the emulator takes it as not given and notes it "
        "(a CSMS may have lost a value on the way). An empty required parameter is refused.",
    ),
]

RULES: dict[str, Rule] = {r.id: r for r in _RULES}
RULE_IDS: frozenset[str] = frozenset(get_args(RuleId))


def _check_catalogue() -> None:
    """The catalogue and :data:`RuleId` name the same rules, each once, each with evidence."""
    ids = [r.id for r in _RULES]
    doubles = sorted({i for i in ids if ids.count(i) > 1})
    missing = sorted(RULE_IDS - set(ids))
    unknown = sorted(set(ids) - RULE_IDS)
    empty = sorted(r.id for r in _RULES if not r.evidence)
    payter_without_basis = sorted(r.id for r in _RULES if r.axis == "payter" and not r.basis)
    problems = [
        f"{label}: {', '.join(v)}"
        for label, v in (
            ("listed twice", doubles),
            ("in RuleId but not catalogued", missing),
            ("catalogued but not in RuleId", unknown),
            ("without evidence", empty),
            ("Payter rules without basis", payter_without_basis),
        )
        if v
    ]
    if problems:
        raise ImportError("rule catalogue: " + "; ".join(problems))


_check_catalogue()


def rule(rule_id: RuleId) -> Rule:
    return RULES[rule_id]


def markdown_table() -> str:
    """The catalogue as the README shows it: per rule, the keyword and severity in each OCPI
    version (— where the rule does not exist), where the spec says it, and for Payter's rules
    the basis."""
    rows = [
        "| Rule | What is checked | 2.1.1 | 2.2.1 | 2.3.0 | Where | Basis |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in _RULES:
        cells = []
        for scope in ("2.1.1", "2.2.1", "2.3.0"):
            ev = r.evidence.get(scope) or (r.evidence.get("cps") if scope == "2.3.0" else None)
            cells.append(f"{ev.keyword} ({ev.severity})" if ev is not None else "—")
        if "cps" in r.evidence:
            cells = ["—", "—", f"CPS: {cells[2]}"]
        where = "; ".join(dict.fromkeys(r.evidence[s].cite() for s in r.versions))
        basis = r.basis or "spec"
        title = r.title.replace("<", "&lt;").replace(">", "&gt;")
        rows.append(f"| `{r.id}` | {title} | {' | '.join(cells)} | {where} | {basis} |")
    return "\n".join(rows)
