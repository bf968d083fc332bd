"""The simulated CPO's Tokens and Payments Receivers (mod_tokens, mod_payments; checklist 5.6
#50 and 5.7)."""

from __future__ import annotations

from helpers import clock_of
from ptp_double import PtpDouble

from emulator.cpo_sim.node import CpoSimNode

RFID = {
    "country_code": "NL",
    "party_id": "PAY",
    "uid": "04A1B2C3D4",
    "type": "RFID",
    "contract_id": "NL-PAY-C12345678-X",
    "issuer": "Payter",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2025-03-01T08:00:00Z",
}


async def test_token_put_get_patch(sim: CpoSimNode, ptp: PtpDouble) -> None:
    path = "NL/PAY/04A1B2C3D4"
    status, _, env = await ptp.call("GET", "tokens", path)
    assert status == 404 and env["status_code"] == 2004
    status, _, env = await ptp.call("PUT", "tokens", path, json_body=RFID)
    assert status == 201 and env["status_code"] == 1000 and "data" not in env
    # Without ?type= the token is an RFID (mod_tokens).
    status, _, env = await ptp.call("GET", "tokens", path)
    assert status == 200 and env["data"] == RFID
    status, _, env = await ptp.call("GET", "tokens", "nl/pay/04a1b2c3d4", params={"type": "RFID"})
    assert env["data"]["uid"] == "04A1B2C3D4"
    status, _, env = await ptp.call("PUT", "tokens", path, json_body=RFID)
    assert status == 200
    # PATCH needs last_updated (checklist 5.4 #31 applies to tokens too).
    status, _, env = await ptp.call("PATCH", "tokens", path, json_body={"valid": False})
    assert env["status_code"] == 2001
    status, _, env = await ptp.call(
        "PATCH", "tokens", path, json_body={"valid": False, "last_updated": "2025-03-01T09:10:00Z"}
    )
    assert status == 200 and env["status_code"] == 1000
    _, _, env = await ptp.call("GET", "tokens", path)
    assert env["data"]["valid"] is False and env["data"]["last_updated"] == "2025-03-01T09:10:00Z"
    # An APP_USER token with the same uid is another token.
    app = {**RFID, "type": "APP_USER"}
    status, _, env = await ptp.call(
        "PUT", "tokens", path, json_body=app, params={"type": "APP_USER"}
    )
    assert status == 201
    status, _, env = await ptp.call("PUT", "tokens", path, json_body=app)
    assert env["status_code"] == 2001  # the URL says RFID, the body APP_USER
    # The URL's ids must be one of the caller's roles, and agree with the body.
    status, _, env = await ptp.call("PUT", "tokens", "DE/XXX/04A1B2C3D4", json_body=RFID)
    assert status == 404
    status, _, env = await ptp.call("PUT", "tokens", "NL/PAY/OTHER", json_body=RFID)
    assert env["status_code"] == 2001 and "uid" in env["status_message"]
    status, _, env = await ptp.call("PATCH", "tokens", "NL/PAY/UNKNOWN", json_body=RFID)
    assert status == 404
    # No DELETE on Tokens.
    status, _, _ = await ptp.call("DELETE", "tokens", path)
    assert status == 405
    status, _, env = await ptp.call("PUT", "tokens", path, json_body={**RFID, "type": "NOPE"})
    assert env["status_code"] == 2001


async def test_terminal_post_get_and_assignment_patch(sim: CpoSimNode, ptp: PtpDouble) -> None:
    status, _, env = await ptp.call(
        "POST", "payments", "terminals", json_body={"terminal_id": "T-1"}
    )
    assert status == 201 and env["status_code"] == 1000
    # GET returns it, with last_updated (checklist 5.7 #51).
    status, _, env = await ptp.call("GET", "payments", "terminals/t-1")
    assert status == 200 and env["data"]["terminal_id"] == "T-1"
    assert env["data"]["last_updated"] == "2025-03-01T09:00:00Z"
    assert ptp.received("PATCH", "/payments/terminals/") == []
    await clock_of(sim).advance(1)
    # The CPO assigns the terminal at the PTP's payments Sender (checklist 5.7 #52).
    [patch] = ptp.received("PATCH", "/payments/terminals/")
    assert patch.path == "/ptp/2.3.0/payments/terminals/T-1"
    assert patch.body == {
        "location_ids": ["SIM-AMS-STATION", "SIM-UTR-GARAGE"],
        "last_updated": "2025-03-01T09:00:01Z",
    }
    assert patch.headers["OCPI-from-party-id"] == "SIM"
    _, _, env = await ptp.call("GET", "payments", "terminals/T-1")
    assert env["data"]["location_ids"] == ["SIM-AMS-STATION", "SIM-UTR-GARAGE"]
    [row] = sim.backend.terminals.rows()
    assert row["assignment"]["ok"] is True
    status, _, env = await ptp.call("GET", "payments", "terminals/T-404")
    assert status == 404
    status, _, env = await ptp.call("POST", "payments", "terminals", json_body={"city": "X"})
    assert env["status_code"] == 2001


