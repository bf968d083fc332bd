"""A hand-written test double of a CPO's OCPI configuration modules.

Deliberately independent of the emulator's own transport code (plain aiohttp, plain dicts),
so that a mistake shared by both sides of the handshake cannot hide itself. Behaviour knobs
let a test make the CPO misbehave in one precise way.
"""

from __future__ import annotations

import asyncio
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
class CpoDouble:
    versions: tuple[str, ...] = ("2.3.0", "2.2.1")
    modules: tuple[tuple[str, str], ...] = (
        ("credentials", "SENDER"),
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("commands", "RECEIVER"),
        ("tokens", "RECEIVER"),
        ("payments", "RECEIVER"),
    )
    party_id: str = "CPO"
    country_code: str = "NL"
    token_a: str = "cpo-token-a"
    # Misbehaviour knobs.
    accept_raw_only: bool = False
    # Any token is good (even none of ours): the emulator's probes must notice.
    accept_any_token: bool = False
    # While answering a credentials POST/PUT: which token reads the emulator's versions
    # ("B": the one in the request body, as the spec says; "own": the double's own token A)
    # and whether the version details are read too.
    read_with: str = "B"
    read_details: bool = True
    post_error: dict[str, Any] | None = None
    put_error: dict[str, Any] | None = None
    delete_error: dict[str, Any] | None = None
    return_token: str | None = None
    command_answer: dict[str, Any] = field(
        default_factory=lambda: {"result": "ACCEPTED", "timeout": 30}
    )
    command_status: int = 1000
    # The CommandResult the double POSTs by itself, and when, relative to its synchronous
    # answer to the command: "before" (POSTed and answered before the command is answered),
    # "during" (POSTed while the answer goes out), "twice" (the same result twice, then the
    # answer), "unknown" (to a response_url with another command id, then the answer).
    # None: the test POSTs results itself.
    result_timing: str | None = None
    auto_result: dict[str, Any] = field(default_factory=lambda: {"result": "ACCEPTED"})
    # The answers the double got to the CommandResults it POSTed: (HTTP status, envelope).
    result_answers: list[tuple[int, Any]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    refuse_customer_reference_patch: bool = False
    # A FAC whose total_costs is not of this Price shape ("2.2.1": excl_vat/incl_vat,
    # "2.3.0": before_taxes/taxes; "none": neither) is refused with 2001.
    fac_price_shape: str | None = None
    # Sender lists: ignore date_from/date_to; answer an unknown id with HTTP 200 + 2003;
    # reverse the order on every other GET; refuse a list without query parameters.
    ignore_date_filters: bool = False
    unknown_id_http_200: bool = False
    unstable_order: bool = False
    list_needs_parameters: bool = False
    # What real libraries do: answer a GET of one object with data wrapped in a list; list
    # endpoint URLs with a trailing slash; answer an unknown object with a bare HTTP 404
    # (no OCPI envelope).
    wrap_objects: bool = False
    trailing_slash: bool = False
    bare_404: bool = False
    _lists_served: int = 0
    # Its Tokens Receiver: what the emulator PUT and PATCHed, by uid.
    tokens: dict[str, Any] = field(default_factory=dict)
    # What the CPO's Receiver interfaces hold.
    terminals: dict[str, Any] = field(default_factory=dict)
    facs: dict[str, Any] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    # What its Sender interfaces serve.
    locations: list[dict[str, Any]] = field(default_factory=list)
    tariffs: list[dict[str, Any]] = field(default_factory=list)
    # What its Sessions and CDRs Senders list (a test puts there what it did not push).
    sessions: list[dict[str, Any]] = field(default_factory=list)
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    # State.
    seen: list[Seen] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    emulator_token: str | None = None  # the token we use to call the emulator
    emulator_versions_url: str | None = None
    base_url: str = ""
    _runner: web.AppRunner | None = None

    # --- server -------------------------------------------------------------------------------

    async def start(self, port: int = 0) -> CpoDouble:
        app = web.Application()
        app.router.add_route("*", "/cpo/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/cpo"
        self.valid_tokens.add(self.token_a)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def start_on(self, base_url: str) -> None:
        """Come back on the same port (the CPO was down for a while)."""
        await self.start(int(base_url.rsplit(":", 1)[1].split("/")[0]))

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/versions"

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
            if "OCPI-from-party-id" in request.headers:
                # Functional module: the response swaps the routing headers.
                headers["OCPI-from-country-code"] = self.country_code
                headers["OCPI-from-party-id"] = self.party_id
                headers["OCPI-to-country-code"] = request.headers["OCPI-from-country-code"]
                headers["OCPI-to-party-id"] = request.headers["OCPI-from-party-id"]
        return web.json_response(body, status=http, headers=headers)

    def token_of(self, request: web.Request) -> str | None:
        value = request.headers.get("Authorization", "")
        if not value.startswith("Token "):
            return None
        raw = value[len("Token ") :]
        if self.accept_any_token:
            return next(iter(self.valid_tokens), raw)
        if self.accept_raw_only:
            return raw if raw in self.valid_tokens else None
        try:
            decoded = base64.b64decode(raw, validate=True).decode()
        except Exception:
            return None
        return decoded if decoded in self.valid_tokens else None

    async def handle(self, request: web.Request) -> web.Response:
        text = await request.text()
        body = json.loads(text) if text else None
        self.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        token = self.token_of(request)
        if token is None:
            return self.envelope(code=2000, http=401, request=request)
        tail = request.match_info["tail"].strip("/")
        if tail == "versions":
            return self.envelope(
                [{"version": v, "url": f"{self.base_url}/{v}"} for v in self.versions],
                request=request,
            )
        if tail in self.versions:
            endpoints = []
            slash = "/" if self.trailing_slash else ""
            for module, role in self.modules:
                ep = {"identifier": module, "url": f"{self.base_url}/{tail}/{module}{slash}"}
                if tail != "2.1.1":
                    ep["role"] = role
                endpoints.append(ep)
            return self.envelope({"version": tail, "endpoints": endpoints}, request=request)
        version, _, module = tail.partition("/")
        if module == "credentials":
            return await self.credentials(request, version, token, body)
        if module.startswith("commands/") and request.method == "POST":
            self.commands.append({"command": module.split("/", 1)[1], "body": body})
            await self._result_around_the_answer(version, body["response_url"])
            return self.envelope(self.command_answer, code=self.command_status, request=request)
        if module.startswith("payments/"):
            return self.payments(request, module.split("/", 1)[1], body)
        if request.method == "GET" and module.split("/")[0] in (
            "locations",
            "tariffs",
            "sessions",
            "cdrs",
        ):
            return self.sender(request, module)
        if module.startswith("tokens/"):
            return self.tokens_receiver(request, module, body)
        return self.envelope(code=2000, http=404, request=request)

    def tokens_receiver(self, request: web.Request, module: str, body: Any) -> web.Response:
        uid = module.rsplit("/", 1)[-1].upper()
        if request.method == "PUT":
            self.tokens[uid] = {"type": "RFID", **body}
            return self.envelope(request=request)
        if request.method == "PATCH" and uid in self.tokens:
            self.tokens[uid].update(body)
            return self.envelope(request=request)
        if request.method == "GET" and uid in self.tokens:
            token = self.tokens[uid]
            return self.envelope([token] if self.wrap_objects else token, request=request)
        return self.envelope(code=2004, http=404, request=request)

    async def _result_around_the_answer(self, version: str, response_url: str) -> None:
        if self.result_timing in ("before", "twice"):
            for _ in range(2 if self.result_timing == "twice" else 1):
                await self.post_result(version, response_url)
        elif self.result_timing == "during":
            # Sent concurrently with the answer: whichever the emulator sees first.
            self._tasks.append(asyncio.create_task(self.post_result(version, response_url)))
            await asyncio.sleep(0)
        elif self.result_timing == "unknown":
            base, _, _ = response_url.rpartition("/")
            await self.post_result(version, f"{base}/00000000-0000-4000-8000-000000000000")

    async def post_result(self, version: str, url: str, body: Any = None) -> None:
        """POST a CommandResult to the emulator (as a CPO does, with its routing headers)."""
        headers = {
            **self.auth(version),
            "OCPI-from-country-code": self.country_code,
            "OCPI-from-party-id": self.party_id,
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "PAY",
        }
        async with aiohttp.ClientSession() as s:
            async with s.post(url, json=body or self.auto_result, headers=headers) as r:
                self.result_answers.append((r.status, await r.json()))

    async def settle(self) -> None:
        """Wait for what the double sent by itself (results POSTed "during" an answer)."""
        tasks, self._tasks = self._tasks, []
        await asyncio.gather(*tasks)

    def sender(self, request: web.Request, module: str) -> web.Response:
        """Locations / Tariffs / Sessions / CDRs Sender: the whole list in one page, or one
        object by id."""
        kind, _, object_id = module.partition("/")
        items = {
            "locations": self.locations,
            "tariffs": self.tariffs,
            "sessions": self.sessions,
            "cdrs": self.cdrs,
        }[kind]
        if object_id:
            location_id, _, evse_uid = object_id.partition("/")
            found = [i for i in items if i["id"].upper() == location_id.upper()]
            if found and evse_uid:
                found = [
                    e for e in found[0].get("evses") or [] if e["uid"].upper() == evse_uid.upper()
                ]
            if not found:
                if self.bare_404:
                    return web.Response(status=404, text="404: Not Found")
                http = 200 if self.unknown_id_http_200 else 404
                return self.envelope(code=2003, http=http, request=request)
            return self.envelope([found[0]] if self.wrap_objects else found[0], request=request)
        if self.list_needs_parameters and not request.query:
            return self.envelope(code=2001, request=request)
        # Date filters on last_updated: from inclusive, to exclusive (same format throughout).
        since, until = request.query.get("date_from"), request.query.get("date_to")
        items = [
            i
            for i in items
            if self.ignore_date_filters
            or (
                (since is None or i["last_updated"] >= since)
                and (until is None or i["last_updated"] < until)
            )
        ]
        self._lists_served += 1
        if self.unstable_order and self._lists_served % 2 == 0:
            items = items[::-1]
        response = self.envelope(items, request=request)
        response.headers["X-Total-Count"] = str(len(items))
        response.headers["X-Limit"] = "100"
        return response

    def payments(self, request: web.Request, sub: str, body: Any) -> web.Response:
        kind, _, object_id = sub.partition("/")
        store = self.terminals if kind == "terminals" else self.facs
        key = "terminal_id" if kind == "terminals" else "id"
        if request.method == "POST" and not object_id:
            if kind != "terminals" and self.fac_price_shape is not None:
                shape = "2.3.0" if "before_taxes" in body.get("total_costs", {}) else "2.2.1"
                if shape != self.fac_price_shape:
                    return self.envelope(code=2001, request=request)
            store[body[key]] = body
            return self.envelope(request=request)
        if request.method == "PATCH" and object_id in store:
            if self.refuse_customer_reference_patch:
                return self.envelope(code=2000, http=405, request=request)
            store[object_id].update(body)
            return self.envelope(request=request)
        if request.method == "GET" and object_id in store:
            return self.envelope(store[object_id], request=request)
        return self.envelope(code=2000, http=404, request=request)

    def my_credentials(self, version: str, token: str) -> dict[str, Any]:
        if version == "2.1.1":
            return {
                "token": token,
                "url": self.versions_url,
                "business_details": {"name": "Test CPO"},
                "party_id": self.party_id,
                "country_code": self.country_code,
            }
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "CPO",
                    "business_details": {"name": "Test CPO"},
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                }
            ],
        }

    async def credentials(
        self, request: web.Request, version: str, token: str, body: Any
    ) -> web.Response:
        if request.method == "POST":
            if self.post_error:
                return self.envelope(
                    code=self.post_error["code"],
                    http=self.post_error.get("http", 200),
                    request=request,
                )
            if token != self.token_a:
                return self.envelope(code=2000, http=405, request=request)
            # Receiver of the registration: read the emulator's versions with token B.
            self.emulator_token = body["token"]
            self.emulator_versions_url = body["url"]
            if not await self.read_emulator(version, body["url"]):
                return self.envelope(code=3001, request=request)
            new_token = self.return_token or secrets.token_hex(16)
            self.valid_tokens.discard(self.token_a)
            self.valid_tokens.add(new_token)
            return self.envelope(self.my_credentials(version, new_token), request=request)
        if request.method == "PUT":
            if self.put_error:
                return self.envelope(
                    code=self.put_error["code"],
                    http=self.put_error.get("http", 200),
                    request=request,
                )
            self.emulator_token = body["token"]
            if not await self.read_emulator(version, body["url"]):
                return self.envelope(code=3001, request=request)
            new_token = self.return_token or secrets.token_hex(16)
            self.valid_tokens = {new_token}
            return self.envelope(self.my_credentials(version, new_token), request=request)
        if request.method == "DELETE":
            if self.delete_error:
                return self.envelope(
                    code=self.delete_error["code"],
                    http=self.delete_error.get("http", 200),
                    request=request,
                )
            self.valid_tokens = set()
            return self.envelope(request=request)
        return self.envelope(self.my_credentials(version, token), request=request)

    async def read_emulator(self, version: str, versions_url: str) -> bool:
        """The Receiver's duty before answering a credentials POST/PUT: read the emulator's
        versions and version details (with token B unless a knob says otherwise)."""
        token = self.token_a if self.read_with == "own" else None
        async with aiohttp.ClientSession() as s:
            async with s.get(versions_url, headers=self.auth(version, token)) as r:
                if r.status != 200:
                    return False
                versions = (await r.json())["data"]
            if self.read_details:
                url = next(v["url"] for v in versions if v["version"] == version)
                async with s.get(url, headers=self.auth(version, token)) as r:
                    if r.status != 200:
                        return False
        return True

    # --- client -------------------------------------------------------------------------------

    def auth(self, version: str = "2.2.1", token: str | None = None) -> dict[str, str]:
        token = token or self.emulator_token or ""
        value = token if version == "2.1.1" else b64(token)
        headers = {"Authorization": f"Token {value}"}
        if version != "2.1.1":
            headers["X-Request-ID"] = secrets.token_hex(8)
            headers["X-Correlation-ID"] = secrets.token_hex(8)
        return headers

    async def register_with(
        self, versions_url: str, token_a: str, version: str = "2.3.0"
    ) -> dict[str, Any]:
        """Be the Sender: POST our credentials to the emulator with its token A."""
        async with aiohttp.ClientSession() as s:
            async with s.get(versions_url, headers=self.auth(version, token_a)) as r:
                versions = (await r.json())["data"]
            url = next(v["url"] for v in versions if v["version"] == version)
            async with s.get(url, headers=self.auth(version, token_a)) as r:
                details = (await r.json())["data"]
            creds_url = next(
                e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
            )
            token_b = "cpo-token-b-" + secrets.token_hex(6)
            self.valid_tokens.add(token_b)
            async with s.post(
                creds_url,
                json=self.my_credentials(version, token_b),
                headers=self.auth(version, token_a),
            ) as r:
                answer = await r.json()
                answer["_http"] = r.status
        if answer.get("status_code") == 1000:
            self.emulator_token = answer["data"]["token"]
            self.emulator_versions_url = versions_url
        return answer


