"""CPS API keys: who may call the API, and which terminals each key sees.

Payter authenticates every CPS call with ``Authorization: CPS apikey="<key>"`` (payter.md
§3.2); one key sees the terminals of its domain. Here a key sees every CPS terminal unless it
was minted for some serial numbers. The fixed key (setting ``cps_api_key``) sees them all so
that CI can script against a known value; more keys come from ``POST /__admin/cps/api-keys``.

Payter's ApiKey endpoint ("Get an apikey with a token") is not public; the emulator's shape is
``GET /apikey?token=<token>``: every key has an exchange token (the fixed key's is the setting
``cps_apikey_token``).

Stored (emulator/vault.py): a minted key as its keyed hash (what authentication looks up, in
constant time) and sealed (``GET /apikey`` hands it out again); its exchange token as a keyed
hash only. A key's ``id`` (its keyed hash) is what other tables refer to.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emulator.datetimes import format_datetime
from emulator.redact import redact_secret
from emulator.runtime import Runtime
from emulator.store import TableSpec
from emulator.vault import SealError, hint

CPS_KEYS = TableSpec(
    name="cps_keys",
    columns={
        "key_hash": str,
        "key_sealed": str,
        "key_hint": str,
        "token_hash": str,
        "label": str,
        "serial_numbers": str,
        "created_at": str,
    },
    pk="key_hash",
    json_columns=frozenset({"serial_numbers"}),
    unique_indexes=(("token_hash",),),
)
# Where keys were kept in full before (read once, moved into cps_keys, emptied).
LEGACY_TABLE = "cps_api_keys"

# `CPS apikey="<key>"` (Payter's curl examples, §3.2); an unquoted value is tolerated.
_HEADER_RE = re.compile(r'^\s*CPS\s+apikey\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>\S+))\s*$', re.I)


@dataclass(frozen=True)
class ApiKey:
    id: str  # the key's keyed hash: what is stored and referred to
    serial_numbers: frozenset[str] | None  # None: every terminal
    label: str | None = None
    fixed: bool = False

    def sees(self, serial_number: str) -> bool:
        return self.serial_numbers is None or serial_number in self.serial_numbers


def parse_authorization(header: str | None) -> str | None:
    """The key in ``CPS apikey="<key>"``, or None when the header is absent or malformed."""
    if not header:
        return None
    match = _HEADER_RE.match(header)
    if not match:
        return None
    return match.group("quoted") if match.group("quoted") is not None else match.group("bare")


class ApiKeys:
    def __init__(self, rt: Runtime, *, fixed_key: str | None, fixed_token: str | None) -> None:
        self.rt = rt
        self.vault = rt.vault
        self._fixed_key = fixed_key or None
        self.fixed = (
            ApiKey(self.vault.digest(fixed_key), None, "fixed (settings)", fixed=True)
            if fixed_key
            else None
        )
        self.fixed_token = fixed_token or None
        rt.store.register(CPS_KEYS)
        self._migrate()
        self._cache: dict[str, ApiKey] = {}
        rt.reset_hooks.append(self._cache.clear)

    def _migrate(self) -> None:
        """Keys a database from before kept in full: hashed and sealed now."""
        legacy = self.rt.store.db.table(LEGACY_TABLE)
        if not legacy.exists():
            return
        for row in list(legacy.rows):
            self.rt.store.upsert(
                CPS_KEYS.name,
                {
                    "key_hash": self.vault.digest(row["apikey"]),
                    "key_sealed": self.vault.seal(row["apikey"]),
                    "key_hint": hint(row["apikey"]),
                    "token_hash": self.vault.digest(row["token"]) if row.get("token") else None,
                    "label": row.get("label"),
                    "serial_numbers": json.loads(row["serial_numbers"])
                    if row.get("serial_numbers")
                    else None,
                    "created_at": row.get("created_at"),
                },
            )
        legacy.drop()

    def key_id(self, apikey: str) -> str:
        return self.vault.digest(apikey)

    def authenticate(self, header: str | None) -> ApiKey | None:
        presented = parse_authorization(header)
        if not presented:
            return None
        key_id = self.vault.digest(presented)
        if self.fixed is not None and hmac.compare_digest(key_id, self.fixed.id):
            return self.fixed
        return self.get(key_id)

    def get(self, key_id: str) -> ApiKey | None:
        """The key whose id (keyed hash) is ``key_id``; the fixed key too."""
        if self.fixed is not None and hmac.compare_digest(key_id, self.fixed.id):
            return self.fixed
        key = self._cache.get(key_id)
        if key is not None:
            return key
        row = self.rt.store.get(CPS_KEYS.name, key_id)
        if row is None or not hmac.compare_digest(row["key_hash"], key_id):
            return None
        key = self._from_row(row)
        self._cache[key_id] = key
        return key

    def exchange(self, token: str) -> str | None:
        """``GET /apikey?token=``: the key a token stands for."""
        if self.fixed is not None and self.fixed_token and self._fixed_key:
            if hmac.compare_digest(token.encode(), self.fixed_token.encode()):
                return self._fixed_key
        digest = self.vault.digest(token)
        row = self.rt.store.first(CPS_KEYS.name, "token_hash = ?", [digest])
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            return None
        try:
            return self.vault.open(row["key_sealed"])
        except SealError:
            return None

    def mint(
        self, serial_numbers: Sequence[str] | None = None, label: str | None = None
    ) -> dict[str, Any]:
        apikey = self.rt.ids.hex(16)  # 32 hex characters, like Payter's keys
        token = self.rt.ids.hex(16)
        serials = sorted(set(serial_numbers)) if serial_numbers is not None else None
        self.rt.store.insert(
            CPS_KEYS.name,
            {
                "key_hash": self.vault.digest(apikey),
                "key_sealed": self.vault.seal(apikey),
                "key_hint": hint(apikey),
                "token_hash": self.vault.digest(token),
                "label": label,
                "serial_numbers": serials,
                "created_at": format_datetime(self.rt.now()),
            },
        )
        # The only time the key and its token are shown in full.
        return {"apikey": apikey, "token": token, "serial_numbers": serials, "label": label}

    def all(self) -> list[ApiKey]:
        keys = [self.fixed] if self.fixed is not None else []
        rows = self.rt.store.rows(CPS_KEYS.name, order_by="created_at")
        return keys + [self._from_row(row) for row in rows]

    def listing(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.fixed is not None and self._fixed_key:
            out.append(
                {
                    "apikey": redact_secret(self._fixed_key),
                    "label": self.fixed.label,
                    "serial_numbers": None,
                    "fixed": True,
                    "created_at": None,
                }
            )
        for row in self.rt.store.rows(CPS_KEYS.name, order_by="created_at"):
            out.append(
                {
                    "apikey": row["key_hint"],
                    "label": row["label"],
                    "serial_numbers": row["serial_numbers"],
                    "fixed": False,
                    "created_at": row["created_at"],
                }
            )
        return out

    @staticmethod
    def _from_row(row: dict[str, Any]) -> ApiKey:
        serials = row.get("serial_numbers")
        return ApiKey(
            row["key_hash"],
            frozenset(serials) if serials is not None else None,
            row.get("label"),
        )
