"""Errors of edge bundles (see the hierarchy in ``spamledger/edge/__init__.py``)."""

from __future__ import annotations

from spamledger._errors import SpamLedgerError


class EdgeError(SpamLedgerError):
    """Base of every edge bundle error."""


class BundleFormatError(EdgeError):
    """A file is no bundle, is truncated, or its parts disagree (sizes, order, root)."""


class VerificationFailed(EdgeError):
    """A bundle does not match what the chain attests (root, chain, contracts, records)."""


class SourceError(EdgeError):
    """The index a bundle is built from is not ready (pending epochs, no cursor, bad scope)."""


class NothingIndexed(SourceError):
    """The index has not reached any block yet: there is no bundle to build."""


class SinceAhead(SourceError):
    """A delta was asked since a block the index has not reached."""
