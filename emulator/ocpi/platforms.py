"""Registered peer platforms and the credentials tokens that identify them.

Per platform, two tokens (credentials.asciidoc):

* ``peer_token``: the token *we* present when calling the peer (token B when the peer
  registered with us, token C when we registered with the peer; token A while a handshake we
  started is under way). We must send it again, so it is stored encrypted
  (:meth:`emulator.vault.Vault.seal`) and opened when the platform is read.
* ``issued_token``: the token the *peer* presents when calling us (the one we generated). We
  only verify it, so only its keyed hash is stored (and its first characters, for display).

Tokens A are verified only, too: stored as keyed hashes. Look-ups go by the keyed hash of the
presented token (indexed, O(1)); a copied database file hands out no token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict, cast

from emulator import logs
from emulator.ocpi.types import format_datetime
from emulator.runtime import Runtime
from emulator.store import TableSpec
from emulator.vault import SealError, Vault, hint, is_sealed

log = logs.get_logger("emulator.ocpi.platforms")

PLATFORMS = TableSpec(
    name="platforms",
    columns={
        "id": int,
        "name": str,
        "status": str,  # PENDING | REGISTERED | UNREGISTERED | FAILED
        "version": str,
        "versions_url": str,
        "peer_token": str,  # sealed (encrypted)
        "peer_token_hash": str,  # keyed hash
        "peer_token_hint": str,
        "issued_token": str,  # no longer written: only its keyed hash is kept
        "issued_token_hash": str,
        "issued_token_hint": str,
        # The issued token a credentials PUT replaced, and who made that PUT ("peer" | "us"):
        # a peer still presenting it gets a clear 401 and a finding.
        "previous_token_hash": str,
        "rotated_by": str,
        "roles": str,
        "endpoints": str,
        "hub_party_id": str,
        "auth_encoding": str,  # how we encode peer_token: base64 | raw
        "peer_auth_seen": str,  # how the peer encoded its last request to us
        "registered_by": str,  # "peer" (it POSTed to us) | "us" (we POSTed to it)
        "created_at": str,
        "updated_at": str,
    },
    json_columns=frozenset({"roles", "endpoints"}),
    indexes=(("issued_token_hash",), ("previous_token_hash",), ("peer_token_hash",)),
)

TOKENS_A = TableSpec(
    name="tokens_a",
    columns={
        "token_hash": str,  # keyed hash
        "token": str,  # no longer written
        "token_hint": str,
        "label": str,
        "fixed": int,
        "created_at": str,
        "used_at": str,
        "platform_id": int,
        # When the answer of the registration that used it was written: until then the peer
        # may never have had its token C, and may POST again with this token A.
        "answered_at": str,
    },
    pk="token_hash",
)


class TokenA(TypedDict):
    """A CREDENTIALS_TOKEN_A this server handed out (``tokens_a``): only its keyed hash."""

    token_hash: str
    token: str | None  # no longer written
    token_hint: str | None
    label: str | None
    fixed: int
    created_at: str
    used_at: str | None
    platform_id: int | None  # the platform whose registration used it
    answered_at: NotRequired[str | None]  # when that registration's answer was written


@dataclass
class Platform:
    id: int
    name: str | None
    status: str
    version: str | None
    versions_url: str | None
    peer_token: str | None
    # What is shown of the token the peer calls us with (the token itself is not kept).
    issued_token_hint: str | None
    roles: list[dict[str, Any]] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    hub_party_id: str | None = None
    auth_encoding: str = "base64"
    peer_auth_seen: str | None = None
    registered_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], vault: Vault) -> Platform:
        peer_token = row.get("peer_token")
        if peer_token and is_sealed(peer_token):
            try:
                peer_token = vault.open(peer_token)
            except SealError as exc:
                log.error(
                    "cannot read the token to call the peer with",
                    platform=row["id"],
                    error=str(exc),
                )
                peer_token = None
        return cls(
            id=row["id"],
            name=row.get("name"),
            status=row["status"],
            version=row.get("version"),
            versions_url=row.get("versions_url"),
            peer_token=peer_token,
            issued_token_hint=row.get("issued_token_hint"),
            roles=row.get("roles") or [],
            endpoints=row.get("endpoints") or [],
            hub_party_id=row.get("hub_party_id"),
            auth_encoding=row.get("auth_encoding") or "base64",
            peer_auth_seen=row.get("peer_auth_seen"),
            registered_by=row.get("registered_by"),
            created_at=row.get("created_at"),
            updated_at=row.get("updated_at"),
        )

    @property
    def registered(self) -> bool:
        return self.status == "REGISTERED"

    def endpoint(self, module: str, role: str | None = None) -> str | None:
        """URL of the peer's ``module`` endpoint (with the given interface role if 2.2+)."""
        for ep in self.endpoints:
            if ep.get("identifier") != module:
                continue
            if role is None or ep.get("role") is None or ep.get("role") == role:
                return str(ep["url"])
        return None

    def owns(self, country_code: str | None, party_id: str | None) -> bool:
        """Whether (country_code, party_id) is one of the peer's CredentialsRoles."""
        if country_code is None or party_id is None:
            return False
        return any(
            str(r.get("country_code", "")).upper() == country_code.upper()
            and str(r.get("party_id", "")).upper() == party_id.upper()
            for r in self.roles
        )

    def primary_role(self, prefer: str | None = None) -> dict[str, Any] | None:
        if prefer:
            for r in self.roles:
                if r.get("role") == prefer:
                    return r
        return self.roles[0] if self.roles else None

    def public(self) -> dict[str, Any]:
        """What the control API shows: tokens redacted to their first characters."""
        from emulator.redact import redact_secret

        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "version": self.version,
            "versions_url": self.versions_url,
            "roles": self.roles,
            "endpoints": self.endpoints,
            "hub_party_id": self.hub_party_id,
            "registered_by": self.registered_by,
            "auth_encoding": self.auth_encoding,
            "peer_auth_seen": self.peer_auth_seen,
            "peer_token": redact_secret(self.peer_token) if self.peer_token else None,
            "issued_token": self.issued_token_hint,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


