"""``spamledger oracle ...``: simulate, train, score, evaluate, import-feed.

::

    spamledger oracle simulate OUT_DIR [--scale F] [--days N] [--seed S]
    spamledger oracle train    (--calls P --reports P [--labels P] | --features P) --model-dir D [--until TS] [--engine duckdb|spark]
    spamledger oracle score    (--calls P --reports P | --features P) --model-dir D --out scores.parquet [--until TS] [--engine duckdb|spark]
    spamledger oracle evaluate --scores P --truth P
    spamledger oracle import-feed FILE --out reports.parquet [--country US] [--source ftc]
"""  # noqa: E501

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from spamledger._settings import add_setting_flags

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``oracle`` command group."""
    group = subparsers.add_parser("oracle", help="ML oracle: simulate, train, score, evaluate")
    sub = group.add_subparsers(dest="oracle_command", metavar="SUBCOMMAND", required=True)
    _simulate_parser(sub)
    _train_parser(sub)
    _score_parser(sub)
    _evaluate_parser(sub)
    _feed_parser(sub)
    # run, push, epoch, proof, models: the service that puts scores on the ledger.
    from oracle.service._cli import register_service_commands

    register_service_commands(sub)


def _simulate_parser(sub: Any) -> None:
    p = sub.add_parser("simulate", help="write simulated calls, reports and truth")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.add_argument("--scale", type=float, default=1.0, help="population scale (default 1.0)")
    p.add_argument("--days", type=int, default=14, help="days simulated (default 14)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--countries", default="US,IN,BR,GB", help="networks (default US,IN,BR,GB)")
    p.set_defaults(func=_simulate)


def _inputs(p: argparse.ArgumentParser, labels: bool) -> None:
    p.add_argument("--calls", type=Path, help="calls: Parquet/CSV file or folder")
    p.add_argument("--reports", type=Path, help="reports: Parquet/CSV file or folder")
    if labels:
        p.add_argument("--labels", type=Path, help="labels file (number, label) overriding "
                       "labels derived from complaints")
    p.add_argument("--features", type=Path, help="a per-number feature table instead of "
                   "calls and reports")
    p.add_argument("--model-dir", type=Path, required=True, help="model directory")
    p.add_argument("--until", help="use only data before this instant (ISO-8601 or epoch s)")
    add_setting_flags(p, ["oracle"])


def _train_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train per-country models and save them with a hash")
    _inputs(p, labels=True)
    p.add_argument("--warm-start", type=Path, metavar="MODEL_DIR",
                   help="add trees to this saved model instead of training from scratch")
    p.add_argument("--peer-model", action="append", default=[], metavar="DIR[=SHA256]",
                   help="another operator's portable model (portable.json + .npz, never a "
                   "pickle); numbers most peers call spam become soft training labels. "
                   "=SHA256 pins the portable hash from the peer's on-chain model card. "
                   "Repeatable")
    p.set_defaults(func=_train)


def _score_parser(sub: Any) -> None:
    p = sub.add_parser("score", help="score numbers with a saved model")
    _inputs(p, labels=False)
    p.add_argument("--out", type=Path, required=True, help="scores Parquet to write")
    p.add_argument("--no-reasons", action="store_true", help="skip reasons (faster)")
    p.set_defaults(func=_score)


def _evaluate_parser(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="compare scores with a truth table")
    p.add_argument("--scores", type=Path, required=True)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("--as-of", help="scoring instant for 'new numbers' (default: from scores)")
    p.add_argument("--json", type=Path, help="also write the report as JSON")
    p.set_defaults(func=_evaluate)


def _feed_parser(sub: Any) -> None:
    p = sub.add_parser("import-feed", help="FTC DNC export or number list -> reports")
    p.add_argument("feed", type=Path, metavar="FILE")
    p.add_argument("--out", type=Path, required=True, help="reports Parquet to write")
    p.add_argument("--country", default="US", help="country of the numbers (default US)")
    p.add_argument("--source", default="ftc", help="report source (default ftc)")
    p.add_argument("--ts", help="report time for undated entries (default now)")
    p.set_defaults(func=_import_feed)


def _check_inputs(args: argparse.Namespace) -> None:
    from oracle._errors import OracleError

    if args.features and (args.calls or args.reports):
        raise OracleError("give either --features or --calls/--reports, not both")
    if not args.features and not (args.calls and args.reports):
        raise OracleError("give --calls and --reports (or --features)")


def _writable_dir(path: Path) -> None:
    """Create ``path`` if needed and prove it writable, before hours of training."""
    import tempfile

    from oracle._errors import OracleError

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OracleError(f"cannot write to --model-dir {path}: "
                          f"{exc.strerror or exc}") from exc


def _simulate(settings: Any, args: argparse.Namespace) -> int:
    from oracle._simulate import simulate
    from spamledger._countries import country_code

    countries = [country_code(c) for c in args.countries.split(",") if c.strip()]
    paths = simulate(args.out_dir, args.scale, args.days, args.seed, countries=countries)
    meta = json.loads(paths["meta"].read_text())
    print(f"simulated {meta['calls']} calls, {meta['reports']} reports, {meta['numbers']} "
          f"numbers, {meta['start']} .. {meta['end']}")
    for name in ("calls", "reports", "truth"):
        print(f"  {name}: {paths[name]}")
    return 0


def _train(settings: Any, args: argparse.Namespace) -> int:
    from oracle._configure import training_options
    from oracle._engine import check_engine
    from oracle._labels import read_labels
    from oracle._model import load_model, retrain, save_model, spam_tier_note, train
    from oracle._pipeline import parse_instant, read_feature_table, training_data

    check_engine(settings.engine)
    _check_inputs(args)
    _writable_dir(args.model_dir)
    options = training_options(settings)
    config = options.pop("config")
    until = parse_instant(args.until)
    if args.features:
        feats = read_feature_table(args.features)
        labels = read_labels(args.labels) if args.labels else None
        window: dict = {"features": str(args.features)}
    else:
        feats, labels, window, info = training_data(
            args.calls, args.reports, until, args.labels, quarantine_dir=args.model_dir,
            peers=_peers(args.peer_model), **options)
        print(info.summary())
        if args.peer_model:
            soft = int((~labels["firm"]).sum()) if "firm" in labels.columns else 0
            print(f"  learnt with {len(args.peer_model)} peer model(s): {soft} soft labels "
                  "in training (peer spam and silence)")
    if args.warm_start:
        model = retrain(load_model(args.warm_start), feats, labels, mode="warm", window=window)
    else:
        model = train(feats, labels, config, window)
    digest = save_model(model, args.model_dir)
    print(f"model {digest} saved to {args.model_dir}")
    for key, cm in sorted(model.countries.items()):
        m = cm.metrics
        print(f"  {key:>3}: {m['numbers']} labelled, {m['spam']} spam, out-of-fold precision "
              f"{m['precision']:.3f} recall {m['recall']:.3f} PR-AUC {m['pr_auc']:.3f}, "
              f"spam >= {cm.spam_threshold:.3f}, suspicious >= {cm.suspicious_threshold:.3f}")
        if note := spam_tier_note(m):
            print(f"       {note}")
    return 0


def _peers(specs: list[str]) -> list[Any]:
    """Peers' portable models from ``DIR`` or ``DIR=SHA256`` (the hash pinned)."""
    from oracle._portable import load_portable

    peers = []
    for spec in specs:
        path, _, digest = spec.partition("=")
        peers.append(load_portable(path, expected_sha256=digest or None, owner=path))
        if not digest:
            logger.warning("peer model %s: hash not pinned (give DIR=SHA256 from its "
                           "on-chain model card)", path)
    return peers


