"""Learning together: peers' models label numbers an operator's own complaints leave out.

Each operator labels its numbers from its own subscribers' complaints and its own call
graph, and that leaves most of its spam unlabelled where its subscribers rarely complain.
The other operators have learnt what spam looks like on their networks. Without sharing a
call record, an operator can run their models (received in the portable format of
:mod:`oracle._portable`: arrays and JSON, never a pickle, each checked against the hash in
its model card) over its *own* feature table, and take a number that most peers call spam
by its behaviour alone as a training label.

Rules, and why:

* a peer label is **spam only** and **soft** (``firm`` false): it adds positives the model
  learns from, but the thresholds stay chosen on the operator's own firm labels, so a
  peer's mistakes cannot move what the operator's precision means;
* it never overrides a firm label of the operator's own (an acquainted number, a vouched
  one, or spam it confirmed itself), only fills in unlabelled rows and soft "not spam"
  from silence;
* a peer votes spam when its behaviour-only probability reaches its own spam threshold
  for the network that scores the row (its global model for a foreign network), and a
  label needs ``min_share`` of the peers (default two thirds: the consortium's own
  super-majority), so one peer with an odd model cannot label alone.

Example::

    peers = [load_portable(d, expected_sha256=h) for d, h in peer_dirs]
    labels = add_peer_labels(features, labels, peers)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from oracle._errors import LabelError
from oracle._portable import PortableModel

logger = logging.getLogger(__name__)

DEFAULT_SHARE = 2 / 3


def peer_votes(features: pd.DataFrame, peers: Sequence[PortableModel]) -> np.ndarray:
    """How many peers call each row spam by its behaviour alone."""
    votes = np.zeros(len(features), dtype=np.int64)
    for peer in peers:
        votes += peer.probability(features) >= peer.spam_threshold(features)
    return votes


def add_peer_labels(features: pd.DataFrame, labels: pd.DataFrame,
                    peers: Sequence[PortableModel],
                    min_share: float = DEFAULT_SHARE) -> pd.DataFrame:
    """``labels`` (``number``, [``snapshot``], ``label``, ``firm``) plus soft peer spam labels.

    :param features: the operator's own training feature table (one row per number and
        snapshot).
    :param peers: other operators' portable models (none: ``labels`` unchanged).
    """
    if not peers:
        return labels
    if not 0 < min_share <= 1:
        raise LabelError(f"peer label share must be in (0, 1], got {min_share}")
    keys = ["number", "snapshot"] if "snapshot" in features.columns else ["number"]
    needed = max(1, math.ceil(min_share * len(peers) - 1e-9))
    spam = peer_votes(features, peers) >= needed
    own = labels if "firm" in labels.columns else labels.assign(firm=True)
    merged = features.loc[spam, keys].merge(own, on=keys, how="left")
    fill = merged["label"].isna() | ((merged["label"] == 0) & ~merged["firm"].astype(bool))
    added = merged.loc[fill, keys].assign(label=1, firm=False)
    kept = own.merge(added[keys], on=keys, how="left", indicator=True)
    kept = kept[kept["_merge"] == "left_only"].drop(columns="_merge")
    logger.info("peer labels: %d of %d rows called spam by >= %d of %d peers; %d added as "
                "soft spam labels (%d were unlabelled, %d soft 'not spam')", int(spam.sum()),
                len(features), needed, len(peers), len(added),
                int(merged.loc[fill, "label"].isna().sum()),
                int((merged.loc[fill, "label"] == 0).sum()))
    out = pd.concat([kept, added], ignore_index=True)
    return out.astype({"label": "int64", "firm": bool})
