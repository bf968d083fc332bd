"""The journal keeps each body as it was sent or received, with secrets cut short: cut in the
text where the text alone can tell a secret-named member, else parsed for them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.events import EventBus
from emulator.journal import Journal
from emulator.redact import redact_body, redact_json_text
from emulator.store import Store

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def journal() -> Journal:
    return Journal(
        Store(":memory:"), EventBus(lambda: NOW), lambda: NOW, retention=100, body_bytes=100_000
    )


def recorded(body: bytes | str) -> str | None:
    j = journal()
    exchange = j.record(direction="in", protocol="ocpi", method="PUT", url="/x", request_body=body)
    row = j.get(exchange)
    assert row is not None
    return row["request_body"]


def test_a_body_is_kept_as_it_was_written() -> None:
    body = b'{ "id" : "LOC1",\n  "power": 1.0, "amount": 12.50 }'
    assert recorded(body) == body.decode()


def test_a_secret_member_is_cut_in_the_text_and_the_rest_kept_as_written() -> None:
    body = b'{"Token" : "abcdef123456", "x": 1.0,  "cdr_token": {"uid": "U1"}}'
    assert recorded(body) == '{"Token" : "abcd\u2026", "x": 1.0,  "cdr_token": {"uid": "U1"}}'


def test_a_secret_name_spelt_with_escapes_is_found_by_parsing() -> None:
    text = recorded(b'{"\\u0074oken": "abcdef123456", "n": 1}')
    assert text is not None
    assert "abcdef123456" not in text
    assert json.loads(text) == {"token": "abcd\u2026", "n": 1}


def test_non_ascii_text_without_a_secret_is_kept_as_written() -> None:
    body = '{ "name": "Café",  "n": 1.0 }'
    assert recorded(body.encode()) == body


def test_non_ascii_text_with_a_secret_is_cut() -> None:
    text = recorded('{"name": "Café", "token": "abcdef123456"}'.encode())
    assert text is not None
    assert json.loads(text) == {"name": "Café", "token": "abcd\u2026"}


def test_text_that_is_not_json_has_its_secret_members_cut() -> None:
    assert recorded(b'{"token": "abcdef123456", oops') == '{"token": "abcd\u2026", oops'


KEYS = st.sampled_from(
    ["token", "TOKEN", "Token_A", "api_key", "ApiKey", "admin_token", "cdr_token", "uid", "x"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)


@settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(value=VALUES, indent=st.sampled_from([None, 2]), spaced=st.booleans())
def test_cutting_in_the_text_cuts_what_the_parsed_walk_cuts(
    value: object, indent: int | None, spaced: bool
) -> None:
    separators = (", ", " : ") if spaced else (",", ":")
    text = json.dumps(value, indent=indent, separators=separators)
    cut = redact_json_text(text)
    if "\\u" in text:
        assert cut is None
        return
    assert cut is not None
    assert json.loads(cut) == redact_body(value)
