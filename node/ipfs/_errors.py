"""Errors of the IPFS evidence store and of the local IPFS node.

::

    SpamLedgerError
    └── EvidenceError            (anything about evidence in IPFS)
        ├── NodeUnreachable      (the RPC API at the configured address does not answer)   503
        │   └── ReadTimedOut     (it answered too slowly: proves nothing about the content)  503
        ├── TooLarge             (upload or download above the size limit, limit named)     413
        ├── BadContentType       (type not allowed, or bytes not of the declared type)      415
        ├── InvalidCid           (malformed CID string, or a CID we cannot verify)          400
        ├── TamperedContent      (bytes from the node do not hash to the requested CID)     502
        ├── Erased               (the document was erased on a privacy request)            410
        ├── NotFound             (the node does not have the document)                      404
        └── IpfsDaemonError      (starting or stopping the local js-ipfs node failed)      500

Each class carries ``http_status`` (the numbers above) so the API can map it directly.
"""

from __future__ import annotations

from spamledger._errors import SpamLedgerError


class EvidenceError(SpamLedgerError):
    """Base of every evidence-store error."""

    http_status = 500


class NodeUnreachable(EvidenceError):
    """The IPFS RPC API does not answer (message names the address)."""

    http_status = 503


class ReadTimedOut(NodeUnreachable):
    """The node did not answer in time: slow, busy or without the content; never proof of
    absence (the store asks the node's listings for that)."""


class TooLarge(EvidenceError):
    """A document is larger than the configured limit (message names the limit)."""

    http_status = 413


class BadContentType(EvidenceError):
    """A content type is not allowed, or the bytes are not of the declared type."""

    http_status = 415


class InvalidCid(EvidenceError, ValueError):
    """A CID string is malformed, or uses a codec/hash this store cannot verify."""

    http_status = 400


class TamperedContent(EvidenceError):
    """The node returned bytes whose recomputed CID differs from the one requested."""

    http_status = 502


class Erased(EvidenceError):
    """The document was deliberately erased (unpinned and garbage-collected)."""

    http_status = 410


class NotFound(EvidenceError):
    """The node does not hold the document: its own block listing lacks it."""

    http_status = 404


class IpfsDaemonError(EvidenceError):
    """The local IPFS node could not be started, stopped or inspected."""

    http_status = 500
