"""The OCPI models: what they accept, refuse and note, per version."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from emulator.ocpi.models.base import partial_model, validate_patch
from emulator.ocpi.models.cdrs import CDRV221, CDRV230, CdrLocationV230, SignedValue
from emulator.ocpi.models.commands import (
    CommandResponse,
    CommandResponseV211,
    CommandResult,
    ReserveNowV211,
    StartSessionV221,
    StartSessionV230,
)
from emulator.ocpi.models.common import PriceV221, PriceV230
from emulator.ocpi.models.locations import EVSEV230, LocationV211, LocationV221, LocationV230
from emulator.ocpi.models.payments import (
    FinancialAdviceConfirmation,
    Terminal,
    TerminalActivation,
)
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.models.sessions import SessionV221, SessionV230
from emulator.ocpi.models.tariffs import TariffV221, TariffV230
from emulator.ocpi.models.tokens import TokenV230
from emulator.ocpi.transport import validation_findings
from emulator.ocpi.types import ParseNote, collect_notes

STAMP = "2025-03-04T10:15:00Z"


def parse(model: type[BaseModel], data: Any) -> tuple[Any, list[ParseNote]]:
    with collect_notes() as notes:
        obj = model.model_validate(data)
    return obj, list(notes)


def refusal(model: type[BaseModel], data: Any) -> list[tuple[str, str, str]]:
    """(rule, pointer, message) of each problem, as the transport reports them."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return validation_findings(caught.value)


def rules(notes: list[ParseNote]) -> list[str]:
    return [n.rule for n in notes]


# --- test data (made up for these tests) --------------------------------------------------------


def connector(**extra: Any) -> dict[str, Any]:
    return {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "tariff_ids": ["ADHOC-1"],
        "last_updated": STAMP,
        **extra,
    }


def evse(**extra: Any) -> dict[str, Any]:
    return {
        "uid": "EVSE-0042",
        "evse_id": "NL*PYT*E0042*1",
        "status": "AVAILABLE",
        "capabilities": ["CONTACTLESS_CARD_SUPPORT", "REMOTE_START_STOP_CAPABLE"],
        "connectors": [connector()],
        "last_updated": STAMP,
        **extra,
    }


def location(**extra: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "PYT",
        "id": "LOC-7",
        "publish": True,
        "address": "Stationsplein 12",
        "city": "Utrecht",
        "postal_code": "3511 ED",
        "country": "NLD",
        "coordinates": {"latitude": "52.089444", "longitude": "5.110278"},
        "time_zone": "Europe/Amsterdam",
        "evses": [evse()],
        "last_updated": STAMP,
        **extra,
    }


def cdr_token(**extra: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "PTR",
        "uid": "TX-0001",
        "type": "AD_HOC_USER",
        "contract_id": "TX-0001",
        **extra,
    }


def session(**extra: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "PYT",
        "id": "S-100",
        "start_date_time": "2025-03-04T10:00:00Z",
        "kwh": 3.5,
        "cdr_token": cdr_token(),
        "auth_method": "COMMAND",
        "authorization_reference": "AUTH-9",
        "location_id": "LOC-7",
        "evse_uid": "EVSE-0042",
        "connector_id": "1",
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": STAMP,
        **extra,
    }


def tariff_230(**extra: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "PYT",
        "id": "ADHOC-1",
        "currency": "EUR",
        "type": "AD_HOC_PAYMENT",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}],
        "tax_included": "YES",
        "last_updated": STAMP,
        **extra,
    }


def cdr_location() -> dict[str, Any]:
    return {
        "id": "LOC-7",
        "address": "Stationsplein 12",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.089444", "longitude": "5.110278"},
        "evse_uid": "EVSE-0042",
        "evse_id": "NL*PYT*E0042*1",
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "SOCKET",
        "connector_power_type": "AC_3_PHASE",
    }


def cdr(price: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "PYT",
        "id": "CDR-100",
        "start_date_time": "2025-03-04T10:00:00Z",
        "end_date_time": "2025-03-04T11:00:00Z",
        "session_id": "S-100",
        "cdr_token": cdr_token(),
        "auth_method": "COMMAND",
        "cdr_location": cdr_location(),
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2025-03-04T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 10}],
            }
        ],
        "total_cost": price,
        "total_energy": 10,
        "total_time": 1,
        "last_updated": STAMP,
        **extra,
    }


