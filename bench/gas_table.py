"""Gas table of the SpamLedger contracts, measured on a fresh Anvil.

Prints and writes ``bench/GAS.md``: deployment of each contract, one vote, a 5-signature
bundle, finalize, bundles of 64 votes (one validator's votes on 64 numbers, as the oracle
sends them) and the gas per finalized number with four voters (open, four votes in such
bundles, finalize), an epoch commit, a Merkle proof verification, the dispute lifecycle, and
the amortized gas per number of an epoch snapshot of ``--numbers`` numbers (default one
million).

Consensus keeps an open round's sums in a pool entry that closed rounds hand back, so the
64-number cycle runs twice on new numbers: the first cycle of a fresh deployment creates the
entries (the ``first 64 rounds`` rows), the second reuses them, as a running ledger does (the
main rows). A third 64-number cycle opens its rounds with one ``openRounds`` and closes them
with one ``finalizeMany`` transaction (the batched path: the same votes and per-number events,
one transaction base per batch). Proof verification is measured twice: as its own
transaction (21,000 gas base and the calldata floor of EIP-7623 included) and as the gas a
contract pays to call it on-chain (``contracts/test/GasProbe.sol``, read with eth_call).
Last, the report path (``ReportConsensus``): the same four validators sign ONE report each for
1, 16 and 64 new numbers, and one transaction opens, counts and closes every number's round
(the same per-number events) and writes its record.

    .venv/bin/python -m bench.gas_table [--numbers 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account

from migrations import deploy, fund_dev_accounts
from node import (
    AnvilNode,
    Ledger,
    ReportVote,
    admit_consortium,
    approve_model,
    build_report,
    cast_votes,
    commit_epoch,
    connect,
    finalize_many,
    make_vote,
    open_round,
    open_rounds,
    register_model,
    resolve_dispute,
    sign_report,
    sign_score_vote,
    submit_report,
    vote_dispute,
)
from node._artifacts import load_artifact
from oracle.service._merkle import MerkleTree
from spamledger import NumberHasher
from spamledger._types import Category

OUT = Path(__file__).with_name("GAS.md")

# The same operations measured by this bench on the v1 contracts (commit a4e945a, before
# issue #12: country chosen by the opener, one mapping slot per vote, one shared model), on
# Anvil 1.7.1; the epoch rows are for a 1,000,000-number snapshot.
BEFORE_V1 = {
    "deploy ValidatorSet": 1_574_625, "deploy ModelRegistry": 982_483,
    "deploy SpamRegistry": 1_143_794, "deploy Consensus": 3_002_173,
    "deploy SnapshotRegistry": 904_556, "deploy Dispute": 2_330_770,
    "openRound": 68_551, "castVotes, 1 signature": 159_162,
    "castVotes, 5-signature bundle": 458_462,
    "finalize (quorum reached, writes registry)": 92_833,
    "openRound (mean of 64)": 68_573,
    "castVotes, bundle of 64 (US, voter 1 of each round)": 7_955_403,
    "castVotes, bundle of 64 (IN, voter 2 of each round)": 5_750_471,
    "castVotes, bundle of 64 (BR, voter 3 of each round)": 5_750_615,
    "castVotes, bundle of 64 (GB, voter 4 of each round)": 5_750_639,
    "castVotes, bundle of 64: mean per vote over 4 voters": 98_465,
    "finalize (mean of 64)": 92_831,
    "per finalized number (4 voters: open, votes, finalize)": 555_267,
    "commitEpoch (1,000,000 numbers)": 219_706, "verifyLeaf (proof of 20 hashes)": 50_430,
    "dispute: openDispute": 241_174, "dispute: arbiter vote": 72_313,
    "dispute: resolve (upheld, registry locked)": 80_643,
    "dispute: whole lifecycle (open, 3 votes, resolve)": 455_721,
}
# v2: the same bench on the contracts of issue #12's first session (commit 690fc8f, before the
# round pool), Anvil 1.7.1.
BEFORE_V2 = {
    "deploy ValidatorSet": 1_754_285, "deploy ModelRegistry": 1_095_688,
    "deploy SpamRegistry": 1_143_794, "deploy Consensus": 3_744_917,
    "deploy SnapshotRegistry": 924_248, "deploy Dispute": 2_381_808,
    "openRound": 139_075, "castVotes, 1 signature": 109_776,
    "castVotes, 5-signature bundle": 255_941,
    "finalize (quorum reached, writes registry)": 89_974,
    "openRound (mean of 64)": 139_073,
    "castVotes, bundle of 64 (US, voter 1 of each round)": 4_680_935,
    "castVotes, bundle of 64 (IN, voter 2 of each round)": 3_629_547,
    "castVotes, bundle of 64 (BR, voter 3 of each round)": 3_651_635,
    "castVotes, bundle of 64 (GB, voter 4 of each round)": 3_673_675,
    "castVotes, bundle of 64: mean per vote over 4 voters": 61_077,
    "finalize (mean of 64)": 89_972,
    "per finalized number (4 voters: open, votes, finalize)": 473_356,
    "commitEpoch (1,000,000 numbers)": 219_997, "verifyLeaf (proof of 20 hashes)": 50_430,
    "dispute: openDispute": 241_287, "dispute: arbiter vote": 94_804,
    "dispute: resolve (upheld, registry locked)": 80_868,
    "dispute: whole lifecycle (open, 3 votes, resolve)": 456_091,
}
# Without a pool, v1 and v2 cost the same for every batch of new numbers: their figures stand
# for both the first and the later cycles.
for _name in list(BEFORE_V2):
    if "of 64" in _name or _name.startswith("per finalized number"):
        for _table in (BEFORE_V1, BEFORE_V2):
            _table[f"{_name}, first 64 rounds"] = _table[_name]
WEIGHTS = {"US": 4000, "IN": 2500, "BR": 2000, "GB": 1000, "FR": 500}


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bench:
    """A deployed consortium plus a list of measured rows."""

    def __init__(self, data_dir: Path, rpc_url: str):
        self.w3 = connect(rpc_url)
        self.gov = Account.create()
        self.vals = {cc: Account.create() for cc in WEIGHTS}
        self.arbs = {cc: Account.create() for cc in ("DE", "JP")}
        self.relayer, self.regulator = Account.create(), Account.create()
        every = [self.gov, self.relayer, self.regulator, *self.vals.values(), *self.arbs.values()]
        fund_dev_accounts(self.w3, [a.address for a in every])
        self.deployment = deploy(self.w3, data_dir, self.gov)
        self.ledger = Ledger(self.w3, self.deployment, self.gov)
        admit_consortium(self.ledger,
                         validators={a.address: (cc, WEIGHTS[cc]) for cc, a in self.vals.items()},
                         arbiters={a.address: (cc, 1000) for cc, a in self.arbs.items()},
                         relayers=[self.relayer.address], regulators=[self.regulator.address])
        self.hasher = NumberHasher(os.urandom(32))
        self.rows: list[tuple[str, int, str]] = []
        self.model = hashlib.sha256(b"gas-model").digest()

    def add(self, what: str, gas: int, note: str = "") -> None:
        self.rows.append((what, int(gas), note))
        print(f"{what:<48} {gas:>12,} {note}")

    def deployments(self) -> None:
        for name, info in self.deployment.contracts.items():
            receipt = self.w3.eth.get_transaction_receipt(info["tx_hash"])
            self.add(f"deploy {name}", receipt["gasUsed"])
        # Runtime sizes (EIP-170 caps a contract at 24,576 bytes).
        self.sizes = {name: len(self.w3.eth.get_code(
            self.w3.to_checksum_address(info["address"])))
            for name, info in self.deployment.contracts.items()}
        self.consensus_size = self.sizes["Consensus"]
        for name, size in self.sizes.items():
            print(f"{name} runtime size: {size:,} bytes")

    def approve(self) -> None:
        """Every validator registers the model as its own; two other countries approve it."""
        countries = list(self.vals)
        for i, cc in enumerate(countries):
            register_model(self.ledger, self.model, "bafy-metrics", self.vals[cc])
            for other in (countries[(i + 1) % len(countries)],
                          countries[(i + 2) % len(countries)]):
                approve_model(self.ledger, self.vals[cc].address, self.model, self.vals[other])

    def _signed(self, key: bytes, round_id: int, countries: list[str]) -> list:
        consensus = self.deployment.address("Consensus")
        out = []
        for cc in countries:
            vote = make_vote(key, round_id, country="US", score=9000, category=Category.SCAM,
                             model_hash=self.model,
                             cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
            out.append((vote, sign_score_vote(self.vals[cc], vote, self.w3.eth.chain_id,
                                              consensus)))
        return out

    def votes(self) -> bytes:
        key = self.hasher.key("+14155550123")
        receipt = self.ledger.transact("Consensus", "openRound", key, b"US",
                                       account=self.vals["US"])
        self.add("openRound", receipt["gasUsed"])
        round_id = open_round_id(self.ledger, key)
        one = cast_votes(self.ledger, self._signed(key, round_id, ["US"]))[0]
        self.add("castVotes, 1 signature", one["gasUsed"])
        key2 = self.hasher.key("+14155550124")
        open_round(self.ledger, key2, "US", account=self.vals["US"])
        five = cast_votes(self.ledger, self._signed(key2, 1, list(WEIGHTS)))[0]
        self.add("castVotes, 5-signature bundle", five["gasUsed"],
                 f"{five['gasUsed'] // 5:,} per vote")
        fin = self.ledger.transact("Consensus", "finalize", key2)
        self.add("finalize (quorum reached, writes registry)", fin["gasUsed"])
        return key2

    def per_number(self, n: int = 64, voters: tuple[str, ...] = ("US", "IN", "BR", "GB"),
                   cycle: int = 1, suffix: str = "") -> None:
        """``n`` new numbers, each opened, voted on by ``voters`` (each validator sends its ``n``
        votes in one bundle, as the oracle does) and finalized: gas per vote and per number.
        ``suffix`` labels the rows (the first cycle of a deployment creates pool entries)."""
        keys = [self.hasher.key(f"+1415{cycle}56{i:04d}") for i in range(n)]
        opens = sum(self.ledger.transact("Consensus", "openRound", k, b"US",
                                         account=self.vals["US"])["gasUsed"] for k in keys)
        self.add(f"openRound (mean of {n}){suffix}", opens // n)
        consensus = self.deployment.address("Consensus")
        bundles = []
        for cc in voters:
            signed = []
            for k in keys:
                vote = make_vote(k, open_round_id(self.ledger, k), country="US", score=9000,
                                 category=Category.SCAM, model_hash=self.model,
                                 cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
                signed.append((vote, sign_score_vote(self.vals[cc], vote, self.w3.eth.chain_id,
                                                     consensus)))
            gas = cast_votes(self.ledger, signed)[0]["gasUsed"]
            bundles.append(gas)
            self.add(f"castVotes, bundle of {n} ({cc}, voter {len(bundles)} of each round)"
                     f"{suffix}", gas, f"{gas // n:,} per vote")
        votes = sum(bundles)
        self.add(f"castVotes, bundle of {n}: mean per vote over {len(voters)} voters{suffix}",
                 votes // (n * len(voters)))
        fins = sum(self.ledger.transact("Consensus", "finalize", k)["gasUsed"] for k in keys)
        self.add(f"finalize (mean of {n}){suffix}", fins // n)
        self.add(f"per finalized number ({len(voters)} voters: open, votes, finalize){suffix}",
                 (opens + votes + fins) // n, f"{n} numbers")

    def per_number_batched(self, n: int = 64,
                           voters: tuple[str, ...] = ("US", "IN", "BR", "GB")) -> None:
        """As :meth:`per_number` (on reused pool entries), but the ``n`` rounds are opened with
        one ``openRounds`` and closed with one ``finalizeMany`` transaction: one transaction
        base for the batch instead of one per number, the same events per number."""
        keys = [self.hasher.key(f"+14153{i:04d}77") for i in range(n)]
        opened = open_rounds(self.ledger, [(k, "US") for k in keys], account=self.vals["US"])
        assert len(opened.done) == n and not opened.skipped, "every round opens"
        opens = opened.gas_used
        self.add(f"openRounds, batch of {n} (mean per round)", opens // n,
                 f"{opens:,} for the batch")
        consensus = self.deployment.address("Consensus")
        votes = 0
        for cc in voters:
            signed = []
            for k in keys:
                vote = make_vote(k, opened.done[k], country="US", score=9000,
                                 category=Category.SCAM, model_hash=self.model,
                                 cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
                signed.append((vote, sign_score_vote(self.vals[cc], vote, self.w3.eth.chain_id,
                                                     consensus)))
            votes += cast_votes(self.ledger, signed)[0]["gasUsed"]
        self.add(f"castVotes, bundle of {n}: mean per vote over {len(voters)} voters, "
                 "batched rounds", votes // (n * len(voters)))
        closed = finalize_many(self.ledger, keys)
        assert len(closed.done) == n and not closed.expired and not closed.skipped, \
            "every round finalizes"
        fins = closed.gas_used
        self.add(f"finalizeMany, batch of {n} (mean per round)", fins // n,
                 f"{fins:,} for the batch")
        self.add(f"per finalized number ({len(voters)} voters: openRounds, votes, "
                 "finalizeMany)", (opens + votes + fins) // n, f"{n} numbers")

    def per_number_report(self, n: int, voters: tuple[str, ...] = ("US", "IN", "BR", "GB"),
                          seq: int = 1) -> None:
        """``n`` new numbers decided by one signed report: each of ``voters`` signs it once
        (its vote on every number inside), the relayer submits it in one transaction."""
        keys = [(self.hasher.key(f"+1416{seq:02d}{i:05d}"), "US") for i in range(n)]
        signers = [self.vals[cc] for cc in voters]
        votes = {a.address: [ReportVote(9000, category=Category.SCAM)] * n for a in signers}
        report = build_report(seq, keys, votes, {a.address: self.model for a in signers},
                              cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
        address = self.deployment.address("ReportConsensus")
        sigs = {a.address: sign_report(a, report, self.w3.eth.chain_id, address)
                for a in signers}
        outcome = submit_report(self.ledger, report, sigs, account=self.relayer)
        assert len(outcome.finalized) == n and not outcome.expired and not outcome.skipped, \
            "every number finalizes"
        self.add(f"per finalized number ({len(voters)} voters: report of {n})",
                 outcome.gas_used // n, f"{outcome.gas_used:,} for the report")

    def epoch(self, numbers: int) -> None:
        t0 = time.perf_counter()
        rng = np.random.default_rng(7)
        keys = rng.integers(0, 256, size=(numbers, 32), dtype=np.uint8)
        scores = rng.integers(0, 10_001, size=numbers)
        verdicts = np.where(scores >= 7000, 3, np.where(scores >= 4000, 2, 1))
        cats = np.where(verdicts == 3, 3, 0)
        tree = MerkleTree.from_arrays(keys, scores, verdicts, cats)
        build_s = time.perf_counter() - t0
        receipt = commit_epoch(self.ledger, "US", 1, tree.root,
                               "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                               self.model, numbers, self.vals["US"])
        gas = receipt["gasUsed"]
        self.add(f"commitEpoch ({numbers:,} numbers)", gas,
                 f"{gas / numbers:.4f} gas per number; tree built in {build_s:.1f} s")
        key = keys[123].tobytes()
        proof = tree.proof(key)
        args = (b"US", 1, key, int(scores[123]), int(verdicts[123]), int(cats[123]), proof)
        fn = self.ledger.contract("SnapshotRegistry").functions.verifyLeaf(*args)
        assert fn.call(), "proof must verify"
        self.add(f"verifyLeaf (proof of {len(proof)} hashes)", fn.estimate_gas(),
                 "as its own transaction: 21,000 base + calldata floor (EIP-7623) dominate")
        used, ok = self._on_chain_call("SnapshotRegistry", fn)
        assert ok, "proof must verify when called from a contract"
        self.add(f"verifyLeaf (proof of {len(proof)} hashes), called by a contract", used,
                 "what an on-chain caller pays: cold account, calldata copy, verification")

    def _on_chain_call(self, name: str, fn: Any) -> tuple[int, bool]:
        """Gas a contract pays for ``fn`` (a view) when it calls it: GasProbe via eth_call."""
        if not hasattr(self, "_probe"):
            art = load_artifact("GasProbe")
            factory = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
            tx = factory.constructor().build_transaction({
                "from": self.gov.address,
                "nonce": self.w3.eth.get_transaction_count(self.gov.address)})
            raw = self.gov.sign_transaction(tx).raw_transaction
            receipt = self.w3.eth.wait_for_transaction_receipt(
                self.w3.eth.send_raw_transaction(raw))
            self._probe = self.w3.eth.contract(address=receipt["contractAddress"], abi=art.abi)
        data = fn._encode_transaction_data()
        used, ok, out = self._probe.functions.measure(self.deployment.address(name), data).call()
        return int(used), bool(ok) and out[-1] == 1

    def dispute(self, key: bytes) -> None:
        claimant = hashlib.sha256(b"business").digest()
        receipt = self.ledger.transact("Dispute", "openDispute", key, claimant,
                                       "bafy-dispute", account=self.relayer)
        self.add("dispute: openDispute", receipt["gasUsed"])
        dispute_id = open_dispute_id(self.ledger)
        total = receipt["gasUsed"]
        for arb in self.arbs.values():
            total += vote_dispute(self.ledger, dispute_id, True, arb)["gasUsed"]
        self.add("dispute: arbiter vote", vote_dispute(self.ledger, dispute_id, True,
                                                        self.regulator)["gasUsed"])
        res = resolve_dispute(self.ledger, dispute_id)
        self.add("dispute: resolve (upheld, registry locked)", res["gasUsed"])
        self.add("dispute: whole lifecycle (open, 3 votes, resolve)", total + res["gasUsed"])


def open_round_id(ledger: Ledger, key: bytes) -> int:
    return int(ledger.call("Consensus", "currentRound", key)[0])


def open_dispute_id(ledger: Ledger) -> int:
    return int(ledger.call("Dispute", "disputeCount"))


# `make demo` (default scale 0.8, v2 contracts, 2026-11-30): the ledger table of the demo report
# and the API index of the demo's chain (events counted by name). The v1 figure is issue
# #12's measurement of the demo at scale 0.8 (the same 418 rounds).
DEMO_NOTE = """## Gas per finalized number in the demo scenario

