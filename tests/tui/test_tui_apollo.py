"""The TUI draws the screen as the terminal reads it (the control API's ``view``)."""

from __future__ import annotations

import copy

from fake_api import screen

from tui.apollo import ApolloScreen


def test_items_buttons_and_shortcuts_come_from_the_view() -> None:
    s = ApolloScreen.from_json(screen("selection_connectors"))
    assert [i.name for i in s.items] == ["evse1", "evse2", "evse3"]
    assert s.items[1].disabled and not s.items[0].disabled
    # The amount as the terminal writes it for the driver (4500 minor units).
    assert s.items[2].amount_text == "€45.00"
    assert [b.name for b in s.buttons] == ["back"]
    assert s.keys == ("evse1", "evse3", "back")
    assert s.shortcut_keys == ["evse1", "evse3", "back"]
    assert s.selection_type == 1


def test_the_flat_properties_are_never_read_again() -> None:
    """What the terminal reports is what is drawn, even where its properties say otherwise."""
    data = copy.deepcopy(screen("selection_connectors"))
    data["properties"]["title"] = "Not this"
    data["properties"]["items.evse1.label"] = "Not this either"
    data["view"]["title"] = "Choose a charger"
    s = ApolloScreen.from_json(data)
    assert s.title == "Choose a charger"
    assert s.items[0].label == "Charger 1 · CCS · 150 kW · Available"


def test_a_screen_without_view_is_said_not_guessed() -> None:
    data = copy.deepcopy(screen("selection_home"))
    del data["view"]
    s = ApolloScreen.from_json(data)
    assert (s.type, s.title, s.keys, s.items) == ("info", "Screen not shown", (), ())


def test_carousel_cards_and_language_button() -> None:
    s = ApolloScreen.from_json(screen("carousel"))
    assert [c.logo for c in s.cards] == ["visa", "mastercard", "maestro", "amex"]
    assert s.buttons[1].language and not s.buttons[0].language


def test_notification_colour_and_icon() -> None:
    assert ApolloScreen.from_json(screen("notification_approved")).color == "green"
    declined = ApolloScreen.from_json(screen("notification_declined"))
    assert declined.color == "red" and declined.icon == "declined"


def test_payment_screens() -> None:
    present = ApolloScreen.from_json(screen("payment_present_card"))
    assert present.phase == "present_card" and present.payment is not None
    assert present.payment.media == ("contactless", "chip")
    assert present.payment.amount_text == "€50.00"
    pin = ApolloScreen.from_json(screen("payment_pin"))
    assert pin.payment is not None and pin.payment.pin_digits == 2
    assert pin.hint == "Test PIN: any 4-12 digits, then OK"
    assert ApolloScreen.from_json(screen("info_starting")).phase is None


def test_out_of_service_reason() -> None:
    s = ApolloScreen.from_json(screen("info_out_of_service"))
    assert s.out_of_service == "no CPO registered"


def test_missing_screen() -> None:
    s = ApolloScreen.from_json(None)
    assert s.type == "info" and s.title == "No screen" and s.keys == ()
