"""Scoped fault injection: ``/__admin/faults`` and the ``fault`` step of scenarios.

A fault matches exchanges by direction (``in``: the answer this node gives to a peer's request;
``out``: a request this node sends to a peer), protocol, module, method and a glob of the URL
path; it fires after ``after`` matches, at most ``times`` times, each time with
``probability`` (drawn from a generator seeded with ``seed``, by default the node's ``--seed``
and the fault's id, so a run repeats). What it does:

=================  ==============================================  ================================
action             in (our answer to the peer)                     out (our request to the peer)
=================  ==============================================  ================================
``delay``          the answer waits ``seconds``                    the request waits ``seconds``
``drop``           the connection closes without an answer         not sent; we see a network error
``http_status``    answered with HTTP ``status`` (error body)      not sent; we see HTTP ``status``
``ocpi_status``    an envelope with ``ocpi_status``                not sent; we see that envelope
``malformed``      the answer's body is not JSON                   the request body is not JSON
``truncated``      the answer's body is cut in half                the request body is cut in half
``missing_header`` the answer lacks ``header``                     the request lacks ``header``
=================  ==============================================  ================================

With ``after_handling`` the request is handled (in) or sent (out) first and only the answer is
replaced, so a peer can tell "never arrived" from "done, but the answer was lost". Delays are
real seconds (network time), also with the manual clock.

Every exchange a fault touched carries it in the traffic journal (``fault``), and the event
stream has ``fault.added``, ``fault.fired`` and ``fault.removed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from emulator import jsonio
from emulator.datetimes import format_datetime
from emulator.journal import INBOUND_FAULT

if TYPE_CHECKING:
    from emulator.events import EventBus

Action = Literal[
    "delay", "drop", "http_status", "ocpi_status", "malformed", "truncated", "missing_header"
]
MAX_DELAY = 600.0
# What a malformed body looks like: the start of an envelope that never closes.
MALFORMED_BODY = b'{"status_code": 1000, "data": [{"broken": '


class FaultSpec(BaseModel):
    """What ``POST /__admin/faults`` takes (and the ``fault`` step of a scenario)."""

    model_config = ConfigDict(extra="forbid")

    direction: Literal["in", "out"] = Field(
        description="in: this node's answer to a peer's request; out: this node's request "
        "to a peer."
    )
    protocol: Literal["ocpi", "cps", "webhook"] | None = Field(
        None, description="Only exchanges of this protocol."
    )
    module: str | None = Field(
        None,
        description="OCPI module id (cdrs, commands, ...), CPS endpoint (commit, authorize, "
        "...) or webhook kind.",
    )
    method: str | None = Field(None, description="HTTP method (any case).")
    path: str | None = Field(
        None, description="Glob (*, ?) matched against the URL path, e.g. '*/commands/*'."
    )
    times: int | None = Field(None, ge=1, description="Fire at most this many times.")
    after: int = Field(0, ge=0, description="Let this many matching exchanges through first.")
    probability: float = Field(1.0, gt=0, le=1, description="Chance to fire on each match.")
    seed: int | None = Field(None, description="Seed of the probability draws.")
    action: Action
    seconds: float | None = Field(None, ge=0, le=MAX_DELAY, description="delay: how long.")
    status: int | None = Field(
        None, ge=100, le=599, description="http_status: the HTTP status; ocpi_status: its HTTP."
    )
    ocpi_status: int | None = Field(None, ge=1000, le=4999, description="The OCPI status code.")
    header: str | None = Field(None, min_length=1, description="missing_header: which header.")
    after_handling: bool = Field(
        False, description="Handle (in) or send (out) the request, then replace the answer."
    )
    label: str | None = Field(None, max_length=200, description="A name to find it by.")

    @model_validator(mode="after")
    def _needs(self) -> FaultSpec:
        needed = {
            "delay": "seconds",
            "http_status": "status",
            "ocpi_status": "ocpi_status",
            "missing_header": "header",
        }.get(self.action)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"action {self.action!r} needs {needed!r}")
        if self.method:
            self.method = self.method.upper()
        return self


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    created_at: str
    rng: random.Random = field(repr=False)
    matched: int = 0
    fired: int = 0

    @property
    def active(self) -> bool:
        return self.spec.times is None or self.fired < self.spec.times

    def describe(self) -> str:
        s = self.spec
        detail = ""
        if s.action == "delay":
            detail = f" {s.seconds or 0:g} s"
        elif s.action == "http_status":
            detail = f" {s.status}"
        elif s.action == "ocpi_status":
            detail = f" {s.ocpi_status}"
        elif s.action == "missing_header":
            detail = f" {s.header}"
        handling = " after handling" if s.after_handling else ""
        return f"fault #{self.id}: {s.action}{detail}{handling}"

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(exclude_none=True),
            "created_at": self.created_at,
            "matched": self.matched,
            "fired": self.fired,
            "active": self.active,
            "description": self.describe(),
        }

    def matches(
        self, direction: str, protocol: str, module: str | None, method: str, path: str
    ) -> bool:
        s = self.spec
        return (
            s.direction == direction
            and (s.protocol is None or s.protocol == protocol)
            and (s.module is None or (module or "").lower() == s.module.lower())
            and (s.method is None or s.method == method.upper())
            and (s.path is None or fnmatch.fnmatchcase(path, s.path))
        )


class Faults:
    """The faults of one node, in the order they were added (the first that fires wins)."""

    def __init__(self, bus: EventBus, now: Callable[[], Any], seed: int | None) -> None:
        self.bus = bus
        self.now = now
        self.seed = seed
        self._faults: dict[int, Fault] = {}
        self._next_id = 1
        self._released: asyncio.Event | None = None

    async def delay(self, seconds: float) -> None:
        """Wait out a ``delay`` fault (real seconds); cut short when the node stops."""
        if self._released is None:
            self._released = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), seconds)

    def release(self) -> None:
        """The node stops: every delay ends now."""
        if self._released is not None:
            self._released.set()

    def add(self, spec: FaultSpec) -> Fault:
        fault_id = self._next_id
        self._next_id += 1
        seed = spec.seed if spec.seed is not None else f"{self.seed}/{fault_id}"
        fault = Fault(fault_id, spec, format_datetime(self.now()), random.Random(seed))
        self._faults[fault_id] = fault
        self.bus.publish("fault.added", **fault.public())
        return fault

    def list(self) -> list[Fault]:
        return list(self._faults.values())

    def get(self, fault_id: int) -> Fault | None:
        return self._faults.get(fault_id)

    def remove(self, fault_id: int) -> Fault | None:
        fault = self._faults.pop(fault_id, None)
        if fault is not None:
            self.bus.publish("fault.removed", **fault.public())
        return fault

    def clear(self) -> None:
        for fault_id in list(self._faults):
            self.remove(fault_id)

    def armed(self, direction: str) -> bool:
        return any(f.active and f.spec.direction == direction for f in self._faults.values())

    def match(
        self, direction: str, protocol: str, module: str | None, method: str, path: str
    ) -> Fault | None:
        """The fault that fires on this exchange, if any (counts the match)."""
        for fault in self._faults.values():
            if not fault.active or not fault.matches(direction, protocol, module, method, path):
                continue
            fault.matched += 1
            if fault.matched <= fault.spec.after:
                continue
            if fault.spec.probability < 1 and fault.rng.random() >= fault.spec.probability:
                continue
            fault.fired += 1
            self.bus.publish(
                "fault.fired",
                id=fault.id,
                description=fault.describe(),
                direction=direction,
                protocol=protocol,
                module=module,
                method=method,
                path=path,
                fired=fault.fired,
                active=fault.active,
            )
            return fault
        return None


# --- answers a fault puts in place of the real one -------------------------------------------


def fault_body(fault: Fault, protocol: str, now: str) -> bytes:
    """The body of an answer made up by ``http_status`` / ``ocpi_status``."""
    s = fault.spec
    message = f"{fault.describe()} (injected)"
    if protocol == "ocpi":
        code = s.ocpi_status or (3000 if (s.status or 500) >= 500 else 2000)
        return jsonio.dumps(
            {"status_code": code, "status_message": message, "timestamp": now}
        ).encode()
    if s.action == "ocpi_status":
        return jsonio.dumps(
            {"status_code": s.ocpi_status, "status_message": message, "timestamp": now}
        ).encode()
    return jsonio.dumps(
        {"error": {"code": "injected_fault", "message": message, "status": s.status}}
    ).encode()


# Actions whose answer the fault makes up (out: the request is not sent, unless after_handling).
FABRICATED = frozenset({"http_status", "ocpi_status"})


def withheld(fault: Fault) -> bool:
    """Whether an ``out`` fault keeps the request from being sent at all."""
    return fault.spec.action in (*FABRICATED, "drop") and not fault.spec.after_handling


def apply_outbound(
    fault: Fault, payload: bytes | None, headers: dict[str, str]
) -> tuple[bytes | None, dict[str, str]]:
    """The request body and headers an ``out`` fault leaves to send."""
    action = fault.spec.action
    if action in ("malformed", "truncated"):
        payload = corrupt(payload or b"", action)
        headers = {**headers, "Content-Type": "application/json"}
    elif action == "missing_header":
        wanted = (fault.spec.header or "").lower()
        headers = {k: v for k, v in headers.items() if k.lower() != wanted}
    return payload, headers


def corrupt(body: bytes, action: str) -> bytes:
    if action == "malformed":
        return MALFORMED_BODY
    if action == "truncated":
        return body[: len(body) // 2]
    return body


# --- inbound: an aiohttp middleware ----------------------------------------------------------

Classify = Callable[[web.Request], tuple[str, str | None] | None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def fault_middleware(node_rt: Any, classify: Classify) -> Any:
    """Apply this node's ``in`` faults to the requests ``classify`` recognises as protocol
    traffic (it returns ``(protocol, module)``; None for health checks and the control API)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        faults: Faults = node_rt.faults
        if not faults.armed("in"):
            return await handler(request)
        kind = classify(request)
        if kind is None:
            return await handler(request)
        protocol, module = kind
        fault = faults.match("in", protocol, module, request.method, request.path)
        if fault is None:
            return await handler(request)
        token = INBOUND_FAULT.set(fault.describe())
        try:
            return await _apply_inbound(node_rt, fault, protocol, module, request, handler)
        finally:
            INBOUND_FAULT.reset(token)

    return middleware


