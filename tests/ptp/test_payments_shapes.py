"""Payments on OCPI 2.2.1 (Payter's "Direct Payment 2.2.1") and the Price shape of a FAC's
``total_costs``: sent in the negotiated version's shape, the other shape accepted, a CPO that
depends on the other shape told so (OCPI-57b)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cpo_double import CpoDouble
from helpers import findings

from emulator.app import EmulatorNode
from emulator.ptp.payments import fac_total_costs, other_price_shape

TOKEN_A = "payter-emulator-token-a"


# --- total_costs per version ----------------------------------------------------------------


def test_fac_total_costs_in_the_2_3_0_shape_scales_the_cdr_taxes() -> None:
    cdr_cost = {"before_taxes": 10, "taxes": [{"name": "VAT", "percentage": 21, "amount": 2.1}]}
    # Captured in full.
    assert fac_total_costs("2.3.0", 1210, cdr_cost) == {
        "before_taxes": Decimal("10.00"),
        "taxes": [{"name": "VAT", "percentage": 21, "amount": Decimal("2.10")}],
    }
    # Captured in part (capped at the authorization): taxes in the CDR's proportion.
    half = fac_total_costs("2.3.0", 605, cdr_cost)
    assert half["taxes"][0]["amount"] == Decimal("1.05")
    assert half["before_taxes"] + half["taxes"][0]["amount"] == Decimal("6.05")
    # No CDR cost to go by: the captured amount.
    assert fac_total_costs("2.3.0", 500, None) == {"before_taxes": Decimal(5)}


def test_fac_total_costs_in_the_2_2_1_shape_always_has_incl_vat() -> None:
    assert fac_total_costs("2.2.1", 1210, {"excl_vat": 10, "incl_vat": 12.1}) == {
        "excl_vat": Decimal("10.00"),
        "incl_vat": Decimal("12.1"),
    }
    assert fac_total_costs("2.2.1", 605, {"excl_vat": 10, "incl_vat": 12.1}) == {
        "excl_vat": Decimal("5.00"),
        "incl_vat": Decimal("6.05"),
    }
    # A CDR without incl_vat: the captured amount is the price with VAT.
    assert fac_total_costs("2.2.1", 500, {"excl_vat": 5}) == {
        "excl_vat": Decimal(5),
        "incl_vat": Decimal(5),
    }


def test_other_price_shape_both_ways() -> None:
    assert other_price_shape({"before_taxes": 4, "taxes": [{"name": "VAT", "amount": 0.84}]}) == {
        "excl_vat": Decimal(4),
        "incl_vat": Decimal("4.84"),
    }
    assert other_price_shape({"excl_vat": 4, "incl_vat": 4.84}) == {
        "before_taxes": Decimal(4),
        "taxes": [{"name": "VAT", "amount": Decimal("0.84")}],
    }
    assert other_price_shape({"excl_vat": 4}) == {"before_taxes": Decimal(4)}
    assert other_price_shape({"amount": 4}) is None


# --- delivery ---------------------------------------------------------------------------------


async def registered(node: EmulatorNode, double: CpoDouble, version: str) -> None:
    await double.start()
    await double.register_with(node.server.versions_url, TOKEN_A, version)
    await node.rt.clock.advance(1)


def new_fac(node: EmulatorNode, version: str) -> dict:
    platform = node.platforms.registered()[0]
    shape = fac_total_costs(version, 1210, None)
    return node.ptp.payments.create_fac(
        platform,
        authorization_reference="REF-9",
        total_costs=shape,
        currency="EUR",
        eft_data=["VISA"],
        capture_status_code="SUCCESS",
    )


@pytest.mark.parametrize(
    ("version", "sent", "taken"),
    [("2.3.0", "before_taxes", "excl_vat"), ("2.2.1", "excl_vat", "before_taxes")],
)
async def test_a_cpo_that_depends_on_the_other_shape_is_told(
    emulator: EmulatorNode, version: str, sent: str, taken: str
) -> None:
    other = "2.2.1" if version == "2.3.0" else "2.3.0"
    double = CpoDouble(fac_price_shape=other)
    try:
        await registered(emulator, double, version)
        fac = new_fac(emulator, version)
        assert sent in fac["total_costs"]
        assert await emulator.ptp.payments.deliver_fac(fac["id"]) is True
        # The CPO took it in the other shape; one finding says so, nothing else.
        assert taken in double.facs[fac["id"]]["total_costs"]
        [finding] = findings(emulator, "OCPI-57b")
        # The Price of the negotiated version is its type definition (types.asciidoc): a CPO
        # that needs the other shape breaks it (the module's examples notwithstanding).
        assert finding["severity"] == "error" and finding["pointer"] == "/total_costs"
        assert f"in the {version} Price shape" in finding["message"]
        assert f"took it in the {other} shape" in finding["message"]
        assert findings(emulator, "OCPI-57") == []
        # What we serve on our Sender interface stays in the negotiated version's shape.
        assert sent in emulator.ptp.payments.fac(fac["id"])["object"]["total_costs"]
    finally:
        await double.stop()


async def test_a_cpo_that_takes_neither_shape_is_retried_not_blamed_on_the_shape(
    emulator: EmulatorNode,
) -> None:
    double = CpoDouble(fac_price_shape="none")
    try:
        await registered(emulator, double, "2.3.0")
        fac = new_fac(emulator, "2.3.0")
        assert await emulator.ptp.payments.deliver_fac(fac["id"]) is False
        row = emulator.ptp.payments.fac(fac["id"])
        assert row["attempts"] == 1 and "2001" in row["last_error"]
        assert findings(emulator, "OCPI-57b") == [] and double.facs == {}
    finally:
        await double.stop()


async def test_a_cpo_that_takes_its_own_shape_gets_one_post(emulator: EmulatorNode) -> None:
    double = CpoDouble(fac_price_shape="2.2.1")
    try:
        await registered(emulator, double, "2.2.1")
        fac = new_fac(emulator, "2.2.1")
        assert await emulator.ptp.payments.deliver_fac(fac["id"]) is True
        posts = [
            s
            for s in double.seen
            if s.method == "POST" and "financial-advice-confirmations" in s.path
        ]
        assert len(posts) == 1 and "/2.2.1/" in posts[0].path
        assert findings(emulator, "OCPI-57b") == []
    finally:
        await double.stop()


async def test_terminal_pushed_on_2_2_1_only_when_the_cpo_lists_payments(
    emulator: EmulatorNode,
) -> None:
    """Custom modules go only to parties that agreed to them: a 2.2.1 CPO that lists
    ``payments`` gets the terminal; one that does not gets none, and no OCPI-51."""
    with_payments = CpoDouble()
    without = CpoDouble(
        party_id="CPN",
        token_a="cpo-token-n",
        modules=tuple(m for m in CpoDouble().modules if m[0] != "payments"),
    )
    try:
        await registered(emulator, with_payments, "2.2.1")
        [row] = emulator.ptp.payments.terminals()
        assert row["push_state"] == "PUSHED"
        assert row["terminal_id"] in with_payments.terminals
        platform = emulator.platforms.registered()[0]
        assert emulator.ptp.payments_variant(platform) == "2.2.1"
        second = await emulator.ptp.create_terminal("APO-0002", "Apollo")
        assert second["push_state"] == "PUSHED"
        await without.start()
        await without.register_with(
            emulator.server.versions_url, emulator.platforms.mint_token_a("n"), "2.2.1"
        )
        other = next(p for p in emulator.platforms.registered() if p.id != platform.id)
        assert emulator.ptp.payments_variant(other) is None
        row = await emulator.ptp.create_terminal("APO-0003", "Apollo", platform_id=other.id)
        assert row["push_state"] == "NO_ENDPOINT"
        assert findings(emulator, "OCPI-51") == []
    finally:
        await with_payments.stop()
        await without.stop()
