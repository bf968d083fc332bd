"""OCPI status codes (status_codes.asciidoc) and the errors that carry them."""

from __future__ import annotations

from typing import Any

SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003
HUB_ERROR = 4000

MEANING = {
    SUCCESS: "Generic success",
    CLIENT_ERROR: "Generic client error",
    INVALID_PARAMETERS: "Invalid or missing parameters",
    NOT_ENOUGH_INFORMATION: "Not enough information",
    UNKNOWN_LOCATION: "Unknown Location",
    UNKNOWN_TOKEN: "Unknown Token",
    SERVER_ERROR: "Generic server error",
    UNABLE_TO_USE_CLIENT_API: "Unable to use the client's API",
    UNSUPPORTED_VERSION: "Unsupported version",
    NO_MATCHING_ENDPOINTS: "No matching endpoints or expected endpoints missing between parties",
    HUB_ERROR: "Generic hub error",
}


def is_known(code: Any) -> bool:
    """A status code in one of the ranges the spec defines (1xxx, 2xxx, 3xxx, 4xxx)."""
    return isinstance(code, int) and not isinstance(code, bool) and 1000 <= code <= 4999


def is_success(code: Any) -> bool:
    return isinstance(code, int) and 1000 <= code <= 1999


class OcpiError(Exception):
    """An OCPI-level failure: answered as an envelope with this status and HTTP status."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        http_status: int = 200,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status
        self.data = data
        self.headers = headers or {}

    def __str__(self) -> str:
        return f"OCPI {self.status_code}: {self.message}"
