"""The ML oracle: from call records and complaints to calibrated, explained verdicts.

Modules (private; the public names are re-exported here):

- ``_ingest``    calls/reports from Parquet, CSV or folders into DuckDB; quarantine
- ``_feeds``     FTC Do-Not-Call export and number lists -> reports
- ``_features``  per-number features over long and short windows (DuckDB SQL)
- ``_labels``    labels from a file, or derived from confirmed complaints
- ``_model``     per-country HistGradientBoosting + global fallback; calibration,
                 thresholds, model card, content hash, warm-start retraining
- ``_complaints`` complaint rates per network estimated by EM (two-class mixture)
- ``_portable``  models that cross operators: JSON + arrays, read without unpickling
- ``_consortium`` peers' portable models label numbers (soft spam labels)
- ``_reasons``   the features that pushed a score up, in words
- ``_rules``     country rules (YAML): never-spam, registered telemarketers, quiet hours
- ``_score``     batch scoring to the scores table
- ``_evaluate``  precision/recall/PR-AUC per country, new numbers, FPR per legit class
- ``_simulate``  a simulator of several operators' networks with a truth table
- ``_pipeline``  the file-to-model and file-to-scores steps the CLI and service share
- ``service/``   chain submission (a separate subpackage)

Errors: see ``_errors`` (``OracleError`` and its subclasses).

Python API, as the service and the demo use it::

    import oracle
    paths = oracle.simulate("sim/", scale=0.2, days=14, seed=7)
    until = datetime(2026, 1, 15)                               # naive = UTC
    model, _ = oracle.train_from_files(paths["calls"], paths["reports"], until=until)
    oracle.save_model(model, "models/m1")                       # sets model.hash
    feats = oracle.build_features(paths["calls"], paths["reports"], until=later)
    scores = oracle.score(oracle.load_model("models/m1"), feats, oracle.load_rules())
    report = oracle.evaluate(scores, pd.read_parquet(paths["truth"]), as_of=later)
"""

# The settings table imports every package's ``_settings`` (including
# ``oracle.service``, which imports ``oracle._errors``): loading it first keeps
# ``import oracle._errors`` from entering that cycle half-way.
import spamledger  # noqa: F401  isort: skip

from typing import TYPE_CHECKING

from oracle._errors import (
    FeatureError,
    IngestError,
    LabelError,
    ModelError,
    OracleError,
    RulesError,
    SchemaError,
)
from spamledger._lazy import lazy_exports

if TYPE_CHECKING:
    from oracle._consortium import add_peer_labels, peer_votes
    from oracle._evaluate import evaluate, format_report
    from oracle._features import FEATURES
    from oracle._feeds import FeedResult, import_feed
    from oracle._ingest import IngestStats
    from oracle._labels import LabelPolicy, derive_labels, read_labels
    from oracle._model import (
        CountryModel,
        Model,
        TrainConfig,
        load_model,
        model_card,
        retrain,
        save_model,
        spam_tier_note,
        train,
    )
    from oracle._pipeline import (
        build_features,
        parse_instant,
        read_feature_table,
        train_from_files,
        training_data,
    )
    from oracle._portable import PortableModel, export_portable, load_portable
    from oracle._rules import CountryRules, load_rules
    from oracle._score import SCORE_COLUMNS, read_scores, score, write_scores
    from oracle._simulate import World, draw_world, simulate

# Loaded on first use (see spamledger/_lazy.py): `spamledger --help` stays fast.
__getattr__ = lazy_exports(__name__, {
    "CountryModel": "oracle._model",
    "CountryRules": "oracle._rules",
    "FEATURES": "oracle._features",
    "FeedResult": "oracle._feeds",
    "IngestStats": "oracle._ingest",
    "LabelPolicy": "oracle._labels",
    "Model": "oracle._model",
    "PortableModel": "oracle._portable",
    "add_peer_labels": "oracle._consortium",
    "export_portable": "oracle._portable",
    "load_portable": "oracle._portable",
    "peer_votes": "oracle._consortium",
    "SCORE_COLUMNS": "oracle._score",
    "TrainConfig": "oracle._model",
    "World": "oracle._simulate",
    "build_features": "oracle._pipeline",
    "derive_labels": "oracle._labels",
    "draw_world": "oracle._simulate",
    "evaluate": "oracle._evaluate",
    "format_report": "oracle._evaluate",
    "import_feed": "oracle._feeds",
    "load_model": "oracle._model",
    "load_rules": "oracle._rules",
    "model_card": "oracle._model",
    "parse_instant": "oracle._pipeline",
    "read_feature_table": "oracle._pipeline",
    "read_labels": "oracle._labels",
    "read_scores": "oracle._score",
    "retrain": "oracle._model",
    "save_model": "oracle._model",
    "score": "oracle._score",
    "simulate": "oracle._simulate",
    "spam_tier_note": "oracle._model",
    "train": "oracle._model",
    "train_from_files": "oracle._pipeline",
    "training_data": "oracle._pipeline",
    "write_scores": "oracle._score",
})

__all__ = [
    "FEATURES",
    "SCORE_COLUMNS",
    "CountryModel",
    "CountryRules",
    "FeatureError",
    "FeedResult",
    "IngestError",
    "IngestStats",
    "LabelError",
    "LabelPolicy",
    "Model",
    "ModelError",
    "OracleError",
    "PortableModel",
    "RulesError",
    "SchemaError",
    "TrainConfig",
    "World",
    "add_peer_labels",
    "build_features",
    "derive_labels",
    "draw_world",
    "evaluate",
    "export_portable",
    "format_report",
    "import_feed",
    "load_model",
    "load_portable",
    "load_rules",
    "model_card",
    "parse_instant",
    "peer_votes",
    "read_feature_table",
    "read_labels",
    "read_scores",
    "retrain",
    "save_model",
    "score",
    "simulate",
    "spam_tier_note",
    "train",
    "train_from_files",
    "training_data",
    "write_scores",
]
