"""The OCPI transport layer, in one place (transport_and_format.asciidoc).

Every OCPI request the server receives goes through :meth:`OcpiServer.dispatch`: request size,
authentication (token A / issued tokens, Base64 or raw), JSON parsing, header checks
(X-Request-ID, X-Correlation-ID, routing headers, Content-Type), the handler, the response
envelope, echoed headers, the traffic journal and the findings. A module handler only sees an
:class:`OcpiRequest` and returns data or an :class:`OcpiResult`; it never builds an envelope.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web
from pydantic import BaseModel, ValidationError

from emulator import inbound, jsonio, logs
from emulator.coverage import checked
from emulator.ocpi import status
from emulator.ocpi.models.base import validate_peer_object
from emulator.ocpi.platforms import Platform, Platforms, TokenA
from emulator.ocpi.status import OcpiError
from emulator.ocpi.types import ParseNote, collect_notes, format_datetime, parse_datetime
from emulator.redact import is_secret_key, redact_secret
from emulator.rules import RULE_IDS, RuleId
from emulator.settings import version_key

if TYPE_CHECKING:
    from emulator.runtime import Runtime

log = logs.get_logger("emulator.ocpi")

CONFIGURATION_MODULES = frozenset({"credentials", "versions", "hubclientinfo"})
_VERSION_RE = re.compile(r"\d+(\.\d+)+")
ROUTING_HEADERS = (
    "OCPI-from-country-code",
    "OCPI-from-party-id",
    "OCPI-to-country-code",
    "OCPI-to-party-id",
)

M = TypeVar("M", bound=BaseModel)


# --- tokens ---------------------------------------------------------------------------------


def encode_token(token: str, encoding: str) -> str:
    """The value after ``Token `` in the Authorization header."""
    if encoding == "raw":
        return token
    return base64.b64encode(token.encode("utf-8")).decode("ascii")


def default_encoding(version: str | None) -> str:
    """Base64 for 2.2+ (2.2.1-d2 and 2.3.0 wording), the raw token for 2.1.1."""
    if version and version_key(version) < (2, 2):
        return "raw"
    return "base64"


def decode_token(value: str) -> str | None:
    """Base64 (RFC 4648 §4, with padding) to the UTF-8 token, or None if it is not Base64."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


# --- request / result -----------------------------------------------------------------------


@dataclass
class PendingFinding:
    rule: RuleId
    message: str
    pointer: str | None = None
    context: dict[str, Any] | None = None


