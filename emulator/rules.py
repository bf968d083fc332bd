"""The catalogue of rules the emulator checks, with stable ids.

``OCPI-nn`` follow the numbering of the conformance checklist (``spec/ocpi.md`` section 5), with
a letter suffix where one checklist item holds several checks. ``PAYTER-nn`` are what Payter's
solution needs on top of the spec. ``CPS-nn`` apply to the Cloud Payment Service integration.

A rule id never changes meaning once published: users filter on it in CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "info": what the spec sets no bound for but a person wants to know (never fails a verdict).
Severity = Literal["error", "warning", "info"]
Axis = Literal["spec", "payter"]

TF = "transport_and_format.asciidoc"
CR = "credentials.asciidoc"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    axis: Axis
    reference: str


_RULES: list[Rule] = [
    # 5.1 transport and security
    Rule(
        "OCPI-01",
        "Authorization header is 'Token <base64>'",
        "error",
        "spec",
        f"{TF} §Authorization; checklist 5.1 #1",
    ),
    Rule(
        "OCPI-02",
        "Missing, unknown or out-of-scope token gets HTTP 401",
        "error",
        "spec",
        f"{TF} §Authorization, status_codes.asciidoc; checklist 5.1 #2",
    ),
    Rule(
        "OCPI-03",
        "X-Request-ID and X-Correlation-ID present and echoed",
        "error",
        "spec",
        f"{TF} §Request headers; checklist 5.1 #3",
    ),
    Rule(
        "OCPI-04",
        "OCPI-from/to routing headers on functional modules only",
        "error",
        "spec",
        f"{TF} §Message Routing headers; checklist 5.1 #4",
    ),
    Rule(
        "OCPI-05",
        "Content-Type: application/json on bodies",
        "error",
        "spec",
        f"{TF} §Request format; checklist 5.1 #5",
    ),
    Rule(
        "OCPI-06",
        "Every response is the OCPI envelope",
        "error",
        "spec",
        f"{TF} §Response format; checklist 5.1 #6",
    ),
    Rule(
        "OCPI-06b",
        "Envelope data shape matches the cardinality",
        "warning",
        "spec",
        f"{TF} §Response format; checklist 5.1 #6",
    ),
    Rule(
        "OCPI-07",
        "HTTP status codes as the spec prescribes",
        "error",
        "spec",
        "status_codes.asciidoc; checklist 5.1 #7",
    ),
    Rule(
        "OCPI-08",
        "DateTime is UTC, RFC 3339, at most 25 characters",
        "error",
        "spec",
        "types.asciidoc §DateTime; checklist 5.1 #8",
    ),
    Rule(
        "OCPI-09",
        "Unknown JSON fields are not rejected (2.3.0)",
        "error",
        "spec",
        f"{TF} §Non-specified JSON fields; checklist 5.1 #9",
    ),
    Rule(
        "OCPI-10",
        "Strings: types, lengths, character sets",
        "error",
        "spec",
        "types.asciidoc §CiString/string; checklist 5.1 #10",
    ),
    Rule(
        "OCPI-11",
        "Enum values are exact; unknown OpenEnum values are legal",
        "error",
        "spec",
        "types.asciidoc §OpenEnum; checklist 5.1 #11",
    ),
    Rule(
        "OCPI-11b",
        "Unknown OpenEnum value (accepted)",
        "warning",
        "spec",
        "types.asciidoc §OpenEnum; checklist 5.1 #11",
    ),
    Rule(
        "OCPI-12",
        "#NA only where the spec allows it",
        "warning",
        "spec",
        f"{TF} §Unique identifiers; checklist 5.1 #12",
    ),
    Rule(
        "OCPI-13",
        "Versions list non-empty, absolute URLs, known version strings",
        "error",
        "spec",
        "version_information_endpoint.asciidoc; checklist 5.2 #13",
    ),
    Rule(
        "OCPI-14",
        "Version details complete, credentials endpoint present",
        "error",
        "spec",
        "version_information_endpoint.asciidoc; checklist 5.2 #14",
    ),
    Rule(
        "OCPI-14b",
        "Peer's endpoint roles make sense for its role",
        "warning",
        "spec",
        "version_information_endpoint.asciidoc, terminology.asciidoc; checklist 5.2 #14",
    ),
    Rule(
        "OCPI-15",
        "Registration receiver fetches versions with token B and answers "
        "Credentials with a new token",
        "error",
        "spec",
        f"{CR} §Registration; checklist 5.2 #15",
    ),
    Rule(
        "OCPI-16",
        "Token A refused after registration; 405 on POST twice / PUT, DELETE "
        "unregistered; PUT rotates the token",
        "error",
        "spec",
        f"{CR} §Interfaces; checklist 5.2 #16",
    ),
    Rule(
        "OCPI-17",
        "Registration sender POSTs with token A, then uses token C",
        "error",
        "spec",
        f"{CR} §Registration; checklist 5.2 #17",
    ),
    Rule(
        "OCPI-18",
        "Credentials roles valid for the version (no HUB in 2.3.0)",
        "error",
        "spec",
        f"{CR} §Credentials object, types.asciidoc §Role; checklist 5.2 #18",
    ),
    Rule(
        "OCPI-19",
        "Peer's handling of the PTP role value",
        "warning",
        "spec",
        "types.asciidoc §Role (no PTP value); checklist 5.2 #19",
    ),
    # 5.3 sender GETs
    Rule(
        "OCPI-20",
        "Paginated GET carries X-Total-Count, X-Limit and a correct Link",
        "error",
        "spec",
        f"{TF} §Pagination; checklist 5.3 #20",
    ),
    Rule(
        "OCPI-21",
        "Page sizes respect limit and X-Limit; a crawl sees every object once",
        "error",
        "spec",
        f"{TF} §Pagination; checklist 5.3 #21",
    ),
    Rule(
        "OCPI-22",
        "date_from inclusive, date_to exclusive",
        "error",
        "spec",
        f"{TF} §Pagination; checklist 5.3 #22",
    ),
    Rule(
        "OCPI-23",
        "Sender lists work without parameters (only Sessions may require date_from)",
        "error",
        "spec",
        "mod_sessions.asciidoc; checklist 5.3 #23",
    ),
    Rule(
        "OCPI-24",
        "Returned objects are owned by the peer's CredentialsRoles",
        "error",
        "spec",
        f"{TF} §Client Owned Object Push; checklist 5.3 #24",
    ),
    Rule(
        "OCPI-25",
        "Location/EVSE/Connector last_updated: child changes bump parents",
        "error",
        "spec",
        "mod_locations.asciidoc; checklist 5.3 #25",
    ),
    Rule(
        "OCPI-26",
        "GET one object by id; 404 when unknown; ids case-insensitive",
        "error",
        "spec",
        f"{TF}, status_codes.asciidoc; checklist 5.3 #26",
    ),
    Rule(
        "OCPI-27",
        "Stable ordering of paginated results",
        "warning",
        "spec",
        f"{TF} §Pagination; checklist 5.3 #27",
    ),
    # 5.4 pushes
    Rule(
        "OCPI-28",
        "URL country_code/party_id equal the object's and the peer's roles",
        "error",
        "spec",
        f"{TF} §Client Owned Object Push; checklist 5.4 #28",
    ),
    Rule(
        "OCPI-29",
        "URL object id equals the body id",
        "error",
        "spec",
        f"{TF} §Client Owned Object Push; checklist 5.4 #29",
    ),
    Rule(
        "OCPI-30",
        "Objects carry every required field",
        "error",
        "spec",
        "module object definitions; checklist 5.4 #30",
    ),
    Rule(
        "OCPI-31",
        "PATCH carries last_updated",
        "error",
        "spec",
        "mod_locations.asciidoc, mod_sessions.asciidoc; checklist 5.4 #31",
    ),
    Rule(
        "OCPI-32",
        "Only the methods the interface allows",
        "error",
        "spec",
        "module interface definitions; checklist 5.4 #32",
    ),
    Rule(
        "OCPI-33",
        "Session charging periods chronological and non-overlapping",
        "error",
        "spec",
        "mod_sessions.asciidoc; checklist 5.4 #33",
    ),
    Rule(
        "OCPI-34",
        "Session status transitions; kwh never decreases",
        "error",
        "spec",
        "mod_sessions.asciidoc §SessionStatus; checklist 5.4 #34",
    ),
    Rule(
        "OCPI-35",
        "Session/CDR cdr_token equals the START_SESSION token; auth_method COMMAND",
        "error",
        "spec",
        "mod_sessions.asciidoc, mod_commands.asciidoc; checklist 5.4 #35",
    ),
    Rule(
        "OCPI-36",
        "authorization_reference echoed in Session and CDR",
        "error",
        "spec",
        "mod_sessions.asciidoc, mod_cdrs.asciidoc; checklist 5.4 #36",
    ),
    Rule(
        "OCPI-37",
        "CDR POSTed once, well formed, never modified",
        "error",
        "spec",
        "mod_cdrs.asciidoc; checklist 5.4 #37",
    ),
    Rule(
        "OCPI-38",
        "CDR totals add up (energy, time, cost under the tariff)",
        "warning",
        "spec",
        "mod_cdrs.asciidoc, mod_tariffs.asciidoc; checklist 5.4 #38",
    ),
    Rule(
        "OCPI-38b",
        "Energy, durations, costs and times are plausible: not negative, not in the future",
        "info",
        "spec",
        "mod_sessions.asciidoc, mod_cdrs.asciidoc (no bound in the spec: information only; "
        "negative amounts belong to credit CDRs, mod_cdrs §Credit CDRs)",
    ),
    Rule(
        "OCPI-39",
        "CDR session_id and cdr_location refer to what we know",
        "error",
        "spec",
        "mod_cdrs.asciidoc; checklist 5.4 #39",
    ),
    Rule(
        "OCPI-40",
        "Price and Tariff shapes match the version",
        "error",
        "spec",
        "types.asciidoc §Price, mod_tariffs.asciidoc; checklist 5.4 #40",
    ),
    Rule(
        "OCPI-41",
        "Connector tariff_ids refer to existing tariffs",
        "warning",
        "spec",
        "mod_locations.asciidoc §Connector; checklist 5.4 #41",
    ),
    # 5.5 commands
    Rule(
        "OCPI-42",
        "CommandResponse well formed; 2003 for unknown locations",
        "error",
        "spec",
        "mod_commands.asciidoc; checklist 5.5 #42",
    ),
    Rule(
        "OCPI-43",
        "CommandResult to our response_url, iff ACCEPTED, within timeout",
        "error",
        "spec",
        "mod_commands.asciidoc; checklist 5.5 #43",
    ),
    Rule(
        "OCPI-43b",
        "CommandResult after REJECTED/NOT_SUPPORTED",
        "warning",
        "spec",
        "mod_commands.asciidoc; checklist 5.5 #43",
    ),
    Rule(
        "OCPI-44",
        "START_SESSION_CONNECTOR_REQUIRED honoured",
        "error",
        "spec",
        "mod_commands.asciidoc §StartSession; checklist 5.5 #44",
    ),
    Rule(
        "OCPI-45",
        "No real-time authorize for AD_HOC_USER tokens from commands",
        "error",
        "spec",
        "mod_commands.asciidoc; checklist 5.5 #45",
    ),
    Rule(
        "OCPI-46",
        "A Session follows an ACCEPTED start",
        "warning",
        "spec",
        "mod_commands.asciidoc sequence diagrams; checklist 5.5 #46",
    ),
    Rule(
        "OCPI-47",
        "RESERVE_NOW creates a RESERVATION session",
        "error",
        "spec",
        "mod_commands.asciidoc; checklist 5.5 #47",
    ),
    # 5.6 tokens
    Rule(
        "OCPI-48",
        "Real-time authorize request well formed",
        "error",
        "spec",
        "mod_tokens.asciidoc; checklist 5.6 #48",
    ),
    Rule(
        "OCPI-49",
        "Whitelist and valid honoured",
        "error",
        "spec",
        "mod_tokens.asciidoc §WhitelistType; checklist 5.6 #49",
    ),
    Rule(
        "OCPI-50",
        "Tokens Receiver accepts PUT/PATCH, GET returns the token",
        "error",
        "spec",
        "mod_tokens.asciidoc; checklist 5.6 #50",
    ),
    # 5.7 payments
    Rule(
        "OCPI-51",
        "CPO exposes payments RECEIVER and accepts POST terminals",
        "error",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #51",
    ),
    Rule(
        "OCPI-52",
        "Terminal assignment refers to the CPO's own locations/EVSEs",
        "error",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #52",
    ),
    Rule(
        "OCPI-52b",
        "Terminal PATCH without last_updated",
        "warning",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #52",
    ),
    Rule(
        "OCPI-53",
        "activate carries reference, not terminal_id; deactivate a known terminal",
        "warning",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #53",
    ),
    Rule(
        "OCPI-54",
        "Assigned EVSEs have a usable tariff",
        "error",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #54",
    ),
    Rule(
        "OCPI-54b",
        "Tariff for card payment: AD_HOC_PAYMENT, preauthorize_amount, capabilities",
        "warning",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #54",
    ),
    Rule(
        "OCPI-55",
        "START_SESSION leads to a Session and a CDR with the same "
        "authorization_reference, sent to us",
        "error",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #55",
    ),
    Rule(
        "OCPI-56",
        "invoice_reference_id present iff the CPO invoices",
        "error",
        "spec",
        "mod_payments.asciidoc §InvoiceCreator; checklist 5.7 #56",
    ),
    Rule(
        "OCPI-57",
        "CPO accepts our FinancialAdviceConfirmation",
        "error",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #57",
    ),
    Rule(
        "OCPI-58",
        "Session stopped at the pre-authorized limit",
        "warning",
        "spec",
        "mod_payments.asciidoc; checklist 5.7 #58",
    ),
    # Payter on top of the spec
    Rule(
        "PAYTER-01",
        "Payter needs every module: Credentials, Locations, Sessions, Commands, "
        "CDRs, Tariffs, Payments, Tokens",
        "warning",
        "payter",
        "payter.md §2.3 (docs.payter.com OCPI modules)",
    ),
    Rule(
        "PAYTER-02",
        "EVSE status changes are pushed, not only polled",
        "warning",
        "payter",
        "payter.md §2.3 Locations",
    ),
    Rule(
        "PAYTER-03",
        "Tariff texts carry the languages the terminal offers",
        "warning",
        "payter",
        "payter.md §2.3 Tariffs, §4.6",
    ),
    Rule(
        "PAYTER-04",
        "customer_reference confirmed before terminals are assigned",
        "warning",
        "payter",
        "payter.md §2.2 customer_reference",
    ),
    Rule(
        "PAYTER-05",
        "The CDR arrives, so the pre-authorization can be captured",
        "error",
        "payter",
        "payter.md §2.6 step 8-9",
    ),
    Rule(
        "PAYTER-06",
        "Session cost stays within the pre-authorized amount",
        "warning",
        "payter",
        "payter.md §2.6 step 7; §3.9",
    ),
    Rule(
        "PAYTER-07",
        "Terminal assignment uses EVSEs that exist in the mirrored Locations",
        "error",
        "payter",
        "payter.md §2.2 Location assignment",
    ),
    Rule(
        "CPS-01",
        "Every CPS session ends in commit or cancel",
        "error",
        "payter",
        "payter.md §3.9 (Payter enforces session management)",
    ),
    Rule("CPS-02", "Commit at most the authorized amount", "error", "payter", "payter.md §3.4"),
    Rule(
        "CPS-03",
        "Webhook endpoint answers 200 (or 409)",
        "warning",
        "payter",
        "payter.md §3.7 retry policy",
    ),
]

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
