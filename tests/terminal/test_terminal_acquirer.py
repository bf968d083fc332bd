from __future__ import annotations

import re

import pytest

from emulator.ids import Ids
from emulator.terminal.acquirer import (
    TIMED_OUT,
    Acquirer,
    Authorization,
    format_amount,
)
from emulator.terminal.cards import CardCatalogue, TestCard


def card(cards: CardCatalogue, ref: str) -> TestCard:
    found = cards.get(ref)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("ref", "status", "code"),
    [
        ("visa-approved", "approved", "00"),
        ("visa-declined", "declined", "05"),
        ("visa-insufficient-funds", "declined", "51"),
        ("visa-expired", "declined", "54"),
        ("visa-pin", "pin_required", "1A"),
        ("visa-auth-timeout", "no_response", "68"),
        ("mastercard-capture-fails", "approved", "00"),
        ("mastercard-partial-capture", "approved", "00"),
        ("mastercard-incremental", "approved", "00"),
        ("qr-sample", "declined", "57"),
        ("rfid-mifare-classic", "declined", "57"),
    ],
)
def test_authorization_outcome_follows_the_card(
    acquirer: Acquirer, cards: CardCatalogue, ref: str, status: str, code: str
) -> None:
    auth = acquirer.authorize(card(cards, ref), 5000, "eur")
    assert (auth.status, auth.response_code) == (status, code)
    assert auth.currency == "EUR"
    assert auth.amount == 5000
    assert (auth.auth_code is not None) == (status == "approved")


def test_pin_card_is_approved_once_the_pin_is_verified(
    acquirer: Acquirer, cards: CardCatalogue
) -> None:
    first = acquirer.authorize(card(cards, "visa-pin"), 5000, "EUR")
    second = acquirer.authorize(
        card(cards, "visa-pin"), 5000, "EUR", pin_verified=True, session_id=first.session_id
    )
    assert second.approved and second.session_id == first.session_id


def test_forced_outcome_beats_the_card(acquirer: Acquirer, cards: CardCatalogue) -> None:
    assert not acquirer.authorize(
        card(cards, "visa-approved"), 100, "EUR", forced="declined"
    ).approved
    assert acquirer.authorize(card(cards, "visa-declined"), 100, "EUR", forced="approved").approved
    # A QR code never pays, whatever is forced.
    assert not acquirer.authorize(card(cards, "qr-sample"), 100, "EUR", forced="approved").approved


def test_timeout_decline(acquirer: Acquirer, cards: CardCatalogue) -> None:
    pending = acquirer.authorize(card(cards, "visa-auth-timeout"), 100, "EUR")
    declined = acquirer.decline(pending, TIMED_OUT)
    assert (declined.status, declined.response_code) == ("declined", "68")
    assert declined.session_id == pending.session_id


def test_capture_lower_than_authorized_succeeds(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "visa-approved"), 5000, "EUR")
    capture = acquirer.capture(auth, 1234)
    assert (capture.status, capture.captured, capture.requested) == ("SUCCESS", 1234, 1234)
    assert capture.eft_data[-1] == "Amount: EUR 12.34"


def test_capture_above_authorized_is_capped_and_partial(
    acquirer: Acquirer, cards: CardCatalogue
) -> None:
    auth = acquirer.authorize(card(cards, "visa-approved"), 5000, "EUR")
    capture = acquirer.capture(auth, 7000)
    assert (capture.status, capture.captured, capture.requested) == ("PARTIAL_SUCCESS", 5000, 7000)


def test_capture_of_zero_is_a_success(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "visa-approved"), 5000, "EUR")
    assert acquirer.capture(auth, 0).status == "SUCCESS"


def test_capture_fails_card(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "mastercard-capture-fails"), 5000, "EUR")
    capture = acquirer.capture(auth, 1000)
    assert (capture.status, capture.captured) == ("FAILED", 0)
    assert capture.eft_data[-1].startswith("Capture: 06")


def test_partial_capture_card_stops_at_its_limit(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "mastercard-partial-capture"), 5000, "EUR")
    assert acquirer.capture(auth, 800).status == "SUCCESS"
    capture = acquirer.capture(auth, 1500)
    assert (capture.status, capture.captured) == ("PARTIAL_SUCCESS", 1000)


