"""Logging: structlog to stderr, JSON lines when stderr is not a terminal.

stdout is reserved for the one-line JSON ``listening`` object, so scripts can read it.
Secrets are redacted before they reach a log line (:mod:`emulator.redact`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # aiohttp's own loggers: warnings and up, through the same stream.
    logging.basicConfig(stream=stream, level=logging.WARNING, format="%(name)s: %(message)s")


def silence() -> None:
    """Drop every log line (the TUI owns the terminal)."""

    def drop(logger: Any, method: str, event: Any) -> Any:
        raise structlog.DropEvent

    # structlog has no filtering logger above CRITICAL: drop in a processor instead.
    structlog.configure(
        processors=[drop],
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    logging.disable(logging.CRITICAL)
