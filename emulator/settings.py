"""Every setting of the emulator, in one place.

Each field is a CLI flag (``--max-body-bytes``) and an environment variable with the
``EMULATOR_`` prefix (``EMULATOR_MAX_BODY_BYTES``); the flag wins over the variable, the variable
over the default. ``--help`` and the README table are generated from these fields, so the
description under each one is what the user reads.

Decisions that the specifications leave open (``../shared/DESIGN.md``) are settings here with
the documented default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

OCPI_VERSIONS = ("2.3.0", "2.2.1", "2.1.1")
# Versions with the Payments module: 2.3.0's package, and 2.2.1 with the module as the custom
# module 'payments' (Payter: Payments was added to 2.2.1 in March 2024, "Direct Payment 2.2.1").
PAYMENTS_VERSIONS = ("2.3.0", "2.2.1")


def payments_versions_field(description: str) -> Any:
    return Field(",".join(PAYMENTS_VERSIONS), description=description)


def check_payments_versions(value: str) -> str:
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in PAYMENTS_VERSIONS]
    if unknown:
        raise ValueError(f"payments versions must be among {', '.join(PAYMENTS_VERSIONS)}")
    return ",".join(sorted(items, key=_version_key, reverse=True))


# Settings that hold a secret: shortened wherever settings are shown.
SECRET_SETTINGS = frozenset(
    {"admin_token", "token_a", "secrets_key", "cps_api_key", "cps_apikey_token"}
)


class ServerSettings(BaseSettings):
    """Settings shared by every server this package starts (emulator, simulated CPO)."""

    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to listen on. Loopback by default.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port; 0 picks a free port.")
    public_url: str | None = Field(
        None,
        description="Base URL peers use to reach this server (default: http://HOST:PORT). "
        "Set it when running behind Docker or a proxy.",
    )
    db: str = Field(
        "payter-emulator.db", description="SQLite file for all state; ':memory:' keeps nothing."
    )
    ready_file: Path | None = Field(
        None, description="Write the JSON 'listening' object to this file once ready."
    )
    clock: Literal["real", "manual"] = Field(
        "real", description="'real' follows the wall clock; 'manual' moves only when advanced."
    )
    clock_start: str | None = Field(
        None, description="Start time of the manual clock (RFC 3339, UTC)."
    )
    seed: int | None = Field(
        None, description="Seed for ids, tokens and EFT data; set it for repeatable runs."
    )
    log_format: Literal["auto", "json", "text", "console"] = Field(
        "auto",
        description="Log lines as 'json' (one object per line) or 'text' (readable lines; "
        "'console' is the same); 'auto': text on a terminal, JSON otherwise.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written to the log."
    )
    admin_token: str | None = Field(
        None,
        description="Bearer token for /__admin/. Without it the control API answers loopback "
        "clients only.",
    )
    secrets_key: str | None = Field(
        None,
        description="Key for the secrets the database keeps (the tokens the emulator sends "
        "to peers, minted CPS API keys); default: a random key in DB.key next to the database, "
        "created on the first start (keep it with the database, or the stored tokens cannot "
        "be read).",
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted (bytes)."
    )
    journal_retention: int = Field(
        20000, ge=100, description="Traffic journal rows kept; older exchanges are pruned."
    )
    findings_retention: int = Field(
        100000,
        ge=100,
        description="Findings kept; older ones are pruned (the report counts what is kept).",
    )
    journal_body_bytes: int = Field(
        64 * 1024, ge=256, description="Bodies longer than this are truncated in the journal."
    )
    http_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds an outbound OCPI/CPS/webhook request may take (inferred: how "
        "long Payter waits for a peer is not public).",
    )
    allow_outbound: str = Field(
        "",
        description="Hosts and networks outbound calls (to peers, webhooks) may reach besides "
        "loopback and private networks: comma-separated CIDRs, IPs or host names "
        "('.example.com': its subdomains); '0.0.0.0/0,::/0' allows every public address. "
        "Link-local and cloud metadata addresses are always refused.",
    )
    deny_outbound: str = Field(
        "",
        description="Hosts and networks outbound calls may never reach (CIDRs, IPs or host "
        "names, comma-separated); checked before --allow-outbound.",
    )
    strict: bool = Field(
        False,
        description="Strict mode: refuse raw (non-Base64) tokens from 2.2.1+ peers and count "
        "warnings as failures in the report.",
    )

    # --- OCPI identity and behaviour ------------------------------------------------------
    country_code: str = Field(
        "NL",
        min_length=2,
        max_length=2,
        description="Own OCPI country code (inferred: Payter's own is not public).",
    )
    party_id: str = Field(
        "PAY",
        min_length=3,
        max_length=3,
        description="Own OCPI party id (inferred: Payter's own is not public).",
    )
    business_name: str = Field(
        "Payter",
        max_length=100,
        description="BusinessDetails.name (inferred: what Payter sends is not public).",
    )
    business_website: str | None = Field(
        "https://www.payter.com",
        description="BusinessDetails.website (inferred: what Payter sends is not public).",
    )
    versions: str = Field(
        ",".join(OCPI_VERSIONS),
        description="OCPI versions offered, highest first (comma-separated).",
    )
    token_a: str = Field(
        "payter-emulator-token-a",
        min_length=1,
        max_length=64,
        description="Fixed CREDENTIALS_TOKEN_A a CPO can use to register (more via "
        "POST /__admin/tokens-a).",
    )
    ocpi_page_limit: int = Field(
        50, ge=1, le=1000, description="X-Limit: the largest page this server returns."
    )
    crawl_max_pages: int = Field(
        500, ge=1, description="Pages an outbound paginated GET follows before giving up."
    )
    registration_followup_delay: float = Field(
        1.0,
        ge=0,
        description="Seconds after answering a peer's credentials POST/PUT before pushing to it "
        "(terminals, first crawl): the peer completes its side when it reads the answer "
        "(inferred: when Payter follows up is not public).",
    )
    required_modules: str | None = Field(
        None,
        description="Modules a peer must expose at registration, as 'module:ROLE' "
        "(comma-separated); default depends on the profile.",
    )

    @field_validator("allow_outbound", "deny_outbound")
    @classmethod
    def _outbound_rules(cls, value: str) -> str:
        from emulator.outbound import Rules

        Rules.parse(value)
        return value

    def default_secrets(self) -> list[str]:
        """Settings that hold a secret and still have their published default value."""
        return [
            name
            for name in ("token_a",)
            if getattr(self, name) and getattr(self, name) == type(self).model_fields[name].default
        ]

    def exposure_warning(self) -> str | None:
        """What to tell someone who listens beyond loopback with secrets anyone can read in
        this project's README (the fixed token A, the fixed CPS key)."""
        if self.loopback_only:
            return None
        names = self.default_secrets()
        if not names:
            return None
        flags = ", ".join("--" + n.replace("_", "-") for n in names)
        return (
            f"warning: listening on {self.host}, beyond loopback, while {flags} still "
            "have their published default values: anyone who can reach this port can register "
            "a platform or call the CPS API with them. Set your own values (or the "
            "EMULATOR_* variables), or listen on 127.0.0.1."
        )

    @property
    def loopback_only(self) -> bool:
        """Whether the server listens on a loopback interface only."""
        import ipaddress

        host = self.host.strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @field_validator("versions")
    @classmethod
    def _known_versions(cls, value: str) -> str:
        items = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [v for v in items if v not in OCPI_VERSIONS]
        if unknown or not items:
            raise ValueError(f"versions must be among {', '.join(OCPI_VERSIONS)}")
        return ",".join(sorted(items, key=_version_key, reverse=True))

    @property
    def version_list(self) -> list[str]:
        return self.versions.split(",")

    def base_url(self, bound_port: int) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{bound_port}"


