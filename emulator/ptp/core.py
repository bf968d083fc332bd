"""Payter's OCPI peer: the state and services behind the emulator's OCPI modules.

:class:`Ptp` ties together what the emulator knows of each CPO (the mirror of Locations and
Tariffs, the Sessions and CDRs it received), the commands it sent, the tokens it issued and
the Payments objects it owns. The OCPI modules (``emulator/ptp/modules/``) are its HTTP face;
the driver journey (``emulator/journey/``) listens to it (``session_listeners``,
``cdr_listeners``, ``commands.listeners``, ``location_listeners``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from emulator import crashpoint
from emulator.coverage import checked
from emulator.ocpi.platforms import Platform
from emulator.ocpi.types import ci_equal
from emulator.ptp import checks
from emulator.ptp.commands import CommandRecord, Commands
from emulator.ptp.contracts import Contracts
from emulator.ptp.mirror import Mirror
from emulator.ptp.objects import CDRS, SESSIONS, OwnedObjects, StoredObject
from emulator.ptp.payments import Payments, TerminalRow
from emulator.ptp.probes import SenderProbes
from emulator.ptp.recovery import Recovery
from emulator.ptp.tokens import Tokens
from emulator.rules import Rule
from emulator.settings import EmulatorSettings, version_key

if TYPE_CHECKING:
    from emulator.ocpi.client import OcpiClient
    from emulator.ocpi.platforms import Platforms
    from emulator.ocpi.registration import Registration
    from emulator.ocpi.transport import OcpiServer
    from emulator.runtime import Runtime
    from emulator.terminal.host import TerminalHost

Listener = Callable[..., Awaitable[None] | None]
# Told of a Session (its row, the Session as it was before, its START_SESSION) and of a CDR
# (its row, its START_SESSION), found once by :meth:`Ptp.start_of`.
SessionListener = Callable[
    [StoredObject, dict[str, Any] | None, CommandRecord | None], Awaitable[None] | None
]
CdrListener = Callable[[StoredObject, CommandRecord | None], Awaitable[None] | None]

# How the report names the Payments variant used with a platform.
PAYMENTS_VARIANTS: dict[str | None, str] = {
    "2.3.0": "Payments: the OCPI 2.3.0 Payments module (Terminals, FACs with 2.3.0's Price)",
    "2.2.1": "Payments: the payments module on OCPI 2.2.1 (Payter's 'Direct Payment 2.2.1'; "
    "Terminals, FACs with 2.2.1's Price excl_vat/incl_vat)",
    None: "no Payments (terminals are assigned by hand; no FACs)",
}


class PtpNode(Protocol):
    """What Payter's peer needs of the node that hosts it (:class:`emulator.app.EmulatorNode`
    is one); a protocol, so that ptp does not import the application that assembles it."""

    rt: Runtime
    platforms: Platforms
    registration: Registration
    client: OcpiClient
    server: OcpiServer
    terminals: TerminalHost


class Ptp:
    def __init__(self, node: PtpNode) -> None:
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
        self.contracts = Contracts(self)
        self.payments = Payments(self)
        self.probes = SenderProbes(self)
        self.recovery = Recovery(self)
        # (session row, previous object or None) / (cdr row,) / (location id, platform)
        self.session_listeners: list[SessionListener] = []
        self.cdr_listeners: list[CdrListener] = []
        self.location_listeners: list[Listener] = []
        # (terminal row,) after an OCPI Terminal is created, changed or deactivated.
        self.terminal_listeners: list[Listener] = []
        # Ours first: the START_SESSION's expectations (a Session, then a CDR) are updated
        # before the journey hears of the object.
        self.session_listeners.append(self.commands.on_session)
        node.registration.on_registered.append(self._on_registered)
        self.rt.findings.report_context.append(self._report_platforms)
        self.rt.coverage.applicability.append(self._applicability)
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

    async def notify(self, listeners: Sequence[Listener], *args: Any) -> None:
        for listener in listeners:
            result = listener(*args)
            if result is not None:
                await result

    def payments_variant(self, platform: Platform) -> str | None:
        """Which Payments the emulator runs with ``platform``: ``"2.3.0"`` (the 2.3.0
        Payments package), ``"2.2.1"`` (the same module on 2.2.1, Payter's "Direct Payment
        2.2.1" extension, with 2.2.1's data types), or None (no Payments: profile 'emsp',
        2.1.1, a version left out of --payments-versions, a 2.2.1 CPO that lists no
        ``payments`` module)."""
        version = platform.version or ""
        if self.settings.profile != "ptp" or version not in self.settings.payments_version_list:
            return None
        if version_key(version) >= (2, 3):
            return version
        # A custom module on 2.2.1: used only with a CPO that lists it (custom modules are
        # sent only to parties that agreed to them, version_information_endpoint.asciidoc).
        return version if platform.endpoint("payments") else None

    def payments_absent(self, platform: Platform) -> str | None:
        """Why the emulator runs no Payments with ``platform`` (None: it does, or its version
        is not negotiated yet): the reason the report gives for the Payments checks that
        cannot apply to it."""
        version = platform.version
        if not version or self.payments_variant(platform) is not None:
            return None
        if self.settings.profile != "ptp":
            return f"the emulator's profile '{self.settings.profile}' runs no Payments module"
        if version not in self.settings.payments_version_list:
            given = self.settings.payments_versions or "none"
            return f"Payments is not run on OCPI {version} (--payments-versions {given})"
        return f"the CPO offers no Payments module (its OCPI {version} endpoints list none)"

    def _applicability(self, platform_id: int, rule: Rule) -> str | None:
        if not rule.payments_only:
            return None
        platform = self.node.platforms.get(platform_id)
        return self.payments_absent(platform) if platform is not None else None

    def _report_platforms(self, platform_id: int | None) -> dict[str, Any]:
        """The report says which Payments variant ran with each platform."""
        out = []
        for platform in self.node.platforms.registered():
            if platform_id is not None and platform.id != platform_id:
                continue
            variant = self.payments_variant(platform)
            out.append(
                {
                    "id": platform.id,
                    "version": platform.version,
                    "payments": {
                        "variant": variant,
                        "description": PAYMENTS_VARIANTS[variant],
                        # Why there is none (None where Payments is in use).
                        "reason": self.payments_absent(platform),
                    },
                }
            )
        return {"platforms": out}

    def uses_payments(self, platform: Platform) -> bool:
        """Payments (profile 'ptp') is in use with ``platform``: the checklist's section 5.7
        applies to it."""
        return self.payments_variant(platform) is not None

    # --- sessions and CDRs, pushed to our Receivers or pulled from the CPO's Senders ---

    def session_problems(
        self,
        version: str,
        previous: dict[str, Any] | None,
        session: dict[str, Any],
        *,
        patch: dict[str, Any] | None = None,
        command: CommandRecord | None = None,
    ) -> list[checks.Problem]:
        """What is wrong with a new state of a Session (checklist 5.4 #33-#36, 5.5 #47,
        5.6 #49). ``patch``: the changes, when it came as a PATCH; ``command``: its
        START_SESSION (:meth:`start_of`)."""
        out = checks.check_session_change(previous, session, patch=patch)
        out.extend(checks.check_session_energy(session))
        decreasing = any(p.pointer == "/kwh" for p in out)  # OCPI-34 says it already
        out.extend(
            p
            for p in checks.check_plausible(session, "Session", self.rt.now())
            if not (decreasing and p.pointer == "/kwh")
        )
        if version_key(version) < (2, 2):
            return out  # 2.1.1: no cdr_token, no authorization_reference
        if command is not None:
            out.extend(checks.check_against_start(session, command, "Session"))
            if command["command"] == "RESERVE_NOW" and previous is None:
                checked("OCPI-47")
            if (
                command["command"] == "RESERVE_NOW"
                and previous is None
                and session.get("status") != "RESERVATION"
            ):
                out.append(
                    checks.Problem(
                        "OCPI-47",
                        f"the Session of RESERVE_NOW {command.get('reservation_id')} arrived "
                        f"with status {session.get('status')}; a reservation creates a Session "
                        "with status RESERVATION",
                        "/status",
                    )
                )
        out.extend(self.tokens.check_use(session, "Session"))
        return out

    async def store_session(
        self,
        platform: Platform,
        version: str | None,
        session: dict[str, Any],
        previous: dict[str, Any] | None,
        cc: str,
        pid: str,
        *,
        source: str,
        command: CommandRecord | None = None,
    ) -> bool:
        """Store a Session and tell the listeners, with its START_SESSION (``command``, as
        :meth:`start_of` found it) so that none of them looks it up again."""
        created = self.sessions.save(
            session,
            platform_id=platform.id,
            version=version,
            source=source,
            now=self.rt.now(),
            country_code=cc,
            party_id=pid,
            status=session.get("status"),
            authorization_reference=session.get("authorization_reference"),
            token_uid=_token_uid(session),
            notified=0,
        )
        row = self.sessions.get(platform.id, cc, pid, str(session["id"]))
        self.rt.bus.publish(
            "ocpi.session",
            platform_id=platform.id,
            session_id=session["id"],
            status=session.get("status"),
            kwh=session.get("kwh"),
            authorization_reference=session.get("authorization_reference"),
            total_cost=session.get("total_cost"),
        )
        await self.notify(self.session_listeners, row, previous, command)
        if row is not None:
            self.rt.store.update(SESSIONS.name, row["key"], {"notified": 1})
        return created

    def start_of(self, obj: dict[str, Any]) -> CommandRecord | None:
        """The START_SESSION (or RESERVE_NOW) a Session or CDR belongs to, found once per
        push or pull and handed to the checks, the store and the listeners."""
        return self.commands.start_for(obj)

    def cdr_problems(
        self,
        platform: Platform,
        version: str,
        cdr: dict[str, Any],
        cc: str,
        pid: str,
        *,
        command: CommandRecord | None = None,
    ) -> list[checks.Problem]:
        """What is wrong with a CDR that is otherwise accepted (checklist 5.4 #37-#39, 5.7
        #58). Ownership and duplicates are the Receiver's to refuse."""
        from emulator.ocpi.pricing import check_cdr_totals

        modern = version_key(version) >= (2, 2)
        out: list[checks.Problem] = checks.check_plausible(cdr, "CDR", self.rt.now())
        checked("OCPI-37")
        if modern and not cdr.get("credit") and len(str(cdr["id"])) > 36:
            out.append(
                checks.Problem("OCPI-37", "a non-credit CDR id is at most 36 characters", "/id")
            )
        if cdr.get("credit"):
            ref = cdr.get("credit_reference_id")
            if not ref:
                out.append(
                    checks.Problem(
                        "OCPI-37b",
                        "credit CDR without credit_reference_id (the id of the CDR it credits)",
                        "/credit_reference_id",
                    )
                )
            elif self.cdrs.get(platform.id, cc, pid, str(ref)) is None:
                # The credited CDR may have gone elsewhere or before we were connected.
                self.rt.coverage.not_run(
                    "OCPI-37b",
                    platform.id,
                    f"credit CDR {cdr['id']} credits {ref!r}, a CDR we never received",
                )
            else:
                self.rt.coverage.ran("OCPI-37b", platform.id)
        if cdr.get("session_id"):
            session = self.sessions.object(platform.id, cc, pid, str(cdr["session_id"]))
            if session is None:
                # Sessions need not be pushed (pull model): nothing to compare against.
                self.rt.coverage.not_run(
                    "OCPI-39",
                    platform.id,
                    f"CDR {cdr['id']}: its Session {cdr['session_id']!r} never reached us",
                )
            else:
                out.extend(checks.check_cdr_location(cdr, session))
        # The CdrLocation has no time zone; the mirrored Location has (tariff restrictions on
        # the time of day are local time).
        location_id = (cdr.get("cdr_location") or {}).get("id")
        found = (
            self.mirror.locations.find_head(str(location_id), platform.id) if location_id else None
        )
        time_zone = found["object"].get("time_zone") if found else None
        for problem in check_cdr_totals(cdr, version=version, time_zone=time_zone):
            out.append(checks.Problem(problem.rule, problem.message, problem.pointer))
        if modern:
            if command is not None:
                out.extend(checks.check_against_start(cdr, command, "CDR"))
                if self.uses_payments(platform):
                    out.extend(self.limit_problems(platform, version, cdr))
            out.extend(self.tokens.check_use(cdr, "CDR"))
        return out

    def limit_problems(
        self, platform: Platform, version: str, cdr: dict[str, Any]
    ) -> list[checks.Problem]:
        """Checklist 5.7 #58: the CPO stops the session at the tariff's preauthorize_amount
        (else max_price), or accepts our STOP_SESSION there, so the CDR stays within it."""
        from emulator.ocpi.pricing import preauthorization_amount, price_with_taxes

        where = cdr.get("cdr_location") or {}
        tariff = None
        found = self.mirror.evse(
            str(where.get("id") or ""), str(where.get("evse_uid") or ""), platform.id
        )
        if found is not None:
            _, evse = found
            connector = next(
                (
                    c
                    for c in evse.get("connectors") or []
                    if ci_equal(str(c.get("id")), str(where.get("connector_id")))
                ),
                None,
            )
            tariff = self.choose_tariff(platform.id, evse, connector)
        embedded = cdr.get("tariffs") or []
        if tariff is None and len(embedded) == 1:
            tariff = embedded[0]
        if tariff is None or (
            tariff.get("preauthorize_amount") is None and tariff.get("max_price") is None
        ):
            return []  # no limit the CPO knows of
        checked("OCPI-58")
        limit = preauthorization_amount(tariff, default=Decimal(0))
        total = price_with_taxes(cdr.get("total_cost"), version)
        if total is None or total <= limit + Decimal("0.01"):
            return []
        name = (
            "preauthorize_amount" if tariff.get("preauthorize_amount") is not None else "max_price"
        )
        return [
            checks.Problem(
                "OCPI-58",
                f"CDR {cdr['id']} totals {total} {cdr.get('currency', '')}, past the "
                f"{name} {limit} of tariff {tariff.get('id')}: the card was pre-authorized "
                "for that much; the CPO should stop the session there (or accept the PTP's "
                "STOP_SESSION)",
                "/total_cost",
            )
        ]

    async def store_cdr(
        self,
        platform: Platform,
        version: str,
        cdr: dict[str, Any],
        cc: str,
        pid: str,
        *,
        source: str,
        command: CommandRecord | None = None,
    ) -> StoredObject:
        self.cdrs.save(
            cdr,
            platform_id=platform.id,
            version=version,
            source=source,
            now=self.rt.now(),
            country_code=cc,
            party_id=pid,
            authorization_reference=cdr.get("authorization_reference"),
            session_id=cdr.get("session_id"),
            token_uid=_token_uid(cdr),
            notified=0,
        )
        self.rt.bus.publish(
            "ocpi.cdr",
            platform_id=platform.id,
            cdr_id=cdr["id"],
            authorization_reference=cdr.get("authorization_reference"),
            total_cost=cdr.get("total_cost"),
            session_id=cdr.get("session_id"),
        )
        row = self.cdrs.get(platform.id, cc, pid, str(cdr["id"]))
        assert row is not None
        crashpoint.reached("cdr-stored")
        await self.notify(self.cdr_listeners, row, command)
        self.rt.store.update(CDRS.name, row["key"], {"notified": 1})
        return row

    # --- terminals ---

    async def create_terminal(
        self,
        serial_number: str,
        model: str,
        *,
        platform_id: int | None = None,
        extra: dict[str, Any] | None = None,
        push: bool = True,
        contract_id: int | None = None,
        test_firmware: bool = False,
    ) -> TerminalRow:
        """A physical terminal (the virtual device) and its OCPI Terminal object.

        Pushed to the owning CPO platform (``platform_id``, else the only registered one); if
        no platform is registered yet it is pushed when one registers.
        """
        host = getattr(self.node, "terminals", None)
        if host is not None and not host.exists(serial_number):
            await host.create(serial_number, model, mode="ocpi", test_firmware=test_firmware)
        if platform_id is None and contract_id is not None:
            # A contract set up for one platform puts its terminals there.
            platform_id = (self.contracts.get(contract_id) or {}).get("platform_id")
        if platform_id is None:
            registered = self.node.platforms.registered()
            if len(registered) == 1:
                platform_id = registered[0].id
        row = self.payments.create_terminal(
            serial_number, model, extra=extra, contract_id=contract_id
        )
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

    def refused_tariffs(
        self, platform_id: int | None, evse: dict[str, Any], connector: dict[str, Any] | None = None
    ) -> list[str]:
        """The tariff ids the EVSE (or connector) refers to that the CPO lists but whose
        objects the last crawl refused (OCPI-30 named why)."""
        if platform_id is None:
            return []
        refused = self.mirror.refused_ids.get((platform_id, "tariffs"), set())
        out: list[str] = []
        for conn in [connector] if connector else evse.get("connectors") or []:
            if conn is None:
                continue
            ids = conn.get("tariff_ids") or ([conn["tariff_id"]] if conn.get("tariff_id") else [])
            out.extend(str(t) for t in ids if str(t).upper() in refused and str(t) not in out)
        return out

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
        refused = self.refused_tariffs(platform.id, evse) if tariff is None else []
        if refused:
            # The CPO publishes the tariff, but its object was refused: OCPI-30 is the one
            # finding; what the terminal would make of it could not be checked.
            self.rt.coverage.not_checked(
                ("OCPI-54", "OCPI-54b", "PAYTER-03"),
                platform.id,
                f"OCPI-30 (tariff {', '.join(refused)} of {where} was refused)",
            )
            return []
        checked("OCPI-54", "OCPI-54b", "PAYTER-03")
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


def _token_uid(obj: dict[str, Any]) -> str | None:
    uid = (obj.get("cdr_token") or {}).get("uid") or obj.get("auth_id")
    return str(uid).upper() if uid else None
