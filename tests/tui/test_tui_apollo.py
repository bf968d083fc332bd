"""The reading of flat Apollo screen properties (payter.md §4.3)."""

from __future__ import annotations

from fake_api import screen

from tui.apollo import ApolloScreen, format_item_amount, format_minor


def test_groups_keep_their_order_and_attributes() -> None:
    s = ApolloScreen.from_json(screen("selection_connectors"))
    items = s.items()
    assert [i.name for i in items] == ["evse1", "evse2", "evse3"]
    assert items[1].disabled and not items[0].disabled
    assert items[2].amount == "4500" and items[2].currency == "EUR"
    assert [b.name for b in s.buttons()] == ["back"]
    assert s.keys == ["evse1", "evse3", "back"]
    assert s.shortcut_keys == ["evse1", "evse3", "back"]


def test_keys_are_derived_when_the_emulator_gives_none() -> None:
    data = screen("selection_connectors")
    del data["keys"]
    assert ApolloScreen.from_json(data).keys == ["evse1", "evse3", "back"]
    pin = screen("payment_pin")
    del pin["keys"]
    assert ApolloScreen.from_json(pin).keys[-3:] == ["ok", "clear", "cancel"]
    saver = screen("screensaver")
    del saver["keys"]
    assert ApolloScreen.from_json(saver).keys == ["touch"]


def test_carousel_cards_and_language_button() -> None:
    s = ApolloScreen.from_json(screen("carousel"))
    assert [c.logo for c in s.cards()] == ["visa", "mastercard", "maestro", "amex"]
    buttons = s.buttons()
    assert buttons[1].language and not buttons[0].language


def test_notification_colour_and_icon() -> None:
    assert ApolloScreen.from_json(screen("notification_approved")).color == "green"
    declined = ApolloScreen.from_json(screen("notification_declined"))
    assert declined.color == "red" and declined.icon == "declined"
    no_colour = ApolloScreen("notification", "x", {"icon": "approved"})
    assert no_colour.color == "green"
    assert ApolloScreen("notification", "x", {"color": "0"}).color == "black"
    assert ApolloScreen("notification", "x", {"icon": "maybe"}).icon is None


def test_payment_reading() -> None:
    present = ApolloScreen.from_json(screen("payment_present_card"))
    assert present.phase == "present_card"
    assert present.media == ["contactless", "chip", "qr"]
    assert present.amount_text == "€ 50.00"
    assert ApolloScreen.from_json(screen("payment_pin")).pin_digits == 2
    assert ApolloScreen("payment", "p", {"phase": "odd"}).phase == "processing"
    assert ApolloScreen("info", "i", {}).phase is None


def test_amounts() -> None:
    assert format_minor(5000, "EUR") == "€ 50.00"
    assert format_minor("123", "SEK") == "kr 1.23"
    assert format_minor("", "EUR") == ""
    assert format_item_amount("12.50", "EUR") == "€ 12.50"
    assert format_item_amount("1250", "EUR") == "€ 12.50"
    assert format_item_amount("7", None) == "0.07"


def test_missing_screen() -> None:
    s = ApolloScreen.from_json(None)
    assert s.type == "info" and s.title == "No screen" and s.keys == []
