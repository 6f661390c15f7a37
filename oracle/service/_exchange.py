"""The off-chain report exchange (OCR-style) between operators, over an untrusted relay.

For one report sequence number ``seq`` (the first one ``ReportConsensus`` has not used):

1. every operator publishes a signed *observation*: its votes on a batch of number keys
   (score, confidence, category, abstain, the key's country) and its model hash;
2. the seq's leader (``seq % n`` over the active validators in address order) assembles one
   report from the observations: the keys observed by at least the quorum weight (every
   observer agreeing on the country), each observer's vote on each key;
3. every listed signer checks that ITS row equals its own observation, that it named no
   other country for a key, and that its model hash is its own, before it signs the report's
   EIP-712 digest (:class:`ReportMismatch` otherwise, naming the first difference);
4. anyone holding every signature submits the report (``node.submit_report``).

Messages are re-verified here on receipt (the relay is not trusted): an observation or a
signature that does not recover to its sender, or a proposal not from the leader, is ignored.

Example::

    ex = ReportExchange(account, relay, chain_id, contract, validators=lambda: weights,
                        quorum_bps=6667)
    ex.publish(seq, {key: ("US", ReportVote(9100, category=2))}, model_hash, cid)
    report = ex.assemble(seq, deadline=now + 3600)      # the leader
    ex.sign(ex.proposal(seq), ex.own(seq))              # every signer
    sigs = ex.signatures(seq, report)                   # then node.submit_report
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from node._consortium import country_bytes, country_str
from node._report import ReportVote, build_report, recover_report, sign_report
from oracle.service._errors import ServiceError
from oracle.service._relay import (
    BAD_SIGNATURE,
    MAX_KEYS,
    Message,
    Relay,
    RelayRefused,
    open_envelope,
    same_domain,
    seal,
)

logger = logging.getLogger(__name__)

BPS = 10_000
_CAST = 1 << 41
_ABSTAIN = 1 << 40


class ReportMismatch(ServiceError):
    """A proposed report does not carry this operator's observation as it made it."""


@dataclass(frozen=True)
class Observation:
    """One operator's signed votes for ``seq``: key -> (country, vote)."""

    sender: str
    seq: int
    model_hash: bytes
    evidence_cid: str
    items: dict[bytes, tuple[str, ReportVote]]


def leader_of(seq: int, validators: Mapping[str, int]) -> str:
    """The leader of ``seq``: rotation over the active validators in address order."""
    active = sorted((a for a, w in validators.items() if w > 0), key=lambda a: int(a, 16))
    if not active:
        raise ServiceError("no active validator to lead a report")
    return Web3.to_checksum_address(active[int(seq) % len(active)])


