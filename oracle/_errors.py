"""The oracle's exceptions, all rooted at :class:`spamledger._errors.SpamLedgerError`.

::

    SpamLedgerError
    └── OracleError            (anything the oracle refuses to do)
        ├── IngestError        (a source path is missing or holds no readable files)
        │   └── SchemaError    (a file lacks a required column or has a wrong type)
        ├── FeatureError       (the feature query failed, or no data before --until)
        ├── LabelError         (no usable labels: too few positives or negatives)
        ├── ModelError         (model directory missing, hash mismatch, incompatible features)
        └── RulesError         (a country rules file is unreadable or has unknown keys)

Errors from DuckDB, scikit-learn, pyarrow or YAML are caught where the oracle calls them
and re-raised as one of these with ``raise ... from exc``.
"""

from __future__ import annotations

from spamledger._errors import SpamLedgerError


class OracleError(SpamLedgerError):
    """Base of every error the oracle raises on purpose."""


class IngestError(OracleError):
    """A source path is missing or holds no readable files."""


class SchemaError(IngestError):
    """A file cannot be read as the data contract says; names the file and the column."""

    def __init__(self, path: object, column: str, problem: str):
        self.path = str(path)
        self.column = column
        super().__init__(f"{path}: column {column!r}: {problem}")


class FeatureError(OracleError):
    """The feature build failed or found no data in the window."""


class LabelError(OracleError):
    """Labels are missing or too one-sided to train on."""


class ModelError(OracleError):
    """A model cannot be trained, saved, loaded or applied."""


class RulesError(OracleError):
    """A country rules file is invalid."""
