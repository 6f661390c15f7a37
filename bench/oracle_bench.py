"""Oracle benchmarks: feature-build throughput against a bare DuckDB floor, training time,
scoring rate, and detection quality on the simulator. Prints figures and ratios and writes
them to ``bench/ORACLE.md`` and ``bench/oracle_bench.json``.

Usage::

    .venv/bin/python bench/oracle_bench.py                 # ~1M call rows (a few minutes)
    .venv/bin/python bench/oracle_bench.py --rows 10000000 # the issue's 10M-row figure
    .venv/bin/python bench/oracle_bench.py --quality-only  # the 14-day protocol only

The call file is the simulator's output (four networks, mixed number formats, broken
rows), so the feature build pays for normalization and quarantine like a real run. The
floor is ``SELECT caller, count(*) ... GROUP BY caller`` over the same Parquet files, in the
same process, right before the feature build.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import oracle
from oracle._features import build_features as features_sql
from oracle._ingest import connect, load_calls, load_reports

HERE = Path(__file__).resolve().parent
ROWS_PER_SCALE = 690_000        # call rows the simulator writes at scale 1.0 (14 days)
TRAIN_UNTIL = datetime(2026, 1, 15)
SCORE_UNTIL = datetime(2026, 1, 19)


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _floor(calls_dir: Path) -> tuple[int, float]:
    """Bare DuckDB GROUP BY caller over the same files: the floor of any feature build."""
    con = duckdb.connect()
    glob = str(calls_dir / "*.parquet")
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE g AS SELECT caller, count(*) AS n "
                    f"FROM read_parquet('{glob}') GROUP BY caller")
        best = min(best, time.perf_counter() - start)
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
    return int(rows), best


def throughput(sim: dict[str, Path], train_too: bool) -> dict:
    """Feature build vs floor, training seconds, scoring rate on one simulated call file."""
    rows, floor_s = _floor(sim["calls"])
    print(f"call rows: {rows:,}; floor (GROUP BY caller): {floor_s:.2f} s = "
          f"{rows / floor_s:,.0f} rows/s")
    con = connect()
    stats, ingest_s = _timed(load_calls, con, sim["calls"])
    _, reports_s = _timed(load_reports, con, sim["reports"])
    distinct = con.execute("SELECT count(*) FROM calls_numbers").fetchone()[0]
    feats, feat_s = _timed(features_sql, con, SCORE_UNTIL)
    build_s = ingest_s + reports_s + feat_s
    out = {"rows": rows, "floor_s": floor_s, "floor_rows_per_s": rows / floor_s,
           "ingest_s": ingest_s, "distinct_raw_numbers": distinct, "reports_s": reports_s,
           "features_s": feat_s, "build_s": build_s, "build_rows_per_s": rows / build_s,
           "features_only_rows_per_s": rows / feat_s, "ratio_build_to_floor": build_s / floor_s,
           "ratio_features_to_floor": feat_s / floor_s, "numbers": len(feats),
           "quarantined": stats.bad}
    print(f"feature build: ingest+normalize {ingest_s:.2f} s ({distinct:,} distinct raw "
          f"strings), reports {reports_s:.2f} s, features {feat_s:.2f} s -> "
          f"{rows / build_s:,.0f} rows/s, {build_s / floor_s:.1f}x the floor "
          f"(features alone {feat_s / floor_s:.1f}x)")
    if train_too:
        out.update(_train_and_score(sim, feats))
    return out


def _train_and_score(sim: dict[str, Path], feats: pd.DataFrame) -> dict:
    (f, labels, window, _), data_s = _timed(oracle.training_data, sim["calls"],
                                            sim["reports"], until=TRAIN_UNTIL)
    model, train_s = _timed(oracle.train, f, labels, oracle.TrainConfig(), window)
    with tempfile.TemporaryDirectory() as d:
        oracle.save_model(model, d)
    (f1, l1, w1, _), _s = _timed(oracle.training_data, sim["calls"], sim["reports"],
                                 until=SCORE_UNTIL, snapshots=1)
    _, warm_s = _timed(oracle.retrain, model, f1, l1, mode="warm", extra_iter=60, window=w1)
    print(f"warm-start retrain (+60 trees on {len(f1):,} fresh rows): {warm_s:.1f} s")
    _, plain_s = _timed(oracle.score, model, feats, oracle.load_rules(), reasons=False)
    scores, full_s = _timed(oracle.score, model, feats, oracle.load_rules())
    flagged = int((scores["verdict"] != "not_spam").sum())
    print(f"training: {len(f):,} labelled rows ({int(labels['label'].sum()):,} spam) in "
          f"{train_s:.1f} s (+{data_s:.1f} s building {window['snapshots']} snapshots of "
          "features and labels)")
    print(f"scoring: {len(feats) / plain_s:,.0f} numbers/s without reasons, "
          f"{len(feats) / full_s:,.0f} numbers/s with reasons for the {flagged:,} flagged")
    return {"train_rows": len(f), "train_spam": int(labels["label"].sum()),
            "train_s": train_s, "train_data_s": data_s, "warm_retrain_s": warm_s,
            "warm_rows": len(f1), "score_numbers": len(feats),
            "score_per_s": len(feats) / plain_s, "score_with_reasons_per_s": len(feats) / full_s,
            "flagged": flagged, "snapshots": window["snapshots"]}


def quality(sim: dict[str, Path]) -> dict:
    """The issue's protocol: train on days 0-10, score at day 14, evaluate against truth."""
    model, _ = oracle.train_from_files(sim["calls"], sim["reports"], until=TRAIN_UNTIL)
    with tempfile.TemporaryDirectory() as d:
        oracle.save_model(model, d)
    feats = oracle.build_features(sim["calls"], sim["reports"], until=SCORE_UNTIL)
    scores = oracle.score(model, feats, oracle.load_rules())
    report = oracle.evaluate(scores, pd.read_parquet(sim["truth"]), as_of=SCORE_UNTIL)
    print(oracle.format_report(report))
    report["model_countries"] = sorted(model.countries)
    report["card"] = {k: m.metrics for k, m in model.countries.items()}
    return report


