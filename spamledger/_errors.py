"""The root of every SpamLedger exception.

::

    SpamLedgerError
    ├── SettingsError            (spamledger: bad config key or value)
    ├── node.NodeError           (chain, keystores, deployment; see node/__init__.py)
    ├── node.EvidenceError       (IPFS evidence store)
    ├── oracle.OracleError       (ingest, features, models, rules, submission)
    └── api.ApiError             (carries its HTTP status)

The CLI prints any ``SpamLedgerError`` as one line and exits 1; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class SpamLedgerError(Exception):
    """Base of all errors SpamLedger raises on purpose."""
