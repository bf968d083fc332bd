"""In TUI mode not one log line may reach the terminal Textual draws on."""

from __future__ import annotations

import logging

import pytest
import structlog

from emulator import logs


def test_silence_drops_every_line(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        logs.silence()
        structlog.get_logger("x").critical("boom", token="s3cret")
        logging.getLogger("aiohttp.server").critical("boom")
        out, err = capsys.readouterr()
        assert out == "" and err == ""
    finally:
        logging.disable(logging.NOTSET)
        logs.configure("console", "warning")
