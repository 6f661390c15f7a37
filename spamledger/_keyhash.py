"""Keyed number hashes: the only form in which a phone number reaches the chain or IPFS.

A plain hash of a phone number is brute-forced in minutes (the space is ~10^10 per
country), so the key is HMAC-SHA256 of the E.164 string under the consortium secret.
The secret is configured (``SPAMLEDGER_CONSORTIUM_SECRET``), never committed or logged.

Example::

    hasher = NumberHasher(os.environ["SPAMLEDGER_CONSORTIUM_SECRET"])
    key = hasher.key("+14155550123")   # 32 bytes, bytes32 on-chain
"""

from __future__ import annotations

import hashlib
import hmac

from spamledger._errors import SpamLedgerError

# 128 bits: below that the secret itself becomes the weak point.
MIN_SECRET_BYTES = 16


class SecretError(SpamLedgerError, ValueError):
    """The consortium secret is missing or too short."""


class NumberHasher:
    """Maps E.164 strings to 32-byte keys; holds the secret without ever printing it."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | str):
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(raw) < MIN_SECRET_BYTES:
            raise SecretError(
                f"consortium secret must be at least {MIN_SECRET_BYTES} bytes "
                "(set SPAMLEDGER_CONSORTIUM_SECRET)"
            )
        self._secret = raw

    def key(self, e164: str) -> bytes:
        """The 32-byte on-chain key of an E.164 number (must start with '+')."""
        if not e164.startswith("+") or not e164[1:].isdigit():
            raise ValueError(f"not an E.164 number: {e164!r}")
        return hmac.new(self._secret, e164.encode("ascii"), hashlib.sha256).digest()

    def keys_many(self, e164s: list[str]) -> bytes:
        """:meth:`key` of many numbers, concatenated (32 bytes each), in one C call per number.

        The numbers must already be checked E.164 strings (this is the hot path of edge
        lookups: no per-number validation here)."""
        secret, digest = self._secret, hmac.digest
        return b"".join([digest(secret, n.encode("ascii"), "sha256") for n in e164s])

    def secret_bytes(self) -> bytes:
        """The key itself, for code that computes the same HMAC another way (edge bundles'
        vectorised hashing). Never log or store it."""
        return self._secret

    def hex(self, e164: str) -> str:
        """``0x``-prefixed hex of :meth:`key`."""
        return "0x" + self.key(e164).hex()

    def __repr__(self) -> str:
        return "NumberHasher(<secret>)"
