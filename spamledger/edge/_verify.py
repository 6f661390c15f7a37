"""Checking a bundle against the chain, the source of truth, never against itself.

1. The file hashes to the root in its header (a flipped byte anywhere fails here).
2. The header names this chain and this deployment's contracts (the operator's own
   deployment record, not addresses the file could choose).
3. An active validator attested that root for the bundle's scope and block
   (``SnapshotRegistry.getBundle``; ``BundleCommitted`` events say who): a file rebuilt with
   a changed record hashes consistently but to a root nobody attested.
4. On demand, a number's page verifies on-chain (``verifyBundlePage`` with its Merkle proof)
   and its entry equals ``SpamRegistry.get`` at the bundle's block: a finalized record must
   match field by field; an epoch answer means the registry held no record then.

Example::

    report = verify(ledger, Bundle.open(path, secret), numbers=["+14155550123"])
    report.committers, report.numbers
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from spamledger.edge._bundle import Answer, Bundle
from spamledger.edge._errors import VerificationFailed
from spamledger.edge._format import check_root, scope_bytes

logger = logging.getLogger(__name__)

COMMIT_GAS = 200_000


@dataclass(frozen=True)
class NumberCheck:
    """One number's on-demand check."""

    number: str
    answer: Answer
    page_verified: bool | None  # None: not in the bundle
    chain: dict[str, Any]
    agrees: bool
    detail: str


@dataclass
class Report:
    """What :func:`verify` established."""

    scope: str
    block: int
    root: str
    entries: int
    committers: list[str] = field(default_factory=list)
    numbers: list[NumberCheck] = field(default_factory=list)


def attestations(ledger, scope: str, block: int) -> dict[str, bytes]:
    """Committer -> attested root for (scope, block), read from contract state."""
    from web3 import Web3

    logs = ledger.events("SnapshotRegistry", "BundleCommitted",
                         from_block=ledger.deployment.block("SnapshotRegistry"),
                         scope=scope_bytes(scope), atBlock=block)
    out: dict[str, bytes] = {}
    for log in logs:
        who = Web3.to_checksum_address(log["args"]["committer"])
        state = ledger.call("SnapshotRegistry", "getBundle", scope_bytes(scope), block, who)
        out[who] = bytes(state[0])
    return out


def verify(ledger, bundle: Bundle, committer: str | None = None,
           numbers: Sequence[str] = (), country: str | None = None) -> Report:
    """Check ``bundle`` as the module docstring says; raises :class:`VerificationFailed`."""
    try:
        header = check_root(bundle.data)
    except Exception as exc:
        raise VerificationFailed(str(exc)) from exc
    _check_target(ledger, header)
    report = Report(header.scope, header.block, "0x" + header.root.hex(), header.count)
    report.committers = _attesters(ledger, header, committer)
    for number in numbers:
        report.numbers.append(check_number(ledger, bundle, report.committers[0], number,
                                           country))
    bad = [c for c in report.numbers if not c.agrees]
    if bad:
        raise VerificationFailed("; ".join(f"{c.number}: {c.detail}" for c in bad))
    return report


def _check_target(ledger, header) -> None:
    chain_id = int(ledger.w3.eth.chain_id)
    if chain_id != header.chain_id:
        raise VerificationFailed(f"bundle is for chain {header.chain_id}, connected chain is "
                                 f"{chain_id}")
    for name, got in (("SpamRegistry", header.spam_registry),
                      ("SnapshotRegistry", header.snapshot_registry)):
        want = ledger.deployment.address(name)
        if want.lower() != got.lower():
            raise VerificationFailed(f"bundle names {name} {got}, this deployment's is {want}")
    if header.block > int(ledger.w3.eth.block_number):
        raise VerificationFailed(f"bundle block {header.block} is ahead of the chain")


def _attesters(ledger, header, committer: str | None) -> list[str]:
    found = attestations(ledger, header.scope, header.block)
    matching = [who for who, root in found.items() if root == header.root
                and (committer is None or who.lower() == committer.lower())
                and _active(ledger, who)]
    if not matching:
        others = ", ".join(f"{w} attested 0x{r.hex()[:16]}…" for w, r in found.items())
        raise VerificationFailed(
            f"no active validator{' ' + committer if committer else ''} attested root "
            f"0x{header.root.hex()} for scope {header.scope} at block {header.block}"
            + (f" ({others})" if others else " (no attestation at all)"))
    return matching


def _active(ledger, who: str) -> bool:
    _, weight = ledger.call("ValidatorSet", "activeValidator", who)
    return int(weight) > 0


def check_number(ledger, bundle: Bundle, committer: str, number: str,
                 country: str | None = None) -> NumberCheck:
    """Verify one number's page on-chain and compare its entry with the registry at the
    bundle's block."""
    from node import read_record

    e164 = bundle.e164(number, country)
    if e164 is None:
        raise VerificationFailed(f"{number!r} is not a valid phone number")
    answer = bundle.lookup(e164)
    key = bundle.key(e164)
    record = read_record(ledger, key, block=bundle.block)
    chain = {"score": record.score, "verdict": int(record.verdict),
             "category": int(record.category), "expires_at": record.expires_at,
             "finalized": record.finalized_at != 0}
    index = bundle.index_of(e164)
    if index is None:
        agrees = bundle.header.scope != "**" or record.finalized_at == 0
        return NumberCheck(e164, answer, None, chain, agrees,
                           "absent from the bundle" if agrees else
                           "absent from the bundle but finalized on-chain")
    page, data, proof = bundle.page_proof(index)
    on_chain = bool(ledger.call("SnapshotRegistry", "verifyBundlePage",
                                scope_bytes(bundle.header.scope), bundle.block, committer,
                                page, data, proof))
    agrees, detail = _compare(answer, record)
    if not on_chain:
        agrees, detail = False, "its page does not verify against the attested root"
    return NumberCheck(e164, answer, on_chain, chain, agrees, detail)


def _compare(answer: Answer, record) -> tuple[bool, str]:
    if answer.source == "epoch":
        if record.finalized_at:
            return False, "bundle answers from an epoch leaf but the registry held a record"
        return True, "epoch leaf; no registry record at that block"
    rec = bundle_fields(answer)
    chain = (record.score, record.verdict.name.lower(), record.category.name.lower(),
             record.expires_at or None)
    if rec != chain:
        return False, f"bundle has {rec}, registry has {chain}"
    return True, "equals the registry record at that block"


def bundle_fields(answer: Answer) -> tuple:
    return (answer.score_bps, answer.recorded_verdict, answer.category, answer.expires_at)


def commit(ledger, data: bytes) -> dict[str, Any]:
    """Attest the root of bundle ``data`` as ``ledger.account`` (a validator of its scope);
    returns the attestation as the chain holds it afterwards."""
    try:
        header = check_root(data)
    except Exception as exc:
        raise VerificationFailed(str(exc)) from exc
    _check_target(ledger, header)
    scope = scope_bytes(header.scope)
    # Gas is given: estimating at the head would run with block.number == the bundle's block
    # (nodes estimate in the latest block), which the contract rightly refuses.
    ledger.transact("SnapshotRegistry", "commitBundle", scope, header.block, header.root,
                    header.page_count, gas=COMMIT_GAS)
    who = ledger.account.address
    root, pages, at = ledger.call("SnapshotRegistry", "getBundle", scope, header.block, who)
    return {"scope": header.scope, "block": header.block, "committer": who,
            "root": "0x" + bytes(root).hex(), "pages": int(pages), "committed_at": int(at)}
