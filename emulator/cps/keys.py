"""CPS API keys: who may call the API, and which terminals each key sees.

Payter authenticates every CPS call with ``Authorization: CPS apikey="<key>"`` (payter.md
§3.2); one key sees the terminals of its domain. Here a key sees every CPS terminal unless it
was minted for some serial numbers. The fixed key (setting ``cps_api_key``) sees them all so
that CI can script against a known value; more keys come from ``POST /__admin/cps/api-keys``.

Payter's ApiKey endpoint ("Get an apikey with a token") is not public; the emulator's shape is
``GET /apikey?token=<token>``: every key has an exchange token (the fixed key's is the setting
``cps_apikey_token``).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emulator.datetimes import format_datetime
from emulator.runtime import Runtime
from emulator.store import TableSpec

CPS_API_KEYS = TableSpec(
    name="cps_api_keys",
    columns={
        "apikey": str,
        "token": str,
        "label": str,
        "serial_numbers": str,
        "created_at": str,
    },
    pk="apikey",
    json_columns=frozenset({"serial_numbers"}),
    unique_indexes=(("token",),),
)

# `CPS apikey="<key>"` (Payter's curl examples, §3.2); an unquoted value is tolerated.
_HEADER_RE = re.compile(r'^\s*CPS\s+apikey\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>\S+))\s*$', re.I)


@dataclass(frozen=True)
class ApiKey:
    apikey: str
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
        self.fixed = ApiKey(fixed_key, None, "fixed (settings)", fixed=True) if fixed_key else None
        self.fixed_token = fixed_token or None
        rt.store.register(CPS_API_KEYS)
        self._cache: dict[str, ApiKey] = {}
        rt.reset_hooks.append(self._cache.clear)

    def authenticate(self, header: str | None) -> ApiKey | None:
        presented = parse_authorization(header)
        if not presented:
            return None
        if self.fixed is not None and hmac.compare_digest(
            presented.encode(), self.fixed.apikey.encode()
        ):
            return self.fixed
        return self.get(presented)

    def get(self, apikey: str) -> ApiKey | None:
        key = self._cache.get(apikey)
        if key is not None:
            return key
        row = self.rt.store.get(CPS_API_KEYS.name, apikey)
        if row is None:
            return None
        key = self._from_row(row)
        self._cache[apikey] = key
        return key

    def exchange(self, token: str) -> str | None:
        """``GET /apikey?token=``: the key a token stands for."""
        if self.fixed is not None and self.fixed_token:
            if hmac.compare_digest(token.encode(), self.fixed_token.encode()):
                return self.fixed.apikey
        row = self.rt.store.first(CPS_API_KEYS.name, "token = ?", [token])
        return row["apikey"] if row else None

    def mint(
        self, serial_numbers: Sequence[str] | None = None, label: str | None = None
    ) -> dict[str, Any]:
        apikey = self.rt.ids.hex(16)  # 32 hex characters, like Payter's keys
        token = self.rt.ids.hex(16)
        serials = sorted(set(serial_numbers)) if serial_numbers is not None else None
        self.rt.store.insert(
            CPS_API_KEYS.name,
            {
                "apikey": apikey,
                "token": token,
                "label": label,
                "serial_numbers": serials,
                "created_at": format_datetime(self.rt.now()),
            },
        )
        return {"apikey": apikey, "token": token, "serial_numbers": serials, "label": label}

    def all(self) -> list[ApiKey]:
        keys = [self.fixed] if self.fixed is not None else []
        rows = self.rt.store.rows(CPS_API_KEYS.name, order_by="created_at")
        return keys + [self._from_row(row) for row in rows]

    def listing(self) -> list[dict[str, Any]]:
        from emulator.redact import redact_secret

        out: list[dict[str, Any]] = []
        if self.fixed is not None:
            out.append(
                {
                    "apikey": self.fixed.apikey,
                    "label": self.fixed.label,
                    "serial_numbers": None,
                    "fixed": True,
                    "created_at": None,
                }
            )
        for row in self.rt.store.rows(CPS_API_KEYS.name, order_by="created_at"):
            out.append(
                {
                    "apikey": redact_secret(row["apikey"]),
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
            row["apikey"],
            frozenset(serials) if serials is not None else None,
            row.get("label"),
        )
