"""The control-API client: everything the TUI knows, it learns over HTTP.

The TUI never imports the emulator (``DESIGN.md``: "The TUI is a client"). It reads and acts
through the emulator's ``/__admin/`` API and its event stream, and drives the simulated
chargers through the simulated CPO's own ``/__admin/`` API, so it works the same against an
emulator in this process, in another one, or in Docker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

ADMIN = "/__admin"

# The simulated CPO's charger control (``/__admin/evses/{uid}/...`` on its port): the car's
# side of the journey and the operator's faults. Action name → path under the EVSE.
CHARGER_ACTIONS = {
    "plug_in": "plug-in",
    "unplug": "unplug",
    "ev_full": "ev-full",
    "fault": "out-of-order",
    "offline": "offline",
    "repair": "repair",
}

# Reconnect delays of the event stream (real seconds: this is network time, not emulated time).
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


class ControlApiError(Exception):
    """A control API call that failed: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StreamStatus:
    """The event stream (dis)connected; yielded between events."""

    connected: bool
    error: str | None = None


class ControlClient:
    """Async client of one emulator's control API (and optionally a simulated CPO's)."""

    def __init__(
        self,
        base_url: str,
        *,
        admin_token: str | None = None,
        cpo_sim_url: str | None = None,
        cpo_sim_token: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cpo_sim_url = cpo_sim_url.rstrip("/") if cpo_sim_url else None
        self.admin_token = admin_token
        self.cpo_sim_token = cpo_sim_token if cpo_sim_token is not None else admin_token
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                # The TUI talks to the emulator it was pointed at, never through a proxy.
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        base: str | None = None,
        token: str | None = None,
    ) -> Any:
        base_url = base or self.base_url
        url = f"{base_url}{ADMIN}/{path.lstrip('/')}"
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        async with self.session.request(
            method,
            url,
            json=json_body,
            params=query,
            headers=self._headers(token if base else self.admin_token),
        ) as resp:
            text = await resp.text()
            try:
                data = json.loads(text) if text.strip() else None
            except ValueError:
                data = text
            if resp.status >= 400:
                error = data.get("error") if isinstance(data, dict) else None
                if isinstance(error, dict):
                    raise ControlApiError(
                        resp.status, str(error.get("code", "error")), str(error.get("message", ""))
                    )
                raise ControlApiError(resp.status, "http_error", str(data or resp.reason))
            return data

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return await self.request("POST", path, json_body=body, params=params)

    # --- the emulator ---------------------------------------------------------------------

    async def index(self) -> dict[str, Any]:
        return dict(await self.get(""))

    async def terminals(self) -> list[dict[str, Any]]:
        return _as_list(await self.get("terminals"), "terminals")

    async def terminal(self, serial: str) -> dict[str, Any]:
        return dict(await self.get(f"terminals/{quote(serial, safe='')}"))

    async def create_terminal(
        self, serial: str, model: str = "Apollo", *, mode: str | None = None
    ) -> dict[str, Any]:
        """A new terminal; ``mode`` ``ocpi`` (Payter's journey) or ``cps`` (driven over CPS)."""
        body = {"serial_number": serial, "model": model}
        if mode:
            body["mode"] = mode
        return dict(await self.post("terminals", body))

    async def press(self, serial: str, key: str) -> Any:
        return await self.post(f"terminals/{quote(serial, safe='')}/press", {"key": key})

    async def present_card(self, serial: str, card: str, medium: str = "contactless") -> Any:
        return await self.post(
            f"terminals/{quote(serial, safe='')}/present-card", {"card": card, "medium": medium}
        )

    async def set_online(self, serial: str, online: bool) -> Any:
        action = "online" if online else "offline"
        return await self.post(f"terminals/{quote(serial, safe='')}/{action}")

    async def cards(self) -> list[dict[str, Any]]:
        return _as_list(await self.get("cards"), "cards")

    async def clock(self) -> dict[str, Any]:
        return dict(await self.get("clock"))

    async def advance(self, seconds: float) -> dict[str, Any]:
        return dict(await self.post("clock/advance", {"seconds": seconds}))

    async def findings(self, since: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        return _as_list(await self.get("findings", since=since or None, limit=limit), "findings")

    async def report(self) -> dict[str, Any]:
        return dict(await self.get("report"))

    async def journal(self, since: int = 0, limit: int = 200) -> list[dict[str, Any]]:
        return _as_list(await self.get("journal", since=since or None, limit=limit), "journal")

    async def exchange(self, exchange_id: int) -> dict[str, Any]:
        return dict(await self.get(f"journal/{exchange_id}"))

    async def faults(self) -> list[dict[str, Any]]:
        """The emulator's active injected faults (``/__admin/faults?active=true``)."""
        return _as_list(await self.get("faults", active="true"), "faults")

    async def platforms(self) -> list[dict[str, Any]]:
        return _as_list(await self.get("platforms"), "platforms")

    async def journeys(self) -> list[dict[str, Any]]:
        """Sessions, CDRs and financial advice confirmations, one row per journey."""
        return _as_list(await self.get("journeys"), "journeys")

    async def ocpi_objects(self, kind: str) -> list[dict[str, Any]]:
        """What the emulator holds of OCPI ``sessions``, ``cdrs`` or ``facs``."""
        return _as_list(await self.get(f"ocpi/{kind}"), kind)

    async def events(
        self,
        since: int = 0,
        kinds: Iterable[str] | None = None,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> AsyncIterator[dict[str, Any] | StreamStatus]:
        """The event stream over WebSocket; reconnects with ``since`` so nothing is missed.

        Yields event objects ``{"id", "kind", "at", "data"}`` and a :class:`StreamStatus`
        whenever the connection comes up or goes down. Runs until cancelled.
        """
        last = since
        attempt = 0
        kinds_param = ",".join(kinds) if kinds else None
        while True:
            params = {"since": str(last)}
            if kinds_param:
                params["kinds"] = kinds_param
            try:
                async with self.session.ws_connect(
                    f"{self.base_url}{ADMIN}/events",
                    params=params,
                    headers=self._headers(self.admin_token),
                    heartbeat=30,
                    timeout=aiohttp.ClientWSTimeout(ws_close=5),
                ) as ws:
                    attempt = 0
                    yield StreamStatus(True)
                    async for msg in ws:
                        if msg.type is not aiohttp.WSMsgType.TEXT:
                            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                                break
                            continue
                        with contextlib.suppress(ValueError):
                            event = json.loads(msg.data)
                            if isinstance(event, dict) and isinstance(event.get("id"), int):
                                if event["id"] <= last:
                                    continue  # replayed after a reconnect
                                last = event["id"]
                            yield event
                yield StreamStatus(False, "closed")
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                yield StreamStatus(False, str(exc) or type(exc).__name__)
            delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
            attempt += 1
            await sleep(delay)

    # --- the simulated CPO's chargers -----------------------------------------------------

    @property
    def has_cpo_sim(self) -> bool:
        return self.cpo_sim_url is not None

    async def _cpo(self, method: str, path: str, body: Any = None) -> Any:
        if self.cpo_sim_url is None:
            raise ControlApiError(0, "no_cpo_sim", "no simulated CPO (start with --cpo-sim URL)")
        return await self.request(
            method, path, json_body=body, base=self.cpo_sim_url, token=self.cpo_sim_token
        )

    async def chargers(self) -> list[dict[str, Any]]:
        return _as_list(await self._cpo("GET", "evses"), "evses")

    async def cpo_faults(self) -> list[dict[str, Any]]:
        """The simulated CPO's active injected faults (the same API on its port)."""
        if self.cpo_sim_url is None:
            return []
        data = await self.request(
            "GET",
            "faults",
            params={"active": "true"},
            base=self.cpo_sim_url,
            token=self.cpo_sim_token,
        )
        return _as_list(data, "faults")

    async def charger_action(self, evse_uid: str, action: str, body: Any = None) -> Any:
        if action not in CHARGER_ACTIONS:
            raise ValueError(f"unknown charger action {action!r}")
        path = f"evses/{quote(evse_uid, safe='')}/{CHARGER_ACTIONS[action]}"
        return await self._cpo("POST", path, body)


def _as_list(data: Any, *keys: str) -> list[dict[str, Any]]:
    """A list answer, or the list under one of ``keys`` of an object answer."""
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    if isinstance(data, dict):
        for key in (*keys, "items", "data"):
            value = data.get(key)
            if isinstance(value, list):
                return [d for d in value if isinstance(d, dict)]
    return []