class EmulatorSettings(ServerSettings):
    """The Payter emulator (``payter-emulator serve``)."""

    profile: Literal["ptp", "emsp"] = Field(
        "ptp",
        description="'ptp': Payter as Payment Terminal Provider, with Payments on OCPI 2.3.0 "
        "and 2.2.1 (--payments-versions); 'emsp': eMSP-like peer for 2.2.1 platforms without "
        "Payments (offers 2.2.1 and 2.1.1 unless --versions says otherwise).",
    )
    versions: str = Field(
        ",".join(OCPI_VERSIONS),
        description="OCPI versions offered, highest first (comma-separated); profile 'emsp': "
        "2.2.1,2.1.1.",
    )
    role: Literal["EMSP", "OTHER", "PTP"] = Field(
        "EMSP",
        description="Role sent in Credentials. EMSP by default: a value of the Role enum of "
        "every version (2.2.1 and 2.3.0 have no PTP, so a CPO that validates the enum refuses "
        "it), Payter describes itself as an eMSP-like peer, and a CPO's Commands and Tokens "
        "modules take commands and tokens from EMSP partners. OTHER (also in the enum) or PTP "
        "(the 2.3.0 terminology's name, outside the enum) on request. Peers may send any.",
    )
    poll_interval: float = Field(
        600.0,
        ge=0,
        description="Seconds between crawls of the CPO's Locations and Tariffs (0: only at "
        "registration and on demand; inferred: Payter polls 'periodically', its interval is "
        "not public).",
    )
    sender_checks: bool = Field(
        True,
        description="After the first crawl of a CPO's Locations, check its Sender further: one "
        "Location and EVSE by id in changed case, an unknown id (404), the first page again "
        "(stable order), date_from/date_to boundaries.",
    )
    command_result_timeout: int = Field(
        60,
        ge=1,
        description="Seconds to wait for a CommandResult when the CommandResponse gives no "
        "usable timeout (inferred: Payter's wait is not public).",
    )
    command_result_grace: int = Field(
        5,
        ge=0,
        description="Extra seconds after a CommandResponse timeout before the result "
        "counts as missing (inferred).",
    )
    payments_versions: str = payments_versions_field(
        "OCPI versions on which the Payments module (Terminals, Financial Advice "
        "Confirmations) is hosted and used, profile 'ptp' (empty: none). On 2.2.1 it is the "
        "custom module 'payments' with 2.2.1's Price (Payter's 'Direct Payment 2.2.1'; its "
        "module id and shape there are inferred), used with a CPO whose 2.2.1 version details "
        "list it.",
    )
    payments_terminals_path: str = Field(
        "terminals", description="Sub-path of the Payments endpoint for Terminals."
    )
    payments_facs_path: str = Field(
        "financial-advice-confirmations",
        description="Sub-path of the Payments endpoint for Financial Advice Confirmations.",
    )
    customer_reference: str | None = Field(
        None,
        max_length=36,
        description="customer_reference put on new Terminals (links a terminal to the CPO's "
        "contract with Payter).",
    )
    probe_tokens: bool = Field(
        True,
        description="After a new registration, call the CPO's versions endpoint once with a "
        "token nobody issued; it must get 401 (OCPI-02).",
    )
    probe_spent_token_a: bool = Field(
        False,
        description="Opt-in: after registering with a CPO (as Sender), also call its versions "
        "endpoint once with its spent token A, which must get 401 (OCPI-16b). Off by default: "
        "the Sender SHALL use token C after the handshake (credentials.asciidoc), so the probe "
        "itself breaks the spec.",
    )
    probe_unknown_fields: bool = Field(
        False,
        description="Add an undocumented field to the JSON objects sent to OCPI 2.3.0 peers; "
        "a peer that refuses them and takes the request without it gets an OCPI-09 finding.",
    )
    payter_customer_reference_patch: bool = Field(
        True,
        description="Payter-specific step: PATCH the customer_reference to the CPO's Terminal "
        "after creating it (the spec's CPO Receiver has no PATCH; off for a strict spec peer).",
    )
    default_preauth_amount: float = Field(
        50.0,
        gt=0,
        description="Pre-authorization amount (tariff currency) when the tariff has neither "
        "preauthorize_amount nor max_price (inferred: Payter's rule is not public).",
    )
    fac_policy: Literal["invoice_reference_id", "always"] = Field(
        "invoice_reference_id",
        description="When to send a Financial Advice Confirmation: when the CDR carries "
        "invoice_reference_id (the CPO invoices; mod_payments), or after every capture.",
    )
    fac_retries: str = Field(
        "60,300,900,3600,10800,43200,86400",
        description="Delays between attempts to deliver a Financial Advice Confirmation while "
        "the CPO cannot be reached, as 'SECONDS[xCOUNT]' steps; after the last it is reported "
        "(OCPI-57). Inferred: Payter's FAC retries are not public.",
    )
    session_start_timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds after an ACCEPTED START_SESSION result within which a Session must "
        "arrive; then the pre-authorization is voided (Payter's example: 'may allow 5 minutes "
        "to plug a vehicle in', PSP session management; that its OCPI journey waits as long "
        "is inferred).",
    )
    cdr_timeout: float = Field(
        86400.0,
        gt=0,
        description="Seconds after the session ends within which the CDR must arrive; then the "
        "last known session cost is captured (inferred: Payter asks for the CDR 'as soon as "
        "possible', no limit published).",
    )
    receipt_window: float = Field(
        86400.0,
        gt=0,
        description="Seconds back the terminal's Receipt button looks (Payter: sessions of the "
        "last 24 hours).",
    )
    journey_stop_list: bool = Field(
        False,
        description="The Stop screen also lists the running sessions, to choose one without "
        "the card (off: as Payter advises, a stop on the terminal is authenticated by the card "
        "used: Stop reads the card and offers only Back).",
    )
    journey_texts: Path | None = Field(
        None,
        description="JSON file of journey texts, {language: {key: text}}, over the built-in "
        "ones (fixtures/journey/texts.json; inferred: Payter's screen texts are not public).",
    )
    journey_screen_timeout: float = Field(
        30.0,
        gt=0,
        description="Inactivity timeout of the journey's selection screens (s; inferred: "
        "Payter's per-screen timeouts are not public).",
    )
    journey_tariff_timeout: float = Field(
        60.0, gt=0, description="Inactivity timeout of the tariff screen (s; inferred)."
    )
    journey_receipt_timeout: float = Field(
        60.0, gt=0, description="How long a receipt stays on the screen (s; inferred)."
    )
    journey_notice_seconds: float = Field(
        3.0,
        gt=0,
        description="How long approved/declined/timed-out notices stay (s; inferred).",
    )
    journey_result_seconds: float = Field(
        5.0,
        gt=0,
        description="How long started/stopped/could-not-start notices stay (s; inferred).",
    )
    session_update_timeout: float = Field(
        86400.0,
        gt=0,
        description="Seconds a started session may go without any Session update or CDR; then "
        "it counts as lost and its last known cost is captured (Payter: lost contact with the "
        "charger ⇒ commit the last known total; the time is inferred).",
    )

    # --- the virtual terminal (Payter's terminal-level timeouts, payter.md §3.8) -----------
    card_presentation_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds the present-card screen waits for a card before 'Timed out' "
        "(Payter: the Apollo's card-detect-timeout, default 60 s, PSP configurable options).",
    )
    card_read_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a read card waits for authorize or stop before the terminal drops "
        "it (Payter: 30 s, PSP timeouts).",
    )
    authorization_timeout: float = Field(
        210.0,
        gt=0,
        description="Seconds an authorization may take on an Apollo, Apollo Max or Polar "
        "(Payter: Auth Session 3 min 30 s, PSP timeouts).",
    )
    pin_authorization_timeout: float = Field(
        210.0,
        gt=0,
        description="Seconds an authorization with PIN entry may take in all on an Apollo "
        "(Payter: 3 min 30 s, 'allows for 3x PIN entry', PSP timeouts).",
    )
    p6x_authorization_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds an authorization may take on a P6X, with or without PIN (Payter: "
        "Auth Session 30 s, PSP timeouts).",
    )
    commit_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds a commit or void may take at the terminal (Payter: Commit/Void "
        "Session 60 s, PSP timeouts): how long an injected commit/cancel 'timeout' holds the "
        "call.",
    )
    pin_entry_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds without a key on the PIN pad before the payment is declined "
        "(inferred).",
    )
    screensaver_timeout: float = Field(
        30.0,
        ge=0,
        description="Seconds of inactivity before the screensaver (0: never; Payter: 'by "
        "default this is after 30 seconds', Apollo UI screensaver).",
    )
    notification_timeout: float = Field(
        3.0,
        gt=0,
        description="Seconds a terminal notification stays when no timeout is given "
        "(uiMessageTimeout; inferred).",
    )
    authorization_validity: float = Field(
        7 * 86400.0,
        gt=0,
        description="Seconds until an authorization neither captured nor voided lapses at "
        "the issuer (inferred: Payter says 'weeks and sometimes months').",
    )
    default_terminal: str | None = Field(
        "APO-0001",
        description="Serial number of the terminal created on a fresh start (empty: none).",
    )

    # --- Cloud Payment Service (CPS) -------------------------------------------------------
    cps_path: str = Field(
        "/cps",
        pattern=r"^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$",
        description="Path under which the CPS API is served on the emulator's port.",
    )
    cps_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Also serve the CPS API at the root of this port (0 picks a free port), "
        "so a CSMS's CPS base URL needs no path.",
    )
    cps_api_key: str | None = Field(
        "payter-emulator-cps-key",
        max_length=128,
        description='Fixed CPS API key (Authorization: CPS apikey="...") that sees every '
        "CPS terminal; more keys via POST /__admin/cps/api-keys (empty: none).",
    )
    cps_apikey_token: str | None = Field(
        "payter-emulator-cps-token",
        max_length=128,
        description="Token that GET /cps/apikey?token= exchanges for the fixed API key "
        "(the emulator's shape of Payter's ApiKey endpoint; empty: none).",
    )
    cps_read_timeout: float = Field(
        60.0,
        ge=0,
        description="Seconds a terminal reads after CPS start before it returns to IDLE "
        "(Payter: the Apollo's card-detect-timeout, default 60 s, PSP configurable options; "
        "0: reads until stopped, Payter's 'always reading').",
    )
    cps_payment_methods: str = Field(
        "EMV,RFID",
        description="What a terminal reads when start gives no supportedPaymentMethods "
        "(comma-separated: EMV, CONTACTLESS, CHIP, QR_CODE, RFID, MIFARE).",
    )
    cps_max_wait_time: float = Field(
        60.0,
        gt=0,
        description="Longest waitTime (seconds) a GET .../card long poll is held (inferred).",
    )
    cps_session_timeout: float = Field(
        86400.0,
        ge=0,
        description="Seconds after authorization when a CPS session neither committed nor "
        "cancelled is closed with the session timeout action (0: never; Payter's PSP "
        "'session timeout', whose default is not public: inferred).",
    )
    cps_session_timeout_action: Literal["void", "commit"] = Field(
        "void",
        description="What the session timeout does: 'void' the authorization or 'commit' the "
        "full authorized amount (PSP Setup's two actions; which one Payter's CPS takes is not "
        "public: inferred).",
    )
    cps_answers: Literal["payter", "emulator"] = Field(
        "payter",
        description="What start, stop and ui answer on success: 'payter', an empty body with "
        "HTTP 200, as Payter's CPS does (seen by public integrations); 'emulator', the "
        "emulator's own JSON (the terminal; {screenId, shown, held} for ui), which a CSMS must "
        "not rely on with Payter.",
    )
    cps_webhook_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a CPS webhook delivery attempt may take (inferred).",
    )
    cps_webhook_retries: str = Field(
        "60x5,3600x24,86400x7",
        description="The emulator's own choice (inferred: how Payter redelivers its webhooks is "
        "not public): delays between webhook delivery attempts as 'SECONDSxCOUNT' steps, by "
        "default Payter's commit/cancel ladder. Any 2xx or a 409 ends a delivery.",
    )
    cps_csms_retries: str = Field(
        "60x5,3600x24,86400x7",
        description="Payter's advice to a CSMS for its own commit/cancel retries (pre-session "
        "checklist: every minute 5 times, hourly for 24 h, daily up to 7 days; stop on HTTP 200 "
        "or 409): after a failed commit/cancel (POST /__admin/cps/commit-faults) the next "
        "attempt is expected between half and twice the step's delay (CPS-04).",
    )
    cps_test_firmware: bool = Field(
        False,
        description="New terminals run test firmware (per terminal: 'test_firmware' in "
        "POST /__admin/terminals): QR codes read by the camera are reported with ifd "
        "'UNKNOWN', as Payter's test terminals do.",
    )

    @field_validator("payments_versions")
    @classmethod
    def _payments_versions(cls, value: str) -> str:
        return check_payments_versions(value)

    @field_validator("journey_texts")
    @classmethod
    def _journey_texts(cls, value: Path | None) -> Path | None:
        if value is None or not str(value):
            return None
        import json

        try:
            data = json.loads(Path(value).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the journey texts {value}: {exc}") from None
        if not isinstance(data, dict) or not all(
            isinstance(t, dict) and all(isinstance(x, str) for x in t.values())
            for t in data.values()
        ):
            raise ValueError('journey texts must be {"<language>": {"<key>": "<text>"}}')
        return value

    @property
    def payments_version_list(self) -> list[str]:
        return [v for v in self.payments_versions.split(",") if v]

    @field_validator("cps_webhook_retries", "fac_retries", "cps_csms_retries")
    @classmethod
    def _retry_ladder(cls, value: str) -> str:
        parse_retry_ladder(value)
        return value

    @field_validator("cps_payment_methods")
    @classmethod
    def _payment_methods(cls, value: str) -> str:
        methods = [m.strip().upper() for m in value.split(",") if m.strip()]
        known = ("EMV", "CONTACTLESS", "CHIP", "QR_CODE", "RFID", "MIFARE")
        unknown = [m for m in methods if m not in known]
        if unknown or not methods:
            raise ValueError(f"payment methods must be among {', '.join(known)}")
        return ",".join(methods)

    @model_validator(mode="after")
    def _profile_defaults(self) -> EmulatorSettings:
        # The 'emsp' profile is for platforms without Payments: its versions differ where not
        # given explicitly.
        if self.profile == "emsp":
            if "versions" not in self.model_fields_set:
                self.versions = "2.2.1,2.1.1"
        return self

    def default_secrets(self) -> list[str]:
        names = super().default_secrets()
        return names + [
            name
            for name in ("cps_api_key", "cps_apikey_token")
            if getattr(self, name) and getattr(self, name) == type(self).model_fields[name].default
        ]

    @property
    def cps_retry_delays(self) -> list[float]:
        return parse_retry_ladder(self.cps_webhook_retries)

    @property
    def cps_csms_retry_delays(self) -> list[float]:
        return parse_retry_ladder(self.cps_csms_retries)

    @property
    def fac_retry_delays(self) -> list[float]:
        return parse_retry_ladder(self.fac_retries)


def parse_retry_ladder(text: str) -> list[float]:
    """``"60x5,3600x24"`` → the delay before each retry, in seconds (empty text: no retry)."""
    delays: list[float] = []
    for step in (s.strip() for s in text.split(",")):
        if not step:
            continue
        seconds, _, count = step.partition("x")
        try:
            value, times = float(seconds), int(count or "1")
        except ValueError:
            raise ValueError(f"retry step {step!r} is not SECONDSxCOUNT") from None
        if value <= 0 or times < 1:
            raise ValueError(f"retry step {step!r}: seconds and count must be positive")
        delays.extend([value] * times)
    if len(delays) > 1000:
        raise ValueError("at most 1000 retries")
    return delays


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


# Versions compared on every request: each text is split once (a peer's unknown version
# text included; at most this many kept).
_VERSION_KEYS: dict[str, tuple[int, ...]] = {}


def version_key(version: str) -> tuple[int, ...]:
    key = _VERSION_KEYS.get(version)
    if key is None:
        try:
            key = _version_key(version)
        except ValueError:
            key = (0,)
        if len(_VERSION_KEYS) < 64:
            _VERSION_KEYS[version] = key
    return key


def settings_fields(cls: type[BaseSettings]) -> list[tuple[str, Any]]:
    return list(cls.model_fields.items())


def env_name(cls: type[BaseSettings], field: str) -> str:
    prefix = cls.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


def markdown_table(cls: type[BaseSettings]) -> str:
    """The README table of settings: flag, environment variable, default, meaning."""
    rows = ["| Flag | Environment variable | Default | Meaning |", "|---|---|---|---|"]
    for name, info in settings_fields(cls):
        flag = "--" + name.replace("_", "-")
        default = info.default
        shown = "" if default is None else f"`{default}`"
        rows.append(f"| `{flag}` | `{env_name(cls, name)}` | {shown} | {info.description} |")
    return "\n".join(rows)
