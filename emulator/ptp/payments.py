"""OCPI Payments, with the emulator as the PTP (data owner, Sender): the 2.3.0 Payments package,
and the same module on 2.2.1 (Payter's "Direct Payment 2.2.1") with 2.2.1's data types.

Terminals: created by the operator (``POST /__admin/terminals``) or by a CPO's activation
request, pushed to the CPO's Payments Receiver (``POST {payments}/terminals``), assigned to
Locations/EVSEs by the CPO (``PATCH``/``PUT`` on our Sender interface).

Financial Advice Confirmations: created after a capture, POSTed to the CPO (retried on the
clock while the CPO cannot be reached), readable on our Sender interface.

Sub-URLs are ``{payments}/terminals`` and ``{payments}/financial-advice-confirmations`` by
default (the spec never defines them; settings make them configurable).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, TypedDict, cast

from emulator import crashpoint, logs
from emulator.coverage import checked
from emulator.ocpi import status
from emulator.ocpi.client import PeerError, join_url
from emulator.ocpi.models.base import partial_model
from emulator.ocpi.models.registry import model_for
from emulator.ocpi.platforms import Platform
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import OcpiRequest, OcpiResult, paged, parse_paging
from emulator.ocpi.types import ci_equal, format_datetime, sortable_datetime
from emulator.ptp import checks
from emulator.rules import RuleId
from emulator.settings import version_key
from emulator.store import TableSpec

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

log = logs.get_logger("emulator.ptp.payments")

TERMINALS = TableSpec(
    name="ptp_terminals",
    columns={
        "terminal_id": str,
        "serial_number": str,
        "model": str,
        "platform_id": int,
        "active": int,
        "last_updated": str,
        "object": str,
        "push_state": str,  # NOT_PUSHED | PUSHED | FAILED | NO_ENDPOINT
        "push_error": str,
        "created_at": str,
        # The contract the terminal belongs to (emulator/ptp/contracts.py).
        "contract_id": int,
    },
    pk="terminal_id",
    json_columns=frozenset({"object"}),
    indexes=(("serial_number",), ("platform_id",), ("last_updated",)),
)

FACS = TableSpec(
    name="ptp_facs",
    columns={
        "id": str,
        "authorization_reference": str,
        "platform_id": int,
        "terminal_id": str,
        "last_updated": str,
        "object": str,
        "delivered": int,
        "attempts": int,
        "last_error": str,
        "next_attempt_at": str,
    },
    json_columns=frozenset({"object"}),
    indexes=(("authorization_reference",), ("platform_id",), ("last_updated",)),
)


class TerminalRow(TypedDict):
    """A payment terminal as Payter knows it (``ptp_terminals``): ``object`` is its OCPI
    Terminal object as pushed to the CPO."""

    terminal_id: str
    serial_number: str
    model: str | None
    platform_id: int | None
    active: int
    last_updated: str | None
    object: dict[str, Any]
    push_state: str | None  # NOT_PUSHED | PUSHED | FAILED | NO_ENDPOINT
    push_error: str | None
    created_at: str | None
    contract_id: int | None


class FacRow(TypedDict):
    """A FinancialAdviceConfirmation Payter made (``ptp_facs``) and its delivery."""

    id: str
    authorization_reference: str | None
    platform_id: int | None
    terminal_id: str | None
    last_updated: str | None
    object: dict[str, Any]
    delivered: int
    attempts: int | None
    last_error: str | None
    next_attempt_at: str | None


# The Payments checks that need a terminal on the CPO's side: its assignment (and the tariff
# checks of what it names), the card journeys on it, the FAC of their captures. When the CPO
# cannot take the terminal they cannot run: the report names why (Payter's verdict is not PASS
# for them). Activation is the CPO's own call, and Payter's customer_reference PATCH is made
# only for a terminal that has a customer_reference: neither waits for the terminal.
AFTER_TERMINAL: tuple[RuleId, ...] = (
    "OCPI-52",
    "OCPI-52b",
    "PAYTER-07",
    "OCPI-54",
    "OCPI-54b",
    "OCPI-55",
    "OCPI-56",
    "OCPI-57",
    "OCPI-57b",
    "OCPI-58",
)

# CPO-side fields a PUT/PATCH on our Terminal may change (mod_payments.asciidoc §Terminal).
CPO_WRITABLE = (
    "customer_reference",
    "party_id",
    "country_code",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "coordinates",
    "invoice_base_url",
    "invoice_creator",
    "location_ids",
    "evse_uids",
)


class Payments:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self.rt.store.register(TERMINALS, FACS)
        self._fac_timers: dict[str, Any] = {}

    @property
    def terminals_path(self) -> str:
        return self.ptp.settings.payments_terminals_path

    @property
    def facs_path(self) -> str:
        return self.ptp.settings.payments_facs_path

    # --- terminals: records ---

    def terminal(self, terminal_id: str) -> TerminalRow | None:
        row = self.rt.store.get("ptp_terminals", terminal_id)
        if row is None:
            row = self.rt.store.first(
                "ptp_terminals", "upper(terminal_id) = ?", [terminal_id.upper()]
            )
        return cast("TerminalRow | None", row)

    def by_serial(self, serial_number: str) -> TerminalRow | None:
        row = self.rt.store.first("ptp_terminals", "serial_number = ?", [serial_number])
        return cast("TerminalRow | None", row)

    def terminals(self, platform_id: int | None = None) -> list[TerminalRow]:
        where, params = (
            ("platform_id = ?", [platform_id]) if platform_id is not None else (None, [])
        )
        rows = self.rt.store.rows("ptp_terminals", where, params, order_by="created_at")
        return cast("list[TerminalRow]", rows)

    def create_terminal(
        self,
        serial_number: str,
        model: str,
        *,
        platform_id: int | None = None,
        reference: str | None = None,
        extra: dict[str, Any] | None = None,
        contract_id: int | None = None,
    ) -> TerminalRow:
        now = format_datetime(self.rt.now())
        terminal_id = self.rt.ids.uuid()
        obj: dict[str, Any] = {"terminal_id": terminal_id, "reference": reference or serial_number}
        contract = (
            self.ptp.contracts.get(contract_id)
            if contract_id is not None
            else self.ptp.contracts.default()
        ) or self.ptp.contracts.default()
        if contract.get("customer_reference"):
            obj["customer_reference"] = contract["customer_reference"]
        obj.update(extra or {})
        obj["last_updated"] = now
        self.rt.store.insert(
            "ptp_terminals",
            {
                "terminal_id": terminal_id,
                "serial_number": serial_number,
                "model": model,
                "platform_id": platform_id,
                "active": 1,
                "last_updated": sortable_datetime(now),
                "object": obj,
                "push_state": "NOT_PUSHED",
                "created_at": now,
                "contract_id": contract["id"],
            },
        )
        self.rt.bus.publish(
            "payments.terminal",
            terminal_id=terminal_id,
            serial_number=serial_number,
            change="created",
        )
        row = self.terminal(terminal_id)
        assert row is not None
        return row

    def update_terminal(
        self,
        terminal_id: str,
        changes: dict[str, Any],
        *,
        last_updated: str | None = None,
        replace: bool = False,
    ) -> TerminalRow:
        row = self.terminal(terminal_id)
        assert row is not None
        obj = dict(row["object"])
        if replace:
            for key in CPO_WRITABLE:
                obj.pop(key, None)
        obj.update(changes)
        obj["last_updated"] = last_updated or format_datetime(self.rt.now())
        self.rt.store.update(
            "ptp_terminals",
            row["terminal_id"],
            {"object": obj, "last_updated": sortable_datetime(obj["last_updated"])},
        )
        self.rt.bus.publish(
            "payments.terminal",
            terminal_id=row["terminal_id"],
            serial_number=row["serial_number"],
            change="updated",
        )
        updated = self.terminal(row["terminal_id"])
        assert updated is not None
        self._changed(updated)
        return updated

    def _changed(self, row: TerminalRow) -> None:
        """Tell the journey: its Home may turn into Out of service, or back."""
        if self.ptp.terminal_listeners:
            self.rt.background.spawn(
                self.ptp.notify(self.ptp.terminal_listeners, row),
                name=f"terminal-changed-{row['terminal_id']}",
            )

    def assigned_evses(self, row: TerminalRow) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(location, evse) pairs the terminal may start sessions on: the union of the
        assigned Locations' EVSEs and the assigned EVSEs (mod_payments.asciidoc PATCH)."""
        obj = row["object"]
        location_ids = {str(x).upper() for x in obj.get("location_ids") or []}
        evse_uids = {str(x).upper() for x in obj.get("evse_uids") or []}
        out = []
        # Through the indexes: only the Locations this terminal is assigned to are read.
        assigned = self.ptp.mirror.locations.assigned(row["platform_id"], location_ids, evse_uids)
        for loc_row in assigned:
            loc = loc_row["object"]
            whole = str(loc.get("id", "")).upper() in location_ids
            for evse in loc.get("evses") or []:
                if evse.get("status") == "REMOVED":
                    continue
                if whole or str(evse.get("uid", "")).upper() in evse_uids:
                    out.append((loc, evse))
        return out

    # --- terminals: towards the CPO ---

    def _receiver_url(self, platform: Platform, sub: str) -> str | None:
        base = platform.endpoint("payments", "RECEIVER")
        return join_url(base, sub) if base else None

    async def push_terminal(self, row: TerminalRow, platform: Platform) -> TerminalRow:
        """POST the Terminal to the CPO's Payments Receiver, then GET it back (5.7 #51)."""
        url = self._receiver_url(platform, self.terminals_path)
        variant = self.ptp.payments_variant(platform)
        if url is None or variant is None:
            self.rt.store.update(
                "ptp_terminals",
                row["terminal_id"],
                {"platform_id": platform.id, "push_state": "NO_ENDPOINT"},
            )
            if variant is not None:
                found = self.rt.findings.record(
                    "OCPI-51",
                    "the platform exposes no payments RECEIVER endpoint: terminals "
                    "cannot be created on its side",
                    platform_id=platform.id,
                    once=True,
                )
                self._not_on_cpo(
                    platform,
                    found
                    or "OCPI-51 (the platform exposes no payments RECEIVER endpoint: terminals "
                    "cannot be created on its side)",
                )
            return self.terminal(row["terminal_id"]) or row
        obj = row["object"]
        client = self.ptp.node.client
        try:
            reply = await client.call(platform, "POST", "payments", url=url, body=obj)
        except PeerError as exc:
            self.rt.store.update(
                "ptp_terminals",
                row["terminal_id"],
                {"platform_id": platform.id, "push_state": "FAILED", "push_error": exc.message},
            )
            # The client named the defect (OCPI-06, or unreachable); the report says why
            # the terminal checks could not run instead of "not exercised".
            self.rt.coverage.not_checked("OCPI-51", platform.id, exc.cause())
            self._not_on_cpo(platform, exc.cause())
            return self.terminal(row["terminal_id"]) or row
        self.rt.coverage.ran("OCPI-51", platform.id)
        if not reply.ok:
            found = self.rt.findings.record(
                "OCPI-51",
                f"POST {url} with a new Terminal answered {reply.describe()}",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
            )
            self._not_on_cpo(platform, found or f"OCPI-51 (the CPO answered {reply.describe()})")
            self.rt.store.update(
                "ptp_terminals",
                row["terminal_id"],
                {
                    "platform_id": platform.id,
                    "push_state": "FAILED",
                    "push_error": reply.describe(),
                },
            )
            return self.terminal(row["terminal_id"]) or row
        self.rt.store.update(
            "ptp_terminals",
            row["terminal_id"],
            {"platform_id": platform.id, "push_state": "PUSHED", "push_error": None},
        )
        self._changed(self.terminal(row["terminal_id"]) or row)
        await self._verify_terminal(platform, url, obj["terminal_id"])
        if self.ptp.settings.payter_customer_reference_patch and obj.get("customer_reference"):
            await self._patch_customer_reference(platform, url, obj)
        return self.terminal(row["terminal_id"]) or row

    def _not_on_cpo(self, platform: Platform, because: Mapping[str, Any] | str) -> None:
        """The terminal could not be made on the CPO's side: the checks that follow from it
        could not run (those that ran already, with another terminal, stay as they are)."""
        coverage = self.rt.coverage
        waiting = [r for r in AFTER_TERMINAL if not coverage.has_run(r, platform.id)]
        coverage.not_checked(waiting, platform.id, because)

    async def _verify_terminal(self, platform: Platform, url: str, terminal_id: str) -> None:
        try:
            reply = await self.ptp.node.client.call(
                platform, "GET", "payments", url=join_url(url, terminal_id), expect="object"
            )
        except PeerError as exc:
            self.rt.findings.record(
                "OCPI-51",
                f"GET of the terminal just created failed: {exc.message}",
                platform_id=platform.id,
                exchange_id=exc.exchange_id,
            )
            return
        data = reply.data if isinstance(reply.data, dict) else None
        if not reply.ok or data is None:
            self.rt.findings.record(
                "OCPI-51",
                f"GET {terminal_id} after creating it answered {reply.describe()}",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
            )
        elif not ci_equal(str(data.get("terminal_id")), terminal_id):
            self.rt.findings.record(
                "OCPI-51",
                f"GET {terminal_id} returned terminal {data.get('terminal_id')!r}",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
            )
        elif "last_updated" not in data:
            self.rt.findings.record(
                "OCPI-51",
                "the CPO's stored Terminal has no last_updated",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
            )

    async def patch_customer_reference(self, row: TerminalRow) -> dict[str, Any]:
        """Payter's customer_reference PATCH for one terminal, again (its contract's
        customer_reference changed): the outcome, ``{"terminal_id", "ok", "error"?}``."""
        out: dict[str, Any] = {"terminal_id": row["terminal_id"], "ok": False}
        platform = self.ptp.node.platforms.get(row.get("platform_id") or 0)
        url = self._receiver_url(platform, self.terminals_path) if platform else None
        if platform is None or not platform.registered or row.get("push_state") != "PUSHED":
            return {**out, "error": "the terminal is not on a CPO platform (not pushed)"}
        if url is None:
            return {**out, "error": "the platform has no payments RECEIVER"}
        error = await self._patch_customer_reference(platform, url, row["object"])
        return {**out, "ok": error is None, **({"error": error} if error else {})}

    async def _patch_customer_reference(
        self, platform: Platform, url: str, obj: dict[str, Any]
    ) -> str | None:
        """Payter sends the CPO a customer_reference with a PATCH (payter.md §2.2); the CPO
        Receiver interface of the spec has no PATCH, so this is a Payter-specific step."""
        body = {
            "customer_reference": obj["customer_reference"],
            "last_updated": format_datetime(self.rt.now()),
        }
        try:
            reply = await self.ptp.node.client.call(
                platform, "PATCH", "payments", url=join_url(url, obj["terminal_id"]), body=body
            )
        except PeerError as exc:
            self.rt.findings.record(
                "PAYTER-04",
                f"PATCH with customer_reference failed: {exc.message}",
                platform_id=platform.id,
                exchange_id=exc.exchange_id,
            )
            return exc.message
        self.rt.coverage.ran("PAYTER-04", platform.id)
        if not reply.ok:
            self.rt.findings.record(
                "PAYTER-04",
                f"the CPO refused Payter's customer_reference PATCH "
                f"({reply.describe()}); agree the customer_reference with Payter before "
                "terminals are assigned",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
            )
            return reply.describe()
        return None

    async def adopt_unowned(self, platform: Platform) -> None:
        """On registration: terminals without a platform go to this one and are pushed."""
        for row in self.terminals():
            if row.get("platform_id") is None and row["active"]:
                await self.push_terminal(row, platform)

    # --- terminals: Sender interface (HTTP) ---

    def _own_terminal(self, req: OcpiRequest) -> TerminalRow:
        platform = req.require_platform()
        row = self.terminal(req.params["terminal_id"])
        if row is None or (row.get("platform_id") not in (None, platform.id)):
            raise OcpiError(
                status.CLIENT_ERROR,
                f"unknown terminal {req.params['terminal_id']}",
                http_status=404,
            )
        return row

    async def list_terminals(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        return self._page(req, "ptp_terminals", "platform_id = ?", [platform.id])

    def _page(self, req: OcpiRequest, table: str, where: str, params: list[Any]) -> OcpiResult:
        page = parse_paging(req, req.server.page_limit)
        clauses, args = [where], list(params)
        if page.date_from:
            clauses.append("last_updated >= ?")
            args.append(sortable_datetime(page.date_from))
        if page.date_to:
            clauses.append("last_updated < ?")
            args.append(sortable_datetime(page.date_to))
        clause = " and ".join(clauses)
        total = self.rt.store.count(table, clause, args)
        order = "last_updated, " + ("terminal_id" if table == "ptp_terminals" else "id")
        rows = self.rt.store.rows(
            table, clause, args, order_by=order, limit=page.limit, offset=page.offset
        )
        return paged(req, page, total, [r["object"] for r in rows])

    async def get_terminal(self, req: OcpiRequest) -> OcpiResult:
        return OcpiResult(data=self._own_terminal(req)["object"])

    async def put_terminal(self, req: OcpiRequest) -> OcpiResult:
        return await self._change_terminal(req, replace=True)

    async def patch_terminal(self, req: OcpiRequest) -> OcpiResult:
        return await self._change_terminal(req, replace=False)

    async def _change_terminal(self, req: OcpiRequest, *, replace: bool) -> OcpiResult:
        row = self._own_terminal(req)
        platform = req.require_platform()
        model = partial_model(model_for(req.version or "2.3.0", "Terminal"))
        body = req.parse(model, what="Terminal").model_dump(
            mode="json", exclude_none=True, by_alias=True
        )
        checked("OCPI-29", "OCPI-52b")  # the URL's terminal_id, and last_updated
        if "terminal_id" in body and not ci_equal(
            str(body["terminal_id"]), str(row["terminal_id"])
        ):
            req.finding(
                "OCPI-29",
                f"URL terminal_id {req.params['terminal_id']!r} differs from "
                f"the body's {body['terminal_id']!r}",
                pointer="/terminal_id",
            )
            raise OcpiError(
                status.INVALID_PARAMETERS, "terminal_id in the body differs from the URL"
            )
        if "last_updated" not in body:
            req.finding(
                "OCPI-52b",
                f"{req.http.method} of terminal {row['terminal_id']} without last_updated",
                pointer="/last_updated",
            )
        changes = {k: v for k, v in body.items() if k in CPO_WRITABLE}
        ignored = sorted(
            set(body) - set(CPO_WRITABLE) - {"terminal_id", "last_updated", "reference"}
        )
        if ignored:
            log.info("terminal fields not writable by the CPO ignored", fields=ignored)
        updated = self.update_terminal(
            row["terminal_id"], changes, last_updated=body.get("last_updated"), replace=replace
        )
        if "location_ids" in changes or "evse_uids" in changes:
            problems = self.check_assignment(platform, updated)
            for p in problems:
                req.finding(p.rule, p.message, pointer=p.pointer)
            if not self.ptp.mirror.locations.any(platform.id):
                # Nothing mirrored yet: look again after a crawl of the CPO's Locations.
                self.rt.background.spawn(
                    self._check_after_poll(platform, row["terminal_id"]),
                    name=f"assignment-check-{row['terminal_id']}",
                )
        return OcpiResult(omit_data=True)

    async def _check_after_poll(self, platform: Platform, terminal_id: str) -> None:
        await self.ptp.mirror.poll_all(platform)
        row = self.terminal(terminal_id)
        if row is None:
            return
        for p in self.check_assignment(platform, row):
            self.rt.findings.record(
                p.rule,
                p.message,
                platform_id=platform.id,
                pointer=p.pointer,
                once=True,
            )

    def check_assignment(self, platform: Platform, row: TerminalRow) -> list[checks.Problem]:
        """The assigned ids exist in the CPO's Locations, and what they point to can be paid
        for with a card on this terminal (checklist 5.7 #52, #54)."""
        with self.rt.coverage.scope(platform.id):
            return self._check_assignment(platform, row)

    def _check_assignment(self, platform: Platform, row: TerminalRow) -> list[checks.Problem]:
        obj = row["object"]
        mirror = self.ptp.mirror
        if not mirror.locations.any(platform.id):
            return []
        checked("OCPI-52", "PAYTER-07")
        problems: list[checks.Problem] = []
        for i, loc_id in enumerate(obj.get("location_ids") or []):
            found = mirror.locations.find_head(str(loc_id), platform.id)
            if found is None or not found["valid"]:
                problems.append(
                    checks.Problem(
                        "OCPI-52",
                        f"terminal assigned to location {loc_id!r}, which the CPO's "
                        "Locations do not contain",
                        f"/location_ids/{i}",
                    )
                )
        for i, uid in enumerate(obj.get("evse_uids") or []):
            if not mirror.locations.has_evse(platform.id, str(uid)):
                problems.append(
                    checks.Problem(
                        "PAYTER-07",
                        f"terminal assigned to EVSE {uid!r}, which no mirrored Location contains",
                        f"/evse_uids/{i}",
                    )
                )
        for loc, evse in self.assigned_evses(row):
            where = f"EVSE {evse.get('uid')} of location {loc.get('id')}"
            problems.extend(checks.check_card_payment_evse(evse, where))
            problems.extend(self.ptp.tariff_problems(platform, loc, evse))
        return problems

    async def activate(self, req: OcpiRequest) -> OcpiResult:
        """POST {terminals}/activate: the CPO asks us to activate a terminal by reference."""
        platform = req.require_platform()
        checked("OCPI-53")
        if isinstance(req.body, dict) and req.body.get("terminal_id"):
            req.finding(
                "OCPI-53",
                "the activation request carries a terminal_id; the PTP assigns it",
                pointer="/terminal_id",
            )
        body = req.parse(
            model_for(req.version or "2.3.0", "TerminalActivation"), what="Terminal"
        ).model_dump(mode="json", exclude_none=True, by_alias=True)
        reference = body.get("reference")
        if not reference:
            req.finding(
                "OCPI-53",
                "the activation request has no reference (e.g. the serial number the OEM gave)",
                pointer="/reference",
            )
            raise OcpiError(status.INVALID_PARAMETERS, "reference is required to activate")
        existing = self.by_serial(str(reference))
        if existing is not None and existing["active"]:
            raise OcpiError(
                status.INVALID_PARAMETERS,
                f"terminal with reference {reference} is already active "
                f"({existing['terminal_id']})",
            )
        extra = {k: v for k, v in body.items() if k in CPO_WRITABLE}
        await self.ptp.create_terminal(
            str(reference), "Apollo", platform_id=platform.id, extra=extra, push=True
        )
        return OcpiResult(omit_data=True)

    async def deactivate(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        checked("OCPI-53")
        row = self.terminal(req.params["terminal_id"])
        if row is None or row.get("platform_id") not in (None, platform.id):
            req.finding("OCPI-53", f"deactivate for unknown terminal {req.params['terminal_id']}")
            raise OcpiError(status.CLIENT_ERROR, "unknown terminal", http_status=404)
        self.rt.store.update("ptp_terminals", row["terminal_id"], {"active": 0})
        self.update_terminal(row["terminal_id"], {})
        self.rt.bus.publish(
            "payments.terminal",
            terminal_id=row["terminal_id"],
            serial_number=row["serial_number"],
            change="deactivated",
        )
        return OcpiResult(omit_data=True)

    # --- financial advice confirmations ---

    def fac(self, fac_id: str) -> FacRow | None:
        return cast("FacRow | None", self.rt.store.get("ptp_facs", fac_id))

    def fac_for(self, platform_id: int, authorization_reference: str) -> FacRow | None:
        """The FAC made for this START_SESSION's authorization_reference (one per capture)."""
        row = self.rt.store.first(
            "ptp_facs",
            "platform_id = ? and authorization_reference = ?",
            [platform_id, authorization_reference],
        )
        return cast("FacRow | None", row)

    def facs(self, platform_id: int | None = None) -> list[FacRow]:
        where, params = (
            ("platform_id = ?", [platform_id]) if platform_id is not None else (None, [])
        )
        rows = self.rt.store.rows("ptp_facs", where, params, order_by="last_updated")
        return cast("list[FacRow]", rows)

    def create_fac(
        self,
        platform: Platform,
        *,
        authorization_reference: str,
        total_costs: dict[str, Any],
        currency: str,
        eft_data: list[str],
        capture_status_code: str,
        capture_status_message: str | None = None,
        terminal_id: str | None = None,
    ) -> dict[str, Any]:
        fac_id = self.rt.ids.uuid()
        obj: dict[str, Any] = {
            "id": fac_id,
            "authorization_reference": authorization_reference,
            "total_costs": total_costs,
            "currency": currency,
            "eft_data": eft_data,
            "capture_status_code": capture_status_code,
            "last_updated": format_datetime(self.rt.now()),
        }
        if capture_status_message:
            obj["capture_status_message"] = capture_status_message
        self.rt.store.insert(
            "ptp_facs",
            {
                "id": fac_id,
                "authorization_reference": authorization_reference,
                "platform_id": platform.id,
                "terminal_id": terminal_id,
                "last_updated": sortable_datetime(obj["last_updated"]),
                "object": obj,
                "delivered": 0,
                "attempts": 0,
                # Due at once: a restart before the first attempt still delivers it (rearm).
                "next_attempt_at": obj["last_updated"],
            },
        )
        self.rt.bus.publish(
            "payments.fac",
            id=fac_id,
            authorization_reference=authorization_reference,
            change="created",
        )
        return obj

    async def deliver_fac(self, fac_id: str) -> bool:
        """POST the FAC to the CPO; on failure retry later on the clock. True if delivered."""
        self._fac_timers.pop(fac_id, None)
        row = self.fac(fac_id)
        if row is None or row["delivered"]:
            return bool(row and row["delivered"])
        platform_id = row["platform_id"]
        platform = self.ptp.node.platforms.get(platform_id) if platform_id is not None else None
        if platform is None or not platform.registered:
            self.rt.store.update("ptp_facs", fac_id, {"last_error": "platform not registered"})
            return False
        url = self._receiver_url(platform, self.facs_path)
        if url is None:
            self.rt.store.update(
                "ptp_facs", fac_id, {"last_error": "the platform has no payments RECEIVER"}
            )
            self.rt.findings.record(
                "OCPI-57",
                "no payments RECEIVER endpoint to POST the financial advice confirmation to",
                platform_id=platform.id,
                once=True,
            )
            return False
        attempts = int(row["attempts"] or 0) + 1
        error: str | None = None
        exchange_id = None
        try:
            reply = await self.ptp.node.client.call(
                platform, "POST", "payments", url=url, body=row["object"]
            )
            crashpoint.reached("fac-delivering")  # the CPO has it; we have not marked it
            exchange_id = reply.exchange_id
            # Taken (#57), and in the negotiated version's Price shape (#57b).
            self.rt.coverage.ran(["OCPI-57", "OCPI-57b"], platform.id)
            if not reply.ok:
                error = reply.describe()
                if _refused_body(reply) and await self._other_shape_taken(platform, url, row):
                    error = None
        except PeerError as exc:
            error = exc.message
            exchange_id = exc.exchange_id
            self.rt.coverage.not_checked(["OCPI-57", "OCPI-57b"], platform.id, exc.cause())
        if error is None:
            self.rt.store.update(
                "ptp_facs",
                fac_id,
                {"delivered": 1, "attempts": attempts, "last_error": None, "next_attempt_at": None},
            )
            self.rt.bus.publish(
                "payments.fac",
                id=fac_id,
                authorization_reference=row["authorization_reference"],
                change="delivered",
            )
            await self._verify_fac(platform, url, fac_id)
            return True
        changes: dict[str, Any] = {"attempts": attempts, "last_error": error}
        ladder = self.ptp.settings.fac_retry_delays
        if attempts <= len(ladder):
            delay = ladder[attempts - 1]
            due = self.rt.now() + timedelta(seconds=delay)
            changes["next_attempt_at"] = format_datetime(due)
            self._fac_timers[fac_id] = self.rt.clock.call_later(
                delay, lambda: self.deliver_fac(fac_id), name=f"fac-retry-{fac_id}"
            )
        else:
            changes["next_attempt_at"] = None
            self.rt.findings.record(
                "OCPI-57",
                f"financial advice confirmation {fac_id} could "
                f"not be delivered after {attempts} attempts: {error}",
                platform_id=platform.id,
                exchange_id=exchange_id,
            )
        self.rt.store.update("ptp_facs", fac_id, changes)
        self.rt.bus.publish(
            "payments.fac",
            id=fac_id,
            authorization_reference=row["authorization_reference"],
            change="delivery_failed",
            error=error,
        )
        return False

    async def _other_shape_taken(self, platform: Platform, url: str, row: FacRow) -> bool:
        """The CPO refused the FAC: does it take ``total_costs`` in the other OCPI version's
        Price shape? Then it depends on that shape (the 2.3.0 module's examples use 2.2.1's
        ``excl_vat``/``incl_vat``, its table 2.3.0's Price): delivered, and said in an
        OCPI-57b finding. False when it refuses that too (the caller reports the first answer)."""
        obj = row["object"]
        version = platform.version or "2.3.0"
        other = other_price_shape(obj.get("total_costs"))
        if other is None:
            return False
        try:
            reply = await self.ptp.node.client.call(
                platform, "POST", "payments", url=url, body={**obj, "total_costs": other}
            )
        except PeerError:
            return False
        if not reply.ok:
            return False
        sent, taken = ("2.2.1", "2.3.0") if "before_taxes" in other else ("2.3.0", "2.2.1")
        self.rt.findings.record(
            "OCPI-57b",
            f"the CPO refused the financial advice confirmation {obj['id']} with total_costs "
            f"in the {sent} Price shape of OCPI {version} and took it in the {taken} shape "
            f"({', '.join(other)}): it depends on the shape of the other version; Payter sends "
            "the negotiated version's shape",
            platform_id=platform.id,
            exchange_id=reply.exchange_id,
            pointer="/total_costs",
        )
        return True

    async def _verify_fac(self, platform: Platform, url: str, fac_id: str) -> None:
        try:
            reply = await self.ptp.node.client.call(
                platform, "GET", "payments", url=join_url(url, fac_id), expect="object"
            )
        except PeerError as exc:
            self.rt.findings.record(
                "OCPI-57",
                f"GET of the financial advice confirmation just POSTed failed: {exc.message}",
                platform_id=platform.id,
                exchange_id=exc.exchange_id,
            )
            return
        data = reply.data if isinstance(reply.data, dict) else None
        if not reply.ok or data is None or not ci_equal(str(data.get("id")), fac_id):
            self.rt.findings.record(
                "OCPI-57",
                f"GET {fac_id} after POSTing it answered {reply.describe()}",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
            )

    def rearm(self) -> None:
        """After a restart: FACs still waiting for delivery are retried."""
        for row in self.rt.store.rows("ptp_facs", "delivered = 0 and next_attempt_at is not null"):
            fac_id = row["id"]
            self._fac_timers[fac_id] = self.rt.clock.call_later(
                0, partial(self.deliver_fac, fac_id), name=f"fac-retry-{fac_id}"
            )

    async def list_facs(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        return self._page(req, "ptp_facs", "platform_id = ?", [platform.id])

    async def get_fac(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        row = self.fac(req.params["fac_id"])
        if row is None or row["platform_id"] != platform.id:
            raise OcpiError(
                status.CLIENT_ERROR, "unknown financial advice confirmation", http_status=404
            )
        return OcpiResult(data=row["object"])


# --- FAC total_costs ------------------------------------------------------------------------


def _refused_body(reply: Any) -> bool:
    """The peer refused the request for its content (OCPI 2xxx, or HTTP 400/422)."""
    code = reply.status_code
    return (isinstance(code, int) and 2000 <= code < 3000) or reply.http_status in (400, 422)


def _amount(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def fac_total_costs(version: str, captured: int, cost: Any) -> dict[str, Any]:
    """The captured amount (minor units) as a FAC ``total_costs`` in ``version``'s Price
    shape: 2.3.0 ``before_taxes``/``taxes``, 2.2.1 ``excl_vat``/``incl_vat``. The taxes are
    in the proportion of the CDR's ``total_cost`` (``cost``, as received)."""
    incl = Decimal(captured) / 100
    cost = cost if isinstance(cost, dict) else {}
    if version_key(version) < (2, 3):
        # 2.2.1: a consumer price with VAT, so incl_vat is always set (INFERRED).
        excl = _amount(cost.get("excl_vat"))
        total = _amount(cost.get("incl_vat"))
        if excl is None or not total:
            return {"excl_vat": incl, "incl_vat": incl}
        return {"excl_vat": (excl * incl / total).quantize(Decimal("0.01")), "incl_vat": incl}
    before = _amount(cost.get("before_taxes"))
    taxes = cost.get("taxes") or []
    total = None
    if before is not None:
        total = before + sum((_amount(t.get("amount")) or Decimal(0) for t in taxes), Decimal(0))
    if before is None or not total:
        return {"before_taxes": incl}
    ratio = incl / total
    cent = Decimal("0.01")
    scaled = [
        {**t, "amount": ((_amount(t.get("amount")) or Decimal(0)) * ratio).quantize(cent)}
        for t in taxes
    ]
    tax_sum = sum((Decimal(str(t["amount"])) for t in scaled), Decimal(0))
    return {"before_taxes": incl - tax_sum, "taxes": scaled}


def other_price_shape(price: Any) -> dict[str, Any] | None:
    """The same Price in the other version's shape (2.3.0 ↔ 2.2.1), None if unreadable."""
    if not isinstance(price, dict):
        return None
    if "before_taxes" in price:
        before = _amount(price["before_taxes"])
        if before is None:
            return None
        taxes = sum(
            (_amount(t.get("amount")) or Decimal(0) for t in price.get("taxes") or []), Decimal(0)
        )
        return {"excl_vat": before, "incl_vat": before + taxes}
    excl = _amount(price.get("excl_vat"))
    if excl is None:
        return None
    incl = _amount(price.get("incl_vat"))
    out: dict[str, Any] = {"before_taxes": excl}
    if incl is not None and incl != excl:
        out["taxes"] = [{"name": "VAT", "amount": incl - excl}]
    return out