def seed_summary(report: dict) -> dict:
    """One line per seed: the issue's targets, each as the worst country or class."""
    countries = {k: v for k, v in report["countries"].items() if k != "ALL"}
    new = {k: v for k, v in report["new"].items() if k != "ALL" and v["spam"]}
    legit = report["legit_classes"]
    worst = max(legit, key=lambda c: legit[c]["fpr"])
    return {"recall": report["countries"]["ALL"]["recall"],
            "min_recall": min(m["recall"] for m in countries.values()),
            "min_recall_country": min(countries, key=lambda c: countries[c]["recall"]),
            "min_precision": min(m["precision"] for m in countries.values()),
            "min_new_recall": min(m["recall"] for m in new.values()),
            "max_fpr": legit[worst]["fpr"], "max_fpr_class": worst}


def _fmt(v: float) -> str:
    return "n/a" if v != v else f"{v:.3f}"  # NaN check


def markdown(result: dict) -> str:
    """``bench/ORACLE.md``: figures first, then how they were obtained."""
    lines = ["# Oracle benchmarks", "",
             f"Generated by `bench/oracle_bench.py` on {result['when']} "
             f"({result['machine']}). Re-run to refresh; figures are not edited by hand.", ""]
    for _rows, t in sorted(result.get("throughput_runs", {}).items(), key=lambda kv: int(kv[0])):
        when = f"measured {t['when']}" if t.get("when") else "measured earlier"
        note = f" **{t['note']}**" if t.get("note") else ""
        lines += [f"## Throughput ({t['rows']:,} call rows, simulator output)", "",
                  f"{when}.{note}", "",
                  "| step | seconds | rows/s | x floor |", "|---|---|---|---|",
                  f"| floor: bare DuckDB `GROUP BY caller` | {t['floor_s']:.2f} | "
                  f"{t['floor_rows_per_s']:,.0f} | 1.0 |",
                  f"| ingest + normalize ({t['distinct_raw_numbers']:,} distinct raw strings) + "
                  f"quarantine | {t['ingest_s']:.2f} | {t['rows'] / t['ingest_s']:,.0f} | "
                  f"{t['ingest_s'] / t['floor_s']:.1f} |",
                  f"| features (SQL) | {t['features_s']:.2f} | "
                  f"{t['features_only_rows_per_s']:,.0f} | {t['ratio_features_to_floor']:.1f} |",
                  f"| **feature build, total** | {t['build_s']:.2f} | "
                  f"{t['build_rows_per_s']:,.0f} | {t['ratio_build_to_floor']:.1f} |", ""]
        if "train_s" in t:
            lines += [f"- training: {t['train_rows']:,} labelled rows ({t['train_spam']:,} spam, "
                      f"{t.get('snapshots', 5)} stacked snapshots); a model per country "
                      "with >= 300 spam labels, else the global one: "
                      f"**{t['train_s']:.1f} s** (+{t['train_data_s']:.1f} s for features and "
                      "labels of the snapshots)",
                      f"- warm-start retraining (60 more trees on {t.get('warm_rows', 0):,} "
                      f"fresh rows, recalibrated): **{t.get('warm_retrain_s', float('nan')):.1f} "
                      "s**, well inside a 30-minute cycle",
                      f"- scoring: **{t['score_per_s']:,.0f} numbers/s** "
                      f"({t['score_numbers']:,} numbers, no reasons); "
                      f"{t['score_with_reasons_per_s']:,.0f} numbers/s with reasons for the "
                      f"{t['flagged']:,} flagged", ""]
    q = result.get("quality")
    if q:
        lines += ["## Detection quality (simulator, trained on days 0-10, scored at day 14)", "",
                  f"Simulation: scale {result['quality_scale']}, seed {result['seed']}. "
                  "Verdict `spam` is the positive call; `flagged` also counts `suspicious`.", "",
                  "| country | numbers | spam | precision | recall | flagged | PR-AUC | "
                  "new: spam | new: recall | new: flagged |", "|---" * 10 + "|"]
        for cc, m in q["countries"].items():
            n = q["new"].get(cc, {})
            lines.append(f"| {cc} | {m['numbers']} | {m['spam']} | {_fmt(m['precision'])} | "
                         f"{_fmt(m['recall'])} | {_fmt(m['flagged_recall'])} | "
                         f"{_fmt(m['pr_auc'])} | {n.get('spam', 0)} | "
                         f"{_fmt(n.get('recall', float('nan')))} | "
                         f"{_fmt(n.get('flagged_recall', float('nan')))} |")
        lines += ["", "| legitimate class | numbers | FPR (spam) | flagged |", "|---|---|---|---|"]
        for cls, m in q["legit_classes"].items():
            lines.append(f"| {cls} | {m['numbers']} | {m['fpr']:.2%} | {m['flag_rate']:.2%} |")
        lines += ["", "| spam class | numbers | recall |", "|---|---|---|"]
        for cls, m in q.get("spam_classes", {}).items():
            lines.append(f"| {cls} | {m['numbers']} | {m['recall']:.3f} |")
        lines.append("")
    seeds = result.get("seeds")
    if seeds:
        lines += ["## The same protocol on other seeds", "",
                  f"Seeds 1-{HELD_OUT_FROM - 1} were looked at while the design was chosen; "
                  f"seeds {HELD_OUT_FROM} and up were run only once it was fixed (see the "
                  "notes below).", "",
                  "Each seed is a different simulated world (populations, campaigns, "
                  "complaints). Targets: precision >= 0.95 and recall >= 0.94 in every "
                  "country, recall >= 0.85 on new numbers, FPR <= 1% on every legitimate "
                  "class.", "",
                  "| seed | recall (all) | worst country recall | worst precision | "
                  "worst new-number recall | worst legitimate FPR | all targets met |",
                  "|---|---|---|---|---|---|---|"]
        for seed, m in sorted(seeds.items(), key=lambda kv: int(kv[0])):
            missed = _missed_targets(m)
            lines.append(f"| {seed} | {m['recall']:.3f} | {m['min_recall']:.4f} "
                         f"({m['min_recall_country']}) | {m['min_precision']:.3f} | "
                         f"{m['min_new_recall']:.3f} | {m['max_fpr']:.2%} "
                         f"({m['max_fpr_class']}) | "
                         f"{'yes' if not missed else '**no**: ' + ', '.join(missed)} |")
        held = [m for s, m in seeds.items() if int(s) >= HELD_OUT_FROM]
        lines += ["", f"Held-out worlds (seed >= {HELD_OUT_FROM}): "
                  f"{sum(not _missed_targets(m) for m in held)} of {len(held)} meet every "
                  "target; all worlds: "
                  f"{sum(not _missed_targets(m) for m in seeds.values())} of {len(seeds)}."]
        lines.append("")
    lines.append(NOTES)
    return "\n".join(lines)


