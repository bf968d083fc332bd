from __future__ import annotations

from typing import Any

import pytest

from emulator.terminal.screens import (
    PIN_KEYS,
    Screen,
    ScreenError,
    idle_screen,
    notification_screen,
    offline_screen,
    payment_screen,
    screensaver_screen,
)

# Payter's carousel example (payter.md §4.3), with two buttons added.
CAROUSEL = {
    "id": "test",
    "type": "carousel",
    "properties": {
        "title": "Welcome",
        "subtitle": "Press start",
        "cards.0": "",
        "cards.0.logo": "mastercard",
        "cards.0.cardholder": "Mastercard",
        "cards.1": "",
        "cards.1.logo": "visa",
        "buttons.start": "",
        "buttons.start.label": "Start",
        "buttons.lang": "",
        "buttons.lang.label": "EN",
        "buttons.lang.language": "true",
    },
}

SELECTION = {
    "id": "chargers",
    "type": "selection",
    "properties": {
        "title": "Choose charger",
        "type": "1",
        "items.evse2": "",
        "items.evse2.label": "2 - CCS - Charging",
        "items.evse2.disabled": "true",
        "items.evse1": "",
        "items.evse1.label": "1 - CCS - Available",
        "items.evse1.amount": "0.35",
        "items.evse1.currency": "EUR",
        "buttons.back.label": "Back",
    },
}


def test_carousel_is_parsed_into_cards_and_buttons_in_order() -> None:
    screen = Screen.parse(CAROUSEL)
    assert screen.type == "carousel" and screen.id == "test"
    assert [(c.name, c.logo, c.cardholder) for c in screen.cards()] == [
        ("0", "mastercard", "Mastercard"),
        ("1", "visa", None),
    ]
    buttons = screen.buttons()
    assert [(b.name, b.label, b.language) for b in buttons] == [
        ("start", "Start", False),
        ("lang", "EN", True),
    ]
    assert screen.keys == ["start", "lang"]


def test_selection_items_keep_their_order_and_disabled_ones_cannot_be_pressed() -> None:
    screen = Screen.parse(SELECTION)
    items = screen.items()
    assert [i.name for i in items] == ["evse2", "evse1"]
    assert items[0].disabled is True
    assert (items[1].label, items[1].amount, items[1].currency) == (
        "1 - CCS - Available",
        "0.35",
        "EUR",
    )
    assert items[1].disabled is False
    assert screen.keys == ["evse1", "back"]
    view = screen.view()
    assert view["title"] == "Choose charger"
    assert [i["name"] for i in view["items"]] == ["evse2", "evse1"]
    assert view["buttons"] == [
        {"name": "back", "label": "Back", "transparent": False, "language": False}
    ]
    assert view["keys"] == ["evse1", "back"]


def test_as_json_is_exactly_type_id_properties_keys_and_the_view() -> None:
    screen = Screen.parse(SELECTION)
    data = screen.as_json()
    assert set(data) == {"type", "id", "properties", "keys", "view"}
    assert data["properties"] == SELECTION["properties"]
    assert data["keys"] == ["evse1", "back"]
    assert data["view"] == screen.view()


def test_the_view_is_everything_a_renderer_needs() -> None:
    screen = Screen.parse(SELECTION)
    view = screen.view()
    assert view["selection_type"] == 1
    # Amounts as a driver reads them: a decimal point means major units, digits minor units.
    assert [i["amount_text"] for i in view["items"]] == [None, "€0.35"]
    assert (
        Screen.parse(
            {
                "id": "s",
                "type": "selection",
                "properties": {"items.a.amount": "1250", "items.a.currency": "SEK"},
            }
        ).view()["items"][0]["amount_text"]
        == "SEK 12.50"
    )
    notice = Screen.parse(
        {"id": "n", "type": "notification", "properties": {"icon": "declined", "advice": "Try"}}
    ).view()
    assert (notice["icon"], notice["color"], notice["advice"]) == ("declined", "red", "Try")
    saver = Screen.parse({"id": "q", "type": "screensaver", "properties": {"qrcode": "X"}})
    assert (saver.view()["qr"], saver.view()["keys"]) == ("X", ["touch"])


def test_the_present_card_message_names_only_the_media_read() -> None:
    card_only = payment_screen(
        "present_card", amount=5000, currency="EUR", media=("contactless", "chip")
    )
    assert card_only.properties["message"] == "Tap or insert your card"
    every = payment_screen(
        "present_card", amount=None, currency=None, media=("contactless", "chip", "qr")
    )
    assert every.properties["message"] == "Tap, insert or scan your card"
    view = card_only.view()["payment"]
    assert (view["amount"], view["amount_text"], view["media"]) == (
        5000,
        "€50.00",
        ["contactless", "chip"],
    )


def test_numbers_and_booleans_become_strings() -> None:
    screen = Screen.parse(
        {"id": 7, "type": "info", "properties": {"offset": 100, "logo": True, "title": "Hi"}}
    )
    assert screen.id == "7"
    assert screen.properties == {"offset": "100", "logo": "true", "title": "Hi"}


def test_missing_properties_is_an_empty_screen() -> None:
    assert Screen.parse({"id": "x", "type": "info"}).properties == {}