async def test_assignment_rules_and_invoicing(start_sim, ptp_factory) -> None:
    sim = await start_sim(terminal_assignment="evses", invoicing=True)
    ptp = await ptp_factory(sim)
    await ptp.call("POST", "payments", "terminals", json_body={"terminal_id": "T-2"})
    await clock_of(sim).advance(1)
    [patch] = ptp.received("PATCH", "/payments/terminals/")
    # Only EVSEs that take cards; the CPO invoices and says where (mod_payments, Terminal).
    assert patch.body["evse_uids"] == ["SIM-AMS-1", "SIM-AMS-2", "SIM-AMS-3", "SIM-UTR-1"]
    assert patch.body["invoice_creator"] == "CPO"
    assert patch.body["invoice_base_url"] == sim.rt.base_url + "/invoices/"


async def test_no_assignment(start_sim, ptp_factory) -> None:
    sim = await start_sim(terminal_assignment="none")
    ptp = await ptp_factory(sim)
    await ptp.call("POST", "payments", "terminals", json_body={"terminal_id": "T-3"})
    await clock_of(sim).advance(10)
    assert ptp.received("PATCH", "/payments/") == []


async def test_fac_and_invoice(start_sim, ptp_factory, http) -> None:
    sim = await start_sim(invoicing=True)
    ptp = await ptp_factory(sim)
    fac = {
        "id": "FAC-1",
        "authorization_reference": "AUTH-77",
        "total_costs": {"before_taxes": 4.0, "taxes": [{"name": "VAT", "amount": 0.84}]},
        "currency": "EUR",
        "eft_data": ["Mastercard", "AID: A0000000041010", "PAN: **** 1234"],
        "capture_status_code": "SUCCESS",
        "last_updated": "2025-03-01T10:00:00Z",
    }
    # Unknown authorization_reference: refused.
    status, _, env = await ptp.call(
        "POST", "payments", "financial-advice-confirmations", json_body=fac
    )
    assert env["status_code"] == 2001
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    await ptp.command(
        "START_SESSION",
        {
            "token": ptp.token(),
            "location_id": "SIM-AMS-STATION",
            "evse_uid": "SIM-AMS-1",
            "authorization_reference": "AUTH-77",
        },
    )
    clock = clock_of(sim)
    await clock.advance(300)
    [session_id] = ptp.sessions
    await sim.backend.charging.end_session(session_id, "test")
    [cdr] = ptp.cdrs
    # The CPO invoices: the CDR carries invoice_reference_id (checklist 5.7 #56).
    assert cdr["invoice_reference_id"].startswith("INV-")
    status, _, env = await ptp.call(
        "POST", "payments", "financial-advice-confirmations", json_body=fac
    )
    assert status == 201 and env["status_code"] == 1000
    status, _, env = await ptp.call("GET", "payments", "financial-advice-confirmations/FAC-1")
    assert env["data"] == fac
    # Both Price shapes are accepted (checklist 5.7 #57).
    old = {**fac, "id": "FAC-2", "total_costs": {"excl_vat": 4.0, "incl_vat": 4.84}}
    status, _, env = await ptp.call(
        "POST", "payments", "financial-advice-confirmations", json_body=old
    )
    assert status == 201
    # The invoice is at invoice_base_url + authorization_reference.
    async with http.get(f"{sim.rt.base_url}/invoices/AUTH-77") as resp:
        invoice = await resp.json()
    assert resp.status == 200 and invoice["invoice_reference_id"] == cdr["invoice_reference_id"]
    assert invoice["payment"]["eft_data"] == fac["eft_data"]
    async with http.get(f"{sim.rt.base_url}/invoices/NOPE") as resp:
        assert resp.status == 404


