"""A hand-written test double of a PTP (Payter's side) for the simulated CPO's tests.

Plain aiohttp and plain dicts, independent of the emulator's transport code, so a mistake
shared by both sides cannot hide itself. It hosts versions, credentials, the Receivers a CPO
pushes to (locations, sessions, cdrs, tariffs), the ``response_url`` of commands and the PTP's
payments Sender (terminal PATCH), and it records everything it receives. Sessions are stored
the way a Receiver must: PUT replaces, PATCH merges and appends ``charging_periods``.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web


def b64(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class PtpDouble:
    versions: tuple[str, ...] = ("2.3.0", "2.2.1")
    modules: tuple[tuple[str, str], ...] = (
        ("credentials", "SENDER"),
        ("locations", "RECEIVER"),
        ("tariffs", "RECEIVER"),
        ("sessions", "RECEIVER"),
        ("cdrs", "RECEIVER"),
        ("commands", "SENDER"),
        ("payments", "SENDER"),
    )
    party_id: str = "PAY"
    country_code: str = "NL"
    token_a: str = "ptp-token-a"
    # Misbehaviour knobs: module → (HTTP status, OCPI status) answered to pushes.
    fail: dict[str, tuple[int, int]] = field(default_factory=dict)
    # State.
    seen: list[Seen] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    sim_token: str | None = None  # the token we use to call the simulated CPO
    version: str = "2.3.0"
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _next_result: int = 0

    # --- server -------------------------------------------------------------------------------

    async def start(self) -> PtpDouble:
        app = web.Application()
        app.router.add_route("*", "/ptp/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/ptp"
        self.valid_tokens.add(self.token_a)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/versions"

    def response_url(self) -> str:
        self._next_result += 1
        return f"{self.base_url}/results/{self._next_result}"

    def envelope(
        self,
        data: Any = None,
        code: int = 1000,
        http: int = 200,
        request: web.Request | None = None,
    ) -> web.Response:
        body: dict[str, Any] = {"status_code": code, "timestamp": stamp()}
        if data is not None:
            body["data"] = data
        headers = {}
        if request is not None:
            for h in ("X-Request-ID", "X-Correlation-ID"):
                if h in request.headers:
                    headers[h] = request.headers[h]
        return web.json_response(body, status=http, headers=headers)

    def token_of(self, request: web.Request) -> str | None:
        value = request.headers.get("Authorization", "")
        if not value.startswith("Token "):
            return None
        raw = value[len("Token ") :]
        try:
            decoded = base64.b64decode(raw, validate=True).decode()
        except Exception:
            decoded = None
        for candidate in (decoded, raw):
            if candidate in self.valid_tokens:
                return candidate
        return None

    def received(self, method: str | None = None, part: str = "") -> list[Seen]:
        return [s for s in self.seen if (method is None or s.method == method) and part in s.path]

    async def handle(self, request: web.Request) -> web.Response:
        text = await request.text()
        body = json.loads(text) if text else None
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        if self.token_of(request) is None:
            return self.envelope(code=2000, http=401, request=request)
        tail = request.match_info["tail"].strip("/")
        if tail == "versions":
            return self.envelope(
                [{"version": v, "url": f"{self.base_url}/{v}"} for v in self.versions],
                request=request,
            )
        if tail in self.versions:
            endpoints = [
                {"identifier": m, "role": r, "url": f"{self.base_url}/{tail}/{m}"}
                for m, r in self.modules
            ]
            return self.envelope({"version": tail, "endpoints": endpoints}, request=request)
        parts = tail.split("/")
        if parts[0] == "results":
            self.results.setdefault(parts[1], []).append(body)
            return self.envelope(request=request)
        version, module, rest = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
        if module in self.fail:
            http, code = self.fail[module]
            return self.envelope(code=code, http=http, request=request)
        if module == "credentials" and request.method == "POST":
            return await self._registered_by_sim(request, version, body)
        if module == "credentials":
            return self.envelope(
                self.my_credentials(version, self.sim_token or ""), request=request
            )
        if module == "sessions" and len(rest) == 3:
            self._store_session(request.method, rest[2], body)
            return self.envelope(request=request)
        if module == "cdrs" and request.method == "POST":
            self.cdrs.append(body)
            return web.json_response(
                {"status_code": 1000, "timestamp": stamp()},
                status=201,
                headers={
                    "Location": f"{self.base_url}/{version}/cdrs/{body['id']}",
                    "X-Request-ID": request.headers.get("X-Request-ID", ""),
                    "X-Correlation-ID": request.headers.get("X-Correlation-ID", ""),
                },
            )
        if module in ("locations", "tariffs", "payments"):
            return self.envelope(request=request)
        return self.envelope(code=2000, http=404, request=request)

    async def _registered_by_sim(
        self, request: web.Request, version: str, body: dict[str, Any]
    ) -> web.Response:
        """Receiver of the registration: read the CPO's versions with token B, answer C."""
        self.sim_token = body["token"]
        await self._discover(body["url"], version, body["token"])
        token_c = "ptp-token-c-" + secrets.token_hex(6)
        self.valid_tokens.discard(self.token_a)
        self.valid_tokens.add(token_c)
        self.version = version
        return self.envelope(self.my_credentials(version, token_c), request=request)

    async def _discover(self, versions_url: str, version: str, token: str) -> None:
        async with aiohttp.ClientSession() as s:
            h = self.headers(token, functional=False)
            async with s.get(versions_url, headers=h) as r:
                versions = (await r.json())["data"]
            url = next(v["url"] for v in versions if v["version"] == version)
            async with s.get(url, headers=h) as r:
                details = (await r.json())["data"]
        self.endpoints = {e["identifier"]: e["url"] for e in details["endpoints"]}

    def _store_session(self, method: str, session_id: str, body: dict[str, Any]) -> None:
        if method == "PUT":
            self.sessions[session_id] = dict(body)
            return
        stored = self.sessions.setdefault(session_id, {})
        periods = body.get("charging_periods") or []
        stored.update({k: v for k, v in body.items() if k != "charging_periods"})
        stored["charging_periods"] = list(stored.get("charging_periods") or []) + periods

    def my_credentials(self, version: str, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "PTP",
                    "business_details": {"name": "Test PTP"},
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                }
            ],
        }

    # --- client -------------------------------------------------------------------------------

    def headers(self, token: str | None = None, functional: bool = True) -> dict[str, str]:
        h = {
            "Authorization": f"Token {b64(token or self.sim_token or '')}",
            "X-Request-ID": secrets.token_hex(8),
            "X-Correlation-ID": secrets.token_hex(8),
        }
        if functional:
            h.update(
                {
                    "OCPI-from-country-code": self.country_code,
                    "OCPI-from-party-id": self.party_id,
                    "OCPI-to-country-code": "NL",
                    "OCPI-to-party-id": "SIM",
                }
            )
        return h

    async def register_with(
        self, versions_url: str, token_a: str, version: str = "2.3.0"
    ) -> dict[str, Any]:
        """Be the Sender: POST our credentials to the simulated CPO with its token A."""
        self.version = version
        await self._discover(versions_url, version, token_a)
        h = self.headers(token_a, functional=False)
        async with aiohttp.ClientSession() as s:
            token_b = "ptp-token-b-" + secrets.token_hex(6)
            self.valid_tokens.add(token_b)
            async with s.post(
                self.endpoints["credentials"], json=self.my_credentials(version, token_b), headers=h
            ) as r:
                answer = await r.json()
        assert answer["status_code"] == 1000, answer
        self.sim_token = answer["data"]["token"]
        return answer

    async def call(
        self,
        method: str,
        module: str,
        path: str = "",
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        url: str | None = None,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        target = url or self.endpoints[module] + (f"/{path}" if path else "")
        async with aiohttp.ClientSession() as s:
            async with s.request(
                method, target, headers=self.headers(), json=json_body, params=params
            ) as r:
                return r.status, dict(r.headers), await r.json()

    def token(self, uid: str = "PAY-TX-0001") -> dict[str, Any]:
        """An AD_HOC_USER token as Payter would send it in START_SESSION (DESIGN.md)."""
        return {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "uid": uid,
            "type": "AD_HOC_USER",
            "contract_id": uid,
            "issuer": "Payter",
            "valid": True,
            "whitelist": "NEVER",
            "last_updated": "2025-03-01T09:00:00Z",
        }

    async def command(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        """POST a command; returns (HTTP status, envelope, the response_url's result key)."""
        url = self.response_url()
        status, _, envelope = await self.call(
            "POST", "commands", name, json_body={"response_url": url, **body}
        )
        return status, envelope, url.rsplit("/", 1)[1]
