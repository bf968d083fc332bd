"""A test rig for Payter's driver journey: one emulator, a scripted CPO (tests/cpo_double.py),
the terminal APO-0001 assigned to the CPO's location, and the manual clock.

The CPO double answers START_SESSION / STOP_SESSION with ``command_answer``; everything else
the CPO does (CommandResults, Sessions, CDRs) is pushed by the test exactly when it wants, so
every path of the journey can be forced. The rig keeps every event the emulator publishes, so
a test can assert the screens shown and the payment steps taken, also across a restart.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ocpi_objects as obj
from cpo_double import CpoDouble
from helpers import admin, findings, make_settings, ocpi

from emulator.app import EmulatorNode, build_emulator
from emulator.events import Subscription

TOKEN_A = "payter-emulator-token-a"
SERIAL = "APO-0001"
ROUTING = {
    "OCPI-from-country-code": "NL",
    "OCPI-from-party-id": "CPO",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "PAY",
}
FINAL_MONEY = frozenset({"NONE", "CAPTURED", "VOIDED"})


class Rig:
    def __init__(self, node: EmulatorNode, cpo: CpoDouble, token: str, http: Any) -> None:
        self.cpo, self.token, self.http = cpo, token, http
        self.events: list[dict[str, Any]] = []
        self._sub: Subscription | None = None
        self.node = node

    # --- the emulator (replaced on a restart) ---------------------------------------------

    @property
    def node(self) -> EmulatorNode:
        return self._node

    @node.setter
    def node(self, node: EmulatorNode) -> None:
        self.collect()
        if self._sub is not None:
            self._sub.close()
        self._node = node
        self._sub = node.rt.bus.subscribe(maxsize=1_000_000)

    def collect(self) -> list[dict[str, Any]]:
        """Every event published so far (kind, data), in order, across restarts."""
        if self._sub is not None:
            while not self._sub.queue.empty():
                event = self._sub.queue.get_nowait()
                self.events.append({"kind": event.kind, **event.data})
        return self.events

    async def restart(self, db: str, **settings: Any) -> EmulatorNode:
        """Stop the emulator and start it again on the same database, at the same time."""
        now = self.node.rt.clock.describe()["now"]
        await self.node.stop()
        node = build_emulator(make_settings(db=db, clock_start=now, **settings))
        self.node = node  # listen from the start: resuming journeys publishes events
        await node.start()
        return node

    # --- the driver -------------------------------------------------------------------------

    async def admin(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        return await admin(self.http, self.node, method, path, json=json)

    async def terminal(self) -> dict[str, Any]:
        status, terminal = await self.admin("GET", f"terminals/{SERIAL}")
        assert status == 200, terminal
        return terminal

    async def screen(self) -> dict[str, Any]:
        return (await self.terminal())["screen"]

    async def press(self, key: str) -> dict[str, Any]:
        status, body = await self.admin("POST", f"terminals/{SERIAL}/press", {"key": key})
        assert status == 200, body
        return await self.screen()

    async def present(self, card: str, medium: str = "contactless") -> tuple[int, Any]:
        return await self.admin(
            "POST", f"terminals/{SERIAL}/present-card", {"card": card, "medium": medium}
        )

    async def card(self, card: str = "visa-approved", medium: str = "contactless") -> dict:
        status, body = await self.present(card, medium)
        assert status == 200, body
        return await self.screen()

    async def stop_with_card(self, card: str = "visa-approved") -> dict[str, Any]:
        """Stop on the terminal, authenticated by the card used (Payter's advice): the Stop
        screen reads the card; the answer is the screen that follows the tap."""
        stop = await self.press("stop")
        assert stop["id"] == "journey.stop", stop
        return await self.card(card)

    async def offline(self) -> None:
        status, body = await self.admin("POST", f"terminals/{SERIAL}/offline")
        assert status == 200, body

    async def online(self) -> None:
        status, body = await self.admin("POST", f"terminals/{SERIAL}/online")
        assert status == 200, body

    async def advance(self, seconds: float) -> None:
        status, body = await self.admin("POST", "clock/advance", {"seconds": seconds})
        assert status == 200, body

    async def to_card_screen(self, evse: str = "evse1") -> dict[str, Any]:
        """Home → Start → a charger → Accept: the terminal asks for a card."""
        if (await self.screen())["type"] == "screensaver":
            await self.press("touch")
        assert (await self.screen())["id"] == "journey.home"
        assert (await self.press("start"))["id"] == "journey.choose"
        tariff = await self.press(evse)
        assert tariff["id"] == "journey.tariff", tariff
        screen = await self.press("accept")
        assert screen["type"] == "payment" and screen["properties"]["phase"] == "present_card"
        return screen

    async def start_charging(self, evse: str = "evse1", card: str = "visa-approved") -> str:
        """A driver starts a session and the CPO accepts it; returns its reference."""
        await self.to_card_screen(evse)
        await self.card(card)
        ref = self.start_body()["authorization_reference"]
        await self.result("ACCEPTED", ref=ref)
        await self.session("ACTIVE", ref=ref)
        return ref

    # --- what the emulator recorded -----------------------------------------------------------

    def journeys(self) -> list[dict[str, Any]]:
        return [self.node.journey.view(r) for r in self.node.journey.records.all()]

    def journey(self, ref: str | None = None) -> dict[str, Any]:
        rows = self.journeys()
        assert rows, "no journey"
        if ref is None:
            return rows[-1]
        [row] = [r for r in rows if r["authorization_reference"] == ref]
        return row

    def payment_sessions(self) -> list[dict[str, Any]]:
        return self.node.terminals.sessions(SERIAL)

    def mark(self) -> int:
        return len(self.collect())

    def shown(self, since: int = 0) -> list[str]:
        """The screens the terminal showed since ``mark``: id, and the title where the id is
        shared (notices)."""
        out = []
        for event in self.collect()[since:]:
            if event["kind"] == "terminal.screen" and event["serial_number"] == SERIAL:
                screen = event["screen"]
                title = screen["properties"].get("title")
                phase = screen["properties"].get("phase")
                name = screen["id"]
                if name == "journey.notice":
                    name = f"{name}:{title}"
                elif phase:
                    name = f"payment:{phase}"
                out.append(name)
        return out

    def payment_steps(self, since: int = 0) -> list[str]:
        return [
            e["step"]
            for e in self.collect()[since:]
            if e["kind"] == "terminal.payment" and e["serial_number"] == SERIAL
        ]

    def sent(self) -> list[str]:
        """The commands the CPO received, in order."""
        return [c["command"] for c in self.cpo.commands]

    def rules(self) -> set[str]:
        return {f["rule"] for f in findings(self.node)}

    def assert_settled(self) -> None:
        """Every pre-authorization ended in exactly one capture or one void."""
        steps: dict[str, list[str]] = {}
        for event in self.collect():
            if event["kind"] == "terminal.payment":
                steps.setdefault(event["session_id"], []).append(event["step"])
        owners: dict[str, str] = {}
        for journey in self.journeys():
            assert journey["money"] in FINAL_MONEY, journey
            session_id = self.node.journey.records.get(journey["id"]).payment_session_id
            if journey["money"] == "NONE":
                assert "authorized" not in steps.get(session_id or "", []), journey
                continue
            assert session_id not in owners, "two journeys on one pre-authorization"
            owners[session_id] = journey["id"]
            done = [s for s in steps[session_id] if s in ("committed", "cancelled", "expired")]
            expected = "committed" if journey["money"] == "CAPTURED" else "cancelled"
            assert done == [expected], (journey, steps[session_id])
        for session_id, seen in steps.items():
            if "authorized" in seen:
                assert session_id in owners or seen.count("cancelled") == 1, (session_id, seen)
        for session in self.payment_sessions():
            assert session["state"] in ("COMMITTED", "CANCELLED"), session

    # --- the CPO ------------------------------------------------------------------------------

    def start_body(self, ref: str | None = None) -> dict[str, Any]:
        starts = [c["body"] for c in self.cpo.commands if c["command"] == "START_SESSION"]
        if ref is None:
            return starts[-1]
        [body] = [b for b in starts if b["authorization_reference"] == ref]
        return body

    async def result(
        self, result: str = "ACCEPTED", *, ref: str | None = None, command: str | None = None
    ) -> dict[str, Any]:
        """The CPO's CommandResult: for the START_SESSION of ``ref``, else for the last
        ``command``, else for the last command it received."""
        if ref is not None:
            url = self.start_body(ref)["response_url"]
        else:
            sent = [c for c in self.cpo.commands if command in (None, c["command"])]
            url = sent[-1]["body"]["response_url"]
        status, _, env = await ocpi(
            self.http, "POST", url, self.token, json={"result": result}, headers=ROUTING
        )
        await self.node.rt.background.drain()
        return env

    async def push(self, method: str, module: str, *parts: str, body: Any) -> dict[str, Any]:
        url = "/".join([self.node.server.endpoint_url("2.3.0", module), *parts])
        status, headers, env = await ocpi(
            self.http, method, url, self.token, json=body, headers=ROUTING
        )
        assert env["status_code"] == 1000, env
        # What the push set off after its answer (a FAC, a STOP_SESSION) is done by now.
        await self.node.rt.background.drain()
        return headers

    def _token(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = ("country_code", "party_id", "uid", "type", "contract_id")
        return {k: body["token"][k] for k in keys}

    async def session(
        self,
        status: str,
        kwh: float = 0,
        cost: tuple[float, float] | None = None,
        *,
        ref: str | None = None,
        push: bool = True,
        **kw: Any,
    ) -> None:
        """The CPO's Session: PUT to the emulator, or (``push=False``) only on its Sessions
        Sender, as if the PUT had been lost."""
        body = self.start_body(ref)
        reference = body["authorization_reference"]
        s = obj.session(
            f"S-{reference}",
            status=status,
            kwh=kw.pop("kwh_", kwh),
            ref=reference,
            token=self._token(body),
            evse_uid=body["evse_uid"],
            connector_id=body["connector_id"],
            last_updated=self.node.rt.clock.describe()["now"],
            **kw,
        )
        if cost is not None:
            s["total_cost"] = obj.price(*cost)
        self.cpo.sessions = [x for x in self.cpo.sessions if x["id"] != s["id"]] + [s]
        if push:
            await self.push("PUT", "sessions", "NL", "CPO", s["id"], body=s)

    async def cdr(
        self, kwh: float = 10.0, *, ref: str | None = None, push: bool = True, **kw: Any
    ) -> dict:
        """The CPO's CDR: POSTed to the emulator, or (``push=False``) only on its CDRs
        Sender, as if the POST had been lost."""
        body = self.start_body(ref)
        reference = body["authorization_reference"]
        cdr = obj.cdr(
            f"CDR-{reference}",
            kwh=kwh,
            ref=reference,
            session_id=f"S-{reference}",
            token=self._token(body),
            **kw,
        )
        cdr["cdr_location"]["evse_uid"] = body["evse_uid"]
        cdr["last_updated"] = self.node.rt.clock.describe()["now"]
        self.cpo.cdrs.append(cdr)
        if push:
            await self.push("POST", "cdrs", body=cdr)
        return cdr


async def make_rig(node: EmulatorNode, http: Any, **cpo_kw: Any) -> Rig:
    cpo = await CpoDouble(**cpo_kw).start()
    cpo.locations = [obj.location()]
    cpo.tariffs = [obj.tariff()]
    answer = await cpo.register_with(node.server.versions_url, TOKEN_A, "2.3.0")
    rig = Rig(node, cpo, answer["data"]["token"], http)
    await rig.advance(1)  # the first crawl of Locations and Tariffs runs on the clock
    [terminal] = node.ptp.payments.terminals()
    base = node.server.endpoint_url("2.3.0", "payments") + "/terminals"
    await ocpi(
        http,
        "PATCH",
        f"{base}/{terminal['terminal_id']}",
        rig.token,
        json={"location_ids": ["LOC-1"], "last_updated": "2025-03-01T09:00:00Z"},
        headers=ROUTING,
    )
    return rig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def file_rig(tmp_path: Path, http: Any) -> AsyncIterator[Rig]:
    """A rig whose emulator keeps its state in a file and listens on a fixed port, so that
    :func:`restart` brings it back where it was (a CPO posts to the URLs it was given)."""
    settings = {"db": str(tmp_path / "journeys.db"), "port": free_port(), "poll_interval": 0}
    node = build_emulator(make_settings(**settings))
    await node.start()
    rig = await make_rig(node, http)
    rig.settings = settings  # type: ignore[attr-defined]
    yield rig
    await rig.cpo.stop()
    await rig.node.stop()


async def restart(rig: Rig) -> None:
    """Restart the emulator of a :func:`file_rig` on its database and port."""
    settings = dict(rig.settings)  # type: ignore[attr-defined]
    await rig.restart(settings.pop("db"), **settings)


def error_rules(node: EmulatorNode) -> list[str]:
    return [f["rule"] for f in findings(node) if f["severity"] == "error"]
