"""Control API routes every node has: platforms, tokens A, reset, clock, findings, report,
traffic journal, event stream."""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import WSMsgType, web

from emulator import jsonio
from emulator.clock import ManualClock
from emulator.control import faults as fault_routes
from emulator.control.http import (
    ADMIN_PREFIX,
    ControlError,
    field,
    json_body,
    ok,
    path_int,
    query_int,
)
from emulator.datetimes import format_datetime, parse_datetime
from emulator.findings import report_text
from emulator.ocpi.registration import RegistrationFailed
from emulator.rules import RULES

if TYPE_CHECKING:
    from emulator.ocpi.platforms import Platforms
    from emulator.ocpi.registration import Registration
    from emulator.ocpi.transport import OcpiServer
    from emulator.runtime import Runtime


class ControlledNode(Protocol):
    """What the control API needs of a node (:class:`emulator.node.Node` is one); a protocol,
    so that the control layer does not import the node that mounts it."""

    name: str
    rt: Runtime
    platforms: Platforms
    registration: Registration
    server: OcpiServer

    def listening(self) -> dict[str, Any]: ...

    async def reset(self) -> None: ...


def add_routes(app: web.Application, node: ControlledNode) -> None:
    r = app.router
    p = ADMIN_PREFIX
    h = _Handlers(node)
    r.add_get(f"{p}/", h.index)
    r.add_get(f"{p}/platforms", h.platforms)
    r.add_post(f"{p}/platforms/register", h.register)
    r.add_get(f"{p}/platforms/{{id}}", h.platform)
    r.add_post(f"{p}/platforms/{{id}}/update", h.update)
    r.add_delete(f"{p}/platforms/{{id}}", h.unregister)
    r.add_post(f"{p}/tokens-a", h.mint_token_a)
    r.add_get(f"{p}/tokens-a", h.tokens_a)
    r.add_post(f"{p}/reset", h.reset)
    r.add_get(f"{p}/clock", h.clock)
    r.add_post(f"{p}/clock/advance", h.advance)
    r.add_post(f"{p}/clock/set", h.set_clock)
    r.add_get(f"{p}/findings", h.findings)
    r.add_get(f"{p}/report", h.report)
    r.add_get(f"{p}/rules", h.rules)
    r.add_get(f"{p}/journal", h.journal)
    r.add_get(f"{p}/journal/{{id}}", h.exchange)
    r.add_get(f"{p}/events", h.events)
    r.add_get(f"{p}/settings", h.settings)
    fault_routes.add_routes(app, node.rt)


