"""HMAC-SHA256 of many short messages at once, in numpy: the keyed hash of ``_keyhash``,
vectorised across numbers instead of one C call per number.

An E.164 number (at most 16 bytes) fits one SHA-256 block after the key's inner pad, and the
inner digest fits one block after the outer pad, so each number costs two compression
functions; the pads' states are computed once per key. Every step is one in-place numpy
pass over the whole batch (no temporaries), and words equal across the batch (padding,
lengths, the outer block's tail) stay single values, so their message schedule costs
nothing. A test checks the result against ``hmac`` for every length.
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


_MASK = 0xFFFFFFFF
_KS = [np.uint32(k) for k in _K.tolist()]
Word = np.ndarray | np.uint32  # a column of the batch, or one value shared by all of it


def _rotr_int(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & _MASK


def _small_int(x: int, a: int, b: int, s: int) -> int:
    return _rotr_int(x, a) ^ _rotr_int(x, b) ^ (x >> s)


def _sigma_into(x: np.ndarray, a: int, b: int, c: int | None, shift: int | None,
                out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """``out = rotr(x,a) ^ rotr(x,b) ^ (rotr(x,c) or x >> shift)``, in place (no
    temporaries: the batch's cost is the number of passes over it)."""
    np.right_shift(x, a, out=out)
    np.left_shift(x, 32 - a, out=tmp)
    out ^= tmp
    for r in (b, c):
        if r is None:
            continue
        np.right_shift(x, r, out=tmp)
        out ^= tmp
        np.left_shift(x, 32 - r, out=tmp)
        out ^= tmp
    if shift is not None:
        np.right_shift(x, shift, out=tmp)
        out ^= tmp
    return out


def _schedule(w: list[Word], n: int, tmp: np.ndarray) -> list[Word]:
    """The 64 message words; words equal across the batch stay single values."""
    w = list(w)
    for t in range(16, 64):
        x, y, z, v = w[t - 15], w[t - 2], w[t - 16], w[t - 7]
        if not any(isinstance(i, np.ndarray) for i in (x, y, z, v)):
            w.append(np.uint32((int(z) + _small_int(int(x), 7, 18, 3) + int(v)
                                + _small_int(int(y), 17, 19, 10)) & _MASK))
            continue
        out = np.empty(n, np.uint32)
        if isinstance(x, np.ndarray):
            _sigma_into(x, 7, 18, None, 3, out, tmp)
        else:
            out.fill(_small_int(int(x), 7, 18, 3))
        if isinstance(y, np.ndarray):
            s1 = np.empty(n, np.uint32)
            out += _sigma_into(y, 17, 19, None, 10, s1, tmp)
        else:
            out += np.uint32(_small_int(int(y), 17, 19, 10))
        out += z
        out += v
        w.append(out)
    return w


def _compress(state: list[Word], words: list[Word], n: int) -> list[np.ndarray]:
    """One SHA-256 compression of a batch of ``n`` blocks, from ``state``; each of the 16
    ``words`` is a column or a value shared by the batch (padding, lengths, constants)."""
    tmp, t1, t2 = (np.empty(n, np.uint32) for _ in range(3))
    w = _schedule(words, n, tmp)
    a, b, c, d, e, f, g, h = (np.full(n, v, np.uint32) if not isinstance(v, np.ndarray)
                              else v.copy() for v in state)
    for t in range(64):
        big1 = _sigma_into(e, 6, 11, 25, None, np.empty(n, np.uint32), tmp)
        big1 += h
        np.bitwise_and(e, f, out=t1)
        np.invert(e, out=t2)
        t2 &= g
        t1 ^= t2
        big1 += t1
        big1 += _KS[t]
        big1 += w[t]
        big0 = _sigma_into(a, 2, 13, 22, None, h, tmp)  # h is free from here on
        np.bitwise_and(a, b, out=t1)
        np.bitwise_and(a, c, out=t2)
        t1 ^= t2
        np.bitwise_and(b, c, out=t2)
        t1 ^= t2
        big0 += t1
        d += big1
        big0 += big1
        h, g, f, e, d, c, b, a = g, f, e, d, c, b, a, big0
    return [v + s for s, v in zip(state, (a, b, c, d, e, f, g, h), strict=True)]


def _pad_state(key: bytes, pad: int) -> list[Word]:
    """The SHA-256 state after one block of ``key ^ pad`` (HMAC's inner or outer prefix)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = bytes(b ^ pad for b in key.ljust(64, b"\x00"))
    words: list[Word] = [np.uint32(v) for v in struct.unpack(">16I", block)]
    state: list[Word] = [np.uint32(v) for v in _H0]
    return [np.uint32(v[0]) for v in _compress(state, words, 1)]


def _columns(words: np.ndarray) -> list[Word]:
    """The 16 words of each block; a column equal across the batch becomes one value."""
    out: list[Word] = []
    for i in range(16):
        col = np.ascontiguousarray(words[:, i])
        out.append(np.uint32(col[0]) if (col == col[0]).all() else col)
    return out


_OUTER_TAIL: list[Word] = [np.uint32(v) for v in (0x80000000, 0, 0, 0, 0, 0, 0, 768)]


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
        if n == 0:
            return np.zeros((0, 8), dtype=np.uint32)
        raw = np.zeros((n, 64), dtype=np.uint8)
        raw[:, :width] = messages.view(np.uint8).reshape(n, width)
        lengths = np.char.str_len(messages).astype(np.int64) if width else np.zeros(n, np.int64)
        raw[np.arange(n), lengths] = 0x80
        bits = (lengths + 64) * 8
        raw[:, 62] = (bits >> 8).astype(np.uint8)
        raw[:, 63] = (bits & 0xFF).astype(np.uint8)
        inner = _compress(self._inner, _columns(raw.view(">u4").astype(np.uint32)), n)
        outer = _compress(self._outer, [*inner, *_OUTER_TAIL], n)
        return np.stack(outer, axis=1)

    def prefixes(self, messages: np.ndarray) -> np.ndarray:
        """The first 8 bytes of each HMAC as a big-endian uint64 (the bundle's key)."""
        d = self.digests(messages)
        return (d[:, 0].astype(np.uint64) << np.uint64(32)) | d[:, 1].astype(np.uint64)
