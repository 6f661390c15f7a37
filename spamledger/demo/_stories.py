"""The three user stories, told against what the consortium actually decided on-chain."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from node import country_str, read_record
from spamledger._types import Verdict
from spamledger.demo._users import arbiters_uphold, wait_indexed

ROUND_CONTRACTS = ("Consensus", "ReportConsensus")
EVIDENCE = (b"%PDF-1.4\n% SpamLedger demo evidence: delivery notification contract, "
            b"customer consent records and the number's registration with the carrier.\n%%EOF\n")


def _finalized(state: Any) -> dict[bytes, dict[str, Any]]:
    """Finalized rounds by number key (vote path and report path), with the countries that
    voted on each."""
    ledger = state.data["consortium"].ledger
    rounds: dict[bytes, dict[str, Any]] = {}
    voters: dict[bytes, set[str]] = defaultdict(set)
    for contract in ROUND_CONTRACTS:
        for e in ledger.events(contract, "RoundFinalized"):
            rounds[bytes(e["args"]["numberKey"])] = dict(e["args"])
        for e in ledger.events(contract, "VoteCast"):
            if not e["args"]["abstain"]:
                voters[bytes(e["args"]["numberKey"])].add(country_str(e["args"]["country"]))
    for key, info in rounds.items():
        info["countries"] = sorted(voters.get(key, set()))
    return rounds


def _truth_by_key(state: Any) -> pd.DataFrame:
    truth = pd.read_parquet(state.data["sim"]["truth"])
    hasher = state.data["rigs"]["US"].app.hasher
    return truth.assign(key=[hasher.key(n) for n in truth["number"]])


def _pick(state: Any) -> dict[str, Any]:
    if "picks" in state.data:
        return dict(state.data["picks"])
    rounds = _finalized(state)
    truth = _truth_by_key(state).set_index("key")
    flagged = [(k, r) for k, r in rounds.items()
               if r["verdict"] in (Verdict.SPAM, Verdict.SUSPICIOUS) and k in truth.index]
    if not flagged:
        raise RuntimeError("no round finalized as spam: nothing for the users to look at")
    spam = max(flagged, key=lambda kr: (len(kr[1]["countries"]), kr[1]["score"]))
    legit_flagged = [kr for kr in flagged if not bool(truth.loc[kr[0], "is_spam"])]
    disputed = legit_flagged[0] if legit_flagged else min(flagged, key=lambda kr: kr[1]["score"])
    couriers = truth[truth["class"] == "courier"]
    picks = {"spam": truth.loc[spam[0], "number"], "spam_round": spam[1],
             "courier": couriers["number"].iloc[0],
             "disputed": truth.loc[disputed[0], "number"],
             "disputed_class": truth.loc[disputed[0], "class"],
             "rounds_finalized": len(rounds),
             "rounds_spam": sum(1 for r in rounds.values() if r["verdict"] == Verdict.SPAM)}
    state.data["picks"] = picks
    return picks


def telco_story(state: Any) -> dict[str, Any]:
    picks = _pick(state)
    users = state.data["users"]
    return {"spam": users.lookup(picks["spam"]), "courier": users.lookup(picks["courier"]),
            "spam_number": picks["spam"], "courier_number": picks["courier"]}


def business_story(state: Any) -> dict[str, Any]:
    picks = _pick(state)
    users = state.data["users"]
    consortium = state.data["consortium"]
    filed = users.dispute(picks["disputed"], "Acme Parcel Delivery Ltd",
                          "registration.pdf", EVIDENCE)
    dispute_id = int(filed["dispute_id"])
    voters = [*consortium.arbiters(), consortium.accounts["regulator"]]
    arbiters_uphold(consortium.ledger, dispute_id, voters)
    wait_indexed(users, consortium.w3.eth.block_number)
    key = state.data["rigs"]["US"].app.hasher.key(picks["disputed"])
    record = read_record(consortium.ledger, key)
    return {"number": picks["disputed"], "class": picks["disputed_class"], "filed": filed,
            "state": users.dispute_state(dispute_id), "record": record,
            "after": users.lookup(picks["disputed"])}


def regulator_story(state: Any) -> dict[str, Any]:
    picks = _pick(state)
    history, verify = state.data["users"].audit(picks["spam"])
    return {"number": picks["spam"], "history": history, "verify": verify}