async def _apply_inbound(
    rt: Any,
    fault: Fault,
    protocol: str,
    module: str | None,
    request: web.Request,
    handler: Handler,
) -> web.StreamResponse:
    s = fault.spec
    if s.action == "delay":
        if not s.after_handling:
            await rt.faults.delay(s.seconds or 0)
            return await handler(request)
        response = await handler(request)
        await rt.faults.delay(s.seconds or 0)
        return response
    if s.action in ("malformed", "truncated", "missing_header"):
        response = await handler(request)
        if s.action == "missing_header":
            response.headers.popall(s.header or "", None)
        elif isinstance(response, web.Response) and isinstance(response.body, bytes):
            response.body = corrupt(response.body, s.action)
        return response
    handled = False
    if s.after_handling:
        await handler(request)
        handled = True
    if s.action == "drop":
        if not handled:
            await _journal_inbound(rt, fault, protocol, module, request, None)
        transport = request.transport
        if transport is not None:
            transport.abort()
        # Nothing reaches the peer: the connection is gone before this is written.
        return web.Response(status=499)
    # http_status / ocpi_status
    http_status = s.status or (200 if s.action == "ocpi_status" else 500)
    body = fault_body(fault, protocol, format_datetime(rt.now()))
    response = web.Response(status=http_status, body=body, content_type="application/json")
    if not handled:
        await _journal_inbound(rt, fault, protocol, module, request, response)
    return response


async def _journal_inbound(
    rt: Any,
    fault: Fault,
    protocol: str,
    module: str | None,
    request: web.Request,
    response: web.Response | None,
) -> None:
    """A request the fault kept from its handler still shows in the journal."""
    body = await request.read() if request.body_exists else None
    rt.journal.record(
        direction="in",
        protocol=protocol,
        module=module,
        method=request.method,
        url=str(request.rel_url),
        request_headers=request.headers,
        request_body=body,
        status=response.status if response is not None else None,
        ocpi_status=_ocpi_status(response) if protocol == "ocpi" else None,
        response_headers=response.headers if response is not None else None,
        response_body=response.body if response is not None else None,
        error=None if response is not None else "connection dropped",
        fault=fault.describe(),
    )


def _ocpi_status(response: web.Response | None) -> int | None:
    if response is None or not isinstance(response.body, bytes):
        return None
    try:
        code = jsonio.loads(response.body).get("status_code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None
