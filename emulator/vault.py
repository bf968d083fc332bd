"""How the secrets the emulator keeps are stored, so that a copied database file hands out none.

Two kinds of secret, two treatments:

* **Verified only** — tokens peers present to the emulator (token A, the token C/B it issued),
  the CPS API keys and exchange tokens it checks: stored as a keyed hash (HMAC-SHA256), looked
  up by that hash and compared in constant time. The secret itself is never stored.
* **Sent again** — the token the emulator presents when it calls a peer (token B/C it was given),
  and a minted CPS API key that ``GET /apikey?token=`` hands out: the emulator must recover
  them, so they are encrypted (AES-GCM).

Both use a key that is not in the database: the ``secrets_key`` setting, else a random key in
a file next to the database (``<db>.key``, readable by its owner only, created on the first
start), else (an in-memory database) a random key for the life of the process. What is kept
for display is the first four characters of a secret, as every view shows it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
from pathlib import Path

from emulator.redact import redact_secret

SEALED_PREFIX = "v1:"
_KEY_BYTES = 32


class SealError(ValueError):
    """A sealed value that this key cannot open (the key changed, or the value is damaged)."""


class Vault:
    def __init__(self, key: bytes) -> None:
        self._digest_key = hmac.new(key, b"payter-emulator digest", hashlib.sha256).digest()
        self._seal_key = hmac.new(key, b"payter-emulator seal", hashlib.sha256).digest()
        self._digests: dict[str, str] = {}

    @classmethod
    def for_database(cls, db: str, secret: str | None = None) -> Vault:
        return cls(load_key(db, secret))

    # --- verified only ---

    # Presented secrets whose digest was made lately (a peer presents the same token on every
    # request): at most this many kept, in memory only.
    DIGESTS_KEPT = 256

    def digest(self, secret: str) -> str:
        """The keyed hash a secret is stored and looked up by."""
        kept = self._digests.get(secret)
        if kept is None:
            kept = hmac.digest(self._digest_key, secret.encode("utf-8"), "sha256").hex()
            if len(self._digests) >= self.DIGESTS_KEPT:
                self._digests.clear()
            self._digests[secret] = kept
        return kept

    def matches(self, secret: str, digest: str | None) -> bool:
        """Whether ``secret`` is the one ``digest`` was made of (constant time)."""
        return digest is not None and hmac.compare_digest(self.digest(secret), digest)

    # --- sent again ---

    def seal(self, secret: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        sealed = AESGCM(self._seal_key).encrypt(nonce, secret.encode("utf-8"), None)
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not is_sealed(sealed):
            raise SealError("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(SEALED_PREFIX) :].encode("ascii"))
            plain = AESGCM(self._seal_key).decrypt(raw[:12], raw[12:], None)
        except (InvalidTag, ValueError) as exc:
            raise SealError("this key cannot open it (the secrets key changed?)") from exc
        return plain.decode("utf-8")


def is_sealed(value: str | None) -> bool:
    return bool(value) and str(value).startswith(SEALED_PREFIX)


def hint(secret: str) -> str:
    """What is kept of a secret for display: its first characters."""
    return redact_secret(secret)


def key_file(db: str) -> Path:
    return Path(db).with_name(Path(db).name + ".key")


def load_key(db: str, secret: str | None = None) -> bytes:
    """The key: from the setting, else from (or into) ``<db>.key``; random for ``:memory:``."""
    if secret:
        return hashlib.sha256(b"payter-emulator:" + secret.encode("utf-8")).digest()
    if db == ":memory:" or not db:
        return os.urandom(_KEY_BYTES)
    path = key_file(db)
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    key = os.urandom(_KEY_BYTES)
    try:
        # Created exclusively, owner-only, before anything is written into it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return _read_key(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")
    return key


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    key = base64.urlsafe_b64decode(text.encode("ascii"))
    if len(key) != _KEY_BYTES:
        raise ValueError(f"{path}: not a secrets key ({len(key)} bytes)")
    return key
