"""No secret in full anywhere a person or a copied file can read: after a full OCPI journey (with
an invoice, so a FAC) and a CPS payment with a minted key, no token, API key or PAN appears in
the logs, the journal, the findings, the events, the control API's views or the database file.
The emulator still works from that database after a restart (the tokens it sends are sealed,
not lost)."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).parent / "journey"))

from journey_rig import SERIAL, make_rig

from emulator import logs
from emulator.app import EmulatorNode
from emulator.vault import key_file

CPS_KEY = "fixed-cps-key-0123456789abcdef"
CPS_TOKEN = "fixed-cps-exchange-token-0123456789"
PAN = "4111111111111111"  # the visa-approved test card


@pytest.fixture
def log_lines() -> Any:
    """Every log line at debug level, into a buffer (restored afterwards)."""
    buffer = io.StringIO()
    logs.configure("json", "debug", stream=buffer)
    yield buffer
    logs.configure("console", "warning")


def stored_bytes(directory: Path) -> bytes:
    """The database file and its WAL, as a copy of them would hold them."""
    files = sorted(directory.glob("emulator.db*"))
    return b"".join(p.read_bytes() for p in files if p.suffix != ".key")


def forms(secret: str) -> list[str]:
    """A secret as it could leak: as it is, and Base64-encoded (an Authorization header)."""
    return [secret, base64.b64encode(secret.encode()).decode()]


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, secret in secrets.items() if any(f in text for f in forms(secret))]


async def cps_payment(http: aiohttp.ClientSession, node: EmulatorNode) -> dict[str, str]:
    """A CPS payment with a minted key (exchanged for itself through /apikey?token=)."""
    base, admin = node.cps.base_url, f"{node.rt.base_url}/__admin"
    async with http.post(f"{admin}/terminals", json={"serial_number": "C1", "mode": "cps"}) as r:
        assert r.status == 201
    async with http.post(f"{admin}/cps/api-keys", json={"label": "csms"}) as r:
        minted = await r.json()
    async with http.get(f"{base}apikey", params={"token": minted["token"]}) as r:
        assert (await r.json())["apikey"] == minted["apikey"]
    auth = {"Authorization": f'CPS apikey="{minted["apikey"]}"'}
    async with http.post(
        f"{base}terminals/C1/start", params={"authorizedAmount": "2000"}, headers=auth
    ) as r:
        assert r.status == 200
    async with http.post(
        f"{admin}/terminals/C1/present-card", json={"card": PAN, "medium": "contactless"}
    ) as r:
        assert r.status == 200, await r.text()
    async with http.post(f"{base}terminals/C1/authorize", headers=auth) as r:
        session = await r.json()
        assert r.status == 200, session
    async with http.post(
        f"{base}terminals/C1/sessions/{session['sessionId']}/commit",
        params={"commitAmount": "1234"},
        headers=auth,
    ) as r:
        assert r.status == 200
    # The fixed key's exchange too.
    async with http.get(f"{base}apikey", params={"token": CPS_TOKEN}) as r:
        assert (await r.json())["apikey"] == CPS_KEY
    return {"minted CPS key": minted["apikey"], "minted CPS token": minted["token"]}


async def test_no_secret_in_full_anywhere(
    start_emulator: Any, http: aiohttp.ClientSession, tmp_path: Path, log_lines: io.StringIO
) -> None:
    db = tmp_path / "emulator.db"
    node = await start_emulator(
        db=str(db), poll_interval=0, cps_api_key=CPS_KEY, cps_apikey_token=CPS_TOKEN
    )
    rig = await make_rig(node, http)
    secrets = {
        "token A": "payter-emulator-token-a",
        "token B (the CPO's)": next(t for t in rig.cpo.valid_tokens if "token-b" in t),
        "token C (ours)": rig.token,
        "fixed CPS key": CPS_KEY,
        "fixed CPS token": CPS_TOKEN,
        "PAN": PAN,
    }
    # The OCPI journey, with an invoice reference (so a FAC goes out).
    ref = await rig.start_charging()
    await rig.session("COMPLETED", 10.0, (4.5, 5.45), ref=ref)
    await rig.cdr(10.0, ref=ref, invoice_reference_id="INV-1")
    assert rig.journey(ref)["money"] == "CAPTURED"
    secrets |= await cps_payment(http, node)

    views: dict[str, Any] = {}
    for path in (
        "settings",
        "platforms",
        "tokens-a",
        "cps/api-keys",
        f"terminals/{SERIAL}",
        "terminals/C1",
        "journeys",
        "cps/sessions",
        "findings",
        "journal?limit=1000",
        "events?since=0",
    ):
        async with http.get(f"{node.rt.base_url}/__admin/{path}") as resp:
            assert resp.status == 200, path
            views[path] = await resp.json()
    assert leaks(json.dumps(views, ensure_ascii=False), secrets) == []
    journal = node.rt.journal.list(limit=100_000)
    assert len(journal) > 10
    assert leaks(json.dumps(journal, ensure_ascii=False), secrets) == []
    assert leaks(json.dumps(node.rt.findings.list(), ensure_ascii=False), secrets) == []
    events = [e.as_json() for e in node.rt.bus.recent()]
    assert any(e["kind"] == "terminal.card" for e in events)
    assert leaks(json.dumps(events, ensure_ascii=False, default=str), secrets) == []

    await node.stop()
    stored = stored_bytes(tmp_path)
    assert len(stored) > 50_000
    assert leaks(stored.decode("latin-1"), secrets) == []
    assert leaks(log_lines.getvalue(), secrets) == []
    assert log_lines.getvalue().count("\n") > 20

    # The same database after a restart: the token to call the CPO with is recovered, and the
    # CPO's token C and the minted CPS key still authenticate.
    again = await start_emulator(
        db=str(db), poll_interval=0, cps_api_key=CPS_KEY, cps_apikey_token=CPS_TOKEN
    )
    async with http.post(
        f"{again.rt.base_url}/__admin/ocpi/poll", json={"modules": ["locations"]}
    ) as resp:
        polled = await resp.json()
        assert resp.status == 200 and not any(s.get("error") for s in polled), polled
    [platform] = again.platforms.registered()
    assert platform.peer_token == secrets["token B (the CPO's)"]
    assert again.platforms.by_issued_token(rig.token) is not None
    assert again.cps.keys.authenticate(f'CPS apikey="{secrets["minted CPS key"]}"') is not None
    await rig.cpo.stop()


async def test_a_database_without_its_key_gives_out_nothing(
    start_emulator: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """The tokens the emulator sends are sealed with a key kept outside the database: without
    it (a copied database file) they cannot be read, and nothing fails."""
    db = tmp_path / "copy.db"
    node = await start_emulator(db=str(db), poll_interval=0)
    rig = await make_rig(node, http)
    await node.stop()
    key_file(str(db)).unlink()
    copy = await start_emulator(db=str(db), poll_interval=0)
    [platform] = copy.platforms.registered()
    assert platform.peer_token is None
    assert copy.platforms.by_issued_token(rig.token) is None
    await rig.cpo.stop()