class _Handlers:
    def __init__(self, node: ControlledNode) -> None:
        self.node = node
        self.rt = node.rt

    async def index(self, request: web.Request) -> web.Response:
        routes = sorted(
            {
                f"{route.method} {route.resource.canonical}"
                for route in request.app.router.routes()
                if route.resource is not None
                and route.resource.canonical.startswith(ADMIN_PREFIX)
                and route.method != "HEAD"
            }
        )
        return ok({"service": self.node.name, "routes": routes, **self.node.listening()})

    def _platform(self, request: web.Request) -> Any:
        platform_id = path_int(request, "id", "platform id")
        platform = self.node.platforms.get(platform_id)
        if platform is None:
            raise ControlError(404, "not_found", f"no platform {platform_id}")
        return platform

    async def platforms(self, request: web.Request) -> web.Response:
        return ok([p.public() for p in self.node.platforms.all()])

    async def platform(self, request: web.Request) -> web.Response:
        return ok(self._platform(request).public())

    async def register(self, request: web.Request) -> web.Response:
        body = await json_body(request, required=True)
        versions_url = field(body, "versions_url", str)
        token = field(body, "token", str)
        version = field(body, "version", str, required=False)
        if not versions_url.startswith(("http://", "https://")):
            raise ControlError(400, "invalid_field", "'versions_url' must be an http(s) URL")
        try:
            platform = await self.node.registration.register_with(versions_url, token, version)
        except RegistrationFailed as exc:
            status = 409 if exc.ocpi_status == 2000 else 502
            return ok({"error": exc.as_json()}, status=status)
        return ok(platform.public(), status=201)

    async def update(self, request: web.Request) -> web.Response:
        platform = self._platform(request)
        body = await json_body(request)
        version = field(body, "version", str, required=False)
        try:
            platform = await self.node.registration.update(platform, version)
        except RegistrationFailed as exc:
            return ok({"error": exc.as_json()}, status=502)
        return ok(platform.public())

    async def unregister(self, request: web.Request) -> web.Response:
        platform = self._platform(request)
        platform, warning = await self.node.registration.unregister(platform)
        result = platform.public()
        if warning:
            result["warning"] = warning
        return ok(result)

    async def mint_token_a(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        label = field(body, "label", str, required=False)
        token = self.node.platforms.mint_token_a(label)
        return ok({"token": token, "versions_url": self.node.server.versions_url}, status=201)

    async def tokens_a(self, request: web.Request) -> web.Response:

        rows = self.rt.store.rows("tokens_a", order_by="created_at")
        return ok(
            [
                {
                    "token": r.get("token_hint") or "…",
                    "label": r["label"],
                    "fixed": bool(r["fixed"]),
                    "created_at": r["created_at"],
                    "used_at": r["used_at"],
                    "platform_id": r["platform_id"],
                }
                for r in rows
            ]
        )

    async def reset(self, request: web.Request) -> web.Response:
        await self.node.reset()
        return ok({"reset": True})

    async def clock(self, request: web.Request) -> web.Response:
        return ok(self._clock_info())

    def _clock_info(self) -> dict[str, Any]:
        """The clock; on a manual one its next timer, and the last event's id (a script
        that steps the clock sees whether anything happened without asking again)."""
        clock = self.rt.clock
        info = clock.describe()
        if isinstance(clock, ManualClock):
            info["pending_timers"] = clock.pending_timers
            due = clock.next_due()
            info["next_timer_at"] = due and jsonio.plain(due)
        info["last_event_id"] = self.rt.bus.last_id
        return info

    def _manual(self) -> ManualClock:
        clock = self.rt.clock
        if not isinstance(clock, ManualClock):
            raise ControlError(
                409,
                "clock_not_manual",
                "the clock follows the wall clock; start with --clock manual to move it",
            )
        return clock

    async def advance(self, request: web.Request) -> web.Response:
        clock = self._manual()
        body = await json_body(request)
        seconds: Any = request.query.get("seconds", body.get("seconds"))
        if seconds is None:
            raise ControlError(400, "missing_field", "'seconds' is required")
        try:
            if isinstance(seconds, bool):
                raise TypeError(seconds)
            seconds = float(seconds)
        except (TypeError, ValueError, OverflowError):
            raise ControlError(400, "invalid_field", "'seconds' must be a number") from None
        if math.isnan(seconds):
            raise ControlError(400, "invalid_field", "'seconds' must be a number")
        if seconds < 0:
            raise ControlError(400, "invalid_field", "the clock only moves forwards")
        if seconds > (clock.LATEST - clock.now()).total_seconds():
            raise ControlError(400, "invalid_field", _beyond_latest(clock))
        fired = await clock.advance(seconds)
        info = self._clock_info()
        info["timers_fired"] = fired
        return ok(info)

    async def set_clock(self, request: web.Request) -> web.Response:
        clock = self._manual()
        body = await json_body(request, required=True)
        at = field(body, "at", str)
        try:
            when = parse_datetime(at)
        except ValueError as exc:
            raise ControlError(400, "invalid_field", f"'at': {exc}") from None
        if when < clock.now():
            raise ControlError(400, "invalid_field", "the clock only moves forwards")
        if when > clock.LATEST:
            raise ControlError(400, "invalid_field", _beyond_latest(clock))
        fired = await clock.advance_to(when)
        info = self._clock_info()
        info["timers_fired"] = fired
        return ok(info)

    async def findings(self, request: web.Request) -> web.Response:
        q = request.query
        rule = q.get("rule")
        if rule:
            # Rule ids in any case ("ocpi-06B" is OCPI-06b).
            rule = {r.upper(): r for r in RULES}.get(rule.upper())
            if rule is None:
                raise ControlError(400, "invalid_parameter", f"no rule {q['rule']!r}")
        for name, allowed in (
            ("severity", ("error", "warning", "info")),
            ("axis", ("spec", "payter")),
        ):
            if q.get(name) and q[name] not in allowed:
                raise ControlError(
                    400, "invalid_parameter", f"'{name}' must be one of {', '.join(allowed)}"
                )
        rows = self.rt.findings.list(
            platform_id=query_int(request, "platform_id"),
            rule=rule,
            severity=q.get("severity"),
            axis=q.get("axis"),
            exchange_id=query_int(request, "exchange_id"),
            since_id=query_int(request, "since", 0) or 0,
            limit=query_int(request, "limit", 1000) or 1000,
        )
        return ok(rows)

    async def rules(self, request: web.Request) -> web.Response:
        """The rule catalogue with its evidence (emulator/rules.py)."""
        return ok([r.public() for r in RULES.values()])

    async def report(self, request: web.Request) -> web.StreamResponse:
        strict = request.query.get("strict")
        if strict not in (None, "", "0", "1", "true", "false"):
            raise ControlError(400, "invalid_parameter", "'strict' must be true or false")
        report = self.rt.findings.report(
            query_int(request, "platform_id"),
            strict=None if not strict else strict in ("1", "true"),
        )
        wants_text = request.query.get("format") == "text" or (
            "text/plain" in request.headers.get("Accept", "")
            and "json" not in request.headers.get("Accept", "")
        )
        if wants_text:
            return web.Response(text=report_text(report), content_type="text/plain")
        return ok(report)

    async def journal(self, request: web.Request) -> web.Response:
        """The traffic journal, filtered; with ``wait`` a long poll until a matching exchange
        exists (408 with the nearest misses when none arrives in time)."""
        q = request.query
        filters: dict[str, Any] = {
            "platform_id": query_int(request, "platform_id"),
            "protocol": q.get("protocol") or None,
            "direction": q.get("direction") or None,
            "module": q.get("module") or None,
            "method": q.get("method") or None,
            "path": q.get("path") or None,
            "status": query_int(request, "status"),
            "ocpi_status": query_int(request, "ocpi_status"),
            "contains": q.get("contains") or None,
            "fault": _query_bool(request, "fault"),
        }
        since = query_int(request, "since", 0) or 0
        limit = query_int(request, "limit", 200) or 200
        order = q.get("order", "asc")
        if order not in ("asc", "desc"):
            raise ControlError(400, "invalid_parameter", "'order' must be asc or desc")
        wait = _query_seconds(request, "wait")
        if order == "desc":
            return ok(
                self.rt.journal.list(**filters, since_id=since, limit=limit, newest_first=True)
            )
        rows = self.rt.journal.list(**filters, since_id=since, limit=limit)
        if rows or not wait:
            return ok(rows)
        with self.rt.bus.subscribe() as sub:
            rows = self.rt.journal.list(**filters, since_id=since, limit=limit)
            with contextlib.suppress(asyncio.TimeoutError):
                # Real seconds, like the event stream's long poll: it is network time.
                async with asyncio.timeout(wait):
                    while not rows:
                        event = await sub.get()
                        if event.kind == "traffic":
                            rows = self.rt.journal.list(**filters, since_id=since, limit=limit)
        if rows:
            return ok(rows)
        given = {k: v for k, v in filters.items() if v is not None}
        wanted = ", ".join(f"{k}={v}" for k, v in given.items()) or "anything"
        return ok(
            {
                "error": {
                    "code": "wait_timeout",
                    "message": f"no exchange matching {wanted} after id {since} within {wait:g} s",
                    "filters": given,
                    "since": since,
                    "nearest_misses": self.rt.journal.nearest_misses(given, since_id=since),
                }
            },
            status=408,
        )

    async def exchange(self, request: web.Request) -> web.Response:
        exchange_id = query_int_match(request, "id")
        row = self.rt.journal.get(exchange_id)
        if row is None:
            raise ControlError(404, "not_found", f"no exchange {exchange_id}")
        row["findings"] = self.rt.findings.list(exchange_id=exchange_id)
        return ok(row)

    async def settings(self, request: web.Request) -> web.Response:
        from emulator.redact import redact_secret
        from emulator.settings import SECRET_SETTINGS

        data = self.rt.settings.model_dump(mode="json")
        for secret in SECRET_SETTINGS:
            if data.get(secret):
                data[secret] = redact_secret(str(data[secret]))
        return ok(data)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Event stream: WebSocket, Server-Sent Events, or a JSON (long-)poll."""
        kinds = {k for k in request.query.get("kinds", "").split(",") if k} or None
        since = query_int(request, "since", 0) or 0
        bus = self.rt.bus
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, since, kinds)
        if (
            "text/event-stream" in request.headers.get("Accept", "")
            or request.query.get("stream") == "sse"
        ):
            return await self._sse(request, since, kinds)
        try:
            wait = float(request.query.get("wait", "0") or 0)
        except ValueError:
            raise ControlError(400, "invalid_parameter", "'wait' must be a number") from None
        events = bus.recent(since, kinds)
        if not events and wait > 0:
            with bus.subscribe() as sub:
                with contextlib.suppress(asyncio.TimeoutError):
                    # Long poll: real seconds, not the emulated clock (it is network time).
                    async with asyncio.timeout(min(wait, 60)):
                        while True:
                            event = await sub.get()
                            if event.id > since and (
                                not kinds
                                or event.kind in kinds
                                or event.kind.split(".")[0] in kinds
                            ):
                                break
            events = bus.recent(since, kinds)
        return ok([e.as_json() for e in events])

    async def _sse(
        self, request: web.Request, since: int, kinds: set[str] | None
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        with self.rt.bus.subscribe() as sub:
            for event in self.rt.bus.recent(since, kinds):
                await resp.write(_sse_frame(event.as_json()))
            while True:
                event = await sub.get()
                if kinds and event.kind not in kinds and event.kind.split(".")[0] not in kinds:
                    continue
                try:
                    await resp.write(_sse_frame(event.as_json()))
                except (ConnectionResetError, RuntimeError):
                    break
        return resp

    async def _websocket(
        self, request: web.Request, since: int, kinds: set[str] | None
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        with self.rt.bus.subscribe() as sub:
            for event in self.rt.bus.recent(since, kinds):
                await ws.send_str(jsonio.dumps(event.as_json()))

            async def pump() -> None:
                while True:
                    event = await sub.get()
                    if kinds and event.kind not in kinds and event.kind.split(".")[0] not in kinds:
                        continue
                    await ws.send_str(jsonio.dumps(event.as_json()))

            task = asyncio.create_task(pump())
            try:
                async for msg in ws:
                    if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                        break
            finally:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        return ws


def _beyond_latest(clock: ManualClock) -> str:
    return f"the manual clock goes no later than {format_datetime(clock.LATEST)}"


# The longest a control-API long poll holds the connection (seconds).
MAX_WAIT = 300.0


def _query_seconds(request: web.Request, name: str) -> float:
    value = request.query.get(name)
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        raise ControlError(400, "invalid_parameter", f"'{name}' must be a number") from None
    if not 0 <= seconds <= MAX_WAIT:
        raise ControlError(
            400, "invalid_parameter", f"'{name}' must be between 0 and {MAX_WAIT:g} seconds"
        )
    return seconds


def _query_bool(request: web.Request, name: str) -> bool | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise ControlError(400, "invalid_parameter", f"'{name}' must be true or false")


def _sse_frame(data: dict[str, Any]) -> bytes:
    return f"id: {data['id']}\nevent: {data['kind']}\ndata: {jsonio.dumps(data)}\n\n".encode()


def query_int_match(request: web.Request, name: str) -> int:
    return path_int(request, name, f"'{name}'")
