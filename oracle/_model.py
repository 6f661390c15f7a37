"""Per-country spam models: training, calibration, thresholds, saving with a content hash.

For every country (the recording network) with enough labelled numbers a scikit-learn
``HistGradientBoostingClassifier`` is trained, and one global model on all countries is the
fallback. Negatives are undersampled for fitting only: calibration and thresholds use
out-of-fold predictions at the real class ratio, so the saved probabilities mean what they
say. The models see behaviour only; a number's own complaints are added afterwards as
evidence (the log likelihood ratio of :func:`oracle._labels.complaint_llr`, with the label
policy's rates), so the score is ``P(spam | behaviour, complaints)``: a silent scam is
caught by its behaviour, and a busy call centre that reached thousands of people with a
handful of complaints is cleared by them. The spam threshold is the lowest combined score
at which out-of-fold precision reaches ``target_precision`` (default 0.97); the
suspicious threshold catches what the spam tier leaves (see :func:`_thresholds`). Where no
score reaches the target on the firm labels the spam tier is **off** (threshold 1: nothing
is called spam by behaviour alone) and the model card and the train command say so, with
the best precision the labels allowed (:func:`spam_tier_note`).

A saved model is a directory: ``model.pkl`` (the pickled payload; its SHA-256 is the model
hash, the ``bytes32`` the ledger records), ``model_card.json`` (hash, features, training
window, per-country metrics, class ratio, thresholds, and ``portable_sha256``) and the
portable copy ``portable.json`` + ``portable.npz`` (:mod:`oracle._portable`). Loading
checks the hash. ``model.pkl`` is a pickle: load only models from your own model
directory; other operators' models are read from their portable copy.

Example::

    model = train(features, labels, window={"until": "2026-01-15T00:00:00"})
    save_model(model, "models/current")
    model = load_model("models/current"); model.hash
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import pickle
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedGroupKFold

from oracle._complaints import ComplaintModel
from oracle._errors import LabelError, ModelError
from oracle._features import (
    CATEGORICAL_FEATURES,
    COMPLAINT_COLUMNS,
    COUNT_COLUMNS,
    FEATURES,
    RECEIVED_COLUMNS,
)
from oracle._labels import LabelPolicy, complaint_llr
from oracle._portable import export_portable
from spamledger._drift import score_histogram
from spamledger._files import write_atomic

logger = logging.getLogger(__name__)

GLOBAL = "*"
MODEL_FILE = "model.pkl"
CARD_FILE = "model_card.json"
# Behaviour probabilities are kept inside [1e-4, 1 - 1e-4] before complaint evidence is
# added: an isotonic bin that saw no spam says "rare", not "impossible", so strong
# complaints can still lift it, and strong exoneration can still lower a certain-looking one.
_P_FLOOR = 1e-4
# ``train(evidence=FROM_WINDOW)``: the complaint model fitted with the training data (the
# window's ``complaint_model``), none when the data had no complaints to fit.
FROM_WINDOW = "from-window"
Evidence = ComplaintModel | LabelPolicy | None


def combine(probability: np.ndarray, llr: np.ndarray) -> np.ndarray:
    """Posterior from a behaviour probability and complaint evidence (log likelihood ratio).

    Example: ``combine(0.5, ln 10)`` = 0.909 (even odds, 10x evidence).
    """
    p = np.clip(np.asarray(probability, dtype=np.float64), _P_FLOOR, 1 - _P_FLOOR)
    return 1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) + np.asarray(llr, dtype=np.float64))))


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of :func:`train`; the defaults are what the benchmarks ran."""

    target_precision: float = 0.97
    suspicious_precision: float = 0.70
    # A country model needs enough spam labels for its own out-of-fold threshold to be
    # stable; below that the global model (trained on every country) scores it.
    min_positives: int = 300
    min_negatives: int = 1000
    negative_ratio: float = 5.0     # negatives kept per positive when fitting
    # Each fit draws this many undersampled negative sets and averages their models
    # (EasyEnsemble): one set holds a few thousand of the tens of thousands of negatives,
    # and which few it holds decides the borderline businesses. Scoring costs grow with it.
    bags: int = 5
    folds: int = 4
    max_iter: int = 200
    learning_rate: float = 0.06
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 15
    l2_regularization: float = 1.0
    seed: int = 0
    # How much a soft "not spam" label (silence over a moderate exposure, see
    # :func:`oracle.derive_labels`) counts against a high score when thresholds are chosen.
    # 1: as much as a firm one (quiet spam then pushes thresholds up); 0: not at all
    # (busy legitimate numbers at the margin then go unseen).
    soft_label_weight: float = 0.0
    # The spam verdict never goes to a number whose own probability is below this: the
    # lowest threshold that keeps *cumulative* precision at the target can admit marginal
    # numbers that are themselves unlikely spam (a clinic at 3%); they stay 'suspicious'.
    min_spam_probability: float = 0.2


