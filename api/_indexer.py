"""The chain-event indexer: every event of every deployed contract, into SQL, exactly once.

The indexer reads logs of all deployment addresses in block ranges of
``index_block_range``; each range's raw events, their effects on the state tables
(:mod:`api._projections`) and the cursor advance are written in ONE database transaction,
so a kill at any point leaves the database at a range boundary: the next run resumes after
the last committed range, with no duplicate and no gap. It stays ``confirmations`` blocks
behind the head and reports its lag.

Example::

    indexer = Indexer.from_settings(settings, engine)
    indexer.sync()            # up to head - confirmations, then return
    indexer.follow(stop)      # keep following until ``stop`` is set
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from web3 import Web3

from api._chain import jsonable
from api._db import session_scope
from api._errors import Conflict, UpstreamUnavailable
from api._models import ChainEvent, IndexCursor
from api._projections import Located, apply
from api._readmodel import notify, signal_path

logger = logging.getLogger(__name__)

STREAM = "events"


@dataclass
class SyncResult:
    """What one :meth:`Indexer.sync` call did."""

    from_block: int
    to_block: int
    events: int
    ranges: int
    seconds: float


class Indexer:
    """Follows the deployment's contracts into the API database."""

    def __init__(self, w3: Web3, deployment: Any, engine: Engine, *, block_range: int = 500,
                 confirmations: int = 0, epoch_retry_seconds: float = 5.0,
                 signal: Path | None = None):
        self.w3 = w3
        self.signal = signal  # the API workers' read-model signal file (api._readmodel)
        self.epoch_retry_seconds = epoch_retry_seconds
        self.engine = engine
        self.block_range = max(1, block_range)
        self.confirmations = max(0, confirmations)
        self.start_block = int(deployment.first_block())
        self._contracts = _contracts(w3, deployment)
        self._by_address = {c.address.lower(): name for name, c in self._contracts.items()}
        self._topics = _topic_map(self._contracts)
        self._checked = False

    @classmethod
    def from_settings(cls, settings, engine: Engine) -> Indexer:
        import node

        try:
            w3 = node.connect(settings.rpc_url)
            deployment = node.Deployment.load(settings.data_dir, w3.eth.chain_id)
        except node.NodeError as exc:
            raise UpstreamUnavailable(f"indexer: {exc}") from exc
        return cls(w3, deployment, engine, block_range=settings.index_block_range,
                   confirmations=settings.confirmations,
                   epoch_retry_seconds=settings.index_epoch_retry_seconds,
                   signal=signal_path(settings))

    def cursor(self) -> int:
        """The last fully indexed block (``start_block - 1`` before the first range)."""
        with session_scope(self.engine) as session:
            row = session.get(IndexCursor, STREAM)
            return row.last_block if row else self.start_block - 1

    def target(self) -> int:
        """The highest block old enough to index."""
        return int(self.w3.eth.block_number) - self.confirmations

    def lag(self) -> int:
        """Blocks between the chain head and the last indexed block."""
        return int(self.w3.eth.block_number) - self.cursor()

    def sync(self, until: int | None = None) -> SyncResult:
        """Index every range up to ``until`` (default head - confirmations) and return."""
        began = time.perf_counter()
        self._check_deployment()
        first = self.cursor() + 1
        last = self.target() if until is None else min(until, self.target())
        events = ranges = 0
        start = first
        while start <= last:
            end = min(start + self.block_range - 1, last)
            events += self.index_range(start, end)
            ranges += 1
            start = end + 1
        return SyncResult(first, last, events, ranges, time.perf_counter() - began)

    def _check_deployment(self) -> None:
        """Refuse a database that indexes another deployment (e.g. v1 after a migration):
        its rounds and records would mix with this one's."""
        if self._checked:
            return
        with session_scope(self.engine) as session:
            address = session.scalar(select(ChainEvent.address).limit(1))
        if address is not None and address.lower() not in self._by_address:
            raise Conflict(
                f"the API database indexes another deployment (contract {address}): after "
                "`spamledger node migrate`, index the new deployment into a fresh database; "
                "the previous one's trail is served by /v1/audit/numbers/{number}/legacy")
        self._checked = True

    def index_range(self, start: int, end: int) -> int:
        """Index blocks ``start..end`` in one transaction; returns the number of events."""
        logs = self.w3.eth.get_logs({"fromBlock": start, "toBlock": end,
                                     "address": self._contracts_addresses()})
        times = self._block_times(sorted({int(log["blockNumber"]) for log in logs}))
        decoded = [ev for ev in (self._decode(log, times) for log in logs) if ev is not None]
        decoded.sort(key=lambda ev: (ev.block_number, ev.log_index))
        head = int(self.w3.eth.block_number)
        with session_scope(self.engine) as session:
            self._check_cursor(session, start)
            for ev in decoded:
                _store(session, ev)
            session.merge(IndexCursor(stream=STREAM, last_block=end, head_block=head,
                                      updated_at=time.time()))
        if decoded:
            logger.info("indexed blocks %d..%d: %d events", start, end, len(decoded))
            notify(self.signal)  # after the commit: the read models see the whole range
        return len(decoded)

    def _check_cursor(self, session: Session, start: int) -> None:
        # Two indexers on one database would interleave ranges; the loser rolls back.
        row = session.get(IndexCursor, STREAM, with_for_update=True)
        expected = row.last_block + 1 if row else self.start_block
        if start != expected:
            raise UpstreamUnavailable(f"indexer cursor moved: expected block {expected}, "
                                      f"asked to index {start} (another indexer running?)")

    def _contracts_addresses(self) -> list[ChecksumAddress]:
        return [c.address for c in self._contracts.values()]

    def _decode(self, log: Any, times: dict[int, int]) -> Located | None:
        name = self._by_address.get(str(log["address"]).lower())
        topics = log.get("topics") or []
        if name is None or not topics:
            return None
        event_name = self._topics[name].get(bytes(topics[0]))
        if event_name is None:
            logger.warning("unknown event topic %s from %s", bytes(topics[0]).hex(), name)
            return None
        decoded = getattr(self._contracts[name].events, event_name)().process_log(log)
        return Located(contract=name, event=event_name, args=_args(decoded["args"]),
                       block_number=int(log["blockNumber"]),
                       block_time=times[int(log["blockNumber"])],
                       tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                       log_index=int(log["logIndex"]), address=str(log["address"]))

    def _block_times(self, numbers: list[int]) -> dict[int, int]:
        """Timestamps of ``numbers``, fetched in JSON-RPC batches (one round trip per 100)."""
        out: dict[int, int] = {}
        for start in range(0, len(numbers), 100):
            chunk = numbers[start:start + 100]
            try:
                with self.w3.batch_requests() as batch:
                    for n in chunk:
                        batch.add(self.w3.eth.get_block(n))
                    blocks: list[Any] = list(batch.execute())
            except Exception as exc:  # an endpoint without batch support: one call each
                logger.debug("batch get_block failed (%s); fetching one by one", exc)
                blocks = [self.w3.eth.get_block(n) for n in chunk]
            out.update((int(b["number"]), int(b["timestamp"])) for b in blocks)
        return out

    def follow(self, stop: threading.Event, poll_seconds: float = 1.0,
               evidence: Any = None) -> None:
        """Sync, then keep following the chain until ``stop`` is set.

        With ``evidence`` (an :class:`~api.Evidence`), committed epoch snapshots are fetched
        from IPFS and their leaves indexed as they appear.
        """
        from api._epochs import load_pending_epochs

        while not stop.is_set():
            try:
                result = self.sync()
                if result.events:
                    logger.info("indexer at block %d (%d events)", result.to_block,
                                result.events)
                if evidence is not None and load_pending_epochs(
                        self.engine, evidence, retry_seconds=self.epoch_retry_seconds):
                    notify(self.signal)
            except (UpstreamUnavailable, Conflict):  # Conflict: another deployment's index
                raise
            except Exception as exc:  # the chain or DB hiccups: retry after a pause
                logger.warning("indexer: %s: %s; retrying", type(exc).__name__, exc)
            stop.wait(poll_seconds)


