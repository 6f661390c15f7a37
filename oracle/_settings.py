"""The oracle's settings (merged into the core table by ``spamledger._settings``)."""

from __future__ import annotations

from pathlib import Path

from spamledger._settings import Setting

_G = "oracle"

SETTINGS: tuple[Setting, ...] = (
    Setting("oracle_rules_dir", Path, Path(""), "folder of country rules <CC>.yaml "
            "(default: the packaged oracle/rules)", group=_G),
    Setting("oracle_long_days", float, 14.0, "long feature window in days", group=_G),
    Setting("oracle_short_hours", float, 24.0, "short feature window in hours "
            "(new and re-awakened numbers)", group=_G),
    Setting("oracle_label_delay_hours", float, 48.0, "hours between the features a model "
            "learns from and the complaints that label them", group=_G),
    Setting("oracle_snapshots", int, 5, "training snapshots stacked, 24 h apart", group=_G),
    Setting("oracle_target_precision", float, 0.97, "precision each country's spam "
            "threshold is chosen for", group=_G),
    Setting("oracle_suspicious_precision", float, 0.70, "precision of the lower "
            "'suspicious' threshold", group=_G),
    Setting("oracle_spam_rate", float, 0.0, "confirmed complaints per unit of exposure "
            "(stranger reached) of a spam number; 0: estimate from the operator's own data "
            "(EM per network). Set with oracle_background_rate to fix both", group=_G),
    Setting("oracle_background_rate", float, 0.0, "confirmed complaints per unit of "
            "exposure of a legitimate number; 0: estimate from the data", group=_G),
    Setting("oracle_min_organic", int, 2, "established callers who must have rung a "
            "number first for it to be labelled 'not spam' as sought out (customers call "
            "their shop, nobody rings a robocaller first); 0 turns the rule off", group=_G),
    Setting("oracle_sweep_alpha", float, 0.001, "family-wise chance of labelling an "
            "ordinary caller spam for dialling adjacent numbers beyond chance; 0 turns the "
            "sequential-dialling label off (complaints alone name spam)", group=_G),
    Setting("oracle_night_alpha", float, 0.001, "family-wise chance of labelling an "
            "ordinary caller spam for ringing strangers in the country's quiet hours more "
            "often than the operator's known-legitimate callers do; 0 turns that label off",
            group=_G),
    Setting("oracle_self_training", bool, False, "fit a second model with the first "
            "model's spam verdicts on numbers the complaints left out (or labelled 'not "
            "spam' from silence alone) as soft spam labels; thresholds stay on firm labels",
            group=_G),
    Setting("oracle_bags", int, 5, "models per country, each on its own undersampled "
            "negatives, averaged (fewer: faster scoring, noisier borderline verdicts)",
            group=_G),
    Setting("engine", str, "duckdb", "where the oracle's feature SQL runs: duckdb "
            "(in-process, the default) or spark (PySpark; needs Java 17+)", group=_G),
    Setting("spark_master", str, "local[*]", "Spark master for engine=spark: local[N] runs "
            "on this machine, spark://host:7077 on a cluster", group=_G),
    Setting("spark_exchange_dir", Path, Path(""), "folder the clean call and report tables "
            "are handed to Spark in (Parquet; on a cluster, storage every worker reads); "
            "default: a temporary folder", group=_G),
    Setting("spark_driver_memory", str, "4g", "memory of the Spark driver JVM (in local "
            "mode it does all the work), e.g. 4g", group=_G),
)
