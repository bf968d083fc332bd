"""emulator.inbound: text that is not valid Unicode and JSON beyond the shape limits are refused
before anything parses them; what is within the limits parses as emulator.jsonio does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from emulator import inbound
from emulator.inbound import InvalidInput, JsonLimits


def test_valid_json_parses_with_decimals() -> None:
    value = inbound.loads(b'{"a": [1, 2.50, "\\ud83d\\ude00 \xc3\xa9"], "b": null}')
    assert value == {"a": [1, Decimal("2.50"), "\U0001f600 é"], "b": None}


def test_a_byte_order_mark_is_skipped() -> None:
    assert inbound.loads("\ufeff{}".encode()) == {}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"token": "\\ud800"}',  # a lone high surrogate, escaped
        b'{"token": "x\\uDC00y"}',  # a lone low surrogate
        b'["\\ude00\\ud83d"]',  # a pair in the wrong order
        b'{"\\ud800": 1}',  # in a member name
        b'{"token": "\xed\xa0\x80"}',  # a surrogate as (invalid) UTF-8 bytes
        b'{"token": "\xff"}',  # not UTF-8 at all
    ],
)
def test_invalid_text_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        inbound.loads(raw)
    assert info.value.kind == "text"


def test_a_lone_surrogate_in_a_str_body_is_refused() -> None:
    with pytest.raises(InvalidInput):
        inbound.loads('{"a": "\ud800"}')


def test_the_pointer_names_the_offending_string() -> None:
    with pytest.raises(InvalidInput) as info:
        inbound.loads(b'{"roles": [{"party_id": "P\\ud800"}]}')
    assert info.value.pointer == "/roles/0/party_id"


@pytest.mark.parametrize("depth", [33, 500, 100_000])
def test_nesting_beyond_the_limit_is_refused(depth: int) -> None:
    with pytest.raises(InvalidInput) as info:
        inbound.loads(b"[" * depth + b"]" * depth)
    assert info.value.kind == "shape"
    assert "nested deeper than 32" in info.value.message


def test_nesting_at_the_limit_is_accepted() -> None:
    assert inbound.loads(b"[" * 32 + b"]" * 32) is not None


def test_sizes_beyond_the_limits_are_refused() -> None:
    limits = JsonLimits(max_array=3, max_keys=2, max_string=5)
    assert inbound.loads(b'[1, 2, {"a": "12345", "b": 1}]', limits)
    for raw, what in [
        (b"[1, 2, 3, 4]", "array of 4"),
        (b'{"a": 1, "b": 2, "c": 3}', "object of 3"),
        (b'["123456"]', "string of 6"),
    ]:
        with pytest.raises(InvalidInput, match=what):
            inbound.loads(raw, limits)


def test_the_default_string_limit_is_above_the_longest_ocpi_field() -> None:
    # SignedValue.signed_data is string(5000).
    assert inbound.loads(('["' + "x" * 5000 + '"]').encode())
    with pytest.raises(InvalidInput):
        inbound.loads(('["' + "x" * 9000 + '"]').encode())


@pytest.mark.parametrize(
    "raw", [b"[1e999]", b"[-1e31]", b"[1e-40]", b"[" + b"9" * 40 + b"]", b"[NaN]", b"[-Infinity]"]
)
def test_numbers_out_of_range_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        inbound.loads(raw)
    assert info.value.kind == "shape"


def test_malformed_json_is_a_plain_value_error() -> None:
    with pytest.raises(ValueError) as info:
        inbound.loads(b'{"a": ')
    assert not isinstance(info.value, InvalidInput)


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("/ocpi/2.3.0/sessions?date_from=2025-01-01T00:00:00Z", True),
        ("/cps/terminals/A%C3%A9/start?uiMessage=Caf%C3%A9+ok", True),
        ("/cps/terminals/A/start?uiMessage=%ED%A0%80", False),  # a surrogate, UTF-8 encoded
        ("/cps/terminals/%FF/start", False),
        ("/x?a=%C3", False),  # a truncated sequence
    ],
)
def test_request_targets_must_be_utf8(target: str, ok: bool) -> None:
    if ok:
        inbound.check_request_text(target, [])
    else:
        with pytest.raises(InvalidInput):
            inbound.check_request_text(target, [])


def test_header_values_must_be_text() -> None:
    # aiohttp decodes header bytes that are not UTF-8 into lone surrogates.
    inbound.check_request_text("/", [("X-Request-ID", "r-1 é")])
    with pytest.raises(InvalidInput, match="X-Request-ID"):
        inbound.check_request_text("/", [("X-Request-ID", "r-\udced\udca0")])


def test_clean_escapes_what_cannot_be_stored() -> None:
    assert inbound.clean("ok é") == "ok é"
    assert inbound.clean("a\ud800b") == "a\\ud800b"
