"""IPFS evidence store and the embedded js-ipfs node.

Public surface:

* :class:`EvidenceStore` — put/get JSON, bytes and files on any IPFS RPC API (js-ipfs or
  Kubo), every read verified against its CID; pin, unpin, erase; batched put and get.
* :func:`start_ipfs`, :func:`stop_ipfs`, :func:`ipfs_status` — the local node under
  ``data_dir/ipfs`` (called by ``spamledger node start|stop|status``).
* :func:`compute_cid`, :func:`compute_file_cid`, :func:`parse_cid`, :class:`Cid` — CIDs
  computed locally exactly as Kubo's ``ipfs add`` defaults.

Errors (all ``EvidenceError``, rooted at ``SpamLedgerError``; see ``_errors``)::

    EvidenceError
    ├── NodeUnreachable   ├── TooLarge      ├── BadContentType   ├── InvalidCid
    ├── TamperedContent   ├── Erased        ├── NotFound         └── IpfsDaemonError
"""

from node.ipfs._cid import Cid, cid_matches, compute_cid, compute_file_cid, parse_cid
from node.ipfs._content import DEFAULT_ALLOWED_TYPES
from node.ipfs._daemon import IpfsInfo, IpfsStatus, ipfs_status, start_ipfs, stop_ipfs
from node.ipfs._erasure import ErasureRecord
from node.ipfs._errors import (
    BadContentType,
    Erased,
    EvidenceError,
    InvalidCid,
    IpfsDaemonError,
    NodeUnreachable,
    NotFound,
    ReadTimedOut,
    TamperedContent,
    TooLarge,
)
from node.ipfs._presence import Presence
from node.ipfs._settings import SETTINGS
from node.ipfs._store import DEFAULT_MAX_BYTES, EvidenceStore, encode_json

__all__ = [
    "DEFAULT_ALLOWED_TYPES",
    "DEFAULT_MAX_BYTES",
    "SETTINGS",
    "BadContentType",
    "Cid",
    "Erased",
    "ErasureRecord",
    "EvidenceError",
    "EvidenceStore",
    "InvalidCid",
    "IpfsDaemonError",
    "IpfsInfo",
    "IpfsStatus",
    "NodeUnreachable",
    "NotFound",
    "Presence",
    "ReadTimedOut",
    "TamperedContent",
    "TooLarge",
    "cid_matches",
    "compute_cid",
    "compute_file_cid",
    "encode_json",
    "ipfs_status",
    "parse_cid",
    "start_ipfs",
    "stop_ipfs",
]
