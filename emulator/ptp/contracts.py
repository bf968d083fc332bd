"""Contracts: how Payter groups a CPO platform's terminals.

In Payter's onboarding a CPO platform completes one credentials handshake and then holds one
or more contracts, each with its own ``customer_reference`` (payter.md §2.2: "multiple
potentially differently configured Contracts can be set up for that platform"; "Terminals are
assigned to contracts"). A terminal carries its contract's ``customer_reference`` in its OCPI
Terminal object and in Payter's ``customer_reference`` PATCH to the CPO.

There is always one default contract (its ``customer_reference`` is the setting
``--customer-reference``, none by default), so a simple setup never needs to name one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emulator.datetimes import format_datetime
from emulator.store import TableSpec

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

CONTRACTS = TableSpec(
    name="ptp_contracts",
    columns={
        "id": int,
        "customer_reference": str,
        "platform_id": int,
        "is_default": int,
        "created_at": str,
    },
    indexes=(("customer_reference",),),
)

# customer_reference is a CiString(36) (mod_payments.asciidoc, Terminal): printable ASCII.
_CI36 = re.compile(r"^[ -~]{1,36}$")


class ContractError(ValueError):
    """A contract request that cannot be honoured; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def check_customer_reference(value: Any) -> str:
    if not isinstance(value, str) or not _CI36.match(value):
        raise ContractError(
            400,
            "invalid_field",
            "'customer_reference' must be 1-36 printable ASCII characters (a CiString(36))",
        )
    return value


class Contracts:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self.rt.store.register(CONTRACTS)

    def get(self, contract_id: int) -> dict[str, Any] | None:
        return self.rt.store.get(CONTRACTS.name, contract_id)

    def default(self) -> dict[str, Any]:
        """The default contract, made on first use."""
        row = self.rt.store.first(CONTRACTS.name, "is_default = 1", order_by="id")
        if row is not None:
            return row
        contract_id = self.rt.store.insert(
            CONTRACTS.name,
            {
                "customer_reference": self.ptp.settings.customer_reference or None,
                "platform_id": None,
                "is_default": 1,
                "created_at": format_datetime(self.rt.now()),
            },
        )
        made = self.get(contract_id or 0)
        assert made is not None
        return made

    def list(self) -> list[dict[str, Any]]:
        self.default()
        return self.rt.store.rows(CONTRACTS.name, order_by="id")

    def by_reference(self, customer_reference: str) -> dict[str, Any] | None:
        return self.rt.store.first(
            CONTRACTS.name, "upper(customer_reference) = ?", [customer_reference.upper()]
        )

    def create(self, customer_reference: Any, platform_id: int | None = None) -> dict[str, Any]:
        reference = check_customer_reference(customer_reference)
        self.default()
        if self.by_reference(reference) is not None:
            raise ContractError(
                409, "exists", f"a contract with customer_reference {reference!r} exists"
            )
        contract_id = self.rt.store.insert(
            CONTRACTS.name,
            {
                "customer_reference": reference,
                "platform_id": platform_id,
                "is_default": 0,
                "created_at": format_datetime(self.rt.now()),
            },
        )
        made = self.get(contract_id or 0)
        assert made is not None
        self.rt.bus.publish("payments.contract", contract_id=made["id"], change="created")
        return made

    def set_reference(self, contract_id: int, customer_reference: Any) -> dict[str, Any]:
        reference = check_customer_reference(customer_reference)
        contract = self.get(contract_id)
        if contract is None:
            raise ContractError(404, "not_found", f"no contract {contract_id}")
        other = self.by_reference(reference)
        if other is not None and other["id"] != contract_id:
            raise ContractError(
                409,
                "exists",
                f"contract {other['id']} already has customer_reference {reference!r}",
            )
        self.rt.store.update(CONTRACTS.name, contract_id, {"customer_reference": reference})
        self.rt.bus.publish("payments.contract", contract_id=contract_id, change="updated")
        updated = self.get(contract_id)
        assert updated is not None
        return updated

    def resolve(
        self, contract_id: int | None, customer_reference: str | None, platform_id: int | None
    ) -> dict[str, Any]:
        """The contract a new terminal goes to: the one named, else the one with the
        ``customer_reference`` given (made if there is none), else the default one."""
        if contract_id is not None:
            contract = self.get(contract_id)
            if contract is None:
                raise ContractError(404, "not_found", f"no contract {contract_id}")
            if customer_reference is not None and (
                str(contract.get("customer_reference") or "").upper() != customer_reference.upper()
            ):
                raise ContractError(
                    400,
                    "invalid_field",
                    f"contract {contract_id} has customer_reference "
                    f"{contract.get('customer_reference')!r}, not {customer_reference!r}: a "
                    "terminal carries its contract's customer_reference",
                )
            return contract
        if customer_reference is not None:
            check_customer_reference(customer_reference)
            found = self.by_reference(customer_reference)
            return found or self.create(customer_reference, platform_id)
        return self.default()

    def view(self, contract: dict[str, Any]) -> dict[str, Any]:
        terminals = self.rt.store.rows(
            "ptp_terminals", "contract_id = ?", [contract["id"]], order_by="created_at"
        )
        if contract["is_default"]:
            # Terminals made before contracts existed (an older database) are the default's.
            terminals += self.rt.store.rows(
                "ptp_terminals", "contract_id is null", order_by="created_at"
            )
        return {
            "id": contract["id"],
            "customer_reference": contract.get("customer_reference"),
            "platform_id": contract.get("platform_id"),
            "default": bool(contract["is_default"]),
            "created_at": contract["created_at"],
            "terminals": [t["serial_number"] for t in terminals],
        }