def _store(session: Session, ev: Located) -> None:
    session.add(ChainEvent(contract=ev.contract, address=ev.address, event=ev.event,
                           block_number=ev.block_number, block_time=ev.block_time,
                           tx_hash=ev.tx_hash, log_index=ev.log_index,
                           number_key=ev.args.get("numberKey"),
                           args=json.dumps(ev.args, sort_keys=True)))
    apply(session, ev)
    session.flush()


def _args(args: Any) -> dict[str, Any]:
    """Event args as JSON values: bytes32 as 0x-hex, bytes2 countries as text."""
    out: dict[str, Any] = {}
    for name, value in dict(args).items():
        if isinstance(value, bytes | bytearray) and len(value) == 2:
            out[name] = bytes(value).decode("ascii", "replace").rstrip("\x00")
        else:
            out[name] = jsonable(value)
    return out


def _contracts(w3: Web3, deployment: Any) -> dict[str, Any]:
    from node import load_artifact

    return {name: w3.eth.contract(address=deployment.address(name),
                                  abi=load_artifact(name).abi)
            for name in deployment.contract_names()}


def _topic_map(contracts: dict[str, Any]) -> dict[str, dict[bytes, str]]:
    out: dict[str, dict[bytes, str]] = {}
    for name, contract in contracts.items():
        out[name] = {}
        for item in contract.abi:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            sig = f"{item['name']}({','.join(_type(i) for i in item['inputs'])})"
            out[name][bytes(Web3.keccak(text=sig))] = item["name"]
    return out


def _type(inp: dict[str, Any]) -> str:
    if inp["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in inp["components"]) + ")" + inp["type"][5:]
    return str(inp["type"])
