"""From settings to the oracle's options: one place, so the CLI and the service agree.

Training and scoring must see the same windows and rules (a model trained on a 14-day
window and scored on a 30-day one would read every count as twice what it learnt), and an
operator's own rules folder (its verified businesses, its threshold overrides) must apply
wherever numbers are scored.
"""

from __future__ import annotations

import logging
from typing import Any

from oracle._engine import check_engine
from oracle._errors import LabelError
from oracle._labels import LabelPolicy
from oracle._model import Model, TrainConfig
from oracle._rules import CountryRules, load_rules

logger = logging.getLogger(__name__)


def rules_for(settings: Any) -> dict[str, CountryRules]:
    """The country rules of ``oracle_rules_dir`` (the packaged ones when unset)."""
    folder = str(settings.oracle_rules_dir)
    return load_rules(settings.oracle_rules_dir if folder not in ("", ".") else None)


def train_config(settings: Any) -> TrainConfig:
    """The model knobs the settings table exposes; the rest keep their defaults."""
    return TrainConfig(target_precision=settings.oracle_target_precision,
                       suspicious_precision=settings.oracle_suspicious_precision,
                       bags=settings.oracle_bags)


def hasher_for(settings: Any) -> Any:
    """The consortium's number hasher when the secret is set (API complaints name their
    reporter by keyed hash and are confirmed with it), else ``None``."""
    if not settings.consortium_secret:
        return None
    from spamledger import NumberHasher

    return NumberHasher(settings.consortium_secret)


def feature_options(settings: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`oracle.build_features` (windows, rules, hasher, engine)."""
    return {"long_days": settings.oracle_long_days,
            "short_hours": settings.oracle_short_hours, "rules": rules_for(settings),
            "hasher": hasher_for(settings), "engine": check_engine(settings.engine),
            "spark_master": settings.spark_master,
            "spark_exchange_dir": settings.spark_exchange_dir,
            "spark_driver_memory": settings.spark_driver_memory}


def scoring_options(settings: Any, model: Model) -> dict[str, Any]:
    """Feature options for scoring with ``model``: the windows it was trained on.

    A model's counts mean what they meant in training; windows set differently now are
    ignored for this model (with a warning) rather than silently mis-scaling every count.
    """
    options = feature_options(settings)
    for key in ("long_days", "short_hours"):
        trained = model.window.get(key)
        if trained is not None and float(trained) != float(options[key]):
            logger.warning("model %s was trained with %s=%s; scoring with that, not the "
                           "configured %s", model.hash[:12], key, trained, options[key])
            options[key] = float(trained)
    return options


def label_policy(settings: Any) -> LabelPolicy:
    """Complaint rates estimated from the data, unless the operator fixed both."""
    spam, background = settings.oracle_spam_rate, settings.oracle_background_rate
    if settings.oracle_min_organic < 0:
        raise LabelError(f"oracle_min_organic must be 0 (off) or more, got "
                         f"{settings.oracle_min_organic}")
    rules = {"min_organic": settings.oracle_min_organic,
             "sweep_alpha": settings.oracle_sweep_alpha,
             "night_alpha": settings.oracle_night_alpha,
             "self_training": settings.oracle_self_training}
    if not spam and not background:
        return LabelPolicy(**rules)
    if not (0 < background < spam <= 1):
        raise LabelError("oracle_spam_rate and oracle_background_rate must both be set, with "
                         f"0 < background < spam <= 1 (got {background} and {spam})")
    return LabelPolicy(spam_rate=spam, background_rate=background, estimate=False, **rules)


def training_options(settings: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`oracle.train_from_files` beyond files and cut-off."""
    return {**feature_options(settings),
            "label_delay_hours": settings.oracle_label_delay_hours,
            "snapshots": settings.oracle_snapshots, "config": train_config(settings),
            "policy": label_policy(settings)}
