from __future__ import annotations

import json

import pytest

from emulator.terminal.cards import (
    CARDS_FILE,
    CardCatalogue,
    CardError,
    Medium,
    Outcome,
    TestCard,
    luhn_valid,
)

AIDS = {
    "visa": "A0000000031010",
    "vpay": "A0000000032020",
    "mastercard": "A0000000041010",
    "maestro": "A0000000043060",
    "amex": "A00000002501",
    "discover": "A0000001523010",
}


def test_fixture_covers_every_brand_and_outcome(cards: CardCatalogue) -> None:
    all_cards = cards.all()
    assert {c.brand for c in all_cards if c.brand} == set(AIDS)
    assert {c.outcome for c in all_cards} == set(Outcome)
    assert any(Medium.QR in c.media for c in all_cards)
    assert any(Medium.RFID in c.media for c in all_cards)


def test_every_pan_is_luhn_valid_and_every_aid_matches_its_brand(cards: CardCatalogue) -> None:
    for card in cards.all():
        if card.pan is None:
            assert card.outcome is Outcome.NO_PAYMENT
            continue
        assert luhn_valid(card.pan), card.id
        assert card.aid == AIDS[card.brand or ""], card.id
        assert card.brand_name


def test_ids_are_short_slugs() -> None:
    data = json.loads(CARDS_FILE.read_text())
    ids = [c["id"] for c in data["cards"]]
    assert len(ids) == len(set(ids))
    assert all(i.replace("-", "").isalnum() and i == i.lower() for i in ids)


def test_lookup_by_id_pan_and_uid(cards: CardCatalogue) -> None:
    visa = cards.get("visa-approved")
    assert visa is not None and visa.pan == "4111111111111111"
    assert cards.get("4111 1111 1111 1111") is visa
    assert cards.get("4111-1111-1111-1111") is visa
    mifare = cards.get("5a1b2c3d")
    assert mifare is not None and mifare.id == "rfid-mifare-classic"
    assert cards.get("nope") is None


def test_masked_pan_keeps_six_and_four(cards: CardCatalogue) -> None:
    assert cards.get("visa-approved").masked_pan == "411111******1111"  # type: ignore[union-attr]
    assert cards.get("amex-approved").masked_pan == "378282*****0005"  # type: ignore[union-attr]


def test_card_id_is_stable_and_hides_the_pan(cards: CardCatalogue) -> None:
    visa = cards.get("visa-approved")
    assert visa is not None
    again = TestCard.from_json(visa.as_json())
    assert again.card_id == visa.card_id
    assert "4111" not in visa.card_id and len(visa.card_id) == 32
    other = cards.get("mastercard-approved")
    assert other is not None and other.card_id != visa.card_id


def test_qr_presentation_takes_any_content(cards: CardCatalogue) -> None:
    card = cards.presentation("https://example.com/s/1", "qr")
    assert card.content == "https://example.com/s/1"
    assert card.card_id == "https://example.com/s/1"
    assert not card.is_payment_card
    assert cards.presentation("qr-sample", "qr").card_id == "EMU-QR-0001"
    with pytest.raises(CardError):
        cards.presentation("", "qr")


def test_rfid_presentation_by_uid(cards: CardCatalogue) -> None:
    assert cards.presentation("rfid-mifare-desfire", "rfid").card_id == "04A2B3C4D5E680"
    assert cards.presentation("04aabbccddeeff", "rfid").card_id == "04AABBCCDDEEFF"
    with pytest.raises(CardError) as err:
        cards.presentation("xyz", "rfid")
    assert err.value.code == "unknown_card"


def test_presentation_errors(cards: CardCatalogue) -> None:
    with pytest.raises(CardError) as err:
        cards.presentation("visa-nope", "contactless")
    assert err.value.code == "unknown_card"
    with pytest.raises(CardError) as err:
        cards.presentation("maestro-pin", "contactless")
    assert err.value.code == "medium_not_supported"
    assert err.value.details["supported"] == ["chip"]
    with pytest.raises(CardError) as err:
        cards.presentation("visa-approved", "magstripe")
    assert err.value.code == "invalid_medium"
    with pytest.raises(CardError) as err:
        cards.presentation("visa-approved", "rfid")
    assert err.value.code == "medium_not_supported"


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("41111")
    assert not luhn_valid("4111x11111111111")


def test_catalogue_refuses_bad_data() -> None:
    good = TestCard("a", "A", (Medium.CHIP,), Outcome.APPROVED, pan="4111111111111111")
    with pytest.raises(ValueError, match="duplicate"):
        CardCatalogue([good, good])
    bad = TestCard("b", "B", (Medium.CHIP,), Outcome.APPROVED, pan="4111111111111112")
    with pytest.raises(ValueError, match="Luhn"):
        CardCatalogue([bad])


def test_as_json_lists_outcome_and_media(cards: CardCatalogue) -> None:
    data = cards.get("mastercard-partial-capture").as_json()  # type: ignore[union-attr]
    assert data["outcome"] == "partial_capture"
    assert data["capture_limit"] == 1000
    assert data["media"] == ["contactless", "chip"]
    assert data["masked_pan"] == "520082******0027"
