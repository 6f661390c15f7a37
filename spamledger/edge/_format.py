"""The bundle file: a fixed header, sorted keys, packed records, and the Merkle root over them.

Layout (little-endian, every part 8-byte aligned so it maps straight into numpy)::

    header   128 bytes   magic, kind, sizes, chain id, block, since, count, scope,
                         SpamRegistry and SnapshotRegistry addresses, root
    keys     8 n bytes   uint64: the first 8 bytes (big-endian) of each number's keyed hash
                         (HMAC-SHA256 under the consortium secret, as on-chain), ascending
    records  8 n bytes   score uint16 (bps), verdict uint8 (bit 7: from an epoch leaf rather
                         than a finalized record), category uint8, expires uint32 (0: never)

16 bytes a number. A bundle holds no timestamps of its own, so two builds of the same ledger
state are byte-identical (that is what makes deltas checkable).

The root: leaf 0 is the header with its root field zeroed, leaf ``i >= 1`` is page ``i``
(the keys of entries ``(i-1)E .. iE-1`` followed by their records, ``E`` = page_entries);
each leaf is ``keccak256(keccak256(uint64_be(i) || page))`` and inner nodes hash the sorted
pair level by level (an odd node moves up unchanged), so ``SnapshotRegistry.verifyBundlePage``
and OpenZeppelin's ``MerkleProof`` check any page against a root attested on-chain.

A delta (kind 1) has the same layout; its entries replace or add those keys, a verdict byte of
0xFF deletes one, and its root field is the root of the full bundle after applying it.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from Crypto.Hash import keccak as _keccak

from spamledger.edge._errors import BundleFormatError

logger = logging.getLogger(__name__)

Buffer = bytes | memoryview | np.ndarray  # raw bytes of a bundle part (uint8 views too)

MAGIC = b"SLEDGE\x00\x01"
FULL, DELTA = 0, 1
KEY_BYTES = 8
RECORD_BYTES = 8
PAGE_ENTRIES = 256
HEADER = struct.Struct("<8sBBBBIQQQQ2s6x20s20s32s")
HEADER_SIZE = HEADER.size
ROOT_OFFSET = HEADER_SIZE - 32
ALL = "**"  # scope of a bundle holding every country (bytes2(0) on-chain)

RECORD_DTYPE = np.dtype([("score", "<u2"), ("verdict", "u1"), ("category", "u1"),
                         ("expires", "<u4")])
FROM_EPOCH = 0x80
TOMBSTONE = 0xFF
MAX_ENTRIES = 1 << 32

assert HEADER_SIZE == 128 and RECORD_DTYPE.itemsize == RECORD_BYTES


@dataclass(frozen=True)
class Header:
    """What a bundle says about itself."""

    kind: int
    chain_id: int
    block: int
    since: int
    count: int
    scope: str  # ISO alpha-2, or ALL
    spam_registry: str  # 0x address
    snapshot_registry: str
    root: bytes = b"\x00" * 32
    page_entries: int = PAGE_ENTRIES

    def pack(self) -> bytes:
        return HEADER.pack(MAGIC, self.kind, KEY_BYTES, RECORD_BYTES, 0, self.page_entries,
                           self.chain_id, self.block, self.since, self.count,
                           scope_bytes(self.scope), _addr(self.spam_registry),
                           _addr(self.snapshot_registry), self.root)

    @classmethod
    def unpack(cls, data: bytes | memoryview) -> Header:
        if len(data) < HEADER_SIZE:
            raise BundleFormatError(f"file of {len(data)} bytes is shorter than a bundle header")
        (magic, kind, key_bytes, record_bytes, _, page_entries, chain_id, block, since, count,
         scope, spam, snap, root) = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise BundleFormatError("not a SpamLedger edge bundle (bad magic)")
        if (kind not in (FULL, DELTA) or key_bytes != KEY_BYTES
                or record_bytes != RECORD_BYTES or not 1 <= page_entries <= 1 << 20):
            raise BundleFormatError(f"unsupported bundle layout (kind {kind}, key {key_bytes} "
                                    f"B, record {record_bytes} B, page {page_entries})")
        return cls(kind, chain_id, block, since, count, scope_str(scope),
                   "0x" + spam.hex(), "0x" + snap.hex(), bytes(root), page_entries)

    @property
    def page_count(self) -> int:
        """Leaves under the root: the header plus one per page."""
        return 1 + -(-self.count // self.page_entries)


def scope_bytes(scope: str) -> bytes:
    """The on-chain ``bytes2`` of a scope (``**`` -> 0x0000)."""
    if scope == ALL:
        return b"\x00\x00"
    if len(scope) != 2 or not scope.isascii() or not scope.isalpha() or not scope.isupper():
        raise BundleFormatError(f"bundle scope must be an ISO alpha-2 country or '{ALL}', "
                                f"got {scope!r}")
    return scope.encode("ascii")


def scope_str(raw: bytes) -> str:
    if raw == b"\x00\x00":
        return ALL
    try:
        return scope_bytes(raw.decode("ascii"))[:2].decode("ascii")
    except (UnicodeDecodeError, BundleFormatError) as exc:
        raise BundleFormatError(f"bundle header names no valid scope ({raw!r})") from exc


def _addr(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise BundleFormatError(f"not a 20-byte address: {address!r}")
    return raw


# ----------------------------------------------------------------------------- entries


@dataclass
class Entries:
    """Sorted key prefixes and their records (numpy arrays of equal length)."""

    keys: np.ndarray  # uint64, strictly ascending
    records: np.ndarray  # RECORD_DTYPE

    def __len__(self) -> int:
        return len(self.keys)


def key_prefixes(keys32: np.ndarray) -> np.ndarray:
    """uint64 sort keys of (n, 32) uint8 keyed hashes: their first 8 bytes, big-endian."""
    if keys32.ndim != 2 or keys32.shape[1] != 32:
        raise BundleFormatError(f"keyed hashes must be an (n, 32) array, got {keys32.shape}")
    head = np.ascontiguousarray(keys32[:, :KEY_BYTES])
    return head.view(">u8").ravel().astype("<u8")


def make_entries(keys32: np.ndarray, score: Sequence[int] | np.ndarray,
                 verdict: Sequence[int] | np.ndarray, category: Sequence[int] | np.ndarray,
                 expires: Sequence[int] | np.ndarray,
                 from_epoch: Sequence[bool] | np.ndarray) -> Entries:
    """Sorted entries from column arrays; refuses bad values and colliding key prefixes."""
    n = len(keys32)
    if n >= MAX_ENTRIES:
        raise BundleFormatError(f"{n} entries exceed a bundle's limit of {MAX_ENTRIES - 1}")
    cols = {name: np.asarray(v, dtype=np.int64) for name, v in
            (("score", score), ("verdict", verdict), ("category", category),
             ("expires", expires))}
    for name, high in (("score", 10_000), ("verdict", 0x7F), ("category", 0xFF),
                       ("expires", 0xFFFFFFFF)):
        col = cols[name]
        if len(col) != n:
            raise BundleFormatError(f"column {name} has {len(col)} values for {n} keys")
        if n and (col.min() < 0 or col.max() > high):
            raise BundleFormatError(f"{name} values must lie in 0..{high}")
    records = np.zeros(n, dtype=RECORD_DTYPE)
    records["score"] = cols["score"]
    records["verdict"] = cols["verdict"] | np.where(np.asarray(from_epoch, dtype=bool),
                                                    FROM_EPOCH, 0)
    records["category"] = cols["category"]
    records["expires"] = cols["expires"]
    return sort_entries(key_prefixes(np.asarray(keys32, dtype=np.uint8).reshape(n, 32)),
                        records)


def sort_entries(keys: np.ndarray, records: np.ndarray) -> Entries:
    order = np.argsort(keys, kind="stable")
    keys, records = keys[order], records[order]
    if len(keys) > 1 and not (np.diff(keys) > 0).all():
        dup = keys[1:][np.diff(keys) == 0][0]
        raise BundleFormatError(f"two numbers share the key prefix {int(dup):016x}: "
                                "a bundle needs distinct 8-byte prefixes")
    return Entries(keys, records)


# ----------------------------------------------------------------------------- Merkle


def keccak(data: bytes | memoryview) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


def leaf_hash(index: int, page: bytes | memoryview) -> bytes:
    """``SnapshotRegistry.bundleLeaf(index, page)``."""
    return keccak(keccak(index.to_bytes(8, "big") + bytes(page)))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def tree_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level from the leaves to the root (odd nodes move up unchanged)."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        level = levels[-1]
        levels.append([hash_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                       for i in range(0, len(level), 2)])
    return levels


def proof_of(levels: list[list[bytes]], index: int) -> list[bytes]:
    """Sibling hashes from leaf ``index`` up (MerkleProof order)."""
    proof = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


def page_bytes(header: Header, keys: Buffer, records: Buffer,
               page: int) -> bytes:
    """Leaf ``page`` of a bundle (0: the header with its root zeroed)."""
    if page == 0:
        return replace(header, root=b"\x00" * 32).pack()
    size = header.page_entries * 8
    lo, hi = (page - 1) * size, min(page * size, header.count * 8)
    return bytes(keys[lo:hi]) + bytes(records[lo:hi])


def leaves_of(header: Header, keys: Buffer, records: Buffer) -> list[bytes]:
    return [leaf_hash(i, page_bytes(header, keys, records, i))
            for i in range(header.page_count)]


def root_of(header: Header, keys: Buffer, records: Buffer) -> bytes:
    return tree_levels(leaves_of(header, keys, records))[-1][0]


# ----------------------------------------------------------------------------- files


def encode(header: Header, entries: Entries) -> bytes:
    """The bundle bytes; ``header.root`` is recomputed for full bundles."""
    keys = entries.keys.astype("<u8", copy=False).tobytes()
    records = entries.records.tobytes()
    header = replace(header, count=len(entries))
    if header.kind == FULL:
        header = replace(header, root=root_of(header, keys, records))
    return header.pack() + keys + records


def split(data: bytes | memoryview) -> tuple[Header, np.ndarray, np.ndarray]:
    """Header, key array and record array of bundle bytes (views, no copy); checks sizes
    and key order, not the root (see :func:`check_root`)."""
    header = Header.unpack(data)
    expected = HEADER_SIZE + header.count * (KEY_BYTES + RECORD_BYTES)
    if len(data) != expected:
        raise BundleFormatError(f"bundle of {header.count} entries must be {expected} bytes, "
                                f"file has {len(data)} (truncated or padded)")
    keys = np.frombuffer(data, dtype="<u8", count=header.count, offset=HEADER_SIZE)
    records = np.frombuffer(data, dtype=RECORD_DTYPE, count=header.count,
                            offset=HEADER_SIZE + 8 * header.count)
    if header.count > 1 and not bool((keys[1:] > keys[:-1]).all()):
        raise BundleFormatError("bundle keys are not strictly ascending")
    return header, keys, records


def check_root(data: bytes | memoryview) -> Header:
    """The header of a full bundle whose root matches its content; raises otherwise."""
    header, keys, records = split(data)
    if header.kind != FULL:
        raise BundleFormatError("a delta has no root of its own: apply it to its base")
    computed = root_of(header, keys.view(np.uint8), records.view(np.uint8))
    if computed != header.root:
        raise BundleFormatError(f"bundle content hashes to root 0x{computed.hex()}, header "
                                f"says 0x{header.root.hex()}: the file was altered")
    return header


def _members(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``keys``: whether it is in ``sorted_keys``, and where (both sorted, so a
    binary search beats ``np.isin``'s sort of the concatenation)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys, pos


def _words(records: np.ndarray) -> np.ndarray:
    """Records as one uint64 each, to compare them in one vector operation."""
    return np.ascontiguousarray(records).view("<u8")


def delta_entries(base: Entries, new: Entries) -> Entries:
    """What changed from ``base`` to ``new``: added or changed entries, and tombstones."""
    kept, _ = _members(new.keys, base.keys)
    gone = base.keys[~kept]
    present, pos = _members(base.keys, new.keys)
    same = present & (_words(base.records)[pos] == _words(new.records)) if len(base.keys) \
        else present
    tomb = np.zeros(len(gone), dtype=RECORD_DTYPE)
    tomb["verdict"] = TOMBSTONE
    return sort_entries(np.concatenate([new.keys[~same], gone]),
                        np.concatenate([new.records[~same], tomb]))


def apply_entries(base: Entries, delta: Entries) -> Entries:
    """``base`` with ``delta``'s entries put in and its tombstones taken out."""
    replaced, _ = _members(delta.keys, base.keys)
    live = delta.records["verdict"] != TOMBSTONE
    return sort_entries(np.concatenate([base.keys[~replaced], delta.keys[live]]),
                        np.concatenate([base.records[~replaced], delta.records[live]]))


