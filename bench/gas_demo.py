"""Gas per finalized number in the demo scenario (issue #12's figure: 410k before batching).

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
CONTRACTS = ("Consensus", "SnapshotRegistry", "ModelRegistry", "ValidatorSet", "Dispute",
             "SpamRegistry")
STEPS_UP_TO_PUSH = 8
BEFORE = {"per_finalized_number": 410_000, "source": "issue #12 (demo at scale 0.8: 171M gas "
                                                      "for 418 finalized rounds)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=7)
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
        figures = run(Path(tmp), args.scale, args.seed)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    (HERE / "gas_demo.json").write_text(json.dumps(figures, indent=2) + "\n")
    (HERE / "GAS_DEMO.md").write_text(render(figures))
    print(render(figures))
    return 0


def run(out: Path, scale: float, seed: int) -> dict[str, Any]:
    """The demo's steps through the push, then the operators' gas read from the chain."""
    from spamledger.demo import _runner, _services

    console = Console()
    settings = load_settings(config_file=None, overrides={})
    state = _runner.DemoState(_runner.demo_settings(settings, out / "demo"),
                              _services.Services(settings))
    state.services.settings = state.settings
    try:
        for title, step in _runner._steps(scale, seed)[:STEPS_UP_TO_PUSH]:
            console.print(f"{title} …")
            step(state)
        figures = measure(state.data["consortium"])
    finally:
        _runner._finish(state, False, console)
    figures.update(scale=scale, seed=seed)
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
    finalized = len(ledger.events("Consensus", "RoundFinalized",
                                  ledger.deployment.first_block()))
    return {"finalized_rounds": finalized, "by_function": by_fn,
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
    ledger, rounds, total = (_gas(f, "Consensus.", "SnapshotRegistry."),
                             _gas(f, "Consensus."), _gas(f))
    lines = [
        "# Gas per finalized number in the demo",
        "",
        f"Generated by `bench/gas_demo.py` (demo steps 1-8: through the push) at commit "
        f"{f['commit']}, scale {f['scale']}, seed {f['seed']}, in {f.get('seconds', '?')} s. "
        "Gas of the four operators' transactions, read back from the chain.",
        "",
        f"- rounds finalized: **{f['finalized_rounds']:,}**",
        f"- operators' gas on rounds and epochs (Consensus and SnapshotRegistry: votes, opens, "
        f"finalizations, epoch commits; the issue's definition): {ledger:,} → "
        f"**{ledger // n:,} per finalized number** (before batching: "
        f"{BEFORE['per_finalized_number']:,}, {BEFORE['source']})",
        f"- operators' gas, all transactions (also model registrations and approvals): "
        f"{total:,} → {total // n:,} per finalized number",
        f"- of which rounds (Consensus: opens, votes, finalizations): {rounds:,} → "
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
