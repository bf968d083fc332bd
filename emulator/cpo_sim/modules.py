"""The OCPI modules the simulated CPO hosts (ocpi.md §4.1, CPO column).

Parse → call the backend → return data; the transport (:mod:`emulator.ocpi.transport`) does
authentication, headers, the envelope and the journal.

| Module    | Interface | Versions       |
|-----------|-----------|----------------|
| locations | SENDER    | 2.2.1, 2.3.0   |
| tariffs   | SENDER    | 2.2.1, 2.3.0   |
| sessions  | SENDER    | 2.2.1, 2.3.0   |
| cdrs      | SENDER    | 2.2.1, 2.3.0   |
| commands  | RECEIVER  | 2.2.1, 2.3.0   |
| tokens    | RECEIVER  | 2.2.1, 2.3.0   |
| payments  | RECEIVER  | 2.3.0          |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from emulator.cpo_sim import catalog, messages
from emulator.cpo_sim.state import Objects, key_of
from emulator.ocpi import status
from emulator.ocpi.models.base import partial_model
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import (
    Module,
    OcpiRequest,
    OcpiResult,
    Route,
    paged,
    parse_paging,
)

if TYPE_CHECKING:
    from emulator.cpo_sim.backend import CpoBackend
    from emulator.cpo_sim.presets import Presets

CPO_VERSIONS = ("2.2.1", "2.3.0")


def _version(req: OcpiRequest) -> str:
    assert req.version is not None
    return req.version


def page_of(
    req: OcpiRequest,
    objects: Objects,
    presets: Presets,
    *,
    shape: Any,
    platform_id: int | None = None,
) -> OcpiResult:
    """A Sender list: paged, date-filtered, in creation order (transport_and_format,
    pagination)."""
    page = parse_paging(req, req.server.page_limit)
    total, items = objects.page(
        date_from=page.date_from,
        date_to=page.date_to,
        offset=page.offset,
        limit=page.limit,
        platform_id=platform_id,
    )
    result = paged(req, page, total, [shape(o, _version(req)) for o in items])
    if presets.on("bad-paging"):
        # OCPI-20/21: X-Limit is the count of this page and the Link keeps only offset/limit.
        result.headers["X-Limit"] = str(len(items))
        if "Link" in result.headers:
            url = f"{req.rt.base_url}{req.http.path}"
            nxt = page.offset + len(items)
            result.headers["Link"] = f'<{url}?offset={nxt}&limit={page.limit}>; rel="next"'
    return result


def _dump(obj: BaseModel) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude_none=True, by_alias=True)


def _not_found(what: str, code: int = status.CLIENT_ERROR) -> OcpiError:
    # A GET of a resource that does not exist: HTTP 404 (status_codes.asciidoc).
    return OcpiError(code, f"unknown {what}", http_status=404)


class LocationsSender(Module):
    id = "locations"
    interface = "SENDER"
    versions = CPO_VERSIONS

    def __init__(self, backend: CpoBackend, presets: Presets) -> None:
        self.backend = backend
        self.presets = presets

    def routes(self) -> list[Route]:
        return [
            Route("GET", "", self.list),
            Route("GET", "/{location_id}", self.one),
            Route("GET", "/{location_id}/{evse_uid}", self.one),
            Route("GET", "/{location_id}/{evse_uid}/{connector_id}", self.one),
        ]

    async def list(self, req: OcpiRequest) -> OcpiResult:
        req.require_platform()
        return page_of(req, self.backend.locations, self.presets, shape=catalog.location_for)

    async def one(self, req: OcpiRequest) -> Any:
        req.require_platform()
        version = _version(req)
        p = req.params
        location = self.backend.location(p["location_id"])
        if location is None:
            raise _not_found(f"location {p['location_id']}", status.UNKNOWN_LOCATION)
        if "evse_uid" not in p:
            return catalog.location_for(location, version)
        evse = catalog.find_evse(location, p["evse_uid"])
        if evse is None:
            raise _not_found(f"EVSE {p['evse_uid']}")
        if "connector_id" not in p:
            return catalog.evse_for(evse, version)
        connector = catalog.find_connector(evse, p["connector_id"])
        if connector is None:
            raise _not_found(f"connector {p['connector_id']}")
        return catalog.connector_for(connector, version)


class TariffsSender(Module):
    id = "tariffs"
    interface = "SENDER"
    versions = CPO_VERSIONS

    def __init__(self, backend: CpoBackend, presets: Presets) -> None:
        self.backend = backend
        self.presets = presets

    def routes(self) -> list[Route]:
        return [
            Route("GET", "", self.list),
            Route("GET", "/{tariff_id}", self.one),
            Route("GET", "/{country_code}/{party_id}/{tariff_id}", self.one),
        ]

    async def list(self, req: OcpiRequest) -> OcpiResult:
        req.require_platform()
        return page_of(req, self.backend.tariffs, self.presets, shape=catalog.tariff_for)

    async def one(self, req: OcpiRequest) -> Any:
        req.require_platform()
        p = req.params
        tariff = self.backend.tariff(p["tariff_id"])
        if tariff is None or (
            "country_code" in p
            and (
                key_of(p["country_code"], p["party_id"])
                != key_of(tariff["country_code"], tariff["party_id"])
            )
        ):
            raise _not_found(f"tariff {p['tariff_id']}")
        return catalog.tariff_for(tariff, _version(req))


class SessionsSender(Module):
    id = "sessions"
    interface = "SENDER"
    versions = CPO_VERSIONS

    def __init__(self, backend: CpoBackend, presets: Presets) -> None:
        self.backend = backend
        self.presets = presets

    def routes(self) -> list[Route]:
        return [
            Route("GET", "", self.list),
            Route("PUT", "/{session_id}/charging_preferences", self.charging_preferences),
        ]

    async def list(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        if not req.query.get("date_from"):
            # mod_sessions: date_from is required on the Sessions Sender list.
            raise OcpiError(status.INVALID_PARAMETERS, "date_from is required")
        backend = self.backend
        return page_of(
            req,
            backend.sessions,
            self.presets,
            shape=lambda s, v: catalog.session_for(backend.charging.session_view(s), v),
            platform_id=platform.id,
        )

    async def charging_preferences(self, req: OcpiRequest) -> Any:
        platform = req.require_platform()
        row = self.backend.sessions.get(key_of(req.params["session_id"]))
        if row is None or row.get("platform_id") != platform.id:
            raise _not_found(f"session {req.params['session_id']}")
        # None of the simulated EVSEs is CHARGING_PREFERENCES_CAPABLE: HTTP 404 with 2001
        # (mod_sessions, charging preferences).
        raise OcpiError(
            status.INVALID_PARAMETERS,
            "the EVSE of this session is not CHARGING_PREFERENCES_CAPABLE",
            http_status=404,
        )


class CdrsSender(Module):
    id = "cdrs"
    interface = "SENDER"
    versions = CPO_VERSIONS

    def __init__(self, backend: CpoBackend, presets: Presets) -> None:
        self.backend = backend
        self.presets = presets

    def routes(self) -> list[Route]:
        return [Route("GET", "", self.list)]

    async def list(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        return page_of(
            req, self.backend.cdrs, self.presets, shape=catalog.cdr_for, platform_id=platform.id
        )


class CommandsReceiver(Module):
    id = "commands"
    interface = "RECEIVER"
    versions = CPO_VERSIONS

    def __init__(self, backend: CpoBackend) -> None:
        self.backend = backend

    def routes(self) -> list[Route]:
        return [Route("POST", "/{command}", self.post)]

    async def post(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        version = _version(req)
        command = req.params["command"]
        model = messages.command_model(version, command)
        if model is None:
            # CommandType is an OpenEnum in 2.3.0: an unknown command is not an error.
            answer, _ = await self.backend.commanding.command(command, platform, req.body or {})
            return OcpiResult(data=self.backend.commanding.command_response(answer))
        body = _dump(req.parse(model, what=command))
        answer, _ = await self.backend.commanding.command(command, platform, body)
        return OcpiResult(
            data=self.backend.commanding.command_response(answer),
            status_code=answer.status_code,
            message=answer.message,
        )


class TokensReceiver(Module):
    """Client-owned objects at ``{tokens}/{country_code}/{party_id}/{token_uid}[?type=]``."""

    id = "tokens"
    interface = "RECEIVER"
    versions = CPO_VERSIONS

    def __init__(self, backend: CpoBackend) -> None:
        self.backend = backend

    def routes(self) -> list[Route]:
        path = "/{country_code}/{party_id}/{token_uid}"
        return [
            Route("GET", path, self.get),
            Route("PUT", path, self.put),
            Route("PATCH", path, self.patch),
        ]

    def _address(self, req: OcpiRequest) -> tuple[str, str, str, str]:
        platform = req.require_platform()
        p = req.params
        if not platform.owns(p["country_code"], p["party_id"]):
            # transport_and_format: 404 MAY answer a client-owned URL outside its roles.
            raise OcpiError(
                status.CLIENT_ERROR,
                f"{p['country_code']}/{p['party_id']} is not one of your CredentialsRoles",
                http_status=404,
            )
        # mod_tokens: without ?type= the token is an RFID.
        kind = req.query.get("type") or "RFID"
        return p["country_code"], p["party_id"], p["token_uid"], kind

    async def get(self, req: OcpiRequest) -> Any:
        cc, pid, uid, kind = self._address(req)
        token = self.backend.payments.token(cc, pid, uid, kind)
        if token is None:
            raise _not_found(f"token {uid} ({kind})", status.UNKNOWN_TOKEN)
        return token

    async def put(self, req: OcpiRequest) -> OcpiResult:
        cc, pid, uid, kind = self._address(req)
        token = _dump(req.parse(messages.token_model(_version(req)), what="Token"))
        mismatch = [
            name
            for name, url, body in (
                ("country_code", cc, token["country_code"]),
                ("party_id", pid, token["party_id"]),
                ("uid", uid, token["uid"]),
                ("type", kind, token["type"]),
            )
            if url.casefold() != str(body).casefold()
        ]
        if mismatch:
            # The URL ids SHALL equal the body's (mod_tokens, PUT).
            raise OcpiError(
                status.INVALID_PARAMETERS,
                f"URL and body disagree on {', '.join(mismatch)}",
            )
        created = self.backend.payments.put_token(req.require_platform(), token)
        return OcpiResult(http_status=201 if created else 200, omit_data=True)

    async def patch(self, req: OcpiRequest) -> OcpiResult:
        cc, pid, uid, kind = self._address(req)
        patch = messages.token_patch_model(_version(req))
        changes = _dump(req.parse(patch, what="Token PATCH"))
        if "last_updated" not in changes:
            req.finding("OCPI-31", "Token PATCH without last_updated")
            raise OcpiError(status.INVALID_PARAMETERS, "a PATCH must carry last_updated")
        token = self.backend.payments.token(cc, pid, uid, kind)
        if token is None:
            raise _not_found(f"token {uid} ({kind})", status.UNKNOWN_TOKEN)
        for name in ("country_code", "party_id", "uid", "type"):
            if name in changes and str(changes[name]).casefold() != str(token[name]).casefold():
                raise OcpiError(status.INVALID_PARAMETERS, f"a PATCH cannot change {name}")
        token.update(changes)
        self.backend.payments.put_token(req.require_platform(), token)
        return OcpiResult(omit_data=True)


class PaymentsReceiver(Module):
    """mod_payments, Receiver interface of the CPO: ``{payments}/terminals`` and
    ``{payments}/financial-advice-confirmations`` (the sub-URLs the module's examples use).
    On 2.3.0 and, as Payter's "Direct Payment 2.2.1" extension, on 2.2.1 (setting
    ``payments_versions``), with that version's objects."""

    id = "payments"
    interface = "RECEIVER"
    versions: tuple[str, ...] = ("2.3.0",)

    def __init__(self, backend: CpoBackend, *, versions: Sequence[str] = ("2.3.0",)) -> None:
        self.backend = backend
        self.versions = tuple(versions)

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/terminals", self.post_terminal),
            Route("GET", "/terminals/{terminal_id}", self.get_terminal),
            Route("PATCH", "/terminals/{terminal_id}", self.patch_terminal),
            Route("POST", "/financial-advice-confirmations", self.post_fac),
            Route("GET", "/financial-advice-confirmations/{fac_id}", self.get_fac),
        ]

    async def post_terminal(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        terminal = _dump(req.parse(messages.terminal_model(_version(req)), what="Terminal"))
        created = self.backend.payments.receive_terminal(platform, terminal)
        return OcpiResult(http_status=201 if created else 200, omit_data=True)

    async def get_terminal(self, req: OcpiRequest) -> Any:
        # A PTP sees the terminals it created (others do not exist for it).
        terminal = self.backend.payments.terminal(req.params["terminal_id"], req.require_platform())
        if terminal is None:
            raise _not_found(f"terminal {req.params['terminal_id']}")
        return terminal

    async def patch_terminal(self, req: OcpiRequest) -> OcpiResult:
        """Not in the spec's Receiver interface: Payter PATCHes the customer_reference of a
        terminal it created (payter.md §2.2), and a CPO that works with Payter accepts it."""
        platform = req.require_platform()
        model = partial_model(messages.terminal_model(_version(req)))
        changes = _dump(req.parse(model, what="Terminal"))
        if not self.backend.payments.patch_terminal(platform, req.params["terminal_id"], changes):
            raise _not_found(f"terminal {req.params['terminal_id']}")
        return OcpiResult(omit_data=True)

    async def post_fac(self, req: OcpiRequest) -> OcpiResult:
        platform = req.require_platform()
        fac = req.parse(messages.fac_model(_version(req)), what="FinancialAdviceConfirmation")
        created = self.backend.payments.receive_fac(platform, _dump(fac))
        return OcpiResult(http_status=201 if created else 200, omit_data=True)

    async def get_fac(self, req: OcpiRequest) -> Any:
        fac = self.backend.payments.fac(req.params["fac_id"], req.require_platform())
        if fac is None:
            raise _not_found(f"financial advice confirmation {req.params['fac_id']}")
        return fac
