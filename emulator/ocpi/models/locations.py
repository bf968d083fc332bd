"""Locations module objects (mod_locations.asciidoc; 2.1.1: mod_locations.md).

Per version: ``V211``, ``V221``, ``V230``. The 2.3.0 additions are Parking, EVSEParking,
``Location.parking_places``/``help_phone``, ``EVSE.parking``/``accepted_service_providers`` and
``Connector.capabilities``; several enums became OpenEnums. The errata of 2.2.1-bugfixes and
2.3.0 ed2 (address up to 255 characters, state up to 45) are applied to every version: the
longer values are legal under the errata and are accepted without a note.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from emulator.ocpi.models.base import Lenient, OcpiModel, Open
from emulator.ocpi.models.common import (
    BusinessDetails,
    BusinessDetailsV221,
    CountryCode,
    DisplayText,
    GeoLocation,
    HourMinute,
    Id36,
    Image,
    ImageV221,
    PartyId,
)
from emulator.ocpi.models.tokens import TokenTypeV221, TokenTypeV230
from emulator.ocpi.types import URL, Ci, DateTime, Number, Str, note

# --- enums ------------------------------------------------------------------------------------

Status = Literal[
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
]
ConnectorFormat = Literal["SOCKET", "CABLE"]
PowerType = Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
PowerTypeV211 = Literal["AC_1_PHASE", "AC_3_PHASE", "DC"]
EnergySourceCategory = Literal[
    "NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"
]
ParkingDirection = Literal["PARALLEL", "PERPENDICULAR", "ANGLE"]
EVSEPosition = Literal["LEFT", "RIGHT", "CENTER"]
LocationTypeV211 = Literal[
    "ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"
]

CAPABILITIES_V211 = (
    "CHARGING_PROFILE_CAPABLE",
    "CREDIT_CARD_PAYABLE",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "UNLOCK_CAPABLE",
)
CAPABILITIES = (
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "START_SESSION_CONNECTOR_REQUIRED",
    "TOKEN_GROUP_CAPABLE",
    "UNLOCK_CAPABLE",
)
CARD_PAYMENT_CAPABILITIES = (
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
)
"""The capabilities that together signal ad-hoc card payment at the EVSE (mod_locations)."""

_IEC = (
    "IEC_60309_2_single_16",
    "IEC_60309_2_three_16",
    "IEC_60309_2_three_32",
    "IEC_60309_2_three_64",
    "IEC_62196_T1",
    "IEC_62196_T1_COMBO",
    "IEC_62196_T2",
    "IEC_62196_T2_COMBO",
    "IEC_62196_T3A",
    "IEC_62196_T3C",
)
CONNECTOR_TYPES_V211 = (
    "CHADEMO",
    *(f"DOMESTIC_{c}" for c in "ABCDEFGHIJKL"),
    *_IEC,
    "TESLA_R",
    "TESLA_S",
)
CONNECTOR_TYPES_V221 = (
    "CHADEMO",
    "CHAOJI",
    *(f"DOMESTIC_{c}" for c in "ABCDEFGHIJKLMNO"),
    "GBT_AC",
    "GBT_DC",
    *_IEC,
    "NEMA_5_20",
    "NEMA_6_30",
    "NEMA_6_50",
    "NEMA_10_30",
    "NEMA_10_50",
    "NEMA_14_30",
    "NEMA_14_50",
    "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN",
    "TESLA_R",
    "TESLA_S",
)
CONNECTOR_TYPES_V230 = (*CONNECTOR_TYPES_V221, "MCS", "SAE_J3400")
FACILITIES_V211 = (
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAIN_STATION",
    "AIRPORT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
)
FACILITIES = (
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BIKE_SHARING",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAM_STOP",
    "METRO_STATION",
    "TRAIN_STATION",
    "AIRPORT",
    "PARKING_LOT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
)
PARKING_RESTRICTIONS_V221 = ("EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES")
PARKING_RESTRICTIONS_V230 = (*PARKING_RESTRICTIONS_V221, "EMPLOYEES", "TAXIS", "TENANTS")
PARKING_TYPES = (
    "ALONG_MOTORWAY",
    "PARKING_GARAGE",
    "PARKING_LOT",
    "ON_DRIVEWAY",
    "ON_STREET",
    "UNDERGROUND_GARAGE",
)
ENVIRONMENTAL_IMPACT_CATEGORIES = ("NUCLEAR_WASTE", "CARBON_DIOXIDE")
VEHICLE_TYPES = (
    "MOTORCYCLE",
    "PERSONAL_VEHICLE",
    "PERSONAL_VEHICLE_WITH_TRAILER",
    "VAN",
    "SEMI_TRACTOR",
    "RIGID",
    "TRUCK_WITH_TRAILER",
    "BUS",
    "DISABLED",
)
CONNECTOR_CAPABILITIES = ("ISO_15118_2_PLUG_AND_CHARGE", "ISO_15118_20_PLUG_AND_CHARGE")

CapabilityV211 = Annotated[str, Lenient("Capability", *CAPABILITIES_V211)]
CapabilityV221 = Annotated[str, Lenient("Capability", *CAPABILITIES)]
CapabilityV230 = Annotated[str, Open("Capability", *CAPABILITIES)]
ConnectorTypeV211 = Annotated[str, Lenient("ConnectorType", *CONNECTOR_TYPES_V211)]
ConnectorTypeV221 = Annotated[str, Lenient("ConnectorType", *CONNECTOR_TYPES_V221)]
ConnectorTypeV230 = Annotated[str, Open("ConnectorType", *CONNECTOR_TYPES_V230)]
FacilityV211 = Annotated[str, Lenient("Facility", *FACILITIES_V211)]
FacilityV221 = Annotated[str, Lenient("Facility", *FACILITIES)]
FacilityV230 = Annotated[str, Open("Facility", *FACILITIES)]
ParkingRestrictionV211 = Annotated[str, Lenient("ParkingRestriction", *PARKING_RESTRICTIONS_V221)]
ParkingRestrictionV221 = Annotated[str, Lenient("ParkingRestriction", *PARKING_RESTRICTIONS_V221)]
ParkingRestrictionV230 = Annotated[str, Open("ParkingRestriction", *PARKING_RESTRICTIONS_V230)]
ParkingTypeV221 = Annotated[str, Lenient("ParkingType", *PARKING_TYPES)]
ParkingTypeV230 = Annotated[str, Open("ParkingType", *PARKING_TYPES)]
EnvironmentalImpactCategoryV221 = Annotated[
    str, Lenient("EnvironmentalImpactCategory", *ENVIRONMENTAL_IMPACT_CATEGORIES)
]
EnvironmentalImpactCategoryV230 = Annotated[
    str, Open("EnvironmentalImpactCategory", *ENVIRONMENTAL_IMPACT_CATEGORIES)
]
VehicleType = Annotated[str, Open("VehicleType", *VEHICLE_TYPES)]
ConnectorCapability = Annotated[str, Open("ConnectorCapability", *CONNECTOR_CAPABILITIES)]

# Location.address and Location.state as raised by the errata (45 → 255, 20 → 45).
Address = Annotated[str, Str(255)]
State = Annotated[str, Str(45)]

# --- small classes ----------------------------------------------------------------------------


class AdditionalGeoLocation(GeoLocation):
    name: DisplayText | None = None


class RegularHours(OcpiModel):
    weekday: Annotated[int, Field(ge=1, le=7)]
    period_begin: HourMinute
    period_end: HourMinute


class ExceptionalPeriod(OcpiModel):
    period_begin: DateTime
    period_end: DateTime


class Hours(OcpiModel):
    """Opening times. ``regular_hours`` should hold an entry when not twenty-four-seven."""

    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @model_validator(mode="after")
    def _regular_hours_when_not_247(self) -> Hours:
        if self.twentyfourseven is False and not self.regular_hours:
            note("OCPI-30", "Hours: twentyfourseven is false but regular_hours is empty")
        return self


class HoursV211(OcpiModel):
    """2.1.1 Hours: a choice of ``regular_hours`` or ``twentyfourseven``."""

    regular_hours: list[RegularHours] | None = None
    twentyfourseven: bool | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None


class StatusSchedule(OcpiModel):
    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


class EnergySource(OcpiModel):
    source: EnergySourceCategory
    percentage: Number


class EnvironmentalImpactV221(OcpiModel):
    category: EnvironmentalImpactCategoryV221
    amount: Number


class EnvironmentalImpactV230(OcpiModel):
    category: EnvironmentalImpactCategoryV230
    amount: Number


class EnvironmentalImpactV211(OcpiModel):
    """2.1.1 names the category field ``source``."""

    source: EnvironmentalImpactCategoryV221
    amount: Number


class _EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    supplier_name: Annotated[str, Str(64)] | None = None
    energy_product_name: Annotated[str, Str(64)] | None = None


class EnergyMixV211(_EnergyMix):
    environ_impact: list[EnvironmentalImpactV211] | None = None


class EnergyMixV221(_EnergyMix):
    environ_impact: list[EnvironmentalImpactV221] | None = None


class EnergyMixV230(_EnergyMix):
    environ_impact: list[EnvironmentalImpactV230] | None = None


class _PublishTokenType(OcpiModel):
    uid: Id36 | None = None
    visual_number: Annotated[str, Str(64)] | None = None
    issuer: Annotated[str, Str(64)] | None = None
    group_id: Id36 | None = None

    @model_validator(mode="after")
    def _identifying_fields(self) -> Any:
        # mod_locations §PublishTokenType: uid, visual_number or group_id; uid needs type;
        # visual_number needs issuer.
        if not (self.uid or self.visual_number or self.group_id):
            note("OCPI-30", "PublishTokenType: set at least one of uid, visual_number, group_id")
        if self.uid and not getattr(self, "type", None):
            note("OCPI-30", "PublishTokenType: uid is set without type")
        if self.visual_number and not self.issuer:
            note("OCPI-30", "PublishTokenType: visual_number is set without issuer")
        return self


class PublishTokenTypeV221(_PublishTokenType):
    type: TokenTypeV221 | None = None


class PublishTokenTypeV230(_PublishTokenType):
    type: TokenTypeV230 | None = None


class Parking(OcpiModel):
    """A parking place of a Location (new in 2.3.0, for AFIR)."""

    id: Id36
    physical_reference: Annotated[str, Str(12)] | None = None
    vehicle_types: Annotated[list[VehicleType], Field(min_length=1)]
    max_vehicle_weight: Number | None = None
    max_vehicle_height: Number | None = None
    max_vehicle_length: Number | None = None
    max_vehicle_width: Number | None = None
    parking_space_length: Number | None = None
    parking_space_width: Number | None = None
    dangerous_goods_allowed: bool | None = None
    direction: ParkingDirection | None = None
    drive_through: bool | None = None
    restricted_to_type: bool
    reservation_required: bool
    time_limit: Number | None = None
    roofed: bool | None = None
    images: list[Image] | None = None
    lighting: bool | None = None
    refrigeration_outlet: bool | None = None
    standards: list[Annotated[str, Ci(36)]] | None = None
    apds_reference: Annotated[str, Ci()] | None = None


class EVSEParking(OcpiModel):
    parking_id: Id36
    evse_position: EVSEPosition | None = None


# --- Connector --------------------------------------------------------------------------------


class _Connector(OcpiModel):
    id: Id36
    format: ConnectorFormat
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    tariff_ids: list[Id36] | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class ConnectorV221(_Connector):
    standard: ConnectorTypeV221
    power_type: PowerType


class ConnectorV230(_Connector):
    standard: ConnectorTypeV230
    power_type: PowerType
    capabilities: list[ConnectorCapability] | None = None


class ConnectorV211(OcpiModel):
    id: Annotated[str, Str(36)]
    standard: ConnectorTypeV211
    format: ConnectorFormat
    power_type: PowerTypeV211
    voltage: int
    amperage: int
    tariff_id: Annotated[str, Str(36)] | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


# --- EVSE -------------------------------------------------------------------------------------


class _EVSE(OcpiModel):
    uid: Id36
    evse_id: Annotated[str, Ci(48)] | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    floor_level: Annotated[str, Str(4)] | None = None
    coordinates: GeoLocation | None = None
    physical_reference: Annotated[str, Str(16)] | None = None
    directions: list[DisplayText] | None = None
    last_updated: DateTime


class EVSEV221(_EVSE):
    capabilities: list[CapabilityV221] | None = None
    connectors: Annotated[list[ConnectorV221], Field(min_length=1)]
    parking_restrictions: list[ParkingRestrictionV221] | None = None
    images: list[ImageV221] | None = None


class EVSEV230(_EVSE):
    capabilities: list[CapabilityV230] | None = None
    connectors: Annotated[list[ConnectorV230], Field(min_length=1)]
    parking_restrictions: list[ParkingRestrictionV230] | None = None
    parking: list[EVSEParking] | None = None
    images: list[Image] | None = None
    accepted_service_providers: list[Annotated[str, Str(50)]] | None = None


class EVSEV211(OcpiModel):
    uid: Annotated[str, Str(39)]
    evse_id: Annotated[str, Str(48)] | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[CapabilityV211] | None = None
    connectors: Annotated[list[ConnectorV211], Field(min_length=1)]
    floor_level: Annotated[str, Str(4)] | None = None
    coordinates: GeoLocation | None = None
    physical_reference: Annotated[str, Str(16)] | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestrictionV211] | None = None
    images: list[ImageV221] | None = None
    last_updated: DateTime


# --- Location ---------------------------------------------------------------------------------


class _Location(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    id: Id36
    publish: bool
    name: Annotated[str, Str(255)] | None = None
    address: Address
    city: Annotated[str, Str(45)]
    postal_code: Annotated[str, Str(10)] | None = None
    state: State | None = None
    country: Annotated[str, Str(3)]
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    directions: list[DisplayText] | None = None
    time_zone: Annotated[str, Str(255)]
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    last_updated: DateTime


class LocationV221(_Location):
    publish_allowed_to: list[PublishTokenTypeV221] | None = None
    parking_type: ParkingTypeV221 | None = None
    evses: list[EVSEV221] | None = None
    operator: BusinessDetailsV221 | None = None
    suboperator: BusinessDetailsV221 | None = None
    owner: BusinessDetailsV221 | None = None
    facilities: list[FacilityV221] | None = None
    images: list[ImageV221] | None = None
    energy_mix: EnergyMixV221 | None = None


class LocationV230(_Location):
    publish_allowed_to: list[PublishTokenTypeV230] | None = None
    parking_type: ParkingTypeV230 | None = None
    evses: list[EVSEV230] | None = None
    parking_places: list[Parking] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[FacilityV230] | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMixV230 | None = None
    help_phone: Annotated[str, Ci(25)] | None = None


class LocationV211(OcpiModel):
    """2.1.1 Location: ``type`` instead of ``parking_type``; no owner ids or ``publish``."""

    id: Annotated[str, Str(39)]
    type: LocationTypeV211
    name: Annotated[str, Str(255)] | None = None
    address: Address
    city: Annotated[str, Str(45)]
    postal_code: Annotated[str, Str(10)]
    country: Annotated[str, Str(3)]
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    evses: list[EVSEV211] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetailsV221 | None = None
    suboperator: BusinessDetailsV221 | None = None
    owner: BusinessDetailsV221 | None = None
    facilities: list[FacilityV211] | None = None
    time_zone: Annotated[str, Str(255)] | None = None
    opening_times: HoursV211 | None = None
    charging_when_closed: bool | None = None
    images: list[ImageV221] | None = None
    energy_mix: EnergyMixV211 | None = None
    last_updated: DateTime
