"""Epoch snapshots: a country's whole score table under one on-chain Merkle root.

Per epoch the oracle

1. turns its score table into leaves ``(number key, score bps, verdict, category)``;
2. builds the OpenZeppelin-layout Merkle tree (:mod:`._merkle`);
3. writes the table as Parquet to ``state/epochs/<epoch>.parquet`` (temp file + rename)
   and to IPFS (keyed hashes only: the table never holds a raw number);
4. commits root + CID + model hash + leaf count with ``SnapshotRegistry.commitEpoch``, as an
   outbox action ``epoch:<chain>:<country>:<epoch>`` (sent once, reconciled on restart).
   Epoch numbers are the country's sequence on chain (1, 2, ...: ``Chain.next_epoch``); the
   contract refuses any other number.

``proof(number)`` reads the local table of an epoch and returns the leaf and its proof, which
``SnapshotRegistry.verifyLeaf`` accepts.

Example::

    snaps = EpochService(operator, chain, store, hasher)
    snaps.commit(snaps.build(rows, chain.next_epoch("US"), model_hash))
    snaps.proof("+14155550123")
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from node._consortium import country_bytes
from oracle.service._chain import Chain
from oracle.service._errors import ActionFailed, MerkleError, ServiceError, SnapshotImmutable
from oracle.service._merkle import MerkleTree, leaf_hash, verify
from oracle.service._operator import Operator
from oracle.service._outbox import MINED
from oracle.service._retry import RetryPolicy
from oracle.service._scored import ScoredNumber, model_hash_bytes
from spamledger._countries import is_country_code
from spamledger._files import write_atomic
from spamledger._types import Category, Verdict

logger = logging.getLogger(__name__)

PARQUET = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class Snapshot:
    """One epoch's table and tree."""

    epoch: int
    country: str
    tree: MerkleTree
    cid: str
    model_hash: bytes
    path: Path

    @property
    def root(self) -> bytes:
        return self.tree.root


@dataclass(frozen=True)
class Proof:
    """A number's leaf in a snapshot and the proof ``verifyLeaf`` takes."""

    country: str
    epoch: int
    number_key: bytes
    score: int
    verdict: int
    category: int
    root: bytes
    proof: list[bytes]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; verdict and category by name, the leaf's integers under ``leaf``."""
        return {"country": self.country, "epoch": self.epoch,
                "numberKey": "0x" + self.number_key.hex(), "score": self.score,
                "verdict": Verdict(self.verdict).name.lower(),
                "category": Category(self.category).name.lower(),
                "leaf": {"score": self.score, "verdict": self.verdict,
                         "category": self.category},
                "root": "0x" + self.root.hex(), "proof": ["0x" + p.hex() for p in self.proof]}


