"""The one outbound OCPI client.

Adds the Authorization header (Base64 or raw per peer), X-Request-ID / X-Correlation-ID and,
on functional modules, the routing headers; applies the timeout; writes every exchange to the
traffic journal (redacted); and checks the peer's answer (envelope, echoed ids, routing
headers, DateTime format), turning a malformed answer into a finding and a
:class:`PeerProtocolError` instead of a crash.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from emulator import inbound, jsonio, logs, outbound
from emulator.coverage import checked
from emulator.faults import FABRICATED, apply_outbound, fault_body, withheld
from emulator.ocpi import status
from emulator.ocpi.platforms import Platform
from emulator.ocpi.transport import CONFIGURATION_MODULES, default_encoding, encode_token
from emulator.ocpi.types import collect_notes, format_datetime, parse_datetime
from emulator.rules import RuleId
from emulator.settings import version_key

if TYPE_CHECKING:
    from emulator.ocpi.transport import OcpiServer
    from emulator.runtime import Runtime

log = logs.get_logger("emulator.ocpi.client")

# Sent to 2.3.0 peers when probing unknown fields: a meaningful name, no x- prefix
# (transport_and_format, "Non-specified JSON fields").
UNKNOWN_FIELD = "emulator_unknown_field_probe"
UNKNOWN_VALUE = "OCPI 2.3.0: a platform SHALL NOT reject a message for an undocumented field"

_LINK_RE = re.compile(r'<\s*(?P<url>[^>]+)\s*>\s*;\s*rel\s*=\s*"?(?P<rel>[^";]+)"?')


class PeerError(Exception):
    """The peer could not be used; ``ocpi_status`` is what to report upstream (3001...)."""

    def __init__(
        self,
        message: str,
        *,
        ocpi_status: int = status.UNABLE_TO_USE_CLIENT_API,
        exchange_id: int | None = None,
        reply: OcpiReply | None = None,
        public: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.ocpi_status = ocpi_status
        self.exchange_id = exchange_id
        self.reply = reply
        # What a peer that chose the URL may be told: never whether a port was open.
        self.public = public or message

    def cause(self) -> str:
        """Why a check that needed this answer could not run, naming the finding the client
        recorded for it (coverage's "not checked: ..."): one root cause, one finding."""
        return f"the CPO could not be asked ({self.message})"


class PeerUnreachable(PeerError):
    """Connection refused, DNS failure, timeout."""


class PeerProtocolError(PeerError):
    """The peer answered, but not with an OCPI envelope."""

    def cause(self) -> str:
        if self.reply is not None:
            return f"OCPI-06 ({self.reply.describe()} at {self.reply.url})"
        return super().cause()


@dataclass
class OcpiReply:
    url: str
    http_status: int
    headers: CIMultiDictProxy[str] | CIMultiDict[str]
    envelope: dict[str, Any] | None
    exchange_id: int
    elapsed_ms: float

    @property
    def status_code(self) -> int | None:
        code = (self.envelope or {}).get("status_code")
        return code if isinstance(code, int) else None

    @property
    def status_message(self) -> str | None:
        return (self.envelope or {}).get("status_message")

    @property
    def data(self) -> Any:
        return (self.envelope or {}).get("data")

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and status.is_success(self.status_code)

    def describe(self) -> str:
        if self.envelope is None:
            return f"HTTP {self.http_status} without an OCPI envelope"
        msg = f"HTTP {self.http_status}, OCPI {self.status_code}"
        if self.status_message:
            msg += f" ({self.status_message})"
        return msg


@dataclass
class Crawl:
    items: list[Any] = field(default_factory=list)
    pages: int = 0
    total: int | None = None
    exchange_ids: list[int] = field(default_factory=list)
    # The objects of the first page, in the order the peer sent them (stable ordering).
    first_page: list[Any] = field(default_factory=list)


class OcpiClient:
    def __init__(self, rt: Runtime, server: OcpiServer) -> None:
        self.rt = rt
        self.server = server
        # Last word on the headers of every request, given (headers, module, token). Only
        # a node that misbehaves on purpose sets it (the simulated CPO's presets).
        self.adjust_headers: Callable[[dict[str, str], str, str], dict[str, str]] | None = None
        # Add UNKNOWN_FIELD to the JSON objects sent to 2.3.0 peers (checklist 5.1 #9).
        self.probe_unknown_fields = False

    async def _exchange(
        self,
        method: str,
        url: str,
        payload: bytes | None,
        headers: dict[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        async with self.rt.http.request(
            method, url, data=payload, headers=headers, timeout=timeout, allow_redirects=False
        ) as resp:
            return resp.status, resp.headers, await resp.read()

    # --- single request ----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        token: str,
        version: str | None,
        module: str,
        platform: Platform | None = None,
        encoding: str | None = None,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        expect: str | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> OcpiReply:
        """Send one OCPI request. ``expect`` is "list" or "object" for the data shape check."""
        if (
            self.probe_unknown_fields
            and isinstance(body, dict)
            and version is not None
            and version_key(version) >= (2, 3)
        ):
            return await self._probe_unknown_field(
                method,
                url,
                body,
                token=token,
                version=version,
                module=module,
                platform=platform,
                encoding=encoding,
                params=params,
                correlation_id=correlation_id,
                expect=expect,
                timeout=timeout,
                check=check,
            )
        return await self._send(
            method,
            url,
            token=token,
            version=version,
            module=module,
            platform=platform,
            encoding=encoding,
            body=body,
            params=params,
            correlation_id=correlation_id,
            expect=expect,
            timeout=timeout,
            check=check,
        )

    async def _probe_unknown_field(
        self, method: str, url: str, body: dict[str, Any], **kw: Any
    ) -> OcpiReply:
        """Send ``body`` with an undocumented field; if the peer refuses it but takes the same
        request without the field, it rejects unknown fields, which OCPI 2.3.0 forbids."""
        reply = await self._send(method, url, body={**body, UNKNOWN_FIELD: UNKNOWN_VALUE}, **kw)
        platform = kw.get("platform")
        self.rt.coverage.ran("OCPI-09", platform.id if platform else None)
        refused = reply.http_status in (400, 422) or (
            reply.status_code is not None and 2000 <= reply.status_code < 3000
        )
        if not refused:
            return reply
        retry = await self._send(method, url, body=body, **kw)
        if retry.ok:
            self.rt.findings.record(
                "OCPI-09",
                f"{method} {url} was refused ({reply.describe()}) with the undocumented field "
                f"{UNKNOWN_FIELD!r} and accepted without it",
                platform_id=platform.id if platform else None,
                exchange_id=reply.exchange_id,
                pointer=f"/{UNKNOWN_FIELD}",
            )
        return retry

    async def _send(
        self,
        method: str,
        url: str,
        *,
        token: str,
        version: str | None,
        module: str,
        platform: Platform | None = None,
        encoding: str | None = None,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        expect: str | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> OcpiReply:
        if params:
            url = _with_query(url, params)
        enc = encoding or (platform.auth_encoding if platform else default_encoding(version))
        modern = version is None or version_key(version) >= (2, 2)
        functional = module not in CONFIGURATION_MODULES
        headers: dict[str, str] = {"Authorization": f"Token {encode_token(token, enc)}"}
        request_id = self.rt.ids.uuid()
        correlation = correlation_id or self.rt.ids.uuid()
        if modern:
            headers["X-Request-ID"] = request_id
            headers["X-Correlation-ID"] = correlation
            if functional:
                ident = self.server.identity
                headers["OCPI-from-country-code"] = ident.country_code
                headers["OCPI-from-party-id"] = ident.party_id
                peer_role = platform.primary_role("CPO") if platform else None
                if peer_role:
                    headers["OCPI-to-country-code"] = str(peer_role.get("country_code"))
                    headers["OCPI-to-party-id"] = str(peer_role.get("party_id"))
        payload: bytes | None = None
        if body is not None:
            payload = jsonio.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.adjust_headers is not None:
            headers = self.adjust_headers(headers, module, token)
        # What the response must echo is what went on the wire.
        sent_request_id = headers.get("X-Request-ID")
        sent_correlation = headers.get("X-Correlation-ID")
        platform_id = platform.id if platform else None
        fault = self.rt.faults.match("out", "ocpi", module, method, urlsplit(url).path)
        if fault is not None:
            payload, headers = apply_outbound(fault, payload, headers)
            # What comes back is the fault's doing, not the peer's: nothing to judge.
            check = False
        started = time.perf_counter()
        client_timeout = aiohttp.ClientTimeout(total=timeout or self.rt.settings.http_timeout)
        resp_headers: CIMultiDictProxy[str] | CIMultiDict[str]
        try:
            self.rt.outbound.check_url(url)
            if fault is not None and fault.spec.action == "delay":
                await self.rt.faults.delay(fault.spec.seconds or 0)
            made_up = fault is not None and fault.spec.action in FABRICATED
            if fault is not None and withheld(fault):
                http_status, resp_headers, raw = 0, CIMultiDict(), b""
            else:
                http_status, resp_headers, raw = await self._exchange(
                    method, url, payload, headers, client_timeout
                )
            if fault is not None and fault.spec.action == "drop":
                raise aiohttp.ServerDisconnectedError(f"connection dropped ({fault.describe()})")
            if made_up:
                assert fault is not None
                http_status = fault.spec.status or (
                    200 if fault.spec.action == "ocpi_status" else 500
                )
                resp_headers = CIMultiDict({"Content-Type": "application/json"})
                raw = fault_body(fault, "ocpi", format_datetime(self.rt.now()))
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            reason = _describe_exception(exc, timeout or self.rt.settings.http_timeout)
            exchange_id = self.rt.journal.record(
                direction="out",
                protocol="ocpi",
                method=method,
                url=url,
                request_headers=headers,
                request_body=payload,
                duration_ms=elapsed,
                platform_id=platform_id,
                module=module,
                error=reason,
                fault=fault.describe() if fault else None,
            )
            log.warning("ocpi peer unreachable", method=method, url=url, error=reason)
            raise PeerUnreachable(
                f"{method} {url} failed: {reason}",
                exchange_id=exchange_id,
                public=_no_answer(url, exchange_id, refused=outbound.describe(exc)),
            ) from None
        elapsed = (time.perf_counter() - started) * 1000
        envelope, problem = _parse_envelope(raw)
        if envelope is None and 300 <= http_status < 400:
            # Frameworks redirect a URL without its trailing slash (FastAPI: 307): the
            # outbound policy does not follow redirects, so say so rather than "empty body".
            problem = (
                f"a redirect to {resp_headers.get('Location') or '(no Location)'}, which the "
                "emulator does not follow: answer at the URL as OCPI forms it"
            )
        exchange_id = self.rt.journal.record(
            direction="out",
            protocol="ocpi",
            method=method,
            url=url,
            request_headers=headers,
            request_body=payload,
            status=http_status,
            ocpi_status=(envelope or {}).get("status_code") if envelope else None,
            response_headers=resp_headers,
            response_body=raw,
            duration_ms=elapsed,
            platform_id=platform_id,
            module=module,
            error=problem,
            fault=fault.describe() if fault else None,
        )
        reply = OcpiReply(url, http_status, resp_headers, envelope, exchange_id, elapsed)
        log.info(
            "ocpi call",
            method=method,
            url=url,
            status=http_status,
            ocpi_status=reply.status_code,
            ms=round(elapsed, 2),
        )
        if check:
            with self.rt.coverage.scope(platform_id):
                self._check_reply(
                    reply,
                    problem,
                    raw,
                    platform_id,
                    modern,
                    functional,
                    sent_request_id,
                    sent_correlation,
                    expect,
                    platform,
                )
        if envelope is None:
            raise PeerProtocolError(
                f"{method} {url}: {problem} (HTTP {http_status})",
                exchange_id=exchange_id,
                reply=reply,
                public=_no_answer(url, exchange_id),
            )
        return reply

    def _finding(
        self,
        rule: RuleId,
        message: str,
        platform_id: int | None,
        exchange_id: int,
        pointer: str | None = None,
    ) -> None:
        self.rt.findings.record(
            rule, message, platform_id=platform_id, exchange_id=exchange_id, pointer=pointer
        )

    def _check_reply(
        self,
        reply: OcpiReply,
        problem: str | None,
        raw: bytes,
        platform_id: int | None,
        modern: bool,
        functional: bool,
        request_id: str | None,
        correlation: str | None,
        expect: str | None,
        platform: Platform | None,
    ) -> None:
        ex = reply.exchange_id
        checked("OCPI-06")
        if problem:
            self._finding(
                "OCPI-06", f"{reply.url}: {problem} (HTTP {reply.http_status})", platform_id, ex
            )
            return
        env = reply.envelope or {}
        ctype = reply.headers.get("Content-Type", "")
        checked("OCPI-05b", "OCPI-07")
        if raw and "application/json" not in ctype.lower():
            self._finding(
                "OCPI-05b", f"response with Content-Type {ctype or '(none)'!r}", platform_id, ex
            )
        code = env.get("status_code")
        if not status.is_known(code):
            self._finding(
                "OCPI-06",
                f"status_code {code!r} is not an OCPI status code",
                platform_id,
                ex,
                "/status_code",
            )
        stamp = env.get("timestamp")
        if stamp is None:
            self._finding("OCPI-06", "envelope without timestamp", platform_id, ex, "/timestamp")
        else:
            with collect_notes() as notes:
                try:
                    parse_datetime(stamp)
                except ValueError as exc:
                    self._finding(
                        "OCPI-08", f"envelope timestamp: {exc}", platform_id, ex, "/timestamp"
                    )
            for n in notes:
                self._finding(
                    n.rule, f"envelope timestamp: {n.message}", platform_id, ex, "/timestamp"
                )
        if status.is_success(code) and not (200 <= reply.http_status < 300):
            self._finding(
                "OCPI-07", f"HTTP {reply.http_status} with OCPI success {code}", platform_id, ex
            )
        if modern:
            checked("OCPI-03")
            echoed = reply.headers.get("X-Request-ID")
            if request_id is not None and echoed != request_id:
                self._finding(
                    "OCPI-03",
                    "response X-Request-ID "
                    + (
                        "missing"
                        if echoed is None
                        else f"{echoed!r} does not echo the request's {request_id!r}"
                    ),
                    platform_id,
                    ex,
                )
            corr = reply.headers.get("X-Correlation-ID")
            if correlation is not None and corr != correlation:
                self._finding(
                    "OCPI-03",
                    "response X-Correlation-ID "
                    + (
                        "missing"
                        if corr is None
                        else f"{corr!r} does not echo the request's {correlation!r}"
                    ),
                    platform_id,
                    ex,
                )
            self._check_routing(reply, functional, platform_id, platform)
        if status.is_success(code) and expect:
            checked("OCPI-06b")
            data = env.get("data")
            if expect == "list" and not isinstance(data, list):
                self._finding(
                    "OCPI-06b",
                    f"expected a list in data, got {_kind(data)}",
                    platform_id,
                    ex,
                    "/data",
                )
            if expect == "object" and not isinstance(data, dict):
                self._finding(
                    "OCPI-06b",
                    f"expected an object in data, got {_kind(data)}",
                    platform_id,
                    ex,
                    "/data",
                )

    def _check_routing(
        self, reply: OcpiReply, functional: bool, platform_id: int | None, platform: Platform | None
    ) -> None:
        from emulator.ocpi.transport import ROUTING_HEADERS, peer_to_peer

        h = reply.headers
        present = [n for n in ROUTING_HEADERS if h.get(n)]
        ex = reply.exchange_id
        checked("OCPI-04" if functional else "OCPI-04b")
        if not functional:
            if present:
                self._finding(
                    "OCPI-04b",
                    f"routing headers ({', '.join(present)}) on a configuration-module response",
                    platform_id,
                    ex,
                )
            return
        absent = [n for n in ROUTING_HEADERS if not h.get(n)]
        if absent and not peer_to_peer(platform):
            self._finding(
                "OCPI-04",
                f"functional-module response without {', '.join(absent)}",
                platform_id,
                ex,
            )
        ident = self.server.identity
        to_cc, to_pid = h.get("OCPI-to-country-code"), h.get("OCPI-to-party-id")
        if (
            to_cc
            and to_pid
            and (to_cc.upper(), to_pid.upper())
            != (ident.country_code.upper(), ident.party_id.upper())
        ):
            self._finding(
                "OCPI-04",
                f"response OCPI-to is {to_cc}/{to_pid}, expected "
                f"{ident.country_code}/{ident.party_id} (headers swap in responses)",
                platform_id,
                ex,
            )
        from_cc, from_pid = h.get("OCPI-from-country-code"), h.get("OCPI-from-party-id")
        if (
            from_cc
            and from_pid
            and platform
            and platform.roles
            and not platform.owns(from_cc, from_pid)
        ):
            self._finding(
                "OCPI-04",
                f"response OCPI-from is {from_cc}/{from_pid}, not one of "
                "the platform's CredentialsRoles",
                platform_id,
                ex,
            )

    # --- to a registered platform --------------------------------------------------------------

    async def call(
        self,
        platform: Platform,
        method: str,
        module: str,
        path: str = "",
        *,
        role: str | None = None,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        expect: str | None = None,
        url: str | None = None,
        timeout: float | None = None,
    ) -> OcpiReply:
        """Call the peer's ``module`` endpoint (joined with ``path``)."""
        if url is None:
            base = platform.endpoint(module, role)
            if base is None:
                raise PeerError(
                    f"platform {platform.id} has no {module} endpoint"
                    + (f" with role {role}" if role else ""),
                    ocpi_status=status.NO_MATCHING_ENDPOINTS,
                )
            url = join_url(base, path)
        if not platform.peer_token:
            raise PeerError(f"platform {platform.id} has no token to call it with")
        return await self.request(
            method,
            url,
            token=platform.peer_token,
            version=platform.version,
            module=module,
            platform=platform,
            body=body,
            params=params,
            expect=expect,
            timeout=timeout,
        )

    async def get_all(
        self,
        platform: Platform,
        module: str,
        *,
        role: str | None = "SENDER",
        params: Mapping[str, Any] | None = None,
        max_pages: int | None = None,
        id_key: str | None = "id",
    ) -> Crawl:
        """Follow every page of a Sender's list via ``Link``, checking the paging headers."""
        base = platform.endpoint(module, role)
        if base is None:
            raise PeerError(
                f"platform {platform.id} has no {module} {role or ''} endpoint",
                ocpi_status=status.NO_MATCHING_ENDPOINTS,
            )
        max_pages = max_pages or self.rt.settings.crawl_max_pages
        url: str | None = _with_query(base, params or {})
        requested_limit = (params or {}).get("limit")
        filters = {k: str(v) for k, v in (params or {}).items() if k in ("date_from", "date_to")}
        crawl = Crawl()
        seen: set[str] = set()
        first_x_limit: str | None = None
        x_limit_moved = False
        totals: set[int] = set()
        linked = False
        pid = platform.id
        # 2.1.1 defines X-Limit as the number of objects returned; 2.2.1 on, the maximum.
        x_limit_is_maximum = platform.version != "2.1.1"
        while url:
            if url in seen:
                self._finding(
                    "OCPI-20b",
                    f"Link header loops back to {url}",
                    pid,
                    crawl.exchange_ids[-1] if crawl.exchange_ids else 0,
                )
                raise PeerError(f"{module}: pagination loops (Link points back to {url})")
            if crawl.pages >= max_pages:
                raise PeerError(f"{module}: more than {max_pages} pages; giving up")
            seen.add(url)
            reply = await self.call(platform, "GET", module, url=url, expect="list")
            crawl.exchange_ids.append(reply.exchange_id)
            crawl.pages += 1
            if not reply.ok:
                raise PeerError(
                    f"GET {url}: {reply.describe()}", exchange_id=reply.exchange_id, reply=reply
                )
            data = reply.data if isinstance(reply.data, list) else []
            ex = reply.exchange_id
            total_h, limit_h = reply.headers.get("X-Total-Count"), reply.headers.get("X-Limit")
            missing = [
                n for n, v in (("X-Total-Count", total_h), ("X-Limit", limit_h)) if v is None
            ]
            if missing:
                self._finding(
                    "OCPI-20", f"paginated response without {', '.join(missing)}", pid, ex
                )
            total = _int(total_h)
            if total is not None:
                crawl.total = total
                totals.add(total)
            x_limit = _int(limit_h)
            if first_x_limit is None:
                first_x_limit = limit_h
            elif (
                x_limit_is_maximum
                and limit_h is not None
                and limit_h != first_x_limit
                and x_limit == len(data)
                and not x_limit_moved
            ):
                # X-Limit SHALL still show the upper limit, not the number returned.
                x_limit_moved = True  # once per crawl, not on every page
                self._finding(
                    "OCPI-21",
                    f"X-Limit changed from {first_x_limit} to {limit_h}, the number of objects "
                    "on that page; it is the server's maximum page size, not a count",
                    pid,
                    ex,
                )
            if x_limit is not None and len(data) > x_limit:
                self._finding(
                    "OCPI-21", f"page has {len(data)} objects, more than X-Limit {x_limit}", pid, ex
                )
            if requested_limit is not None and len(data) > int(requested_limit):
                self._finding(
                    "OCPI-21",
                    f"page has {len(data)} objects, more than the "
                    f"requested limit {requested_limit}",
                    pid,
                    ex,
                )
            if crawl.pages == 1:
                crawl.first_page = list(data)
            crawl.items.extend(data)
            next_url = _next_link(reply.headers.getall("Link", []))
            if next_url is not None:
                linked = True
                parts = urlsplit(next_url)
                if not parts.scheme or not parts.netloc:
                    self._finding("OCPI-20c", f"Link {next_url!r} is not an absolute URL", pid, ex)
                    next_url = join_url(base, next_url)
                query = parse_qs(urlsplit(next_url).query)
                lost = [k for k, v in filters.items() if query.get(k, [None])[0] != v]
                if requested_limit is not None and query.get("limit", [None])[0] is None:
                    lost.append("limit")
                if lost:
                    self._finding(
                        "OCPI-20b", f"Link drops the request's {', '.join(lost)}", pid, ex
                    )
                if not data:
                    self._finding("OCPI-20b", "empty page with a Link to a next page", pid, ex)
                    break
            elif total is not None and len(crawl.items) < total:
                self._finding(
                    "OCPI-20b",
                    f"no Link on a page although only {len(crawl.items)} "
                    f"of X-Total-Count {total} objects were returned",
                    pid,
                    ex,
                )
            url = next_url
        # The paging checks ran (the Link's form only if there was one; ordering by ids).
        ran: list[RuleId] = ["OCPI-20", "OCPI-20b", "OCPI-21"]
        ran += ["OCPI-20c"] if linked else []
        ran += ["OCPI-27"] if id_key else []
        self.rt.coverage.ran(ran, pid)
        # A total that moved between pages means the data changed while we crawled (the
        # spec's own concurrency note): the count proves nothing then.
        if (
            crawl.total is not None
            and len(totals) == 1
            and len(crawl.items) != crawl.total
            and crawl.exchange_ids
        ):
            self._finding(
                "OCPI-21",
                f"crawl returned {len(crawl.items)} objects; X-Total-Count said {crawl.total}",
                pid,
                crawl.exchange_ids[-1],
            )
        if id_key:
            keys = [_identity(item, id_key) for item in crawl.items if isinstance(item, dict)]
            dupes = sorted({k for k in keys if keys.count(k) > 1 and k is not None})
            if dupes and crawl.exchange_ids:
                # The same object twice: the sequence changed between pages.
                self._finding(
                    "OCPI-27",
                    f"crawl returned duplicates: {', '.join(dupes[:5])}",
                    pid,
                    crawl.exchange_ids[-1],
                )
        return crawl


def _identity(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    return f"{item.get('country_code', '')}/{item.get('party_id', '')}/{value}".upper()


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _next_link(values: list[str]) -> str | None:
    for value in values:
        for m in _LINK_RE.finditer(value):
            if m.group("rel").strip().lower() == "next":
                return m.group("url").strip()
    return None


def _parse_envelope(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if not raw.strip():
        return None, "empty response body"
    try:
        body = inbound.loads(raw)
    except inbound.InvalidInput as exc:
        return None, f"response body refused: {exc.message}"
    except ValueError:
        return None, "response body is not JSON"
    if not isinstance(body, dict) or "status_code" not in body:
        return None, "response is not an OCPI envelope (no status_code)"
    return body, None


def _no_answer(url: str, exchange_id: int | None, *, refused: str | None = None) -> str:
    """One text for every way a call can fail before an OCPI answer (no connection, no answer
    in time, something that is not OCPI), so that a URL a peer chose does not tell it whether
    a port is open. The journal keeps what happened."""
    if refused:
        return f"{url}: {refused}"
    where = f" (GET /__admin/journal/{exchange_id})" if exchange_id else ""
    return f"no OCPI answer from {url}; the emulator's traffic journal has the details{where}"


def _describe_exception(exc: BaseException, timeout: float) -> str:
    refused = outbound.describe(exc)
    if refused:
        return refused
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror if exc.os_error else exc})"
    return f"{type(exc).__name__}: {exc}"


def join_url(base: str, path: str) -> str:
    """Join an endpoint URL and a sub-path with exactly one slash (spec templates omit it)."""
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")


def _with_query(url: str, params: Mapping[str, Any]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    existing = parts.query
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{existing}&{extra}" if existing and extra else (existing or extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
