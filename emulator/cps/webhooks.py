"""Webhook delivery: a persistent queue, attempts with a timeout, Payter's retry ladder.

Every webhook (card read, UI event, terminal state; payter.md §3.6) is a row of
``cps_deliveries`` before its first attempt, so a restart loses nothing: pending deliveries are
re-armed on the clock when the emulator starts again. The first attempt goes out at once; after
a failure the next one is due after the ladder's next delay, counted from when the failed
attempt was due (so the times are exact on the manual clock and do not drift on the real one).

How Payter redelivers its own webhooks is not public: this redelivery is the emulator's choice
(inferred), labelled so in the README. Its default ladder is the one Payter advises a CSMS for
commit/cancel (§3.7): every minute 5 times, then hourly for 24 hours, then daily for 7 days.
Any 2xx acknowledges a delivery (public client code answers Payter's callbacks with 202); a 409
ends it too. Anything else (another status, a timeout, a refused connection) counts as a
failure and is a CPS-03 finding.

Every attempt is in the traffic journal (``protocol="webhook"``, ``direction="out"``).
Deliveries to one URL are attempted one at a time, in the order they were queued, so a CSMS
sees state changes in the order they happened.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

import aiohttp
from yarl import URL

from emulator import jsonio, logs, outbound
from emulator.clock import Timer
from emulator.datetimes import format_datetime, parse_datetime
from emulator.faults import FABRICATED, apply_outbound, fault_body, withheld
from emulator.runtime import Runtime
from emulator.store import TableSpec

log = logs.get_logger("emulator.cps.webhooks")

CPS_DELIVERIES = TableSpec(
    name="cps_deliveries",
    columns={
        "id": int,
        "kind": str,  # card | ui | state
        "serial_number": str,
        "url": str,
        "body": str,
        "state": str,  # pending | delivered | rejected | failed
        "attempts": int,
        "next_attempt_at": str,
        "last_status": int,
        "last_error": str,
        "created_at": str,
        "updated_at": str,
    },
    json_columns=frozenset({"body"}),
    indexes=(("state",),),
)


class Delivery(TypedDict):
    """One webhook call and its attempts (``cps_deliveries``), as ``GET
    /__admin/cps/deliveries`` lists it."""

    id: int
    kind: str  # card | ui | state
    serial_number: str
    url: str
    body: dict[str, Any]
    state: str  # pending | delivered | rejected | failed
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    created_at: str
    updated_at: str


PENDING = "pending"
DELIVERED = "delivered"  # any 2xx
REJECTED = "rejected"  # HTTP 409: definitive, no retry (§3.7)
FAILED = "failed"  # the ladder ran out


def _definitive(status: int | None) -> str | None:
    """What an answer makes of a delivery: delivered (2xx), rejected (409), or None (retry)."""
    if status is None:
        return None
    if 200 <= status < 300:
        return DELIVERED
    return REJECTED if status == 409 else None


# Finished deliveries kept for GET /__admin/cps/deliveries; the journal keeps every attempt.
FINISHED_KEPT = 1000
_RESPONSE_BYTES = 4096


def _failure_message(kind: str, url: str, status: int | None, error: str | None) -> str:
    what = f"HTTP {status}" if status is not None else error
    return (
        f"{kind} webhook to {url} failed ({what}); the emulator redelivers it (its own "
        "schedule, --cps-webhook-retries) until a 2xx or a 409; answer a 2xx to acknowledge it"
    )


class Deliveries:
    def __init__(self, rt: Runtime, *, delays: list[float], timeout: float) -> None:
        self.rt = rt
        self.delays = delays
        self.timeout = timeout
        rt.store.register(CPS_DELIVERIES)
        self._timers: dict[int, Timer] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._finished = 0
        rt.reset_hooks.append(self.close)
        rt.close_hooks.append(self.close)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> int:
        """Re-arm every pending delivery (after a restart). Returns how many."""
        rows = self.rt.store.rows(CPS_DELIVERIES.name, "state = ?", [PENDING], order_by="id")
        for row in rows:
            if row["id"] not in self._timers:
                self._arm(row["id"], parse_datetime(row["next_attempt_at"]))
        return len(rows)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # --- queue -------------------------------------------------------------------------------

    def enqueue(self, kind: str, serial_number: str, url: str, body: dict[str, Any]) -> int:
        now = format_datetime(self.rt.now())
        delivery_id = self.rt.store.insert(
            CPS_DELIVERIES.name,
            {
                "kind": kind,
                "serial_number": serial_number,
                "url": url,
                "body": body,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        assert delivery_id is not None
        self.rt.background.spawn(self._attempt(delivery_id), name=f"cps-webhook:{delivery_id}")
        return delivery_id

    def get(self, delivery_id: int) -> Delivery | None:
        return cast("Delivery | None", self.rt.store.get(CPS_DELIVERIES.name, delivery_id))

    def list(self, *, state: str | None = None, limit: int = 200) -> list[Delivery]:
        where, params = ("state = ?", [state]) if state else (None, [])
        rows = self.rt.store.rows(
            CPS_DELIVERIES.name, where, params, order_by="id desc", limit=limit
        )
        return cast("list[Delivery]", rows)

    # --- attempts ----------------------------------------------------------------------------

    def _arm(self, delivery_id: int, when: datetime) -> None:
        old = self._timers.pop(delivery_id, None)
        if old is not None:
            old.cancel()
        self._timers[delivery_id] = self.rt.clock.call_at(
            when, lambda: self._attempt(delivery_id), name=f"cps-webhook:{delivery_id}"
        )

    def _lock(self, url: str) -> asyncio.Lock:
        lock = self._locks.get(url)
        if lock is None:
            lock = self._locks[url] = asyncio.Lock()
        return lock

    async def _attempt(self, delivery_id: int) -> None:
        self._timers.pop(delivery_id, None)
        row = self.get(delivery_id)
        if row is None or row["state"] != PENDING:
            return
        url = row["url"]
        async with self._lock(url):
            status, error, exchange_id = await self._post(row)
        if self.get(delivery_id) is None:
            return  # POST /__admin/reset while the attempt was under way
        # The ladder counts from when this attempt was due, not from when it ended.
        due = parse_datetime(row["next_attempt_at"])
        attempts = int(row["attempts"]) + 1
        changes: dict[str, Any] = {
            "attempts": attempts,
            "last_status": status,
            "last_error": error,
            "updated_at": format_datetime(self.rt.now()),
        }
        outcome = _definitive(status)
        if outcome is not None:
            changes["state"] = outcome
            changes["next_attempt_at"] = None
        else:
            self.rt.findings.record(
                "CPS-03",
                _failure_message(row["kind"], url, status, error),
                exchange_id=exchange_id,
                context={"delivery_id": delivery_id, "serial_number": row["serial_number"]},
                once=True,
            )
            if attempts <= len(self.delays):
                when = due + timedelta(seconds=self.delays[attempts - 1])
                changes["next_attempt_at"] = format_datetime(when)
                self._arm(delivery_id, when)
            else:
                changes["state"] = FAILED
                changes["next_attempt_at"] = None
                self.rt.findings.record(
                    "CPS-03",
                    f"gave up the {row['kind']} webhook {delivery_id} to {url} after {attempts} "
                    "attempts",
                    exchange_id=exchange_id,
                    context={"delivery_id": delivery_id, "serial_number": row["serial_number"]},
                )
        self.rt.store.update(CPS_DELIVERIES.name, delivery_id, changes)
        state = changes.get("state", PENDING)
        self.rt.bus.publish(
            "cps.webhook",
            delivery_id=delivery_id,
            webhook=row["kind"],
            serial_number=row["serial_number"],
            url=url,
            attempt=attempts,
            status=status,
            error=error,
            state=state,
            next_attempt_at=changes.get("next_attempt_at"),
        )
        if state != PENDING:
            self._prune()

    async def _post(self, row: Delivery) -> tuple[int | None, str | None, int]:
        body = row["body"]
        payload: bytes | None = jsonio.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "payter-emulator CPS"}
        status: int | None = None
        error: str | None = None
        response_text: str | None = None
        response_headers: dict[str, str] = {}
        fault = self.rt.faults.match("out", "webhook", row["kind"], "POST", URL(row["url"]).path)
        if fault is not None:
            payload, headers = apply_outbound(fault, payload, headers)
        started = time.perf_counter()
        try:
            self.rt.outbound.check_url(row["url"])
            if fault is not None and fault.spec.action == "delay":
                await self.rt.faults.delay(fault.spec.seconds or 0)
            if fault is None or not withheld(fault):
                async with self.rt.http.post(
                    row["url"],
                    data=payload,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                    allow_redirects=False,
                ) as resp:
                    status = resp.status
                    response_headers = dict(resp.headers)
                    raw = await resp.content.read(_RESPONSE_BYTES)
                    response_text = raw.decode("utf-8", "replace")
            if fault is not None and fault.spec.action == "drop":
                raise aiohttp.ServerDisconnectedError(f"connection dropped ({fault.describe()})")
            if fault is not None and fault.spec.action in FABRICATED:
                status = fault.spec.status or 200
                response_headers = {"Content-Type": "application/json"}
                response_text = fault_body(
                    fault, "webhook", format_datetime(self.rt.now())
                ).decode()
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            error = outbound.describe(exc) or (
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            )
        duration_ms = (time.perf_counter() - started) * 1000
        exchange_id = self.rt.journal.record(
            direction="out",
            protocol="webhook",
            module=row["kind"],
            method="POST",
            url=row["url"],
            request_headers=headers,
            request_body=body,
            status=status,
            response_headers=response_headers,
            response_body=response_text,
            duration_ms=duration_ms,
            error=error,
            fault=fault.describe() if fault else None,
        )
        return status, error, exchange_id

    def _prune(self) -> None:
        self._finished += 1
        if self._finished % 100:
            return
        self.rt.store.execute(
            "delete from cps_deliveries where state != ? and id <= "
            "(select max(id) from cps_deliveries) - ?",
            [PENDING, FINISHED_KEPT],
        )