# Columns holding a keyed hash a presented token is looked up by.
_HASH_COLUMNS = ("issued_token_hash", "previous_token_hash", "peer_token_hash")


class _Cache:
    """Every platform row, decoded once (its peer token opened once): every request is
    authenticated by its token, and platforms change only when one registers, updates or
    unregisters. Each hash column is indexed by its value; the final comparison with the
    stored verifier stays constant-time (:meth:`Platforms._by_hash`)."""

    def __init__(self, rows: list[dict[str, Any]], vault: Vault) -> None:
        self.rows = {int(r["id"]): r for r in rows}
        self.platforms = {pid: Platform.from_row(r, vault) for pid, r in self.rows.items()}
        self.by_hash: dict[str, dict[str, int]] = {c: {} for c in _HASH_COLUMNS}
        for pid, row in self.rows.items():
            for column in _HASH_COLUMNS:
                value = row.get(column)
                # The first platform by id wins, as the ordered query did.
                if value and value not in self.by_hash[column]:
                    self.by_hash[column][str(value)] = pid


class Platforms:
    """The platforms this node knows and the tokens A it accepts. Reads of platforms come
    from an in-memory copy of the table (:class:`_Cache`), dropped on every write made here
    and on a reset of the store; nothing else writes the table."""

    def __init__(self, rt: Runtime, fixed_token_a: str | None) -> None:
        self.rt = rt
        self.store = rt.store
        self.vault = rt.vault
        self.fixed_token_a = fixed_token_a
        self._cached: _Cache | None = None
        self.store.register(PLATFORMS, TOKENS_A)
        self.store.reset_listeners.append(self._forget)
        self._protect_stored()
        self.ensure_fixed_token_a()

    def _forget(self) -> None:
        self._cached = None

    def _cache(self) -> _Cache:
        cache = self._cached
        if cache is None:
            cache = _Cache(self.store.rows("platforms", order_by="id"), self.vault)
            # Rows read inside a transaction may yet be rolled back: not kept.
            if not self.store.db.conn.in_transaction:
                self._cached = cache
        return cache

    @staticmethod
    def _copy(platform: Platform) -> Platform:
        """What a caller gets: its own object (a caller may set a field on it); a shallow
        copy, as copy.copy makes, without its generic protocol (several per request)."""
        twin = object.__new__(Platform)
        twin.__dict__.update(platform.__dict__)
        return twin

    def _now(self) -> str:
        return format_datetime(self.rt.now())

    def _protect_stored(self) -> None:
        """Tokens a database from before kept as they were: hashed or sealed now."""
        for row in self.store.rows("tokens_a", "token is not null"):
            token = row["token"]
            with self.store.atomic():
                self.store.delete("tokens_a", row["token_hash"])
                self.store.insert(
                    "tokens_a",
                    {
                        **row,
                        "token_hash": self.vault.digest(token),
                        "token": None,
                        "token_hint": hint(token),
                    },
                )
        for row in self.store.rows(
            "platforms",
            "issued_token is not null or (peer_token is not null and peer_token not like 'v1:%')",
        ):
            changes = self._protect(
                {
                    k: row[k]
                    for k in ("issued_token", "peer_token")
                    if row.get(k) and not is_sealed(row[k])
                }
            )
            # The old previous-token hash was unkeyed: it cannot be compared any more.
            changes["previous_token_hash"] = None
            self.store.update("platforms", row["id"], changes)
        self._forget()

    # --- tokens A --------------------------------------------------------------------------

    def ensure_fixed_token_a(self) -> None:
        # A fixed token A from an earlier --token-a that no platform used is revoked: changing
        # the setting must not leave the old value valid in a kept database.
        current = self.vault.digest(self.fixed_token_a) if self.fixed_token_a else ""
        self.store.delete_where(
            "tokens_a", "fixed = 1 and used_at is null and token_hash != ?", [current]
        )
        if self.fixed_token_a and self.store.get("tokens_a", current) is None:
            self.store.insert(
                "tokens_a",
                {
                    "token_hash": current,
                    "token_hint": hint(self.fixed_token_a),
                    "label": "fixed (settings)",
                    "fixed": 1,
                    "created_at": self._now(),
                },
            )

    def mint_token_a(self, label: str | None = None) -> str:
        token = self.rt.ids.token()
        self.store.insert(
            "tokens_a",
            {
                "token_hash": self.vault.digest(token),
                "token_hint": hint(token),
                "label": label,
                "fixed": 0,
                "created_at": self._now(),
            },
        )
        return token

    def token_a(self, presented: str) -> TokenA | None:
        """The unused token A matching ``presented``, if any (keyed hash, constant time)."""
        digest = self.vault.digest(presented)
        row = cast("TokenA | None", self.store.get("tokens_a", digest))
        if row is None or row.get("used_at"):
            return None
        if not hmac.compare_digest(row["token_hash"], digest):
            return None
        return row

    def spent_token_a(self, presented: str) -> TokenA | None:
        """The token A matching ``presented`` if a registration already used it."""
        row = cast("TokenA | None", self.store.get("tokens_a", self.vault.digest(presented)))
        return row if row is not None and row.get("used_at") else None

    def consume_token_a(self, presented: str, platform_id: int) -> None:
        self.store.update(
            "tokens_a",
            self.vault.digest(presented),
            {"used_at": self._now(), "platform_id": platform_id},
        )

    def mark_answered(self, presented: str) -> None:
        """The answer of the registration that used token A ``presented`` was written."""
        self.store.update("tokens_a", self.vault.digest(presented), {"answered_at": self._now()})

    def release_tokens_a(self, platform_id: int) -> None:
        """Re-arm the fixed token A when the platform that used it is unregistered."""
        for row in self.store.rows("tokens_a", "platform_id = ? and fixed = 1", [platform_id]):
            self.store.update("tokens_a", row["token_hash"], {"used_at": None, "platform_id": None})

    # --- platforms -------------------------------------------------------------------------

    def _by_hash(self, column: str, presented: str) -> int | None:
        """The id of the platform whose ``column`` is the keyed hash of ``presented``."""
        digest = self.vault.digest(presented)
        cache = self._cache()
        platform_id = cache.by_hash[column].get(digest)
        if platform_id is None:
            return None
        stored = cache.rows[platform_id][column]
        if not hmac.compare_digest(str(stored), digest):
            return None
        return platform_id

    def by_issued_token(self, presented: str) -> Platform | None:
        platform_id = self._by_hash("issued_token_hash", presented)
        return self.get(platform_id) if platform_id is not None else None

    def by_previous_token(self, presented: str) -> tuple[Platform, str | None] | None:
        """The platform whose issued token ``presented`` was before a credentials PUT, and who
        made that PUT."""
        platform_id = self._by_hash("previous_token_hash", presented)
        platform = self.get(platform_id) if platform_id is not None else None
        if platform is None:
            return None
        return platform, self._cache().rows[platform.id].get("rotated_by")

    def by_peer_token(self, presented: str) -> Platform | None:
        """The platform we call with ``presented``: a peer presenting it to us is using the
        wrong one of the pair (its own token instead of ours)."""
        platform_id = self._by_hash("peer_token_hash", presented)
        return self.get(platform_id) if platform_id is not None else None

    def get(self, platform_id: int) -> Platform | None:
        platform = self._cache().platforms.get(platform_id)
        return self._copy(platform) if platform is not None else None

    def all(self) -> list[Platform]:
        return [self._copy(p) for p in self._cache().platforms.values()]

    def registered(self) -> list[Platform]:
        return [p for p in self.all() if p.registered]

    def create(self, **fields: Any) -> Platform:
        now = self._now()
        row = self._protect({"created_at": now, "updated_at": now, **fields})
        platform_id = self.store.insert("platforms", row)
        self._forget()
        assert platform_id is not None
        platform = self.get(platform_id)
        assert platform is not None
        return platform

    def update(self, platform_id: int, **fields: Any) -> Platform:
        fields = self._protect(fields)
        fields["updated_at"] = self._now()
        self.store.update("platforms", platform_id, fields)
        self._forget()
        platform = self.get(platform_id)
        assert platform is not None
        return platform

    def issued_token_columns(self, platform_id: int) -> dict[str, Any]:
        """What is stored of the issued token (to put it back after a failed PUT)."""
        row = self._cache().rows.get(platform_id) or {}
        return {
            k: row.get(k)
            for k in ("issued_token_hash", "issued_token_hint", "previous_token_hash", "rotated_by")
        }

    def rotate_issued_token(self, platform_id: int, new_token: str, by: str) -> Platform:
        """Replace the token the peer calls us with (credentials PUT, either side), keeping the
        hash of the old one to explain a 401 to a peer that still presents it."""
        previous = self.issued_token_columns(platform_id)["issued_token_hash"]
        return self.update(
            platform_id, issued_token=new_token, previous_token_hash=previous, rotated_by=by
        )

    def delete(self, platform_id: int) -> None:
        self.store.delete("platforms", platform_id)
        self._forget()

    def _protect(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The stored form of the tokens among ``fields``: the issued token as a keyed hash
        (and a hint), the peer token sealed (and its keyed hash, to recognise it)."""
        out = dict(fields)
        if "issued_token" in out:
            token = out.pop("issued_token")
            out["issued_token"] = None
            out["issued_token_hash"] = self.vault.digest(token) if token else None
            out["issued_token_hint"] = hint(token) if token else None
        if "peer_token" in out:
            token = out["peer_token"]
            out["peer_token"] = self.vault.seal(token) if token else None
            out["peer_token_hash"] = self.vault.digest(token) if token else None
            out["peer_token_hint"] = hint(token) if token else None
        return out