# Seeds below this were looked at while the design was chosen (see NOTES).
HELD_OUT_FROM = 10


def _missed_targets(m: dict) -> list[str]:
    """The issue's targets a seed's summary misses, in words."""
    checks = [(m["min_precision"] >= 0.95, "precision"),
              (m["min_recall"] >= 0.94, f"recall {m['min_recall_country']}"),
              (m["min_new_recall"] >= 0.85, "new-number recall"),
              (m["max_fpr"] <= 0.01, f"FPR {m['max_fpr_class']}")]
    return [name for ok, name in checks if not ok]


NOTES = """## How to read these figures

- **Labels are never the truth.** The models learn from labels derived from complaints
  (`oracle/_labels.py`): confirmed complaints (the reporter was called by the number)
  weighed against exposure (strangers reached, answered or not) with a Poisson likelihood
  ratio between a spam complaint rate and a legitimate one. Silence over a small exposure
  is left out of training, not called "not spam". The truth table is read only by
  `evaluate`.
- **Behaviour in the model, complaints as evidence.** The models never see a number's own
  complaints (the labels are made of them); the score is the behaviour probability with
  the complaint likelihood ratio added, `P(spam | behaviour, complaints)`. Thresholds are
  chosen on out-of-fold scores against *firm* labels (spam; "not spam" with strong
  evidence), at the real class ratio, and the `spam` verdict never goes below a 0.2
  probability however low the precision-derived threshold falls.
- **Protocol.** `simulate --seed S`, `train --until` day 10 (5 stacked snapshots: features
  48 h before each label instant, label instants 24 h apart), `score --until` day 14,
  `evaluate`. "New" = first seen in the 48 h before day 14. FPR = verdict `spam` on a
  legitimate class; "flagged" also counts `suspicious`.
- **Seeds 1-9 were looked at while the label policy, features, thresholds and ensemble
  size were chosen**, so their rows flatter the design a little. Seeds 10 and up were
  run once each, after everything was fixed (10-16 first, 17-21 after the rejected
  candidates below were tried): those rows are the honest estimate of what a new world
  gets. Every miss there was by one to five numbers.
- **Tried on seeds 1-16 and not adopted:** Platt (sigmoid) calibration instead of
  isotonic (8 of 16 worlds met every target instead of 10: more call centres and clinics
  called spam); capping numbers that placed a single call at `suspicious` (it clears seed
  10's new SIMs but seed 13 loses three new spam numbers that had placed one call: 10 of
  16 either way); a five-call minimum (seed 1's new-number recall falls to 0.83). Runs are
  reproducible: the same data gives the same model hash and the same figures.
- **Complaints are sparse on purpose** (a robocaller draws ~2 confirmed complaints a day,
  a scammer ~0.3): most quiet scams are caught by behaviour alone.
- **Registered call centres** (high volume, low answer rate, a few complaints) are the
  hardest legitimate class: India's are capped at `suspicious` by the 140-series rule;
  elsewhere only their complaint rate and vouches tell them from telemarketers.
- **Throughput floor.** The feature build includes parsing every distinct raw number
  string with libphonenumber (~21k/s on an idle core), the quarantine checks and the
  joins back; "features (SQL)" is the aggregation alone. The machine is shared by several
  engineers during the run, so absolute times are noisy; ratios are from the same run.
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="call rows (default 1M)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quality-scale", type=float, default=1.0)
    p.add_argument("--quality-only", action="store_true")
    p.add_argument("--seeds", default="",
                   help="comma-separated extra seeds for the quality protocol, e.g. 2,3,4,5")
    p.add_argument("--throughput-only", action="store_true")
    p.add_argument("--add-seeds", default="",
                   help="run only these extra seeds and add them to the table, e.g. 10,11")
    p.add_argument("--no-train", action="store_true", help="skip training/scoring timing")
    p.add_argument("--work", type=Path, help="keep generated data here (default: temp)")
    p.add_argument("--out", type=Path, default=HERE / "ORACLE.md")
    p.add_argument("--render", action="store_true",
                   help="only rewrite ORACLE.md from oracle_bench.json")
    args = p.parse_args()
    if args.render:
        args.out.write_text(markdown(json.loads((HERE / "oracle_bench.json").read_text())))
        return 0
    logging.basicConfig(level=logging.WARNING)
    result: dict = {"when": datetime.now().strftime("%Y-%m-%d %H:%M"), "seed": args.seed,
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                               f"Python {platform.python_version()}, duckdb "
                               f"{duckdb.__version__}",
                    "quality_scale": args.quality_scale}
    previous = HERE / "oracle_bench.json"
    if previous.exists():  # keep the other half when only one half is re-run
        old = json.loads(previous.read_text())
        result.update({k: old[k] for k in ("throughput_runs", "quality", "seeds") if k in old})
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        if not args.quality_only and not args.add_seeds:
            scale = args.rows / ROWS_PER_SCALE
            print(f"simulating ~{args.rows:,} call rows (scale {scale:.2f})...")
            sim, sim_s = _timed(oracle.simulate, work / f"rows{args.rows}", scale, 14, args.seed)
            print(f"  {sim_s:.0f} s")
            run = throughput(sim, train_too=not args.no_train)
            result.setdefault("throughput_runs", {})[str(args.rows)] = {
                **run, "when": result["when"]}
        for seed in [int(x) for x in args.add_seeds.split(",") if x.strip()]:
            sim = oracle.simulate(work / f"quality{seed}", args.quality_scale, 14, seed)
            result.setdefault("seeds", {})[str(seed)] = seed_summary(quality(sim))
        if not args.throughput_only and not args.add_seeds:
            sim = oracle.simulate(work / "quality", args.quality_scale, 14, args.seed)
            result["quality"] = quality(sim)
            result["seeds"] = {str(args.seed): seed_summary(result["quality"])}
            for seed in [int(x) for x in args.seeds.split(",") if x.strip()]:
                sim = oracle.simulate(work / f"quality{seed}", args.quality_scale, 14, seed)
                result["seeds"][str(seed)] = seed_summary(quality(sim))
    previous.write_text(json.dumps(result, indent=2, default=str) + "\n")
    args.out.write_text(markdown(result))
    print(f"wrote {args.out} and {previous}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
