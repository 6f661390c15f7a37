"""Content identifiers: parse CID strings and compute them locally, exactly as Kubo does.

Kubo's ``ipfs add`` defaults are reproduced: UnixFS files, fixed chunker ``size-262144``,
balanced DAG layout with at most 174 links per node, dag-pb nodes, sha2-256.

* CIDv0 (``Qm...``, base58btc): leaves are dag-pb UnixFS File nodes holding the chunk.
* CIDv1 (``bafy...``, base32): leaves are raw blocks (``--cid-version=1`` implies
  ``--raw-leaves`` in Kubo); a single-chunk file is its raw leaf itself (``bafk...``).

This is what makes every read verifiable: the store recomputes the CID of the bytes the
node returned and refuses any difference.

Example::

    >>> str(compute_cid(b"hello", cid_version=1))
    'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq'
    >>> parse_cid("QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX").version
    0
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from node.ipfs._codec import (
    b32decode,
    b32encode,
    b58decode,
    b58encode,
    dag_pb_node,
    decode_varint,
    encode_varint,
    unixfs_file,
)
from node.ipfs._errors import InvalidCid

logger = logging.getLogger(__name__)

DAG_PB = 0x70
RAW = 0x55
SHA2_256 = 0x12
CHUNK_SIZE = 262144
MAX_LINKS = 174
_CODEC_NAMES = {DAG_PB: "dag-pb", RAW: "raw"}


@dataclass(frozen=True)
class Cid:
    """A parsed CID. ``str(cid)`` is canonical: base58btc for v0, base32 for v1."""

    version: int
    codec: int
    multihash: bytes

    @property
    def hash_code(self) -> int:
        return decode_varint(self.multihash)[0]

    @property
    def digest(self) -> bytes:
        _, offset = decode_varint(self.multihash)
        _, offset = decode_varint(self.multihash, offset)
        return self.multihash[offset:]

    @property
    def codec_name(self) -> str:
        return _CODEC_NAMES.get(self.codec, hex(self.codec))

    def to_bytes(self) -> bytes:
        """Binary form, as stored inside dag-pb links."""
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def __str__(self) -> str:
        if self.version == 0:
            return b58encode(self.multihash)
        return "b" + b32encode(self.to_bytes())


def _sha256_multihash(block: bytes | memoryview) -> bytes:
    return bytes([SHA2_256, 32]) + hashlib.sha256(block).digest()


def make_cid(block: bytes | memoryview, *, version: int, codec: int) -> Cid:
    """The CID of one block (sha2-256)."""
    return Cid(version, codec, _sha256_multihash(block))


def parse_cid(text: str) -> Cid:
    """Parse a CID string (v0 base58btc, or v1 in multibase b/B/z/f/F).

    Raises :class:`InvalidCid` naming what is wrong.
    """
    if not isinstance(text, str) or not text:
        raise InvalidCid(f"CID must be a non-empty string, got {text!r}")
    if len(text) == 46 and text.startswith("Qm"):
        return _parse_v0(text)
    try:
        raw = _multibase_decode(text)
    except ValueError as exc:
        raise InvalidCid(f"CID {text!r} is not valid multibase: {exc}") from exc
    return _parse_v1(text, raw)


def _parse_v0(text: str) -> Cid:
    try:
        multihash = b58decode(text)
    except ValueError as exc:
        raise InvalidCid(f"CIDv0 {text!r}: {exc}") from exc
    if len(multihash) != 34 or multihash[:2] != b"\x12\x20":
        raise InvalidCid(f"CIDv0 {text!r} is not a sha2-256 multihash")
    return Cid(0, DAG_PB, multihash)


def _multibase_decode(text: str) -> bytes:
    prefix, body = text[0], text[1:]
    if prefix in "bB":
        return b32decode(body)
    if prefix == "z":
        return b58decode(body)
    if prefix in "fF":
        return bytes.fromhex(body)
    raise ValueError(f"unsupported multibase prefix {prefix!r} (use b, z or f)")


def _parse_v1(text: str, raw: bytes) -> Cid:
    try:
        version, offset = decode_varint(raw)
        codec, offset = decode_varint(raw, offset)
        _, mh_offset = decode_varint(raw, offset)
        length, digest_offset = decode_varint(raw, mh_offset)
    except ValueError as exc:
        raise InvalidCid(f"CID {text!r} is truncated: {exc}") from exc
    if version != 1:
        raise InvalidCid(f"CID {text!r} has version {version}; only 0 and 1 exist")
    if len(raw) - digest_offset != length:
        raise InvalidCid(f"CID {text!r}: digest length {len(raw) - digest_offset} != {length}")
    return Cid(1, codec, raw[offset:])


@dataclass(frozen=True)
class _Node:
    """A DAG node as its parent sees it: CID, cumulative Tsize, file bytes below it."""

    cid: Cid
    tsize: int
    filesize: int


def _leaf(chunk: bytes, version: int, raw_leaves: bool) -> _Node:
    if raw_leaves:
        return _Node(make_cid(chunk, version=1, codec=RAW), len(chunk), len(chunk))
    block = dag_pb_node([], unixfs_file(chunk, len(chunk)))
    return _Node(make_cid(block, version=version, codec=DAG_PB), len(block), len(chunk))


def _parent(children: list[_Node], version: int) -> _Node:
    filesize = sum(child.filesize for child in children)
    data = unixfs_file(None, filesize, [child.filesize for child in children])
    block = dag_pb_node([(c.cid.to_bytes(), c.tsize) for c in children], data)
    tsize = len(block) + sum(child.tsize for child in children)
    return _Node(make_cid(block, version=version, codec=DAG_PB), tsize, filesize)


def _balanced_root(leaves: list[_Node], version: int, max_links: int) -> _Node:
    """Kubo's balanced layout: fill 174-wide levels left to right, bottom up.

    Kubo builds it top down (deepen the tree until all chunks fit); grouping full
    levels bottom up yields the same tree, including a last parent with a single child.
    """
    level = leaves
    while len(level) > 1:
        level = [_parent(level[i:i + max_links], version) for i in range(0, len(level), max_links)]
    return level[0]


def compute_cid_chunks(
    chunks: Iterable[bytes], *, cid_version: int = 1, raw_leaves: bool | None = None,
    max_links: int = MAX_LINKS,
) -> Cid:
    """CID of a file given as its chunks (all ``CHUNK_SIZE`` except the last).

    ``raw_leaves`` defaults to Kubo's choice: True for CIDv1, False for CIDv0.
    """
    if cid_version not in (0, 1):
        raise InvalidCid(f"cid_version must be 0 or 1, got {cid_version!r}")
    raw = (cid_version == 1) if raw_leaves is None else raw_leaves
    if raw and cid_version == 0:
        raise InvalidCid("raw leaves need CIDv1 (CIDv0 is dag-pb only)")
    leaves = [_leaf(chunk, cid_version, raw) for chunk in chunks]
    if not leaves:
        leaves = [_leaf(b"", cid_version, raw)]
    if len(leaves) == 1:
        return leaves[0].cid
    return _balanced_root(leaves, cid_version, max_links).cid


def iter_chunks(data: bytes | memoryview, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Fixed-size chunks as Kubo's ``size-262144`` chunker cuts them."""
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield bytes(view[start:start + size])


