"""A client of the control API (``/__admin/``), for scripts and the command line.

``payter-emulator admin ...`` is built on it; a test harness or a check runner can use it too.
Standard library only and synchronous, so that importing it costs nothing: it is loaded by
commands that only talk to an emulator running elsewhere.

Errors come back as :class:`AdminError` with the control API's own ``code`` and ``message``
(``{"error": {"code", "message", ...}}``), or ``code`` ``unreachable`` when nothing answers.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"


class AdminError(Exception):
    """A control API call that did not succeed: HTTP ``status`` (0 when unreachable), the
    error ``code`` and ``message``, and the error object as answered (``details``)."""

    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})


def url_from_ready_file(path: Path) -> str | None:
    """The emulator's URL in a ``--ready-file`` of ``serve`` (``url``) or ``demo``
    (``emulator.url``); None if there is no such file (yet)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("url"), str):
        return str(data["url"])
    emulator = data.get("emulator")
    if isinstance(emulator, dict) and isinstance(emulator.get("url"), str):
        return str(emulator["url"])
    return None


def default_url(ready_file: Path | None = None) -> str:
    """Where the emulator is when not told: its ready file (``--ready-file``, else
    ``EMULATOR_READY_FILE``), else ``http://127.0.0.1:8080``."""
    path = ready_file or (
        Path(os.environ["EMULATOR_READY_FILE"]) if os.environ.get("EMULATOR_READY_FILE") else None
    )
    found = url_from_ready_file(path) if path else None
    return found or DEFAULT_URL


class AdminClient:
    """Calls on the control API of the emulator at ``url``."""

    def __init__(self, url: str, *, admin_token: str | None = None, timeout: float = 30.0) -> None:
        if "://" not in url:
            url = f"http://{url}"
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"the emulator's URL must be http(s): {url}")
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        text: bool = False,
    ) -> Any:
        """``method`` ``/__admin/<path>``: the decoded JSON answer (or the text, ``text``)."""
        target = f"{self.url}/__admin/{path.lstrip('/')}"
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            target += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "text/plain" if text else "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        # http(s) only: the scheme is checked when the client is made.
        request = urllib.request.Request(target, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _error(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AdminError(
                0, "unreachable", f"cannot reach the emulator at {self.url}: {reason}"
            ) from None
        if text:
            return raw.decode("utf-8")
        return json.loads(raw) if raw else None

    # --- what a person does at a terminal ------------------------------------------------------

    def terminals(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "terminals"))

    def terminal(self, serial: str) -> dict[str, Any]:
        return dict(self.request("GET", f"terminals/{_segment(serial)}"))

    def press(self, serial: str, key: str) -> dict[str, Any]:
        return dict(self.request("POST", f"terminals/{_segment(serial)}/press", {"key": key}))

    def present_card(self, serial: str, card: str, medium: str = "contactless") -> dict[str, Any]:
        return dict(
            self.request(
                "POST",
                f"terminals/{_segment(serial)}/present-card",
                {"card": card, "medium": medium},
            )
        )

    def journeys(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.request("GET", "journeys", query=filters))

    def report(self, *, text: bool = False, **query: Any) -> Any:
        if text:
            return self.request("GET", "report", query={**query, "format": "text"}, text=True)
        return self.request("GET", "report", query=query)

    def clock(self) -> dict[str, Any]:
        return dict(self.request("GET", "clock"))

    def advance(self, seconds: float) -> dict[str, Any]:
        return dict(self.request("POST", "clock/advance", {"seconds": seconds}))


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _error(status: int, raw: bytes) -> AdminError:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return AdminError(
            status, str(error.get("code") or status), str(error.get("message") or ""), error
        )
    text = raw.decode("utf-8", "replace").strip()
    return AdminError(status, str(status), text or f"HTTP {status}")
