"""The oracle as an outside tester sees it: the real CLI on the independent world.

For each seed: write a world with :mod:`bench.independent_world`, train with
``spamledger oracle train --calls --reports --model-dir --until <day 10>`` and score with
``spamledger oracle score --calls --reports --model-dir --until <day 14> --out`` (subprocesses,
default settings, nothing tuned), then compare the verdicts with the world's truth. Writes
``bench/INDEPENDENT_WORLD.md`` (generated; never edit it by hand) and
``bench/INDEPENDENT_WORLD.json`` (every figure, per seed).

Usage::

    .venv/bin/python -m bench.independent_eval --seeds 1 2 3 --scale 0.25
    .venv/bin/python -m bench.independent_eval --seeds 1 2 3 --scale 1.0 --out bench/X.md

Metrics (per network country, per class, and over all): spam precision (spam verdicts that are
spam; ``None`` where nothing was called spam), spam recall (spam numbers with a spam verdict;
a spam number the oracle did not score counts as missed), spam-or-suspicious recall, recall on
spam numbers first seen in the 48 hours before scoring, and for every legitimate class its
flag rate (spam or suspicious) and spam-verdict rate. Seeds are summarised by median and worst.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from bench.independent_world import COUNTRIES, SPAM_CLASSES, START, generate

__all__ = ["Counts", "evaluate", "flag_rates", "rate", "run_seed"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRAIN_UNTIL = START + timedelta(days=10)
SCORE_UNTIL = START + timedelta(days=14)
NEW_WINDOW = timedelta(hours=48)
FLAGGED = ("spam", "suspicious")
# legitimate in the world (lawful callers) but complained about: precision is also shown
# with them left out, for a reader who would call them spam
GRAY = ("political_charity", "debt_collector")


def rate(hits: int, total: int) -> float | None:
    """``hits / total``, or ``None`` when there is nothing to divide by (not a perfect 1.0)."""
    return None if total == 0 else hits / total


class Counts:
    """Confusion counts of one group of numbers (truth joined with verdicts)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        spam = frame["is_spam"].astype(bool)
        called_spam = frame["verdict"].eq("spam")
        flagged = frame["verdict"].isin(FLAGGED)
        self.n = len(frame)
        self.spam = int(spam.sum())
        self.called_spam = int(called_spam.sum())
        self.true_spam = int((called_spam & spam).sum())
        self.flagged_spam = int((flagged & spam).sum())
        self.legit = self.n - self.spam
        self.legit_flagged = int((flagged & ~spam).sum())
        self.legit_called_spam = int((called_spam & ~spam).sum())

    def metrics(self) -> dict[str, float | int | None]:
        return {
            "numbers": self.n, "spam": self.spam, "called_spam": self.called_spam,
            "precision": rate(self.true_spam, self.called_spam),
            "recall": rate(self.true_spam, self.spam),
            "spam_or_suspicious_recall": rate(self.flagged_spam, self.spam),
            "legit_flag_rate": rate(self.legit_flagged, self.legit),
        }


