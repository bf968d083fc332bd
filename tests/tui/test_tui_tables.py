"""The side panes' tables: which columns a width keeps, the traffic path, the money column."""

from __future__ import annotations

from tui.widgets.fitted_table import PADDING, Column, fit_columns
from tui.widgets.journeys_table import COLUMNS as JOURNEY_COLUMNS
from tui.widgets.journeys_table import money_text
from tui.widgets.traffic_log import COLUMNS as TRAFFIC_COLUMNS
from tui.widgets.traffic_log import short_path

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
