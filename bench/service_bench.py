"""Oracle service figures, measured on a fresh Anvil and js-ipfs in one run.

Prints and writes ``bench/SERVICE.md`` (and ``bench/service.json``):

1. Anvil's raw rate for plain transfers (sign, send, wait for the receipt: the pattern the
   oracle uses) and pipelined (send all, then wait), next to
2. votes per second submitted by the oracle's outbox path (plan, evidence to IPFS, EIP-712
   sign, castVotes bundles, receipts recorded), per batch size; gas per vote;
3. epoch commit: gas per number at the measured size and amortized for one million numbers,
   and the Merkle build rate;
4. continuous mode: seconds from the newest files landing in four operators' drop folders to
   the campaign's on-chain spam verdicts.

    .venv/bin/python -m bench.service_bench            # small defaults (~3 min on 2 cores)
    .venv/bin/python -m bench.service_bench --full     # 1M-leaf snapshot, more votes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from eth_account import Account

from migrations import deploy, fund_dev_accounts
from node import AnvilNode, Ledger, admit_consortium, connect
from oracle.service import Operator, Outbox, RetryPolicy
from oracle.service._chain import Chain
from oracle.service._epoch import EpochService
from oracle.service._evidence import EvidenceWriter
from oracle.service._merkle import MerkleTree
from oracle.service._models import ModelGovernance
from oracle.service._scored import ScoredNumber
from oracle.service._votes import VotePolicy, VoteService
from spamledger import NumberHasher
from spamledger._settings import load_settings
from spamledger._types import Category, Verdict

OUT_MD = Path(__file__).with_name("SERVICE.md")
OUT_JSON = Path(__file__).with_name("service.json")
WEIGHTS = {"US": 4000, "IN": 2500, "BR": 2000, "GB": 1000, "FR": 500}
RETRY = RetryPolicy(attempts=3, backoff=0.1)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rig:
    """Anvil + js-ipfs + a deployed consortium, and helpers to build operators."""

    def __init__(self, root: Path, anvil: AnvilNode, store: Any):
        self.root, self.store = root, store
        self.w3 = connect(anvil.rpc_url)
        self.gov = Account.create()
        self.vals = {cc: Account.create() for cc in WEIGHTS}
        fund_dev_accounts(self.w3, [a.address for a in [self.gov, *self.vals.values()]])
        self.ledger = Ledger(self.w3, deploy(self.w3, root / "ledger", self.gov), self.gov)
        admit_consortium(self.ledger, validators={a.address: (cc, WEIGHTS[cc])
                                                  for cc, a in self.vals.items()})
        self.hasher = NumberHasher(os.urandom(32))
        self.ops: dict[str, SimpleNamespace] = {}

    def operator(self, cc: str, tag: str = "", batch: int = 40,
                 evidence: bool = True) -> SimpleNamespace:
        op = Operator.create(self.root / f"ops{tag}", cc).ensure_dirs()
        outbox = Outbox(op.outbox_path)
        chain = Chain(self.ledger, self.vals[cc], outbox, RETRY)
        ev = EvidenceWriter(self.store, RETRY)
        model = hashlib.sha256(f"bench-model-{cc}".encode()).digest()
        votes = VoteService(op, chain, self.hasher, ev if evidence else None, model,
                            VotePolicy(batch_size=batch))
        return SimpleNamespace(op=op, outbox=outbox, chain=chain, votes=votes, model=model,
                               models=ModelGovernance(op, chain, ev),
                               epochs=EpochService(op, chain, self.store, self.hasher, RETRY))

    def approve_all(self, rigs: list[SimpleNamespace]) -> None:
        card = {"metrics": {"overall": {"precision": 0.96, "recall": 0.95}}}
        for r in rigs:
            r.models.register(r.model, card)
        for r in rigs:
            for other in rigs:
                if other is not r:
                    other.models.approve(r.model)


# -- 1. raw Anvil rate -------------------------------------------------------------------------

def raw_transfer_rate(w3: Any, n: int) -> dict[str, float]:
    sender = Account.create()
    fund_dev_accounts(w3, [sender.address])
    to, chain_id = Account.create().address, w3.eth.chain_id
    nonce = w3.eth.get_transaction_count(sender.address, "pending")
    gas_price = w3.eth.gas_price

    def tx(i: int) -> bytes:
        return sender.sign_transaction({"to": to, "value": 1, "gas": 21_000, "nonce": nonce + i,
                                        "gasPrice": gas_price, "chainId": chain_id}
                                       ).raw_transaction

    t0 = time.perf_counter()
    for i in range(n):
        h = w3.eth.send_raw_transaction(tx(i))
        w3.eth.wait_for_transaction_receipt(h, poll_latency=0.02)
    seq = n / (time.perf_counter() - t0)
    nonce += n
    t0 = time.perf_counter()
    hashes = [w3.eth.send_raw_transaction(tx(i)) for i in range(n)]
    for h in hashes:
        w3.eth.wait_for_transaction_receipt(h, poll_latency=0.02)
    pipe = n / (time.perf_counter() - t0)
    return {"sequential_tx_per_s": seq, "pipelined_tx_per_s": pipe, "n": n}


# -- 2. votes per second -----------------------------------------------------------------------

def _open_rounds(rig: Rig, keys: list[bytes]) -> None:
    fr = rig.vals["FR"]
    last = None
    for key in keys:
        last = rig.ledger.transact("Consensus", "openRound", key, b"US", account=fr, wait=False)
    if last is not None:
        rig.ledger.wait(last)


def vote_rate(rig: Rig, n: int, batch: int, evidence: bool) -> dict[str, float]:
    r = rig.operator("US", tag=f"-votes-{batch}-{int(evidence)}", batch=batch,
                     evidence=evidence)
    numbers = [f"+1303{secrets_int():07d}" for _ in range(n)]
    keys = [rig.hasher.key(x) for x in numbers]
    _open_rounds(rig, keys)
    rows = {k: ScoredNumber(x, "US", 0.93, Verdict.SPAM, Category.ROBOCALL, 0.9,
                            features={"calls_24h": 300.0, "short_share": 0.9},
                            reasons=("many short calls",), reports={"spam": 5})
            for k, x in zip(keys, numbers, strict=True)}
    t0 = time.perf_counter()
    r.votes.plan_votes([(k, 1, row) for k, row in rows.items()])
    planned = time.perf_counter() - t0
    mined = r.votes.send_votes()
    total = time.perf_counter() - t0
    gas = sum(g for fn, _, g in r.chain.submitter.gas_used if fn == "castVotes")
    assert mined == n, f"{mined} of {n} votes mined"
    return {"batch": batch, "evidence": evidence, "votes": n, "seconds": total,
            "votes_per_s": n / total, "evidence_seconds": planned, "gas_per_vote": gas / n}


def secrets_int() -> int:
    import secrets

    return secrets.randbelow(10**7)


# -- 3. epoch commit ---------------------------------------------------------------------------

def epoch_gas(rig: Rig, us: SimpleNamespace, numbers: int) -> dict[str, float]:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 256, size=(numbers, 32), dtype=np.uint8)
    scores = rng.integers(0, 10_001, size=numbers)
    verdicts = np.where(scores >= 7000, 3, np.where(scores >= 4000, 2, 1))
    cats = np.where(verdicts == 3, 3, 0)
    t0 = time.perf_counter()
    tree = MerkleTree.from_arrays(keys, scores, verdicts, cats)
    build = time.perf_counter() - t0
    snap = SimpleNamespace(epoch=7, country="US", tree=tree, cid="bafybench" + "a" * 50,
                           model_hash=us.model, root=tree.root)
    receipt = us.epochs.commit(snap)
    gas = int(receipt["gasUsed"])
    return {"numbers": numbers, "commit_gas": gas, "gas_per_number": gas / numbers,
            "gas_per_number_1M": gas / 1_000_000, "merkle_build_s": build,
            "leaves_per_s": numbers / build}


# -- 4. continuous mode ------------------------------------------------------------------------

def campaign_latency(rig: Rig, scale: float) -> dict[str, Any]:
    from oracle._simulate import simulate
    from oracle.service._app import OracleApp
    from oracle.service._run import ContinuousRunner
    from oracle.service._scenario import (
        cut_before_end,
        new_spam_numbers,
        release_new_data,
        stage_operator,
        train_operator,
    )

    sim = simulate(rig.root / "sim", scale=scale, days=14, seed=11)
    cut = cut_before_end(sim, hours=36)
    ops = {cc: rig.operator(cc, tag="-cont") for cc in ("US", "IN", "BR", "GB")}
    for r in ops.values():
        stage_operator(r.op, sim, cut)
        digest, card = train_operator(r.op, cut)
        r.models.register(digest, card)
        r.model = bytes.fromhex(digest)
    for r in ops.values():
        for other in ops.values():
            if other is not r:
                other.models.approve(r.model)
    runners = {}
    for cc, r in ops.items():
        r.votes.set_model(r.models.promote(r.model))
        app = OracleApp(load_settings(environ={}), r.op, r.outbox, r.chain, rig.store,
                        rig.hasher, r.models, r.epochs, r.votes)
        runners[cc] = ContinuousRunner(app, poll_seconds=0, epoch_seconds=0, retrain_seconds=0)
    for _ in range(2):
        for runner in runners.values():
            runner.cycle()
    for r in ops.values():
        release_new_data(r.op)
    t0 = time.perf_counter()
    cycle_s = {}
    for cc, runner in runners.items():
        cycle_s[cc] = runner.cycle().seconds
    for runner in runners.values():
        runner.app.votes.push([])
    latency = time.perf_counter() - t0
    campaign = set(new_spam_numbers(sim, cut)["number"])
    flagged = sorted({row.e164 for runner in runners.values() for row in runner.table
                      if row.e164 in campaign and row.verdict == Verdict.SPAM})
    keys = [rig.hasher.key(n) for n in flagged]
    verdicts = list(rig.ledger.call("SpamRegistry", "verdictsOf", keys)) if keys else []
    return {"scale": scale, "campaign_numbers": len(campaign), "flagged": len(flagged),
            "on_chain_spam": sum(1 for v in verdicts if v == Verdict.SPAM),
            "seconds_to_verdict": latency, "cycle_seconds": cycle_s}


# -- report ------------------------------------------------------------------------------------

def _markdown(res: dict[str, Any]) -> str:
    raw, ep, camp = res["raw"], res["epoch"], res["campaign"]
    lines = ["# Oracle service figures", "",
             f"Measured {res['when']} on this machine ({res.get('cpus')} cores, shared), "
             "one Anvil (automine) and one js-ipfs node, by `python -m bench.service_bench"
             f"{' --full' if res['full'] else ''}`.", "",
             "## Transactions per second", "",
             "| what | per second | note |", "|---|---:|---|",
             f"| Anvil plain transfers, sign+send+wait each | {raw['sequential_tx_per_s']:.1f} "
             f"| {raw['n']} transfers: the floor for any one-at-a-time sender |",
             f"| Anvil plain transfers, pipelined | {raw['pipelined_tx_per_s']:.1f} | send all, "
             "then wait |"]
    for v in res["votes"]:
        ratio = v["votes_per_s"] / raw["sequential_tx_per_s"]
        lines.append(f"| oracle votes, bundles of {v['batch']}"
                     f"{', evidence in IPFS' if v['evidence'] else ', no evidence'} "
                     f"| {v['votes_per_s']:.1f} | {v['votes']} votes; {ratio:.1f}x the "
                     f"sequential transfer rate; {v['gas_per_vote']:,.0f} gas per vote |")
    lines += ["", "Each oracle vote goes through the outbox: planned and signed (one SQLite "
              "transaction per batch each), then every bundle transaction recorded as sent "
              "before its broadcast and as mined after its receipt (fsync each time); gas is "
              "estimated first so a vote that would revert is isolated without being sent. "
              "With evidence, one JSON document per vote is put into IPFS (batched) and its "
              "CID verified locally. Batch size 1 pays all of that per vote; bundles amortize "
              "it, but a 64-vote bundle is a ~7.9M-gas transaction that Anvil executes twice "
              "(gas estimate, then the block), against 21,000 gas for a transfer. Compare "
              "ratios within one run only: the machine is shared and the absolute rates "
              "move by 2-3x between runs.", "",
              "## Gas per number", "", "| what | gas | per number |", "|---|---:|---:|"]
    for v in res["votes"]:
        cid = " with evidence CIDs" if v["evidence"] else ", empty evidence CID"
        lines.append(f"| castVotes, bundle of {v['batch']}{cid} | "
                     f"{v['gas_per_vote'] * v['batch']:,.0f} | {v['gas_per_vote']:,.0f} |")
    lines += [f"| commitEpoch, {ep['numbers']:,} numbers | {ep['commit_gas']:,} | "
              f"{ep['gas_per_number']:.4f} |",
              f"| commitEpoch amortized over 1,000,000 numbers | {ep['commit_gas']:,} | "
              f"{ep['gas_per_number_1M']:.5f} |", "",
              "One `commitEpoch` stores root, CID, model hash and count whatever the table "
              "size, so its gas does not grow with the number of leaves (`--full` builds and "
              "commits a real 1M-leaf tree).", "",
              f"The Merkle tree of {ep['numbers']:,} leaves was built in "
              f"{ep['merkle_build_s']:.2f} s "
              f"({ep['leaves_per_s']:,.0f} leaves/s, OpenZeppelin layout).", "",
              "## Continuous mode: campaign to on-chain verdict", "",
              f"Simulator (scale {camp['scale']}), four operators (US, IN, BR, GB), each "
              "trained on its history; then the newest 36 hours land in every drop folder. "
              "One cycle = every operator rescores once and pushes, then every operator "
              "answers the rounds opened after its turn.", "",
              f"- campaign numbers (spam first seen in the newest files): "
              f"{camp['campaign_numbers']}; flagged spam by some operator's model: "
              f"{camp['flagged']}; on-chain verdict spam after the cycle: "
              f"{camp['on_chain_spam']}",
              f"- seconds from the drop to the on-chain verdicts: "
              f"**{camp['seconds_to_verdict']:.1f} s** (per operator cycle: "
              + ", ".join(f"{k} {v:.1f} s" for k, v in camp["cycle_seconds"].items()) + ")",
              "", "Raw JSON: `bench/service.json`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1M-leaf snapshot, more votes")
    parser.add_argument("--rewrite", action="store_true",
                        help="only rewrite SERVICE.md from bench/service.json")
    args = parser.parse_args(argv)
    if args.rewrite:
        OUT_MD.write_text(_markdown(json.loads(OUT_JSON.read_text())))
        return 0
    logging.basicConfig(level=logging.WARNING)
    from node.ipfs import EvidenceStore, start_ipfs, stop_ipfs

    votes_n, leaves, scale = (512, 1_000_000, 0.3) if args.full else (128, 100_000, 0.15)
    with tempfile.TemporaryDirectory(prefix="service-bench-") as tmp:
        root = Path(tmp)
        settings = load_settings(overrides={
            "data_dir": root / "ipfs", "ipfs_api": f"/ip4/127.0.0.1/tcp/{_port()}/http",
            "ipfs_gateway_port": _port()}, environ={})
        anvil = AnvilNode(root / "chain", port=_port())
        anvil.start()
        start_ipfs(settings)
        try:
            with EvidenceStore(settings.ipfs_api, timeout=30.0) as store:
                res = run(root, anvil, store, votes_n, leaves, scale)
        finally:
            stop_ipfs(settings)
            anvil.stop()
    res["full"] = args.full
    res["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    res["cpus"] = os.cpu_count()
    OUT_JSON.write_text(json.dumps(res, indent=2) + "\n")
    OUT_MD.write_text(_markdown(res))
    print(_markdown(res))
    return 0


def run(root: Path, anvil: AnvilNode, store: Any, votes_n: int, leaves: int,
        scale: float) -> dict[str, Any]:
    rig = Rig(root, anvil, store)
    base = [rig.operator(cc, tag="-base") for cc in ("US", "IN", "BR")]
    rig.approve_all(base)
    res: dict[str, Any] = {"raw": raw_transfer_rate(rig.w3, 200)}
    print("raw:", res["raw"])
    res["votes"] = []
    for batch, evidence in ((1, False), (16, False), (64, False), (64, True)):
        res["votes"].append(vote_rate(rig, votes_n, batch, evidence))
        print("votes:", res["votes"][-1])
    res["epoch"] = epoch_gas(rig, base[0], leaves)
    print("epoch:", res["epoch"])
    res["campaign"] = campaign_latency(rig, scale)
    print("campaign:", res["campaign"])
    return res


if __name__ == "__main__":
    raise SystemExit(main())
