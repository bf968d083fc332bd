"""The tokens Payter owns: one AD_HOC_USER token per card transaction (DESIGN.md).

The Token of a START_SESSION is issued here (type AD_HOC_USER, a unique uid per
transaction, contract_id = uid, issuer "Payter", our own country_code/party_id, whitelist
NEVER). The Tokens Sender interface lists them and answers real-time authorization; a CPO
must not call ``authorize`` for an AD_HOC_USER token it got from a command (rule OCPI-45).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.coverage import checked
from emulator.ocpi import status
from emulator.ocpi.client import PeerError
from emulator.ocpi.platforms import Platform
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import OcpiRequest, OcpiResult, paged, parse_paging
from emulator.ocpi.types import (
    ci_equal,
    format_datetime,
    parse_datetime_or_none,
    sortable_datetime,
)
from emulator.ptp.checks import Problem
from emulator.rules import RuleId
from emulator.settings import version_key
from emulator.store import TableSpec

if TYPE_CHECKING:
    from emulator.ptp.core import Ptp

TOKENS = TableSpec(
    name="ptp_tokens",
    columns={
        "key": str,  # TYPE/UID
        "uid": str,
        "type": str,
        "authorization_reference": str,
        "last_updated": str,
        "object": str,
    },
    pk="key",
    json_columns=frozenset({"object"}),
    indexes=(("last_updated",),),
)


class Tokens:
    def __init__(self, ptp: Ptp) -> None:
        self.ptp = ptp
        self.rt = ptp.rt
        self.rt.store.register(TOKENS)

    def issue_ad_hoc(self, authorization_reference: str, version: str) -> dict[str, Any]:
        ident = self.ptp.node.server.identity
        uid = self.rt.ids.code(20)
        token: dict[str, Any] = {
            "country_code": ident.country_code,
            "party_id": ident.party_id,
            "uid": uid,
            "type": "AD_HOC_USER",
            "contract_id": uid,
            "issuer": ident.business_name,
            "valid": True,
            "whitelist": "NEVER",
            "last_updated": format_datetime(self.rt.now()),
        }
        if version_key(version) < (2, 2):
            # 2.1.1 Token: auth_id instead of contract_id, no owner ids, type OTHER or RFID.
            token = {
                "uid": uid,
                "type": "OTHER",
                "auth_id": uid,
                "issuer": ident.business_name,
                "valid": True,
                "whitelist": "NEVER",
                "last_updated": token["last_updated"],
            }
        self._keep(token, authorization_reference)
        return token

    def find(self, uid: str, token_type: str | None) -> dict[str, Any] | None:
        if token_type:
            return self.rt.store.get("ptp_tokens", f"{token_type}/{uid}")
        return self.rt.store.first("ptp_tokens", "upper(uid) = ?", [uid.upper()])

    def check_use(self, obj: dict[str, Any], what: str) -> list[Problem]:
        """A Session or CDR charged to one of our tokens honours its ``whitelist`` and
        ``valid`` (checklist 5.6 #49): a NEVER token is never accepted from a whitelist, and
        an invalidated token not at all."""
        token = obj.get("cdr_token") or {}
        uid = token.get("uid")
        if not uid:
            return []
        ident = self.ptp.node.server.identity
        if not (
            ci_equal(str(token.get("country_code")), ident.country_code)
            and ci_equal(str(token.get("party_id")), ident.party_id)
        ):
            return []
        row = self.find(str(uid), token.get("type"))
        if row is None:
            return []
        ours = row["object"]
        checked("OCPI-49")
        out = []
        method = obj.get("auth_method")
        if ours.get("whitelist") == "NEVER" and method == "WHITELIST":
            out.append(
                Problem(
                    "OCPI-49",
                    f"{what} for token {uid} was authorized from the whitelist, but the token's "
                    "whitelist is NEVER: real-time authorization is required",
                    "/auth_method",
                )
            )
        if ours.get("valid") is False:
            invalid_since = parse_datetime_or_none(ours.get("last_updated"))
            started = parse_datetime_or_none(obj.get("start_date_time"))
            if invalid_since is not None and started is not None and started >= invalid_since:
                out.append(
                    Problem(
                        "OCPI-49",
                        f"{what} for token {uid}, which we made invalid "
                        f"({ours.get('last_updated')}) before the session started",
                        "/cdr_token/uid",
                    )
                )
        return out

    async def check_receiver(self, platform: Platform) -> dict[str, Any]:
        """Checklist 5.6 #50 (and #49's ``valid``), on demand: PUT a test RFID token of ours
        to the CPO's Tokens Receiver without ``?type=`` (RFID is the default), GET it back,
        PATCH it ``valid: false`` and GET it again. Returns the steps and what they showed."""
        version = platform.version or "2.2.1"
        if version_key(version) < (2, 2):
            raise ValueError("the Tokens Receiver check needs OCPI 2.2.1 or later")
        ident = self.ptp.node.server.identity
        uid = f"PAYTER-CHECK-{self.rt.ids.code(10)}"
        now = format_datetime(self.rt.now())
        token: dict[str, Any] = {
            "country_code": ident.country_code,
            "party_id": ident.party_id,
            "uid": uid,
            "type": "RFID",
            "contract_id": uid,
            "issuer": ident.business_name,
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": now,
        }
        self._keep(token, None)
        path = f"{ident.country_code}/{ident.party_id}/{uid}"
        client = self.ptp.node.client
        steps: list[dict[str, Any]] = []

        # Each step says what it showed: ok only when it was checked and nothing was found.
        # A finding of one step is never a defect of the next (one root cause, one finding).
        async def step(name: str, method: str, body: Any = None) -> Any:
            try:
                reply = await client.call(
                    platform,
                    method,
                    "tokens",
                    path,
                    role="RECEIVER",
                    body=body,
                    expect="object" if method == "GET" else None,
                )
            except PeerError as exc:
                rule = self._finding("OCPI-50", f"{name}: {exc.message}", platform, exc.exchange_id)
                steps.append({"step": name, "ok": False, "answer": exc.message, "finding": rule})
                return None
            entry: dict[str, Any] = {"step": name, "ok": reply.ok, "answer": reply.describe()}
            steps.append(entry)
            if not reply.ok:
                entry["finding"] = self._finding(
                    "OCPI-50", f"{name}: answered {reply.describe()}", platform, reply.exchange_id
                )
                return None
            if method == "GET" and not isinstance(reply.data, dict):
                # The token may well be there; the shape is OCPI-06b's (the client's finding).
                shape = "a list" if isinstance(reply.data, list) else "no object"
                why = f"OCPI-06b (data as {shape})"
                self.rt.coverage.not_checked("OCPI-50", platform.id, why)
                entry.update(ok=False, not_checked=why)
                return None
            self.rt.coverage.ran("OCPI-50", platform.id)
            return reply

        def judged(rule_id: RuleId, message: str, reply: Any) -> None:
            steps[-1]["ok"] = False
            steps[-1]["finding"] = self._finding(rule_id, message, platform, reply.exchange_id)

        if await step("PUT the token (no ?type=: RFID)", "PUT", token) is None:
            return {"token": uid, "steps": steps}
        reply = await step("GET it back (no ?type=)", "GET")
        if reply is not None:
            data = reply.data
            if not ci_equal(str(data.get("uid")), uid) or data.get("type") != "RFID":
                judged(
                    "OCPI-50",
                    f"GET of token {uid} (RFID by default) did not return it: data uid "
                    f"{data.get('uid')!r}, type {data.get('type')!r}",
                    reply,
                )
        later = format_datetime(self.rt.now())
        changes = {"valid": False, "last_updated": later}
        if await step("PATCH valid false", "PATCH", changes) is None:
            return {"token": uid, "steps": steps}
        self._keep({**token, **changes}, None)
        reply = await step("GET it after the PATCH", "GET")
        if reply is not None and reply.data.get("valid") is not False:
            judged(
                "OCPI-50",
                f"after PATCH valid=false, GET of token {uid} still says valid "
                f"{reply.data.get('valid')!r}: the PATCH was not applied",
                reply,
            )
        return {"token": uid, "steps": steps}

    def _keep(self, token: dict[str, Any], authorization_reference: str | None) -> None:
        self.rt.store.upsert(
            "ptp_tokens",
            {
                "key": f"{token['type']}/{token['uid']}",
                "uid": token["uid"],
                "type": token["type"],
                "authorization_reference": authorization_reference,
                "last_updated": sortable_datetime(token["last_updated"]),
                "object": token,
            },
        )

    def _finding(
        self, rule: RuleId, message: str, platform: Platform, exchange_id: int | None
    ) -> str:
        self.rt.findings.record(rule, message, platform_id=platform.id, exchange_id=exchange_id)
        return rule

    # --- Tokens Sender interface (HTTP handlers) ---

    async def list(self, req: OcpiRequest) -> OcpiResult:
        req.require_platform()
        page = parse_paging(req, req.server.page_limit)
        where, params = ["1 = 1"], []
        if page.date_from:
            where.append("last_updated >= ?")
            params.append(sortable_datetime(page.date_from))
        if page.date_to:
            where.append("last_updated < ?")
            params.append(sortable_datetime(page.date_to))
        clause = " and ".join(where)
        total = self.rt.store.count("ptp_tokens", clause, params)
        rows = self.rt.store.rows(
            "ptp_tokens",
            clause,
            params,
            order_by="last_updated, key",
            limit=page.limit,
            offset=page.offset,
        )
        return paged(req, page, total, [r["object"] for r in rows])

    async def authorize(self, req: OcpiRequest) -> OcpiResult:
        """POST {tokens}/{uid}/authorize[?type=]: real-time authorization (5.6 #48)."""
        req.require_platform()
        checked("OCPI-48")
        uid = req.params["uid"]
        token_type = req.http.query.get("type")
        row = self.find(uid, token_type or "RFID")
        if row is None and token_type is None:
            # The CPO omitted ?type= for a non-RFID token: 'type' is omitted only for RFID.
            row = self.find(uid, None)
            if row is not None:
                req.finding(
                    "OCPI-48",
                    f"authorize for {row['type']} token {uid} without "
                    "?type=; the parameter is omitted only for RFID tokens",
                )
        if row is None:
            raise OcpiError(status.UNKNOWN_TOKEN, f"unknown token {uid}", http_status=404)
        token = row["object"]
        if token.get("type") == "AD_HOC_USER":
            req.finding(
                "OCPI-45",
                f"real-time authorization requested for the AD_HOC_USER token "
                f"{uid} that came with a START_SESSION; the CPO SHALL NOT do that "
                "(mod_commands.asciidoc)",
            )
        if req.body is not None:
            with_model = req.body if isinstance(req.body, dict) else None
            if with_model is None or "location_id" not in with_model:
                req.finding(
                    "OCPI-48", "authorize body is not LocationReferences (location_id missing)"
                )
        info: dict[str, Any] = {
            "allowed": "ALLOWED" if token.get("valid") else "BLOCKED",
            "token": token,
        }
        if row.get("authorization_reference"):
            info["authorization_reference"] = row["authorization_reference"]
        return OcpiResult(data=info)
