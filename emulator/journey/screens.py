"""The journey's screens, built by pure functions from the journey (or the terminal's offer) and
the texts in the driver's language (journey-screens.md). The executor shows what these return;
nothing here reads the store, the clock or the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from emulator.datetimes import parse_datetime
from emulator.journey.model import Journey, Money
from emulator.journey.texts import Texts, language_name, money
from emulator.terminal.screens import OUT_OF_SERVICE, Screen

HOME = "journey.home"
CHOOSE = "journey.choose"
TARIFF = "journey.tariff"
NOTICE = "journey.notice"
STARTING_SCREEN = "journey.starting"
STOPPING_SCREEN = "journey.stopping"
PAYMENT_SCREEN = "journey.payment"  # held under Payter's own payment screens
STOP = "journey.stop"
STOP_CONFIRM = "journey.stop_confirm"
RECEIPTS = "journey.receipts"
RECEIPT = "journey.receipt"
LANGUAGE = "journey.language"
OUT = "journey.out"

STANDARDS = {
    "IEC_62196_T2": "Type 2",
    "IEC_62196_T2_COMBO": "CCS",
    "IEC_62196_T1": "Type 1",
    "IEC_62196_T1_COMBO": "CCS1",
    "CHADEMO": "CHAdeMO",
    "DOMESTIC_F": "Schuko",
    "GBT_AC": "GB/T AC",
    "GBT_DC": "GB/T DC",
    "SAE_J3400": "NACS",
    "MCS": "MCS",
}


@dataclass(frozen=True)
class Choice:
    """One connector the terminal offers on the charger list."""

    location_id: str
    evse_uid: str
    connector_id: str
    label: str
    status: str
    standard: str | None
    power: Any


def notice(
    texts: Texts,
    title_key: str,
    message: str,
    *,
    icon: str | None = None,
    advice: str | None = None,
) -> Screen:
    props = {"title": texts.t(title_key), "message": message}
    if advice:
        props["advice"] = advice
    if icon:
        props["icon"] = icon
        props["color"] = "1" if icon == "approved" else "2"
    else:
        props["color"] = "0"
    return Screen("notification", NOTICE, props)


def screen_for(journey: Journey, texts: Texts, name: str, **values: Any) -> Screen:
    """The screen ``name`` of a journey's progress (the names :mod:`emulator.journey.step`
    asks for)."""
    if name == "approved":
        props = {
            "title": texts.t("approved"),
            "icon": "approved",
            "color": "1",
            "message": money(journey.preauth_amount, journey.currency),
        }
        return Screen("notification", NOTICE, props)
    if name == "starting":
        return Screen(
            "info",
            STARTING_SCREEN,
            {"title": texts.t("starting.title"), "subtitle": texts.t("starting.subtitle")},
        )
    if name == "started":
        message = texts.t("started.message", number=journey.label)
        return notice(texts, "started.title", message, icon="approved")
    if name == "start_failed":
        message = f"{texts.t(values['reason_key'])} {texts.t('failed.no_charge')}"
        return notice(texts, "failed.title", message, icon="declined")
    if name == "declined":
        return notice(
            texts,
            "declined",
            str(values.get("response_text") or ""),
            icon="declined",
            advice=texts.t("declined.advice"),
        )
    if name == "card_timeout":
        return notice(texts, "timeout.title", texts.t("timeout.message"), icon="declined")
    if name == "stopping":
        return Screen("info", STOPPING_SCREEN, {"title": texts.t("stopping.title")})
    if name == "stopped":
        return notice(texts, "stopped.title", texts.t("stopped.message"))
    if name == "stopped_no_charge":
        return notice(texts, "stopped.title", texts.t("failed.no_charge"))
    if name == "stop_failed":
        return notice(texts, "stop.title", texts.t("stop.failed"), icon="declined")
    raise ValueError(f"no journey screen {name!r}")


def out_of_service(texts: Texts, why: str = "") -> Screen:
    """Screen 18; ``why`` (no CPO registered, no chargers assigned, ...) is for the person
    running the emulator: the control API reports it as the terminal's ``out_of_service``."""
    props = {"title": texts.t("out.title"), "subtitle": texts.t("out.subtitle")}
    if why:
        props[OUT_OF_SERVICE] = why
    return Screen("info", OUT, props)


def home(texts: Texts, site: str | None, several_languages: bool) -> Screen:
    props = {"title": texts.t("home.title", site=site or "Payter"), "type": "3"}
    for key in ("start", "stop", "receipt"):
        props[f"items.{key}"] = ""
        props[f"items.{key}.label"] = texts.t(f"home.{key}")
    if several_languages:
        props["items.language"] = ""
        props["items.language.label"] = texts.t("home.language")
    return Screen("selection", HOME, props)