# --- shared set-ups --------------------------------------------------------------------------

TOKEN_A = "payter-emulator-token-a"


async def register_double(
    node: Any, started: list[CpoDouble], version: str = "2.3.0", **knobs: Any
) -> tuple[CpoDouble, str]:
    """A CPO double with ``knobs``, one Location and Tariff, registered with the emulator
    ``node`` (its fixed token A); the first crawl (and the sender checks) done. The double is
    added to ``started`` (stopped by the caller). Returns it and its token C."""
    import ocpi_objects as obj

    double = await CpoDouble(**knobs).start()
    started.append(double)
    double.locations = [obj.location()]
    double.tariffs = [obj.tariff(version=version)]
    answer = await double.register_with(node.server.versions_url, TOKEN_A, version)
    assert answer["status_code"] == 1000, answer
    await node.rt.clock.advance(1)
    await node.rt.background.drain()
    return double, answer["data"]["token"]


def refuse_payments_posts(double: CpoDouble) -> None:
    """The double's Payments Receiver without POST routes: a library that answers the
    terminal and FAC POSTs with HTTP 405 ``{"detail": ...}``, no OCPI envelope."""
    original = double.payments

    def no_post_routes(request: Any, sub: str, body: Any) -> Any:
        if request.method == "POST":
            return web.json_response({"detail": "Method Not Allowed"}, status=405)
        return original(request, sub, body)

    double.payments = no_post_routes  # type: ignore[method-assign]
