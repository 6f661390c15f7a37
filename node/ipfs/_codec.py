"""Byte-level encodings behind CIDs: varints, base58btc, base32, dag-pb and UnixFS protobufs.

Written by hand because the formats are tiny and fixed; the field numbers follow the
dag-pb spec (``PBNode{Links=2, Data=1}``, ``PBLink{Hash=1, Name=2, Tsize=3}``) and UnixFS
(``Data{Type=1, Data=2, filesize=3, blocksizes=4}``). Links are serialized before Data,
as go-codec-dagpb and @ipld/dag-pb both do; that order is part of the hash.

Example::

    >>> encode_varint(300)
    b'\\xac\\x02'
    >>> b58encode(b"\\x00\\x01")
    '12'
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: i for i, char in enumerate(_B58_ALPHABET)}

UNIXFS_FILE = 2
_WIRE_VARINT = 0
_WIRE_BYTES = 2


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 varint (protobuf and multiformats use the same one)."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def decode_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Read one varint at ``offset``; returns ``(value, next_offset)``."""
    value = shift = 0
    for index in range(offset, min(len(data), offset + 9)):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    raise ValueError("truncated or overlong varint")


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 (multibase ``z`` without the prefix; CIDv0 strings)."""
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(_B58_ALPHABET[rest])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; ``ValueError`` on a character outside the alphabet."""
    number = 0
    for char in text:
        try:
            number = number * 58 + _B58_INDEX[char]
        except KeyError:
            raise ValueError(f"{char!r} is not a base58btc character") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def b32encode(data: bytes) -> str:
    """RFC 4648 base32, lower case, no padding (multibase ``b`` without the prefix)."""
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def b32decode(text: str) -> bytes:
    """Inverse of :func:`b32encode`; accepts either case."""
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded)


def _key(field: int, wire: int) -> bytes:
    return encode_varint(field << 3 | wire)


def _bytes_field(field: int, value: bytes) -> bytes:
    return _key(field, _WIRE_BYTES) + encode_varint(len(value)) + value


def _varint_field(field: int, value: int) -> bytes:
    return _key(field, _WIRE_VARINT) + encode_varint(value)


def unixfs_file(data: bytes | None, filesize: int, blocksizes: Sequence[int] = ()) -> bytes:
    """UnixFS ``Data`` message of type File (a leaf when ``data`` is given, else a parent)."""
    out = bytearray(_varint_field(1, UNIXFS_FILE))
    if data:
        # An empty leaf carries no Data field at all (Kubo and js-ipfs agree).
        out += _bytes_field(2, data)
    out += _varint_field(3, filesize)
    for size in blocksizes:
        out += _varint_field(4, size)
    return bytes(out)


def dag_pb_node(links: Sequence[tuple[bytes, int]], data: bytes) -> bytes:
    """A dag-pb ``PBNode``: ``links`` are ``(binary CID, Tsize)`` with empty names."""
    out = bytearray()
    for cid_bytes, tsize in links:
        link = _bytes_field(1, cid_bytes) + _bytes_field(2, b"") + _varint_field(3, tsize)
        out += _bytes_field(2, link)
    out += _bytes_field(1, data)
    return bytes(out)