def token_230(**extra: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "PTR",
        "uid": "TX-0001",
        "type": "AD_HOC_USER",
        "contract_id": "TX-0001",
        "issuer": "Payter",
        "valid": True,
        "whitelist": "NEVER",
        "last_updated": STAMP,
        **extra,
    }


def fac(total_costs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "FAC-1",
        "authorization_reference": "AUTH-9",
        "total_costs": total_costs,
        "currency": "EUR",
        "eft_data": ["VISA", "PAN ************1234", "AID A0000000031010"],
        "capture_status_code": "SUCCESS",
        "last_updated": STAMP,
        **extra,
    }


# --- required fields, lengths, enums ------------------------------------------------------------


def test_a_complete_location_parses_without_notes() -> None:
    obj, notes = parse(LocationV230, location())
    assert notes == []
    assert obj.evses[0].connectors[0].max_amperage == 32


def test_missing_required_field_is_reported_at_its_location() -> None:
    data = location()
    del data["address"]
    assert refusal(LocationV230, data) == [("OCPI-30", "/address", "required field is missing")]


def test_missing_nested_field_points_into_the_tree() -> None:
    data = location()
    del data["evses"][0]["connectors"][0]["max_voltage"]
    problems = refusal(LocationV221, data)
    assert [(r, p) for r, p, _ in problems] == [("OCPI-30", "/evses/0/connectors/0/max_voltage")]


def test_an_evse_needs_at_least_one_connector() -> None:
    problems = refusal(EVSEV230, evse(connectors=[]))
    assert [p for _, p, _ in problems] == ["/connectors"]


@pytest.mark.parametrize(
    ("model", "data", "pointer"),
    [
        (LocationV230, location(id="L" * 37), "/id"),
        (LocationV230, location(evses=[evse(evse_id="E" * 49)]), "/evses/0/evse_id"),
        (LocationV230, location(party_id="PYTX"), "/party_id"),
        (CDRV230, cdr({"before_taxes": 1}, id="C" * 40), "/id"),
        (SessionV230, session(id="S" * 37), "/id"),
        (TokenV230, token_230(uid="U" * 37), "/uid"),
    ],
)
def test_over_long_identifiers_are_refused(
    model: type[BaseModel], data: dict[str, Any], pointer: str
) -> None:
    problems = refusal(model, data)
    assert [(r, p) for r, p, _ in problems] == [("OCPI-10", pointer)]


def test_identifiers_at_their_limit_are_accepted() -> None:
    parse(LocationV230, location(id="L" * 36, evses=[evse(evse_id="E" * 48)]))
    credit, notes = parse(
        CDRV230,
        cdr({"before_taxes": -1}, id="C" * 36 + "-CR", credit=True, credit_reference_id="C" * 36),
    )
    assert len(credit.id) == 39
    assert notes == []


def test_a_normal_cdr_id_over_36_characters_is_noted() -> None:
    _, notes = parse(CDRV230, cdr({"before_taxes": 1}, id="C" * 38))
    assert rules(notes) == ["OCPI-37"]


def test_a_credit_cdr_without_its_reference_is_noted() -> None:
    _, notes = parse(CDRV230, cdr({"before_taxes": -1}, id="CDR-100-C", credit=True))
    assert rules(notes) == ["OCPI-37"]
    assert "credit_reference_id" in notes[0].message


def test_a_cistring_refuses_non_ascii() -> None:
    problems = refusal(LocationV230, location(id="LOC-é"))
    assert [(r, p) for r, p, _ in problems] == [("OCPI-10", "/id")]


def test_a_string_refuses_control_characters() -> None:
    problems = refusal(LocationV230, location(city="Utrecht\n"))
    assert [(r, p) for r, p, _ in problems] == [("OCPI-10", "/city")]


def test_coordinates_follow_the_regex() -> None:
    data = location(coordinates={"latitude": "52.08", "longitude": "5.110278"})
    assert [p for _, p, _ in refusal(LocationV230, data)] == ["/coordinates/latitude"]


def test_invalid_closed_enum_value_is_refused_as_ocpi_11() -> None:
    data = location(evses=[evse(status="FREE")])
    assert [(r, p) for r, p, _ in refusal(LocationV230, data)] == [("OCPI-11", "/evses/0/status")]