def apply_delta(base: bytes | memoryview, delta: bytes | memoryview) -> bytes:
    """The full bundle that ``delta`` turns ``base`` into; refuses a delta for another base
    and one whose result does not hash to the root it announces."""
    bh, bkeys, brecs = split(base)
    dh, dkeys, drecs = split(delta)
    if bh.kind != FULL or dh.kind != DELTA:
        raise BundleFormatError("apply a delta file to a full bundle")
    mismatch = [name for name in ("chain_id", "scope", "spam_registry", "snapshot_registry",
                                  "page_entries") if getattr(bh, name) != getattr(dh, name)]
    if mismatch:
        raise BundleFormatError(f"delta does not belong to this bundle ({', '.join(mismatch)} "
                                "differ)")
    if dh.since != bh.block:
        raise BundleFormatError(f"delta starts at block {dh.since}, bundle is at block "
                                f"{bh.block}: apply deltas in order")
    merged = apply_entries(Entries(bkeys, brecs), Entries(dkeys, drecs))
    out = encode(replace(bh, block=dh.block, since=0), merged)
    got = Header.unpack(out).root
    if got != dh.root:
        raise BundleFormatError(f"delta applied gives root 0x{got.hex()}, delta announces "
                                f"0x{dh.root.hex()}: delta or base altered")
    return out
