"""Logging: structlog to stderr, JSON lines when stderr is not a terminal.

stdout is reserved for the one-line JSON ``listening`` object, so scripts can read it.
Secrets are redacted before they reach a log line (:mod:`emulator.redact`).

Modules take their logger from :func:`get_logger`. structlog (which imports rich and pygments
when they are installed, as they are with Textual) is imported when the first line is
written: a server started with ``configure(..., lazy=True)`` whose level drops every line it
would write at start-up does not pay for that import before it is ready.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TextIO

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


@dataclass
class _Pending:
    """A configuration given with ``lazy=True``, not yet handed to structlog."""

    fmt: str
    level: int
    stream: TextIO


_pending: _Pending | None = None


def _structlog() -> ModuleType:
    global _pending
    import structlog

    if _pending is not None:
        pending, _pending = _pending, None
        _apply(structlog, pending.fmt, pending.level, pending.stream)
    return structlog


class Logger:
    """A named logger that imports structlog on the first line it writes; the calls are
    structlog's (``log.info("event", key=value)``)."""

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: Any = None

    def _emit(self, method: str, level: int, event: str, kw: dict[str, Any]) -> Any:
        if _pending is not None and level < _pending.level:
            return None  # below the configured level: structlog would drop it too
        if self._logger is None or _pending is not None:
            self._logger = _structlog().get_logger(self.name)
        return getattr(self._logger, method)(event, **kw)

    def debug(self, event: str, **kw: Any) -> Any:
        return self._emit("debug", logging.DEBUG, event, kw)

    def info(self, event: str, **kw: Any) -> Any:
        return self._emit("info", logging.INFO, event, kw)

    def warning(self, event: str, **kw: Any) -> Any:
        return self._emit("warning", logging.WARNING, event, kw)

    def error(self, event: str, **kw: Any) -> Any:
        return self._emit("error", logging.ERROR, event, kw)

    def exception(self, event: str, **kw: Any) -> Any:
        return self._emit("exception", logging.ERROR, event, kw)

    def critical(self, event: str, **kw: Any) -> Any:
        return self._emit("critical", logging.CRITICAL, event, kw)


def get_logger(name: str) -> Logger:
    return Logger(name)


def configure(
    fmt: str = "auto", level: str = "info", stream: TextIO | None = None, *, lazy: bool = False
) -> None:
    """Log lines at ``level`` and up to ``stream`` (stderr). ``lazy``: hand the configuration
    to structlog when the first line at that level is written (commands that start a server);
    otherwise now."""
    global _pending
    stream = stream or sys.stderr
    threshold = LEVELS.get(level, logging.INFO)
    # aiohttp's own loggers: warnings and up, through the same stream.
    logging.basicConfig(stream=stream, level=logging.WARNING, format="%(name)s: %(message)s")
    _pending = _Pending(fmt, threshold, stream)
    if not lazy:
        _structlog()


def _apply(structlog: Any, fmt: str, level: int, stream: TextIO) -> None:
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
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def silence() -> None:
    """Drop every log line (the TUI owns the terminal)."""
    global _pending
    _pending = None
    import structlog

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
