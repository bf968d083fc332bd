"""The pure terminal state machine: every transition, every error, timers as effects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.ids import Ids
from emulator.terminal.acquirer import Acquirer
from emulator.terminal.device import (
    CancelTimer,
    CardIgnored,
    CardRead,
    Device,
    Effect,
    ErrorKind,
    PaymentStep,
    ReadingStopped,
    ScreenChanged,
    SessionState,
    StartTimer,
    State,
    StateChanged,
    TerminalError,
    Timeouts,
    UiEvent,
)
from emulator.terminal.screens import Screen

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)  # when the `device` fixture booted

Present = Callable[..., Any]

SELECTION = Screen.parse(
    {
        "id": "home",
        "type": "selection",
        "properties": {
            "title": "Home",
            "items.start": "",
            "items.start.label": "Start",
            "items.stop": "",
            "items.stop.label": "Stop",
            "items.stop.disabled": "true",
        },
    }
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def of(effects: Sequence[Effect], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def step(effects: Sequence[Effect]) -> PaymentStep:
    steps = of(effects, PaymentStep)
    assert len(steps) == 1, effects
    return steps[0]


def started(effects: Sequence[Effect]) -> dict[str, float]:
    return {e.name: e.seconds for e in of(effects, StartTimer)}


def cancelled(effects: Sequence[Effect]) -> set[str]:
    return {e.name for e in of(effects, CancelTimer)}


def read(device: Device, present: Present, ref: str = "visa-approved", amount: int = 5000) -> None:
    device.start_reading(now=T0, amount=amount)
    effects = device.present_card(present(ref), now=T0)
    assert of(effects, CardRead), effects


def authorized(
    device: Device, present: Present, ref: str = "visa-approved", amount: int = 5000
) -> str:
    read(device, present, ref, amount)
    result = step(device.authorize(now=T0))
    assert result.step == "authorized", result
    return result.session_id


def expect_error(kind: ErrorKind, code: str, call: Callable[[], Any]) -> TerminalError:
    with pytest.raises(TerminalError) as err:
        call()
    assert (err.value.kind, err.value.code) == (kind, code), err.value.message
    return err.value


# --- boot and idle ------------------------------------------------------------------------------


def test_boot_announces_state_shows_idle_carousel_and_arms_screensaver(acquirer: Acquirer) -> None:
    device = Device("APO9", "Apollo Max", acquirer=acquirer)
    effects = device.boot(now=T0)
    assert isinstance(effects[0], StateChanged)
    assert (effects[0].online, effects[0].state, effects[0].previous_state) == (True, "IDLE", None)
    screen = of(effects, ScreenChanged)[0].screen
    assert (screen.type, screen.id) == ("carousel", "payter.idle")
    assert started(effects) == {"screensaver": 30.0}
    assert device.timers == {"screensaver": at(30).isoformat()}


def test_unknown_model_is_refused(acquirer: Acquirer) -> None:
    expect_error(ErrorKind.INVALID, "invalid_model", lambda: Device("X", "P70", acquirer=acquirer))
    # The P6X family has no graphical screen; the Apollo family has.
    assert Device("X", "P68", acquirer=acquirer).as_json()["has_screen"] is False
    assert Device("X", "Polar", acquirer=acquirer).as_json()["has_screen"] is True


def test_a_terminal_without_a_display_reports_what_its_reader_shows(
    acquirer: Acquirer, present: Present
) -> None:
    """A P6X has no screen to draw: the control API reports its reader (light, what it does,
    its payment step), which the TUI draws as is; an Apollo reports none."""
    assert Device("X", "Polar", acquirer=acquirer).as_json()["reader"] is None
    device = Device("P68-1", "P68", acquirer=acquirer)
    device.boot(now=T0)
    idle = device.as_json()["reader"]
    assert (idle["type"], idle["id"], idle["keys"]) == ("reader", "payter.reader", [])
    view = idle["view"]
    assert (view["light"], view["title"], view["payment"]) == (False, "Idle", None)
    assert view["subtitle"] == "P68 card reader, no display"
    read(device, present, "visa-pin")
    device.authorize(now=T0)
    view = device.as_json()["reader"]["view"]
    assert (view["light"], view["title"]) == (True, "Authorizing")
    assert view["payment"]["phase"] == "pin" and view["payment"]["title"] == "Enter PIN"
    assert "ok" in view["keys"] and view["hint"]
    device.go_offline(now=at(1))
    view = device.as_json()["reader"]["view"]
    assert (view["light"], view["title"], view["payment"], view["keys"]) == (
        False,
        "Offline",
        None,
        [],
    )
    assert view["out_of_service"] == "the terminal is offline"


def test_card_while_idle_is_ignored_and_reported(device: Device, present: Present) -> None:
    effects = device.present_card(present("visa-approved"), now=at(1))
    ignored = of(effects, CardIgnored)
    assert len(ignored) == 1 and ignored[0].reason == "not_reading"
    assert ignored[0].message == "the terminal is not reading cards (screen 'payter.idle')"
    assert ignored[0].card_ref == "visa-approved"
    assert not of(effects, CardRead)
    assert device.state is State.IDLE and device.card is None


# --- reading ----------------------------------------------------------------------------------


def test_start_reading_shows_present_card_and_arms_the_presentation_timer(device: Device) -> None:
    effects = device.start_reading(
        now=T0, amount=5000, message="Approach card", title="Pay", methods=["EMV", "QR_CODE"]
    )
    assert of(effects, StateChanged)[0].state == "READING"
    screen = device.screen
    assert (screen.type, screen.id) == ("payment", "payter.present_card")
    assert screen.properties["amount"] == "5000"
    assert screen.properties["currency"] == "EUR"
    assert screen.properties["title"] == "Pay"
    assert screen.properties["message"] == "Approach card"
    assert screen.properties["media"] == "contactless,chip,qr"
    assert started(effects)["card_presentation"] == 60.0  # the Apollo's card-detect timeout
    # The payment flow owns the display: no screensaver meanwhile.
    assert "screensaver" in cancelled(effects)


def test_hide_amount(device: Device) -> None:
    device.start_reading(now=T0, amount=5000, hide_amount=True)
    assert "amount" not in device.screen.properties
    assert device.reading is not None and device.reading.amount == 5000


def test_reading_arguments_are_checked(device: Device) -> None:
    expect_error(
        ErrorKind.INVALID, "invalid_amount", lambda: device.start_reading(now=T0, amount=0)
    )
    err = expect_error(
        ErrorKind.INVALID,
        "invalid_payment_method",
        lambda: device.start_reading(now=T0, methods=["BITCOIN"]),
    )
    assert "QR_CODE" in err.details["accepted"]


def test_timeout_zero_reads_until_stopped(device: Device) -> None:
    effects = device.start_reading(now=T0, amount=100, timeout=0)
    assert "card_presentation" not in started(effects)
    assert device.reading is not None and device.reading.timeout is None


def test_card_read_reports_the_card_object(device: Device, present: Present) -> None:
    device.start_reading(now=T0, amount=5000)
    effects = device.present_card(present("visa-approved"), now=at(2))
    kinds = [type(e) for e in effects]
    # State first, then the screen, then the card, then timers.
    assert kinds.index(StateChanged) < kinds.index(ScreenChanged) < kinds.index(CardRead)
    card = of(effects, CardRead)[0]
    assert card.as_json() | {"sessions": []} == {
        "serialNumber": "APO1",
        "ifd": "CONTACTLESS",
        "aid": "A0000000031010",
        "cardId": card.card_id,
        "maskedPan": "411111******1111",
        "sessions": [],
        "medium": "contactless",
        "card": "visa-approved",
        "brand": "visa",
    }
    assert device.state is State.CARD
    assert "card_presentation" in cancelled(effects)
    assert started(effects)["card_read"] == 30.0
    assert device.screen.properties["phase"] == "processing"


def test_chip_is_reported_as_chip(device: Device, present: Present) -> None:
    device.start_reading(now=T0, amount=5000)
    card = of(device.present_card(present("maestro-pin", "chip"), now=T0), CardRead)[0]
    assert (card.ifd, card.aid) == ("CHIP", "A0000000043060")


def test_qr_needs_the_qr_method(device: Device, present: Present) -> None:
    device.start_reading(now=T0)
    ignored = of(device.present_card(present("hello", "qr"), now=T0), CardIgnored)
    assert ignored[0].reason == "medium_not_accepted"
    assert ignored[0].message == "the terminal reads contactless, chip now, not qr"
    assert device.state is State.READING

    device.start_reading(now=T0, methods=["QR_CODE"])
    card = of(device.present_card(present("hello", "qr"), now=T0), CardRead)[0]
    assert (card.ifd, card.card_id, card.aid, card.masked_pan) == ("QR_CODE", "hello", "", None)


def test_rfid_reads_the_uid(device: Device, present: Present) -> None:
    device.start_reading(now=T0, methods=["RFID"])
    card = of(device.present_card(present("rfid-mifare-desfire", "rfid"), now=T0), CardRead)[0]
    assert (card.ifd, card.card_id) == ("MIFARE", "04A2B3C4D5E680")


def test_card_presentation_timeout_returns_to_idle(device: Device) -> None:
    device.start_reading(now=T0, amount=5000)
    effects = device.timer_fired("card_presentation", now=at(30))
    assert of(effects, ReadingStopped)[0].reason == "timeout"
    assert device.state is State.IDLE and device.reading is None
    assert device.screen.id == "payter.idle"
    assert started(effects) == {"screensaver": 30.0}


def test_read_card_is_dropped_after_the_card_read_timeout(device: Device, present: Present) -> None:
    read(device, present)
    effects = device.timer_fired("card_read", now=at(30))
    assert of(effects, ReadingStopped)[0].reason == "card_timeout"
    assert device.state is State.IDLE and device.card is None
    expect_error(ErrorKind.CONFLICT, "no_card", lambda: device.authorize(now=at(31)))


def test_a_stale_timer_does_nothing(device: Device) -> None:
    device.start_reading(now=T0, amount=5000)
    assert device.timer_fired("card_read", now=at(30)) == []
    assert device.timer_fired("nonsense", now=at(30)) == []
    assert device.state is State.READING


def test_stop_reading_from_reading_and_from_card(device: Device, present: Present) -> None:
    device.start_reading(now=T0, amount=5000)
    effects = device.stop_reading(now=at(1))
    assert of(effects, ReadingStopped)[0].reason == "stopped"
    assert device.state is State.IDLE

    read(device, present)
    effects = device.stop_reading(now=at(2), message="Card ignored", message_timeout=5)
    assert device.state is State.IDLE and device.card is None
    assert {"card_read"} <= cancelled(effects)
    assert (device.screen.type, device.screen.properties["message"]) == (
        "notification",
        "Card ignored",
    )
    assert started(effects)["message"] == 5
    effects = device.timer_fired("message", now=at(7))
    assert device.screen.id == "payter.idle"
    assert started(effects) == {"screensaver": 30.0}


def test_stop_when_idle_is_harmless(device: Device) -> None:
    assert device.stop_reading(now=T0) == []


def test_starting_again_drops_the_read_card(device: Device, present: Present) -> None:
    read(device, present)
    effects = device.start_reading(now=at(1), amount=100)
    assert device.state is State.READING and device.card is None
    assert "card_read" in cancelled(effects)


# --- authorization ----------------------------------------------------------------------------


def test_authorize_approved_opens_a_session(device: Device, present: Present) -> None:
    read(device, present)
    effects = device.authorize(now=at(3))
    result = step(effects)
    assert result.step == "authorized"
    assert result.data["authorized_amount"] == 5000
    assert result.data["state"] == "AUTHORIZED"
    assert result.data["masked_pan"] == "411111******1111"
    session = device.sessions[result.session_id]
    assert session.state is SessionState.AUTHORIZED and session.medium == "contactless"
    assert device.state is State.IDLE and device.card is None and device.reading is None
    assert device.screen.id == "payter.idle"  # no uiMessage: back to idle (§4.2)
    assert started(effects)[f"expiry:{result.session_id}"] == 7 * 24 * 3600
    assert "card_read" in cancelled(effects)


def test_authorize_with_message_shows_an_approved_notification(
    device: Device, present: Present
) -> None:
    read(device, present)
    effects = device.authorize(now=T0, message="Start charging", message_timeout=4)
    assert device.screen.properties == {
        "message": "Start charging",
        "icon": "approved",
        "color": "1",
    }
    assert started(effects)["message"] == 4


def test_authorize_amount_override_and_missing_amount(device: Device, present: Present) -> None:
    device.start_reading(now=T0)
    device.present_card(present("visa-approved"), now=T0)
    expect_error(ErrorKind.INVALID, "no_amount", lambda: device.authorize(now=T0))
    expect_error(ErrorKind.INVALID, "invalid_amount", lambda: device.authorize(now=T0, amount=-5))
    result = step(device.authorize(now=T0, amount=2500, currency="gbp"))
    assert (result.data["authorized_amount"], result.data["currency"]) == (2500, "GBP")


def test_authorize_without_a_card_is_an_error(device: Device) -> None:
    err = expect_error(ErrorKind.CONFLICT, "no_card", lambda: device.authorize(now=T0, amount=1))
    assert err.details["state"] == "IDLE"
    device.start_reading(now=T0, amount=100)
    expect_error(ErrorKind.CONFLICT, "no_card", lambda: device.authorize(now=T0))


@pytest.mark.parametrize(
    ("ref", "code"),
    [("visa-declined", "05"), ("visa-insufficient-funds", "51"), ("visa-expired", "54")],
)
def test_declines(device: Device, present: Present, ref: str, code: str) -> None:
    read(device, present, ref)
    effects = device.authorize(now=T0)
    result = step(effects)
    assert (result.step, result.data["response_code"]) == ("declined", code)
    assert device.sessions == {}
    assert device.state is State.IDLE
    # Payter's payment screens tell the driver, even without an integrator message.
    assert device.screen.properties["icon"] == "declined"
    assert device.screen.properties["color"] == "2"
    assert started(effects)["message"] == 3.0


def test_qr_code_cannot_pay(device: Device, present: Present) -> None:
    device.start_reading(now=T0, amount=100, methods=["QR_CODE"])
    device.present_card(present("qr-sample", "qr"), now=T0)
    result = step(device.authorize(now=T0))
    assert (result.step, result.data["response_code"]) == ("declined", "57")


def test_pin_flow(device: Device, present: Present) -> None:
    read(device, present, "visa-pin")
    effects = device.authorize(now=T0)
    assert step(effects).step == "pin_required"
    session_id = step(effects).session_id
    assert device.state is State.AUTHORIZING
    assert started(effects)["authorization"] == 210.0  # Apollo: 3 min 30 s with PIN (§3.8)
    assert device.screen.properties["phase"] == "pin"
    assert "7" in device.screen.keys and "ok" in device.screen.keys
    # Whoever drives the emulator is told which PIN works (any 4-12 digits).
    assert device.as_json()["screen"]["view"]["hint"] == ("Test PIN: any 4-12 digits, then OK")

    for digit in "123":
        assert device.press(digit, now=T0) == [ScreenChanged(device.screen)]
    assert device.screen.properties["pin"] == "***"
    assert device.press("ok", now=T0) == []  # three digits are not a PIN
    assert device.state is State.AUTHORIZING
    device.press("clear", now=T0)
    assert device.screen.properties["pin"] == ""
    for digit in "4321":
        device.press(digit, now=T0)
    effects = device.press("ok", now=at(10))
    result = step(effects)
    assert (result.step, result.session_id) == ("authorized", session_id)
    assert not of(effects, UiEvent)  # PIN entry is Payter's, not the integrator's
    assert "authorization" in cancelled(effects)
    assert device.state is State.IDLE


def test_pin_cancel_declines(device: Device, present: Present) -> None:
    read(device, present, "visa-pin")
    device.authorize(now=T0)
    result = step(device.press("cancel", now=T0))
    assert (result.step, result.data["response_code"]) == ("declined", "17")


def test_pin_entry_times_out_30_seconds_after_the_last_key(
    device: Device, present: Present
) -> None:
    read(device, present, "visa-pin")
    assert started(device.authorize(now=T0))["pin_entry"] == 30.0
    assert started(device.press("1", now=at(20))) == {"pin_entry": 30.0}
    assert device.timer_due("pin_entry") == at(50)
    result = step(device.timer_fired("pin_entry", now=at(50)))
    assert (result.step, result.data["response_text"]) == ("declined", "PIN entry timed out")
    assert device.state is State.IDLE
    assert "pin_entry" not in device.timers and "authorization" not in device.timers


def test_pin_timeout_declines(device: Device, present: Present) -> None:
    read(device, present, "visa-pin")
    device.authorize(now=T0)
    result = step(device.timer_fired("authorization", now=at(210)))
    assert (result.step, result.data["response_code"]) == ("declined", "68")
    assert device.state is State.IDLE and device.pending is None


def test_acquirer_without_answer_times_out(device: Device, present: Present) -> None:
    read(device, present, "visa-auth-timeout")
    effects = device.authorize(now=T0)
    assert step(effects).step == "authorizing"
    assert started(effects)["authorization"] == 210.0  # Apollo's Auth Session: 3 min 30 s
    assert device.screen.properties["phase"] == "processing"
    expect_error(ErrorKind.INVALID, "unknown_key", lambda: device.press("ok", now=T0))
    result = step(device.timer_fired("authorization", now=at(210)))
    assert (result.step, result.data["response_code"]) == ("declined", "68")


def test_nothing_else_while_authorizing(device: Device, present: Present) -> None:
    read(device, present, "visa-pin")
    device.authorize(now=T0)
    expect_error(ErrorKind.CONFLICT, "busy", lambda: device.start_reading(now=T0, amount=1))
    expect_error(ErrorKind.CONFLICT, "busy", lambda: device.stop_reading(now=T0))
    expect_error(ErrorKind.CONFLICT, "busy", lambda: device.authorize(now=T0))
    ignored = of(device.present_card(present("visa-approved"), now=T0), CardIgnored)
    assert ignored[0].reason == "not_reading"


# --- commit, cancel, increment, expiry ------------------------------------------------------


def test_commit_captures(device: Device, present: Present) -> None:
    session_id = authorized(device, present)
    effects = device.commit(session_id, 1234, now=at(60))
    result = step(effects)
    assert result.step == "committed"
    assert (result.data["captured_amount"], result.data["capture_status"]) == (1234, "SUCCESS")
    assert result.data["eft_data"][-1] == "Amount: EUR 12.34"
    session = device.sessions[session_id]
    assert session.state is SessionState.COMMITTED and session.commit_amount == 1234
    assert f"expiry:{session_id}" in cancelled(effects)


def test_commit_twice_and_cancel_after_commit_conflict(device: Device, present: Present) -> None:
    session_id = authorized(device, present)
    device.commit(session_id, 100, now=T0)
    err = expect_error(
        ErrorKind.CONFLICT, "session_completed", lambda: device.commit(session_id, 100, now=T0)
    )
    assert err.details["session_state"] == "COMMITTED"
    expect_error(ErrorKind.CONFLICT, "session_completed", lambda: device.cancel(session_id, now=T0))
    expect_error(
        ErrorKind.CONFLICT, "session_completed", lambda: device.increment(session_id, 5, now=T0)
    )


def test_commit_checks(device: Device, present: Present) -> None:
    session_id = authorized(device, present)
    expect_error(ErrorKind.NOT_FOUND, "unknown_session", lambda: device.commit("x", 1, now=T0))
    err = expect_error(
        ErrorKind.INVALID,
        "amount_exceeds_authorization",
        lambda: device.commit(session_id, 5001, now=T0),
    )
    assert err.details["authorized_amount"] == 5000
    expect_error(ErrorKind.INVALID, "invalid_amount", lambda: device.commit(session_id, -1, now=T0))
    # Refusals change nothing.
    assert device.sessions[session_id].state is SessionState.AUTHORIZED


def test_commit_capped_at_the_authorization(device: Device, present: Present) -> None:
    session_id = authorized(device, present)
    result = step(device.commit(session_id, 7000, now=T0, cap_at_authorized=True))
    assert (result.data["captured_amount"], result.data["capture_status"]) == (
        5000,
        "PARTIAL_SUCCESS",
    )
    assert result.data["commit_amount"] == 7000


def test_commit_message_is_shown(device: Device, present: Present) -> None:
    session_id = authorized(device, present)
    effects = device.commit(session_id, 100, now=T0, message="Thank you", message_timeout=2)
    assert device.screen.properties["message"] == "Thank you"
    assert started(effects)["message"] == 2


def test_capture_failure_is_reported(device: Device, present: Present) -> None:
    session_id = authorized(device, present, "mastercard-capture-fails")
    result = step(device.commit(session_id, 100, now=T0))
    assert (result.data["capture_status"], result.data["captured_amount"]) == ("FAILED", 0)
    assert result.data["state"] == "COMMITTED"


def test_cancel_voids(device: Device, present: Present) -> None:
    session_id = authorized(device, present)
    effects = device.cancel(session_id, now=T0)
    assert step(effects).step == "cancelled"
    assert device.sessions[session_id].state is SessionState.CANCELLED
    assert device.sessions[session_id].void == {
        "status": "SUCCESS",
        "released": 5000,
        "currency": "EUR",
    }
    expect_error(ErrorKind.CONFLICT, "session_completed", lambda: device.cancel(session_id, now=T0))


def test_increment(device: Device, present: Present) -> None:
    session_id = authorized(device, present, "visa-incremental", 2000)
    result = step(device.increment(session_id, 1000, now=T0))
    assert result.step == "incremented" and result.data["authorized_amount"] == 3000
    assert device.sessions[session_id].authorized_amount == 3000
    assert step(device.commit(session_id, 3000, now=T0)).data["capture_status"] == "SUCCESS"

    plain = authorized(device, present)
    result = step(device.increment(plain, 1000, now=T0))
    assert result.step == "increment_declined" and result.data["response_code"] == "57"
    assert device.sessions[plain].authorized_amount == 5000
    expect_error(ErrorKind.INVALID, "invalid_amount", lambda: device.increment(plain, 0, now=T0))


def test_uncommitted_session_expires(device: Device, present: Present) -> None:
    session_id = authorized(device, present)
    result = step(device.timer_fired(f"expiry:{session_id}", now=at(7 * 24 * 3600)))
    assert result.step == "expired"
    assert device.sessions[session_id].state is SessionState.EXPIRED
    expect_error(
        ErrorKind.CONFLICT, "session_completed", lambda: device.commit(session_id, 1, now=T0)
    )


def test_several_sessions_at_once(device: Device, present: Present) -> None:
    first = authorized(device, present, "visa-approved", 5000)
    second = authorized(device, present, "mastercard-approved", 3000)
    assert first != second
    assert [s.session_id for s in device.open_sessions()] == [first, second]
    device.commit(first, 4000, now=T0)
    assert [s.session_id for s in device.open_sessions()] == [second]
    # Tap to Stop: the card that holds an open session says so when read again.
    device.start_reading(now=T0)
    card = of(device.present_card(present("mastercard-approved"), now=T0), CardRead)[0]
    assert card.sessions == (second,)


def test_completed_sessions_are_bounded_but_queued_ones_are_kept(
    device: Device, present: Present
) -> None:
    ids = [authorized(device, present) for _ in range(13)]
    for n, session_id in enumerate(ids[:11]):
        device.commit(session_id, 1, now=at(10 + n))
    assert ids[0] not in device.sessions  # the oldest completed one is forgotten
    assert len(device.sessions) == 12  # ten completed, two open
    device.go_offline(now=at(30))
    device.cancel(ids[11], now=at(31))
    device.cancel(ids[12], now=at(32))
    assert ids[1] not in device.sessions
    assert {ids[11], ids[12]} <= set(device.sessions)  # queued: never forgotten
    effects = device.go_online(now=at(40))
    assert [s.session_id for s in of(effects, PaymentStep)] == ids[11:]


# --- forced outcome -----------------------------------------------------------------------------


def test_forced_outcome_beats_the_card(device: Device, present: Present) -> None:
    device.force_outcome("insufficient_funds")
    read(device, present, "visa-approved")
    assert step(device.authorize(now=T0)).data["response_code"] == "51"

    device.force_outcome("capture_fails")
    session_id = authorized(device, present, "visa-approved")
    assert step(device.commit(session_id, 100, now=T0)).data["capture_status"] == "FAILED"

    device.force_outcome(None)
    session_id = authorized(device, present, "visa-approved")
    assert step(device.commit(session_id, 100, now=T0)).data["capture_status"] == "SUCCESS"
    err = expect_error(ErrorKind.INVALID, "invalid_outcome", lambda: device.force_outcome("meh"))
    assert "partial_capture" in err.details["accepted"]


# --- integrator screens -------------------------------------------------------------------------


def test_show_and_press(device: Device) -> None:
    effects = device.show(SELECTION, now=T0)
    assert of(effects, ScreenChanged)[0].screen == SELECTION
    assert device.screen.keys == ["start"]
    effects = device.press("start", now=at(1))
    assert of(effects, UiEvent) == [UiEvent("home", "start")]
    assert of(effects, UiEvent)[0].as_json() == {"screenId": "home", "response": "start"}
    assert started(effects) == {"screensaver": 30.0}  # a touch restarts the idle time
    err = expect_error(ErrorKind.INVALID, "unknown_key", lambda: device.press("stop", now=T0))
    assert err.details["accepted"] == ["start"]


def test_no_keys_on_the_idle_carousel(device: Device) -> None:
    err = expect_error(ErrorKind.INVALID, "unknown_key", lambda: device.press("x", now=T0))
    assert err.details["accepted"] == []


def test_a_screen_sent_during_payment_is_held_until_the_display_is_released(
    device: Device, present: Present
) -> None:
    device.start_reading(now=T0, amount=5000)
    effects = device.show(SELECTION, now=at(1))
    assert not of(effects, ScreenChanged)
    assert device.held and device.held_screen == SELECTION
    assert device.screen.id == "payter.present_card"
    device.present_card(present("visa-approved"), now=at(2))
    assert device.screen.type == "payment"
    effects = device.authorize(now=at(3))
    assert of(effects, ScreenChanged)[0].screen == SELECTION
    assert not device.held


def test_held_screen_comes_after_the_authorize_message(device: Device, present: Present) -> None:
    read(device, present)
    device.show(SELECTION, now=T0)
    device.authorize(now=T0, message="Approved", message_timeout=3)
    assert device.screen.type == "notification"
    effects = device.timer_fired("message", now=at(3))
    assert of(effects, ScreenChanged)[0].screen == SELECTION


def test_reading_can_keep_the_integrators_screen(device: Device, present: Present) -> None:
    device.show(SELECTION, now=T0)
    effects = device.start_reading(now=T0, keep_screen=True, timeout=0)
    assert not of(effects, ScreenChanged)
    assert device.state is State.READING and device.screen == SELECTION
    assert of(device.press("start", now=T0), UiEvent)  # still pressable
    assert of(device.present_card(present("visa-approved"), now=T0), CardRead)
    assert device.screen == SELECTION


def test_new_screen_replaces_a_message(device: Device) -> None:
    device.stop_reading(now=T0, message="Bye")
    assert device.screen.type == "notification"
    effects = device.show(SELECTION, now=at(1))
    assert device.screen == SELECTION
    assert "message" in cancelled(effects)


# --- screensaver -----------------------------------------------------------------------------


def test_screensaver_after_idle_and_touch_wakes(device: Device) -> None:
    device.show(SELECTION, now=T0)
    effects = device.timer_fired("screensaver", now=at(30))
    assert device.screen.type == "screensaver" and device.screen.keys == ["touch"]
    assert not started(effects)
    effects = device.press("touch", now=at(40))
    assert device.screen == SELECTION
    assert not of(effects, UiEvent)
    assert started(effects) == {"screensaver": 30.0}


def test_card_wakes_the_screensaver(device: Device, present: Present) -> None:
    device.timer_fired("screensaver", now=at(30))
    effects = device.present_card(present("visa-approved"), now=at(31))
    assert of(effects, CardIgnored) and device.screen.id == "payter.idle"


def test_screensaver_can_be_disabled(make_device: Callable[..., Device]) -> None:
    quiet = make_device(timeouts=Timeouts(screensaver=None))
    assert "screensaver" not in quiet.timers
    never = make_device(timeouts=Timeouts(screensaver=2147483647))
    assert "screensaver" not in never.timers


def test_a_screen_can_keep_the_screensaver_away(device: Device) -> None:
    effects = device.show(SELECTION, now=T0, screensaver=False)
    assert "screensaver" in cancelled(effects) and "screensaver" not in device.timers
    assert device.timer_fired("screensaver", now=at(30)) == []
    assert device.screen == SELECTION
    effects = device.show(SELECTION, now=at(40))
    assert started(effects) == {"screensaver": 30.0}
    device.show(SELECTION, now=at(41), screensaver=False)
    restored = Device.from_dict(device.to_dict(), acquirer=device.acquirer)
    assert restored.app_screensaver is False


def test_integrator_screensaver_reports_the_touch(device: Device) -> None:
    own = Screen.parse({"id": "saver", "type": "screensaver", "properties": {"title": "Hi"}})
    device.show(own, now=T0)
    assert of(device.press("touch", now=T0), UiEvent) == [UiEvent("saver", "touch")]


# --- offline ---------------------------------------------------------------------------------


def test_going_offline_ends_reading_and_refuses_commands(device: Device, present: Present) -> None:
    read(device, present)
    effects = device.go_offline(now=at(1))
    assert of(effects, StateChanged)[0].as_json() == {
        "online": False,
        "state": "IDLE",
        "previous_online": True,
        "previous_state": "CARD",
    }
    assert of(effects, ReadingStopped)[0].reason == "offline"
    assert device.screen.id == "payter.offline"
    assert "card_read" in cancelled(effects)
    assert device.timers == {}  # no screensaver on an offline terminal
    assert device.go_offline(now=at(2)) == []
    for call in (
        lambda: device.start_reading(now=T0, amount=1),
        lambda: device.stop_reading(now=T0),
        lambda: device.show(SELECTION, now=T0),
        lambda: device.authorize(now=T0, amount=1),
    ):
        expect_error(ErrorKind.UNAVAILABLE, "terminal_offline", call)
    assert of(device.present_card(present("visa-approved"), now=T0), CardIgnored)[0].reason == (
        "offline"
    )


def test_offline_during_pin_entry_declines(device: Device, present: Present) -> None:
    read(device, present, "visa-pin")
    device.authorize(now=T0)
    result = step(device.go_offline(now=at(5)))
    assert (result.step, result.data["response_code"]) == ("declined", "91")
    assert device.state is State.IDLE and device.pending is None


def test_commits_while_offline_are_queued_and_run_when_back(
    device: Device, present: Present
) -> None:
    first = authorized(device, present)
    second = authorized(device, present, "mastercard-approved", 3000)
    device.go_offline(now=at(1))
    queued = step(device.commit(first, 1200, now=at(2), message="not shown"))
    assert (queued.step, queued.data) == ("commit_queued", {"amount": 1200})
    assert device.sessions[first].state is SessionState.COMMITTED
    assert device.sessions[first].queued == "commit"
    assert device.sessions[first].capture_status is None
    expect_error(ErrorKind.CONFLICT, "session_completed", lambda: device.commit(first, 1, now=T0))
    expect_error(
        ErrorKind.UNAVAILABLE, "terminal_offline", lambda: device.increment(second, 1, now=T0)
    )
    assert step(device.cancel(second, now=at(3))).step == "cancel_queued"

    effects = device.go_online(now=at(10))
    assert of(effects, StateChanged)[0].online is True
    assert [(s.step, s.session_id) for s in of(effects, PaymentStep)] == [
        ("committed", first),
        ("cancelled", second),
    ]
    assert device.sessions[first].captured_amount == 1200
    assert device.sessions[first].queued is None and device.queue == []
    assert device.screen.id == "payter.idle"
    assert device.go_online(now=at(11)) == []


# --- persistence -------------------------------------------------------------------------------


def test_round_trip_in_the_middle_of_a_pin_entry(device: Device, present: Present) -> None:
    open_session = authorized(device, present)
    device.go_offline(now=T0)
    device.commit(open_session, 100, now=T0)
    device.go_online(now=T0)
    kept = authorized(device, present, "visa-incremental", 2000)
    device.increment(kept, 500, now=T0)
    read(device, present, "visa-pin")
    device.show(SELECTION, now=T0)
    pin = step(device.authorize(now=T0, message="OK"))
    device.force_outcome("partial_capture")
    device.press("1", now=T0)

    data = device.to_dict()
    copy = Device.from_dict(data, acquirer=Acquirer(Ids(99)))
    assert copy.to_dict() == data
    assert copy.as_json() == device.as_json()

    for digit in "234":
        copy.press(digit, now=at(5))
    result = step(copy.press("ok", now=at(6)))
    assert (result.step, result.session_id) == ("authorized", pin.session_id)
    assert copy.screen.properties["message"] == "OK"
    copy.timer_fired("message", now=at(9))
    assert copy.screen == SELECTION
    capture = step(copy.commit(kept, 2500, now=at(10)))
    assert capture.data["capture_status"] == "PARTIAL_SUCCESS"  # forced outcome survived


def test_round_trip_through_stored_json(device: Device, present: Present) -> None:
    """The store gives numbers back as Decimal; timers must still work."""
    from emulator import jsonio

    device.start_reading(now=T0, amount=5000, timeout=12.5)
    device.stop_reading(now=T0, message="bye", message_timeout=2.5)
    copy = Device.from_dict(jsonio.loads(jsonio.dumps(device.to_dict())), acquirer=device.acquirer)
    copy.start_reading(now=T0, amount=100)
    assert copy.to_dict()["timers"]["card_presentation"] == at(60).isoformat()
    assert copy.timer_due("card_presentation") == at(60)
