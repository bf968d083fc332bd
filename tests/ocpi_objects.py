"""Builders of valid OCPI objects for tests, written for this project from the field tables.

Every builder returns a fresh dict; keyword arguments override fields. ``version`` selects
the 2.2.1 or 2.3.0 shape where they differ (Price, Tariff).
"""

from __future__ import annotations

from typing import Any

STAMP = "2025-03-01T08:00:00Z"


def connector(
    cid: str = "1", tariff_ids: tuple[str, ...] = ("AD-HOC-1",), **kw: Any
) -> dict[str, Any]:
    obj = {
        "id": cid,
        "standard": "IEC_62196_T2_COMBO",
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 400,
        "max_amperage": 125,
        "max_electric_power": 50000,
        "tariff_ids": list(tariff_ids),
        "last_updated": STAMP,
    }
    obj.update(kw)
    return obj


def evse(uid: str = "EVSE-1", status: str = "AVAILABLE", **kw: Any) -> dict[str, Any]:
    obj = {
        "uid": uid,
        "evse_id": f"NL*CPO*E{uid[-1]}",
        "status": status,
        "capabilities": [
            "REMOTE_START_STOP_CAPABLE",
            "CONTACTLESS_CARD_SUPPORT",
            "CREDIT_CARD_PAYABLE",
        ],
        "connectors": [connector()],
        "last_updated": STAMP,
    }
    obj.update(kw)
    return obj


def location(lid: str = "LOC-1", *, cc: str = "NL", pid: str = "CPO", **kw: Any) -> dict[str, Any]:
    obj = {
        "country_code": cc,
        "party_id": pid,
        "id": lid,
        "publish": True,
        "name": "Harbour car park",
        "address": "Kade 1",
        "city": "Rotterdam",
        "postal_code": "3011AA",
        "country": "NLD",
        "coordinates": {"latitude": "51.91000", "longitude": "4.48000"},
        "evses": [evse("EVSE-1"), evse("EVSE-2")],
        "time_zone": "Europe/Amsterdam",
        "last_updated": STAMP,
    }
    obj.update(kw)
    return obj


def tariff(
    tid: str = "AD-HOC-1", *, version: str = "2.3.0", cc: str = "NL", pid: str = "CPO", **kw: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "country_code": cc,
        "party_id": pid,
        "id": tid,
        "currency": "EUR",
        "type": "AD_HOC_PAYMENT",
        "tariff_alt_text": [
            {"language": "en", "text": "0.45 EUR per kWh"},
            {"language": "nl", "text": "0,45 EUR per kWh"},
        ],
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.45, "vat": 21.0, "step_size": 1}]}
        ],
        "last_updated": STAMP,
    }
    if version == "2.3.0":
        obj["tax_included"] = "NO"
        obj["preauthorize_amount"] = 50
        obj["max_price"] = {"before_taxes": 80, "after_taxes": 96.8}
    else:
        obj["max_price"] = {"excl_vat": 80, "incl_vat": 96.8}
    obj.update(kw)
    return obj


def price(excl: float, incl: float, version: str = "2.3.0") -> dict[str, Any]:
    if version == "2.3.0":
        return {
            "before_taxes": excl,
            "taxes": [{"name": "VAT", "percentage": 21, "amount": round(incl - excl, 2)}],
        }
    return {"excl_vat": excl, "incl_vat": incl}


def cdr_token(uid: str = "TOKEN1", cc: str = "NL", pid: str = "PAY") -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "uid": uid,
        "type": "AD_HOC_USER",
        "contract_id": uid,
    }


def session(
    sid: str = "S1",
    *,
    version: str = "2.3.0",
    status: str = "ACTIVE",
    kwh: float = 0,
    token: dict[str, Any] | None = None,
    ref: str | None = "REF1",
    **kw: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "CPO",
        "id": sid,
        "start_date_time": "2025-03-01T09:00:00Z",
        "kwh": kwh,
        "cdr_token": token or cdr_token(),
        "auth_method": "COMMAND",
        "location_id": "LOC-1",
        "evse_uid": "EVSE-1",
        "connector_id": "1",
        "currency": "EUR",
        "status": status,
        "last_updated": "2025-03-01T09:00:00Z",
    }
    if ref is not None:
        obj["authorization_reference"] = ref
    obj.update(kw)
    return obj


def cdr(
    cid: str = "CDR1",
    *,
    version: str = "2.3.0",
    kwh: float = 10.0,
    token: dict[str, Any] | None = None,
    ref: str | None = "REF1",
    session_id: str | None = "S1",
    **kw: Any,
) -> dict[str, Any]:
    excl = round(kwh * 0.45, 2)
    incl = round(excl * 1.21, 2)
    obj: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "CPO",
        "id": cid,
        "start_date_time": "2025-03-01T09:00:00Z",
        "end_date_time": "2025-03-01T10:00:00Z",
        "cdr_token": token or cdr_token(),
        "auth_method": "COMMAND",
        "cdr_location": {
            "id": "LOC-1",
            "address": "Kade 1",
            "city": "Rotterdam",
            "country": "NLD",
            "coordinates": {"latitude": "51.91000", "longitude": "4.48000"},
            "evse_uid": "EVSE-1",
            "evse_id": "NL*CPO*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2_COMBO",
            "connector_format": "CABLE",
            "connector_power_type": "DC",
        },
        "currency": "EUR",
        "tariffs": [tariff(version=version)],
        "charging_periods": [
            {
                "start_date_time": "2025-03-01T09:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": kwh}, {"type": "TIME", "volume": 1}],
                "tariff_id": "AD-HOC-1",
            }
        ],
        "total_cost": price(excl, incl, version),
        "total_energy": kwh,
        "total_energy_cost": price(excl, incl, version),
        "total_time": 1,
        "last_updated": "2025-03-01T10:00:05Z",
    }
    if session_id is not None:
        obj["session_id"] = session_id
    if ref is not None:
        obj["authorization_reference"] = ref
    obj.update(kw)
    return obj
