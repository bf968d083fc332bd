"""HTTP of the CPS API: authenticate, parse the query, call the service, serialise.

All command parameters are query parameters (payter.md §3.4); POST bodies are ignored except for
``/ui`` (the screen) and ``/webhook`` (``{"url"}`` as an alternative to ``?url=``), and an empty
or ``null`` body is always accepted (Payter's clients send either). One middleware does what
every call needs: the API key (``Authorization: CPS apikey="<key>"``, §3.2), the error body
(:mod:`emulator.cps.errors`; never an unexplained 500), and the traffic journal entry.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from yarl import URL

from emulator import inbound, jsonio, logs
from emulator.cps.errors import CpsError, Finding, invalid_parameter, missing_parameter
from emulator.cps.keys import ApiKey
from emulator.cps.service import CloudPaymentService
from emulator.outbound import OutboundPolicy
from emulator.redact import redact_secret

log = logs.get_logger("emulator.cps.http")

API_KEY = web.RequestKey("cps_api_key", ApiKey)
# Findings about a request that succeeded (recorded once the exchange is in the journal).
FINDINGS = web.RequestKey("cps_findings", list)
# The commit/cancel fault injected into this request, if any.
FAULT = web.RequestKey("cps_fault", str)
# Routes whose calls the retry check sees (payter.md §3.7).
RETRIED_ROUTES = {"cps-commit": "commit", "cps-cancel": "cancel"}
# Routes that need no API key: the OpenAPI document, the key exchange, the index.
PUBLIC_ROUTES = frozenset({"cps-index", "cps-openapi", "cps-apikey"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=jsonio.dumps(data).encode("utf-8"), content_type="application/json"
    )


def error_response(exc: CpsError) -> web.Response:
    response = json_response(exc.body(), exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'CPS realm="cps", apikey'
    if exc.status == 405:  # RFC 9110 §15.5.6: a 405 names the allowed methods
        response.headers["Allow"] = ", ".join(exc.details.get("allowed") or ())
    return response


# --- query parameters ----------------------------------------------------------------------------


class Query:
    """Typed access to the query string; a bad value is a 400 naming the parameter.

    A parameter that is not repeatable may be given once. An empty value (``uiMessage=``, or
    ``uiMessageTimeout`` without ``=``, as HTTP clients write a null parameter) counts as not
    given: Payter does not document refusing it, so the emulator is lenient, and notes an empty
    number, boolean, URL or list value (info ``CPS-06``: the CSMS may have lost a value on the
    way). An empty *required* parameter (``commitAmount=``) is refused.
    """

    def __init__(self, request: web.Request, policy: OutboundPolicy | None = None) -> None:
        self.request = request
        self.query = request.query
        # URLs the emulator will call (webhook, callbackUrl) are checked against it.
        self.policy = policy
        self._noted: set[str] = set()

    def _empty(self, name: str, what: str) -> None:
        """An empty value taken as not given, noted once per parameter."""
        if name in self._noted:
            return
        self._noted.add(name)
        self.request.setdefault(FINDINGS, []).append(
            Finding(
                "CPS-06",
                f"'{name}' is given empty ({self.request.method} {self.request.path}): taken as "
                f"not given; leave it out, or give {what}",
                {"parameter": name},
            )
        )

    def _one(self, name: str) -> str | None:
        values = self.query.getall(name, [])
        if len(values) > 1:
            raise invalid_parameter(name, f"is given {len(values)} times; give it once")
        return values[0] if values else None

    def _typed(self, name: str, what: str) -> str | None:
        value = self._one(name)
        if value is not None and not value.strip():
            self._empty(name, what)
            return None
        return value

    def text(self, name: str) -> str | None:
        value = self._one(name)
        return value if value else None

    def texts(self, name: str) -> list[str]:
        """A repeatable parameter (``?a=1&a=2``); comma-separated values are split too."""
        out: list[str] = []
        for value in self.query.getall(name, []):
            if not value.strip():
                self._empty(name, "a value")
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out

    def integer(self, name: str, *, minimum: int | None = None) -> int:
        """A required integer (amounts are integers in minor units)."""
        value = self._one(name)
        if value is not None and not value.strip():
            raise invalid_parameter(
                name, "is empty: give an integer amount in minor units (it is required)"
            )
        number = self.optional_integer(name, minimum=minimum)
        if number is None:
            raise missing_parameter(name, "an integer amount in minor units")
        return number

    def optional_integer(self, name: str, *, minimum: int | None = None) -> int | None:
        value = self._typed(name, "an integer in minor units (cents)")
        if value is None:
            return None
        try:
            number = int(value.strip())
        except ValueError:
            raise invalid_parameter(
                name, f"must be an integer in minor units (cents), got {value!r}"
            ) from None
        if minimum is not None and number < minimum:
            raise invalid_parameter(name, f"must be at least {minimum}, got {number}")
        from emulator.cps.models import MAX_AMOUNT

        if number > MAX_AMOUNT:
            raise invalid_parameter(name, f"must be at most {MAX_AMOUNT}, got {number}")
        return number

    def seconds(self, name: str) -> float | None:
        value = self._typed(name, "a number of seconds")
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        from emulator.cps.models import MAX_SECONDS

        if not math.isfinite(number) or not 0 <= number <= MAX_SECONDS:
            raise invalid_parameter(
                name, f"must be a number of seconds from 0 to {MAX_SECONDS}, got {value!r}"
            )
        return number

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._typed(name, "true or false")
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise invalid_parameter(name, f"must be true or false, got {value!r}")

    def url(self, name: str) -> str | None:
        value = self._typed(name, "an absolute http(s) URL")
        if value is None:
            return None
        check_url(value, name, self.policy)
        return value


def check_url(value: Any, name: str, policy: OutboundPolicy | None = None) -> str:
    if not isinstance(value, str):
        raise invalid_parameter(name, "must be an absolute http(s) URL")
    if not (value.isascii() and value.isprintable()) or " " in value:
        # RFC 3986: a URI is printable ASCII; anything else is percent-encoded (hosts: IDNA).
        raise invalid_parameter(
            name,
            f"must be an absolute http(s) URL in printable ASCII (percent-encode the rest), "
            f"got {value!r}",
        )
    try:
        url = URL(value)
    except (ValueError, TypeError):
        raise invalid_parameter(name, f"must be an absolute http(s) URL, got {value!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise invalid_parameter(name, f"must be an absolute http(s) URL, got {value!r}")
    refusal = policy.host_refusal(url.host) if policy is not None else None
    if refusal is not None:
        raise invalid_parameter(
            name, f"is not a URL the emulator calls: {url.host} {refusal} (outbound policy)"
        )
    return value


async def json_body(request: web.Request) -> Any:
    """The JSON body, or None when it is empty or ``null``."""
    try:
        raw = await request.read()
    except web.RequestPayloadError as exc:  # e.g. a Content-Encoding it is not in
        reason = inbound.unreadable(exc)
        message = f"the request body could not be read: {reason}"
        raise CpsError(400, "invalid_body", message) from None
    if not raw.strip():
        return None
    try:
        return inbound.loads(raw)
    except inbound.InvalidInput as exc:
        raise CpsError(
            400,
            "invalid_text" if exc.kind == "text" else "invalid_body",
            f"the request body is refused: {exc.message}",
        ) from None
    except ValueError as exc:
        raise CpsError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None


# --- middleware ----------------------------------------------------------------------------------


def _request_url(request: web.Request) -> URL:
    """The URL the client asked for; path and query only when its Host header is no host name
    (``request.url`` raises then: not a 500, the header is the client's mistake)."""
    try:
        return request.url
    except ValueError:  # UnicodeError too
        return request.rel_url


def _journal_url(request: web.Request) -> str:
    url = _request_url(request)
    if "token" in url.query:  # GET /apikey?token=: a secret in the query
        url = url.update_query(token=redact_secret(url.query["token"]))
    return str(url)


def cps_middleware(service: CloudPaymentService) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response: web.StreamResponse
        findings: list[Finding] = []
        try:
            response = await _handle(service, request, handler)
            findings = list(request.get(FINDINGS) or [])
        except CpsError as exc:
            response = error_response(exc)
            findings = exc.findings
        except web.HTTPRequestEntityTooLarge as exc:
            response = error_response(CpsError(413, "body_too_large", exc.text or exc.reason))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = error_response(_http_error(request, exc))
        except Exception as exc:
            log.exception("CPS handler failed", path=request.path)
            response = error_response(
                CpsError(
                    500,
                    "internal_error",
                    f"the emulator failed on this request ({type(exc).__name__}: {exc}); "
                    "this is a bug in the emulator, please report it",
                )
            )
        body: bytes | None = None
        if request.body_exists:
            try:
                body = await request.read()
            except (web.HTTPException, web.RequestPayloadError, OSError):
                body = None  # too large, undecodable, or the client went away
        elapsed = (time.perf_counter() - started) * 1000
        exchange_id = service.rt.journal.record(
            direction="in",
            protocol="cps",
            module=_module(request),
            method=request.method,
            url=_journal_url(request),
            request_headers=request.headers,
            request_body=body,
            status=response.status,
            response_headers=response.headers,
            response_body=response.body if isinstance(response, web.Response) else None,
            duration_ms=elapsed,
        )
        for finding in findings:
            service.rt.findings.record(
                finding.rule,
                finding.message,
                exchange_id=exchange_id,
                context=finding.context,
            )
        call = RETRIED_ROUTES.get(request.match_info.route.name or "")
        if call is not None:
            service.retries.observe(
                request.match_info["serialNumber"],
                request.match_info["sessionId"],
                call,
                response.status,
                request.get(FAULT),
            )
        # One line per request; the path only, since a query may carry a token (/apikey).
        log.info(
            "cps request",
            method=request.method,
            path=request.path,
            status=response.status,
            ms=round(elapsed, 2),
        )
        return response

    return middleware


async def _handle(
    service: CloudPaymentService, request: web.Request, handler: Handler
) -> web.StreamResponse:
    try:
        inbound.check_request_text(request.raw_path, request.headers.items())
    except inbound.InvalidInput as exc:
        raise CpsError(400, "invalid_text", exc.message) from None
    match = request.match_info
    if match.http_exception is not None:
        raise match.http_exception
    route = match.route.name
    if route not in PUBLIC_ROUTES:
        key = service.keys.authenticate(request.headers.get("Authorization"))
        if key is None:
            raise CpsError(
                401,
                "unauthorized",
                "a valid API key is required: 'Authorization: CPS apikey=\"<key>\"'"
                if request.headers.get("Authorization")
                else "missing 'Authorization: CPS apikey=\"<key>\"' header",
            )
        request[API_KEY] = key
    return await handler(request)


def _http_error(request: web.Request, exc: web.HTTPException) -> CpsError:
    if exc.status == 404:
        return CpsError(404, "not_found", f"no CPS endpoint {request.method} {request.path}")
    if exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        return CpsError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path}",
            allowed=allowed,
        )
    return CpsError(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason)


