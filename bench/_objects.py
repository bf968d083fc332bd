"""OCPI 2.2.1 objects the HTTP benchmarks send (the same bodies go to the baseline)."""

from __future__ import annotations

import json
from typing import Any

STAMP = "2025-03-01T08:00:00Z"
CC, PID = "NL", "CPO"


def connector(cid: str, tariff: str = "AD-HOC-1") -> dict[str, Any]:
    return {
        "id": cid,
        "standard": "IEC_62196_T2_COMBO",
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 400,
        "max_amperage": 125,
        "max_electric_power": 50000,
        "tariff_ids": [tariff],
        "last_updated": STAMP,
    }


def evse(uid: str, status: str = "AVAILABLE") -> dict[str, Any]:
    return {
        "uid": uid,
        "evse_id": f"NL*CPO*E{uid}",
        "status": status,
        "capabilities": [
            "REMOTE_START_STOP_CAPABLE",
            "CONTACTLESS_CARD_SUPPORT",
            "CREDIT_CARD_PAYABLE",
        ],
        "physical_reference": uid[-2:],
        "connectors": [connector("1"), connector("2")],
        "last_updated": STAMP,
    }


def location(lid: str, evses: int = 10) -> dict[str, Any]:
    return {
        "country_code": CC,
        "party_id": PID,
        "id": lid,
        "publish": True,
        "name": "Harbour car park",
        "address": "Kade 1",
        "city": "Rotterdam",
        "postal_code": "3011AA",
        "country": "NLD",
        "coordinates": {"latitude": "51.91000", "longitude": "4.48000"},
        "evses": [evse(f"EVSE{i}") for i in range(1, evses + 1)],
        "time_zone": "Europe/Amsterdam",
        "last_updated": STAMP,
    }


def tariff(tid: str = "AD-HOC-1") -> dict[str, Any]:
    return {
        "country_code": CC,
        "party_id": PID,
        "id": tid,
        "currency": "EUR",
        "type": "AD_HOC_PAYMENT",
        "tariff_alt_text": [{"language": "en", "text": "0.45 EUR per kWh"}],
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.45, "vat": 21.0, "step_size": 1}]}
        ],
        "max_price": {"excl_vat": 80, "incl_vat": 96.8},
        "last_updated": STAMP,
    }


def cdr(cid: str, kwh: float = 10.0) -> dict[str, Any]:
    excl = round(kwh * 0.45, 2)
    incl = round(excl * 1.21, 2)
    return {
        "country_code": CC,
        "party_id": PID,
        "id": cid,
        "start_date_time": "2025-03-01T09:00:00Z",
        "end_date_time": "2025-03-01T10:00:00Z",
        "cdr_token": {
            "country_code": "NL",
            "party_id": "PAY",
            "uid": "TOKEN1",
            "type": "AD_HOC_USER",
            "contract_id": "TOKEN1",
        },
        "auth_method": "COMMAND",
        "cdr_location": {
            "id": "LOC1",
            "address": "Kade 1",
            "city": "Rotterdam",
            "country": "NLD",
            "coordinates": {"latitude": "51.91000", "longitude": "4.48000"},
            "evse_uid": "EVSE1",
            "evse_id": "NL*CPO*EEVSE1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2_COMBO",
            "connector_format": "CABLE",
            "connector_power_type": "DC",
        },
        "currency": "EUR",
        "tariffs": [tariff()],
        "charging_periods": [
            {
                "start_date_time": "2025-03-01T09:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": kwh}, {"type": "TIME", "volume": 1}],
                "tariff_id": "AD-HOC-1",
            }
        ],
        "total_cost": {"excl_vat": excl, "incl_vat": incl},
        "total_energy": kwh,
        "total_energy_cost": {"excl_vat": excl, "incl_vat": incl},
        "total_time": 1,
        "last_updated": "2025-03-01T10:00:05Z",
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