def test_enum_values_are_case_sensitive() -> None:
    problems = refusal(SessionV230, session(status="active"))
    assert [(r, p) for r, p, _ in problems] == [("OCPI-11", "/status")]


def test_unknown_openenum_value_is_accepted_with_a_warning_note_in_230() -> None:
    obj, notes = parse(LocationV230, location(evses=[evse(capabilities=["SOLAR_CANOPY"])]))
    assert obj.evses[0].capabilities == ["SOLAR_CANOPY"]
    assert rules(notes) == ["OCPI-11b"]
    assert "SOLAR_CANOPY" in notes[0].message


def test_the_same_value_is_an_ocpi_11_note_in_221_where_the_enum_is_closed() -> None:
    obj, notes = parse(LocationV221, location(evses=[evse(capabilities=["SOLAR_CANOPY"])]))
    assert obj.evses[0].capabilities == ["SOLAR_CANOPY"]
    assert rules(notes) == ["OCPI-11"]


def test_values_new_in_230_are_known_in_230_only() -> None:
    data = location(evses=[evse(connectors=[connector(standard="MCS")])])
    assert parse(LocationV230, data)[1] == []
    assert rules(parse(LocationV221, data)[1]) == ["OCPI-11"]
    token = token_230(type="EMAID")
    assert parse(TokenV230, token)[1] == []
    start = {"response_url": "https://ptp.example/cb/1", "location_id": "LOC-7", "token": token}
    assert rules(parse(StartSessionV221, start)[1]) == ["OCPI-11"]
    assert parse(StartSessionV230, start)[1] == []


def test_parking_and_other_230_additions_are_typed() -> None:
    parking = {
        "id": "P1",
        "vehicle_types": ["PERSONAL_VEHICLE"],
        "restricted_to_type": False,
        "reservation_required": False,
    }
    data = location(
        parking_places=[parking],
        help_phone="+31301234567",
        evses=[evse(parking=[{"parking_id": "P1", "evse_position": "LEFT"}])],
    )
    obj, notes = parse(LocationV230, data)
    assert notes == []
    assert obj.parking_places[0].vehicle_types == ["PERSONAL_VEHICLE"]
    bad = copy.deepcopy(data)
    del bad["parking_places"][0]["reservation_required"]
    assert [p for _, p, _ in refusal(LocationV230, bad)] == [
        "/parking_places/0/reservation_required"
    ]


def test_errata_lengths_are_accepted_for_location_address_and_state() -> None:
    obj, notes = parse(LocationV230, location(address="A" * 255, state="S" * 45))
    assert notes == []
    assert len(obj.address) == 255
    assert [p for _, p, _ in refusal(LocationV230, location(address="A" * 256))] == ["/address"]


def test_a_long_address_copied_into_cdr_location_is_accepted_with_a_note() -> None:
    data = {**cdr_location(), "address": "A" * 60}
    obj, notes = parse(CdrLocationV230, data)
    assert len(obj.address) == 60
    assert rules(notes) == ["OCPI-10"]


def test_signed_plain_data_may_be_5000_characters() -> None:
    value = {"nature": "Start", "plain_data": "x" * 5000, "signed_data": "c2lnbmVk"}
    assert len(parse(SignedValue, value)[0].plain_data) == 5000
    assert refusal(SignedValue, {**value, "plain_data": "x" * 5001})


# --- extra fields, serialisation ----------------------------------------------------------------


def test_unknown_fields_are_kept_in_the_dump_at_every_level() -> None:
    data = location(vendor_score=7, evses=[evse(cabinet="B2")])
    obj, notes = parse(LocationV230, data)
    dumped = obj.dump()
    assert notes == []
    assert dumped["vendor_score"] == 7
    assert dumped["evses"][0]["cabinet"] == "B2"


def test_datetimes_serialise_in_utc_with_z() -> None:
    obj, notes = parse(SessionV230, session(start_date_time="2025-03-04T11:00:00+01:00"))
    dumped = obj.dump()
    assert dumped["start_date_time"] == "2025-03-04T10:00:00Z"
    assert dumped["last_updated"] == STAMP
    assert rules(notes) == ["OCPI-08"]
    no_designator, notes = parse(SessionV230, session(last_updated="2025-03-04T10:15:00.250"))
    assert no_designator.dump()["last_updated"] == "2025-03-04T10:15:00.250Z"
    assert notes == []