def _module(request: web.Request) -> str:
    route = request.match_info.route.name or ""
    return route.removeprefix("cps-") or "unknown"


# --- handlers ------------------------------------------------------------------------------------


class Handlers:
    """One per endpoint: parse → call the service → serialise (payter.md §3.4)."""

    def __init__(self, service: CloudPaymentService) -> None:
        self.service = service

    @staticmethod
    def _key(request: web.Request) -> ApiKey:
        return request[API_KEY]

    @staticmethod
    def _serial(request: web.Request) -> str:
        return request.match_info["serialNumber"]

    # --- public --------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.Response:
        base = str(_request_url(request).with_query(None)).rstrip("/")
        return json_response(
            {
                "service": "Payter Cloud Payments Service (emulated)",
                "openapi": f"{base}/openapi.json",
                "authentication": 'Authorization: CPS apikey="<key>"',
            }
        )

    async def openapi(self, request: web.Request) -> web.Response:
        from emulator.cps.openapi import openapi_document

        server = str(_request_url(request).with_query(None))
        server = server[: -len("openapi.json")] if server.endswith("openapi.json") else server
        return json_response(
            openapi_document(server.rstrip("/") or "/", self.service.settings.cps_answers)
        )

    async def apikey(self, request: web.Request) -> web.Response:
        token = Query(request).text("token")
        if token is None:
            raise missing_parameter("token")
        apikey = self.service.keys.exchange(token)
        if apikey is None:
            raise CpsError(401, "unknown_token", "this token does not stand for an API key")
        return json_response({"apikey": apikey})

    # --- webhook -------------------------------------------------------------------------

    async def get_webhook(self, request: web.Request) -> web.Response:
        return json_response(self.service.webhook(self._key(request)).dump())

    async def set_webhook(self, request: web.Request) -> web.Response:
        policy = self.service.rt.outbound
        query = Query(request, policy)
        body = await json_body(request)
        if body is not None and not isinstance(body, dict):
            raise CpsError(
                400,
                "invalid_body",
                'the body must be a JSON object {"url": "..."} (or empty, with ?url=)',
            )
        # A URL given is checked wherever it is; ?url= wins (CPS command parameters are query
        # parameters, payter.md §3.4), then the body. callbackUrl, as start and ui name their
        # URLs, is taken as well.
        body_urls = {
            name: check_url(body[name], name, policy)
            for name in ("url", "callbackUrl")
            if body and body.get(name) is not None
        }
        given = [query.url("url"), query.url("callbackUrl"), *body_urls.values()]
        url = next((u for u in given if u is not None), None)
        if url is None:
            for name in ("url", "callbackUrl"):
                if name in query.query:  # given empty: the one required value is lost
                    raise invalid_parameter(
                        name, "is empty: give an absolute http(s) URL (it is required)"
                    )
            raise missing_parameter("url", 'give ?url= or the body {"url": "..."}')
        return json_response(self.service.set_webhook(self._key(request), url).dump())

    async def delete_webhook(self, request: web.Request) -> web.Response:
        return json_response(self.service.delete_webhook(self._key(request)).dump())

    # --- terminals and card reading ---------------------------------------------------------

    async def terminals(self, request: web.Request) -> web.Response:
        return json_response([t.dump() for t in self.service.terminals(self._key(request))])

    async def terminal(self, request: web.Request) -> web.Response:
        terminal = self.service.terminal(self._key(request), self._serial(request))
        return json_response(terminal.dump())

    async def start(self, request: web.Request) -> web.Response:
        q = Query(request, self.service.rt.outbound)
        # Accepted and checked, without effect: uiMessageTimeout (how long the terminal reads is
        # the cps_read_timeout setting; Payter's card-detect timeout is terminal configuration),
        # customIdleScreen and qr (named by Payter's clients, meaning not public, payter.md §3.4).
        q.seconds("uiMessageTimeout")
        q.boolean("customIdleScreen")
        q.text("qr")
        terminal = await self.service.start_reading(
            self._key(request),
            self._serial(request),
            amount=q.optional_integer("authorizedAmount", minimum=0),
            callback_url=q.url("callbackUrl"),
            message=q.text("uiMessage"),
            title=q.text("uiMessageTitle"),
            hide_amount=q.boolean("hideAmount"),
            methods=self._methods(request, q),
            language=q.text("language"),
        )
        return self._answer(terminal.dump())

    def _answer(self, data: Any) -> web.Response:
        """start, stop and ui: an empty body with HTTP 200 as Payter's CPS answers, or the
        emulator's JSON with --cps-answers emulator."""
        if self.service.settings.cps_answers == "payter":
            return web.Response(status=200)
        return json_response(data)

    def _methods(self, request: web.Request, q: Query) -> list[str]:
        """supportedPaymentMethods: the values the terminal knows. Payter's full list is not
        public, so an unknown value (or interface name) is accepted, ignored, and noted (an
        info finding); with none known the terminal reads its default methods."""
        from emulator.terminal.device import PAYMENT_METHODS

        given = [m.upper() for m in q.texts("supportedPaymentMethods")]
        known = [m for m in given if m in PAYMENT_METHODS]
        unknown = [m for m in given if m not in PAYMENT_METHODS]
        if unknown:
            reads = known or list(self.service.default_methods)
            request.setdefault(FINDINGS, []).append(
                Finding(
                    "CPS-05",
                    f"supportedPaymentMethods {', '.join(unknown)} not known to the emulator: "
                    f"accepted and ignored (known: {', '.join(PAYMENT_METHODS)}); the terminal "
                    f"reads {', '.join(reads)}",
                    {"serial_number": self._serial(request), "unknown": unknown},
                )
            )
        return known

    async def card(self, request: web.Request) -> web.Response:
        wait = Query(request).seconds("waitTime") or 0.0
        card = await self.service.card(self._key(request), self._serial(request), wait)
        if card is None:
            return web.Response(status=204)
        return json_response(card.dump(exclude_none=True))

    async def stop(self, request: web.Request) -> web.Response:
        q = Query(request)
        terminal = await self.service.stop_reading(
            self._key(request),
            self._serial(request),
            message=q.text("uiMessage"),
            message_timeout=q.seconds("uiMessageTimeout"),
        )
        return self._answer(terminal.dump())

    # --- sessions ------------------------------------------------------------------------

    async def authorize(self, request: web.Request) -> web.Response:
        q = Query(request)
        session = await self.service.authorize(
            self._key(request),
            self._serial(request),
            amount=q.optional_integer("authorizedAmount", minimum=1),
            message=q.text("uiMessage"),
            message_timeout=q.seconds("uiMessageTimeout"),
            receipt_lines=q.query.getall("receiptLine", []),
        )
        return json_response(session.dump())

    async def sessions(self, request: web.Request) -> web.Response:
        sessions = self.service.sessions(self._key(request), self._serial(request))
        return json_response([s.dump() for s in sessions])

    async def session(self, request: web.Request) -> web.Response:
        session = self.service.session(
            self._key(request), self._serial(request), request.match_info["sessionId"]
        )
        return json_response(session.dump())

    async def _fault(self, request: web.Request, call: str) -> None:
        """A failure injected into this commit/cancel (POST /__admin/cps/commit-faults)."""
        fault = self.service.take_fault(self._key(request), self._serial(request), call)
        if fault is not None:
            request[FAULT] = fault.fault
            await self.service.inject(fault, self._serial(request), call)

    async def commit(self, request: web.Request) -> web.Response:
        q = Query(request)
        amount = q.integer("commitAmount", minimum=0)
        await self._fault(request, "commit")
        session = await self.service.commit(
            self._key(request),
            self._serial(request),
            request.match_info["sessionId"],
            amount,
            message=q.text("uiMessage"),
            message_timeout=q.seconds("uiMessageTimeout"),
            receipt_lines=q.query.getall("receiptLine", []),
        )
        return json_response(session.dump())

    async def cancel(self, request: web.Request) -> web.Response:
        q = Query(request)
        await self._fault(request, "cancel")
        session = await self.service.cancel(
            self._key(request),
            self._serial(request),
            request.match_info["sessionId"],
            message=q.text("uiMessage"),
            message_timeout=q.seconds("uiMessageTimeout"),
            receipt_lines=q.query.getall("receiptLine", []),
        )
        return json_response(session.dump())

    async def increment(self, request: web.Request) -> web.Response:
        result = await self.service.increment(
            self._key(request),
            self._serial(request),
            request.match_info["sessionId"],
            Query(request).integer("amount", minimum=1),
        )
        return json_response(result.dump())

    # --- UI ------------------------------------------------------------------------------

    async def ui(self, request: web.Request) -> web.Response:
        self.service.ui_terminal(self._key(request), self._serial(request))
        callback_url = Query(request, self.service.rt.outbound).url("callbackUrl")
        body = await json_body(request)
        if body is None:
            raise CpsError(
                400,
                "missing_body",
                'the screen is required as the JSON body {"id", "type", "properties"}',
            )
        result = await self.service.show(
            self._key(request), self._serial(request), body, callback_url
        )
        return self._answer(result.dump())
