"""The chain side of SpamLedger: the local node, keystores, contracts and deployment record.

Errors (see ``node/_errors.py``)::

    SpamLedgerError
    └── NodeError
        ├── ChainUnreachable, AnvilError, KeystoreError, ArtifactError
        ├── DeploymentError, MigrationError (LegacyArchiveError)
        └── ContractRevert
            └── MissingRole

The evidence store (IPFS) is the subpackage ``node.ipfs``; its errors derive from
``node.ipfs.EvidenceError`` (re-exported here).
"""

from typing import TYPE_CHECKING

from node._errors import (
    AnvilError,
    ArtifactError,
    ChainUnreachable,
    ContractRevert,
    DeploymentError,
    InsufficientFunds,
    InvalidAddress,
    InvalidCountry,
    KeystoreError,
    LegacyArchiveError,
    MembershipError,
    MigrationError,
    MissingRole,
    NodeError,
)
from spamledger._lazy import lazy_exports

if TYPE_CHECKING:
    from node._anvil import AnvilNode, anvil_binary
    from node._artifacts import Artifact, load_artifact
    from node._client import Ledger, connect, decode_revert
    from node._consortium import (
        admit_consortium,
        admit_validator,
        country_bytes,
        country_str,
        grant_role,
        set_arbiter,
    )
    from node._deployment import Deployment
    from node._disputes import (
        DisputeCase,
        dispute_count,
        dispute_votes,
        list_disputes,
        read_dispute,
    )
    from node._eip712 import recover_score_vote, sign_score_vote, vote_tuple
    from node._funding import DEFAULT_FUND_WEI, ETHER, Funding, fund_accounts
    from node._genesis import besu_qbft_genesis, decode_qbft_extra_data, qbft_extra_data
    from node._keys import (
        create_keystore,
        ensure_keystores,
        keystore_dir,
        list_keystores,
        load_account,
        resolve_address,
        resolve_password,
    )
    from node._ledger_ops import (
        MAX_BUNDLE,
        BatchOutcome,
        DisputeStatus,
        Record,
        approve_model,
        cast_votes,
        commit_epoch,
        current_round,
        finalize,
        finalize_many,
        make_vote,
        open_dispute,
        open_round,
        open_rounds,
        read_record,
        read_records,
        register_model,
        resolve_dispute,
        verify_leaf,
        vote_dispute,
    )
    from node.ipfs._errors import EvidenceError

# Loaded on first use (see spamledger/_lazy.py): `spamledger --help` stays fast.
__getattr__ = lazy_exports(__name__, {
    "AnvilNode": "node._anvil",
    "Artifact": "node._artifacts",
    "BatchOutcome": "node._ledger_ops",
    "DEFAULT_FUND_WEI": "node._funding",
    "Deployment": "node._deployment",
    "DisputeCase": "node._disputes",
    "DisputeStatus": "node._ledger_ops",
    "ETHER": "node._funding",
    "EvidenceError": "node.ipfs._errors",
    "Funding": "node._funding",
    "Ledger": "node._client",
    "MAX_BUNDLE": "node._ledger_ops",
    "Record": "node._ledger_ops",
    "admit_consortium": "node._consortium",
    "admit_validator": "node._consortium",
    "anvil_binary": "node._anvil",
    "approve_model": "node._ledger_ops",
    "besu_qbft_genesis": "node._genesis",
    "cast_votes": "node._ledger_ops",
    "commit_epoch": "node._ledger_ops",
    "connect": "node._client",
    "country_bytes": "node._consortium",
    "country_str": "node._consortium",
    "create_keystore": "node._keys",
    "current_round": "node._ledger_ops",
    "decode_qbft_extra_data": "node._genesis",
    "decode_revert": "node._client",
    "dispute_count": "node._disputes",
    "dispute_votes": "node._disputes",
    "ensure_keystores": "node._keys",
    "finalize": "node._ledger_ops",
    "finalize_many": "node._ledger_ops",
    "fund_accounts": "node._funding",
    "grant_role": "node._consortium",
    "keystore_dir": "node._keys",
    "list_disputes": "node._disputes",
    "list_keystores": "node._keys",
    "load_account": "node._keys",
    "load_artifact": "node._artifacts",
    "make_vote": "node._ledger_ops",
    "open_dispute": "node._ledger_ops",
    "open_round": "node._ledger_ops",
    "open_rounds": "node._ledger_ops",
    "qbft_extra_data": "node._genesis",
    "read_dispute": "node._disputes",
    "read_record": "node._ledger_ops",
    "read_records": "node._ledger_ops",
    "recover_score_vote": "node._eip712",
    "register_model": "node._ledger_ops",
    "resolve_address": "node._keys",
    "resolve_dispute": "node._ledger_ops",
    "resolve_password": "node._keys",
    "set_arbiter": "node._consortium",
    "sign_score_vote": "node._eip712",
    "verify_leaf": "node._ledger_ops",
    "vote_dispute": "node._ledger_ops",
    "vote_tuple": "node._eip712",
})

__all__ = [
    "DEFAULT_FUND_WEI",
    "ETHER",
    "MAX_BUNDLE",
    "AnvilError",
    "AnvilNode",
    "Artifact",
    "ArtifactError",
    "BatchOutcome",
    "ChainUnreachable",
    "ContractRevert",
    "Deployment",
    "DeploymentError",
    "DisputeCase",
    "DisputeStatus",
    "EvidenceError",
    "Funding",
    "InsufficientFunds",
    "InvalidAddress",
    "InvalidCountry",
    "KeystoreError",
    "Ledger",
    "LegacyArchiveError",
    "MembershipError",
    "MigrationError",
    "MissingRole",
    "NodeError",
    "Record",
    "admit_consortium",
    "admit_validator",
    "anvil_binary",
    "approve_model",
    "besu_qbft_genesis",
    "cast_votes",
    "commit_epoch",
    "connect",
    "country_bytes",
    "country_str",
    "create_keystore",
    "current_round",
    "decode_qbft_extra_data",
    "decode_revert",
    "dispute_count",
    "dispute_votes",
    "ensure_keystores",
    "finalize",
    "finalize_many",
    "fund_accounts",
    "grant_role",
    "keystore_dir",
    "list_disputes",
    "list_keystores",
    "load_account",
    "load_artifact",
    "make_vote",
    "open_dispute",
    "open_round",
    "open_rounds",
    "qbft_extra_data",
    "read_dispute",
    "read_record",
    "read_records",
    "recover_score_vote",
    "register_model",
    "resolve_address",
    "resolve_dispute",
    "resolve_password",
    "set_arbiter",
    "sign_score_vote",
    "verify_leaf",
    "vote_dispute",
    "vote_tuple",
]
