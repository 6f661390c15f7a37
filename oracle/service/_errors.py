"""Errors of the oracle service.

::

    SpamLedgerError
    └── oracle.OracleError
        └── ServiceError                 (oracle.service: anything the service refuses or fails)
            ├── OperatorError          operator identity/config incomplete or inconsistent
            ├── MerkleError            empty tree, leaf not in tree, proof does not verify
            ├── SnapshotImmutable      an epoch committed (or being committed) is not rebuilt
            ├── OutboxError            outbox database unreadable, unknown action
            │   └── ActionFailed       an action was given up (decoded revert or retries spent)
            ├── ChainUnavailable       the chain stayed unreachable through every retry
            ├── EvidenceUnavailable    IPFS stayed unreachable through every retry
            └── ModelGovernanceError   promotion refused, nothing to roll back to
"""

from __future__ import annotations

from oracle._errors import OracleError


class ServiceError(OracleError):
    """Base of the oracle service's errors."""


class OperatorError(ServiceError):
    """The operator's identity or configuration is incomplete or inconsistent."""


class MerkleError(ServiceError):
    """A Merkle tree cannot be built or a leaf is not in it."""


class SnapshotImmutable(ServiceError):
    """An epoch snapshot already committed, or being committed, cannot change."""


class OutboxError(ServiceError):
    """The outbox database cannot be used."""


class ActionFailed(OutboxError):
    """An outbox action was given up; ``reason`` says why (a decoded revert or retries)."""

    def __init__(self, action_id: str, reason: str):
        super().__init__(f"action {action_id} failed: {reason}")
        self.action_id = action_id
        self.reason = reason


class ChainUnavailable(ServiceError):
    """The chain did not answer through every retry."""


class EvidenceUnavailable(ServiceError):
    """The IPFS node did not answer through every retry."""


class ModelGovernanceError(ServiceError):
    """A model cannot be registered, promoted or rolled back."""
