"""Design worlds under a variant of the label rule (the session-8 "silence" experiment).

Variants: ``base`` (the shipped rule), ``nosilence`` (no "not spam" label from silence:
negatives only from acquaintance, being sought out, vouches or no calls), ``strongsilence``
(silence needs likelihood ratio ``spam_evidence``, not ``ham_evidence``). Writes the runs as
``oracle_worlds.py`` does; ``oracle_worlds.py --report`` tabulates them.

Usage::

    .venv/bin/python bench/oracle_worlds_variants.py nosilence 100-119 out.json
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracle_worlds

import oracle._labels as labels

SHIPPED = labels._apply_policy


def variant_policy(variant: str):
    """``_apply_policy`` with the "not spam from silence" part changed as ``variant`` says."""
    def apply(counts: pd.DataFrame, policy: labels.LabelPolicy, rates) -> pd.DataFrame:
        if variant == "base":
            return SHIPPED(counts, policy, rates)
        total = (counts["spam"] + counts["ham"]).clip(lower=1)
        nets = counts["network"].astype(str).to_numpy()
        llr = pd.Series(rates.llr(counts["spam"].to_numpy(), counts["exposure"].to_numpy(),
                                  nets), index=counts.index)
        complained = ((counts["spam"] >= policy.min_reporters)
                      & (counts["spam"] / total >= policy.spam_share)
                      & (llr >= math.log(policy.spam_evidence)))
        spam = complained | labels._sweeping(counts, policy)
        firm = labels._anchors(counts, policy) | (counts["callees"] == 0)
        ham = firm if variant == "nosilence" else (
            (llr <= -math.log(policy.spam_evidence)) | firm)
        out = counts.assign(label=pd.NA)
        out.loc[ham & ~spam, "label"] = 0
        out.loc[spam, "label"] = 1
        kept = out.dropna(subset=["label"])
        firm_ham = firm | (llr <= -math.log(policy.spam_evidence))
        kept = kept.assign(firm=(kept["label"] == 1) | firm_ham.loc[kept.index])
        return kept[["number", "label", "firm"]].astype({"label": "int64"}).reset_index(
            drop=True)
    return apply


def main() -> int:
    variant, seeds, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    labels._apply_policy = variant_policy(variant)
    logging.basicConfig(level=logging.WARNING)
    lo, _, hi = seeds.partition("-")
    runs = []
    for seed in range(int(lo), int(hi or lo) + 1):
        run = oracle_worlds.run_world(seed, 0.3)
        runs.append(run)
        print(seed, run["seconds"], " ".join(
            f"{cc} P{m['precision']:.2f} R{m['recall']:.2f} L{m['legit_flag']:.2f}"
            for cc, m in run["countries"].items()), flush=True)
    out.write_text(json.dumps(runs))
    summary = oracle_worlds.summarize(runs)
    for cc in sorted(k for k in summary if len(k) == 2):
        print(cc, " ".join(f"{k} {summary[cc][k]['median']:.3f}/{summary[cc][k]['worst10']:.3f}"
                           for k in ("precision", "recall", "flagged_recall", "legit_flag")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