async def test_payments_on_2_2_1_takes_2_2_1_objects(start_sim, ptp_factory) -> None:
    """Payter's "Direct Payment 2.2.1": the Payments Receiver on 2.2.1, with 2.2.1's Price."""
    sim = await start_sim(invoicing=True)
    ptp = await ptp_factory(sim, "2.2.1")
    assert "/2.2.1/" in ptp.endpoints["payments"]
    status, _, env = await ptp.call(
        "POST", "payments", "terminals", json_body={"terminal_id": "T-221"}
    )
    assert status == 201 and env["status_code"] == 1000
    await clock_of(sim).advance(1)
    # The CPO assigns it at the PTP's 2.2.1 payments Sender.
    [patch] = ptp.received("PATCH", "/payments/terminals/")
    assert patch.path == "/ptp/2.2.1/payments/terminals/T-221"
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    await ptp.command(
        "START_SESSION",
        {
            "token": ptp.token(),
            "location_id": "SIM-AMS-STATION",
            "evse_uid": "SIM-AMS-1",
            "authorization_reference": "AUTH-221",
        },
    )
    await clock_of(sim).advance(300)
    [session_id] = ptp.sessions
    await sim.backend.charging.end_session(session_id, "test")
    fac = {
        "id": "FAC-221",
        "authorization_reference": "AUTH-221",
        "total_costs": {"excl_vat": 4.0, "incl_vat": 4.84},
        "currency": "EUR",
        "eft_data": ["Visa"],
        "capture_status_code": "SUCCESS",
        "last_updated": "2025-03-01T10:00:00Z",
    }
    path = "financial-advice-confirmations"
    status, _, env = await ptp.call("POST", "payments", path, json_body=fac)
    assert status == 201 and env["status_code"] == 1000
    # The 2.3.0 shape is accepted too (a PTP that sends it is not refused).
    other = {
        **fac,
        "id": "FAC-221-B",
        "total_costs": {"before_taxes": 4.0, "taxes": [{"name": "VAT", "amount": 0.84}]},
    }
    status, _, env = await ptp.call("POST", "payments", path, json_body=other)
    assert status == 201 and env["status_code"] == 1000
    _, _, env = await ptp.call("GET", "payments", f"{path}/FAC-221")
    assert env["data"]["total_costs"] == {"excl_vat": 4.0, "incl_vat": 4.84}


async def test_payments_versions_without_2_2_1(start_sim, ptp_factory) -> None:
    sim = await start_sim(payments_versions="2.3.0")
    ptp = await ptp_factory(sim, "2.2.1")
    assert "payments" not in ptp.endpoints
    status, _, _ = await ptp.call(
        "POST", "payments", url=sim.server.endpoint_url("2.2.1", "payments") + "/terminals"
    )
    assert status == 404


async def test_terminals_and_facs_belong_to_their_ptp(start_sim, ptp_factory) -> None:
    sim = await start_sim(invoicing=True)
    ptp = await ptp_factory(sim)
    other = await ptp_factory(sim, with_token_a=sim.platforms.mint_token_a("x"), party_id="OTH")
    await ptp.call("POST", "payments", "terminals", json_body={"terminal_id": "T-1"})
    # Another PTP neither sees nor takes over the terminal.
    status, _, env = await other.call("GET", "payments", "terminals/T-1")
    assert status == 404
    status, _, env = await other.call(
        "POST", "payments", "terminals", json_body={"terminal_id": "T-1", "reference": "X"}
    )
    assert status == 200 and env["status_code"] == 2001
    [row] = sim.backend.terminals.rows()
    assert row["object"] == {"terminal_id": "T-1", "last_updated": "2025-03-01T09:00:00Z"}
    # A FAC names a session of the PTP that sends it.
    await sim.backend.chargers.plug_in("SIM-AMS-1")
    await ptp.command(
        "START_SESSION",
        {
            "token": ptp.token(),
            "location_id": "SIM-AMS-STATION",
            "evse_uid": "SIM-AMS-1",
            "authorization_reference": "AUTH-1",
        },
    )
    await clock_of(sim).advance(60)
    [session_id] = ptp.sessions
    await sim.backend.charging.end_session(session_id, "test")
    fac = {
        "id": "FAC-1",
        "authorization_reference": "AUTH-1",
        "total_costs": {"before_taxes": 1.0, "taxes": [{"name": "VAT", "amount": 0.21}]},
        "currency": "EUR",
        "eft_data": ["Visa"],
        "capture_status_code": "SUCCESS",
        "last_updated": "2025-03-01T10:00:00Z",
    }
    path = "financial-advice-confirmations"
    _, _, env = await other.call("POST", "payments", path, json_body=fac)
    assert env["status_code"] == 2001
    status, _, env = await ptp.call("POST", "payments", path, json_body=fac)
    assert status == 201
    status, _, _ = await other.call("GET", "payments", f"{path}/FAC-1")
    assert status == 404