def test_numbers_are_decimals_and_optional_fields_are_left_out() -> None:
    obj, _ = parse(TariffV230, tariff_230())
    assert obj.elements[0].price_components[0].price == Decimal("0.35")
    dumped = obj.dump()
    assert "min_price" not in dumped
    assert dumped["elements"][0]["price_components"][0]["price"] == 0.35


# --- Price shapes -------------------------------------------------------------------------------

PRICE_221 = {"excl_vat": 10, "incl_vat": 12.1}
PRICE_230 = {"before_taxes": 10, "taxes": [{"name": "VAT", "percentage": 21, "amount": 2.1}]}


@pytest.mark.parametrize(
    ("model", "data", "pointer"),
    [
        (SessionV230, session(total_cost=PRICE_221), "/total_cost"),
        (CDRV230, cdr(PRICE_221), "/total_cost"),
        (CDRV230, cdr(PRICE_230, total_energy_cost=PRICE_221), "/total_energy_cost"),
        (TariffV230, tariff_230(max_price={"excl_vat": 20}), "/max_price"),
        (SessionV221, session(total_cost=PRICE_230), "/total_cost"),
        (CDRV221, cdr(PRICE_230), "/total_cost"),
        (TariffV221, {**tariff_230(max_price={"before_taxes": 20})}, "/max_price"),
    ],
)
def test_the_other_versions_price_shape_is_refused_as_ocpi_40(
    model: type[BaseModel], data: dict[str, Any], pointer: str
) -> None:
    problems = refusal(model, data)
    assert [(r, p) for r, p, _ in problems] == [("OCPI-40", pointer)]
    assert "shape" in problems[0][2]


def test_each_version_accepts_its_own_price_shape() -> None:
    assert parse(CDRV230, cdr(PRICE_230))[0].total_cost.taxes[0].amount == Decimal("2.1")
    assert parse(CDRV221, cdr(PRICE_221))[0].total_cost.incl_vat == Decimal("12.1")
    limits = {"max_price": {"before_taxes": 40, "after_taxes": 48.4}, "preauthorize_amount": 50}
    obj, notes = parse(TariffV230, tariff_230(**limits))
    assert obj.max_price.after_taxes == Decimal("48.4")
    assert obj.preauthorize_amount == Decimal(50)
    assert notes == []


def test_a_price_with_both_shapes_is_accepted_with_a_note() -> None:
    obj, notes = parse(PriceV230, {"before_taxes": 10, "excl_vat": 10})
    assert obj.before_taxes == Decimal(10)
    assert rules(notes) == ["OCPI-40"]


def test_tariff_230_requires_tax_included_from_a_closed_list() -> None:
    data = tariff_230()
    del data["tax_included"]
    assert [(r, p) for r, p, _ in refusal(TariffV230, data)] == [("OCPI-30", "/tax_included")]
    bad = refusal(TariffV230, tariff_230(tax_included="SOMETIMES"))
    assert [(r, p) for r, p, _ in bad] == [("OCPI-11", "/tax_included")]
    assert parse(TariffV230, tariff_230(tax_included="N/A"))[0].tax_included == "N/A"


def test_fac_accepts_both_price_shapes_and_notes_the_221_one() -> None:
    current, notes = parse(FinancialAdviceConfirmation, fac(PRICE_230))
    assert isinstance(current.total_costs, PriceV230)
    assert notes == []
    older, notes = parse(FinancialAdviceConfirmation, fac(PRICE_221))
    assert isinstance(older.total_costs, PriceV221)
    assert older.dump()["total_costs"] == PRICE_221
    assert rules(notes) == ["OCPI-40"]


def test_fac_on_2_2_1_takes_its_own_price_and_notes_the_230_one() -> None:
    fac_221 = model_for("2.2.1", "FinancialAdviceConfirmation")
    own, notes = parse(fac_221, fac(PRICE_221))
    assert isinstance(own.total_costs, PriceV221) and notes == []
    other, notes = parse(fac_221, fac(PRICE_230))
    assert isinstance(other.total_costs, PriceV230)
    assert rules(notes) == ["OCPI-40"] and "2.3.0 Price shape" in notes[0].message
    assert model_for("2.2.1", "Terminal") is model_for("2.3.0", "Terminal")