def _join(truth: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    verdicts = scores.drop_duplicates("number")[["number", "verdict", "score"]]
    out = truth.merge(verdicts, on="number", how="left")
    out["verdict"] = out["verdict"].fillna("unscored")
    return out


def flag_rates(joined: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """Per class: numbers, spam-verdict rate and flag (spam or suspicious) rate."""
    out = {}
    for cls, group in joined.groupby("class"):
        n = len(group)
        out[str(cls)] = {
            "numbers": n, "is_spam": bool(group["is_spam"].iloc[0]),
            "spam_rate": rate(int(group["verdict"].eq("spam").sum()), n),
            "flag_rate": rate(int(group["verdict"].isin(FLAGGED).sum()), n),
            "unscored": int(group["verdict"].eq("unscored").sum()),
        }
    return out


def evaluate(truth: pd.DataFrame, scores: pd.DataFrame,
             scored_at: datetime = SCORE_UNTIL) -> dict:
    """Every figure of one seed, from the truth table and the oracle's scores table."""
    joined = _join(truth, scores)
    first = pd.to_datetime(joined["first_seen"], utc=True)
    new = joined[first >= pd.Timestamp(scored_at - NEW_WINDOW)]
    result: dict = {"all": Counts(joined).metrics(), "countries": {}, "classes": {},
                    "new_48h": {}, "scored_not_in_truth":
                    int((~scores["number"].isin(truth["number"])).sum())}
    plain = joined[~joined["class"].isin(GRAY)]
    result["all"]["precision_without_gray"] = Counts(plain).metrics()["precision"]
    result["all"]["new_48h_recall"] = Counts(new).metrics()["recall"]
    result["all"]["new_48h_spam"] = Counts(new).spam
    for cc, group in joined.groupby("country"):
        metrics: dict[str, object] = dict(Counts(group).metrics())
        fresh = Counts(new[new["country"] == cc])
        metrics["new_48h_recall"] = fresh.metrics()["recall"]
        metrics["precision_without_gray"] = Counts(
            plain[plain["country"] == cc]).metrics()["precision"]
        metrics["new_48h_spam"] = fresh.spam
        metrics["worst_legit_class"] = _worst_legit(group)
        result["countries"][str(cc)] = metrics
    result["classes"] = flag_rates(joined)
    result["new_48h"] = flag_rates(new)
    result["worst_legit_class"] = _worst_legit(joined)
    return result


def _worst_legit(joined: pd.DataFrame) -> dict[str, object]:
    rates = {c: r for c, r in flag_rates(joined).items() if not r["is_spam"]}
    if not rates:
        return {"class": None, "flag_rate": None}
    cls = max(rates, key=lambda c: rates[c]["flag_rate"] or 0.0)
    return {"class": cls, "flag_rate": rates[cls]["flag_rate"]}


# --------------------------------------------------------------------------- running

def _cli(args: list[str], log_path: Path) -> tuple[float, str]:
    exe = ROOT / ".venv" / "bin" / "spamledger"
    start = time.perf_counter()
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    log_path.write_text(f"$ spamledger {' '.join(args)}\nexit {proc.returncode}\n"
                        f"seconds {seconds:.1f}\n"
                        f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"spamledger {args[0]} {args[1]} exit {proc.returncode}: "
                           + " | ".join(tail))
    return seconds, proc.stdout


def _quarantined(stdout: str) -> dict[str, int]:
    return {kind: int(n) for kind, n in
            re.findall(r"(calls|reports): \d+ clean rows from \d+ file\(s\), (\d+) quarantined",
                       stdout)}


def run_seed(work: Path, seed: int, scale: float) -> dict:
    """Generate, train, score and evaluate one world; returns its figures and timings."""
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    paths = generate(work, seed, scale)
    gen_s = time.perf_counter() - start
    model = work / "model"
    load_before = os.getloadavg()[0]
    train_s, train_out = _cli(["oracle", "train", "--calls", str(paths["calls"]),
                               "--reports", str(paths["reports"]), "--model-dir", str(model),
                               "--until", TRAIN_UNTIL.isoformat()], work / "train.log")
    scores_path = work / "scores.parquet"
    score_s, score_out = _cli(["oracle", "score", "--calls", str(paths["calls"]),
                               "--reports", str(paths["reports"]), "--model-dir", str(model),
                               "--until", SCORE_UNTIL.isoformat(), "--out", str(scores_path)],
                              work / "score.log")
    truth = pd.read_parquet(paths["truth"])
    scores = pd.read_parquet(scores_path)
    world = json.loads((work / "world.json").read_text())
    run = {"seed": seed, "scale": scale, "world": world, "generate_s": gen_s,
           "train_s": train_s, "score_s": score_s, "load_before": load_before,
           "load_after": os.getloadavg()[0],
           "quarantined": {"train": _quarantined(train_out), "score": _quarantined(score_out)},
           "train_summary": [ln.strip() for ln in train_out.splitlines() if ln.strip()],
           **evaluate(truth, scores)}
    (work / "run.json").write_text(json.dumps(run, default=str))
    return run


def recover_seed(work: Path, seed: int, scale: float) -> dict | None:
    """A seed an earlier (interrupted) run finished, from its folder; ``None`` if unfinished.

    Figures are recomputed from the saved truth and scores; timings and load are kept only
    where the earlier run recorded them.
    """
    if (work / "run.json").exists():
        return dict(json.loads((work / "run.json").read_text()))
    if not (work / "scores.parquet").exists():
        return None
    logs = {step: (work / f"{step}.log").read_text() for step in ("train", "score")}
    out = {step: text.split("--- stdout\n", 1)[-1].split("\n--- stderr", 1)[0]
           for step, text in logs.items()}
    seconds = {step: re.search(r"^seconds ([\d.]+)$", text, re.M) for step, text in logs.items()}
    return {"seed": seed, "scale": scale, "recovered": True,
            "world": json.loads((work / "world.json").read_text()), "generate_s": None,
            "train_s": float(seconds["train"][1]) if seconds["train"] else None,
            "score_s": float(seconds["score"][1]) if seconds["score"] else None,
            "load_before": None, "load_after": None,
            "quarantined": {step: _quarantined(text) for step, text in out.items()},
            "train_summary": [ln.strip() for ln in out["train"].splitlines() if ln.strip()],
            **evaluate(pd.read_parquet(work / "truth.parquet"),
                       pd.read_parquet(work / "scores.parquet"))}


# --------------------------------------------------------------------------- report

def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _s(x: float | None, digits: int = 0) -> str:
    return "not recorded" if x is None else f"{x:.{digits}f}"


def _spread(values: list[float | None]) -> str:
    known = sorted(v for v in values if v is not None)
    if not known:
        return "n/a"
    med = known[len(known) // 2] if len(known) % 2 else sum(known[len(known) // 2 - 1:
                                                                    len(known) // 2 + 1]) / 2
    missing = len(values) - len(known)
    extra = f" ({missing} n/a)" if missing else ""
    return f"{med:.3f} [{known[0]:.3f}-{known[-1]:.3f}]{extra}"


def _country_table(runs: list[dict]) -> list[str]:
    lines = ["| country | spam numbers / seed | precision | precision without political/"
             "charity and debt collectors | recall | spam-or-suspicious recall "
             "| new-in-48h recall (spam numbers) | worst legitimate class (flag rate) |",
             "|---|---|---|---|---|---|---|---|"]
    for cc in [*COUNTRIES, "all"]:
        rows = [r["all"] if cc == "all" else r["countries"][cc] for r in runs]
        worst = [(r["worst_legit_class"] if cc == "all" else r["countries"][cc]
                  ["worst_legit_class"]) for r in runs]
        worst_txt = ", ".join(f"{w['class']} {_f(w['flag_rate'])}" for w in worst)
        lines.append(
            f"| {cc} | {_spread([x['spam'] for x in rows])} | "
            f"{_spread([x['precision'] for x in rows])} | "
            f"{_spread([x['precision_without_gray'] for x in rows])} | "
            f"{_spread([x['recall'] for x in rows])} | "
            f"{_spread([x['spam_or_suspicious_recall'] for x in rows])} | "
            f"{_spread([x['new_48h_recall'] for x in rows])} "
            f"({'/'.join(str(x['new_48h_spam']) for x in rows)}) | {worst_txt} |")
    return lines


def _class_table(runs: list[dict], key: str = "classes") -> list[str]:
    lines = ["| class | spam? | numbers (all seeds) | spam verdict rate | spam-or-suspicious "
             "rate | per seed (spam / flagged of n) | unscored |", "|---|---|---|---|---|---|---|"]
    classes = sorted({c for r in runs for c in r[key]},
                     key=lambda c: (c not in SPAM_CLASSES, c))
    for cls in classes:
        per = [r[key].get(cls) for r in runs]
        got = [p for p in per if p]
        n = sum(p["numbers"] for p in got)
        spam = sum(round(p["spam_rate"] * p["numbers"]) for p in got)
        flag = sum(round(p["flag_rate"] * p["numbers"]) for p in got)
        seeds = ", ".join("-" if not p else
                          f"{round(p['spam_rate'] * p['numbers'])}/"
                          f"{round(p['flag_rate'] * p['numbers'])} of {p['numbers']}"
                          for p in per)
        lines.append(f"| {cls} | {'spam' if cls in SPAM_CLASSES else 'legit'} | {n} | "
                     f"{_f(rate(spam, n))} | {_f(rate(flag, n))} | {seeds} | "
                     f"{sum(p['unscored'] for p in got)} |")
    return lines


def _seed_table(runs: list[dict]) -> list[str]:
    lines = ["| seed | calls | reports (spam) | numbers | spam | quarantined (train/score) | "
             "generate s | train s | score s | load 1-min before/after | precision | recall | "
             "s-or-s recall |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        w, q = r["world"], r["quarantined"]
        qtxt = (f"{q['train'].get('calls', '?')}+{q['train'].get('reports', '?')} / "
                f"{q['score'].get('calls', '?')}+{q['score'].get('reports', '?')}")
        lines.append(
            f"| {r['seed']} | {w['calls']:,} | {w['reports']:,} ({w['reports_spam']:,}) | "
            f"{w['numbers']:,} | {w['spam']} | {qtxt} | {_s(r['generate_s'])} | "
            f"{_s(r['train_s'])} | {_s(r['score_s'])} | {_s(r['load_before'], 1)}/"
            f"{_s(r['load_after'], 1)} | {_f(r['all']['precision'])} | {_f(r['all']['recall'])} | "
            f"{_f(r['all']['spam_or_suspicious_recall'])} |")
    return lines


def _ftc_shape(path: Path) -> str:
    if not path.exists():
        return f"(`{path}` not present)"
    nums = pd.read_csv(path, dtype=str).iloc[:, 0].str.strip()
    shape = nums.value_counts().clip(upper=10).value_counts(normalize=True).sort_index()
    return ", ".join(f"{k}{'+' if k == 10 else ''}: {v:.3f}" for k, v in shape.items())


def report(runs: list[dict], argv: list[str], started: datetime, load_start: tuple) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True, check=False).stdout.strip()
    scales = sorted({r["scale"] for r in runs})
    world_shape = [r["world"].get("us_complaints_per_number_day (10 = 10 or more)", {})
                   for r in runs]
    lines = [
        "# The oracle on an independent world",
        "",
        "Generated by `bench/independent_eval.py`; do not edit by hand.",
        "",
        f"- command: `python -m bench.independent_eval {' '.join(argv)}`",
        f"- started {started:%Y-%m-%d %H:%M} UTC, commit `{commit}`, "
        f"{platform.machine()} with {os.cpu_count()} cores, load average at start "
        f"{load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f} (1/5/15 min), "
        f"at end {' / '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- seeds {', '.join(str(r['seed']) for r in runs)}; scale {scales} "
        f"(1.0 = 3,000 subscribers, 165 businesses, 76 spam numbers per network)",
        f"- train: `spamledger oracle train --calls calls.parquet --reports reports.parquet "
        f"--model-dir model --until {TRAIN_UNTIL.isoformat()}` (day 10); score: `spamledger "
        f"oracle score ... --until {SCORE_UNTIL.isoformat()} --out scores.parquet` (day 14); "
        "default settings, nothing tuned",
        "- the world's assumptions: the module docstring of `bench/independent_world.py`",
        *([f"- seeds {', '.join(str(r['seed']) for r in runs if r.get('recovered'))} were "
           "finished by an earlier, interrupted run in the same folder (`--reuse`): their "
           "figures are recomputed from its truth and scores; timings it did not record are "
           "marked"] if any(r.get("recovered") for r in runs) else []),
        "",
        "Each cell over seeds: median [worst-best]. Precision is n/a where nothing was called "
        "spam. A spam number the oracle did not score counts as missed. New in 48 h: first "
        "call on day 12 or 13.",
        "",
        "## Per country",
        "",
        *_country_table(runs),
        "",
        "## Per class (all countries, all seeds)",
        "",
        *_class_table(runs),
        "",
        "## Numbers first seen in the last 48 hours",
        "",
        *_class_table(runs, "new_48h"),
        "",
        "## Per seed",
        "",
        *_seed_table(runs),
        "",
        "## Complaint shape next to the real FTC sample",
        "",
        "Share of (day, number) pairs with k spam complaints, US network of the world: "
        + "; ".join(", ".join(f"{k}: {v}" for k, v in s.items()) for s in world_shape),
        "",
        "FTC sample (one day, `/work/shared/data/ftc_dnc_sample.csv`): "
        + _ftc_shape(Path("/work/shared/data/ftc_dnc_sample.csv")),
        "",
        "## What the oracle said while training (first seed)",
        "",
        "```",
        *runs[0]["train_summary"][:12],
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--work", type=Path, default=None,
                        help="keep worlds, models and logs here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=HERE / "INDEPENDENT_WORLD.md")
    parser.add_argument("--reuse", action="store_true",
                        help="take seeds an earlier run finished in --work instead of rerunning")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started, load_start = datetime.now(UTC), os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for seed in args.seeds:
            done = recover_seed(work / f"seed-{seed}", seed, args.scale) if args.reuse else None
            run = done or run_seed(work / f"seed-{seed}", seed, args.scale)
            runs.append(run)
            a = run["all"]
            print(f"seed {seed}: precision {_f(a['precision'])} recall {_f(a['recall'])} "
                  f"s-or-s {_f(a['spam_or_suspicious_recall'])} new48 "
                  f"{_f(a['new_48h_recall'])} worst legit {run['worst_legit_class']} "
                  f"(train {run['train_s']:.0f} s, score {run['score_s']:.0f} s)", flush=True)
    args.out.write_text(report(runs, argv, started, load_start))
    args.out.with_suffix(".json").write_text(json.dumps(runs, indent=1, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