def test_unknown_top_level_properties_are_kept() -> None:
    screen = Screen.parse({"id": "x", "type": "dispense", "properties": {"qr2": "abc"}})
    assert screen.properties["qr2"] == "abc"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("nope", "JSON object"),
        ({"id": "x", "type": "popup"}, "'type' must be one of"),
        ({"id": "x"}, "'type' must be one of"),
        ({"id": "x", "type": "payment", "properties": {"phase": "pin"}}, "'type' must be one of"),
        ({"type": "info"}, "'id'"),
        ({"id": "  ", "type": "info"}, "'id'"),
        ({"id": "x", "type": "info", "properties": []}, "'properties' must be an object"),
        ({"id": "x", "type": "info", "properties": {"title": None}}, "'title' must be a string"),
        ({"id": "x", "type": "info", "properties": {"title": {"a": 1}}}, "must be a string"),
        ({"id": "x", "type": "notification", "properties": {"icon": "ok"}}, "'icon'"),
        ({"id": "x", "type": "notification", "properties": {"color": "3"}}, "'color'"),
        ({"id": "x", "type": "info", "properties": {"offset": "421"}}, "'offset'"),
        ({"id": "x", "type": "info", "properties": {"offset": "high"}}, "'offset'"),
        ({"id": "x", "type": "info", "properties": {"logo": "yes"}}, "'logo'"),
        ({"id": "x", "type": "selection", "properties": {"type": "4"}}, "selection 'type'"),
        (
            {"id": "x", "type": "selection", "properties": {"items.a.lable": "A"}},
            "unknown attribute",
        ),
        ({"id": "x", "type": "selection", "properties": {"items..label": "A"}}, "name is empty"),
        ({"id": "x", "type": "selection", "properties": {"items.a.disabled": "1"}}, "'true' or"),
        ({"id": "x", "type": "carousel", "properties": {"cards.0.logo": "diners"}}, "cards.0.logo"),
        (
            {
                "id": "x",
                "type": "carousel",
                "properties": {"buttons.a": "", "buttons.b": "", "buttons.c": ""},
            },
            "at most two buttons",
        ),
    ],
)
def test_malformed_screens_are_refused_with_a_clear_message(body: Any, fragment: str) -> None:
    with pytest.raises(ScreenError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        Screen.parse(body)


def test_payment_screens_are_parsed_when_allowed() -> None:
    body = {
        "id": "p",
        "type": "payment",
        "properties": {
            "phase": "present_card",
            "amount": "5000",
            "currency": "EUR",
            "media": "contactless,qr",
        },
    }
    view = Screen.parse(body, allow_payment=True).payment()
    assert view is not None
    assert (view.phase, view.amount, view.currency, view.media) == (
        "present_card",
        5000,
        "EUR",
        ("contactless", "qr"),
    )
    with pytest.raises(ScreenError, match="phase"):
        Screen.parse({"id": "p", "type": "payment", "properties": {}}, allow_payment=True)
    with pytest.raises(ScreenError, match="amount"):
        Screen.parse(
            {"id": "p", "type": "payment", "properties": {"phase": "pin", "amount": "5.00"}},
            allow_payment=True,
        )
    with pytest.raises(ScreenError, match="currency"):
        Screen.parse(
            {"id": "p", "type": "payment", "properties": {"phase": "pin", "currency": "euro"}},
            allow_payment=True,
        )


def test_keys_of_special_screens() -> None:
    assert screensaver_screen().keys == ["touch"]
    pin = payment_screen("pin", amount=100, currency="EUR", pin_digits=3)
    assert pin.keys == list(PIN_KEYS)
    assert pin.properties["pin"] == "***"
    assert payment_screen("present_card", amount=100, currency="EUR").keys == []
    assert notification_screen("Done").keys == []


def test_built_in_screens_are_valid_screens() -> None:
    screens = [
        idle_screen(),
        payment_screen("present_card", amount=5000, currency="EUR", media=("contactless",)),
        payment_screen("pin", amount=5000, currency="EUR"),
        payment_screen("processing", amount=None, currency=None),
        notification_screen("Approved", icon="approved"),
        notification_screen("Declined", icon="declined"),
        screensaver_screen(),
        offline_screen(),
    ]
    for screen in screens:
        assert Screen.parse(screen.to_dict(), allow_payment=True) == screen


def test_idle_screen_advertises_every_brand() -> None:
    logos = [c.logo for c in idle_screen().cards()]
    assert logos == ["mastercard", "visa", "maestro", "vpay", "amex", "discover"]
    assert idle_screen().properties["title"] == "Welcome"


def test_notification_colours_follow_the_icon() -> None:
    assert notification_screen("ok", icon="approved").properties["color"] == "1"
    assert notification_screen("no", icon="declined").properties["color"] == "2"
    assert notification_screen("fyi").properties["color"] == "0"


def test_round_trip_through_dict() -> None:
    screen = Screen.parse(SELECTION)
    assert Screen.from_dict(screen.to_dict()) == screen


def test_the_pin_screen_tells_the_tester_the_test_pin_apart_from_the_display() -> None:
    pin = payment_screen("pin", amount=100, currency="EUR", hint="Test PIN: any 4 digits")
    assert pin.view()["hint"] == "Test PIN: any 4 digits"
    assert payment_screen("pin", amount=100, currency="EUR").view()["hint"] is None