def test_fac_refuses_a_price_of_neither_shape() -> None:
    problems = refusal(FinancialAdviceConfirmation, fac({"amount": 10}))
    assert [r for r, _, _ in problems] == ["OCPI-30"]
    assert problems[0][1].startswith("/total_costs")


def test_fac_eft_data_needs_ascii_lines() -> None:
    assert [p for _, p, _ in refusal(FinancialAdviceConfirmation, fac(PRICE_230, eft_data=[]))] == [
        "/eft_data"
    ]
    problems = refusal(FinancialAdviceConfirmation, fac(PRICE_230, eft_data=["EUR 10,00", "€"]))
    assert [p for _, p, _ in problems] == ["/eft_data/1"]


# --- payments -----------------------------------------------------------------------------------


def test_a_terminal_needs_its_id_but_not_last_updated() -> None:
    minimal, notes = parse(Terminal, {"terminal_id": "T-0001"})
    assert minimal.last_updated is None
    assert notes == []
    assert [(r, p) for r, p, _ in refusal(Terminal, {"reference": "SN-1"})] == [
        ("OCPI-30", "/terminal_id")
    ]


def test_the_activation_request_has_no_terminal_id() -> None:
    obj, _ = parse(TerminalActivation, {"reference": "SN-778899", "country_code": "NL"})
    assert obj.terminal_id is None
    assert obj.reference == "SN-778899"
    assert "terminal_id" not in obj.dump()


def test_terminal_assignment_fields_are_typed() -> None:
    data = {
        "terminal_id": "T-0001",
        "location_ids": ["LOC-7"],
        "evse_uids": ["EVSE-0042"],
        "invoice_creator": "CPO",
        "invoice_base_url": "https://cpo.example/invoices/",
        "last_updated": STAMP,
    }
    assert parse(Terminal, data)[0].invoice_creator == "CPO"
    bad = refusal(Terminal, {**data, "invoice_creator": "EMSP", "evse_uids": ["E" * 37]})
    assert sorted(p for _, p, _ in bad) == ["/evse_uids/0", "/invoice_creator"]


# --- commands and tokens ------------------------------------------------------------------------


def test_command_response_needs_a_timeout_and_a_known_result() -> None:
    assert parse(CommandResponse, {"result": "ACCEPTED", "timeout": 30})[0].timeout == 30
    assert [p for _, p, _ in refusal(CommandResponse, {"result": "ACCEPTED"})] == ["/timeout"]
    # TIMEOUT moved from the response to the result in 2.2.
    assert refusal(CommandResponse, {"result": "TIMEOUT", "timeout": 30})
    assert parse(CommandResult, {"result": "TIMEOUT"})[0].result == "TIMEOUT"
    assert parse(CommandResponseV211, {"result": "TIMEOUT"})[0].result == "TIMEOUT"


def test_start_session_carries_a_full_token() -> None:
    start = {
        "response_url": "https://ptp.example/commands/START_SESSION/42",
        "token": token_230(),
        "location_id": "LOC-7",
        "evse_uid": "EVSE-0042",
        "connector_id": "1",
        "authorization_reference": "AUTH-9",
    }
    assert parse(StartSessionV230, start)[0].token.whitelist == "NEVER"
    partial_token = {**start, "token": {"uid": "TX-0001", "type": "AD_HOC_USER"}}
    missing = sorted(p for r, p, _ in refusal(StartSessionV230, partial_token))
    assert "/token/contract_id" in missing
    assert "/token/issuer" in missing


def test_211_shapes() -> None:
    loc = {k: v for k, v in location().items() if k not in ("country_code", "party_id", "publish")}
    loc["type"] = "ON_STREET"
    loc["evses"] = [
        evse(
            connectors=[
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "CABLE",
                    "power_type": "AC_3_PHASE",
                    "voltage": 230,
                    "amperage": 16,
                    "tariff_id": "T1",
                    "last_updated": STAMP,
                }
            ]
        )
    ]
    obj, notes = parse(LocationV211, loc)
    assert obj.evses[0].connectors[0].voltage == 230
    assert rules(notes) == ["OCPI-11"]  # CONTACTLESS_CARD_SUPPORT came with 2.2
    reserve = {
        "response_url": "https://ptp.example/cb",
        "token": {
            "uid": "04A1B2C3",
            "type": "RFID",
            "auth_id": "NL-PTR-000001",
            "issuer": "Payter",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": STAMP,
        },
        "expiry_date": "2025-03-04T12:00:00Z",
        "reservation_id": 17,
        "location_id": "LOC-7",
    }
    assert parse(ReserveNowV211, reserve)[0].reservation_id == 17


