"""Gas per finalized number in the demo scenario (issue #12's figure: 410k before batching;
477k on the vote path with batched opens; the demo now uses the report path).

Runs the demo's steps up to and including the push (start chain and IPFS, keys, deploy, simulate,
train, register models, learn together, score and push: votes, opens, finalizations, epoch
snapshots), then reads every transaction of the four operators from the chain: gas by function,
rounds finalized (``RoundFinalized`` events), and writes ``bench/GAS_DEMO.md`` (and
``bench/gas_demo.json``). Stops everything it started.

    .venv/bin/python -m bench.gas_demo                 # demo scale 0.8, seed 7 (the demo's)
    .venv/bin/python -m bench.gas_demo --scale 0.3     # quicker
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from node import load_artifact
from spamledger._settings import load_settings

HERE = Path(__file__).parent
CONTRACTS = ("Consensus", "ReportConsensus", "SnapshotRegistry", "ModelRegistry",
             "ValidatorSet", "Dispute", "SpamRegistry")
STEPS_UP_TO_PUSH = 8
BEFORE = {"per_finalized_number": 410_000, "source": "issue #12 (demo at scale 0.8: 171M gas "
                                                      "for 418 finalized rounds)"}
VOTE_PATH = {"per_finalized_number": 477_327,
             "source": "vote path with batched opens, bench/GAS_DEMO.md at 1eab0c8"}
ROUND_CONTRACTS = ("Consensus", "ReportConsensus")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stories", action="store_true",
                        help="go on after the measurement with the demo's remaining steps "
                             "(API, telco, business, regulator, edge) and its report")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite GAS_DEMO.md from bench/gas_demo.json")
    args = parser.parse_args(argv)
    if args.render:
        (HERE / "GAS_DEMO.md").write_text(render(json.loads((HERE / "gas_demo.json")
                                                            .read_text())))
        return 0
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gas-demo-") as tmp:
        figures = run(Path(tmp), args.scale, args.seed, args.stories)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    (HERE / "gas_demo.json").write_text(json.dumps(figures, indent=2) + "\n")
    (HERE / "GAS_DEMO.md").write_text(render(figures))
    print(render(figures))
    return 0 if figures.get("stories_passed", True) else 1


def run(out: Path, scale: float, seed: int, stories: bool = False) -> dict[str, Any]:
    """The demo's steps through the push, then the operators' gas read from the chain (and,
    with ``stories``, the demo's remaining steps and report: ``stories_passed``)."""
    from spamledger.demo import _runner, _services

    console = Console()
    settings = load_settings(config_file=None, overrides={})
    state = _runner.DemoState(_runner.demo_settings(settings, out / "demo"),
                              _services.Services(settings))
    state.services.settings = state.settings
    load_before = os.getloadavg()
    steps = _runner._steps(scale, seed)
    try:
        for title, step in steps[:STEPS_UP_TO_PUSH]:
            console.print(f"{title} …")
            t0 = time.perf_counter()
            step(state)
            state.timings.append((title, time.perf_counter() - t0))
        figures = measure(state.data["consortium"])
        if stories:
            for title, step in steps[STEPS_UP_TO_PUSH:]:
                console.print(f"{title} …")
                t0 = time.perf_counter()
                step(state)
                state.timings.append((title, time.perf_counter() - t0))
            from spamledger.demo import _report

            figures["stories_passed"] = _report.print_report(console, state)
    finally:
        _runner._finish(state, False, console)
    figures.update(scale=scale, seed=seed, vote_path=state.settings.oracle_vote_path,
                   load=[round(x, 2) for x in load_before + os.getloadavg()],
                   cores=os.cpu_count())
    return figures


def measure(consortium: Any) -> dict[str, Any]:
    """Gas of each operator transaction by function; finalized rounds from the events."""
    from spamledger.demo._consortium import OPERATORS

    w3, ledger = consortium.w3, consortium.ledger
    operators = {consortium.accounts[cc.lower()].address: cc for cc in OPERATORS}
    decoders = {ledger.deployment.address(n).lower(): (n, w3.eth.contract(
        abi=load_artifact(n).abi)) for n in CONTRACTS}
    by_fn: dict[str, dict[str, int]] = {}
    for number in range(ledger.deployment.first_block(), w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] not in operators or tx["to"] is None:
                continue
            fn = _function(decoders, tx)
            gas = int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])
            row = by_fn.setdefault(fn, {"txs": 0, "gas": 0})
            row["txs"] += 1
            row["gas"] += gas
    first = ledger.deployment.first_block()
    finalized = {c: len(ledger.events(c, "RoundFinalized", first)) for c in ROUND_CONTRACTS}
    expired = {c: len(ledger.events(c, "RoundExpired", first)) for c in ROUND_CONTRACTS}
    return {"finalized_rounds": sum(finalized.values()), "finalized_by": finalized,
            "expired_by": expired, "by_function": by_fn,
            "commit": _commit(), "machine": platform.node()}


