"""The untrusted relay of the report path: signed messages between operators, checked on arrival.

Operators never share a process or a disk: they exchange three kinds of signed messages for
one report sequence number ``seq`` through a relay (the API's ``/v1/relay`` endpoints, or
:class:`LocalRelay` when the operators of a demo run in one process):

- ``observation``: one operator's votes on a batch of number keys (score, confidence,
  category, abstain, the key's country) and the model hash they come from;
- ``proposal``: the leader's report for ``seq`` assembled from the observations;
- ``signature``: one operator's EIP-712 signature of the proposed report.

Every message is an envelope ``{"body": {...}, "signature": "0x..."}``: the body's canonical
JSON (sorted keys, no spaces) is hashed with keccak-256 and signed (EIP-191) by the sender's
validator key, so a relay can drop or delay a message but cannot forge or alter one. The relay
(:class:`RelayBoard`) checks each message on arrival: size, item count, shape, chain and
contract, signature, the sender an active validator, a proposal from the seq's leader, a
report signature recovering to its sender; it answers a refused message with
:class:`RelayRefused` carrying the HTTP status (400/403/404/409/413/422). Receivers check
everything again (:mod:`oracle.service._exchange`), and the contract checks the report.

Example::

    board = RelayBoard(chain_id, contract_address, validators=lambda: {addr: weight, ...})
    relay = LocalRelay(board)
    relay.post(seal(account, {"kind": "observation", ...}))
    raw_messages = relay.fetch(seq, "observation")
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import ValidationError, keccak

from oracle.service._errors import ServiceError

logger = logging.getLogger(__name__)

KINDS = ("observation", "proposal", "signature")
MAX_KEYS = 128  # ReportConsensus.MAX_KEYS: no message needs more items
# What a malformed signature raises while recovering its signer.
BAD_SIGNATURE = (ValueError, TypeError, ValidationError)


class RelayRefused(ServiceError):
    """A relay refused a message (``status``: the HTTP status the API answers with)."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"relay refused the message ({status}): {detail}")
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class RelayLimits:
    """What a relay accepts: bytes per message, items per message, seqs kept."""

    max_bytes: int = 96 * 1024
    max_items: int = MAX_KEYS
    max_seqs: int = 64
    max_signers: int = 64


@dataclass(frozen=True)
class Message:
    """A message whose envelope signature recovered to ``sender``."""

    kind: str
    seq: int
    sender: str
    body: dict[str, Any]
    raw: bytes


def canonical(body: Mapping[str, Any]) -> bytes:
    """The bytes a message's signature covers."""
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def seal(account: Any, body: Mapping[str, Any]) -> bytes:
    """Sign ``body`` (``sender`` set to the account) and return the envelope's bytes."""
    body = dict(body, sender=account.address)
    signed = account.sign_message(encode_defunct(primitive=keccak(canonical(body))))
    return canonical({"body": body, "signature": "0x" + bytes(signed.signature).hex()})


def same_domain(msg: Message, chain_id: int, contract: str) -> bool:
    """Whether ``msg`` is for this chain and this ReportConsensus (checked by the relay on
    arrival and again by every receiver: the relay is not trusted)."""
    return (msg.body.get("chainId") == chain_id
            and str(msg.body.get("contract", "")).lower() == contract.lower())


