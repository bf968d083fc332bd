"""--journey-texts: Payter's own screen texts are not public, so the journey's texts can be
replaced per language and key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import make_settings
from pydantic import ValidationError

from emulator.journey import texts


async def test_a_texts_file_replaces_the_built_in_texts(
    start_emulator: Callable[..., Any], tmp_path: Path
) -> None:
    path = tmp_path / "texts.json"
    path.write_text(json.dumps({"en": {"home.start": "Begin"}, "xx": {"back": "Zurück"}}))
    await start_emulator(journey_texts=str(path))
    assert texts.text("en", "home.start") == "Begin"
    assert texts.text("en", "home.stop") == "Stop charging"  # the rest stays
    assert texts.text("xx", "back") == "Zurück" and texts.has_texts("xx")
    # A node without the setting uses the built-in texts again.
    await start_emulator()
    assert texts.text("en", "home.start") == "Start charging"


@pytest.mark.parametrize(
    "content", ['{"en": ["Begin"]}', '{"en": {"home.start": 1}}', "not json", "[]"]
)
def test_a_bad_texts_file_is_a_settings_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "texts.json"
    path.write_text(content)
    with pytest.raises(ValidationError, match="journey texts"):
        make_settings(journey_texts=str(path))
    with pytest.raises(ValidationError, match="journey texts"):
        make_settings(journey_texts=str(tmp_path / "missing.json"))