class BaggedClassifier:
    """Gradient-boosting models fitted on different negative subsets; their mean is the score."""

    def __init__(self, members: list[HistGradientBoostingClassifier]):
        if not members:
            raise ModelError("a bagged classifier needs at least one member")
        self.members = members

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(x) for m in self.members], axis=0)


@dataclass
class CountryModel:
    """One fitted classifier with its calibration, thresholds and reference point."""

    key: str
    classifier: BaggedClassifier
    calibrator: IsotonicRegression
    spam_threshold: float
    suspicious_threshold: float
    reference: np.ndarray          # median feature vector of the negatives (for reasons)
    metrics: dict[str, Any] = field(default_factory=dict)

    def raw(self, x: np.ndarray) -> np.ndarray:
        return self.classifier.predict_proba(x)[:, 1]

    def probability(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probability of spam from behaviour alone, for each row of ``x``."""
        return np.clip(self.calibrator.predict(self.raw(x)), 0.0, 1.0)

    def score(self, x: np.ndarray, llr: np.ndarray) -> np.ndarray:
        """``P(spam | behaviour, complaints)``: what the thresholds apply to."""
        return combine(self.probability(x), llr)


@dataclass
class Model:
    """Everything needed to score: feature list, per-country models, provenance."""

    features: tuple[str, ...]
    categorical: tuple[str, ...]
    countries: dict[str, CountryModel]
    window: dict[str, Any]
    config: TrainConfig
    hash: str = ""
    portable_hash: str = ""        # SHA-256 of the portable copy peers may run (when saved)
    # Complaint rates (a fitted :class:`ComplaintModel`; a fixed :class:`LabelPolicy` in
    # models saved before rates were estimated); None: behaviour alone.
    evidence: Evidence = None

    def llr(self, frame: pd.DataFrame) -> np.ndarray:
        """Complaint evidence of each row (zeros for a model without evidence rates)."""
        if self.evidence is None:
            return np.zeros(len(frame))
        return complaint_llr(frame, self.evidence)

    def model_for(self, country: str | None) -> CountryModel:
        return self.countries.get(country or GLOBAL, self.countries[GLOBAL])

    @property
    def hash_bytes32(self) -> bytes:
        """The model hash as the 32 bytes recorded on-chain."""
        if not self.hash:
            raise ModelError("model has no hash yet: save it first")
        return bytes.fromhex(self.hash)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The feature matrix in this model's column order (missing columns are an error)."""
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ModelError(f"feature table lacks column(s) the model needs: {missing}")
        return frame[list(self.features)].to_numpy(dtype=np.float64)


def feature_columns(frame: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The features to train on: ours when present, else every numeric column given."""
    if all(f in frame.columns for f in FEATURES):
        return FEATURES, CATEGORICAL_FEATURES
    skip = {"number", "country", "network", "label", "firm", "report_category", "snapshot",
            *COUNT_COLUMNS, *COMPLAINT_COLUMNS, *RECEIVED_COLUMNS}
    cols = tuple(c for c in frame.columns
                 if c not in skip and pd.api.types.is_numeric_dtype(frame[c]))
    if not cols:
        raise ModelError("feature table has no numeric feature columns")
    return cols, tuple(c for c in CATEGORICAL_FEATURES if c in cols)


def group_key(frame: pd.DataFrame) -> pd.Series:
    """The country whose model scores each row: the recording network, else the number's."""
    col = "network" if "network" in frame.columns else "country"
    return frame[col].fillna(GLOBAL).astype(str)


def train(features: pd.DataFrame, labels: pd.DataFrame | None = None,
          config: TrainConfig = TrainConfig(),
          window: dict[str, Any] | None = None,
          evidence: Evidence | str = FROM_WINDOW) -> Model:
    """Fit per-country models plus the global fallback.

    :param features: output of :func:`oracle.build_features` or an operator's table.
    :param labels: ``number``, ``label`` (1 spam, 0 not); without it ``features`` must
        hold a ``label`` column.
    :param window: provenance recorded in the model card (training cutoff, windows...).
    :param evidence: the complaint model that turns a number's complaints into evidence
        added to the model's score; by default the one fitted with the training data
        (``window["complaint_model"]``); ``None`` scores behaviour alone.
    """
    if isinstance(evidence, str):
        card = (window or {}).get("complaint_model")
        evidence = ComplaintModel.from_card(card) if card else None
    return _train_once(_labelled(features, labels), config, window, evidence)


def _train_once(data: pd.DataFrame, config: TrainConfig, window: dict[str, Any] | None,
                evidence: Evidence) -> Model:
    cols, categorical = feature_columns(data)
    model = Model(cols, categorical, {}, dict(window or {}), config, evidence=evidence)
    x = data[list(cols)].to_numpy(dtype=np.float64)
    y = data["label"].to_numpy(dtype=np.int64)
    llr = model.llr(data)
    keys = group_key(data).to_numpy()
    cat_mask = np.array([c in categorical for c in cols])
    groups = data["number"].to_numpy()
    firm = _firm(data)
    fit_config = config if "firm" in data.columns else _whole(config)
    model.countries[GLOBAL] = _fit_group(GLOBAL, x, y, groups, llr, firm, cat_mask,
                                         fit_config)
    networks = sorted(set(keys))
    # One network only: its own model would be the global one fitted a second time.
    for cc in networks if len(networks) > 1 else []:
        sel = keys == cc
        pos, neg = int(y[sel].sum()), int((y[sel] == 0).sum())
        if pos >= config.min_positives and neg >= config.min_negatives:
            model.countries[cc] = _fit_group(cc, x[sel], y[sel], groups[sel], llr[sel],
                                             firm[sel], cat_mask, fit_config)
        else:
            logger.info("country %s: %d spam / %d not spam labels: global model", cc, pos, neg)
    return model


def _labelled(features: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    if labels is not None:
        keys = ["number", "snapshot"] if "snapshot" in labels.columns else ["number"]
        extra = ["firm"] if "firm" in labels.columns else []
        data = features.drop(columns=["label", "firm"], errors="ignore").merge(
            labels[[*keys, "label", *extra]], on=keys, how="inner")
    elif "label" in features.columns:
        data = features.dropna(subset=["label"])
    else:
        raise LabelError("no labels: give a labels table or a feature table with 'label'")
    y = data["label"].astype(int)
    if y.sum() < 5 or (y == 0).sum() < 5:
        raise LabelError(f"too few labels to train: {int(y.sum())} spam, "
                         f"{int((y == 0).sum())} not spam (need at least 5 of each)")
    order = ["number", "snapshot"] if "snapshot" in data.columns else ["number"]
    return data.sort_values(order, kind="stable").reset_index(drop=True)


def _whole(config: TrainConfig) -> TrainConfig:
    """The fit for labels an operator gives (no ``firm`` column): every row, one model.

    Undersampled bags answer derived labels: tens of thousands of "not spam" labels, many
    resting on silence, against a few hundred spam. Labels given as true (a labels file, a
    ``label`` column) are fitted whole, as a plain gradient-boosting model would be: on
    independent tables (``bench/oracle_features_mode.py``) bagging changed F1 by under
    0.002 and cost 4x the training time.
    """
    return replace(config, bags=1, negative_ratio=float("inf"))


def _firm(data: pd.DataFrame) -> np.ndarray:
    """Which labelled rows thresholds are chosen on (all of them without a ``firm`` column)."""
    if "firm" in data.columns:
        return data["firm"].to_numpy(dtype=bool)
    return np.ones(len(data), dtype=bool)


def _classifier(config: TrainConfig, cat_mask: np.ndarray) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=config.max_iter, learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes, min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization, early_stopping=False,
        categorical_features=cat_mask if cat_mask.any() else None,
        random_state=config.seed)


def _undersample(y: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Indices keeping every positive and at most ``ratio`` negatives per positive."""
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y == 0)
    keep = int(min(len(neg), max(ratio * len(pos), 1)))
    return np.sort(np.concatenate([pos, rng.choice(neg, size=keep, replace=False)]))


def _fit(x: np.ndarray, y: np.ndarray, cat_mask: np.ndarray, config: TrainConfig,
         rng: np.random.Generator) -> BaggedClassifier:
    # Bags differ only in the negatives each keeps: with no more negatives than the ratio
    # keeps (balanced true labels), every bag would be the same fit.
    undersampled = (y == 0).sum() > config.negative_ratio * max(int(y.sum()), 1)
    bags = max(config.bags, 1) if undersampled else 1
    return BaggedClassifier([_fit_one(x, y, cat_mask, config, rng) for _ in range(bags)])


def _fit_one(x: np.ndarray, y: np.ndarray, cat_mask: np.ndarray, config: TrainConfig,
             rng: np.random.Generator) -> HistGradientBoostingClassifier:
    idx = _undersample(y, config.negative_ratio, rng)
    xs = x[idx]
    # A column with no value at all in this subset breaks HGB's binning; 0 stands in.
    empty = np.isnan(xs).all(axis=0)
    if empty.any():
        xs = xs.copy()
        xs[:, empty] = 0.0
    return _classifier(config, cat_mask).fit(xs, y[idx])


def _fit_group(key: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray,
               llr: np.ndarray, firm: np.ndarray, cat_mask: np.ndarray,
               config: TrainConfig) -> CountryModel:
    """Out-of-fold scores at the real ratio -> calibration and thresholds; then refit on all.

    The behaviour model is calibrated on its own out-of-fold scores; thresholds are chosen
    on those combined with each row's complaint evidence (``llr``), which is what scoring
    applies them to, over the *firm* labels only (see :func:`oracle.derive_labels`).
    """
    rng = np.random.default_rng(config.seed)
    oof = np.zeros(len(y))
    folds = min(config.folds, int(y.sum()), int((y == 0).sum()))
    # Grouped by number: snapshots of one number never sit on both sides of a fold.
    splitter = StratifiedGroupKFold(max(folds, 2), shuffle=True, random_state=config.seed)
    for tr, te in splitter.split(x, y, groups):
        oof[te] = _fit(x[tr], y[tr], cat_mask, config, rng).predict_proba(x[te])[:, 1]
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(oof, y)
    behaviour = calibrator.predict(oof)
    combined = combine(behaviour, llr)
    spam_t, susp_t = _thresholds(y, combined, firm, config)
    model = CountryModel(key, _fit(x, y, cat_mask, config, rng), calibrator, spam_t, susp_t,
                         pd.DataFrame(x[y == 0]).median().to_numpy(dtype=np.float64))
    model.metrics = _metrics(y[firm], combined[firm], spam_t, susp_t)
    _note_tier(model, y[firm], combined[firm], config)
    model.metrics["soft_labels_excluded"] = int((~firm).sum())
    model.metrics["bags"] = len(model.classifier.members)
    model.metrics["behaviour_pr_auc"] = round(float(average_precision_score(y, behaviour)), 4)
    logger.info("model %s: %s", key, model.metrics)
    # The training window's score distribution, for the console's drift chart.
    model.metrics["score_histogram"] = score_histogram(combined)
    return model


def _thresholds(y: np.ndarray, combined: np.ndarray, firm: np.ndarray,
                config: TrainConfig) -> tuple[float, float]:
    """(spam, suspicious) thresholds from out-of-fold scores on the firm labels.

    ``spam``: the lowest score whose precision meets ``target_precision`` (and at least
    ``min_spam_probability``). ``suspicious`` catches what the spam tier leaves: the score
    that maximises F1 (a fixed precision such as 0.70 sits far below it where spam is
    common and throws F1 away), raised to the ``suspicious_precision`` threshold if its
    precision is lower than that; never above the spam threshold.
    """
    weight = np.where(firm, 1.0, config.soft_label_weight)
    spam_t = max(_threshold(y, combined, config.target_precision, weight),
                 config.min_spam_probability)
    susp_t = max(_threshold(y, combined, config.suspicious_precision, weight),
                 _best_f1_threshold(y, combined, weight))
    return spam_t, min(susp_t, spam_t)


def _best_f1_threshold(y: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    """The score at which out-of-fold F1 is highest."""
    precision, recall, thresholds = precision_recall_curve(y, score, sample_weight=weight)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))]) if len(thresholds) else 1.0


def _threshold(y: np.ndarray, score: np.ndarray, precision_target: float,
               weight: np.ndarray | None = None) -> float:
    """Lowest score whose out-of-fold precision (at the real ratio) meets the target."""
    precision, _recall, thresholds = precision_recall_curve(y, score, sample_weight=weight)
    ok = np.flatnonzero(precision[:-1] >= precision_target)
    if len(ok) == 0:
        return 1.0  # never reached: nothing is called spam by this model alone
    return float(thresholds[ok[0]])


def _note_tier(model: CountryModel, y: np.ndarray, score: np.ndarray,
               config: TrainConfig) -> None:
    """Record (and log) a spam tier that no threshold could turn on."""
    if model.spam_threshold < 1.0:
        return
    model.metrics["spam_tier_off"] = {"target_precision": config.target_precision,
                                      "best_precision": round(_best_precision(y, score), 4)}
    logger.warning("model %s: %s", model.key, spam_tier_note(model.metrics))


def _best_precision(y: np.ndarray, score: np.ndarray, min_flagged: int = 10) -> float:
    """The highest out-of-fold precision of any threshold flagging ``min_flagged`` or more
    labelled rows (fewer is noise: one spam number alone at the top is precision 1)."""
    order = np.argsort(-score, kind="stable")
    hits = np.cumsum(y[order] == 1)
    flagged = np.arange(1, len(order) + 1)
    ok = flagged >= min(min_flagged, len(order))
    return float((hits[ok] / flagged[ok]).max()) if ok.any() else 0.0


def spam_tier_note(metrics: dict) -> str:
    """Words for a model whose spam tier is off (empty when it is on).

    Example: ``"spam tier off: no score reaches out-of-fold precision 0.970 on the firm
    labels (the best is 0.962); nothing is called spam by behaviour alone, the suspicious
    tier still flags"``
    """
    off = metrics.get("spam_tier_off")
    if not off:
        return ""
    return (f"spam tier off: no score reaches out-of-fold precision "
            f"{off['target_precision']:.3f} on the firm labels (the best is "
            f"{off['best_precision']:.3f}); nothing is called spam by behaviour alone, the "
            "suspicious tier still flags")


def _metrics(y: np.ndarray, score: np.ndarray, spam_t: float, susp_t: float) -> dict:
    flagged = score >= spam_t
    tp = int((flagged & (y == 1)).sum())
    return {
        "numbers": len(y), "spam": int(y.sum()),
        "class_ratio": round(float(y.mean()), 5),
        "pr_auc": round(float(average_precision_score(y, score)), 4),
        "precision": round(tp / max(int(flagged.sum()), 1), 4),
        "recall": round(tp / max(int(y.sum()), 1), 4),
        "spam_threshold": round(spam_t, 6), "suspicious_threshold": round(susp_t, 6),
    }


def retrain(model: Model, features: pd.DataFrame, labels: pd.DataFrame | None = None,
            mode: str = "window", extra_iter: int = 60,
            window: dict[str, Any] | None = None) -> Model:
    """A new model from fresh data, for frequent (e.g. 30-minute) retraining.

    ``mode="window"``: train from scratch on the given (sliding-window) features.
    ``mode="warm"``: keep every fitted tree and add ``extra_iter`` trees fitted on the new
    data (scikit-learn warm start); calibration and thresholds are re-estimated on a
    held-out 30% of the new data at its real class ratio. Much faster than a full fit.
    """
    if mode == "window":
        return train(features, labels, model.config, window, evidence=model.evidence)
    if mode != "warm":
        raise ModelError(f"unknown retrain mode {mode!r}: use 'window' or 'warm'")
    data = _labelled(features, labels)
    x = model.matrix(data)
    y = data["label"].to_numpy(dtype=np.int64)
    llr = model.llr(data)
    firm = _firm(data)
    keys = group_key(data).to_numpy()
    countries = {}
    for key, old in model.countries.items():
        sel = np.ones(len(y), bool) if key == GLOBAL else keys == key
        countries[key] = (_warm(old, x[sel], y[sel], llr[sel], firm[sel], extra_iter,
                                model.config)
                          if y[sel].sum() >= 5 and (y[sel] == 0).sum() >= 5 else old)
    return Model(model.features, model.categorical, countries,
                 dict(window or model.window, retrained="warm"), model.config,
                 evidence=model.evidence)


def _warm(old: CountryModel, x: np.ndarray, y: np.ndarray, llr: np.ndarray,
          firm: np.ndarray, extra_iter: int, config: TrainConfig) -> CountryModel:
    rng = np.random.default_rng(config.seed)
    holdout = rng.random(len(y)) < 0.3
    members = []
    for member in old.classifier.members:
        clf = copy.deepcopy(member)
        clf.set_params(warm_start=True, max_iter=clf.max_iter + extra_iter)
        idx = np.flatnonzero(~holdout)
        idx = idx[_undersample(y[idx], config.negative_ratio, rng)]
        clf.fit(x[idx], y[idx])
        members.append(clf.set_params(warm_start=False))
    clf = BaggedClassifier(members)
    raw = clf.predict_proba(x[holdout])[:, 1]
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
        raw, y[holdout])
    cal = combine(calibrator.predict(raw), llr[holdout])
    spam_t, susp_t = _thresholds(y[holdout], cal, firm[holdout], config)
    new = CountryModel(old.key, clf, calibrator, spam_t, susp_t, old.reference)
    new.metrics = _metrics(y[holdout][firm[holdout]], cal[firm[holdout]], spam_t, susp_t)
    _note_tier(new, y[holdout][firm[holdout]], cal[firm[holdout]], config)
    new.metrics["score_histogram"] = score_histogram(cal)
    return new


def model_card(model: Model) -> dict[str, Any]:
    """The JSON model card: hash, features, window, thresholds and metrics per country."""
    return {
        "model_hash": model.hash,
        "features": list(model.features),
        "categorical": list(model.categorical),
        "window": model.window,
        "config": asdict(model.config),
        "complaint_evidence": _evidence_card(model.evidence),
        "countries": {k: {"spam_threshold": m.spam_threshold,
                          "suspicious_threshold": m.suspicious_threshold, **m.metrics}
                      for k, m in sorted(model.countries.items())},
        "sklearn_version": sklearn.__version__,
        "portable_sha256": model.portable_hash,
    }


def _evidence_card(evidence: Evidence) -> dict | None:
    if isinstance(evidence, ComplaintModel):
        return evidence.card()
    return asdict(evidence) if evidence is not None else None


def save_model(model: Model, directory: str | Path) -> str:
    """Write ``model.pkl`` and ``model_card.json`` atomically; returns the model hash."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps({"features": model.features, "categorical": model.categorical,
                            "countries": model.countries, "window": model.window,
                            "config": model.config, "evidence": model.evidence}, protocol=5)
    model.hash = hashlib.sha256(payload).hexdigest()
    # The portable copy is what peers may run (never the pickle); written before the card
    # so that a card always names a portable model that exists.
    model.portable_hash = export_portable(model, out)
    write_atomic(out / MODEL_FILE, payload)
    write_atomic(out / CARD_FILE, (json.dumps(model_card(model), indent=2, default=_json)
                                    + "\n").encode())
    logger.info("saved model %s to %s", model.hash[:12], out)
    return model.hash


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def load_model(directory: str | Path) -> Model:
    """Load a saved model, refusing one whose bytes do not match its card's hash."""
    d = Path(directory)
    try:
        payload = (d / MODEL_FILE).read_bytes()
        card = json.loads((d / CARD_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"no readable model in {d}: {exc}") from exc
    digest = hashlib.sha256(payload).hexdigest()
    if digest != card.get("model_hash"):
        raise ModelError(f"{d / MODEL_FILE}: content hash {digest[:12]}… does not match the "
                         f"model card ({str(card.get('model_hash'))[:12]}…)")
    try:
        data = pickle.loads(payload)
    except (pickle.UnpicklingError, AttributeError, ImportError) as exc:
        raise ModelError(f"{d / MODEL_FILE}: cannot unpickle: {exc}") from exc
    return Model(tuple(data["features"]), tuple(data["categorical"]), data["countries"],
                 data["window"], data["config"], digest, str(card.get("portable_sha256", "")),
                 data.get("evidence"))
