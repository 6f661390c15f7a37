"""The chain side of SpamLedger: the local node, keystores, contracts and deployment record.

Errors (see ``node/_errors.py``)::

    SpamLedgerError
    └── NodeError
        ├── ChainUnreachable, AnvilError, KeystoreError, ArtifactError
        ├── DeploymentError, MigrationError
        └── ContractRevert
            └── MissingRole

The evidence store (IPFS) is the subpackage ``node.ipfs``; its errors derive from
``node.ipfs.EvidenceError`` (re-exported here).
"""

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
    MembershipError,
    MigrationError,
    MissingRole,
    NodeError,
)
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
    DisputeStatus,
    Record,
    approve_model,
    cast_votes,
    commit_epoch,
    current_round,
    finalize,
    make_vote,
    open_dispute,
    open_round,
    read_record,
    read_records,
    register_model,
    resolve_dispute,
    verify_leaf,
    vote_dispute,
)
from node.ipfs._errors import EvidenceError

__all__ = [
    "DEFAULT_FUND_WEI",
    "ETHER",
    "MAX_BUNDLE",
    "AnvilError",
    "AnvilNode",
    "Artifact",
    "ArtifactError",
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
