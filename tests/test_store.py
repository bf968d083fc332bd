"""The store's JSON columns: values encoded on write and decoded on read, text already
written stored as it is."""

from __future__ import annotations

from decimal import Decimal

from emulator import jsonio
from emulator.store import JsonText, Store, TableSpec

DOCS = TableSpec(name="docs", columns={"id": str, "doc": str}, json_columns=frozenset({"doc"}))


def test_a_json_column_takes_values_and_text_already_written() -> None:
    store = Store(":memory:")
    store.register(DOCS)
    value = {"amount": Decimal("12.50"), "name": "Café", "n": [1, 2]}
    store.insert("docs", {"id": "a", "doc": value})
    store.insert("docs", {"id": "b", "doc": JsonText(jsonio.dumps_compact(value))})
    store.update("docs", "a", {"doc": JsonText('{"changed":true}')})
    assert store.get("docs", "b") == {"id": "b", "doc": value}
    assert store.get("docs", "a") == {"id": "a", "doc": {"changed": True}}
    # The text is stored as given (not encoded again as a JSON string).
    raw = store.tuples("select doc from docs where id = ?", ["b"])
    assert raw == [(jsonio.dumps_compact(value),)]