@dataclass
class OcpiRequest:
    http: web.Request
    server: OcpiServer
    version: str | None
    module: str
    platform: Platform | None
    token_a: str | None
    token_encoding: str | None
    params: dict[str, str]
    body: Any
    raw_body: bytes
    request_id: str
    correlation_id: str
    findings: list[PendingFinding] = field(default_factory=list)
    # The token that authenticated ``platform`` (decoded), for the credentials GET's answer.
    token: str | None = None
    # The platform the request concerns if it was not authenticated by one (e.g. a
    # registration POST made with token A creates it during the handshake).
    journal_platform_id: int | None = None
    # A credentials POST repeating one whose answer the peer never had: the platform that
    # registration made (see OcpiServer._unanswered_registration).
    again: int | None = None

    @property
    def rt(self) -> Runtime:
        return self.server.rt

    @property
    def query(self) -> Any:
        return self.http.query

    def finding(
        self,
        rule: RuleId,
        message: str,
        *,
        pointer: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.findings.append(PendingFinding(rule, message, pointer, context))

    def add_notes(self, notes: Sequence[ParseNote], where: str = "") -> None:
        for n in notes:
            self.finding(n.rule, f"{where}{n.message}")

    def require_platform(self) -> Platform:
        if self.platform is None or not self.platform.registered:
            raise OcpiError(
                status.CLIENT_ERROR,
                "this call needs a registered platform's token",
                http_status=401,
            )
        return self.platform

    def require_owner(self) -> tuple[str, str]:
        """``{country_code}/{party_id}`` of a client-owned object URL, which must be one of the
        platform's CredentialsRoles (transport_and_format.asciidoc; checklist 5.4 #28)."""
        platform = self.require_platform()
        cc, pid = self.params["country_code"], self.params["party_id"]
        checked("OCPI-28")
        if not platform.owns(cc, pid):
            self.finding(
                "OCPI-28", f"{cc}/{pid} in the URL is not among the platform's CredentialsRoles"
            )
            raise OcpiError(
                status.CLIENT_ERROR, f"{cc}/{pid} is not a party of this platform", http_status=404
            )
        return cc, pid

    def parse(self, model: type[M], data: Any = None, *, what: str | None = None) -> M:
        """Validate ``data`` (the body by default); invalid → findings + OCPI 2001."""
        payload = self.body if data is None else data
        name = what or model.__name__
        if payload is None:
            self.finding("OCPI-30", f"{name}: the request has no JSON body")
            raise OcpiError(status.INVALID_PARAMETERS, f"{name}: a JSON body is required")
        with collect_notes() as notes:
            try:
                obj = validate_peer_object(model, payload)
            except ValidationError as exc:
                problems = validation_findings(exc)
                for rule, pointer, message in problems:
                    self.finding(rule, f"{name}: {message}", pointer=pointer)
                summary = "; ".join(f"{p or '/'}: {m}" for _, p, m in problems[:5])
                if len(problems) > 5:
                    summary += f"; and {len(problems) - 5} more"
                raise OcpiError(status.INVALID_PARAMETERS, f"invalid {name}: {summary}") from None
        self.add_notes(notes, f"{name}: ")
        return obj


@dataclass
class OcpiResult:
    data: Any = None
    status_code: int = status.SUCCESS
    message: str | None = None
    http_status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # For responses where the spec leaves ``data`` unspecified: leave it out.
    omit_data: bool = False


Handler = Callable[[OcpiRequest], Awaitable[Any]]
# An aiohttp handler, and the handlers of one path by method.
WebHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Paths = dict[str, list[tuple[str, WebHandler]]]


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    # Token A may be used on credentials and versions only.
    token_a: bool = False
    # Registered platforms only (everything but the registration handshake itself).
    registered_only: bool = True


class Module:
    """An OCPI module this server hosts. Subclasses list their routes."""

    id: str = ""
    # Our interface role for this module (None for credentials, where it is meaningless).
    interface: str | None = None
    versions: tuple[str, ...] = ("2.1.1", "2.2.1", "2.3.0")

    def hosted(self, version: str) -> bool:
        return version in self.versions

    def routes(self) -> list[Route]:
        raise NotImplementedError


def pointer_of(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    return "/" + "/".join(parts) if parts else "/"


def peer_to_peer(platform: Platform | None) -> bool:
    """A direct connection between two platforms that each have one party and one role: the
    routing headers' own exception (transport_and_format §Message Routing Headers). This
    platform is one party with one role; the peer is, when its credentials list one role."""
    return platform is not None and len(platform.roles or []) == 1


def validation_findings(exc: ValidationError) -> list[tuple[RuleId, str, str]]:
    """(rule, JSON pointer, message) for each pydantic error."""
    out: list[tuple[RuleId, str, str]] = []
    for err in exc.errors(include_url=False):
        kind = err.get("type", "")
        pointer = pointer_of(err.get("loc", ()))
        msg = err.get("msg", "invalid value")
        ctx = err.get("ctx") or {}
        rule: RuleId
        if isinstance(ctx.get("rule"), str) and ctx["rule"] in RULE_IDS:
            # A model validator that knows which checklist rule was broken (models.base.refuse).
            rule = ctx["rule"]
        elif kind == "missing":
            rule, msg = "OCPI-30", "required field is missing"
        elif kind in ("literal_error", "enum"):
            rule = "OCPI-11"
        elif "datetime" in msg.lower() or "date-time" in msg.lower():
            rule = "OCPI-08"
        else:
            rule = "OCPI-10"
        value = err.get("input")
        last = pointer.rsplit("/", 1)[-1]
        if isinstance(value, str) and is_secret_key(last):
            value = redact_secret(value)  # a token, even an invalid one, is never echoed
        if kind != "missing" and isinstance(value, (str, int, float)) and len(str(value)) <= 60:
            msg = f"{msg} (got {value!r})"
        out.append((rule, pointer, msg))
    return out


# --- paging ---------------------------------------------------------------------------------


@dataclass
class Page:
    offset: int
    limit: int
    requested_limit: int | None
    date_from: datetime | None
    date_to: datetime | None


def parse_paging(req: OcpiRequest, max_limit: int) -> Page:
    q = req.http.query

    def as_int(name: str) -> int | None:
        value = q.get(name)
        if value is None or value == "":
            return None
        try:
            number = int(value)
        except ValueError:
            raise OcpiError(
                status.INVALID_PARAMETERS, f"{name} must be an integer, got {value!r}"
            ) from None
        if number < 0:
            raise OcpiError(status.INVALID_PARAMETERS, f"{name} must not be negative")
        return number

    def as_dt(name: str) -> datetime | None:
        value = q.get(name)
        if not value:
            return None
        with collect_notes() as notes:
            try:
                parsed = parse_datetime(value)
            except ValueError as exc:
                raise OcpiError(status.INVALID_PARAMETERS, f"{name}: {exc}") from None
        req.add_notes(notes, f"query parameter {name}: ")
        return parsed

    offset = as_int("offset") or 0
    requested = as_int("limit")
    limit = max_limit if requested is None else min(requested, max_limit)
    return Page(offset, limit, requested, as_dt("date_from"), as_dt("date_to"))


def paged(req: OcpiRequest, page: Page, total: int, items: list[Any]) -> OcpiResult:
    """A page of a list, with X-Total-Count, X-Limit and (if more follow) Link."""
    headers = {"X-Total-Count": str(total), "X-Limit": str(req.server.page_limit)}
    next_offset = page.offset + len(items)
    if next_offset < total and items:
        query = [(k, v) for k, v in req.http.query.items() if k not in ("offset", "limit")]
        query.append(("offset", str(next_offset)))
        query.append(("limit", str(page.limit)))
        url = f"{req.rt.base_url}{req.http.path}?{urlencode(query)}"
        headers["Link"] = f'<{url}>; rel="next"'
    return OcpiResult(data=items, headers=headers)


# --- the server -----------------------------------------------------------------------------


@dataclass
class Identity:
    """Who this server is in OCPI terms."""

    country_code: str
    party_id: str
    role: str
    business_name: str
    website: str | None = None
    hub_party_id: str | None = None

    def business_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"name": self.business_name}
        if self.website:
            details["website"] = self.website
        return details


class OcpiServer:
    def __init__(
        self,
        rt: Runtime,
        platforms: Platforms,
        identity: Identity,
        *,
        prefix: str = "/ocpi",
        versions: Sequence[str] = ("2.3.0", "2.2.1", "2.1.1"),
        page_limit: int = 50,
        strict: bool = False,
    ) -> None:
        self.rt = rt
        self.platforms = platforms
        self.identity = identity
        self.prefix = prefix.rstrip("/")
        self.versions = sorted(versions, key=version_key, reverse=True)
        self.page_limit = page_limit
        self.strict = strict
        self.modules: list[Module] = []
        # Called for every finished inbound exchange (used by conformance checks).
        self.observers: list[Callable[[OcpiRequest, OcpiResult], None]] = []

    # --- configuration ---------------------------------------------------------------------

    def add_module(self, module: Module) -> None:
        self.modules.append(module)

    def module(self, module_id: str) -> Module | None:
        return next((m for m in self.modules if m.id == module_id), None)

    @property
    def versions_url(self) -> str:
        return f"{self.rt.base_url}{self.prefix}/versions"

    def version_url(self, version: str) -> str:
        return f"{self.rt.base_url}{self.prefix}/{version}"

    def endpoint_url(self, version: str, module_id: str) -> str:
        return f"{self.rt.base_url}{self.prefix}/{version}/{module_id}"

    def endpoints(self, version: str) -> list[dict[str, Any]]:
        out = []
        for m in self.modules:
            if m.id == "versions" or not m.hosted(version):
                continue
            ep: dict[str, Any] = {"identifier": m.id, "url": self.endpoint_url(version, m.id)}
            if version_key(version) >= (2, 2):
                # For credentials the role is meaningless; 2.2.1-d2 advises SENDER.
                ep["role"] = m.interface or "SENDER"
            out.append(ep)
        return out

    def credentials(self, version: str, token: str) -> dict[str, Any]:
        """Our Credentials object for ``version`` carrying ``token``."""
        ident = self.identity
        if version_key(version) < (2, 2):
            return {
                "token": token,
                "url": self.versions_url,
                "business_details": ident.business_details(),
                "party_id": ident.party_id,
                "country_code": ident.country_code,
            }
        creds: dict[str, Any] = {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": ident.role,
                    "business_details": ident.business_details(),
                    "party_id": ident.party_id,
                    "country_code": ident.country_code,
                }
            ],
        }
        if version_key(version) >= (2, 3) and ident.hub_party_id:
            creds["hub_party_id"] = ident.hub_party_id
        return creds

    def mount(self, app: web.Application) -> None:
        # One aiohttp resource per path, holding each method's handler: a request is matched
        # against a few resources (aiohttp tries those under the same fixed prefix in turn).
        paths: Paths = {}
        for m in self.modules:
            for route in m.routes():
                if m.id == "versions" and "{version}" not in route.path:
                    # The versions list is the same whatever the version: mounted once.
                    self._add(paths, f"{self.prefix}{route.path}", m, route, None)
                    continue
                for version in self.versions:
                    if not m.hosted(version):
                        continue
                    if m.id == "versions":
                        path = f"{self.prefix}{route.path}".replace("{version}", version)
                    else:
                        path = f"{self.prefix}/{version}/{m.id}{route.path}"
                    self._add(paths, path, m, route, version)
        for path, handlers in paths.items():
            resource = app.router.add_resource(path)
            for method, handler in handlers:
                resource.add_route(method, handler)
        app.router.add_route("*", self.prefix, self._not_found)
        app.router.add_route("*", self.prefix + "/{tail:.*}", self._not_found)

    def _add(
        self,
        paths: Paths,
        path: str,
        module: Module,
        route: Route,
        version: str | None,
    ) -> None:
        handler = self._handler(module, route, version)
        paths.setdefault(path, []).append((route.method, handler))
        # Tolerate a trailing slash (the spec's own example URLs end with one).
        if not path.endswith("/"):
            paths.setdefault(path + "/", []).append((route.method, handler))

    def _handler(self, module: Module, route: Route, version: str | None) -> WebHandler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.dispatch(request, module, route, version)

        return handle

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        """Unknown OCPI path (404) or a method the interface does not have (405)."""
        allowed: set[str] = set()
        for resource in request.app.router.resources():
            if resource is request.match_info.route.resource:
                continue
            match, methods = await resource.resolve(request)
            if match is None and methods:
                allowed |= methods
        parts = request.path[len(self.prefix) :].strip("/").split("/")
        version = parts[0] if parts and parts[0] in self.versions else None
        module_id = parts[1] if version and len(parts) > 1 else "versions"

        async def refuse(req: OcpiRequest) -> Any:
            if allowed:
                req.finding(
                    "OCPI-32",
                    f"{request.method} is not part of the {module_id} interface here "
                    f"(allowed: {', '.join(sorted(allowed))})",
                )
                raise OcpiError(
                    status.CLIENT_ERROR,
                    f"method {request.method} is not supported on {request.path}",
                    http_status=405,
                    headers={"Allow": ", ".join(sorted(allowed))},
                )
            if version is None and _VERSION_RE.fullmatch(parts[0]):
                raise OcpiError(
                    status.UNSUPPORTED_VERSION,
                    f"OCPI {parts[0]} is not offered here (offered: {', '.join(self.versions)})",
                    http_status=404,
                )
            raise OcpiError(
                status.CLIENT_ERROR, f"no OCPI endpoint at {request.path}", http_status=404
            )

        fallback = Module()
        fallback.id = module_id
        token_a = module_id in ("versions", "credentials")
        # Nothing is served here whoever asks: an unregistered (token A) caller learns that
        # too, instead of a 401 about registration.
        route = Route(request.method, request.path, refuse, token_a=token_a, registered_only=False)
        return await self.dispatch(request, fallback, route, version)

    # --- dispatch --------------------------------------------------------------------------

    async def dispatch(
        self, request: web.Request, module: Module, route: Route, version: str | None
    ) -> web.StreamResponse:
        started = time.perf_counter()
        module_id = module.id
        functional = module_id not in CONFIGURATION_MODULES
        refused: OcpiError | None = None
        try:
            inbound.check_request_text(request.raw_path, request.headers.items())
        except inbound.InvalidInput as exc:
            # Refused before anything reads it; its ids are not echoed (they may be the bad text).
            refused = OcpiError(status.INVALID_PARAMETERS, exc.message, http_status=400)
        request_id = request.headers.get("X-Request-ID") if refused is None else None
        correlation_id = request.headers.get("X-Correlation-ID") if refused is None else None
        req = OcpiRequest(
            http=request,
            server=self,
            version=version,
            module=module_id,
            platform=None,
            token_a=None,
            token_encoding=None,
            params=dict(request.match_info),
            body=None,
            raw_body=b"",
            request_id=request_id or self.rt.ids.uuid(),
            correlation_id=correlation_id or self.rt.ids.uuid(),
        )
        result: OcpiResult
        # The checks this request runs (marked for its platform once it is known, below).
        with self.rt.coverage.collect() as ran:
            try:
                if refused is not None:
                    raise refused
                self._authenticate(req, route)
                if route.registered_only and (req.platform is None or not req.platform.registered):
                    raise OcpiError(
                        status.CLIENT_ERROR,
                        f"{module_id} needs the token of a registered platform",
                        http_status=401,
                    )
                effective = version or (req.platform.version if req.platform else None)
                # Headers 2.1.1 does not have are judged once the version is known (the
                # versions list called with token A is the same for 2.1.1 and 2.2+).
                if effective is not None and version_key(effective) >= (2, 2):
                    self._check_request_headers(req, functional, request_id, correlation_id)
                await self._read_body(req)
                value = await route.handler(req)
                result = value if isinstance(value, OcpiResult) else OcpiResult(data=value)
            except OcpiError as exc:
                result = OcpiResult(
                    data=exc.data,
                    status_code=exc.status_code,
                    message=exc.message,
                    http_status=exc.http_status,
                    headers=exc.headers,
                )
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                # Raised by aiohttp (or a handler) below us: still an OCPI envelope.
                result = OcpiResult(
                    status_code=status.CLIENT_ERROR if exc.status < 500 else status.SERVER_ERROR,
                    message=exc.text or exc.reason,
                    http_status=exc.status,
                )
            except Exception as exc:
                log.exception("OCPI handler failed", path=request.path)
                result = OcpiResult(
                    status_code=status.SERVER_ERROR,
                    message=f"internal error in the emulator: {type(exc).__name__}: {exc}",
                    http_status=500,
                )
        response = self._build_response(req, result, functional)
        elapsed = (time.perf_counter() - started) * 1000
        platform_id = req.platform.id if req.platform else req.journal_platform_id
        exchange_id = self.rt.journal.record(
            direction="in",
            protocol="ocpi",
            method=request.method,
            url=str(request.rel_url),
            request_headers=request.headers,
            request_body=req.raw_body,
            status=response.status,
            ocpi_status=result.status_code,
            response_headers=response.headers,
            response_body=response.body if isinstance(response.body, bytes) else None,
            duration_ms=elapsed,
            platform_id=platform_id,
            module=module_id,
        )
        if platform_id is not None:  # (token A before the platform exists: nobody's yet)
            self.rt.coverage.ran(ran, platform_id)
        for f in req.findings:
            self.rt.findings.record(
                f.rule,
                f.message,
                platform_id=platform_id,
                exchange_id=exchange_id,
                pointer=f.pointer,
                context=f.context,
            )
        for observer in self.observers:
            observer(req, result)
        log.info(
            "ocpi request",
            method=request.method,
            path=request.path,
            status=response.status,
            ocpi_status=result.status_code,
            platform=platform_id,
            ms=round(elapsed, 2),
        )
        return response

    def _authenticate(self, req: OcpiRequest, route: Route) -> None:
        header = req.http.headers.get("Authorization")
        if not header:
            raise OcpiError(
                status.CLIENT_ERROR,
                "missing Authorization header (expected 'Token <base64 token>')",
                http_status=401,
            )
        scheme, _, value = header.partition(" ")
        value = value.strip()
        # HTTP authentication schemes are case-insensitive (RFC 7235 §2.1): 'token' is fine.
        if scheme.lower() != "token" or not value:
            raise OcpiError(
                status.CLIENT_ERROR,
                "Authorization header must be 'Token <base64 token>'",
                http_status=401,
            )
        decoded = decode_token(value)
        # A token sent Base64-encoded, as 2.2.1-d2 / 2.3.0 say.
        candidates: list[tuple[str, str]] = []
        if decoded is not None:
            candidates.append((decoded, "base64"))
        candidates.append((value, "raw"))
        for token, encoding in candidates:
            platform = self.platforms.by_issued_token(token)
            if platform is None:
                continue
            if platform.status == "UNREGISTERED":
                if req.module == "credentials" and req.http.method != "POST":
                    # Known, but unregistered: the credentials module answers 405.
                    req.platform = platform
                    req.token = token
                    req.token_encoding = encoding
                    return
                raise OcpiError(
                    status.CLIENT_ERROR,
                    "this platform was unregistered; register again with a new token A",
                    http_status=401,
                )
            if platform.status not in ("REGISTERED", "PENDING"):
                continue
            if platform.status == "PENDING" and req.module not in ("versions", "credentials"):
                raise OcpiError(
                    status.CLIENT_ERROR,
                    "registration is not complete: only versions and credentials may be called",
                    http_status=401,
                )
            if (
                req.version is not None
                and platform.version is not None
                and req.version != platform.version
                and req.module not in CONFIGURATION_MODULES
            ):
                # A token is issued for the version the credentials exchange agreed on; the
                # other versions' module endpoints are not the platform's (credentials and
                # versions stay open: a credentials PUT at another version switches to it).
                req.journal_platform_id = platform.id
                raise OcpiError(
                    status.CLIENT_ERROR,
                    f"this token is registered for OCPI {platform.version}; use the "
                    f"{platform.version} endpoints (a credentials PUT at {req.version} switches "
                    "the registration to it)",
                    http_status=401,
                )
            self._note_encoding(req, platform, encoding)
            if platform.registered_by == "peer" and platform.registered:
                # Checklist 5.2 #17: after its POST, the Sender calls us with token C.
                checked("OCPI-17")
            elif platform.registered_by == "us" and platform.status == "PENDING":
                # Checklist 5.2 #15: the Receiver of our POST calls us with token B.
                checked("OCPI-15")
            req.platform = platform
            req.token = token
            req.token_encoding = encoding
            return
        for token, encoding in candidates:
            row = self.platforms.token_a(token) or self._unanswered_registration(req, token)
            if row is None:
                continue
            if not route.token_a:
                raise OcpiError(
                    status.CLIENT_ERROR,
                    f"CREDENTIALS_TOKEN_A may only be used on versions and credentials, not "
                    f"on {req.module}",
                    http_status=401,
                )
            # The versions list is the same for every version: whether a raw token is
            # right there is only known from the version of the next calls.
            if req.version and version_key(req.version) >= (2, 2):
                checked("OCPI-01")
            if encoding == "raw" and req.version and version_key(req.version) >= (2, 2):
                req.finding(
                    "OCPI-01",
                    "token A sent raw in the Authorization header; OCPI 2.2.1/2.3.0 require "
                    "it Base64-encoded",
                )
                if self.strict:
                    raise OcpiError(
                        status.CLIENT_ERROR,
                        "raw token refused (strict mode): OCPI 2.2.1/2.3.0 want it Base64-encoded",
                        http_status=401,
                    )
            req.token_a = token
            req.token_encoding = encoding
            return
        for token, _ in candidates:
            self._explain_refused_token(req, token)
        raise OcpiError(status.CLIENT_ERROR, "unknown token", http_status=401)

    def _unanswered_registration(self, req: OcpiRequest, token: str) -> TokenA | None:
        """A token A that a registration used whose answer was never written (the emulator
        stopped before sending it) and whose platform was never called with that answer's
        token C: the peer never had it, and registers again (versions, then a credentials
        POST). Taken as token A; the POST makes the registration again on that platform
        (``req.again``) instead of a second one."""
        spent = self.platforms.spent_token_a(token)
        if spent is None or spent.get("answered_at"):
            return None
        owner_id = spent["platform_id"]
        owner = self.platforms.get(owner_id) if owner_id is not None else None
        if (
            owner is None
            or owner.registered_by != "peer"
            or owner.status not in ("PENDING", "REGISTERED")
            or owner.peer_auth_seen is not None
        ):
            return None
        if req.module == "credentials" and req.http.method == "POST":
            req.again = owner.id
        return spent

    def _explain_refused_token(self, req: OcpiRequest, token: str) -> None:
        """Raise a 401 that says why ``token`` is refused, if it is one this server knows of
        (spent token A, the peer's own token, a token replaced by a credentials PUT), with a
        finding against the platform that presented it."""
        spent = self.platforms.spent_token_a(token)
        if spent is not None:
            owner_id = spent["platform_id"]
            owner = self.platforms.get(owner_id) if owner_id else None
            if owner is not None and owner.registered:
                # Checklist 5.2 #17: after the POST, the Sender uses the token C it received.
                req.journal_platform_id = owner.id
                req.finding(
                    "OCPI-17",
                    f"{req.http.method} {req.http.path} with CREDENTIALS_TOKEN_A after the "
                    "registration; from then on the token C of the credentials answer is used",
                )
            raise OcpiError(
                status.CLIENT_ERROR,
                "this CREDENTIALS_TOKEN_A was already used for a registration and is no longer "
                "valid; use the token returned by the credentials exchange",
                http_status=401,
            )
        own = self.platforms.by_peer_token(token)
        if own is not None and own.status in ("PENDING", "REGISTERED"):
            req.journal_platform_id = own.id
            rule: RuleId
            if own.registered_by == "us":
                # Checklist 5.2 #15: the Receiver calls us with the token B we gave it.
                rule, ours = "OCPI-15", "token B from our credentials"
            else:
                # Checklist 5.2 #17: the Sender calls us with the token C we returned.
                rule, ours = "OCPI-17", "token C from our credentials answer"
            req.finding(
                rule,
                f"{req.http.method} {req.http.path} with the peer's own token (the one it gave "
                f"us to call it) instead of {ours}",
            )
            raise OcpiError(
                status.CLIENT_ERROR,
                f"this is the token you gave us to call you; call us with the {ours}",
                http_status=401,
            )
        replaced = self.platforms.by_previous_token(token)
        if replaced is not None:
            platform, rotated_by = replaced
            if platform.registered:
                req.journal_platform_id = platform.id
                replaced_rule: RuleId
                if rotated_by == "us":
                    # Checklist 5.2 #16: the Receiver of our PUT stores the new token B.
                    replaced_rule, why = "OCPI-16", "our credentials PUT gave a new token"
                else:
                    # Checklist 5.2 #17: after its PUT, the peer uses the token it got back.
                    replaced_rule, why = (
                        "OCPI-17",
                        "the answer to its credentials PUT gave a new token",
                    )
                req.finding(
                    replaced_rule,
                    f"{req.http.method} {req.http.path} with a replaced token; {why}",
                )
                raise OcpiError(
                    status.CLIENT_ERROR,
                    "this token was replaced by a credentials update (PUT); use the new one",
                    http_status=401,
                )

    def _note_encoding(self, req: OcpiRequest, platform: Platform, encoding: str) -> None:
        version = req.version or platform.version
        modern = version is None or version_key(version) >= (2, 2)
        checked("OCPI-01")
        if encoding == "raw" and modern:
            if platform.peer_auth_seen != "raw" or self.strict:
                req.finding(
                    "OCPI-01",
                    "token sent raw in the Authorization header; OCPI 2.2.1/2.3.0 require "
                    "'Token ' + Base64(token)",
                )
            if self.strict:
                req.journal_platform_id = platform.id
                raise OcpiError(
                    status.CLIENT_ERROR,
                    "raw token refused (strict mode): OCPI 2.2.1/2.3.0 want it Base64-encoded",
                    http_status=401,
                )
        if platform.peer_auth_seen != encoding:
            self.platforms.update(platform.id, peer_auth_seen=encoding)

    def _check_request_headers(
        self,
        req: OcpiRequest,
        functional: bool,
        request_id: str | None,
        correlation_id: str | None,
    ) -> None:
        h = req.http.headers
        checked("OCPI-03", "OCPI-04" if functional else "OCPI-04b")
        missing = [
            n
            for n, v in (("X-Request-ID", request_id), ("X-Correlation-ID", correlation_id))
            if not v
        ]
        if missing:
            req.finding("OCPI-03", f"request without {' and '.join(missing)}")
        present = [n for n in ROUTING_HEADERS if h.get(n)]
        if not functional:
            if present:
                req.finding(
                    "OCPI-04b",
                    f"routing headers ({', '.join(present)}) on the configuration module "
                    f"{req.module}; they SHALL NOT be used there",
                )
            return
        absent = [n for n in ROUTING_HEADERS if not h.get(n)]
        if absent and not peer_to_peer(req.platform):
            req.finding("OCPI-04", f"functional-module request without {', '.join(absent)}")
        to_cc, to_pid = h.get("OCPI-to-country-code"), h.get("OCPI-to-party-id")
        if (
            to_cc
            and to_pid
            and (
                to_cc.upper() != self.identity.country_code.upper()
                or to_pid.upper() != self.identity.party_id.upper()
            )
        ):
            req.finding(
                "OCPI-04",
                f"OCPI-to is {to_cc}/{to_pid}; this platform is "
                f"{self.identity.country_code}/{self.identity.party_id}",
            )
        from_cc, from_pid = h.get("OCPI-from-country-code"), h.get("OCPI-from-party-id")
        if from_cc and from_pid and req.platform and not req.platform.owns(from_cc, from_pid):
            req.finding(
                "OCPI-04",
                f"OCPI-from is {from_cc}/{from_pid}, which is not among the platform's "
                "CredentialsRoles",
            )

    async def _read_body(self, req: OcpiRequest) -> None:
        if req.http.method in ("GET", "DELETE", "HEAD") and not req.http.can_read_body:
            return
        limit = self.rt.settings.max_body_bytes
        if req.http.content_length is not None and req.http.content_length > limit:
            raise OcpiError(
                status.CLIENT_ERROR,
                f"request body of {req.http.content_length} bytes is over the limit of {limit}",
                http_status=413,
            )
        try:
            raw = await req.http.read()
        except web.HTTPRequestEntityTooLarge:
            raise OcpiError(
                status.CLIENT_ERROR,
                f"request body is over the limit of {limit} bytes",
                http_status=413,
            ) from None
        except web.RequestPayloadError as exc:  # e.g. a Content-Encoding it is not in
            raise OcpiError(
                status.CLIENT_ERROR,
                f"request body could not be read: {inbound.unreadable(exc)}",
                http_status=400,
            ) from None
        req.raw_body = raw
        if not raw.strip():
            return
        ctype = req.http.headers.get("Content-Type", "")
        checked("OCPI-05")
        if "application/json" not in ctype.lower():
            req.finding("OCPI-05", f"request body sent with Content-Type {ctype or '(none)'!r}")
        try:
            req.body = inbound.loads(raw)
        except inbound.InvalidInput as exc:
            raise OcpiError(
                status.INVALID_PARAMETERS, f"request body refused: {exc.message}", http_status=400
            ) from None
        except ValueError as exc:
            raise OcpiError(
                status.CLIENT_ERROR, f"request body is not valid JSON: {exc}", http_status=400
            ) from None

    def _build_response(
        self, req: OcpiRequest, result: OcpiResult, functional: bool
    ) -> web.Response:
        response = self._envelope_response(
            req.http,
            result.data,
            result.status_code,
            result.message,
            http_status=result.http_status,
            omit_data=result.omit_data,
        )
        response.headers["X-Request-ID"] = req.request_id
        response.headers["X-Correlation-ID"] = req.correlation_id
        version = req.version or (req.platform.version if req.platform else None)
        if functional and (version is None or version_key(version) >= (2, 2)):
            response.headers["OCPI-from-country-code"] = self.identity.country_code
            response.headers["OCPI-from-party-id"] = self.identity.party_id
            to_cc = req.http.headers.get("OCPI-from-country-code")
            to_pid = req.http.headers.get("OCPI-from-party-id")
            if not (to_cc and to_pid) and req.platform:
                role = req.platform.primary_role()
                if role:
                    to_cc, to_pid = role.get("country_code"), role.get("party_id")
            if to_cc and to_pid:
                response.headers["OCPI-to-country-code"] = to_cc
                response.headers["OCPI-to-party-id"] = to_pid
        for key, value in result.headers.items():
            response.headers[key] = value
        return response

    def _envelope_response(
        self,
        request: web.Request,
        data: Any,
        status_code: int,
        message: str | None,
        *,
        http_status: int = 200,
        omit_data: bool = False,
    ) -> web.Response:
        envelope: dict[str, Any] = {}
        if not omit_data and data is not None:
            envelope["data"] = data
        envelope["status_code"] = status_code
        envelope["status_message"] = message or status.MEANING.get(status_code, "")
        envelope["timestamp"] = format_datetime(self.rt.now())
        return web.Response(
            status=http_status,
            body=jsonio.dumps(envelope).encode("utf-8"),
            content_type="application/json",
        )
