"""Payter's OCPI peer: the state and services behind the emulator's OCPI modules.

:class:`Ptp` ties together what the emulator knows of each CPO (the mirror of Locations and
Tariffs, the Sessions and CDRs it received), the commands it sent, the tokens it issued and
the Payments objects it owns. The OCPI modules (``emulator/ocpi/modules/``) are its HTTP face;
the driver journey (``emulator/journey/``) listens to it (``session_listeners``,
``cdr_listeners``, ``commands.listeners``, ``location_listeners``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from emulator.ocpi.platforms import Platform
from emulator.ptp import checks
from emulator.ptp.commands import Commands
from emulator.ptp.mirror import Mirror
from emulator.ptp.objects import CDRS, SESSIONS, OwnedObjects
from emulator.ptp.payments import Payments
from emulator.ptp.tokens import Tokens
from emulator.settings import EmulatorSettings

if TYPE_CHECKING:
    from emulator.app import EmulatorNode

Listener = Callable[..., Awaitable[None] | None]


class Ptp:
    def __init__(self, node: EmulatorNode) -> None:
        self.node = node
        self.rt = node.rt
        settings = node.rt.settings
        assert isinstance(settings, EmulatorSettings)
        self.settings = settings
        self.mirror = Mirror(self)
        self.sessions = OwnedObjects(self.rt.store, SESSIONS)
        self.cdrs = OwnedObjects(self.rt.store, CDRS)
        self.commands = Commands(self)
        self.tokens = Tokens(self)
        self.payments = Payments(self)
        # (session row, previous object or None) / (cdr row,) / (location object, platform)
        self.session_listeners: list[Listener] = []
        self.cdr_listeners: list[Listener] = []
        self.location_listeners: list[Listener] = []
        # (terminal row,) after an OCPI Terminal is created, changed or deactivated.
        self.terminal_listeners: list[Listener] = []
        node.registration.on_registered.append(self._on_registered)
        node.registration.on_unregistered.append(lambda p: self.mirror.cancel(p.id))

    async def _on_registered(self, platform: Platform) -> None:
        self.mirror.schedule(platform)
        await self.payments.adopt_unowned(platform)

    async def start(self) -> None:
        """After the socket is bound (a restart): resume polls, timers and deliveries."""
        for platform in self.node.platforms.registered():
            self.mirror.schedule(platform)
        self.commands.rearm()
        self.payments.rearm()

    async def notify(self, listeners: list[Listener], *args: Any) -> None:
        for listener in listeners:
            result = listener(*args)
            if result is not None:
                await result

    # --- terminals ---

    async def create_terminal(
        self,
        serial_number: str,
        model: str,
        *,
        platform_id: int | None = None,
        extra: dict[str, Any] | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """A physical terminal (the virtual device) and its OCPI Terminal object.

        Pushed to the owning CPO platform (``platform_id``, else the only registered one); if
        no platform is registered yet it is pushed when one registers.
        """
        host = getattr(self.node, "terminals", None)
        if host is not None and not host.exists(serial_number):
            await host.create(serial_number, model, mode="ocpi")
        if platform_id is None:
            registered = self.node.platforms.registered()
            if len(registered) == 1:
                platform_id = registered[0].id
        row = self.payments.create_terminal(serial_number, model, extra=extra)
        if platform_id is not None:
            platform = self.node.platforms.get(platform_id)
            if platform is not None and platform.registered:
                if push:
                    row = await self.payments.push_terminal(row, platform)
                else:
                    self.rt.store.update(
                        "ptp_terminals", row["terminal_id"], {"platform_id": platform_id}
                    )
        return self.payments.terminal(row["terminal_id"]) or row

    # --- tariffs for an EVSE ---

    def tariffs_for(
        self, platform_id: int | None, evse: dict[str, Any], connector: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        ids: list[str] = []
        for conn in [connector] if connector else evse.get("connectors") or []:
            if conn is None:
                continue
            ids.extend(
                conn.get("tariff_ids") or ([conn["tariff_id"]] if conn.get("tariff_id") else [])
            )
        found = []
        for tariff_id in ids:
            tariff = self.mirror.tariff(str(tariff_id), platform_id)
            if tariff is not None and tariff not in found:
                found.append(tariff)
        return found

    def choose_tariff(
        self, platform_id: int | None, evse: dict[str, Any], connector: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        from emulator.ocpi.pricing import select_tariff

        tariffs = self.tariffs_for(platform_id, evse, connector)
        if not tariffs:
            return None
        ids = [t["id"] for t in tariffs]
        return select_tariff(tariffs, ids, now=self.rt.now())

    def tariff_problems(
        self, platform: Platform, location: dict[str, Any], evse: dict[str, Any]
    ) -> list[checks.Problem]:
        """Checklist 5.7 #54: an assigned EVSE has a usable tariff for card payment."""
        where = f"EVSE {evse.get('uid')} of location {location.get('id')}"
        tariff = self.choose_tariff(platform.id, evse)
        if tariff is None:
            return [
                checks.Problem(
                    "OCPI-54",
                    f"{where} has no tariff the terminal can show "
                    "(no tariff_ids, or the tariffs are not published)",
                )
            ]
        out = []
        if tariff.get("type") != "AD_HOC_PAYMENT":
            out.append(
                checks.Problem(
                    "OCPI-54b",
                    f"{where}: tariff {tariff.get('id')} is of type "
                    f"{tariff.get('type') or '(none)'}; card payment at the "
                    "charger uses AD_HOC_PAYMENT",
                )
            )
        if tariff.get("preauthorize_amount") is None and tariff.get("max_price") is None:
            out.append(
                checks.Problem(
                    "OCPI-54b",
                    f"{where}: tariff {tariff.get('id')} has neither "
                    "preauthorize_amount nor max_price; the terminal falls "
                    "back to the default pre-authorization amount",
                )
            )
        if not tariff.get("tariff_alt_text"):
            out.append(
                checks.Problem(
                    "PAYTER-03",
                    f"{where}: tariff {tariff.get('id')} has no "
                    "tariff_alt_text; its languages are the terminal's "
                    "languages",
                )
            )
        return out
