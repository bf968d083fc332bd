"""The side panes' tables: which columns a width keeps, the traffic path, the money column."""

from __future__ import annotations

from tui.widgets.card_wallet import COLUMNS as CARD_COLUMNS
from tui.widgets.fitted_table import PADDING, Column, ellipsis, fit_columns, short_id, wrapped
from tui.widgets.journeys_table import COLUMNS as JOURNEY_COLUMNS
from tui.widgets.journeys_table import money_text
from tui.widgets.traffic_log import COLUMNS as TRAFFIC_COLUMNS
from tui.widgets.traffic_log import fit_path, short_path

# The side pane's table width at 80 and at 120 columns (the pane less the scrollbar).
NARROW, WIDE = 44, 72


def _keys(columns: list[Column]) -> list[str]:
    return [c.key for c in columns]


def test_the_most_important_columns_that_fit_whole_in_table_order() -> None:
    columns = [Column("a", "A", 10, 2), Column("b", "B", 10, 0), Column("c", "C", 10, 1)]
    assert _keys(fit_columns(columns, 3 * (10 + PADDING))) == ["a", "b", "c"]
    assert _keys(fit_columns(columns, 2 * (10 + PADDING))) == ["b", "c"]
    assert _keys(fit_columns(columns, 10 + PADDING)) == ["b"]


def test_the_sessions_pane_keeps_where_state_and_money_at_80_columns() -> None:
    assert _keys(fit_columns(JOURNEY_COLUMNS, NARROW)) == ["evse", "state", "money"]
    wide = _keys(fit_columns(JOURNEY_COLUMNS, WIDE))
    assert wide[:3] == ["evse", "state", "money"] and {"fac", "capture"} <= set(wide)


def test_the_traffic_pane_keeps_status_and_path_at_80_columns() -> None:
    narrow = _keys(fit_columns(TRAFFIC_COLUMNS, NARROW))
    assert {"status", "path", "method"} <= set(narrow)
    assert _keys(fit_columns(TRAFFIC_COLUMNS, WIDE)) == [c.key for c in TRAFFIC_COLUMNS]


def test_the_path_says_what_the_exchange_was_about() -> None:
    start = short_path("http://127.0.0.1:8081/ocpi/cpo/2.3.0/commands/START_SESSION")
    stop = short_path("http://127.0.0.1:8081/ocpi/cpo/2.3.0/commands/STOP_SESSION")
    assert (start, stop) == ("commands/START_SESSION", "commands/STOP_SESSION")
    # What tells START and STOP apart fits the narrowest path column (20 cells).
    assert len(start) <= 22 and start != stop
    result = short_path(
        "http://h/ocpi/2.3.0/commands/START_SESSION/3f2a9c1d7e8b4a6f9c0d1e2f3a4b5c6d"
    )
    assert result == "commands/START_SESSION/3f2a9c1d…"
    session = "http://h/ocpi/2.3.0/sessions/NL/SIM/8f6d0558-4ef8-4a38-9227-66581e27a1c0"
    assert short_path(session) == "sessions/NL/SIM/8f6d0558…"
    assert short_path("http://h/cps/terminals/APO-1/start") == "cps/terminals/APO-1/start"
    assert short_path("http://h/ocpi/versions") == "versions"


def test_the_card_label_is_kept_at_every_width_and_wraps_where_narrow() -> None:
    """Issue 14: at 80 columns the wallet showed the outcome and the media but not the card."""
    assert _keys(fit_columns(CARD_COLUMNS, NARROW)) == ["card"]
    assert _keys(fit_columns(CARD_COLUMNS, WIDE)) == ["card"]
    label = "Mastercard (2-series), incremental authorization allowed"
    lines = wrapped(label, NARROW - PADDING)
    assert len(lines) == 2 and " ".join(lines) == label
    assert all(len(line) <= NARROW - PADDING for line in lines)


def test_a_flex_column_shrinks_to_its_least_width_but_no_further() -> None:
    columns = [Column("a", "A", 10, 0), Column("text", "Text", 40, 1, flex=True, least=12)]
    assert _keys(fit_columns(columns, 10 + PADDING + 12 + PADDING)) == ["a", "text"]
    assert _keys(fit_columns(columns, 10 + PADDING + 11 + PADDING)) == ["a"]


def test_a_cell_too_long_for_its_column_says_so() -> None:
    assert ellipsis("€50.00 capture queued", 17) == "€50.00 capture q…"
    assert ellipsis("short", 17) == "short"
    assert short_id("8f6d0558-4ef8-4a38-9227-66581e27a1c0") == "8f6d0558…"
    assert short_id("SIM-AMS-1") == "SIM-AMS-1"


def test_a_long_path_leaves_out_its_middle_not_its_end() -> None:
    """At 120 columns ``locations/sim-ams-station/sim-`` was cut where the column ended."""
    evse = "locations/NL/SIM/SIM-AMS-STATION/SIM-AMS-1"
    assert fit_path(evse, 30) == "locations/NL/SIM/…/SIM-AMS-1"
    assert fit_path(evse, 24) == "locations/NL/…/SIM-AMS-1"
    # What the command was matters more than its shortened id.
    assert fit_path("commands/START_SESSION/19f9919c…", 30) == "commands/START_SESSION/…"
    assert fit_path("payments/financial-advice-confirmations", 27) == (
        "payments/financial-advice-…"
    )
    assert fit_path("versions", 8) == "versions"
    for width in range(4, 40):
        assert len(fit_path(evse, width)) <= width


def test_money_is_where_the_control_api_says_it_is() -> None:
    asked = {"preauthorized_amount": 5000, "currency": "EUR"}
    assert money_text({**asked, "money": "NONE", "state": "DECLINED"}) == "not authorized"
    assert money_text({**asked, "money": "AUTHORIZED"}) == "€50.00 authorized"
    assert money_text({**asked, "money": "CAPTURED", "captured_amount": 1344}) == (
        "€13.44 captured"
    )
    assert money_text({**asked, "money": "VOIDED", "voided_amount": 5000}) == "€50.00 voided"
    assert money_text({**asked, "money": "CAPTURE_QUEUED"}) == "€50.00 capture queued"
    assert money_text({"preauthorized_amount": 1250, "currency": "SEK", "money": "AUTHORIZED"}) == (
        "SEK 12.50 authorized"
    )