def iter_file_chunks(stream: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Chunks read from an open binary file (full-size reads, so cuts match)."""
    while chunk := stream.read(size):
        while len(chunk) < size and (more := stream.read(size - len(chunk))):
            chunk += more
        yield chunk


def compute_cid(data: bytes, *, cid_version: int = 1, raw_leaves: bool | None = None) -> Cid:
    """CID that ``ipfs add --cid-version=N`` gives for ``data`` with Kubo's defaults."""
    return compute_cid_chunks(iter_chunks(data), cid_version=cid_version, raw_leaves=raw_leaves)


def compute_file_cid(path: Path, *, cid_version: int = 1, raw_leaves: bool | None = None) -> Cid:
    """Same as :func:`compute_cid` for a file, read chunk by chunk."""
    with path.open("rb") as stream:
        return compute_cid_chunks(
            iter_file_chunks(stream), cid_version=cid_version, raw_leaves=raw_leaves)


def cid_matches(cid: Cid, data: bytes) -> bool:
    """Whether ``data`` is the content ``cid`` names (with Kubo's add defaults).

    A CIDv1 dag-pb root may come from ``--raw-leaves`` (Kubo's v1 default) or not; both
    are tried. Only sha2-256 with dag-pb or raw codecs can be verified.
    """
    if cid.hash_code != SHA2_256:
        raise InvalidCid(f"CID {cid} uses hash 0x{cid.hash_code:x}; only sha2-256 is verified")
    if cid.codec == RAW:
        return cid.multihash == _sha256_multihash(data)
    if cid.codec != DAG_PB:
        raise InvalidCid(f"CID {cid} has codec {cid.codec_name}; only dag-pb and raw are verified")
    if cid.version == 0:
        return compute_cid(data, cid_version=0) == cid
    return any(compute_cid(data, cid_version=1, raw_leaves=raw) == cid for raw in (True, False))
