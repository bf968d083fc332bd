"""Control API of Payter's OCPI side: terminals (create, list, assign), what was received from
the CPO, polls on demand and commands sent by hand."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator.control.http import (
    ADMIN_PREFIX,
    INT_MAX,
    ControlError,
    field,
    json_body,
    ok,
    query_int,
)
from emulator.ocpi.types import format_datetime
from emulator.ptp.contracts import ContractError
from emulator.ptp.payments import TERMINALS, TerminalRow
from emulator.terminal.device import MODELS, P6X_MODELS, p6x_refusal

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

# The longest reservation made by hand (RESERVE_NOW's expiry_date): a year.
RESERVATION_MINUTES_MAX = 366 * 24 * 60


def add_routes(app: web.Application, ptp: Ptp) -> None:
    h = _Handlers(ptp)
    p = ADMIN_PREFIX
    r = app.router
    r.add_post(f"{p}/contracts", h.create_contract)
    r.add_get(f"{p}/contracts", h.list_contracts)
    r.add_get(f"{p}/contracts/{{contract_id}}", h.get_contract)
    r.add_patch(f"{p}/contracts/{{contract_id}}", h.patch_contract)
    r.add_post(f"{p}/terminals", h.create_terminal)
    r.add_get(f"{p}/terminals", h.list_terminals)
    r.add_post(f"{p}/terminals/{{serial}}/assign", h.assign)
    r.add_post(f"{p}/terminals/{{serial}}/push", h.push)
    r.add_get(f"{p}/ocpi/locations", h.objects("locations"))
    r.add_get(f"{p}/ocpi/tariffs", h.objects("tariffs"))
    r.add_get(f"{p}/ocpi/sessions", h.objects("sessions"))
    r.add_get(f"{p}/ocpi/cdrs", h.objects("cdrs"))
    r.add_get(f"{p}/ocpi/commands", h.commands)
    r.add_get(f"{p}/ocpi/facs", h.facs)
    r.add_get(f"{p}/ocpi/tokens", h.tokens)
    r.add_post(f"{p}/ocpi/poll", h.poll)
    r.add_post(f"{p}/ocpi/tokens/check", h.check_tokens)
    r.add_post(f"{p}/ocpi/commands/{{command}}", h.send_command)


def cps_view(ptp: Ptp, serial: str) -> dict[str, Any]:
    device = ptp.node.terminals.get(serial)
    return {
        "serial_number": serial,
        "model": device.get("model"),
        "has_screen": device.get("has_screen"),
        "test_firmware": device.get("test_firmware"),
        "mode": device.get("mode"),
        "terminal_id": None,
        "online": device.get("online"),
        "state": device.get("state"),
    }


def terminal_view(ptp: Ptp, row: TerminalRow) -> dict[str, Any]:
    obj = row["object"]
    host = ptp.node.terminals
    device: Mapping[str, Any] = (
        host.get(row["serial_number"]) if host.exists(row["serial_number"]) else {}
    )
    return {
        "mode": device.get("mode", "ocpi"),
        "has_screen": device.get("has_screen", True),
        "test_firmware": device.get("test_firmware"),
        "online": device.get("online"),
        "state": device.get("state"),
        "serial_number": row["serial_number"],
        "model": row["model"],
        "terminal_id": row["terminal_id"],
        "platform_id": row.get("platform_id"),
        "active": bool(row["active"]),
        "push_state": row.get("push_state"),
        "push_error": row.get("push_error"),
        "contract": row.get("contract_id") or ptp.contracts.default()["id"],
        "terminal": obj,
        "evses": [
            {
                "location_id": loc.get("id"),
                "evse_uid": evse.get("uid"),
                "evse_id": evse.get("evse_id"),
                "status": evse.get("status"),
            }
            for loc, evse in ptp.payments.assigned_evses(row)
        ],
    }


class _Handlers:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp

    def _terminal(self, request: web.Request) -> TerminalRow:
        serial = request.match_info["serial"]
        row = self.ptp.payments.by_serial(serial) or self.ptp.payments.terminal(serial)
        if row is None:
            raise ControlError(404, "not_found", f"no terminal {serial}")
        return row

    async def create_terminal(self, request: web.Request) -> web.Response:
        body = await json_body(request, required=True)
        serial = field(body, "serial_number", str)
        model = field(body, "model", str, required=False, default="Apollo")
        platform_id = field(body, "platform_id", int, required=False)
        if not serial.strip() or len(serial) > 36:
            raise ControlError(400, "invalid_field", "'serial_number' must be 1-36 characters")
        if model not in MODELS:
            raise ControlError(
                400,
                "invalid_field",
                f"'model' must be one of {', '.join(MODELS)} (Apollo, Apollo Max and Polar run "
                "OCPI and CPS; the P6X family, P66 and P68, CPS only)",
            )
        # A P6X cannot run OCPI: without a mode it is a CPS terminal.
        mode = field(
            body, "mode", str, required=False, default="cps" if model in P6X_MODELS else "ocpi"
        )
        if mode not in ("ocpi", "cps"):
            raise ControlError(400, "invalid_field", "'mode' must be 'ocpi' or 'cps'")
        if mode == "ocpi" and model in P6X_MODELS:
            raise ControlError(
                400,
                "p6x_no_ocpi",
                p6x_refusal(model, "it cannot run Payter's OCPI journey: use mode 'cps'"),
            )
        test_firmware = field(
            body,
            "test_firmware",
            bool,
            required=False,
            default=self.ptp.settings.cps_test_firmware,
        )
        if self.ptp.payments.by_serial(serial) is not None or self.ptp.node.terminals.exists(
            serial
        ):
            raise ControlError(409, "exists", f"terminal {serial} already exists")
        if mode == "cps":
            ocpi_only = [k for k in ("contract", "customer_reference", "platform_id") if k in body]
            if ocpi_only:
                raise ControlError(
                    400,
                    "invalid_field",
                    f"{', '.join(repr(k) for k in ocpi_only)}: OCPI only (a contract groups the "
                    "OCPI Terminals of a CPO platform); a CPS terminal has no OCPI Terminal",
                )
            # A terminal driven through the Cloud Payment Service: no OCPI Terminal object.
            await self.ptp.node.terminals.create(
                serial, model, mode="cps", test_firmware=test_firmware
            )
            return ok(cps_view(self.ptp, serial), status=201)
        if platform_id is not None:
            platform = self.ptp.node.platforms.get(platform_id)
            if platform is None or not platform.registered:
                raise ControlError(404, "not_found", f"no registered platform {platform_id}")
        contract_id = field(body, "contract", int, required=False)
        reference = field(body, "customer_reference", str, required=False)
        try:
            contract = self.ptp.contracts.resolve(contract_id, reference, platform_id)
        except ContractError as exc:
            raise ControlError(exc.status, exc.code, exc.message) from None
        extra = {
            k: body[k] for k in ("invoice_base_url", "invoice_creator") if body.get(k) is not None
        }
        row = await self.ptp.create_terminal(
            serial,
            model,
            platform_id=platform_id,
            extra=extra,
            contract_id=contract["id"],
            test_firmware=test_firmware,
        )
        return ok(terminal_view(self.ptp, row), status=201)

    # --- contracts ---

    def _contract(self, request: web.Request) -> dict[str, Any]:
        raw = request.match_info["contract_id"]
        contract = (
            self.ptp.contracts.get(int(raw)) if raw.isdigit() and int(raw) <= INT_MAX else None
        )
        if contract is None:
            raise ControlError(404, "not_found", f"no contract {raw}")
        return contract

    async def create_contract(self, request: web.Request) -> web.Response:
        body = await json_body(request, required=True)
        if "customer_reference" not in body:
            raise ControlError(400, "missing_field", "'customer_reference' is required")
        platform_id = field(body, "platform_id", int, required=False)
        if platform_id is not None and self.ptp.node.platforms.get(platform_id) is None:
            raise ControlError(404, "not_found", f"no platform {platform_id}")
        try:
            contract = self.ptp.contracts.create(body["customer_reference"], platform_id)
        except ContractError as exc:
            raise ControlError(exc.status, exc.code, exc.message) from None
        return ok(self.ptp.contracts.view(contract), status=201)

    async def list_contracts(self, request: web.Request) -> web.Response:
        return ok([self.ptp.contracts.view(c) for c in self.ptp.contracts.list()])

    async def get_contract(self, request: web.Request) -> web.Response:
        self.ptp.contracts.default()
        return ok(self.ptp.contracts.view(self._contract(request)))

    async def patch_contract(self, request: web.Request) -> web.Response:
        """A new customer_reference for a contract: its terminals carry it, and Payter's
        customer_reference PATCH goes to the CPO for each of them that it holds."""
        self.ptp.contracts.default()
        contract = self._contract(request)
        body = await json_body(request, required=True)
        if "customer_reference" not in body:
            raise ControlError(400, "missing_field", "'customer_reference' is required")
        try:
            contract = self.ptp.contracts.set_reference(contract["id"], body["customer_reference"])
        except ContractError as exc:
            raise ControlError(exc.status, exc.code, exc.message) from None
        view = self.ptp.contracts.view(contract)
        patched = []
        payments = self.ptp.payments
        for serial in view["terminals"]:
            row = payments.by_serial(serial)
            if row is None or not row["active"]:
                continue
            row = payments.update_terminal(
                row["terminal_id"], {"customer_reference": contract["customer_reference"]}
            )
            if self.ptp.settings.payter_customer_reference_patch:
                patched.append(await payments.patch_customer_reference(row))
        return ok({**view, "patched": patched})

    async def list_terminals(self, request: web.Request) -> web.Response:
        rows = self.ptp.payments.terminals()
        contract_id = query_int(request, "contract")
        if contract_id is not None:
            # The terminals under one contract (OCPI terminals only: a CPS one has none).
            if self.ptp.contracts.get(contract_id) is None:
                raise ControlError(404, "not_found", f"no contract {contract_id}")
            listed = [terminal_view(self.ptp, r) for r in rows]
            return ok([t for t in listed if t["contract"] == contract_id])
        listed = [terminal_view(self.ptp, r) for r in rows]
        ocpi_serials = {r["serial_number"] for r in rows}
        for device in self.ptp.node.terminals.list():
            if device["serial_number"] not in ocpi_serials:
                listed.append(cps_view(self.ptp, device["serial_number"]))
        return ok(listed)

    async def assign(self, request: web.Request) -> web.Response:
        """Assign EVSEs by hand (OCPI 2.2.1 has no Payments module to do it)."""
        row = self._terminal(request)
        body = await json_body(request, required=True)
        changes: dict[str, Any] = {}
        for name in ("location_ids", "evse_uids"):
            value = field(body, name, list, required=False)
            if value is not None:
                if not all(isinstance(v, str) for v in value):
                    raise ControlError(400, "invalid_field", f"'{name}' must be a list of ids")
                changes[name] = value
        if not changes:
            raise ControlError(400, "missing_field", "give 'location_ids' and/or 'evse_uids'")
        platform_id = field(body, "platform_id", int, required=False)
        if platform_id is not None:
            self.ptp.rt.store.update(
                TERMINALS.name, row["terminal_id"], {"platform_id": platform_id}
            )
        row = self.ptp.payments.update_terminal(row["terminal_id"], changes)
        return ok(terminal_view(self.ptp, row))

    async def push(self, request: web.Request) -> web.Response:
        row = self._terminal(request)
        platform_id = row.get("platform_id")
        body = await json_body(request)
        platform_id = field(body, "platform_id", int, required=False, default=platform_id)
        platform = self.ptp.node.platforms.get(platform_id) if platform_id else None
        if platform is None or not platform.registered:
            raise ControlError(
                409, "no_platform", "the terminal has no registered platform; give 'platform_id'"
            )
        row = await self.ptp.payments.push_terminal(row, platform)
        return ok(terminal_view(self.ptp, row))

    def objects(self, kind: str):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.Response:
            repo = {
                "locations": self.ptp.mirror.locations,
                "tariffs": self.ptp.mirror.tariffs,
                "sessions": self.ptp.sessions,
                "cdrs": self.ptp.cdrs,
            }[kind]
            rows = repo.rows(
                query_int(request, "platform_id"), valid_only=request.query.get("valid") == "1"
            )
            return ok([{k: v for k, v in r.items() if k != "key"} for r in rows])

        return handler

    async def commands(self, request: web.Request) -> web.Response:
        return ok(self.ptp.commands.list(query_int(request, "platform_id")))

    async def facs(self, request: web.Request) -> web.Response:
        return ok(self.ptp.payments.facs(query_int(request, "platform_id")))

    async def tokens(self, request: web.Request) -> web.Response:
        return ok(self.ptp.rt.store.rows("ptp_tokens", order_by="last_updated"))

    def _platform(self, body: dict[str, Any]) -> Any:
        platform_id = field(body, "platform_id", int, required=False)
        registered = self.ptp.node.platforms.registered()
        if platform_id is None:
            if len(registered) != 1:
                raise ControlError(
                    400,
                    "missing_field",
                    "'platform_id' is required when not exactly one platform is registered",
                )
            return registered[0]
        platform = self.ptp.node.platforms.get(platform_id)
        if platform is None or not platform.registered:
            raise ControlError(404, "not_found", f"no registered platform {platform_id}")
        return platform

    async def poll(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        platform = self._platform(body)
        modules = field(body, "modules", list, required=False, default=["tariffs", "locations"])
        known = ("tariffs", "locations", "sessions", "cdrs")
        unknown = [m for m in modules if m not in known]
        if unknown:
            raise ControlError(
                400, "invalid_field", f"'modules' may hold {', '.join(known)}; not {unknown}"
            )
        results = [await self.ptp.mirror.poll(platform, str(m)) for m in modules]
        return ok(results)

    async def check_tokens(self, request: web.Request) -> web.Response:
        """Round trip through the CPO's Tokens Receiver (checklist 5.6 #49, #50)."""
        platform = self._platform(await json_body(request))
        try:
            return ok(await self.ptp.tokens.check_receiver(platform))
        except ValueError as exc:
            raise ControlError(409, "unsupported_version", str(exc)) from None

    async def send_command(self, request: web.Request) -> web.Response:
        """Send START_SESSION / STOP_SESSION by hand (what the terminal journey does)."""
        command = request.match_info["command"].upper()
        body = await json_body(request, required=True)
        platform = self._platform(body)
        if command == "START_SESSION":
            location_id = field(body, "location_id", str)
            reference = field(body, "authorization_reference", str, required=False)
            reference = reference or self.ptp.rt.ids.code(20)
            token = self.ptp.tokens.issue_ad_hoc(reference, platform.version or "2.2.1")
            payload: dict[str, Any] = {"token": token, "location_id": location_id}
            for name in ("evse_uid", "connector_id"):
                value = field(body, name, str, required=False)
                if value:
                    payload[name] = value
            if (platform.version or "2.2.1") != "2.1.1":
                payload["authorization_reference"] = reference
        elif command == "STOP_SESSION":
            payload = {"session_id": field(body, "session_id", str)}
        elif command in ("RESERVE_NOW", "CANCEL_RESERVATION"):
            payload = self._reservation(platform, command, body)
        else:
            raise ControlError(
                400,
                "invalid_command",
                "commands sent by hand: START_SESSION, STOP_SESSION, RESERVE_NOW, "
                "CANCEL_RESERVATION",
            )
        record = await self.ptp.commands.send(platform, command, payload)
        return ok(record, status=201)

    def _reservation(self, platform: Any, command: str, body: dict[str, Any]) -> dict[str, Any]:
        """RESERVE_NOW / CANCEL_RESERVATION (Payter's journey does not reserve; these check
        the CPO's reservations, checklist 5.5 #47)."""
        version = platform.version or "2.2.1"
        if version == "2.1.1":
            raise ControlError(
                400, "invalid_command", "reservations by hand need OCPI 2.2.1 or later"
            )
        rt = self.ptp.rt
        if command == "CANCEL_RESERVATION":
            return {"reservation_id": field(body, "reservation_id", str)}
        reference = field(body, "authorization_reference", str, required=False)
        reference = reference or rt.ids.code(20)
        minutes = field(body, "minutes", int, required=False, default=15)
        if minutes is None or not 1 <= minutes <= RESERVATION_MINUTES_MAX:
            raise ControlError(
                400,
                "invalid_field",
                f"'minutes' must be a whole number of minutes, 1 to {RESERVATION_MINUTES_MAX}",
            )
        payload: dict[str, Any] = {
            "token": self.ptp.tokens.issue_ad_hoc(reference, version),
            "expiry_date": format_datetime(rt.now() + timedelta(minutes=minutes)),
            "reservation_id": field(body, "reservation_id", str, required=False) or rt.ids.code(12),
            "location_id": field(body, "location_id", str),
            "authorization_reference": reference,
        }
        evse_uid = field(body, "evse_uid", str, required=False)
        if evse_uid:
            payload["evse_uid"] = evse_uid
        return payload
