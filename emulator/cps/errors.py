"""The one CPS error: ``{"error": {"code", "message", "status", ...details}}``.

Payter publishes no error-body schema (payter.md §3.7); this is the emulator's, the same for
every CPS error, with the HTTP status repeated in the body and details in camelCase like the
rest of the CPS API. Statuses: 400 bad parameter or body, 401 missing or unknown API key, 402
authorization declined, 404 unknown terminal or session, 409 conflict with the terminal's or
the session's state (a repeated commit/cancel: DESIGN.md), 503 terminal offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.rules import RuleId
from emulator.terminal.device import ErrorKind, TerminalError

STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 503,
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass(frozen=True)
class Finding:
    """A finding about the request that failed, recorded by the HTTP layer once the exchange is
    in the journal, so that the finding names it."""

    rule: RuleId
    message: str
    context: dict[str, Any] = field(default_factory=dict)


class CpsError(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.findings: list[Finding] = []

    def body(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": self.message, "status": self.status}
            | {camel(k): v for k, v in self.details.items()}
        }

    @classmethod
    def from_terminal(cls, exc: TerminalError) -> CpsError:
        return cls(STATUS[exc.kind], exc.code, exc.message, **exc.details)


def invalid_parameter(name: str, message: str) -> CpsError:
    return CpsError(400, "invalid_parameter", f"'{name}' {message}", parameter=name)


def missing_parameter(name: str, what: str = "") -> CpsError:
    extra = f": {what}" if what else ""
    return CpsError(400, "missing_parameter", f"'{name}' is required{extra}", parameter=name)
