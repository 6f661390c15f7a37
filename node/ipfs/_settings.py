"""IPFS settings beyond ``ipfs_api`` and ``ipfs_gateway_port`` (which are core settings).

The lead merges :data:`SETTINGS` into ``node/_settings.py`` (``SETTINGS = (...) +
node.ipfs._settings.SETTINGS``); until then the store and daemon use these defaults.
"""

from __future__ import annotations

from spamledger._settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("ipfs_max_bytes", int, 64 * 1024 * 1024,
            "largest evidence document accepted on put and get, in bytes", group="ipfs"),
    Setting("ipfs_timeout", float, 30.0,
            "seconds for one IPFS API call (past it: ReadTimedOut; absence is decided by "
            "the node's refs/local listing, never by a timeout)",
            group="ipfs"),
    Setting("ipfs_cid_version", int, 1,
            "CID version of new evidence: 1 (bafy..., raw leaves) or 0 (Qm...)",
            group="ipfs"),
    Setting("ipfs_node_bin", str, "node",
            "Node.js executable that runs the embedded js-ipfs node", group="ipfs"),
)
