"""Reading a migrated deployment: what the chain holds, and a number's v1 trail proven on v2.

:func:`legacy_trail` takes a number's entries from the archive file and has the v2
``LegacyArchive`` contract verify each one's Merkle proof (an ``eth_call``): an entry that was
altered in the file, or never was in v1's history, comes back ``proven: False``.
:func:`describe` reads back from the chain (not from the record) what the migration left.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from web3 import Web3

from migrations._archive import (
    Archive,
    LeafTree,
    as_raw_log,
    decode_log,
    leaf_of,
    record_tuple,
)
from migrations._upgrade import WRITERS, is_migrated, load_record, recorded_path
from node import Deployment, Ledger, load_artifact
from node._errors import LegacyArchiveError

logger = logging.getLogger(__name__)


def load_archive(record: Deployment) -> Archive:
    """The archive file of a migrated record."""
    return _loaded(record)[0]


def _loaded(record: Deployment) -> tuple[Archive, LeafTree]:
    """The archive and its tree, built once per file version (path, size, mtime)."""
    if not is_migrated(record):
        raise LegacyArchiveError(f"{record.path} is not a migrated deployment: no legacy archive")
    path = recorded_path(record, "archive_file")
    try:
        st = path.stat()
    except OSError as exc:
        raise LegacyArchiveError(f"cannot read archive {path}: {exc}") from exc
    return _build(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _build(path: str, size: int, mtime_ns: int) -> tuple[Archive, LeafTree]:
    archive = Archive.load(Path(path))
    return archive, archive.tree()


def legacy_trail(w3: Web3, record: Deployment, number_key: str) -> list[dict[str, Any]]:
    """The number's v1 entries (logs in chain order, then its final v1 record), each decoded
    and checked on-chain against the committed root (``proven``)."""
    archive, tree = _loaded(record)
    ledger = Ledger(w3, record)
    decoders: dict[str, Any] = {}
    out = []
    for entry in archive.trail(number_key):
        leaf = leaf_of(archive.source_chain_id, entry)
        proof = tree.proof(leaf) if leaf in tree.positions else []
        out.append({**_readable(w3, entry, decoders), "leaf": "0x" + leaf.hex(),
                    "proof": ["0x" + p.hex() for p in proof],
                    "proven": bool(prove(ledger, entry, proof))})
    return out


def prove(ledger: Ledger, entry: dict[str, Any], proof: list[bytes]) -> bool:
    """``LegacyArchive.verifyLog``/``verifyRecord`` of one archive entry: the chain decides."""
    if entry["kind"] == "log":
        return bool(ledger.call("LegacyArchive", "verifyLog", entry["emitter"], entry["block"],
                                entry["log_index"], bytes.fromhex(entry["tx_hash"][2:]),
                                [bytes.fromhex(t[2:]) for t in entry["topics"]],
                                bytes.fromhex(entry["data"][2:]), proof))
    return bool(ledger.call("LegacyArchive", "verifyRecord",
                            bytes.fromhex(entry["number_key"][2:]),
                            record_tuple(entry["record"]), proof))


def _readable(w3: Web3, entry: dict[str, Any], decoders: dict[str, Any]) -> dict[str, Any]:
    """An entry with its event decoded from the archived raw topics and data (not from the
    convenience fields the file also carries)."""
    if entry["kind"] != "log":
        return {"kind": "record", "number_key": entry["number_key"], "record": entry["record"]}
    name = entry["contract"]
    if name not in decoders:
        decoders[name] = w3.eth.contract(address=entry["emitter"], abi=load_artifact(name).abi)
    event, args = decode_log(decoders[name], as_raw_log(entry))
    return {"kind": "log", "contract": name, "event": event, "block": entry["block"],
            "log_index": entry["log_index"], "tx_hash": entry["tx_hash"], "args": args}


def describe(w3: Web3, record: Deployment) -> dict[str, Any]:
    """What the chain now holds: v2's contracts, the committed archive as ``LegacyArchive``
    returns it, and whether v1 is still frozen (writers, active validators, later logs)."""
    ledger = Ledger(w3, record)
    out: dict[str, Any] = {"chain_id": record.chain_id, "record": str(record.path),
                           "contracts": {n: record.address(n) for n in record.contract_names()}}
    if "LegacyArchive" not in record.contracts:
        return {**out, "legacy_archive": None}
    a = _named(ledger, "LegacyArchive", "archive")
    names, sources = ledger.call("LegacyArchive", "sourceContracts")
    out["legacy_archive"] = {**{k: _hex(v) for k, v in a.items()},
                             "sources": dict(zip(names, sources, strict=True))}
    if is_migrated(record):
        archive, tree = _loaded(record)
        out["legacy_archive"]["file_root_matches_chain"] = tree.root == bytes(a["root"])
        out["v1"] = {**_v1_state(w3, record, int(a["lastBlock"])), **unfinished(archive)}
    return out


def unfinished(archive: Archive) -> dict[str, int]:
    """v1 rounds and disputes still open at the last migrated block: frozen as they were
    (recorded and provable, never decided on v1); a business refiles on v2."""
    def count(opened: str, closed: tuple[str, ...], ident: str) -> int:
        logs = [e for e in archive.entries if e["kind"] == "log"]
        started = {_ident(e, ident) for e in logs if e["event"] == opened}
        ended = {_ident(e, ident) for e in logs if e["event"] in closed}
        return len(started - ended)

    return {"rounds_open": count("RoundOpened", ("RoundFinalized", "RoundExpired"), "round"),
            "disputes_open": count("DisputeOpened", ("DisputeDecided", "DisputeExpired"), "id")}


def _ident(entry: dict[str, Any], what: str) -> tuple[str, ...]:
    """(numberKey, round) of a round event, (dispute id topic) of a dispute event: indexed
    topics of the archived raw log."""
    if what == "round":
        return (entry.get("number_key", ""), entry["topics"][2] if len(entry["topics"]) > 2
                else "")
    return (entry["topics"][1],)


def _v1_state(w3: Web3, record: Deployment, last_block: int) -> dict[str, Any]:
    v1 = load_record(recorded_path(record, "source_record"))
    ledger = Ledger(w3, v1)
    writer = ledger.call("ValidatorSet", "REGISTRY_WRITER_ROLE")
    addresses = [Web3.to_checksum_address(v1.address(n)) for n in v1.contract_names()]
    later = w3.eth.get_logs({"address": addresses, "fromBlock": last_block + 1,
                             "toBlock": "latest"})
    return {"record": str(v1.path),
            "registry_writers": {n: bool(ledger.call("ValidatorSet", "hasRole", writer,
                                                     v1.address(n))) for n in WRITERS
                                 if n in v1.contracts},
            "active_validators": int(ledger.call("ValidatorSet", "activeValidatorCount")),
            "logs_after_last_block": len(later)}


def _named(ledger: Ledger, contract: str, fn: str) -> dict[str, Any]:
    result = ledger.call(contract, fn)
    item: Any = next(i for i in ledger.contract(contract).abi if i.get("name") == fn)
    comps = item["outputs"][0]["components"]
    return {c["name"]: v for c, v in zip(comps, result, strict=True)}


def _hex(value: Any) -> Any:
    return "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else value
