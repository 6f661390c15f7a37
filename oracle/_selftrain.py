"""Self-training: a first model's confident verdicts on numbers the complaints left out.

The derived labels (:func:`oracle.derive_labels`) name spam only where subscribers
complained or the number walked the numbering plan. Spam of the same kind that drew no
complaint yet is left out of training, or labelled soft "not spam" from silence. A first
model, trained on the derived labels, already scores those rows; where it would call a row
spam, the row becomes a **soft spam label** and the model is fitted a second time.

Assumptions (what the step rests on):

1. The labelled spam is a biased but *representative-enough* sample of each spam type: a
   quiet number that behaves like labelled spam is spam of that type. Types of which no
   member was labelled stay invisible (nothing here can find them).
2. The first model's operating point is trusted as far as its own out-of-fold precision
   says: a row becomes a label only when its score (behaviour probability combined with
   its own complaint evidence, exactly what scoring applies) reaches the spam threshold of
   the model that scores it, the threshold chosen for ``target_precision`` on firm labels.
   No new constant: the precision target is the operator's own setting. A quiet number
   that reached many strangers carries negative complaint evidence, so exposure counts.
3. Added labels are **soft** (``firm`` false) and never override a firm label (spam the
   operator confirmed, an acquainted, sought-out or vouched-for number, one that placed no
   call). Thresholds of the second model are chosen on firm labels only, so the added
   labels move what the model learns, never what its precision means. Only one round:
   repeating would let the model confirm its own mistakes.

The operator switches it with the setting ``oracle_self_training``.

Example::

    first = train(features, labels, config, window)
    labels = add_self_labels(features, labels, first)
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from oracle._model import Model, group_key

logger = logging.getLogger(__name__)


def self_votes(features: pd.DataFrame, model: Model) -> np.ndarray:
    """Whether ``model`` calls each row of ``features`` spam (score >= its spam threshold)."""
    if features.empty:
        return np.zeros(0, dtype=bool)
    x = model.matrix(features)
    llr = model.llr(features)
    keys = group_key(features).to_numpy()
    hit = np.zeros(len(features), dtype=bool)
    for key in sorted(set(keys)):
        sel = keys == key
        scorer = model.model_for(key)
        hit[sel] = scorer.score(x[sel], llr[sel]) >= scorer.spam_threshold
    return hit


def add_self_labels(features: pd.DataFrame, labels: pd.DataFrame,
                    model: Model) -> pd.DataFrame:
    """``labels`` (``number``, [``snapshot``], ``label``, ``firm``) plus soft spam labels.

    :param features: the training feature table (one row per number and snapshot).
    :param model: the first model, trained on ``labels``.
    """
    keys = ["number", "snapshot"] if "snapshot" in features.columns else ["number"]
    own = labels if "firm" in labels.columns else labels.assign(firm=True)
    merged = features[keys].merge(own, on=keys, how="left")
    candidate = (merged["label"].isna()
                 | ((merged["label"] == 0) & ~merged["firm"].fillna(True).astype(bool)))
    pick = candidate.to_numpy()
    hit = np.zeros(len(merged), dtype=bool)
    hit[pick] = self_votes(features.loc[pick], model)
    added = merged.loc[hit, keys].assign(label=1, firm=False)
    kept = own.merge(added[keys], on=keys, how="left", indicator=True)
    kept = kept[kept["_merge"] == "left_only"].drop(columns="_merge")
    logger.info("self-training: %d of %d unlabelled or soft 'not spam' rows reach the first "
                "model's spam threshold; added as soft spam labels (%d were unlabelled, %d "
                "soft 'not spam')", int(hit.sum()), int(pick.sum()),
                int(merged.loc[hit, "label"].isna().sum()),
                int((merged.loc[hit, "label"] == 0).sum()))
    out = pd.concat([kept, added], ignore_index=True)
    return out.astype({"label": "int64", "firm": bool})
