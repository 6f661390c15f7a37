"""Models that cross operators: a portable format read without unpickling anything.

``model.pkl`` is a pickle, and unpickling runs code: an operator loads only its own. To
learn from each other (:mod:`oracle._consortium`), operators exchange their models in this
format instead: ``portable.json`` (features, per-country thresholds, calibration curves,
the structure of every gradient-boosting member, the complaint model, and the SHA-256 of
the arrays file) and ``portable.npz`` (every tree's nodes and category bitsets as plain
numeric arrays, read with ``allow_pickle=False``). The SHA-256 of ``portable.json`` is the
portable hash; the model card records it, so a peer checks what it fetched against the
card the chain points to. Prediction walks the trees in NumPy with scikit-learn's own
rules (missing values, categorical bitsets, unknown categories), and gives the pickled
model's probabilities to within 1e-12 (a test compares them on real feature tables).

Example::

    digest = export_portable(model, "models/current")     # beside model.pkl
    peer = load_portable("peers/gb", expected_sha256=card["portable_sha256"])
    peer.probability(features)                             # behaviour-only P(spam)
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from oracle._complaints import ComplaintModel
from oracle._errors import ModelError
from spamledger._files import write_atomic

logger = logging.getLogger(__name__)

FORMAT = "spamledger-portable-model/1"
JSON_FILE = "portable.json"
NPZ_FILE = "portable.npz"
_NODE_FIELDS = ("value", "feature_idx", "num_threshold", "missing_go_to_left", "left",
                "right", "is_leaf", "is_categorical", "bitset_idx")
_GLOBAL = "*"


@dataclass
class _Tree:
    value: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    categorical: np.ndarray
    bitset: np.ndarray
    left_bitsets: np.ndarray       # (k, 8) uint32: categories that go left

    def predict(self, x: np.ndarray, known: np.ndarray, f_idx: np.ndarray) -> np.ndarray:
        """Raw leaf values for the transformed matrix ``x`` (scikit-learn's walk, vectorised)."""
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.flatnonzero(~self.leaf[node])
        while len(rows):
            at = node[rows]
            val = x[rows, self.feature[at]]
            missing = np.isnan(val)
            go_left = np.where(missing, self.missing_left[at], val <= self.threshold[at])
            cat = self.categorical[at] & ~missing
            if cat.any():
                go_left[cat] = self._categorical_left(val[cat], at[cat], known, f_idx)
            node[rows] = np.where(go_left, self.left[at], self.right[at])
            rows = rows[~self.leaf[node[rows]]]
        return self.value[node]

    def _categorical_left(self, val: np.ndarray, at: np.ndarray, known: np.ndarray,
                          f_idx: np.ndarray) -> np.ndarray:
        # Negative, or a category the model never saw: treated as missing.
        code = np.clip(val, 0, 255).astype(np.int64)
        in_left = _in_bitset(self.left_bitsets[self.bitset[at]], code)
        feature_known = known[f_idx[self.feature[at]]] if len(known) else \
            np.zeros((len(at), 8), np.uint32)
        is_known = _in_bitset(feature_known, code)
        return np.where(val < 0, self.missing_left[at],
                        np.where(in_left, True,
                                 np.where(is_known, False, self.missing_left[at])))


def _in_bitset(bitsets: np.ndarray, code: np.ndarray) -> np.ndarray:
    words = bitsets[np.arange(len(code)), code // 32].astype(np.uint64)
    return ((words >> (code % 32).astype(np.uint64)) & np.uint64(1)).astype(bool)


@dataclass
class _Member:
    """One gradient-boosting classifier: input transform, baseline and trees."""

    baseline: float
    categorical_columns: list[int]        # input columns the encoder maps, in its order
    categories: list[np.ndarray]          # their known values (index = encoded value)
    numeric_columns: list[int]
    trees: list[_Tree]
    known: np.ndarray                     # (n_categorical, 8) uint32
    f_idx: np.ndarray

    def probability(self, x: np.ndarray) -> np.ndarray:
        xt = self._transform(x)
        raw = np.full(len(x), self.baseline)
        for tree in self.trees:
            raw += tree.predict(xt, self.known, self.f_idx)
        return np.asarray(expit(raw), dtype=np.float64)  # scikit-learn's own sigmoid

    def _transform(self, x: np.ndarray) -> np.ndarray:
        if not self.categorical_columns:
            return x
        coded = []
        for col, cats in zip(self.categorical_columns, self.categories, strict=True):
            v = x[:, col]
            pos = np.searchsorted(cats, v)
            hit = (pos < len(cats)) & (cats[np.minimum(pos, len(cats) - 1)] == v)
            coded.append(np.where(hit, pos, np.nan))
        return np.column_stack([*coded, x[:, self.numeric_columns]])


@dataclass
class PortableCountry:
    """A peer's country model: members, isotonic calibration and thresholds."""

    members: list[_Member]
    calib_x: np.ndarray
    calib_y: np.ndarray
    spam_threshold: float
    suspicious_threshold: float

    def probability(self, x: np.ndarray) -> np.ndarray:
        raw = np.mean([m.probability(x) for m in self.members], axis=0)
        return np.clip(np.interp(raw, self.calib_x, self.calib_y), 0.0, 1.0)


@dataclass
class PortableModel:
    """A model loaded from the portable format: scores behaviour, never runs peer code."""

    features: tuple[str, ...]
    countries: dict[str, PortableCountry]
    evidence: ComplaintModel | None
    digest: str
    owner: str = ""

    def model_for(self, network: str) -> PortableCountry:
        return self.countries.get(network, self.countries[_GLOBAL])

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated behaviour-only ``P(spam)`` of each row, by the row's network model."""
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ModelError(f"peer model {self.digest[:12]} needs feature column(s) "
                             f"{missing}")
        x = frame[list(self.features)].to_numpy(dtype=np.float64)
        nets = _networks(frame)
        out = np.zeros(len(frame))
        for net in np.unique(nets):
            sel = nets == net
            out[sel] = self.model_for(str(net)).probability(x[sel])
        return out

    def spam_threshold(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's spam threshold under the model that scores it."""
        nets = _networks(frame)
        return np.array([self.model_for(str(n)).spam_threshold for n in nets])


def _networks(frame: pd.DataFrame) -> np.ndarray:
    col = "network" if "network" in frame.columns else "country"
    return frame[col].fillna(_GLOBAL).astype(str).to_numpy()


# ------------------------------------------------------------------------------- export


def export_portable(model: Any, directory: str | Path) -> str:
    """Write ``portable.json`` and ``portable.npz`` for ``model``; returns the portable hash.

    :param model: an :class:`oracle.Model` (its country models hold bagged
        ``HistGradientBoostingClassifier`` members and isotonic calibrators).
    """
    arrays: dict[str, np.ndarray] = {}
    countries = {key: _export_country(key, cm, arrays)
                 for key, cm in sorted(model.countries.items())}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    npz = buf.getvalue()
    evidence = model.evidence.card() if isinstance(model.evidence, ComplaintModel) else None
    doc = {"format": FORMAT, "features": list(model.features), "countries": countries,
           "evidence": evidence, "npz_sha256": hashlib.sha256(npz).hexdigest()}
    text = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / NPZ_FILE, npz)
    write_atomic(out / JSON_FILE, text)
    return hashlib.sha256(text).hexdigest()


def _export_country(key: str, cm: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    members = [_export_member(f"{key}.{i}", m, arrays)
               for i, m in enumerate(cm.classifier.members)]
    cal = cm.calibrator
    return {"members": members, "calib_x": np.asarray(cal.X_thresholds_).tolist(),
            "calib_y": np.asarray(cal.y_thresholds_).tolist(),
            "spam_threshold": float(cm.spam_threshold),
            "suspicious_threshold": float(cm.suspicious_threshold)}


def _export_member(prefix: str, clf: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if getattr(clf, "n_trees_per_iteration_", 1) != 1:
        raise ModelError("only binary gradient-boosting classifiers can be exported")
    cat_cols: list[int] = []
    categories: list[list[float]] = []
    numeric = list(range(clf.n_features_in_))
    if clf._preprocessor is not None:
        idx = np.arange(clf.n_features_in_)
        cat_cols = [int(i) for i in idx[clf.is_categorical_]]
        numeric = [int(i) for i in idx[~clf.is_categorical_]]
        enc = clf._preprocessor.named_transformers_["encoder"]
        categories = [[float(v) for v in c if not np.isnan(v)] for c in enc.categories_]
    trees = [pred for it in clf._predictors for pred in it]
    for t, pred in enumerate(trees):
        for name in _NODE_FIELDS:
            arrays[f"{prefix}.{t}.{name}"] = np.ascontiguousarray(pred.nodes[name])
        arrays[f"{prefix}.{t}.bitsets"] = np.asarray(pred.raw_left_cat_bitsets, np.uint32)
    known, f_idx = clf._bin_mapper.make_known_categories_bitsets()
    arrays[f"{prefix}.known"] = np.asarray(known, np.uint32)
    arrays[f"{prefix}.f_idx"] = np.asarray(f_idx, np.uint32)
    return {"prefix": prefix, "trees": len(trees),
            "baseline": float(np.ravel(clf._baseline_prediction)[0]),
            "categorical_columns": cat_cols, "categories": categories,
            "numeric_columns": numeric}


# --------------------------------------------------------------------------------- load


def load_portable(directory: str | Path, expected_sha256: str | None = None,
                  owner: str = "") -> PortableModel:
    """Read a peer's portable model, checking its hash (and the card's, when given).

    Raises :class:`ModelError` for a missing or altered file, a hash other than expected,
    an unknown format, or arrays that do not fit the description.
    """
    d = Path(directory)
    try:
        text = (d / JSON_FILE).read_bytes()
        npz = (d / NPZ_FILE).read_bytes()
        doc = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ModelError(f"no readable portable model in {d}: {exc}") from exc
    digest = hashlib.sha256(text).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise ModelError(f"{d / JSON_FILE}: hash {digest[:12]}… is not the expected "
                         f"{expected_sha256[:12]}…")
    if doc.get("format") != FORMAT:
        raise ModelError(f"{d / JSON_FILE}: unknown format {doc.get('format')!r}")
    if hashlib.sha256(npz).hexdigest() != doc.get("npz_sha256"):
        raise ModelError(f"{d / NPZ_FILE}: content does not match {JSON_FILE}")
    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        countries = {k: _load_country(c, arrays) for k, c in doc["countries"].items()}
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelError(f"{d}: portable model arrays do not fit its description: "
                         f"{exc}") from exc
    if _GLOBAL not in countries:
        raise ModelError(f"{d}: portable model has no global ('*') model")
    evidence = ComplaintModel.from_card(doc["evidence"]) if doc.get("evidence") else None
    return PortableModel(tuple(doc["features"]), countries, evidence, digest, owner)


def _load_country(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> PortableCountry:
    return PortableCountry([_load_member(m, arrays) for m in doc["members"]],
                           np.asarray(doc["calib_x"], np.float64),
                           np.asarray(doc["calib_y"], np.float64),
                           float(doc["spam_threshold"]), float(doc["suspicious_threshold"]))


def _load_member(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> _Member:
    p = doc["prefix"]
    trees = []
    for t in range(int(doc["trees"])):
        a = {name: arrays[f"{p}.{t}.{name}"] for name in _NODE_FIELDS}
        trees.append(_Tree(a["value"].astype(np.float64), a["feature_idx"].astype(np.int64),
                           a["num_threshold"].astype(np.float64),
                           a["missing_go_to_left"].astype(bool), a["left"].astype(np.int64),
                           a["right"].astype(np.int64), a["is_leaf"].astype(bool),
                           a["is_categorical"].astype(bool), a["bitset_idx"].astype(np.int64),
                           arrays[f"{p}.{t}.bitsets"].reshape(-1, 8).astype(np.uint32)))
    return _Member(float(doc["baseline"]), [int(c) for c in doc["categorical_columns"]],
                   [np.asarray(c, np.float64) for c in doc["categories"]],
                   [int(c) for c in doc["numeric_columns"]], trees,
                   arrays[f"{p}.known"].reshape(-1, 8).astype(np.uint32),
                   arrays[f"{p}.f_idx"].astype(np.int64))
