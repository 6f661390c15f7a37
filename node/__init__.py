"""The chain side of SpamLedger: the local node, keystores, contracts and deployment record.

Errors (see ``node/_errors.py``)::

    SpamLedgerError
    └── NodeError
        ├── ChainUnreachable, AnvilError, KeystoreError, ArtifactError
        ├── DeploymentError, MigrationError
        └── ContractRevert
            └── MissingRole

The evidence store (IPFS) is the subpackage ``node.ipfs``.
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
from node._eip712 import recover_score_vote, sign_score_vote, vote_tuple
from node._errors import (
    AnvilError,
    ArtifactError,
    ChainUnreachable,
    ContractRevert,
    DeploymentError,
    KeystoreError,
    MigrationError,
    MissingRole,
    NodeError,
)
from node._genesis import besu_qbft_genesis, decode_qbft_extra_data, qbft_extra_data
from node._keys import (
    create_keystore,
    ensure_keystores,
    keystore_dir,
    list_keystores,
    load_account,
    resolve_password,
)

__all__ = [
    "AnvilError",
    "AnvilNode",
    "Artifact",
    "ArtifactError",
    "ChainUnreachable",
    "ContractRevert",
    "Deployment",
    "DeploymentError",
    "KeystoreError",
    "Ledger",
    "MigrationError",
    "MissingRole",
    "NodeError",
    "admit_consortium",
    "admit_validator",
    "anvil_binary",
    "besu_qbft_genesis",
    "connect",
    "country_bytes",
    "country_str",
    "create_keystore",
    "decode_qbft_extra_data",
    "decode_revert",
    "ensure_keystores",
    "grant_role",
    "keystore_dir",
    "list_keystores",
    "load_account",
    "load_artifact",
    "qbft_extra_data",
    "recover_score_vote",
    "resolve_password",
    "set_arbiter",
    "sign_score_vote",
    "vote_tuple",
]
