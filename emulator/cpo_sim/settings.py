"""Settings of the simulated CPO (``payter-emulator cpo-sim``).

The server settings are those of every node (:class:`~emulator.settings.ServerSettings`) with
the CPO's own defaults; the environment prefix is ``EMULATOR_CPO_SIM_`` so the simulated CPO
and the emulator can run side by side from one environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from emulator.cpo_sim.presets import parse_presets
from emulator.settings import ServerSettings, check_payments_versions, payments_versions_field


class CpoSimSettings(ServerSettings):
    """The simulated CPO (``payter-emulator cpo-sim``)."""

    model_config = SettingsConfigDict(env_prefix="EMULATOR_CPO_SIM_", extra="ignore")

    port: int = Field(8081, ge=0, le=65535, description="TCP port; 0 picks a free port.")
    db: str = Field(
        "cpo-sim.db", description="SQLite file for all state; ':memory:' keeps nothing."
    )
    country_code: str = Field(
        "NL", min_length=2, max_length=2, description="Own OCPI country code."
    )
    party_id: str = Field("SIM", min_length=3, max_length=3, description="Own OCPI party id.")
    business_name: str = Field("Simulated CPO", max_length=100, description="BusinessDetails.name.")
    business_website: str | None = Field(None, description="BusinessDetails.website.")
    versions: str = Field(
        "2.3.0,2.2.1",
        description="OCPI versions offered, highest first (comma-separated). The CPO modules "
        "exist for 2.2.1 and 2.3.0.",
    )
    payments_versions: str = payments_versions_field(
        "OCPI versions on which the Payments Receiver (terminals, "
        "financial-advice-confirmations) is hosted (empty: none); on 2.2.1 it is the custom "
        "module 'payments' of Payter's 'Direct Payment 2.2.1', with 2.2.1's Price."
    )
    ocpi_page_limit: int = Field(
        2,
        ge=1,
        le=1000,
        description="X-Limit: the largest page this server returns. Small on purpose, so that "
        "a peer has to follow the Link headers of the Sender lists.",
    )
    required_modules: str | None = Field(
        None,
        description="Modules a peer must expose at registration, as 'module:ROLE' "
        "(comma-separated); default: credentials only.",
    )
    token_a: str = Field(
        "cpo-sim-token-a",
        min_length=1,
        max_length=64,
        description="Fixed CREDENTIALS_TOKEN_A a PTP can use to register (more via "
        "POST /__admin/tokens-a).",
    )

    # --- behaviour ---------------------------------------------------------------------------
    preset: str = Field(
        "correct",
        description="Behaviour preset, or several comma-separated: correct, sloppy-headers, "
        "late-result, reject-start, no-session-after-accept, patch-without-last-updated, "
        "wrong-cdr-token, cdr-over-authorization, bad-paging, raw-token.",
    )
    fixtures: Path | None = Field(
        None,
        description="Directory with locations.json and tariffs.json (default: the packaged "
        "fixtures/cpo_sim).",
    )
    charger_power_kw: float = Field(
        50.0,
        gt=0,
        description="Highest power an EVSE delivers (kW); the connector's max_electric_power "
        "and the car cap it further.",
    )
    car_battery_kwh: float = Field(
        60.0, gt=0, description="Battery of a car plugged in without saying otherwise (kWh)."
    )
    car_soc: float = Field(
        20.0, ge=0, le=100, description="State of charge of such a car at plug-in (%)."
    )
    car_max_power_kw: float = Field(
        50.0, gt=0, description="Highest power such a car accepts (kW)."
    )
    invoicing: bool = Field(
        False,
        description="The CPO issues the invoice: CDRs carry invoice_reference_id and terminals "
        "are told invoice_creator CPO and the invoice_base_url.",
    )
    invoice_base_url: str | None = Field(
        None,
        description="Base URL of the invoices (default: this server's /invoices/); the invoice "
        "of a session is at this URL + authorization_reference.",
    )
    command_timeout: int = Field(
        30, ge=1, description="Seconds announced as 'timeout' in every CommandResponse."
    )
    command_result_delay: float = Field(
        2.0, ge=0, description="Seconds until the charger's CommandResult is POSTed."
    )
    session_patch_interval: float = Field(
        60.0, gt=0, description="Seconds between Session PATCHes while a session runs."
    )
    auto_plug_in_delay: float = Field(
        5.0,
        description="Seconds after which the simulated driver plugs a car in after an "
        "accepted START_SESSION, and unplugs it after the session (also a car plugged in "
        "through the control API); negative: only through the control API.",
    )
    plug_in_timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds an accepted start waits for a car before it lapses (no session).",
    )
    terminal_assignment: Literal["locations", "evses", "first-location", "none"] = Field(
        "locations",
        description="How a terminal the PTP POSTs is assigned: all card-payment locations, "
        "all card-payment EVSEs, the first location only, or not at all.",
    )
    terminal_assignment_delay: float = Field(
        1.0, ge=0, description="Seconds between a terminal's arrival and its assignment PATCH."
    )

    @field_validator("payments_versions")
    @classmethod
    def _payments_versions(cls, value: str) -> str:
        return check_payments_versions(value)

    @property
    def payments_version_list(self) -> list[str]:
        return [v for v in self.payments_versions.split(",") if v]

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        parse_presets(value)
        return value