**Now (session 10): 147,910 gas per finalized number** with the demo on the signed report
path (`bench/GAS_DEMO.md`, generated by `bench/gas_demo.py`: scale 0.8, seed 7, 220 numbers
finalized by 4 reports, every demo story passed in the same run); the vote path at the same
scale and seed: 477,327 (batched opens, session 9). The table below is the earlier
measurement on the v2 vote path, before the round pool, kept for the before/after.

| | v1 (issue #12, `make demo`, scale 0.8) | v2 (`make demo`, scale 0.8) |
|---|---:|---:|
| rounds opened | 418 | 418 |
| rounds finalized | 418 | 213 |
| rounds expired without consensus | 0 | 205 (all reason 5: verdict share) |
| votes counted (abstentions) | | 1,353 (935) |
| gas spent by the four operators | 171,000,000 | 156,280,057 |
| gas per opened round | 409,091 | 373,875 |
| gas per finalized number | 409,091 | 733,709 |

In the demo every round carries one scoring vote: the operator whose subscribers the number
called scores it and the other three abstain (they have no data on it). In v1 that single
operator set the verdict. In v2 a verdict's side needs `minVerdictShareBps` (2500) of the
eligible weight, so rounds flagged by BR (20%) or GB (15%) alone expire (205 of 418) and
those numbers reach the chain through the epoch snapshots only; US (35%) and IN (30%) still
decide alone. The per-round cost fell by 9%; per finalized number it rose because half the
rounds no longer finalize. Governance trades one for the other with
`gov set min-verdict-share-bps`.
"""


TARGETS_NOTE = """Where the per-number gas goes: a new number needs its round header slot and its
registry record created (2 x 22,100); each of the four signed votes pays its calldata (about
4,900), signature recovery (3,000), its `VoteCast` event (about 4,700) and four storage slots
(4 x 2,100 cold reads, 3 x 2,900 writes); opened and finalized one per transaction, the open
and the finalize each pay the 21,000 transaction base too.
"""

BATCH_NOTE = """Batched rounds (`openRounds`, `finalizeMany`, this run): {old:,} -> {new:,} gas per
finalized number ({pct:.0f}% less). Opening costs {opens:,} instead of {open1:,} per round and
finalizing {fins:,} instead of {fin1:,}: besides the two 21,000 transaction bases, every key after
the first in a batch finds the registry, the validator set and the parameter slot warm. The
events per number are the same (`RoundOpened`, `RoundEligibleWeight`, `RoundFinalized` or
`RoundExpired`/`RoundNoConsensus`), plus one `RoundsOpened`/`RoundsClosed` per batch and an
`OpenSkipped`/`FinalizeSkipped` per key left out.

It does not reach 200k, and no batching of opens and finalizations can: the four signed votes
alone cost 4 x {vote:,} = {votes:,} gas per number here, and opening plus finalizing still
create two slots and emit four events per number ({floor:,} together in this run). Below 200k
needs fewer signatures per number: the report path below. Finalizing inside the vote that
reaches quorum is not built: over `finalizeMany` it would save the cold reads of the round's
slots and of the record (a few thousand gas per number, estimated, not measured), and it would
end a round before the remaining validators' votes count.

{report}Proof verification as its own transaction cannot reach 30k: a 20-hash proof is about 900
bytes of calldata, and Prague's calldata floor (EIP-7623: 21,000 + 10 gas per token, a
nonzero byte counting 4 tokens) alone is about 50,000. The target is met where proofs are
checked on-chain: a contract calling `verifyLeaf` pays the row "called by a contract".
"""


REPORT_NOTE = """Signed reports (`ReportConsensus`, this run): each validator signs ONE EIP-712
report holding its votes on every number of the batch, and one transaction verifies the four
signatures once, then opens, counts and closes each number's round by the vote path's rules
(`contracts/lib/TallyRules.sol`, Consensus' parameters and thresholds) and writes its record.
Per finalized number with four voters: {r1:,} (report of 1), {r16:,} (16), {r64:,} (64),
against {batched:,} batched through the vote path. The events per number are the vote path's
(`RoundOpened`, `RoundEligibleWeight`, four `VoteCast`, `RoundFinalized`; the registry's
`RecordFinalized`), so the tally stays recomputable from logs; per report one
`ReportSubmitted`. What is left per number: the registry record slot (22,100 for a new
number), the four `VoteCast` events with the report's evidence CID in each, the number's other
events and calldata; the report needs no round slot (its rounds are numbered
`2^48 + seq`, one replay bit per report) and the four signatures are recovered once per
report. A report of one number pays the transaction base, the four signature recoveries and
the four validator reads alone: 200k needs reports of two numbers or more.

Sharing the rules (`TallyRules`, used by both paths) moved the vote path by {dvote:+,} gas per
vote and {dfin:+,} per finalize against the last run before it (commit dc6e7e5: {vote0:,} and
{fin0:,}); Consensus is {size:,} bytes.

"""
# The vote path's figures in the last run before the report path (commit dc6e7e5).
BEFORE_REPORT = {"castVotes, bundle of 64: mean per vote over 4 voters": 44_051,
                 "finalize (mean of 64)": 99_485}


def _report_note(got: dict[str, int], batched: int, size: int) -> str:
    rows = [got.get(f"per finalized number (4 voters: report of {n})") for n in (1, 16, 64)]
    if not all(rows):
        return ""
    r1, r16, r64 = (int(r) for r in rows)  # type: ignore[arg-type]
    vote, fin = (got[k] for k in BEFORE_REPORT)
    vote0, fin0 = BEFORE_REPORT.values()
    return REPORT_NOTE.format(r1=r1, r16=r16, r64=r64, batched=batched, size=size,
                              dvote=vote - vote0, dfin=fin - fin0, vote0=vote0, fin0=fin0)


def _targets(rows: list[tuple[str, int, str]], consensus_size: int) -> list[str]:
    """Issue #12's gas targets next to this run's figures."""
    got = {what: gas for what, gas, _ in rows}
    proof = next((w for w in got if w.startswith("verifyLeaf") and "contract" in w), None)
    own = next((w for w in got if w.startswith("verifyLeaf") and "contract" not in w), None)
    checks = [
        ("per vote, bundles of 64 (mean over 4 voters)",
         "castVotes, bundle of 64: mean per vote over 4 voters", 45_000),
        ("per finalized number, 4 voters (open, votes, finalize)",
         "per finalized number (4 voters: open, votes, finalize)", 200_000),
        ("per finalized number, 4 voters, batched (openRounds, votes, finalizeMany)",
         "per finalized number (4 voters: openRounds, votes, finalizeMany)", 200_000),
        ("per finalized number, 4 voters, report of 1 number",
         "per finalized number (4 voters: report of 1)", 200_000),
        ("per finalized number, 4 voters, report of 16 numbers",
         "per finalized number (4 voters: report of 16)", 200_000),
        ("per finalized number, 4 voters, report of 64 numbers",
         "per finalized number (4 voters: report of 64)", 200_000),
        ("proof verification, called by a contract", proof, 30_000),
        ("proof verification, as its own transaction", own, 30_000)]
    lines = ["## Issue #12 targets", "", "| | v2 | now | target | met |",
             "|---|---:|---:|---:|---|"]
    for label, row, target in checks:
        if row is None or row not in got:
            continue
        v2 = BEFORE_V2.get(row)
        lines.append(f"| {label} | {f'{v2:,}' if v2 else ''} | {got[row]:,} | <= {target:,} | "
                     f"{'yes' if got[row] <= target else 'no'} |")
    notes = [TARGETS_NOTE]
    old = got.get("per finalized number (4 voters: open, votes, finalize)")
    new = got.get("per finalized number (4 voters: openRounds, votes, finalizeMany)")
    if old and new:
        opens = got["openRounds, batch of 64 (mean per round)"]
        fins = got["finalizeMany, batch of 64 (mean per round)"]
        vote = got["castVotes, bundle of 64: mean per vote over 4 voters, batched rounds"]
        notes.append(BATCH_NOTE.format(
            old=old, new=new, pct=100 * (old - new) / old, opens=opens, fins=fins,
            open1=got["openRound (mean of 64)"], fin1=got["finalize (mean of 64)"],
            vote=vote, votes=4 * vote, floor=opens + fins, size=consensus_size,
            report=_report_note(got, new, consensus_size)))
    return [*lines, "", *notes]


def _sizes(sizes: dict[str, int]) -> str:
    """The deployed runtime size of every contract against EIP-170's limit."""
    if not sizes:
        return ""
    lines = ["## Contract sizes", "", "Deployed runtime bytecode (EIP-170 limit: 24,576 bytes).",
             "", "| contract | bytes | of the limit |", "|---|---:|---:|"]
    lines += [f"| {name} | {size:,} | {100 * size / 24_576:.1f}% |"
              for name, size in sizes.items()]
    return "\n".join(lines) + "\n\n"


def write_markdown(rows: list[tuple[str, int, str]], numbers: int, consensus_size: int,
                   sizes: dict[str, int] | None = None) -> None:
    lines = ["# Gas table", "",
             f"Measured by `bench/gas_table.py` on Anvil 1.7.1 (its default hardfork), "
             f"{time.strftime('%Y-%m-%d')}. Snapshot size: {numbers:,} numbers.", "",
             "The v1 column is the same bench on the contracts before issue #12 (`BEFORE_V1`), "
             "v2 on the contracts of #12's first session, before the round pool (`BEFORE_V2`); "
             "`now` is this run.", "",
             "| operation | v1 gas | v2 gas | now | now / v2 | note |",
             "|---|---:|---:|---:|---:|---|"]
    for what, gas, note in rows:
        v1, v2 = BEFORE_V1.get(what), BEFORE_V2.get(what)
        ratio = f"{gas / v2:.2f}" if v2 else ""
        lines.append(f"| {what} | {f'{v1:,}' if v1 else ''} | {f'{v2:,}' if v2 else ''} | "
                     f"{gas:,} | {ratio} | {note} |")
    targets = "\n".join(_targets(rows, consensus_size))
    OUT.write_text("\n".join(lines) + "\n\n" + targets + "\n" + _sizes(sizes or {})
                   + DEMO_NOTE)
    print(f"wrote {OUT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=1_000_000,
                        help="numbers in the epoch snapshot (default 1,000,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        node = AnvilNode(Path(tmp), port=_port())
        node.start()
        try:
            bench = Bench(Path(tmp), node.rpc_url)
            bench.deployments()
            bench.approve()
            key = bench.votes()
            bench.per_number(cycle=1, suffix=", first 64 rounds")
            bench.per_number(cycle=2)
            bench.per_number_batched()
            for seq, n in enumerate((1, 16, 64), start=1):
                bench.per_number_report(n, seq=seq)
            bench.epoch(args.numbers)
            bench.dispute(key)
        finally:
            node.stop()
    write_markdown(bench.rows, args.numbers, bench.consensus_size, bench.sizes)


if __name__ == "__main__":
    main()