def choose(texts: Texts, choices: Sequence[Choice]) -> Screen:
    props = {"title": texts.t("choose.title"), "type": "3"}
    for index, choice in enumerate(choices, start=1):
        key = f"evse{index}"
        power = choice.power
        props[f"items.{key}"] = ""
        props[f"items.{key}.label"] = texts.t(
            "choose.item",
            number=choice.label,
            standard=STANDARDS.get(str(choice.standard), choice.standard),
            power=f"{int(power) // 1000} kW" if power else "-",
            status=texts.t(f"status.{choice.status}"),
        )
        if choice.status != "AVAILABLE":
            props[f"items.{key}.disabled"] = "true"
    props["buttons.back.label"] = texts.t("back")
    return Screen("selection", CHOOSE, props)


def tariff(texts: Texts, lines: Sequence[str], amount: int, currency: str) -> Screen:
    message = [*lines, texts.t("tariff.reserve", amount=money(amount, currency))]
    props = {
        "title": texts.t("tariff.title"),
        "message": "\n".join(message),
        "buttons.accept.label": texts.t("tariff.accept"),
        "buttons.cancel.label": texts.t("tariff.cancel"),
    }
    return Screen("message", TARIFF, props)


def languages(texts: Texts, codes: Sequence[str]) -> Screen:
    props = {"title": texts.t("language.title"), "type": "3"}
    for lang in codes:
        props[f"items.{lang}"] = ""
        props[f"items.{lang}.label"] = language_name(lang)
    props["buttons.back.label"] = texts.t("back")
    return Screen("selection", LANGUAGE, props)


def processing(texts: Texts) -> Screen:
    return Screen("info", PAYMENT_SCREEN, {"title": texts.t("processing")})


def stop_list(texts: Texts, active: Sequence[Journey], *, listed: bool = False) -> Screen:
    """Stop: the terminal reads the card the driver paid with (Payter advises a stop
    authenticated by that card); only Back is offered. ``listed`` (setting
    journey_stop_list) also offers the running sessions to choose without the card."""
    tap = "stop.tap" if listed else "stop.tap_card"
    props: dict[str, str] = {
        "title": texts.t("stop.title"),
        "type": "1",
        "subtitle": texts.t(tap if active else "stop.none"),
    }
    for index, journey in enumerate(active if listed else (), start=1):
        key = f"s{index}"
        props[f"items.{key}"] = ""
        props[f"items.{key}.label"] = texts.t(
            "stop.item", number=journey.label, kwh=f"{float(journey.kwh or 0):.2f}"
        )
        props[f"items.{key}.amount"] = decimal_text(journey.session_cost)
        props[f"items.{key}.currency"] = journey.currency or "EUR"
    props["buttons.back.label"] = texts.t("back")
    return Screen("selection", STOP, props)


def stop_confirm(texts: Texts, journey: Journey) -> Screen:
    props = {
        "title": texts.t("stop.title"),
        "message": texts.t("stop.confirm", number=journey.label),
        "buttons.yes.label": texts.t("yes"),
        "buttons.no.label": texts.t("no"),
    }
    return Screen("message", STOP_CONFIRM, props)


def receipt_list(texts: Texts, recent: Sequence[Journey]) -> Screen:
    props: dict[str, str] = {
        "title": texts.t("receipt.title"),
        "type": "1",
        "subtitle": texts.t("receipt.tap" if recent else "receipt.none"),
    }
    for index, journey in enumerate(recent, start=1):
        key = f"r{index}"
        props[f"items.{key}"] = ""
        props[f"items.{key}.label"] = texts.t(
            "receipt.item", date=_minute(journey.created_at), number=journey.label
        )
        props[f"items.{key}.amount"] = decimal_text(journey.captured_amount)
        props[f"items.{key}.currency"] = journey.currency or "EUR"
    props["buttons.back.label"] = texts.t("back")
    return Screen("selection", RECEIPTS, props)


def receipt(
    texts: Texts, journey: Journey, session: Mapping[str, Any] | None, qr: str | None
) -> Screen:
    duration = "-"
    if session and session.get("start_date_time") and session.get("end_date_time"):
        seconds = (
            parse_datetime(session["end_date_time"]) - parse_datetime(session["start_date_time"])
        ).total_seconds()
        duration = _duration_text(seconds)
    lines = texts.t(
        "receipt.lines",
        amount=money(journey.captured_amount, journey.currency or "EUR"),
        kwh=f"{float(journey.kwh or 0):.2f}",
        duration=duration,
        date=_minute(journey.created_at),
    )
    if journey.money != Money.CAPTURED:
        lines += "\n" + texts.t("receipt.pending")
    props = {
        "title": texts.t("receipt.detail"),
        "subtitle": lines,
        "buttons.back.label": texts.t("back"),
    }
    if qr:
        props["qr"] = qr
        props["title"] = texts.t("receipt.qr")
    return Screen("info", RECEIPT, props)


def _minute(stamp: str) -> str:
    return stamp[:16].replace("T", " ")


def decimal_text(minor: Any) -> str:
    if minor is None:
        return ""
    return f"{Decimal(int(minor)) / 100:.2f}"


def _duration_text(seconds: float) -> str:
    """``1 h 05 min`` or ``45 min``: hours and minutes cannot be mistaken for each other."""
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
