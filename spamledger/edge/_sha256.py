"""HMAC-SHA256 of many short messages at once, in numpy: the keyed hash of ``_keyhash``,
vectorised across numbers instead of one C call per number.

An E.164 number (at most 16 bytes) fits one SHA-256 block after the key's inner pad, and the
inner digest fits one block after the outer pad, so each number costs two compression
functions; the pads' states are computed once per key. Every round is one numpy operation
over the whole batch. A test checks the result against ``hmac`` for every length.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

_K = np.array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2], dtype=np.uint32)
_H0 = (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
       0x5be0cd19)
MAX_MESSAGE = 55  # one block after the 64-byte pad, with 0x80 and the 8-byte length


def _rotr(x: np.ndarray, n: int) -> np.ndarray:
    return (x >> np.uint32(n)) | (x << np.uint32(32 - n))


def _compress(state: list, w: list[np.ndarray]) -> list:
    """One SHA-256 compression; ``state`` items are scalars or arrays, ``w`` 16 word arrays."""
    w = list(w)
    for t in range(16, 64):
        s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> np.uint32(3))
        s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> np.uint32(10))
        w.append(w[t - 16] + s0 + w[t - 7] + s1)
    a, b, c, d, e, f, g, h = state
    for t in range(64):
        t1 = h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[t] + w[t]
        t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
        h, g, f, e, d, c, b, a = g, f, e, d + t1, c, b, a, t1 + t2
    return [s + v for s, v in zip(state, (a, b, c, d, e, f, g, h), strict=True)]


def _pad_state(key: bytes, pad: int) -> list:
    """The SHA-256 state after one block of ``key ^ pad`` (HMAC's inner or outer prefix)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = bytes(b ^ pad for b in key.ljust(64, b"\x00"))
    words = [np.array([v], dtype=np.uint32) for v in struct.unpack(">16I", block)]
    h0 = [np.array([v], dtype=np.uint32) for v in _H0]
    return _compress(h0, words)  # 1-element arrays: they broadcast over a batch


class BatchHmac:
    """HMAC-SHA256 under one key for batches of messages of at most 55 bytes."""

    def __init__(self, key: bytes):
        self._inner = _pad_state(key, 0x36)
        self._outer = _pad_state(key, 0x5C)

    def digests(self, messages: np.ndarray) -> np.ndarray:
        """(n, 8) uint32 big-endian words of each message's HMAC; ``messages`` is a numpy
        ``S`` array (NUL-padded ASCII, as ``np.array(list_of_str, dtype="S")`` gives)."""
        n, width = len(messages), messages.dtype.itemsize
        if width > MAX_MESSAGE:
            raise ValueError(f"messages of {width} bytes exceed {MAX_MESSAGE}")
        raw = np.zeros((n, 64), dtype=np.uint8)
        raw[:, :width] = messages.view(np.uint8).reshape(n, width)
        lengths = np.char.str_len(messages).astype(np.int64) if width else np.zeros(n, np.int64)
        raw[np.arange(n), lengths] = 0x80
        bits = (lengths + 64) * 8
        raw[:, 62] = (bits >> 8).astype(np.uint8)
        raw[:, 63] = (bits & 0xFF).astype(np.uint8)
        words = raw.view(">u4").astype(np.uint32)
        inner = _compress(self._inner, [words[:, i] for i in range(16)])
        tail = [np.full(n, v, dtype=np.uint32) for v in (0x80000000, 0, 0, 0, 0, 0, 0, 768)]
        outer = _compress(self._outer, inner + tail)
        return np.stack(outer, axis=1)

    def prefixes(self, messages: np.ndarray) -> np.ndarray:
        """The first 8 bytes of each HMAC as a big-endian uint64 (the bundle's key)."""
        d = self.digests(messages)
        return (d[:, 0].astype(np.uint64) << np.uint64(32)) | d[:, 1].astype(np.uint64)
