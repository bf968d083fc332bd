"""Contracts (Payter's onboarding): a CPO platform holds one or more contracts, each with its own
customer_reference; terminals belong to a contract and carry its customer_reference, in the
Terminal object and in Payter's customer_reference PATCH to the CPO."""

from __future__ import annotations

from cpo_double import CpoDouble
from helpers import admin

from emulator.app import EmulatorNode

TOKEN_A = "payter-emulator-token-a"


def patches(cpo: CpoDouble, terminal_id: str) -> list[dict]:
    return [
        s.body
        for s in cpo.seen
        if s.method == "PATCH" and s.path.endswith(f"/payments/terminals/{terminal_id}")
    ]


async def test_one_default_contract_holds_the_terminals_of_a_simple_setup(
    emulator: EmulatorNode, http
) -> None:
    status, contracts = await admin(http, emulator, "GET", "contracts")
    assert status == 200
    assert contracts == [
        {
            "id": 1,
            "customer_reference": None,
            "platform_id": None,
            "default": True,
            "created_at": "2025-03-01T09:00:00Z",
            "terminals": ["APO-0001"],
        }
    ]
    _, [terminal] = await admin(http, emulator, "GET", "terminals")
    assert terminal["contract"] == 1 and "customer_reference" not in terminal["terminal"]


async def test_the_setting_is_the_default_contracts_customer_reference(start_emulator, http):
    node = await start_emulator(customer_reference="PAY-CUST-1")
    _, [contract] = await admin(http, node, "GET", "contracts")
    assert contract["customer_reference"] == "PAY-CUST-1" and contract["default"] is True
    _, [terminal] = await admin(http, node, "GET", "terminals")
    assert terminal["terminal"]["customer_reference"] == "PAY-CUST-1"


