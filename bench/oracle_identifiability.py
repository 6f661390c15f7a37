"""Worlds where the complaints point the wrong way: spam no operator's own data can name.

The drawn worlds (:func:`oracle.draw_world`) give some spam classes and some legitimate
classes the same conduct priors: the same daily rhythm, the same way of picking callees,
overlapping ranges of volume and answer rate (telemarketers and registered call centres).
What separates such a pair is the complaints they draw, and each class's complaint
propensity is drawn independently (spam 0.01%-5%, legitimate 0.001%-0.3% per answered
call). In a world where the spam class draws complaints at or below the rate of its
legitimate look-alike, nothing an operator observes says which of the two is the spam:
complaint-derived labels name the wrong one or neither, and a model that separated them
would be using a difference the simulator happens to draw, not evidence. (The fixed
behaviours also give telemarketers a 0.1 higher share of very short answered calls and
5 s less median talk than call centres; "more hang-ups means spam" is not a rule an
operator can check, and would name reminders and clinics too, so it is not counted.)

For each run of ``bench/oracle_worlds.py`` this reports those worlds, the spam class's
share of the world's spam (all networks pooled), its measured recall there, and the
recall a world can reach if its legitimate look-alike is to stay at or below the
legitimate flag-rate target (2%): ``1 - share * (1 - 0.02)``, under the assumption that
conduct cannot separate the pair.

A second table says how far complaints reach at all: per spam class, the chance that one
of its numbers draws the two confirmed complaints a complaint label needs in its active
life within the training window (Poisson, from the world's drawn volume, answer rate,
complaint propensity and wrong-button share; the life is the mean of its range), next to
the conduct labels that can name the class without complaints (sequential dialling for
sweeps and neighbour spoofing, the quiet-hours test for round-the-clock callers).

Usage::

    .venv/bin/python bench/oracle_identifiability.py bench/worlds-heldout-session11-night.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.oracle_worlds import TARGETS, TRAIN_UNTIL
from oracle._simulate import (
    ANSWER_SHIFT,
    BEHAVIOURS,
    LIFE_DAYS,
    START,
    VOLUME_PRIOR,
    Behaviour,
    World,
    draw_world,
)

HERE = Path(__file__).resolve().parent
# The days bench/oracle_worlds.py trains on (0-10), from its own cut-off.
TRAIN_DAYS = (TRAIN_UNTIL - START.replace(tzinfo=None)).total_seconds() / 86400


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def look_alike(spam: Behaviour, legit: Behaviour) -> bool:
    """Whether the priors give the two classes the same conduct: rhythm, callee choice,
    overlapping volume and answer-rate ranges."""
    volume = [(b.per_day * VOLUME_PRIOR[0], b.per_day * VOLUME_PRIOR[1]) for b in (spam, legit)]
    answer = [(b.answer - ANSWER_SHIFT, b.answer + ANSWER_SHIFT) for b in (spam, legit)]
    return (spam.hours == legit.hours and spam.targets == legit.targets
            and _overlap(*volume) and _overlap(*answer))


def pairs(behaviours: dict[str, Behaviour] = BEHAVIOURS) -> list[tuple[str, str]]:
    """Every (spam class, legitimate business class) pair of look-alikes."""
    return [(s, g) for s, bs in behaviours.items() if bs.is_spam
            for g, bg in behaviours.items()
            if not bg.is_spam and bg.targets != "circle" and look_alike(bs, bg)]


def reversed_pairs(run: dict, found: list[tuple[str, str]]) -> list[dict]:
    """The look-alike pairs of one world whose spam draws no more complaints than the
    legitimate class, with the spam class's share of the world's spam and its recall."""
    behaviours = draw_world(run["seed"]).behaviours
    counts = {c: v["numbers"] for c, v in run["spam_classes"].items()}
    total = sum(counts.values()) or 1
    out = []
    for spam, legit in found:
        if behaviours[spam].report <= behaviours[legit].report and counts.get(spam):
            share = counts[spam] / total
            out.append({"seed": run["seed"], "spam": spam, "legit": legit,
                        "ratio": behaviours[spam].report / behaviours[legit].report,
                        "share": share, "recall": run["spam_classes"][spam]["recall"],
                        "cap": 1 - share * (1 - TARGETS["legit_flag"])})
    return out


def summarize(runs: list[dict], found: list[tuple[str, str]]) -> dict:
    """Per run file: the reversed worlds and how many cannot reach the recall target."""
    rows = [r for run in runs for r in reversed_pairs(run, found)]
    lost: dict[int, dict[str, float]] = {}
    for r in rows:  # each spam class once per world, however many look-alikes it has
        lost.setdefault(r["seed"], {})[r["spam"]] = 1 - r["cap"]
    caps = {seed: 1 - sum(by_class.values()) for seed, by_class in lost.items()}
    below = sorted(s for s, c in caps.items() if c < TARGETS["recall"])
    return {"worlds": len(runs), "rows": rows, "reversed_worlds": len(caps),
            "below_target": below,
            "capped_share": len(below) / len(runs) if runs else math.nan}


def conduct_label(b: Behaviour) -> str:
    """The complaint-free label that can name a class, from its conduct in the priors."""
    if b.targets in ("sweep", "neighbour"):
        return "sequential dialling"
    if b.hours in ("flat", "night"):
        return "quiet hours"
    return "none"


def complaint_reach(world: World, cls: str) -> float:
    """The chance that one number of ``cls`` draws two or more confirmed complaints in its
    active life within the training window."""
    b = world.behaviours[cls]
    life = min(sum(LIFE_DAYS[cls]) / 2, TRAIN_DAYS)
    lam = b.per_day * life * b.answer * b.report * (1 - world.wrong_report_share)
    return 1 - math.exp(-lam) * (1 + lam)


def _reach_table(runs: list[dict]) -> list[str]:
    classes = sorted(c for c in LIFE_DAYS if c in BEHAVIOURS)
    worlds = {r["seed"]: draw_world(r["seed"]) for r in runs}
    lines = ["| spam class | complaint reach, median / 10th percentile over worlds | "
             "measured recall (median) | complaint-free label |", "|---|---|---|---|"]
    for c in classes:
        reach = [complaint_reach(w, c) for w in worlds.values()]
        recall = [r["spam_classes"][c]["recall"] for r in runs if c in r["spam_classes"]]
        lines.append(f"| {c} | {np.median(reach):.3f} / {np.percentile(reach, 10):.3f} | "
                     f"{np.median(recall) if recall else math.nan:.3f} | "
                     f"{conduct_label(BEHAVIOURS[c])} |")
    return lines


def _section(path: Path, s: dict, runs: list[dict]) -> list[str]:
    rows = s["rows"]
    lines = [f"### {path.stem}: {s['worlds']} worlds", "",
             f"- Worlds with a reversed look-alike pair: **{s['reversed_worlds']}** "
             f"of {s['worlds']}; worlds whose recall cannot reach "
             f"{TARGETS['recall']:.2f} while the look-alike stays at or below "
             f"{TARGETS['legit_flag']:.0%} flagged: **{len(s['below_target'])}** "
             f"({s['capped_share']:.0%}; seeds {', '.join(map(str, s['below_target'])) or '-'})."]
    if rows:
        shares = np.array([r["share"] for r in rows])
        lines += [f"- The spam class's share of the world's spam there: median "
                  f"{np.median(shares):.3f}, range {shares.min():.3f}-{shares.max():.3f}; its "
                  f"measured recall: median {np.median([r['recall'] for r in rows]):.3f}.", "",
                  "| seed | spam class | look-alike | complaint ratio | share of spam | "
                  "recall measured | recall cap |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['seed']} | {r['spam']} | {r['legit']} | {r['ratio']:.2f} | "
                  f"{r['share']:.3f} | {r['recall']:.3f} | {r['cap']:.3f} |" for r in rows]
    return [*lines, "", *_reach_table(runs), ""]


def report(paths: list[Path]) -> str:
    found = pairs()
    lines = ["# Spam the complaints cannot name (look-alike classes)", "",
             f"Generated by `bench/oracle_identifiability.py` on "
             f"{datetime.now():%Y-%m-%d %H:%M} from the world runs named below; figures are "
             "not edited by hand. Look-alike pairs under the drawn priors: "
             + ", ".join(f"{s} ~ {g}" for s, g in found) + ".", "",
             "A pair is *reversed* in a world when the spam class draws complaints at or "
             "below the rate of the legitimate class: nothing the operator observes says "
             "which one is spam. The recall cap assumes conduct cannot separate them and "
             "the legitimate class stays within the 2% flag target. The second table of "
             "each run: per spam class, the chance that one of its numbers draws the two "
             "confirmed complaints a complaint label needs within its life in the training "
             "window (complaint reach), beside the complaint-free label that can name it.",
             "", "Command: `.venv/bin/python bench/oracle_identifiability.py "
             + " ".join(f"bench/{p.name}" for p in paths) + "`.", ""]
    for p in paths:
        runs = json.loads(p.read_text())
        lines += _section(p, summarize(runs, found), runs)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="bench/oracle_worlds.py JSON files")
    parser.add_argument("--out", type=Path, default=HERE / "ORACLE_IDENTIFIABILITY.md")
    args = parser.parse_args()
    text = report(args.runs)
    args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
