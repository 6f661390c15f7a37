"""The oracle service: each operator's scores onto the ledger, continuously and exactly once.

Modules (private; public names are re-exported here):

- ``_operator``  who this oracle is and where its files live
- ``_merkle``    epoch snapshot Merkle trees (OpenZeppelin StandardMerkleTree layout)
- ``_outbox``    the persistent outbox (SQLite): every intended action exactly once
- ``_submit``    signing, sending and reconciling transactions for outbox actions
- ``_evidence``  per-vote evidence documents in IPFS (keyed hashes only, never raw numbers)
- ``_chain``     the contract calls the service makes (Consensus, ModelRegistry, Snapshots)
- ``_votes``     votes, rounds and finalization
- ``_epoch``     epoch snapshots and proofs
- ``_models``    model registration, promotion and rollback
- ``_run``       the continuous mode (drop folder -> rescoring -> votes)

Errors: see ``_errors``.
"""

from typing import Any

from oracle.service._errors import (
    ActionFailed,
    ChainUnavailable,
    EvidenceUnavailable,
    MerkleError,
    ModelGovernanceError,
    OperatorError,
    OutboxError,
    ServiceError,
    SnapshotImmutable,
)
from oracle.service._operator import Operator
from oracle.service._outbox import Action, Outbox
from oracle.service._retry import RetryPolicy
from oracle.service._submit import Submitter

# Heavier parts (pandas, pyarrow, web3 contracts) load on first use: the settings table
# imports this package at every CLI start.
_LAZY = {
    "Chain": "oracle.service._chain",
    "ContinuousRunner": "oracle.service._run",
    "EpochService": "oracle.service._epoch",
    "EvidenceWriter": "oracle.service._evidence",
    "MerkleTree": "oracle.service._merkle",
    "ModelGovernance": "oracle.service._models",
    "OracleApp": "oracle.service._app",
    "Proof": "oracle.service._epoch",
    "PushReport": "oracle.service._votes",
    "ScoredNumber": "oracle.service._scored",
    "VotePolicy": "oracle.service._votes",
    "VoteService": "oracle.service._votes",
    "build_evidence": "oracle.service._evidence",
    "leaf_hash": "oracle.service._merkle",
    "read_scores": "oracle.service._scored",
    "register_service_commands": "oracle.service._cli",
    "verify": "oracle.service._merkle",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'oracle.service' has no attribute {name!r}")


__all__ = [
    "Action",
    "ActionFailed",
    "Chain",
    "ChainUnavailable",
    "ContinuousRunner",
    "EpochService",
    "EvidenceUnavailable",
    "EvidenceWriter",
    "MerkleError",
    "MerkleTree",
    "ModelGovernance",
    "ModelGovernanceError",
    "Operator",
    "OperatorError",
    "OracleApp",
    "Outbox",
    "OutboxError",
    "Proof",
    "PushReport",
    "RetryPolicy",
    "ScoredNumber",
    "ServiceError",
    "SnapshotImmutable",
    "Submitter",
    "VotePolicy",
    "VoteService",
    "build_evidence",
    "leaf_hash",
    "read_scores",
    "register_service_commands",
    "verify",
]
