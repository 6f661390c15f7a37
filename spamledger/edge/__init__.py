"""Edge bundles: the ledger's answers in one memory-mapped file a telco switch can trust.

``spamledger edge build`` writes every finalized record and epoch leaf of a country (or all)
as a compact file whose Merkle root a validator attests on-chain
(``SnapshotRegistry.commitBundle``); ``edge verify`` checks a file against that attestation
and its records against the chain; :class:`Bundle` answers lookups from the mapped file;
``edge serve`` is the loopback sidecar that reloads atomically when a new file or delta lands.

Errors::

    SpamLedgerError
    └── EdgeError
        ├── BundleFormatError    (not a bundle, truncated, altered, delta for another base)
        ├── VerificationFailed   (root not attested on-chain, wrong chain, record differs)
        └── SourceError          (the index is not ready to build from)
"""

from spamledger._files import write_atomic
from spamledger.edge._bundle import Answer, Bundle, Lookups
from spamledger.edge._errors import BundleFormatError, EdgeError, SourceError, VerificationFailed
from spamledger.edge._format import (
    ALL,
    Entries,
    Header,
    apply_delta,
    check_root,
    encode,
    make_entries,
    verify_proof,
)

__all__ = [
    "ALL",
    "Answer",
    "Bundle",
    "BundleFormatError",
    "EdgeError",
    "Entries",
    "Header",
    "Lookups",
    "SourceError",
    "VerificationFailed",
    "apply_delta",
    "check_root",
    "encode",
    "make_entries",
    "verify_proof",
    "write_atomic",
]