def _score(settings: Any, args: argparse.Namespace) -> int:
    from oracle._configure import scoring_options
    from oracle._engine import check_engine
    from oracle._model import load_model
    from oracle._pipeline import features_from_files, parse_instant, read_feature_table
    from oracle._score import score, write_scores

    check_engine(settings.engine)
    _check_inputs(args)
    model = load_model(args.model_dir)
    options = scoring_options(settings, model)
    rules = options["rules"]
    until = parse_instant(args.until)
    if args.features:
        feats = read_feature_table(args.features)
    else:
        feats, info = features_from_files(args.calls, args.reports, until, args.out,
                                          **options)
        until = info.until
        print(info.summary())
    scores = score(model, feats, rules, reasons=not args.no_reasons)
    write_scores(scores, args.out, until)
    counts = scores["verdict"].value_counts().to_dict()
    print(f"scored {len(scores)} numbers with model {model.hash[:12]}: {counts} -> {args.out}")
    return 0


def _evaluate(settings: Any, args: argparse.Namespace) -> int:
    import pandas as pd

    from oracle._evaluate import evaluate, format_report
    from oracle._pipeline import parse_instant
    from oracle._score import read_scores

    scores, until = read_scores(args.scores)
    as_of = parse_instant(args.as_of) or until
    report = evaluate(scores, pd.read_parquet(args.truth), as_of)
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


def _import_feed(settings: Any, args: argparse.Namespace) -> int:
    from oracle._feeds import import_feed
    from oracle._pipeline import parse_instant

    result = import_feed(args.feed, args.out, args.country, args.source,
                         parse_instant(args.ts))
    print(result.summary())
    print(f"  reports: {result.output}" + (f"\n  quarantine: {result.quarantine}"
                                           if result.quarantine else ""))
    return 0
