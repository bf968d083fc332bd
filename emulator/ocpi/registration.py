"""Credentials and registration, in both directions (credentials.asciidoc).

*Receiver* of the credentials POST: the peer calls us with a token A we minted, we fetch its
versions and version details with its token B, answer with token C.

*Sender*: the operator gives us the peer's versions URL and its token A; we fetch, negotiate
the highest mutual version, POST our credentials with a fresh token B and keep the peer's
token C.

PUT (update, version switch, token rotation) and DELETE (unregister) work both ways too.
Every check on what the peer sends or answers becomes a finding (rules OCPI-13 to OCPI-19).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from emulator import crashpoint, logs
from emulator.ocpi import status
from emulator.ocpi.client import (
    OcpiClient,
    OcpiReply,
    PeerError,
    PeerProtocolError,
    PeerUnreachable,
)
from emulator.ocpi.models.base import validate_peer_object
from emulator.ocpi.platforms import Platform, Platforms
from emulator.ocpi.status import OcpiError
from emulator.ocpi.transport import (
    OcpiRequest,
    OcpiResult,
    OcpiServer,
    default_encoding,
    validation_findings,
)
from emulator.ocpi.types import collect_notes
from emulator.rules import RuleId
from emulator.serving import after_sent
from emulator.settings import OCPI_VERSIONS, version_key

log = logs.get_logger("emulator.ocpi.registration")

# Presented to the peer to check that it refuses what it never issued (checklist 5.1 #2).
PROBE_TOKEN = "payter-emulator-probe-unknown-token"  # noqa: S105 (not a secret)


def _versions() -> Any:
    """The Versions and Credentials models, imported on the first registration."""
    from emulator.ocpi.models import versions

    return versions


@dataclass(frozen=True)
class Need:
    """An endpoint the peer must expose: module, and its interface role (2.2+)."""

    module: str
    role: str | None = None
    since: str = "2.1.1"

    def applies(self, version: str) -> bool:
        return version_key(version) >= version_key(self.since)

    def __str__(self) -> str:
        return f"{self.module}" + (f" ({self.role})" if self.role else "")


def parse_needs(text: str) -> list[Need]:
    """``"credentials,locations:SENDER,payments:RECEIVER@2.3.0"`` → needs."""
    needs = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        since = "2.1.1"
        if "@" in item:
            item, since = item.split("@", 1)
        module, _, role = item.partition(":")
        needs.append(Need(module.strip(), role.strip().upper() or None, since.strip()))
    return needs


class RegistrationFailed(Exception):
    def __init__(
        self,
        message: str,
        ocpi_status: int,
        exchange_id: int | None = None,
        platform_id: int | None = None,
        public: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.ocpi_status = ocpi_status
        self.exchange_id = exchange_id
        self.platform_id = platform_id
        # What a peer that chose the URL is told (never whether a port answered); the operator
        # (the control API) reads ``message``.
        self.public = public or message
        # The versions URL did not answer an OCPI versions list: most likely not the peer's
        # versions endpoint at all (a wrong URL), so nothing it did judges a CPO.
        self.no_versions_list = False

    def as_json(self) -> dict[str, Any]:
        return {
            "code": "registration_failed",
            "message": self.message,
            "ocpi_status_code": self.ocpi_status,
            "ocpi_status_meaning": status.MEANING.get(self.ocpi_status, ""),
            "exchange_id": self.exchange_id,
        }


class Registration:
    def __init__(
        self,
        server: OcpiServer,
        platforms: Platforms,
        client: OcpiClient,
        *,
        needs: Sequence[Need],
        expected_roles: dict[str, str] | None = None,
        probe_peers: bool = False,
    ) -> None:
        self.server = server
        self.platforms = platforms
        self.client = client
        self.rt = server.rt
        self.needs = list(needs)
        # Whether a new registration is followed by probes of the peer's token checks
        # (:meth:`probe_tokens`): the emulator judges its peer; the simulated CPO does not.
        self.probe_peers = probe_peers
        # Opt-in: probe with the peer's spent token A (breaks credentials §Registration).
        self.probe_spent_token_a = False
        # Platforms whose versions list was only readable with a raw token: platform id →
        # exchange, judged once the version is chosen.
        self._raw_fallback: dict[int, int] = {}
        # The interface role each module should have on the peer (checklist 5.2 #14).
        self.expected_roles = expected_roles or {}
        # Hooks run after a platform is registered or updated (pollers, terminal push...).
        self.on_registered: list[Any] = []
        # Tokens A of credentials POSTs being answered right now.
        self._registering: set[str] = set()
        # Platforms we are registering with in this process (PENDING while the handshake runs).
        self._in_flight: set[int] = set()
        self.followup_delay = float(getattr(server.rt.settings, "registration_followup_delay", 1.0))
        self.on_unregistered: list[Any] = []

    # --- fetching the peer's versions -----------------------------------------------------------

    async def _get(
        self,
        platform: Platform,
        url: str,
        module: str,
        token: str,
        version: str | None,
        expect: str,
    ) -> OcpiReply:
        """GET with the platform's token encoding; on 401 try the other encoding once."""
        encoding = platform.auth_encoding or default_encoding(version)
        reply = await self.client.request(
            "GET",
            url,
            token=token,
            version=version,
            module=module,
            platform=platform,
            encoding=encoding,
            expect=expect,
        )
        if reply.http_status == 401:
            other = "raw" if encoding == "base64" else "base64"
            retry = await self.client.request(
                "GET",
                url,
                token=token,
                version=version,
                module=module,
                platform=platform,
                encoding=other,
                expect=expect,
            )
            if retry.ok:
                self._set_encoding(platform, other)
                if other == "raw":
                    # On the version-less versions list the verdict waits for the version.
                    self._raw_fallback[platform.id] = retry.exchange_id
                    if version is not None:
                        self._judge_raw_fallback(platform, version)
                return retry
        return reply

    def _set_encoding(self, platform: Platform, encoding: str) -> None:
        if platform.auth_encoding != encoding:
            self.platforms.update(platform.id, auth_encoding=encoding)
            platform.auth_encoding = encoding

    def _judge_raw_fallback(self, platform: Platform, version: str) -> None:
        """A peer that refused Base64 and took the raw token: right in 2.1.1, OCPI-01 after."""
        exchange_id = self._raw_fallback.pop(platform.id, None)
        if exchange_id is not None and version_key(version) >= (2, 2):
            self.rt.findings.record(
                "OCPI-01",
                "the peer refused 'Token <base64>' and accepted the raw token; OCPI "
                "2.2.1/2.3.0 require Base64",
                platform_id=platform.id,
                exchange_id=exchange_id,
            )

    async def fetch_versions(self, platform: Platform, token: str) -> list[dict[str, Any]]:
        try:
            return await self._fetch_versions(platform, token)
        except RegistrationFailed as exc:
            exc.no_versions_list = True
            raise

    async def _fetch_versions(self, platform: Platform, token: str) -> list[dict[str, Any]]:
        assert platform.versions_url
        try:
            reply = await self._get(
                platform, platform.versions_url, "versions", token, None, "list"
            )
        except PeerError as exc:
            where = f"cannot read the peer's versions at {platform.versions_url}"
            raise RegistrationFailed(
                f"{where}: {exc.message}",
                status.UNABLE_TO_USE_CLIENT_API,
                exc.exchange_id,
                platform.id,
                public=f"{where}: {exc.public}",
            ) from None
        if not reply.ok:
            raise RegistrationFailed(
                f"GET {platform.versions_url} answered {reply.describe()}",
                status.UNABLE_TO_USE_CLIENT_API,
                reply.exchange_id,
                platform.id,
            )
        data = reply.data
        pid, ex = platform.id, reply.exchange_id
        self.rt.coverage.ran("OCPI-13", pid)
        if not isinstance(data, list) or not data:
            self.rt.findings.record(
                "OCPI-13",
                "the versions list is empty or not a list",
                platform_id=pid,
                exchange_id=ex,
                pointer="/data",
            )
            raise RegistrationFailed(
                "the peer's versions list is empty or not a list",
                status.UNABLE_TO_USE_CLIENT_API,
                ex,
                pid,
            )
        out = []
        for i, entry in enumerate(data):
            if not isinstance(entry, dict) or "version" not in entry or "url" not in entry:
                self.rt.findings.record(
                    "OCPI-13",
                    f"versions entry {i} lacks version or url",
                    platform_id=pid,
                    exchange_id=ex,
                    pointer=f"/data/{i}",
                )
                continue
            version, url = str(entry["version"]), str(entry["url"])
            if version not in ("2.0", "2.1", "2.1.1", "2.2", "2.2.1", "2.3.0"):
                hint = " (2.3.0 is written '2.3.0')" if version.startswith("2.3") else ""
                self.rt.findings.record(
                    "OCPI-13",
                    f"unknown version string {version!r}{hint}",
                    platform_id=pid,
                    exchange_id=ex,
                    pointer=f"/data/{i}/version",
                )
            if not url.startswith(("http://", "https://")):
                self.rt.findings.record(
                    "OCPI-13",
                    f"version {version} URL {url!r} is not absolute",
                    platform_id=pid,
                    exchange_id=ex,
                    pointer=f"/data/{i}/url",
                )
            out.append({"version": version, "url": url})
        return out

    async def fetch_details(
        self, platform: Platform, token: str, version: str, url: str
    ) -> list[dict[str, Any]]:
        try:
            reply = await self._get(platform, url, "versions", token, version, "object")
        except PeerError as exc:
            where = f"cannot read the peer's {version} version details at {url}"
            raise RegistrationFailed(
                f"{where}: {exc.message}",
                status.UNABLE_TO_USE_CLIENT_API,
                exc.exchange_id,
                platform.id,
                public=f"{where}: {exc.public}",
            ) from None
        if not reply.ok:
            raise RegistrationFailed(
                f"GET {url} answered {reply.describe()}",
                status.UNABLE_TO_USE_CLIENT_API,
                reply.exchange_id,
                platform.id,
            )
        pid, ex = platform.id, reply.exchange_id
        modern = version_key(version) >= (2, 2)
        self.rt.coverage.ran(["OCPI-14", "OCPI-14b"] if modern else ["OCPI-14"], pid)
        model = _versions().DETAILS_MODEL[version]
        with collect_notes() as notes:
            try:
                details = validate_peer_object(model, reply.data)
            except ValidationError as exc:
                summary = self._invalid(exc, "OCPI-14", "version details", pid, ex)
                raise RegistrationFailed(
                    f"the peer's {version} version details are invalid: {summary}",
                    status.UNABLE_TO_USE_CLIENT_API,
                    ex,
                    pid,
                ) from None
        for n in notes:
            self.rt.findings.record(
                n.rule, f"version details: {n.message}", platform_id=pid, exchange_id=ex
            )
        dumped = details.dump()
        if dumped.get("version") != version:
            self.rt.findings.record(
                "OCPI-14",
                f"version details say version "
                f"{dumped.get('version')!r} at the URL listed for {version}",
                platform_id=pid,
                exchange_id=ex,
                pointer="/data/version",
            )
        endpoints = [
            {k: ep[k] for k in ("identifier", "role", "url") if k in ep}
            for ep in dumped["endpoints"]
        ]
        if not any(ep["identifier"] == "credentials" for ep in endpoints):
            self.rt.findings.record(
                "OCPI-14",
                "version details list no credentials endpoint",
                platform_id=pid,
                exchange_id=ex,
                pointer="/data/endpoints",
            )
        if version_key(version) >= (2, 2):
            for i, ep in enumerate(endpoints):
                want = self.expected_roles.get(ep["identifier"])
                if (
                    want
                    and ep.get("role") != want
                    and not any(
                        e["identifier"] == ep["identifier"] and e.get("role") == want
                        for e in endpoints
                    )
                ):
                    self.rt.findings.record(
                        "OCPI-14b",
                        f"{ep['identifier']} is exposed as {ep.get('role')}; for "
                        f"this peer it should be {want}",
                        platform_id=pid,
                        exchange_id=ex,
                        pointer=f"/data/endpoints/{i}/role",
                    )
        return endpoints

    def _invalid(
        self, exc: ValidationError, rule: RuleId, what: str, platform_id: int, exchange_id: int
    ) -> str:
        """One finding per problem of an invalid answer (under ``rule`` unless the check
        names its own, e.g. OCPI-18); returns a short summary for the operator."""
        problems = validation_findings(exc)
        for own, pointer, message in problems:
            self.rt.findings.record(
                own if own in ("OCPI-18", "OCPI-19") else rule,
                f"{what}: {message}",
                platform_id=platform_id,
                exchange_id=exchange_id,
                pointer=f"/data{pointer}".rstrip("/"),
            )
        summary = "; ".join(f"{p}: {m}" for _, p, m in problems[:3])
        return summary + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")

    def missing_needs(self, version: str, endpoints: list[dict[str, Any]]) -> list[Need]:
        modern = version_key(version) >= (2, 2)
        missing = []
        for need in self.needs:
            if not need.applies(version):
                continue
            found = any(
                ep["identifier"] == need.module
                and (not modern or need.role is None or ep.get("role") == need.role)
                for ep in endpoints
            )
            if not found:
                missing.append(need)
        return missing

    async def _discover(
        self,
        platform: Platform,
        token: str,
        version: str | None,
    ) -> tuple[str, list[dict[str, Any]]]:
        """Versions → (chosen version, its endpoints), checking what we need."""
        self._raw_fallback.pop(platform.id, None)
        theirs = await self.fetch_versions(platform, token)
        by_version = {v["version"]: v["url"] for v in theirs}
        if version is not None:
            if version not in by_version:
                raise RegistrationFailed(
                    f"the peer does not offer OCPI {version} (it offers "
                    f"{', '.join(by_version) or 'nothing'})",
                    status.UNSUPPORTED_VERSION,
                    None,
                    platform.id,
                )
            chosen = version
        else:
            mutual = [v for v in self.server.versions if v in by_version]
            if not mutual:
                raise RegistrationFailed(
                    f"no mutual OCPI version: the peer offers {', '.join(by_version) or 'none'}, "
                    f"we offer {', '.join(self.server.versions)}",
                    status.UNSUPPORTED_VERSION,
                    None,
                    platform.id,
                )
            chosen = mutual[0]
        if platform.id in self._raw_fallback:
            self._judge_raw_fallback(platform, chosen)
        elif version_key(chosen) < (2, 2):
            # 2.1.1 has no Base64: the raw token from here on (unless the peer refuses it).
            self._set_encoding(platform, "raw")
        endpoints = await self.fetch_details(platform, token, chosen, by_version[chosen])
        missing = self.missing_needs(chosen, endpoints)
        if missing:
            raise RegistrationFailed(
                f"the peer's {chosen} endpoints lack " + ", ".join(str(m) for m in missing),
                status.NO_MATCHING_ENDPOINTS,
                None,
                platform.id,
            )
        return chosen, endpoints

    # --- we are the Receiver of the credentials exchange ----------------------------------------

    def _check_peer_credentials(
        self,
        req: OcpiRequest | None,
        creds: dict[str, Any],
        platform_id: int | None,
        exchange_id: int | None,
        version: str,
    ) -> None:
        def find(rule: RuleId, message: str, pointer: str | None = None) -> None:
            if req is not None:
                req.finding(rule, message, pointer=pointer)
            else:
                self.rt.findings.record(
                    rule, message, platform_id=platform_id, exchange_id=exchange_id, pointer=pointer
                )

        roles = creds.get("roles") or []
        seen = set()
        for i, role in enumerate(roles):
            key = (
                role.get("role"),
                str(role.get("party_id", "")).upper(),
                str(role.get("country_code", "")).upper(),
            )
            if key in seen:
                find("OCPI-18", f"duplicate CredentialsRole {key}", f"/roles/{i}")
            seen.add(key)
        hub = creds.get("hub_party_id")
        if hub is not None and len(hub) != 5:
            find(
                "OCPI-18",
                f"hub_party_id {hub!r} is not 5 characters (country code + party id)",
                "/hub_party_id",
            )

    def _peer_name(self, creds: dict[str, Any]) -> str | None:
        if "business_details" in creds:
            return creds["business_details"].get("name")
        for role in creds.get("roles") or []:
            name = (role.get("business_details") or {}).get("name")
            if name:
                return str(name)
        return None

    def _roles(self, creds: dict[str, Any]) -> list[dict[str, Any]]:
        if "roles" in creds:
            return list(creds["roles"])
        # 2.1.1: one role, implied by who the peer is to us.
        return [
            {
                "role": "CPO",
                "business_details": creds.get("business_details"),
                "party_id": creds.get("party_id"),
                "country_code": creds.get("country_code"),
            }
        ]

    async def receive_post(self, req: OcpiRequest) -> OcpiResult:
        version = req.version
        assert version is not None
        if req.platform is not None and req.platform.status in ("REGISTERED", "PENDING"):
            raise OcpiError(
                status.CLIENT_ERROR,
                "this platform is already registered: use PUT to update the "
                "credentials, or DELETE to unregister",
                http_status=405,
            )
        if req.token_a is None:
            raise OcpiError(status.CLIENT_ERROR, "unknown token", http_status=401)
        creds_model = _versions().CREDENTIALS_MODEL[version]
        creds = req.parse(creds_model, what="Credentials").dump()
        self._check_peer_credentials(req, creds, None, None, version)
        if creds["token"] == req.token_a:
            req.finding(
                "OCPI-15",
                "the Credentials token B equals token A; the sender must generate a new token",
            )
        if req.token_a in self._registering:
            # Token A is single-use: a second POST while the first is still being answered
            # must not register a second platform with it.
            raise OcpiError(
                status.CLIENT_ERROR,
                "a registration with this token A is already under way",
                http_status=405,
            )
        self._registering.add(req.token_a)
        try:
            if req.again is not None:
                return await self._register_peer_again(req, req.again, creds, version)
            return await self._register_peer(req, req.token_a, creds, version)
        finally:
            self._registering.discard(req.token_a)

    def _note_answered(self, req: OcpiRequest, token_a: str) -> None:
        """Once the credentials answer is written, token A is spent for good (until then a
        repeated POST with it is the peer's retry: OcpiServer._unanswered_registration)."""
        after_sent(req.http, lambda: self.platforms.mark_answered(token_a))

    async def _discover_peer(
        self, platform: Platform, creds: dict[str, Any], version: str, **fields: Any
    ) -> tuple[str, list[dict[str, Any]], Platform]:
        """The version and endpoints at the URL the peer's credentials give (with their
        token), for a registration or update the peer made, and the platform as probed (its
        auth_encoding as the peer took it); a failure is the peer's answer."""
        probe = Platform(
            **{
                **platform.__dict__,
                "versions_url": creds["url"],
                "auth_encoding": default_encoding(version),
                **fields,
            }
        )
        try:
            chosen, endpoints = await self._discover(probe, creds["token"], version)
        except RegistrationFailed as exc:
            raise OcpiError(exc.ocpi_status, exc.public) from None
        return chosen, endpoints, probe

    async def _register_peer_again(
        self, req: OcpiRequest, platform_id: int, creds: dict[str, Any], version: str
    ) -> OcpiResult:
        """The peer's registration again, on the platform its first POST made (the answer
        never reached it): one platform, a new token C; the first one is void."""
        assert req.token_a is not None
        token_a = req.token_a
        platform = self.platforms.get(platform_id)
        assert platform is not None
        req.journal_platform_id = platform.id
        chosen, endpoints, _ = await self._discover_peer(
            platform, creds, version, peer_token=creds["token"]
        )
        token_c = self.rt.ids.token()
        self.platforms.rotate_issued_token(platform.id, token_c, by="peer")
        self.platforms.consume_token_a(token_a, platform.id)
        platform = self.platforms.update(
            platform.id,
            status="REGISTERED",
            versions_url=creds["url"],
            peer_token=creds["token"],
            version=chosen,
            endpoints=endpoints,
            auth_encoding=default_encoding(version),
            roles=self._roles(creds),
            name=self._peer_name(creds) or platform.name,
            hub_party_id=creds.get("hub_party_id"),
        )
        log.warning(
            "a registration POST repeated: its first answer never reached the peer",
            platform=platform.id,
        )
        self.rt.coverage.flow("registration", platform.id, "the peer registered with us")
        self.rt.bus.publish("platform.registered", platform=platform.public())
        self._follow_up(platform, probe=True)
        self._note_answered(req, token_a)
        return OcpiResult(data=self.server.credentials(chosen, token_c))

    async def _register_peer(
        self, req: OcpiRequest, token_a: str, creds: dict[str, Any], version: str
    ) -> OcpiResult:
        platform = self.platforms.create(
            status="PENDING",
            versions_url=creds["url"],
            peer_token=creds["token"],
            registered_by="peer",
            auth_encoding=default_encoding(version),
            roles=self._roles(creds),
            name=self._peer_name(creds),
            hub_party_id=creds.get("hub_party_id"),
        )
        req.journal_platform_id = platform.id
        try:
            chosen, endpoints = await self._discover(platform, creds["token"], version)
        except RegistrationFailed as exc:
            self.platforms.delete(platform.id)
            raise OcpiError(exc.ocpi_status, exc.public) from None
        token_c = self.rt.ids.token()
        # Token A bound to the platform first: killed before the answer, the peer's repeated
        # POST finds the platform it made (OcpiServer._unanswered_registration), not a new one.
        self.platforms.consume_token_a(token_a, platform.id)
        platform = self.platforms.update(
            platform.id,
            status="REGISTERED",
            version=chosen,
            endpoints=endpoints,
            issued_token=token_c,
        )
        crashpoint.reached("answering-registration")  # registered; the peer has no token C
        self.rt.coverage.flow("registration", platform.id, "the peer registered with us")
        self.rt.bus.publish("platform.registered", platform=platform.public())
        self._follow_up(platform, probe=True)
        self._note_answered(req, token_a)
        return OcpiResult(data=self.server.credentials(chosen, token_c))

    async def receive_put(self, req: OcpiRequest) -> OcpiResult:
        version = req.version
        assert version is not None
        platform = req.platform
        if platform is None or not (platform.registered or self.interrupted(platform)):
            raise OcpiError(
                status.CLIENT_ERROR, "not registered: POST the credentials first", http_status=405
            )
        completes = not platform.registered  # a registration a restart interrupted
        creds = req.parse(_versions().CREDENTIALS_MODEL[version], what="Credentials").dump()
        self._check_peer_credentials(req, creds, platform.id, None, version)
        chosen, endpoints, probe = await self._discover_peer(platform, creds, version)
        token_c = self.rt.ids.token()
        self.platforms.rotate_issued_token(platform.id, token_c, by="peer")
        platform = self.platforms.update(
            platform.id,
            versions_url=creds["url"],
            peer_token=creds["token"],
            version=chosen,
            endpoints=endpoints,
            roles=self._roles(creds),
            name=self._peer_name(creds) or platform.name,
            auth_encoding=probe.auth_encoding,
            hub_party_id=creds.get("hub_party_id"),
            status="REGISTERED",
        )
        if completes:
            self.rt.coverage.flow("registration", platform.id, "the peer completed it (PUT)")
            self.rt.bus.publish("platform.registered", platform=platform.public())
        else:
            self.rt.bus.publish("platform.updated", platform=platform.public())
        self._follow_up(platform)
        return OcpiResult(data=self.server.credentials(chosen, token_c))

    async def receive_delete(self, req: OcpiRequest) -> OcpiResult:
        platform = req.platform
        if platform is None or not platform.registered:
            raise OcpiError(status.CLIENT_ERROR, "not registered", http_status=405)
        self._unregister_locally(platform)
        return OcpiResult(omit_data=True)

    async def receive_get(self, req: OcpiRequest) -> OcpiResult:
        version = req.version
        assert version is not None
        if req.platform is not None:
            if not req.platform.registered or req.token is None:
                raise OcpiError(status.CLIENT_ERROR, "not registered", http_status=405)
            # Our credentials carry the token the peer calls us with: the one it just
            # presented (only its hash is stored).
            return OcpiResult(data=self.server.credentials(version, req.token))
        assert req.token_a is not None
        return OcpiResult(data=self.server.credentials(version, req.token_a))

    def _unregister_locally(self, platform: Platform) -> None:
        self.platforms.update(platform.id, status="UNREGISTERED")
        self.platforms.release_tokens_a(platform.id)
        self.rt.bus.publish("platform.unregistered", platform_id=platform.id)
        for hook in self.on_unregistered:
            hook(platform)

    def _follow_up(self, platform: Platform, *, probe: bool = False) -> None:
        """Run the registration hooks a moment after answering the credentials POST/PUT.

        The peer (the Sender) only finishes its side of the handshake when it reads our
        answer; until then token B is good for versions and credentials only
        (credentials.asciidoc), so pushes (terminals, polls) wait ``followup_delay`` seconds on
        the clock. With ``probe`` (a new registration) the peer's token check is probed first.
        """
        platform_id = platform.id

        async def run() -> None:
            current = self.platforms.get(platform_id)
            if current is not None and current.registered:
                if probe and self.probe_peers:
                    await self.probe_tokens(current)
                await self._run_hooks(self.on_registered, current)

        self.rt.clock.call_later(self.followup_delay, run, name=f"registered-{platform_id}")

    async def _run_hooks(self, hooks: list[Any], platform: Platform) -> None:
        for hook in hooks:
            result = hook(platform)
            if result is not None and hasattr(result, "__await__"):
                await result

    # --- we are the Sender -----------------------------------------------------------------------

    async def register_with(
        self, versions_url: str, token_a: str, version: str | None = None
    ) -> Platform:
        """Register with the peer at ``versions_url`` (we are the Sender of the handshake)."""
        with self.rt.coverage.collect() as ran:
            platform = await self._register_with(versions_url, token_a, version)
        self.rt.coverage.ran(ran, platform.id)
        return platform

    async def _register_with(
        self, versions_url: str, token_a: str, version: str | None = None
    ) -> Platform:
        if version is not None and version not in OCPI_VERSIONS:
            raise RegistrationFailed(
                f"unknown OCPI version {version!r}", status.UNSUPPORTED_VERSION
            )
        for existing in self.platforms.registered():
            if existing.versions_url == versions_url:
                raise RegistrationFailed(
                    f"already registered with {versions_url} (platform {existing.id}); update or "
                    "unregister it first",
                    status.CLIENT_ERROR,
                    platform_id=existing.id,
                )
        for stale in self.platforms.all():
            if stale.versions_url == versions_url and self.interrupted(stale):
                # A registration a restart interrupted, begun again from the start: one
                # platform, not two.
                log.warning("an interrupted registration is begun again", platform=stale.id)
                self.platforms.delete(stale.id)
        platform = self.platforms.create(
            status="PENDING",
            versions_url=versions_url,
            peer_token=token_a,
            registered_by="us",
            auth_encoding="base64",
        )
        self._in_flight.add(platform.id)
        try:
            return await self._register_pending(platform, token_a, version)
        finally:
            self._in_flight.discard(platform.id)

    def interrupted(self, platform: Platform) -> bool:
        """A registration we began and that no handshake of this process is running: the
        emulator stopped during it (after our credentials POST the peer may hold token B,
        with token A spent, while its answer, token C, was lost). The peer completes it with a
        credentials PUT (token B); or the operator unregisters it and registers again."""
        return (
            platform.status == "PENDING"
            and platform.registered_by == "us"
            and platform.id not in self._in_flight
        )

    async def _register_pending(
        self, platform: Platform, token_a: str, version: str | None
    ) -> Platform:
        try:
            chosen, endpoints = await self._discover(platform, token_a, version)
            token_b = self.rt.ids.token()
            platform = self.platforms.update(
                platform.id, version=chosen, endpoints=endpoints, issued_token=token_b
            )
            creds_url = platform.endpoint("credentials")
            assert creds_url is not None
            before_post = self.rt.journal.last_id()
            reply = await self._send_credentials(
                platform, "POST", creds_url, token_a, chosen, token_b
            )
            crashpoint.reached("registering")  # the peer has token B; we do not have its C
            self._check_read_with_token_b(platform, "POST", chosen, before_post, reply)
            theirs = self._accept_credentials(platform, reply, chosen, {token_a, token_b})
        except RegistrationFailed as exc:
            self.platforms.delete(platform.id)
            if exc.no_versions_list:
                self.rt.findings.withdraw(platform.id)
                exc.message += (
                    "; is it the CPO's OCPI versions endpoint? No platform was registered, "
                    "and the report holds nothing of this attempt against one"
                )
            raise
        platform = self.platforms.update(
            platform.id,
            status="REGISTERED",
            peer_token=theirs["token"],
            roles=self._roles(theirs),
            name=self._peer_name(theirs),
            hub_party_id=theirs.get("hub_party_id"),
        )
        self.rt.coverage.flow("registration", platform.id, "we registered with the peer")
        self.rt.bus.publish("platform.registered", platform=platform.public())
        if self.probe_peers:
            spent = token_a if self.probe_spent_token_a else None
            await self.probe_tokens(platform, spent_token_a=spent)
        await self._run_hooks(self.on_registered, platform)
        return platform

    def _check_read_with_token_b(
        self, platform: Platform, method: str, version: str, since_exchange: int, reply: OcpiReply
    ) -> None:
        """Before answering our credentials POST (checklist 5.2 #15) or PUT (#16), the
        Receiver reads our versions and version details with the token B of the request; our
        inbound journal shows whether it did."""
        prefix = self.server.prefix
        wanted = {
            f"{prefix}/versions": "the versions list",
            f"{prefix}/{version}": f"the {version} version details",
        }
        read = {
            str(row["url"]).split("?")[0].rstrip("/")
            for row in self.rt.journal.list(
                platform_id=platform.id, direction="in", since_id=since_exchange, limit=100
            )
            if row["module"] == "versions" and row["status"] == 200
        }
        missing = [what for path, what in wanted.items() if path not in read]
        self.rt.coverage.ran("OCPI-15" if method == "POST" else "OCPI-16", platform.id)
        if missing:
            self.rt.findings.record(
                "OCPI-15" if method == "POST" else "OCPI-16",
                f"the peer answered the credentials {method} without reading "
                f"{' and '.join(missing)} with the token B of the request first",
                platform_id=platform.id,
                exchange_id=reply.exchange_id,
            )

    async def probe_tokens(self, platform: Platform, *, spent_token_a: str | None = None) -> None:
        """Ask the peer's versions endpoint with an unknown token and, if we registered with
        it, with its spent token A: both must get HTTP 401 (checklist 5.1 #2, 5.2 #16)."""
        url = platform.versions_url
        if not url:
            return
        probes: list[tuple[str, RuleId, str]] = [(PROBE_TOKEN, "OCPI-02", "an unknown token")]
        if spent_token_a:
            probes.append(
                (spent_token_a, "OCPI-16b", "its CREDENTIALS_TOKEN_A, spent by the registration")
            )
        for token, rule, what in probes:
            try:
                reply = await self.client.request(
                    "GET",
                    url,
                    token=token,
                    version=platform.version,
                    module="versions",
                    platform=platform,
                )
            except PeerError as exc:
                # Unreachable or no envelope: the client reported that already. The HTTP
                # status of an answer without an envelope is still the one this check reads.
                if not isinstance(exc, PeerProtocolError) or exc.reply is None:
                    self.rt.coverage.not_checked(rule, platform.id, exc.cause())
                    continue
                reply = exc.reply
            self.rt.coverage.ran(rule, platform.id)
            if reply.http_status != 401:
                self.rt.findings.record(
                    rule,
                    f"GET {url} with {what} was answered {reply.describe()}; expected HTTP 401",
                    platform_id=platform.id,
                    exchange_id=reply.exchange_id,
                )

    async def _send_credentials(
        self, platform: Platform, method: str, url: str, token: str, version: str, our_token: str
    ) -> OcpiReply:
        try:
            reply = await self.client.request(
                method,
                url,
                token=token,
                version=version,
                module="credentials",
                platform=platform,
                body=self.server.credentials(version, our_token),
                expect="object",
            )
        except PeerUnreachable as exc:
            raise RegistrationFailed(
                exc.message, status.UNABLE_TO_USE_CLIENT_API, exc.exchange_id, platform.id
            ) from None
        except PeerError as exc:
            raise RegistrationFailed(
                exc.message, status.UNABLE_TO_USE_CLIENT_API, exc.exchange_id, platform.id
            ) from None
        if not reply.ok:
            self._note_refusal(platform, method, reply, version)
            code = reply.status_code or status.UNABLE_TO_USE_CLIENT_API
            raise RegistrationFailed(
                f"{method} {url} answered {reply.describe()}", code, reply.exchange_id, platform.id
            )
        return reply

    def _note_refusal(
        self, platform: Platform, method: str, reply: OcpiReply, version: str
    ) -> None:
        """Findings for a peer that refuses our credentials POST or PUT."""
        pid, ex = platform.id, reply.exchange_id
        if method == "PUT":
            self.rt.findings.record(
                "OCPI-16",
                f"the peer refused the credentials PUT of a registered platform "
                f"({reply.describe()}); a PUT updates the registration and returns a new token",
                platform_id=pid,
                exchange_id=ex,
            )
        role = self.server.identity.role
        enum = _versions().ROLE_ENUM.get(version)
        code = reply.status_code
        if enum and role not in enum and code is not None and 2000 <= code < 3000:
            # Checklist 5.2 #19: 2.2.1/2.3.0 Role has no PTP; the peer may insist on its enum.
            self.rt.findings.record(
                "OCPI-19",
                f"the peer refused our Credentials ({reply.describe()}); they carry role "
                f"{role!r}, which the OCPI {version} Role enum does not list; the peer may "
                "insist on its enum (use the default --role EMSP, or --role OTHER)",
                platform_id=pid,
                exchange_id=ex,
            )

    def _accept_credentials(
        self,
        platform: Platform,
        reply: OcpiReply,
        version: str,
        not_equal: set[str],
        reuse_rule: RuleId = "OCPI-15",
    ) -> dict[str, Any]:
        model = _versions().CREDENTIALS_MODEL[version]
        pid, ex = platform.id, reply.exchange_id
        with collect_notes() as notes:
            try:
                creds = validate_peer_object(model, reply.data).dump()
            except ValidationError as exc:
                summary = self._invalid(exc, "OCPI-15", f"{version} Credentials", pid, ex)
                raise RegistrationFailed(
                    f"the peer answered with invalid Credentials: {summary}",
                    status.UNABLE_TO_USE_CLIENT_API,
                    ex,
                    pid,
                ) from None
        for n in notes:
            self.rt.findings.record(
                n.rule, f"Credentials: {n.message}", platform_id=pid, exchange_id=ex
            )
        self.rt.coverage.ran(reuse_rule, pid)
        if creds["token"] in not_equal:
            self.rt.findings.record(
                reuse_rule,
                "the returned token C equals a token already "
                "exchanged; the receiver must generate a new one",
                platform_id=pid,
                exchange_id=ex,
                pointer="/data/token",
            )
        self._check_peer_credentials(None, creds, pid, ex, version)
        return creds

    async def update(self, platform: Platform, version: str | None = None) -> Platform:
        """PUT our credentials to the peer: re-read its endpoints, rotate both tokens."""
        with self.rt.coverage.scope(platform.id):
            return await self._update(platform, version)

    async def _update(self, platform: Platform, version: str | None = None) -> Platform:
        if not platform.registered or not platform.peer_token:
            raise RegistrationFailed(
                f"platform {platform.id} is not registered",
                status.CLIENT_ERROR,
                platform_id=platform.id,
            )
        chosen, endpoints = await self._discover(platform, platform.peer_token, version)
        new_b = self.rt.ids.token()
        before = self.platforms.issued_token_columns(platform.id)
        # The peer re-reads our endpoints with the new token while it handles the PUT.
        platform = self.platforms.rotate_issued_token(platform.id, new_b, by="us")
        creds_url = next(ep["url"] for ep in endpoints if ep["identifier"] == "credentials")
        try:
            before_put = self.rt.journal.last_id()
            reply = await self._send_credentials(
                platform, "PUT", creds_url, platform.peer_token or "", chosen, new_b
            )
            self._check_read_with_token_b(platform, "PUT", chosen, before_put, reply)
            theirs = self._accept_credentials(
                platform, reply, chosen, {platform.peer_token or "", new_b}, reuse_rule="OCPI-16"
            )
        except RegistrationFailed:
            self.platforms.update(platform.id, **before)
            raise
        platform = self.platforms.update(
            platform.id,
            version=chosen,
            endpoints=endpoints,
            peer_token=theirs["token"],
            roles=self._roles(theirs),
            name=self._peer_name(theirs) or platform.name,
        )
        self.rt.bus.publish("platform.updated", platform=platform.public())
        await self._run_hooks(self.on_registered, platform)
        return platform

    async def unregister(self, platform: Platform) -> tuple[Platform, str | None]:
        """DELETE our credentials at the peer, then forget it. Returns a warning if any."""
        warning = None
        url = platform.endpoint("credentials")
        if platform.registered and url and platform.peer_token:
            try:
                reply = await self.client.request(
                    "DELETE",
                    url,
                    token=platform.peer_token,
                    version=platform.version,
                    module="credentials",
                    platform=platform,
                )
                if not reply.ok:
                    warning = f"the peer answered the DELETE with {reply.describe()}"
                    self.rt.findings.record(
                        "OCPI-16",
                        f"the peer refused the credentials DELETE of a registered platform "
                        f"({reply.describe()}); DELETE unregisters",
                        platform_id=platform.id,
                        exchange_id=reply.exchange_id,
                    )
            except PeerError as exc:
                warning = f"the peer could not be told: {exc.message}"
        self._unregister_locally(platform)
        updated = self.platforms.get(platform.id)
        assert updated is not None
        return updated, warning