def epoch_of(timestamp: int, epoch_seconds: int) -> int:
    """The clock period (of ``epoch_seconds``) a timestamp falls in (>= 1): when to commit
    the next snapshot; the snapshot's epoch number is the country's next on chain."""
    return max(1, int(timestamp) // max(1, int(epoch_seconds)))


def table_arrays(rows: Sequence[ScoredNumber], hasher: Any,
                 verdict_of: Callable[[str, int], int] | None = None) -> dict[str, np.ndarray]:
    """The snapshot columns of a score table; a number scored twice keeps its last row.

    ``verdict_of(country, score_bps)`` gives each leaf's verdict (the ledger's rule: the
    consortium's on-chain thresholds); without it the row's own verdict is kept.
    """
    latest = {hasher.key(r.e164): r for r in rows}
    keys = np.frombuffer(b"".join(latest), dtype=np.uint8).reshape(-1, 32)
    vals = list(latest.values())
    verdicts = [int(r.verdict) if verdict_of is None else verdict_of(r.country, r.score_bps)
                for r in vals]
    return {"key": keys,
            "score": np.array([r.score_bps for r in vals], dtype=np.uint16),
            "verdict": np.array(verdicts, dtype=np.uint8),
            "category": np.array([int(r.category) for r in vals], dtype=np.uint8)}


def table_bytes(cols: dict[str, np.ndarray]) -> bytes:
    """The table as Parquet (keys as 32-byte binary)."""
    keys = cols["key"]
    table = pa.table({
        "number_key": pa.array([keys[i].tobytes() for i in range(len(keys))], pa.binary(32)),
        "score": pa.array(cols["score"]), "verdict": pa.array(cols["verdict"]),
        "category": pa.array(cols["category"])})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def read_table(data: bytes | Path) -> dict[str, np.ndarray]:
    """Columns of a snapshot table written by :func:`table_bytes`."""
    source = pa.BufferReader(data) if isinstance(data, bytes) else str(data)
    table = pq.read_table(source)
    keys = b"".join(table.column("number_key").to_pylist())
    return {"key": np.frombuffer(keys, dtype=np.uint8).reshape(-1, 32),
            "score": table.column("score").to_numpy(),
            "verdict": table.column("verdict").to_numpy(),
            "category": table.column("category").to_numpy()}


class EpochService:
    """Builds, stores, commits and proves one operator's epoch snapshots."""

    def __init__(self, operator: Operator, chain: Chain | None, store: Any, hasher: Any,
                 retry: RetryPolicy | None = None):
        self.op, self.chain, self.store, self.hasher = operator, chain, store, hasher
        self.retry = retry or RetryPolicy()

    def path(self, epoch: int) -> Path:
        return self.op.epochs_dir / f"{epoch}.parquet"

    def action_id(self, epoch: int) -> str:
        return f"epoch:{self._need_chain().chain_id}:{self.op.country}:{epoch}"

    def sealed(self, epoch: int) -> str | None:
        """Why ``epoch``'s snapshot can no longer change (None while it still may).

        A snapshot is sealed once it is committed on-chain or a commit of it is on its way
        (planned, signed or sent in the outbox): its local table is then never rewritten.
        """
        if self.chain is None:
            return None
        root = self.committed_root(epoch)
        if root is not None:
            return f"epoch {epoch} is committed on-chain with root 0x{root.hex()}"
        action = self.chain.outbox.find(self.action_id(epoch))
        if action is not None and action.state != "failed":
            return f"a commit of epoch {epoch} (root 0x{action.payload['root']}) is {action.state}"
        return None

    def existing(self, epoch: int) -> Snapshot | None:
        """The sealed snapshot of ``epoch`` as its local table holds it, or None if unsealed.

        Raises :class:`SnapshotImmutable` when the local table is missing or its root is not
        the one committed (or being committed): the table must never be rebuilt then.
        """
        why = self.sealed(epoch)
        if why is None:
            return None
        expected = self._sealed_root(epoch)
        path = self.path(epoch)
        if not path.exists():
            raise SnapshotImmutable(f"{why} but its table {path} is missing")
        cols = read_table(path)
        tree = MerkleTree.from_arrays(cols["key"], cols["score"], cols["verdict"],
                                      cols["category"])
        if tree.root != expected:
            raise SnapshotImmutable(f"{why} but {path} has root 0x{tree.root.hex()}")
        action = self._need_chain().outbox.find(self.action_id(epoch))
        cid = action.payload["cid"] if action else ""
        model = bytes.fromhex(action.payload["model"]) if action else b"\0" * 32
        return Snapshot(epoch, self.op.country, tree, cid, model, path)

    def _sealed_root(self, epoch: int) -> bytes:
        root = self.committed_root(epoch)
        if root is not None:
            return root
        action = self._need_chain().outbox.get(self.action_id(epoch))
        return bytes.fromhex(action.payload["root"])

    def build(self, rows: Sequence[ScoredNumber], epoch: int,
              model_hash: str | bytes) -> Snapshot:
        """Tree + local table + IPFS copy of ``rows`` for ``epoch`` (no chain call).

        Refuses (:class:`SnapshotImmutable`) an epoch already committed or being committed.
        """
        if not rows:
            raise MerkleError("an epoch snapshot needs at least one scored number")
        why = self.sealed(epoch)
        if why is not None:
            raise SnapshotImmutable(f"{why}; a committed snapshot is never rebuilt")
        if self.chain is not None:  # an earlier refused commit: this table is a new attempt
            self.chain.outbox.forget_failed(self.action_id(epoch))
        cols = table_arrays(rows, self.hasher, self.ledger_verdict())
        tree = MerkleTree.from_arrays(cols["key"], cols["score"], cols["verdict"],
                                      cols["category"])
        data = table_bytes(cols)
        write_atomic(self.path(epoch), data)
        cid = self._put(data)
        logger.info("epoch %d: %d numbers, root 0x%s, table %s (%d bytes)", epoch, tree.count,
                    tree.root.hex(), cid, len(data))
        return Snapshot(epoch, self.op.country, tree, cid, model_hash_bytes(model_hash),
                        self.path(epoch))

    def ledger_verdict(self) -> Callable[[str, int], int] | None:
        """The verdict rule rounds use (``Consensus.thresholdsOf`` the number's country),
        read once per country, so a snapshot leaf and a finalized round agree on a score."""
        chain = self.chain
        if chain is None:
            return None
        cache: dict[str, tuple[int, int]] = {}

        def verdict(country: str, score_bps: int) -> int:
            cc = country if is_country_code(country) else self.op.country
            if cc not in cache:
                spam, suspicious = chain.call("Consensus", "thresholdsOf", country_bytes(cc))
                cache[cc] = (int(spam), int(suspicious))
            spam, suspicious = cache[cc]
            return int(Verdict.SPAM if score_bps >= spam else Verdict.SUSPICIOUS
                       if score_bps >= suspicious else Verdict.NOT_SPAM)

        return verdict

    def _put(self, data: bytes) -> str:
        from oracle.service._evidence import _give_up, _ipfs_transient

        return self.retry.call(lambda: self.store.put_bytes(data, PARQUET),
                               "put the epoch table into IPFS", _ipfs_transient(), _give_up)

    def commit(self, snap: Snapshot) -> dict[str, Any] | None:
        """Commit a built snapshot on-chain exactly once; returns the receipt if sent now.

        Raises :class:`ActionFailed` when the commit was refused (e.g. the model is not
        approved): a snapshot that did not reach the chain is never reported as committed.
        """
        receipt = self._commit(snap)
        action = self._need_chain().outbox.get(self.action_id(snap.epoch))
        if action.state == "failed":
            raise ActionFailed(action.id, action.error or "refused")
        return receipt

    def _commit(self, snap: Snapshot) -> dict[str, Any] | None:
        chain = self._need_chain()
        action_id = self.action_id(snap.epoch)
        action = chain.outbox.plan(action_id, "epoch", {
            "epoch": snap.epoch, "root": snap.root.hex(), "cid": snap.cid,
            "model": snap.model_hash.hex(), "count": snap.tree.count})
        chain.submitter.reconcile()
        action = chain.outbox.get(action_id)
        if action.state in (MINED, "failed"):
            return None
        if self.committed_root(snap.epoch) is not None:
            chain.outbox.mark_mined(action_id, None)  # found on chain: done before a crash
            return None
        p = action.payload
        return chain.send([action_id], "SnapshotRegistry", "commitEpoch",
                          country_bytes(snap.country), snap.epoch, bytes.fromhex(p["root"]),
                          p["cid"], bytes.fromhex(p["model"]), p["count"])

    def committed_root(self, epoch: int) -> bytes | None:
        """The root committed on-chain for this operator's country and ``epoch``."""
        got = self._need_chain().call("SnapshotRegistry", "getEpoch",
                                      country_bytes(self.op.country), epoch)
        root = bytes(got[0])
        return None if root == b"\0" * 32 else root

    def _need_chain(self) -> Chain:
        if self.chain is None:
            raise ServiceError("this epoch service has no chain connection")
        return self.chain

    def latest_local_epoch(self) -> int:
        epochs = [int(p.stem) for p in self.op.epochs_dir.glob("*.parquet") if p.stem.isdigit()]
        if not epochs:
            raise ServiceError(f"operator {self.op.name} has no epoch snapshot yet")
        return max(epochs)

    def proof(self, number: str | bytes, epoch: int | None = None) -> Proof:
        """The proof of a number (E.164 or its 32-byte key) in an epoch (default: latest)."""
        epoch = self.latest_local_epoch() if epoch is None else epoch
        key = number if isinstance(number, bytes) else self.hasher.key(number)
        if not self.path(epoch).exists():
            raise MerkleError(f"operator {self.op.name} has no snapshot of epoch {epoch} "
                              f"(looked for {self.path(epoch)})")
        cols = read_table(self.path(epoch))
        tree = MerkleTree.from_arrays(cols["key"], cols["score"], cols["verdict"],
                                      cols["category"])
        idx = _row_of(cols["key"], key)
        leaf = (key, int(cols["score"][idx]), int(cols["verdict"][idx]),
                int(cols["category"][idx]))
        proof = tree.proof(key)
        if not verify(tree.root, leaf_hash(*leaf), proof):  # pragma: no cover - invariant
            raise MerkleError("proof does not verify against the local root")
        return Proof(self.op.country, epoch, key, leaf[1], leaf[2], leaf[3], tree.root, proof)

    def verified_proof(self, number: str | bytes, epoch: int | None = None) -> Proof:
        """:meth:`proof`, checked on-chain; raises :class:`MerkleError` when it does not verify.

        The message says why: the epoch is not committed, or the local table's root is not
        the committed one, or the contract refuses the leaf.
        """
        proof = self.proof(number, epoch)
        root = self.committed_root(proof.epoch)
        if root is None:
            raise MerkleError(f"epoch {proof.epoch} of {proof.country} is not committed "
                              "on-chain; nothing to verify against")
        if root != proof.root:
            raise MerkleError(f"the local table of epoch {proof.epoch} has root "
                              f"0x{proof.root.hex()} but the chain holds 0x{root.hex()}")
        if not self.verify_on_chain(proof):
            raise MerkleError(f"SnapshotRegistry.verifyLeaf refused the proof for epoch "
                              f"{proof.epoch}")
        return proof

    def verify_on_chain(self, proof: Proof) -> bool:
        """``SnapshotRegistry.verifyLeaf`` for a proof."""
        return bool(self._need_chain().call(
            "SnapshotRegistry", "verifyLeaf", country_bytes(proof.country), proof.epoch,
            proof.number_key, proof.score, proof.verdict, proof.category, proof.proof))


def _row_of(keys: np.ndarray, key: bytes) -> int:
    target = np.frombuffer(key, dtype=np.uint8)
    hits = np.nonzero((keys == target).all(axis=1))[0]
    if len(hits) == 0:
        raise MerkleError("number is not in this epoch's snapshot")
    return int(hits[0])