def open_envelope(raw: bytes, limits: RelayLimits = RelayLimits()) -> Message:
    """Parse and authenticate one envelope; :class:`RelayRefused` says what is wrong."""
    if len(raw) > limits.max_bytes:
        raise RelayRefused(413, f"message of {len(raw)} bytes: at most {limits.max_bytes}")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RelayRefused(400, f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("body"), dict) \
            or not isinstance(doc.get("signature"), str):
        raise RelayRefused(400, "an envelope is {\"body\": {...}, \"signature\": \"0x...\"}")
    body = doc["body"]
    kind, seq, sender = body.get("kind"), body.get("seq"), body.get("sender")
    if kind not in KINDS:
        raise RelayRefused(400, f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 1 << 48:
        raise RelayRefused(400, "seq must be an integer in 1 .. 2^48 - 1")
    if not isinstance(sender, str) or len(sender) != 42:
        raise RelayRefused(400, "sender must be an address")
    try:
        signature = bytes.fromhex(doc["signature"].removeprefix("0x"))
        recovered = Account.recover_message(encode_defunct(primitive=keccak(canonical(body))),
                                            signature=signature)
    except BAD_SIGNATURE as exc:
        raise RelayRefused(400, f"bad signature: {exc}") from exc
    if recovered.lower() != sender.lower():
        raise RelayRefused(403, f"signature is {recovered}'s, not the sender {sender}'s")
    return Message(kind, seq, recovered, body, bytes(raw))


class Relay(Protocol):
    """The transport: post a sealed message; fetch the messages of one kind for a seq."""

    def post(self, raw: bytes) -> None: ...

    def fetch(self, seq: int, kind: str) -> list[bytes]: ...


class MessageStore(Protocol):
    """Where a relay keeps messages: the latest raw message per (seq, kind, sender)."""

    def get(self, seq: int, kind: str) -> list[tuple[str, bytes]]: ...

    def put(self, seq: int, kind: str, sender: str, raw: bytes) -> None: ...


class MemoryStore:
    """Messages in this process, the last ``max_seqs`` seqs kept."""

    def __init__(self, max_seqs: int = 64):
        self.max_seqs = max_seqs
        self._messages: dict[int, dict[tuple[str, str], bytes]] = {}

    def get(self, seq: int, kind: str) -> list[tuple[str, bytes]]:
        box = self._messages.get(int(seq), {})
        return [(sender, raw) for (k, sender), raw in sorted(box.items()) if k == kind]

    def put(self, seq: int, kind: str, sender: str, raw: bytes) -> None:
        self._messages.setdefault(int(seq), {})[(kind, sender.lower())] = bytes(raw)
        while len(self._messages) > self.max_seqs:
            del self._messages[min(self._messages)]


class RelayBoard:
    """The relay's logic: each message checked on arrival, then kept in ``store`` (the
    latest per seq, kind and sender; a seq's proposal is never replaced by another).

    :param validators: active validators (address -> weight), read when a message arrives.
    """

    def __init__(self, chain_id: int, contract: str,
                 validators: Callable[[], Mapping[str, int]],
                 limits: RelayLimits = RelayLimits(), store: MessageStore | None = None):
        self.chain_id, self.contract = int(chain_id), contract.lower()
        self.validators, self.limits = validators, limits
        self.store: MessageStore = store or MemoryStore(limits.max_seqs)

    def post(self, raw: bytes) -> Message:
        """Check and keep one message (a later one from the same sender replaces it)."""
        msg = open_envelope(raw, self.limits)
        self._check_domain(msg)
        active = {a.lower(): w for a, w in self.validators().items()}
        if active.get(msg.sender.lower(), 0) <= 0:
            raise RelayRefused(403, f"{msg.sender} is not an active validator")
        check = {"observation": self._check_observation, "proposal": self._check_proposal,
                 "signature": self._check_signature}[msg.kind]
        check(msg, active)
        if msg.kind == "proposal":
            kept = self.store.get(msg.seq, "proposal")
            if kept and kept[0][1] != msg.raw:
                raise RelayRefused(409, f"seq {msg.seq} already has a proposal")
        self.store.put(msg.seq, msg.kind, msg.sender, msg.raw)
        return msg

    def fetch(self, seq: int, kind: str) -> list[bytes]:
        """The raw messages of ``kind`` kept for ``seq``."""
        if kind not in KINDS:
            raise RelayRefused(400, f"kind must be one of {', '.join(KINDS)}")
        if not 0 < int(seq) < 1 << 48:
            raise RelayRefused(400, "seq must be an integer in 1 .. 2^48 - 1")
        return [raw for _, raw in self.store.get(int(seq), kind)]

    def _check_domain(self, msg: Message) -> None:
        if not same_domain(msg, self.chain_id, self.contract):
            raise RelayRefused(422, "message is for another chain or contract")

    def _check_observation(self, msg: Message, active: Mapping[str, int]) -> None:
        items = msg.body.get("items")
        if not isinstance(items, list) or not items:
            raise RelayRefused(400, "an observation needs a non-empty list of items")
        if len(items) > self.limits.max_items:
            raise RelayRefused(413, f"{len(items)} items: at most {self.limits.max_items}")
        from oracle.service._exchange import parse_items

        try:
            parse_items(items)
        except ValueError as exc:
            raise RelayRefused(422, f"bad observation: {exc}") from exc

    def _check_proposal(self, msg: Message, active: Mapping[str, int]) -> None:
        from oracle.service._exchange import leader_of, parse_report

        leader = leader_of(msg.seq, active)
        if leader.lower() != msg.sender.lower():
            raise RelayRefused(403, f"the leader of seq {msg.seq} is {leader}, not "
                               f"{msg.sender}")
        try:
            report = parse_report(msg.body.get("report"))
        except (ValueError, TypeError, KeyError) as exc:
            raise RelayRefused(422, f"bad proposal: {exc}") from exc
        if len(report["numberKeys"]) > self.limits.max_items or \
                len(report["signers"]) > self.limits.max_signers:
            raise RelayRefused(413, "proposal too large")
        if report["seq"] != msg.seq:
            raise RelayRefused(422, f"proposal for seq {msg.seq} carries report "
                               f"{report['seq']}")

    def _check_signature(self, msg: Message, active: Mapping[str, int]) -> None:
        from oracle.service._exchange import parse_report, report_signer

        proposals = self.fetch(msg.seq, "proposal")
        if not proposals:
            raise RelayRefused(404, f"no proposal for seq {msg.seq} to sign")
        report = parse_report(json.loads(proposals[0])["body"]["report"])
        if msg.sender not in report["signers"]:
            raise RelayRefused(403, f"{msg.sender} is not a signer of report {msg.seq}")
        try:
            signer = report_signer(report, msg.body.get("reportSignature"), self.chain_id,
                                   self.contract)
        except BAD_SIGNATURE as exc:
            raise RelayRefused(400, f"bad report signature: {exc}") from exc
        if signer.lower() != msg.sender.lower():
            raise RelayRefused(403, f"report signature is {signer}'s, not {msg.sender}'s")


class LocalRelay:
    """A relay in this process: only bytes cross it, and the board checks each message."""

    def __init__(self, board: RelayBoard):
        self.board = board

    def post(self, raw: bytes) -> None:
        self.board.post(bytes(raw))

    def fetch(self, seq: int, kind: str) -> list[bytes]:
        return [bytes(m) for m in self.board.fetch(seq, kind)]


class HttpRelay:
    """The API's relay endpoints: ``POST /v1/relay`` (one envelope as the body) and
    ``GET /v1/relay/{seq}/{kind}`` (``{"messages": [envelope, ...]}``). A refusal raises
    :class:`RelayRefused` with the API's status and detail."""

    def __init__(self, base_url: str, api_key: str = "", timeout: float = 10.0):
        import httpx

        self.base = base_url.rstrip("/")
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self._client = httpx.Client(timeout=timeout)

    def post(self, raw: bytes) -> None:
        resp = self._client.post(f"{self.base}/v1/relay", content=raw,
                                 headers={**self.headers, "Content-Type": "application/json"})
        self._raise(resp)

    def fetch(self, seq: int, kind: str) -> list[bytes]:
        resp = self._client.get(f"{self.base}/v1/relay/{int(seq)}/{kind}",
                                headers=self.headers)
        self._raise(resp)
        return [canonical(m) for m in resp.json().get("messages", [])]

    @staticmethod
    def _raise(resp: Any) -> None:
        if resp.status_code >= 400:
            try:
                detail = str(resp.json().get("detail", resp.text))
            except ValueError:
                detail = resp.text[:200]
            raise RelayRefused(resp.status_code, detail)

    def close(self) -> None:
        self._client.close()
