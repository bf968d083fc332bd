"""The baseline: a bare aiohttp + pydantic + SQLite server doing the same kind of work as the
emulator's hot paths, with nothing else (no findings, no journal, no mirror logic).

    python -m bench.baseline_server --port 9000 --ready-file /tmp/ready.json [--db FILE]

* ``PATCH /ocpi/2.2.1/locations/{cc}/{pid}/{location}/{evse}``: token check (hash, dict,
  constant-time compare), a pydantic partial EVSE, one UPDATE of that EVSE's row, commit,
  the OCPI envelope.
* ``PUT /ocpi/2.2.1/locations/{cc}/{pid}/{location}`` and ``POST /ocpi/2.2.1/cdrs``: a
  pydantic Location / CDR of the same size as the emulator gets, stored as JSON, commit.
* ``GET /cps/terminals/{serial}``: API-key check, one SELECT, a JSON answer.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

TOKEN = "bench-token-c"
CPS_KEY = "bench-cps-key"

Status = Literal[
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
]


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class EvsePatch(Model):
    status: Status | None = None
    last_updated: datetime


class Connector(Model):
    id: str
    standard: str
    format: Literal["SOCKET", "CABLE"]
    power_type: Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    tariff_ids: list[str] | None = None
    last_updated: datetime


class Evse(Model):
    uid: str
    evse_id: str | None = None
    status: Status
    capabilities: list[str] | None = None
    connectors: list[Connector]
    physical_reference: str | None = None
    last_updated: datetime


class GeoLocation(Model):
    latitude: str
    longitude: str


class Location(Model):
    country_code: str
    party_id: str
    id: str
    publish: bool
    name: str | None = None
    address: str
    city: str
    postal_code: str | None = None
    country: str
    coordinates: GeoLocation
    evses: list[Evse] | None = None
    time_zone: str
    last_updated: datetime


class Price(Model):
    excl_vat: Decimal
    incl_vat: Decimal | None = None


class Dimension(Model):
    type: str
    volume: Decimal


class ChargingPeriod(Model):
    start_date_time: datetime
    dimensions: list[Dimension]
    tariff_id: str | None = None


class CdrToken(Model):
    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str


class CdrLocation(Model):
    id: str
    address: str
    city: str
    country: str
    coordinates: GeoLocation
    evse_uid: str
    evse_id: str
    connector_id: str
    connector_standard: str
    connector_format: str
    connector_power_type: str


class Cdr(Model):
    country_code: str
    party_id: str
    id: str
    start_date_time: datetime
    end_date_time: datetime
    session_id: str | None = None
    cdr_token: CdrToken
    auth_method: str
    authorization_reference: str | None = None
    cdr_location: CdrLocation
    currency: str
    tariffs: list[dict[str, Any]] | None = None
    charging_periods: list[ChargingPeriod]
    total_cost: Price
    total_energy: Decimal
    total_time: Decimal
    last_updated: datetime


def envelope(data: Any = None) -> web.Response:
    body: dict[str, Any] = {
        "status_code": 1000,
        "status_message": "Success",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if data is not None:
        body = {"data": data, **body}
    return web.Response(
        body=json.dumps(body, default=str).encode(), content_type="application/json"
    )


class Baseline:
    def __init__(self, db: str) -> None:
        self.db = sqlite3.connect(db, isolation_level=None)
        if db != ":memory:":
            self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=normal")
        self.db.executescript(
            "create table if not exists evses (location text, uid text, status text,"
            " last_updated text, primary key (location, uid));"
            "create table if not exists locations (key text primary key, object text);"
            "create table if not exists cdrs (key text primary key, object text);"
            "create table if not exists terminals (serial text primary key, object text);"
        )
        self.tokens = {hashlib.sha256(TOKEN.encode()).hexdigest(): TOKEN}
        with self.db:
            for i in range(1, 11):
                self.db.execute(
                    "insert or replace into evses values (?, ?, ?, ?)",
                    ("LOC1", f"EVSE{i}", "AVAILABLE", "2024-01-01T00:00:00Z"),
                )
            self.db.execute(
                "insert or replace into terminals values (?, ?)",
                (
                    "APO-CPS",
                    json.dumps({"serialNumber": "APO-CPS", "online": True, "state": "IDLE"}),
                ),
            )

    def authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Token "):
            return False
        try:
            token = base64.b64decode(header[6:], validate=True).decode()
        except ValueError:
            return False
        known = self.tokens.get(hashlib.sha256(token.encode()).hexdigest())
        return known is not None and hmac.compare_digest(known, token)

    async def patch_evse(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            raise web.HTTPUnauthorized()
        patch = EvsePatch.model_validate_json(await request.read())
        m = request.match_info
        cur = self.db.execute(
            "update evses set status = coalesce(?, status), last_updated = ?"
            " where location = ? and uid = ?",
            (patch.status, patch.last_updated.isoformat(), m["location"], m["evse"]),
        )
        if cur.rowcount != 1:
            raise web.HTTPNotFound()
        return envelope()

    async def put_location(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            raise web.HTTPUnauthorized()
        location = Location.model_validate_json(await request.read())
        m = request.match_info
        key = f"{m['cc']}/{m['pid']}/{m['location']}".upper()
        self.db.execute(
            "insert or replace into locations values (?, ?)", (key, location.model_dump_json())
        )
        return envelope()

    async def post_cdr(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            raise web.HTTPUnauthorized()
        cdr = Cdr.model_validate_json(await request.read())
        key = f"{cdr.country_code}/{cdr.party_id}/{cdr.id}".upper()
        self.db.execute("insert or replace into cdrs values (?, ?)", (key, cdr.model_dump_json()))
        return envelope()

    async def cps_terminal(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(
            request.headers.get("Authorization", ""), f'CPS apikey="{CPS_KEY}"'
        ):
            raise web.HTTPUnauthorized()
        row = self.db.execute(
            "select object from terminals where serial = ?", (request.match_info["serial"],)
        ).fetchone()
        if row is None:
            raise web.HTTPNotFound()
        return web.json_response(json.loads(row[0]))

    def app(self) -> web.Application:
        app = web.Application()
        loc = "/ocpi/2.2.1/locations/{cc}/{pid}/{location}"
        app.router.add_patch(loc + "/{evse}", self.patch_evse)
        app.router.add_put(loc, self.put_location)
        app.router.add_post("/ocpi/2.2.1/cdrs", self.post_cdr)
        app.router.add_get("/cps/terminals/{serial}", self.cps_terminal)
        return app


async def serve(port: int, ready_file: Path, db: str) -> None:
    runner = web.AppRunner(Baseline(db).app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    info = json.dumps({"event": "listening", "url": f"http://127.0.0.1:{port}"})
    ready_file.write_text(info)  # noqa: ASYNC240 - once, before serving
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    db = args.db or str(args.ready_file.with_name("baseline.db"))
    asyncio.run(serve(args.port, args.ready_file, db))
    if db != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)


if __name__ == "__main__":
    main()
