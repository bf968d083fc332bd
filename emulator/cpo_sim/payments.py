"""Tokens and Payments as Receiver: the PTP's tokens, terminals (and their assignment to
EVSEs), Financial Advice Confirmations, invoices.

A part of :class:`emulator.cpo_sim.backend.CpoBackend` (``backend.payments``); the state it
works on is the backend's (``self.b``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.cpo_sim import catalog
from emulator.cpo_sim.peers import Delivery
from emulator.cpo_sim.runs import (
    _owned,
)
from emulator.cpo_sim.state import (
    key_of,
)
from emulator.ocpi import status
from emulator.ocpi.platforms import Platform
from emulator.ocpi.status import OcpiError

if TYPE_CHECKING:
    from emulator.cpo_sim.backend import CpoBackend


class Payments:
    def __init__(self, backend: CpoBackend) -> None:
        self.b = backend

    def token(self, cc: str, pid: str, uid: str, kind: str) -> dict[str, Any] | None:
        return self.b.tokens.object(key_of(cc, pid, uid, kind))

    def put_token(self, platform: Platform, token: dict[str, Any]) -> bool:
        key = key_of(token["country_code"], token["party_id"], token["uid"], token["type"])
        created = self.b.tokens.get(key) is None
        self.b.tokens.save(key, token, ident=token["uid"], platform_id=platform.id)
        return created

    def terminal(self, terminal_id: str, platform: Platform | None = None) -> dict[str, Any] | None:
        """A terminal; with ``platform``, only if that platform's (the PTP that created it)."""
        return _owned(self.b.terminals.get(key_of(terminal_id)), platform)

    def receive_terminal(self, platform: Platform, terminal: dict[str, Any]) -> bool:
        key = key_of(terminal["terminal_id"])
        existing = self.b.terminals.get(key)
        if existing is not None and existing.get("platform_id") != platform.id:
            raise OcpiError(
                status.INVALID_PARAMETERS,
                f"terminal {terminal['terminal_id']} belongs to another platform",
            )
        created = existing is None
        stored = dict(terminal)
        if not stored.get("last_updated"):
            stored["last_updated"] = self.b.stamp()
        self.b.terminals.save(key, stored, ident=terminal["terminal_id"], platform_id=platform.id)
        self.b.rt.bus.publish("cpo_sim.terminal", terminal_id=terminal["terminal_id"])
        if self.b.settings.terminal_assignment != "none":
            self.b.later(
                self.b.settings.terminal_assignment_delay,
                lambda: self.assign_terminal(terminal["terminal_id"]),
                "terminal assignment",
            )
        return created

    def patch_terminal(self, platform: Platform, terminal_id: str, changes: dict[str, Any]) -> bool:
        row = self.b.terminals.get(key_of(terminal_id))
        if row is None or row.get("platform_id") != platform.id:
            return False
        terminal = {**row["object"], **changes}
        if "last_updated" not in changes:
            terminal["last_updated"] = self.b.stamp()
        self.b.terminals.save(key_of(terminal_id), terminal, ident=terminal["terminal_id"])
        return True

    def assignment(self) -> dict[str, list[str]]:
        """What a new terminal is assigned to (setting ``terminal_assignment``): EVSEs that
        take cards, or the Locations that have them."""
        rule = self.b.settings.terminal_assignment
        location_ids: list[str] = []
        evse_uids: list[str] = []
        for row in self.b.locations.rows():
            location = row["object"]
            card_evses = [e["uid"] for e in location.get("evses") or [] if catalog.takes_cards(e)]
            if card_evses:
                location_ids.append(location["id"])
                evse_uids.extend(card_evses)
        if rule == "locations":
            return {"location_ids": location_ids}
        if rule == "first-location":
            return {"location_ids": location_ids[:1]}
        if rule == "evses":
            return {"evse_uids": evse_uids}
        return {}

    def invoice_base_url(self) -> str:
        return self.b.settings.invoice_base_url or f"{self.b.rt.base_url}/invoices/"

    async def assign_terminal(self, terminal_id: str) -> Delivery | None:
        """PATCH the PTP's Terminal with location_ids/evse_uids (mod_payments, Sender
        interface of the PTP: the CPO assigns)."""
        row = self.b.terminals.get(key_of(terminal_id))
        if row is None:
            return None
        body: dict[str, Any] = self.assignment()
        if not body:
            return None
        if self.b.settings.invoicing:
            body["invoice_creator"] = "CPO"
            body["invoice_base_url"] = self.invoice_base_url()
        body["last_updated"] = self.b.stamp()
        if self.b.presets.on("patch-without-last-updated"):
            del body["last_updated"]  # OCPI-52b
        platform = self.b.peers.platforms.get(row["platform_id"])
        if platform is None or not platform.registered:
            delivery = Delivery(False, "PATCH", None, error="the platform is not registered")
        else:
            delivery = await self.b.peers.send(
                platform,
                "PATCH",
                "payments",
                f"terminals/{row['object']['terminal_id']}",
                body=body,
                role="SENDER",
            )
        terminal = row["object"]
        terminal.update({k: v for k, v in body.items()})
        self.b.terminals.save(
            key_of(terminal_id),
            terminal,
            ident=terminal["terminal_id"],
            assignment=delivery.as_json(),
        )
        return delivery

    async def activate_terminal(self, reference: str, platform_id: int | None = None) -> Delivery:
        """Ask the PTP to activate a terminal by ``reference`` (the OEM's serial number, say):
        ``POST {payments terminals}/activate`` (mod_payments, Terminal Activation). The PTP
        then creates the Terminal here (POST) and the CPO assigns it as for any other."""
        candidates = [
            p
            for p in self.b.peers.platforms.registered()
            if p.endpoint("payments", "SENDER") is not None
            and (platform_id is None or p.id == platform_id)
        ]
        if not candidates:
            return Delivery(False, "POST", None, error="no registered PTP with a payments Sender")
        body: dict[str, Any] = {"reference": reference, "last_updated": self.b.stamp()}
        return await self.b.peers.send(
            candidates[0], "POST", "payments", "terminals/activate", body=body, role="SENDER"
        )

    def receive_fac(self, platform: Platform, fac: dict[str, Any]) -> bool:
        reference = str(fac["authorization_reference"])
        known = self.b.sessions.first(
            "auth_ref = ? and platform_id = ?", [reference.casefold(), platform.id]
        )
        if known is None:
            # Checklist 5.7 #57: the FAC names the authorization_reference of a session (of
            # this PTP: the one its START_SESSION carried).
            raise OcpiError(
                status.INVALID_PARAMETERS,
                f"no session with authorization_reference {reference!r}",
            )
        key = key_of(fac["id"])
        existing = self.b.facs.get(key)
        if existing is not None and existing.get("platform_id") != platform.id:
            raise OcpiError(status.INVALID_PARAMETERS, f"FAC id {fac['id']} is taken")
        created = existing is None
        self.b.facs.save(key, fac, platform_id=platform.id, auth_ref=reference.casefold())
        self.b.rt.bus.publish("cpo_sim.fac", fac_id=fac["id"], authorization_reference=reference)
        return created

    def fac(self, fac_id: str, platform: Platform | None = None) -> dict[str, Any] | None:
        return _owned(self.b.facs.get(key_of(fac_id)), platform)

    def invoice(self, authorization_reference: str) -> dict[str, Any] | None:
        """The invoice at invoice_base_url + authorization_reference (mod_payments,
        InvoiceCreator CPO)."""
        ref = authorization_reference.casefold()
        row = self.b.cdrs.first("auth_ref = ?", [ref])
        if row is None or not row["object"].get("invoice_reference_id"):
            return None
        cdr = row["object"]
        fac_row = self.b.facs.first("auth_ref = ?", [ref])
        fac = fac_row["object"] if fac_row else None
        return {
            "invoice_reference_id": cdr["invoice_reference_id"],
            "authorization_reference": cdr["authorization_reference"],
            "seller": self.b.identity.business_name,
            "cdr_id": cdr["id"],
            "session_id": cdr.get("session_id"),
            "location": cdr["cdr_location"],
            "start_date_time": cdr["start_date_time"],
            "end_date_time": cdr["end_date_time"],
            "total_energy": cdr["total_energy"],
            "total_cost": cdr["total_cost"],
            "currency": cdr["currency"],
            "payment": None
            if fac is None
            else {
                "captured": fac["total_costs"],
                "capture_status_code": fac["capture_status_code"],
                "eft_data": fac["eft_data"],
            },
        }
