"""The v1 history archive: every log of the v1 contracts and every v1 registry record, as
Merkle leaves whose root ``LegacyArchive`` holds on the v2 deployment.

Leaves (OpenZeppelin ``StandardMerkleTree`` layout, the encodings ``LegacyArchive.logLeaf`` and
``recordLeaf`` compute on-chain)::

    log:    keccak(keccak(abi.encode(LOG_LEAF, chainId, emitter, block, logIndex, txHash,
                                     bytes32[] topics, bytes data)))
    record: keccak(keccak(abi.encode(RECORD_LEAF, chainId, numberKey, SpamRegistry.Record)))

A leaf is the raw log as the v1 receipt holds it, so anyone with the v1 chain recomputes it
from the chain's own receipts; anyone with v2 alone proves it against the committed root. The
archive file lists every leaf (raw log, and for readers the decoded event) and is committed by
its sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import event_abi_to_log_topic
from web3 import Web3

from node import Deployment, load_artifact
from node._errors import LegacyArchiveError
from oracle.service._merkle import hash_pair, keccak

logger = logging.getLogger(__name__)

FORMAT = "spamledger.legacy-archive/1"
LOG_LEAF = keccak(b"spamledger.legacy.log")
RECORD_LEAF = keccak(b"spamledger.legacy.record")
RECORD_FIELDS = ("score", "verdict", "category", "finalizedAt", "expiresAt", "round",
                 "disputeStatus", "lockedUntil", "majorityCountry")
_RECORD_TYPE = "(uint16,uint8,uint8,uint40,uint40,uint64,uint8,uint40,bytes2)"
LOG_RANGE = 5_000  # blocks per eth_getLogs request
RECORD_BATCH = 500  # keys per SpamRegistry.getBatch call


# ------------------------------------------------------------------------------- leaves


def log_leaf(chain_id: int, log: dict[str, Any]) -> bytes:
    """Leaf hash of one archived log (``LegacyArchive.logLeaf``)."""
    row = encode(["bytes32", "uint64", "address", "uint64", "uint32", "bytes32", "bytes32[]",
                  "bytes"],
                 [LOG_LEAF, chain_id, log["emitter"], log["block"], log["log_index"],
                  _b(log["tx_hash"]), [_b(t) for t in log["topics"]], _b(log["data"])])
    return keccak(keccak(row))


def record_leaf(chain_id: int, key: str, record: dict[str, Any]) -> bytes:
    """Leaf hash of one archived registry record (``LegacyArchive.recordLeaf``)."""
    row = encode(["bytes32", "uint64", "bytes32", _RECORD_TYPE],
                 [RECORD_LEAF, chain_id, _b(key), record_tuple(record)])
    return keccak(keccak(row))


def record_tuple(record: dict[str, Any]) -> tuple[Any, ...]:
    """A record dict as the ``SpamRegistry.Record`` tuple."""
    return tuple(_b(record[f]) if f == "majorityCountry" else int(record[f])
                 for f in RECORD_FIELDS)


def leaf_of(chain_id: int, entry: dict[str, Any]) -> bytes:
    if entry["kind"] == "log":
        return log_leaf(chain_id, entry)
    return record_leaf(chain_id, entry["number_key"], entry["record"])


def _b(hex_or_bytes: str | bytes) -> bytes:
    if isinstance(hex_or_bytes, bytes | bytearray):
        return bytes(hex_or_bytes)
    return bytes.fromhex(hex_or_bytes.removeprefix("0x"))


# -------------------------------------------------------------------------------- tree


@dataclass
class LeafTree:
    """An OpenZeppelin-layout tree over leaf hashes (sorted; node j = pair of 2j+1, 2j+2)."""

    nodes: list[bytes]
    positions: dict[bytes, int]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> LeafTree:
        if not leaves:
            raise LegacyArchiveError("the v1 deployment has no history to archive")
        ordered = sorted(set(leaves))
        if len(ordered) != len(leaves):
            raise LegacyArchiveError("two archive entries have the same leaf")
        n = len(ordered)
        nodes = [b""] * (n - 1) + ordered[::-1]
        for i in range(n - 2, -1, -1):
            nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2])
        return cls(nodes, {leaf: 2 * n - 2 - rank for rank, leaf in enumerate(ordered)})

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def proof(self, leaf: bytes) -> list[bytes]:
        try:
            index = self.positions[leaf]
        except KeyError:
            raise LegacyArchiveError(f"leaf 0x{leaf.hex()} is not in the archive") from None
        out = []
        while index > 0:
            out.append(self.nodes[index + 1 if index % 2 else index - 1])
            index = (index - 1) // 2
        return out


# ----------------------------------------------------------------------- the archive file


@dataclass
class Archive:
    """The archive file's content: what the root covers, and every entry."""

    source_chain_id: int
    sources: dict[str, str]  # v1 contract name -> address
    first_block: int
    last_block: int
    entries: list[dict[str, Any]]

    def leaves(self) -> list[bytes]:
        return [leaf_of(self.source_chain_id, e) for e in self.entries]

    def tree(self) -> LeafTree:
        return LeafTree.build(self.leaves())

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "source_chain_id": self.source_chain_id,
                "sources": self.sources, "first_block": self.first_block,
                "last_block": self.last_block, "entries": self.entries}

    def to_bytes(self) -> bytes:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":")).encode()

    def manifest_hash(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()

    def save(self, path: Path) -> None:
        """Written atomically: a crash leaves no file or the whole file."""
        write_atomic(path, self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> Archive:
        try:
            data = json.loads(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise LegacyArchiveError(f"cannot read archive {path}: {exc}") from exc
        if data.get("format") != FORMAT:
            raise LegacyArchiveError(f"{path} is not a {FORMAT} file")
        return cls(int(data["source_chain_id"]), dict(data["sources"]), int(data["first_block"]),
                   int(data["last_block"]), list(data["entries"]))

    def trail(self, number_key: str) -> list[dict[str, Any]]:
        """The entries of one number: its logs in chain order, then its final record."""
        key = number_key.lower()
        return [e for e in self.entries if str(e.get("number_key", "")).lower() == key]


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------- collecting it from the chain


def collect(w3: Web3, v1: Deployment, first_block: int, last_block: int) -> Archive:
    """Every log of the v1 contracts in ``first_block..last_block`` and, for every number the
    v1 registry ever finalized, its record at ``last_block``; read from the chain."""
    decoders = _decoders(w3, v1)
    by_address = {c.address.lower(): name for name, c in decoders.items()}
    logs = [_log_entry(log, by_address, decoders)
            for log in _raw_logs(w3, list(by_address), first_block, last_block)]
    keys = sorted({e["number_key"] for e in logs
                   if e["contract"] == "SpamRegistry" and e.get("number_key")})
    records = _records(w3, decoders["SpamRegistry"], keys, last_block)
    entries = logs + [{"kind": "record", "number_key": k, "record": r}
                      for k, r in zip(keys, records, strict=True)]
    logger.info("archive of chain %d blocks %d..%d: %d logs, %d records", w3.eth.chain_id,
                first_block, last_block, len(logs), len(records))
    return Archive(int(w3.eth.chain_id), {n: v1.address(n) for n in v1.contract_names()},
                   first_block, last_block, entries)


def _decoders(w3: Web3, v1: Deployment) -> dict[str, Any]:
    return {name: w3.eth.contract(address=v1.address(name),  # type: ignore[call-overload]
                                  abi=load_artifact(name).abi)
            for name in v1.contract_names()}


def _raw_logs(w3: Web3, addresses: list[str], first: int, last: int) -> Iterable[Any]:
    checksummed = [Web3.to_checksum_address(a) for a in addresses]
    for start in range(first, last + 1, LOG_RANGE):
        end = min(last, start + LOG_RANGE - 1)
        logs = w3.eth.get_logs({"address": checksummed, "fromBlock": start, "toBlock": end})
        yield from sorted(logs, key=lambda g: (int(g["blockNumber"]), int(g["logIndex"])))


def _log_entry(log: Any, by_address: dict[str, str], decoders: dict[str, Any]) -> dict[str, Any]:
    name = by_address[str(log["address"]).lower()]
    entry: dict[str, Any] = {
        "kind": "log", "contract": name, "emitter": Web3.to_checksum_address(log["address"]),
        "block": int(log["blockNumber"]), "log_index": int(log["logIndex"]),
        "tx_hash": "0x" + bytes(log["transactionHash"]).hex(),
        "topics": ["0x" + bytes(t).hex() for t in log["topics"]],
        "data": "0x" + bytes(log["data"]).hex()}
    event, args = decode_log(decoders[name], log)
    entry["event"] = event
    if isinstance(args.get("numberKey"), bytes | bytearray):
        entry["number_key"] = "0x" + bytes(args["numberKey"]).hex()
    return entry


def decode_log(contract: Any, log: Any) -> tuple[str, dict[str, Any]]:
    """(event name, decoded args) of a raw log of ``contract``; ("", {}) for an unknown topic."""
    topics = log["topics"]
    if not topics:
        return "", {}
    first = _b(topics[0]) if isinstance(topics[0], str) else bytes(topics[0])
    for item in contract.abi:
        if item.get("type") == "event" and not item.get("anonymous") and \
                event_abi_to_log_topic(item) == first:
            decoded = getattr(contract.events, item["name"])().process_log(log)
            return str(item["name"]), dict(decoded["args"])
    return "", {}


def _records(w3: Web3, registry: Any, keys: list[str], block: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(keys), RECORD_BATCH):
        chunk = [_b(k) for k in keys[i:i + RECORD_BATCH]]
        for raw in registry.functions.getBatch(chunk).call(block_identifier=block):
            out.append({f: ("0x" + bytes(v).hex() if isinstance(v, bytes) else int(v))
                        for f, v in zip(RECORD_FIELDS, raw, strict=True)})
    return out


def as_raw_log(entry: dict[str, Any]) -> dict[str, Any]:
    """An archived log entry in the shape web3 decodes (``process_log``)."""
    from hexbytes import HexBytes

    return {"address": entry["emitter"], "topics": [HexBytes(t) for t in entry["topics"]],
            "data": HexBytes(entry["data"]), "blockNumber": entry["block"],
            "logIndex": entry["log_index"], "transactionHash": HexBytes(entry["tx_hash"]),
            "transactionIndex": 0, "blockHash": HexBytes(b"\x00" * 32)}