def test_forced_capture_outcomes(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "visa-approved"), 5000, "EUR")
    assert acquirer.capture(auth, 1000, forced="capture_fails").status == "FAILED"
    half = acquirer.capture(auth, 1000, forced="partial_capture")
    assert (half.status, half.captured) == ("PARTIAL_SUCCESS", 500)
    # A forced decline concerns authorizations: this one was approved, the capture goes through.
    assert acquirer.capture(auth, 1000, forced="declined").status == "SUCCESS"
    failing = acquirer.authorize(card(cards, "mastercard-capture-fails"), 5000, "EUR")
    assert acquirer.capture(failing, 1000, forced="approved").status == "SUCCESS"


def test_void_releases_the_reservation(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "visa-approved"), 5000, "EUR")
    void = acquirer.void(auth)
    assert (void.status, void.released, void.currency) == ("SUCCESS", 5000, "EUR")
    declined = acquirer.authorize(card(cards, "visa-declined"), 5000, "EUR")
    with pytest.raises(ValueError):
        acquirer.void(declined)
    with pytest.raises(ValueError):
        acquirer.capture(declined, 10)


def test_increment(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "visa-incremental"), 2000, "EUR")
    updated, result = acquirer.increment(auth, 1500)
    assert result.approved and result.authorized_amount == 3500
    assert updated.amount == 3500 and updated.increments == (1500,)
    assert updated.eft_data[-1] == "Amount: EUR 35.00"
    # Capture is now allowed up to the incremented amount.
    assert acquirer.capture(updated, 3500).status == "SUCCESS"

    plain = acquirer.authorize(card(cards, "visa-approved"), 2000, "EUR")
    same, refused = acquirer.increment(plain, 500)
    assert not refused.approved and refused.response_code == "57"
    assert same is plain and refused.authorized_amount == 2000
    _, forced = acquirer.increment(auth, 500, forced="insufficient_funds")
    assert not forced.approved and forced.response_code == "51"


def test_amounts_are_checked(acquirer: Acquirer, cards: CardCatalogue) -> None:
    visa = card(cards, "visa-approved")
    with pytest.raises(ValueError):
        acquirer.authorize(visa, 0, "EUR")
    auth = acquirer.authorize(visa, 100, "EUR")
    with pytest.raises(ValueError):
        acquirer.capture(auth, -1)
    with pytest.raises(ValueError):
        acquirer.increment(auth, 0)


def test_eft_data_is_deterministic_under_a_seed(cards: CardCatalogue) -> None:
    visa = card(cards, "visa-approved")
    first = Acquirer(Ids(42)).authorize(visa, 4400, "EUR")
    second = Acquirer(Ids(42)).authorize(visa, 4400, "EUR")
    other = Acquirer(Ids(43)).authorize(visa, 4400, "EUR")
    assert first == second
    assert first.eft_data != other.eft_data
    lines = first.eft_data
    assert lines[:3] == ("Visa", "AID: A0000000031010", "Nr: 411111******1111")
    assert re.fullmatch(r"SEQ: \d{4}", lines[3])
    assert re.fullmatch(r"Auth code: \d{6}", lines[4])
    assert lines[5] == "Amount: EUR 44.00"
    assert all(line.isascii() and len(line) <= 255 for line in lines)


def test_declined_eft_data_names_the_reason(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "amex-declined"), 100, "EUR")
    assert auth.eft_data[0] == "American Express"
    assert "Result: 05 Do not honour" in auth.eft_data
    assert auth.masked_pan == "371449*****0016"


def test_authorization_round_trips(acquirer: Acquirer, cards: CardCatalogue) -> None:
    auth = acquirer.authorize(card(cards, "visa-incremental"), 2000, "EUR")
    auth, _ = acquirer.increment(auth, 100)
    assert Authorization.from_dict(auth.to_dict()) == auth


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (5000, "EUR", "EUR 50.00"),
        (5, "EUR", "EUR 0.05"),
        (1500, "JPY", "JPY 1500"),
        (12345, "KWD", "KWD 12.345"),
        (-250, "GBP", "GBP -2.50"),
    ],
)
def test_format_amount(amount: int, currency: str, text: str) -> None:
    assert format_amount(amount, currency) == text
