"""The vault's keyed hashes: the same for a secret whether made now or kept from before,
different per key and per secret, and a bounded number kept."""

from __future__ import annotations

import hashlib
import hmac

from emulator.vault import Vault


def reference(key: bytes, secret: str) -> str:
    digest_key = hmac.new(key, b"payter-emulator digest", hashlib.sha256).digest()
    return hmac.new(digest_key, secret.encode(), hashlib.sha256).hexdigest()


def test_a_digest_is_the_keyed_hash_made_or_kept() -> None:
    vault, other = Vault(b"k" * 32), Vault(b"j" * 32)
    first = vault.digest("token-c-1")
    assert first == vault.digest("token-c-1") == reference(b"k" * 32, "token-c-1")
    assert other.digest("token-c-1") != first
    assert vault.digest("token-c-2") != first
    assert vault.matches("token-c-1", first) and not vault.matches("token-c-2", first)


def test_at_most_so_many_digests_are_kept() -> None:
    vault = Vault(b"k" * 32)
    for i in range(Vault.DIGESTS_KEPT * 3):
        assert vault.digest(f"token-{i}") == reference(b"k" * 32, f"token-{i}")
        assert len(vault._digests) <= Vault.DIGESTS_KEPT