def _gas(f: dict[str, Any], *prefixes: str) -> int:
    return sum(r["gas"] for fn, r in f["by_function"].items()
               if not prefixes or fn.startswith(prefixes))


def _function(decoders: dict[str, tuple[str, Any]], tx: Any) -> str:
    if str(tx["to"]).lower() not in decoders:
        return "other"
    name, contract = decoders[str(tx["to"]).lower()]
    try:
        fn, _ = contract.decode_function_input(tx["input"])
    except ValueError:
        return f"{name}.?"
    return f"{name}.{fn.fn_name}"


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=HERE, check=False)
    return out.stdout.strip()


def render(f: dict[str, Any]) -> str:
    n = max(1, f["finalized_rounds"])
    ledger, rounds, total = (_gas(f, "Consensus.", "ReportConsensus.", "SnapshotRegistry."),
                             _gas(f, "Consensus.", "ReportConsensus."), _gas(f))
    load = f.get("load")
    load_text = (f"Machine load (1/5/15-minute load averages, {f.get('cores', '?')} cores): "
                 f"{load[0]}/{load[1]}/{load[2]} at the start, {load[3]}/{load[4]}/{load[5]} at "
                 "the end (other agents' jobs shared the machine)." if load else "")
    by = f.get("finalized_by", {})
    split = (f" ({by.get('ReportConsensus', 0):,} by signed reports, "
             f"{by.get('Consensus', 0):,} by vote-path rounds; expired: "
             f"{sum(f.get('expired_by', {}).values()):,})" if by else "")
    lines = [
        "# Gas per finalized number in the demo",
        "",
        f"Generated by `bench/gas_demo.py` (demo steps 1-8: through the push) at commit "
        f"{f['commit']}, scale {f['scale']}, seed {f['seed']}, in {f.get('seconds', '?')} s, "
        f"oracle_vote_path = {f.get('vote_path', 'votes')}. "
        "Gas of the four operators' transactions, read back from the chain.",
        "",
        *([load_text, ""] if load_text else []),
        f"- rounds finalized: **{f['finalized_rounds']:,}**{split}",
        f"- operators' gas on rounds and epochs (Consensus, ReportConsensus and "
        f"SnapshotRegistry: reports, votes, opens, finalizations, epoch commits; the issue's "
        f"definition): {ledger:,} → **{ledger // n:,} per finalized number** (before "
        f"batching: {BEFORE['per_finalized_number']:,}, {BEFORE['source']}; "
        f"{VOTE_PATH['per_finalized_number']:,}, {VOTE_PATH['source']})",
        f"- operators' gas, all transactions (also model registrations and approvals): "
        f"{total:,} → {total // n:,} per finalized number",
        f"- of which rounds (Consensus and ReportConsensus: reports, opens, votes, "
        f"finalizations): {rounds:,} → "
        f"**{rounds // n:,} per finalized number**",
        "",
        "| function | transactions | gas | gas per transaction |",
        "|---|---:|---:|---:|",
    ]
    for fn, row in sorted(f["by_function"].items(), key=lambda kv: -kv[1]["gas"]):
        lines.append(f"| {fn} | {row['txs']:,} | {row['gas']:,} | "
                     f"{row['gas'] // max(1, row['txs']):,} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