# --- PATCH --------------------------------------------------------------------------------------


def test_patch_variant_accepts_any_subset_of_fields() -> None:
    patch = validate_patch(LocationV230, {"last_updated": STAMP, "name": "Stationsplein"})
    assert patch.model_fields_set == {"last_updated", "name"}
    assert patch.dump() == {"last_updated": STAMP, "name": "Stationsplein"}
    status = validate_patch(EVSEV230, {"status": "CHARGING", "last_updated": STAMP})
    assert status.model_fields_set == {"status", "last_updated"}


def test_patch_variant_keeps_types_lengths_and_enums() -> None:
    for body, pointer in (
        ({"status": "BUSY"}, "/status"),
        ({"evse_id": "E" * 49}, "/evse_id"),
        ({"last_updated": "yesterday"}, "/last_updated"),
    ):
        with pytest.raises(ValidationError) as caught:
            validate_patch(EVSEV230, body)
        assert [p for _, p, _ in validation_findings(caught.value)] == [pointer]


def test_patch_variant_validates_nested_objects_in_full() -> None:
    incomplete = evse()
    del incomplete["status"]
    with pytest.raises(ValidationError) as caught:
        validate_patch(LocationV230, {"evses": [incomplete], "last_updated": STAMP})
    assert [p for _, p, _ in validation_findings(caught.value)] == ["/evses/0/status"]


def test_patch_cannot_null_a_required_field_but_may_null_an_optional_one() -> None:
    with pytest.raises(ValidationError):
        validate_patch(LocationV230, {"address": None})
    assert validate_patch(LocationV230, {"name": None}).model_fields_set == {"name"}


def test_patch_variant_keeps_unknown_fields_and_price_shapes() -> None:
    patch = validate_patch(SessionV230, {"kwh": 4.2, "vendor": "x"})
    assert patch.dump() == {"kwh": 4.2, "vendor": "x"}
    with pytest.raises(ValidationError) as caught:
        validate_patch(SessionV230, {"total_cost": PRICE_221})
    assert validation_findings(caught.value)[0][0] == "OCPI-40"


def test_partial_model_is_cached_and_named() -> None:
    assert partial_model(TariffV230) is partial_model(TariffV230)
    assert partial_model(TariffV230).__name__ == "TariffV230Patch"


# --- registry -----------------------------------------------------------------------------------

NAMES = (
    "Location",
    "EVSE",
    "Connector",
    "Session",
    "CDR",
    "Tariff",
    "Token",
    "AuthorizationInfo",
    "CommandResponse",
    "CommandResult",
    "StartSession",
    "StopSession",
    "ReserveNow",
    "CancelReservation",
    "UnlockConnector",
    "Terminal",
    "TerminalActivation",
    "FinancialAdviceConfirmation",
    "Price",
    "ChargingPeriod",
    "CdrToken",
)


def test_registry_knows_every_230_object() -> None:
    for name in NAMES:
        assert issubclass(model_for("2.3.0", name), BaseModel)
    assert model_for("2.3.0", "Price") is PriceV230
    assert model_for("2.2.1", "Price") is PriceV221
    assert model_for("2.3.0", "Location") is LocationV230
    assert model_for("2.2.1", "Session") is SessionV221
    assert model_for("2.1.1", "Location") is LocationV211


@pytest.mark.parametrize(
    ("version", "name"),
    [
        ("2.1.1", "Terminal"),
        ("2.1.1", "FinancialAdviceConfirmation"),
        ("2.1.1", "CancelReservation"),
        ("2.1.1", "CdrToken"),
        ("2.1.1", "Price"),
        ("2.3", "Location"),
        ("2.3.0", "Booking"),
    ],
)
def test_registry_refuses_unknown_combinations(version: str, name: str) -> None:
    with pytest.raises(KeyError):
        model_for(version, name)


def test_registry_models_of_221_have_no_230_fields() -> None:
    assert set(model_for("2.3.0", "Tariff").model_fields) - set(
        model_for("2.2.1", "Tariff").model_fields
    ) == {"tax_included", "preauthorize_amount"}
    assert "parking_places" not in model_for("2.2.1", "Location").model_fields