async def test_create_contracts_and_terminals_under_them(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble().start()
    try:
        await cpo.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
        await emulator.rt.clock.advance(1)
        status, contract = await admin(
            http, emulator, "POST", "contracts", json={"customer_reference": "ACME-1"}
        )
        assert status == 201
        assert (contract["id"], contract["customer_reference"], contract["default"]) == (
            2,
            "ACME-1",
            False,
        )
        assert contract["terminals"] == []
        status, terminal = await admin(
            http,
            emulator,
            "POST",
            "terminals",
            json={"serial_number": "APO-0002", "contract": contract["id"]},
        )
        assert status == 201 and terminal["contract"] == 2
        assert terminal["terminal"]["customer_reference"] == "ACME-1"
        terminal_id = terminal["terminal_id"]
        # The CPO got the terminal with its contract's reference, and Payter's PATCH with it.
        assert cpo.terminals[terminal_id]["customer_reference"] == "ACME-1"
        assert [p["customer_reference"] for p in patches(cpo, terminal_id)] == ["ACME-1"]
        # The default terminal's contract has no customer_reference: no PATCH for it.
        _, default_terminal = await admin(http, emulator, "GET", "terminals")
        first = next(t for t in default_terminal if t["serial_number"] == "APO-0001")
        assert patches(cpo, first["terminal_id"]) == []
        _, listed = await admin(http, emulator, "GET", "contracts")
        assert [(c["id"], c["terminals"]) for c in listed] == [
            (1, ["APO-0001"]),
            (2, ["APO-0002"]),
        ]
        # A terminal given only a customer_reference goes to the contract that has it...
        _, same = await admin(
            http,
            emulator,
            "POST",
            "terminals",
            json={"serial_number": "APO-0003", "customer_reference": "acme-1"},
        )
        assert same["contract"] == 2
        # ... or to a new contract with it.
        _, new = await admin(
            http,
            emulator,
            "POST",
            "terminals",
            json={"serial_number": "APO-0004", "customer_reference": "OTHER-9"},
        )
        assert new["contract"] == 3
        _, three = await admin(http, emulator, "GET", "contracts/3")
        assert three["customer_reference"] == "OTHER-9" and three["terminals"] == ["APO-0004"]
    finally:
        await cpo.stop()


async def test_customer_reference_patch_per_contract(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble().start()
    try:
        await cpo.register_with(emulator.server.versions_url, TOKEN_A, "2.3.0")
        await emulator.rt.clock.advance(1)
        _, contract = await admin(
            http, emulator, "POST", "contracts", json={"customer_reference": "ACME-1"}
        )
        ids = []
        for serial in ("APO-0002", "APO-0003"):
            _, terminal = await admin(
                http,
                emulator,
                "POST",
                "terminals",
                json={"serial_number": serial, "contract": contract["id"]},
            )
            ids.append(terminal["terminal_id"])
        # The terminals under a contract, and only those.
        _, under = await admin(http, emulator, "GET", f"terminals?contract={contract['id']}")
        assert [t["serial_number"] for t in under] == ["APO-0002", "APO-0003"]
        _, default = await admin(http, emulator, "GET", "terminals?contract=1")
        assert [t["serial_number"] for t in default] == ["APO-0001"]
        assert (await admin(http, emulator, "GET", "terminals?contract=99"))[0] == 404
        assert (await admin(http, emulator, "GET", "terminals?contract=two"))[0] == 400
        status, changed = await admin(
            http,
            emulator,
            "PATCH",
            f"contracts/{contract['id']}",
            json={"customer_reference": "ACME-2"},
        )
        assert status == 200 and changed["customer_reference"] == "ACME-2"
        assert sorted(p["terminal_id"] for p in changed["patched"]) == sorted(ids)
        assert all(p["ok"] for p in changed["patched"])
        for terminal_id in ids:
            assert [p["customer_reference"] for p in patches(cpo, terminal_id)] == [
                "ACME-1",
                "ACME-2",
            ]
            assert (
                emulator.ptp.payments.terminal(terminal_id)["object"]["customer_reference"]
                == "ACME-2"
            )
        # The default terminal's contract is untouched.
        first = emulator.ptp.payments.by_serial("APO-0001")
        assert first["object"].get("customer_reference") is None
    finally:
        await cpo.stop()


async def test_bad_contract_requests(emulator: EmulatorNode, http) -> None:
    await admin(http, emulator, "POST", "contracts", json={"customer_reference": "ACME-1"})
    for body, code in (
        ({}, 400),
        ({"customer_reference": ""}, 400),
        ({"customer_reference": "X" * 37}, 400),
        ({"customer_reference": 12}, 400),
        ({"customer_reference": "naïve"}, 400),
        ({"customer_reference": "acme-1"}, 409),
        ({"customer_reference": "NEW", "platform_id": 99}, 404),
    ):
        status, answer = await admin(http, emulator, "POST", "contracts", json=body)
        assert status == code, (body, answer)
        assert answer["error"]["message"]
    for path, status_expected in (("contracts/99", 404), ("contracts/abc", 404)):
        status, _ = await admin(http, emulator, "GET", path)
        assert status == status_expected
    status, _ = await admin(
        http, emulator, "PATCH", "contracts/99", json={"customer_reference": "Z"}
    )
    assert status == 404
    status, _ = await admin(
        http, emulator, "PATCH", "contracts/1", json={"customer_reference": "ACME-1"}
    )
    assert status == 409
    # Terminals: an unknown contract, a contract with another customer_reference.
    status, _ = await admin(
        http, emulator, "POST", "terminals", json={"serial_number": "T-1", "contract": 99}
    )
    assert status == 404
    status, answer = await admin(
        http,
        emulator,
        "POST",
        "terminals",
        json={"serial_number": "T-1", "contract": 2, "customer_reference": "OTHER"},
    )
    assert status == 400 and "contract 2" in answer["error"]["message"]
    status, _ = await admin(
        http, emulator, "POST", "terminals", json={"serial_number": "T-1", "contract": "2"}
    )
    assert status == 400
    # Nothing was created by the refused requests.
    assert emulator.ptp.payments.by_serial("T-1") is None
    _, contracts = await admin(http, emulator, "GET", "contracts")
    assert [c["customer_reference"] for c in contracts] == [None, "ACME-1"]
