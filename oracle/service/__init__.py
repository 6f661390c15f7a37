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

from oracle.service._errors import (
    ActionFailed,
    ChainUnavailable,
    EvidenceUnavailable,
    MerkleError,
    ModelGovernanceError,
    OperatorError,
    OutboxError,
    ServiceError,
)
from oracle.service._merkle import MerkleTree, leaf_hash, verify
from oracle.service._operator import Operator
from oracle.service._outbox import Action, Outbox
from oracle.service._retry import RetryPolicy
from oracle.service._submit import Submitter

__all__ = [
    "Action",
    "ActionFailed",
    "ChainUnavailable",
    "EvidenceUnavailable",
    "MerkleError",
    "MerkleTree",
    "ModelGovernanceError",
    "Operator",
    "OperatorError",
    "Outbox",
    "OutboxError",
    "RetryPolicy",
    "ServiceError",
    "Submitter",
    "leaf_hash",
    "verify",
]
