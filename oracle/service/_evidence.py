"""Per-vote evidence documents in IPFS: what drove a score, never whose number it is.

The document names the scored number only by its keyed hash (the vote's ``numberKey``) and
holds the model hash, the feature values that drove the score, the top reasons in words and
report counts. Before upload every string in it is checked: anything that looks like a
phone number (7+ digits) refuses the document, so a raw subscriber number cannot leak
through a reason text or a feature name.

Example::

    ev = EvidenceWriter(store, RetryPolicy())
    cid = ev.put(build_evidence(row, key_hex, operator="us", model_hash="0x.."))
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any, Protocol

from oracle.service._errors import EvidenceUnavailable, ServiceError
from oracle.service._retry import RetryPolicy

logger = logging.getLogger(__name__)

SCHEMA = "spamledger.vote-evidence/1"
MAX_FEATURES = 24
# 7 or more digits, possibly split by spaces, dots, dashes or brackets: a phone number.
_PHONE_LIKE = re.compile(r"\+?\d(?:[\s().-]*\d){6,}")
# Digests and CIDs are long runs of hex/base32 characters: not phone numbers.
_DIGEST = re.compile(r"^(?:0x)?[0-9a-fA-F]{32,}$|^(?:baf[a-z2-7]{50,}|Qm[1-9A-HJ-NP-Za-km-z]{44})$")
# ISO-8601 instants are digit runs too; they are removed before the check.
_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                          r"(?:Z|[+-]\d{2}:?\d{2})?")


class EvidenceStoreLike(Protocol):
    """What the service needs from ``node.ipfs.EvidenceStore``."""

    def put_json(self, doc: Any) -> str: ...

    def get_json(self, cid: str) -> Any: ...


class RawNumberInEvidence(ServiceError):
    """An evidence document would have carried something that looks like a phone number."""


def build_evidence(*, number_key: str, operator: str, country: str, model_hash: str,
                   score_bps: int, verdict: int, category: int, confidence: int,
                   features: Mapping[str, float] | None = None,
                   reasons: list[str] | None = None,
                   reports: Mapping[str, int] | None = None, abstain: bool = False,
                   ) -> dict[str, Any]:
    """The evidence document of one vote (deterministic for the same inputs).

    :param number_key: ``0x`` hex of the keyed hash, the only name of the number.
    :param features: feature name -> value; the ``MAX_FEATURES`` largest in magnitude kept.
    """
    doc = {
        "schema": SCHEMA,
        "numberKey": number_key,
        "operator": operator,
        "country": country,
        "model": model_hash,
        "score": int(score_bps),
        "verdict": int(verdict),
        "category": int(category),
        "confidence": int(confidence),
        "abstain": bool(abstain),
        "features": _top_features(features or {}),
        "reasons": [str(r) for r in (reasons or [])][:10],
        "reports": {str(k): int(v) for k, v in (reports or {}).items()},
    }
    check_no_raw_numbers(doc)
    return doc


def _top_features(features: Mapping[str, float]) -> dict[str, float]:
    finite = {str(k): float(v) for k, v in features.items()
              if v is not None and math.isfinite(float(v))}
    top = sorted(finite.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:MAX_FEATURES]
    return {k: round(v, 6) for k, v in sorted(top)}


def check_no_raw_numbers(doc: Any, path: str = "$") -> None:
    """Raise :class:`RawNumberInEvidence` if any string in ``doc`` looks like a phone number.

    The ``numberKey`` (64 hex digits with letters) and CIDs do not match: the pattern needs
    7 digits in a row, separators allowed.
    """
    if isinstance(doc, Mapping):
        for k, v in doc.items():
            check_no_raw_numbers(k, f"{path}.<key>")
            if k == "numberKey" or k == "model":
                continue  # hex digests, checked for shape instead
            check_no_raw_numbers(v, f"{path}.{k}")
    elif isinstance(doc, list | tuple):
        for i, v in enumerate(doc):
            check_no_raw_numbers(v, f"{path}[{i}]")
    elif (isinstance(doc, str) and not _DIGEST.match(doc)
          and _PHONE_LIKE.search(_ISO_INSTANT.sub(" ", doc))):
        raise RawNumberInEvidence(f"evidence field {path} looks like a phone number; "
                                  "only keyed hashes may leave the operator")


class EvidenceWriter:
    """Puts evidence documents into IPFS with bounded retries."""

    def __init__(self, store: EvidenceStoreLike, retry: RetryPolicy):
        self.store, self.retry = store, retry

    def put(self, doc: dict[str, Any]) -> str:
        """Upload ``doc``; returns its CID."""
        check_no_raw_numbers(doc)
        return self.retry.call(lambda: self.store.put_json(doc), "put evidence into IPFS",
                               _ipfs_transient(), _give_up)

    def put_many(self, docs: list[dict[str, Any]]) -> list[str]:
        """Upload many documents in batched API calls; CIDs in the same order."""
        if not docs:
            return []
        for doc in docs:
            check_no_raw_numbers(doc)
        put_all = getattr(self.store, "put_json_many", None)
        if put_all is None:
            return [self.put(doc) for doc in docs]
        return self.retry.call(lambda: list(put_all(docs)),
                               f"put {len(docs)} evidence documents into IPFS",
                               _ipfs_transient(), _give_up)

    def get(self, cid: str) -> Any:
        return self.retry.call(lambda: self.store.get_json(cid), f"get evidence {cid}",
                               _ipfs_transient(), _give_up)


def _ipfs_transient() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        from node.ipfs._errors import NodeUnreachable

        kinds.append(NodeUnreachable)
    except ImportError:  # pragma: no cover
        pass
    return tuple(kinds)


def _give_up(what: str, exc: BaseException) -> EvidenceUnavailable:
    return EvidenceUnavailable(f"IPFS unreachable while trying to {what}: {exc}")