def _int(value: Any, lo: int, hi: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{what} must be an integer in {lo}..{hi}")
    return value


def _hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be 32 bytes of hex")
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes of hex")
    return raw


def parse_items(items: Any) -> dict[bytes, tuple[str, ReportVote]]:
    """An observation's items, checked: key -> (country, vote); ValueError names the fault."""
    if not isinstance(items, list) or not 0 < len(items) <= MAX_KEYS:
        raise ValueError(f"items must be a list of 1..{MAX_KEYS}")
    out: dict[bytes, tuple[str, ReportVote]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("each item is an object")
        key = _hex32(item.get("numberKey"), "numberKey")
        if key in out:
            raise ValueError(f"key 0x{key.hex()} twice")
        country = item.get("country")
        if not isinstance(country, str) or len(country) != 2 or not country.isupper():
            raise ValueError("country must be an ISO 3166 alpha-2 code")
        abstain = item.get("abstain")
        if not isinstance(abstain, bool):
            raise ValueError("abstain must be true or false")
        vote = ReportVote(_int(item.get("score"), 0, BPS, "score"),
                          _int(item.get("confidence"), 0, BPS, "confidence"),
                          _int(item.get("category"), 0, 7, "category"), abstain)
        out[key] = (country, vote)
    return out


def _item(key: bytes, country: str, vote: ReportVote) -> dict[str, Any]:
    return {"numberKey": "0x" + key.hex(), "country": country, "score": vote.score,
            "confidence": vote.confidence, "category": int(vote.category),
            "abstain": vote.abstain}


def report_json(report: Mapping[str, Any]) -> dict[str, Any]:
    """A report (``node.build_report``'s dict) as JSON values."""
    return {"seq": report["seq"], "deadline": report["deadline"],
            "numberKeys": ["0x" + bytes(k).hex() for k in report["numberKeys"]],
            "countries": [country_str(c) for c in report["countries"]],
            "signers": list(report["signers"]),
            "modelHashes": ["0x" + bytes(h).hex() for h in report["modelHashes"]],
            "votes": [int(v) for v in report["votes"]], "evidenceCid": report["evidenceCid"]}


def parse_report(doc: Any) -> dict[str, Any]:
    """A report from its JSON form, shape checked (the contract checks the rest)."""
    if not isinstance(doc, dict):
        raise ValueError("report must be an object")
    keys = [_hex32(k, "numberKey") for k in doc["numberKeys"]]
    signers = [Web3.to_checksum_address(s) for s in doc["signers"]]
    votes = [_int(v, 0, (1 << 64) - 1, "vote") for v in doc["votes"]]
    if not 0 < len(keys) <= MAX_KEYS or not signers:
        raise ValueError(f"a report has 1..{MAX_KEYS} keys and at least one signer")
    if len(doc["countries"]) != len(keys) or len(doc["modelHashes"]) != len(signers) \
            or len(votes) != len(keys) * len(signers):
        raise ValueError("report arrays do not match its keys and signers")
    if not isinstance(doc["evidenceCid"], str) or len(doc["evidenceCid"]) > 128:
        raise ValueError("evidenceCid must be a string of at most 128 characters")
    return {"seq": _int(doc["seq"], 1, (1 << 48) - 1, "seq"),
            "deadline": _int(doc["deadline"], 0, (1 << 64) - 1, "deadline"),
            "numberKeys": keys, "countries": [country_bytes(c) for c in doc["countries"]],
            "signers": signers,
            "modelHashes": [_hex32(h, "modelHash") for h in doc["modelHashes"]],
            "votes": votes, "evidenceCid": doc["evidenceCid"]}


def report_signer(report: Mapping[str, Any], signature: Any, chain_id: int,
                  contract: str) -> str:
    """The address that signed ``report`` with ``signature`` (hex)."""
    if not isinstance(signature, str):
        raise ValueError("reportSignature must be hex")
    return recover_report(report, bytes.fromhex(signature.removeprefix("0x")), chain_id,
                          Web3.to_checksum_address(contract))


def row_of(report: Mapping[str, Any], signer: str) -> dict[bytes, tuple[str, int]]:
    """``signer``'s row in ``report``: key -> (country, packed vote) for each cast vote."""
    signers = [s.lower() for s in report["signers"]]
    j, m = signers.index(signer.lower()), len(signers)
    return {bytes(k): (country_str(report["countries"][i]), int(report["votes"][i * m + j]))
            for i, k in enumerate(report["numberKeys"]) if report["votes"][i * m + j]}


class ReportExchange:
    """One operator's side of the exchange for the reports of ``contract``."""

    def __init__(self, account: LocalAccount, relay: Relay, chain_id: int, contract: str,
                 validators: Callable[[], Mapping[str, int]], quorum_bps: int,
                 approved: Callable[[str, bytes], bool] | None = None):
        self.account, self.relay = account, relay
        self.chain_id, self.contract = int(chain_id), Web3.to_checksum_address(contract)
        self.validators, self.quorum_bps = validators, int(quorum_bps)
        self.approved = approved
        self._own: dict[int, Observation] = {}

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _domain(self, kind: str, seq: int) -> dict[str, Any]:
        return {"kind": kind, "seq": int(seq), "chainId": self.chain_id,
                "contract": self.contract}

    def leader(self, seq: int) -> str:
        return leader_of(seq, self.validators())

    # -- observations -----------------------------------------------------------------------

    def publish(self, seq: int, items: Mapping[bytes, tuple[str, ReportVote]],
                model_hash: bytes, evidence_cid: str = "") -> Observation:
        """Sign and post this operator's observation for ``seq`` (replacing an earlier one)."""
        chosen = sorted(items)[:MAX_KEYS]
        body = dict(self._domain("observation", seq), modelHash="0x" + model_hash.hex(),
                    evidenceCid=evidence_cid,
                    items=[_item(k, *items[k]) for k in chosen])
        self.relay.post(seal(self.account, body))
        obs = Observation(self.address, int(seq), bytes(model_hash), evidence_cid,
                          {k: items[k] for k in chosen})
        self._own[int(seq)] = obs
        return obs

    def _messages(self, seq: int, kind: str) -> list[Message]:
        out = []
        for raw in self.relay.fetch(seq, kind):
            try:
                msg = open_envelope(raw)
            except RelayRefused as exc:
                logger.warning("relay gave a bad %s for seq %d: %s", kind, seq, exc.detail)
                continue
            if msg.kind != kind or msg.seq != int(seq) or \
                    not same_domain(msg, self.chain_id, self.contract):
                logger.warning("relay gave a %s for another seq/chain: ignored", kind)
                continue
            out.append(msg)
        return out

    def observations(self, seq: int) -> dict[str, Observation]:
        """The observations for ``seq``, each re-verified, by sender address."""
        active = {a.lower() for a, w in self.validators().items() if w > 0}
        out = {}
        for msg in self._messages(seq, "observation"):
            if msg.sender.lower() not in active:
                continue
            try:
                items = parse_items(msg.body.get("items"))
                model = _hex32(msg.body.get("modelHash"), "modelHash")
            except ValueError as exc:
                logger.warning("observation of %s ignored: %s", msg.sender, exc)
                continue
            out[msg.sender] = Observation(msg.sender, msg.seq, model,
                                          str(msg.body.get("evidenceCid", "")), items)
        return out

    # -- the leader -------------------------------------------------------------------------

    def quorum_keys(self, obs: Mapping[str, Observation]) -> dict[bytes, str]:
        """Keys observed by at least the quorum weight, every observer naming one country."""
        weights = {a.lower(): w for a, w in self.validators().items() if w > 0}
        eligible = sum(weights.values())
        seen: dict[bytes, tuple[set[str], int]] = {}
        for o in obs.values():
            for key, (country, _vote) in o.items.items():
                countries, weight = seen.get(key, (set(), 0))
                seen[key] = (countries | {country}, weight + weights.get(o.sender.lower(), 0))
        return {k: next(iter(cs)) for k, (cs, w) in sorted(seen.items())
                if len(cs) == 1 and w * BPS >= self.quorum_bps * eligible}

    def assemble(self, seq: int, deadline: int,
                 evidence: Callable[[list[bytes]], str] | None = None) -> dict[str, Any] | None:
        """As the leader of ``seq``: build the report from the observations and post it
        (None when no key has quorum). ``evidence`` stores the included observations and
        returns the CID the report names."""
        if self.leader(seq).lower() != self.address.lower():
            raise ServiceError(f"{self.address} is not the leader of seq {seq}")
        obs = {a: o for a, o in self.observations(seq).items() if self._model_ok(o)}
        keys = list(self.quorum_keys(obs).items())[:MAX_KEYS]
        if not keys:
            return None
        signers = {a: o for a, o in obs.items() if any(k in o.items for k, _ in keys)}
        votes = {a: [o.items[k][1] if k in o.items else None for k, _ in keys]
                 for a, o in signers.items()}
        raws = [m.raw for m in self._messages(seq, "observation") if m.sender in signers]
        cid = evidence(raws) if evidence is not None else ""
        report = build_report(seq, keys, votes, {a: o.model_hash for a, o in signers.items()},
                              cid=cid, deadline=deadline)
        self.relay.post(seal(self.account, dict(self._domain("proposal", seq),
                                                 report=report_json(report))))
        logger.info("report %d proposed: %d keys, %d signers", seq, len(keys), len(signers))
        return report

    def _model_ok(self, obs: Observation) -> bool:
        if self.approved is None or all(v.abstain for _, v in obs.items.values()):
            return True
        if self.approved(obs.sender, obs.model_hash):
            return True
        logger.warning("observation of %s left out: model 0x%s not approved", obs.sender,
                       obs.model_hash.hex()[:12])
        return False

    def proposal(self, seq: int) -> dict[str, Any] | None:
        """The leader's report for ``seq`` (a proposal from anyone else is ignored)."""
        leader = self.leader(seq).lower()
        for msg in self._messages(seq, "proposal"):
            if msg.sender.lower() != leader:
                logger.warning("proposal for seq %d from %s, not the leader: ignored", seq,
                               msg.sender)
                continue
            try:
                report = parse_report(msg.body.get("report"))
            except (ValueError, TypeError, KeyError) as exc:
                logger.warning("leader's proposal for seq %d ignored: %s", seq, exc)
                continue
            if report["seq"] == int(seq):
                return report
        return None

    # -- every signer -----------------------------------------------------------------------

    def own(self, seq: int) -> Observation | None:
        return self._own.get(int(seq))

    def remember(self, obs: Observation) -> None:
        """Take back an observation this operator published before a restart."""
        self._own[obs.seq] = obs

    def check(self, report: Mapping[str, Any], own: Observation,
              known: Mapping[bytes, str] | None = None) -> None:
        """:class:`ReportMismatch` unless ``report`` carries ``own`` exactly: this operator's
        row holds its observed vote on each listed key it observed and nothing else, each
        key it observed has the country it observed, its model hash is its own, and no key's
        country differs from one this operator knows (``known``: key -> country)."""
        me = self.address
        if int(report["seq"]) != own.seq:
            raise ReportMismatch(f"report seq {report['seq']} is not observation seq {own.seq}")
        if me.lower() not in [s.lower() for s in report["signers"]]:
            raise ReportMismatch(f"{me} is not a signer of report {own.seq}")
        j = [s.lower() for s in report["signers"]].index(me.lower())
        if bytes(report["modelHashes"][j]) != own.model_hash:
            raise ReportMismatch(f"report {own.seq} names model "
                                 f"0x{bytes(report['modelHashes'][j]).hex()[:12]} for {me}")
        row = row_of(report, me)
        known = known or {}
        for i, key in enumerate(report["numberKeys"]):
            key, country = bytes(key), country_str(report["countries"][i])
            mine = own.items.get(key)
            if mine is not None and mine[0] != country:
                raise ReportMismatch(f"key 0x{key.hex()[:12]}: report says {country}, "
                                     f"{me} observed {mine[0]}")
            if key in known and known[key] != country:
                raise ReportMismatch(f"key 0x{key.hex()[:12]}: report says {country}, "
                                     f"{me} knows {known[key]}")
            expected = mine[1].packed() if mine is not None else None
            got = row.get(key, (country, None))[1]
            if got != expected:
                raise ReportMismatch(f"key 0x{key.hex()[:12]}: report row of {me} is "
                                     f"{_describe(got)}, its observation {_describe(expected)}")

    def sign(self, report: Mapping[str, Any], own: Observation,
             known: Mapping[bytes, str] | None = None) -> bytes:
        """Check ``report`` against ``own`` (:meth:`check`), sign it and post the signature."""
        self.check(report, own, known)
        signature = sign_report(self.account, report, self.chain_id, self.contract)
        self.post_signature(int(report["seq"]), signature)
        return signature

    def post_signature(self, seq: int, signature: bytes) -> None:
        self.relay.post(seal(self.account, dict(self._domain("signature", seq),
                                                 reportSignature="0x" + signature.hex())))

    def signatures(self, seq: int, report: Mapping[str, Any]) -> dict[str, bytes]:
        """Signatures of ``report`` by its signers, each recovered again here."""
        signers = {s.lower(): s for s in report["signers"]}
        out = {}
        for msg in self._messages(seq, "signature"):
            raw = msg.body.get("reportSignature")
            try:
                signer = report_signer(report, raw, self.chain_id, self.contract)
            except BAD_SIGNATURE:
                continue
            if signer.lower() == msg.sender.lower() and signer.lower() in signers:
                out[signers[signer.lower()]] = bytes.fromhex(str(raw).removeprefix("0x"))
        return out


def _describe(packed: int | None) -> str:
    if packed is None:
        return "no vote"
    if packed & _ABSTAIN:
        return "abstain"
    return f"score {packed & 0xFFFF} category {(packed >> 32) & 0xFF}"


def observation_doc(raws: list[bytes]) -> dict[str, Any]:
    """The evidence document of a report: the signed observations it was built from."""
    return {"type": "spamledger.report-observations/1",
            "observations": [json.loads(r) for r in raws]}
