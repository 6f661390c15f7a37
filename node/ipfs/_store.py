"""The evidence store: put and get documents on an IPFS node, verified against their CIDs.

Every document's CID is computed locally before upload (and compared with the node's
answer), and every read recomputes the CID of the returned bytes: a node that stores or
returns other content is caught (:class:`TamperedContent`). Sizes and content types are
checked before anything is sent.

Example::

    with EvidenceStore("/ip4/127.0.0.1/tcp/5011/http") as store:
        cid = store.put_json({"dispute": 7, "claim": "we are a pharmacy"})
        store.get_json(cid)          # verified read
        store.erase(cid, reason="privacy request #3")   # proven: the node lists no block
        store.get(cid)               # raises Erased
        store.presence(cid).absent   # True: not pinned, no block in the node's repository
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from node.ipfs._cid import RAW, Cid, cid_matches, compute_cid, parse_cid
from node.ipfs._client import ipfs_errors, open_client
from node.ipfs._content import DEFAULT_ALLOWED_TYPES, JSON, check_content, guess_type
from node.ipfs._erasure import ErasureLog, ErasureRecord
from node.ipfs._errors import (
    BadContentType,
    Erased,
    EvidenceError,
    InvalidCid,
    NotFound,
    ReadTimedOut,
    TamperedContent,
    TooLarge,
)
from node.ipfs._presence import Presence, document_blocks, held, local_blocks

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0
BATCH_SIZE = 128
CHUNKER = "size-262144"


def encode_json(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): equal documents get equal CIDs."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BadContentType(f"evidence is not JSON-serializable: {exc}") from exc
    return text.encode("utf-8")


def _raw_cid(multihash: bytes) -> str:
    """A block's CID by its multihash alone (how the node's repository keys blocks)."""
    return str(Cid(1, RAW, multihash))


def _parse_json(cid: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadContentType(f"{cid} is not a JSON document: {exc}") from exc


class EvidenceStore:
    """Evidence on one IPFS node (js-ipfs or Kubo) through its RPC API.

    :param api_addr: RPC API multiaddr, e.g. ``/ip4/127.0.0.1/tcp/5011/http``.
    :param max_bytes: largest document accepted on put and on get.
    :param allowed_types: content types accepted on put.
    :param cid_version: 1 (base32 ``bafy...``, raw leaves; default) or 0 (``Qm...``).
    :param timeout: seconds for any one API call (past it: :class:`ReadTimedOut`).
    :param erasure_log: JSON-lines file recording erasures; ``None`` keeps it in memory.
    :param workers: parallel reads in :meth:`get_many`.
    """

    def __init__(self, api_addr: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 allowed_types: Sequence[str] = tuple(DEFAULT_ALLOWED_TYPES),
                 cid_version: int = 1, timeout: float = DEFAULT_TIMEOUT,
                 erasure_log: Path | None = None, workers: int = 4):
        if cid_version not in (0, 1):
            raise InvalidCid(f"cid_version must be 0 or 1, got {cid_version!r}")
        self.api_addr = api_addr
        self.max_bytes = max_bytes
        self.allowed_types = frozenset(t.lower() for t in allowed_types)
        self.cid_version = cid_version
        self.timeout = timeout
        self.workers = max(1, workers)
        self.erasures = ErasureLog(erasure_log)
        self._client = open_client(api_addr, timeout)

    @classmethod
    def from_settings(cls, settings: Any) -> EvidenceStore:
        """The store the settings describe (erasure log under ``data_dir/ipfs``)."""
        return cls(
            settings.ipfs_api,
            max_bytes=getattr(settings, "ipfs_max_bytes", DEFAULT_MAX_BYTES),
            cid_version=getattr(settings, "ipfs_cid_version", 1),
            timeout=getattr(settings, "ipfs_timeout", DEFAULT_TIMEOUT),
            erasure_log=Path(settings.data_dir) / "ipfs" / "erasures.jsonl",
        )

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close()

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def node_info(self) -> dict[str, Any]:
        """The node's version and peer id; :class:`NodeUnreachable` if it does not answer."""
        with ipfs_errors(self.api_addr, "version"):
            version = self._client.version()
        with ipfs_errors(self.api_addr, "id"):
            ident = self._client.id()
        return {"version": version.get("Version"), "id": ident.get("ID")}

    # -- writing -------------------------------------------------------------------------

    def put_json(self, obj: Any) -> str:
        """Store ``obj`` as canonical JSON; returns its CID string."""
        return self.put_bytes(encode_json(obj), JSON)

    def put_bytes(self, data: bytes, content_type: str) -> str:
        """Store ``data`` declared as ``content_type``; returns its CID string."""
        return self.put_many([(data, content_type)])[0]

    def put_file(self, path: Path, content_type: str | None = None) -> str:
        """Store a file (type from its suffix unless given); returns its CID string."""
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise EvidenceError(f"cannot read evidence file {path}: {exc.strerror}") from exc
        self._check_size(size, str(path))
        return self.put_bytes(path.read_bytes(), content_type or guess_type(path))

    def put_json_many(self, objs: Sequence[Any]) -> list[str]:
        """Store many JSON documents in batched requests; CIDs in input order."""
        return self.put_many([(encode_json(obj), JSON) for obj in objs])

    def put_many(self, items: Sequence[tuple[bytes, str]]) -> list[str]:
        """Store ``(data, content_type)`` pairs, ``BATCH_SIZE`` per add request.

        Every item is checked before anything is sent; a bad item refuses the whole call
        naming its index.
        """
        cids = [self._prepare(index, data, kind) for index, (data, kind) in enumerate(items)]
        for start in range(0, len(items), BATCH_SIZE):
            batch = [data for data, _ in items[start:start + BATCH_SIZE]]
            self._add_batch(batch, cids[start:start + BATCH_SIZE])
        return [str(cid) for cid in cids]

    def _prepare(self, index: int, data: bytes, content_type: str) -> Cid:
        label = f"item {index}"
        if not isinstance(data, bytes | bytearray | memoryview):
            raise BadContentType(f"{label}: evidence must be bytes, got {type(data).__name__}")
        self._check_size(len(data), label)
        try:
            check_content(bytes(data), content_type, self.allowed_types)
        except BadContentType as exc:
            raise BadContentType(f"{label}: {exc}") from exc
        cid = compute_cid(bytes(data), cid_version=self.cid_version)
        if record := self.erasures.lookup(cid):
            raise Erased(f"{label}: {cid} was erased on {record.erased_at} "
                         f"({record.reason}); it is not stored again")
        return cid

    def _check_size(self, size: int, label: str) -> None:
        if size > self.max_bytes:
            raise TooLarge(f"{label} is {size} bytes; the limit is {self.max_bytes} bytes "
                           f"(max_bytes)")

    def _add_batch(self, batch: list[bytes], expected: list[Cid]) -> None:
        files = []
        for offset, data in enumerate(batch):
            stream = io.BytesIO(bytes(data))
            # Unique names: Kubo treats a multi-file add as one directory listing.
            stream.name = f"evidence-{offset:05d}"
            files.append(stream)
        with ipfs_errors(self.api_addr, "add"):
            answer = self._client.add(
                *files, cid_version=self.cid_version, raw_leaves=self.cid_version == 1,
                chunker=CHUNKER, pin=True)
        entries = answer if isinstance(answer, list) else [answer]
        self._check_added(entries, expected)
        logger.debug("added %d documents to %s", len(batch), self.api_addr)

    def _check_added(self, entries: list[Any], expected: list[Cid]) -> None:
        returned = set()
        for entry in entries:
            try:
                returned.add(parse_cid(entry["Hash"]))
            except (KeyError, TypeError, InvalidCid) as exc:
                raise EvidenceError(f"IPFS node at {self.api_addr} answered add with "
                                    f"an unreadable entry {entry!r}") from exc
        missing = [str(cid) for cid in expected if cid not in returned]
        if missing:
            raise TamperedContent(
                f"IPFS node at {self.api_addr} stored other content than was sent: "
                f"expected {', '.join(missing[:3])}, it answered "
                f"{', '.join(str(c) for c in list(returned)[:3])}")

    # -- reading -------------------------------------------------------------------------

    def get(self, cid: str) -> bytes:
        """The document's bytes, verified against ``cid``.

        Raises :class:`Erased`, :class:`NotFound`, :class:`TooLarge`,
        :class:`TamperedContent` or :class:`NodeUnreachable`.
        """
        parsed = self._readable(cid)
        try:
            with ipfs_errors(self.api_addr, "cat", str(parsed)):
                data = self._client.cat(str(parsed), length=self.max_bytes + 1)
        except ReadTimedOut:
            self._absent_or_slow(parsed)
            raise
        if len(data) > self.max_bytes:
            raise TooLarge(f"{parsed} is larger than the limit of {self.max_bytes} bytes "
                           f"(max_bytes)")
        if not cid_matches(parsed, data):
            raise TamperedContent(f"IPFS node at {self.api_addr} returned {len(data)} bytes "
                                  f"for {parsed} that do not hash to that CID")
        return data

    def _absent_or_slow(self, parsed: Cid) -> None:
        """After a read timed out: :class:`NotFound` when the node's own block listing lacks
        the CID; otherwise return (the caller re-raises the timeout: a slow node)."""
        if parsed.multihash not in local_blocks(self._client, self.api_addr):
            raise NotFound(f"{parsed} is not held by the IPFS node at {self.api_addr} "
                           f"(absent from its refs/local listing)")

    def get_json(self, cid: str) -> Any:
        """The document parsed as JSON (verified first)."""
        return _parse_json(cid, self.get(cid))

    def get_many(self, cids: Sequence[str]) -> list[bytes]:
        """Verified reads of many documents, ``workers`` at a time; input order kept."""
        if len(cids) <= 1 or self.workers == 1:
            return [self.get(cid) for cid in cids]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(self.get, cids))

    def get_json_many(self, cids: Sequence[str]) -> list[Any]:
        """:meth:`get_many`, each parsed as JSON."""
        return [_parse_json(cid, data) for cid, data in zip(cids, self.get_many(cids),
                                                            strict=True)]

    def _readable(self, cid: str) -> Cid:
        parsed = parse_cid(cid)
        if record := self.erasures.lookup(parsed):
            raise Erased(f"evidence {parsed} was erased on {record.erased_at} "
                         f"({record.reason}); the chain keeps only its CID")
        return parsed

    # -- pinning and erasure -------------------------------------------------------------

    def pin(self, cid: str) -> None:
        """Pin a document on the node (kept through garbage collection)."""
        parsed = self._readable(cid)
        try:
            with ipfs_errors(self.api_addr, "pin/add", str(parsed)):
                self._client.pin.add(str(parsed))
        except ReadTimedOut:
            self._absent_or_slow(parsed)
            raise

    def unpin(self, cid: str) -> bool:
        """Unpin a document; returns False if it was not pinned."""
        parsed = parse_cid(cid)
        try:
            with ipfs_errors(self.api_addr, "pin/rm", str(parsed)):
                self._client.pin.rm(str(parsed))
        except EvidenceError as exc:
            if "not pinned" in str(exc):
                return False
            raise
        return True

    def erase(self, cid: str, reason: str = "privacy request") -> ErasureRecord:
        """Erase a document: record it, unpin it, garbage-collect the node's repository,
        then PROVE it: the node must list neither a pin of it nor any of its blocks
        (:meth:`presence`), else :class:`EvidenceError` names what is left.

        The record is written first, so a crash half-way still reads as "erased" and a
        re-run finishes the job. Idempotent.
        """
        parsed = parse_cid(cid)
        blocks = self._blocks_of(parsed)
        record = self.erasures.record(parsed, reason, tuple(sorted(_raw_cid(b) for b in blocks)))
        blocks |= {parse_cid(b).multihash for b in record.blocks}  # a re-run: the first's
        self.unpin(str(parsed))
        self._collect_garbage()
        left = held(self._client, self.api_addr, parsed, blocks)
        if not left.absent:
            raise EvidenceError(
                f"erasure of {parsed} on {self.api_addr} is incomplete: "
                f"{'still pinned; ' if left.pinned else ''}{len(left.blocks_left)} of its "
                f"{len(blocks)} block(s) still in the node's repository "
                f"({', '.join(left.blocks_left[:3])}); re-run the erasure")
        logger.info("erased %s from %s (%s): %d block(s), none left", parsed, self.api_addr,
                    reason, len(blocks))
        return record

    def _blocks_of(self, parsed: Cid, local: set[bytes] | None = None) -> set[bytes]:
        """Multihashes of the document's blocks the node holds (just its own CID when the
        node does not hold its root: then only the erasure record knows the others)."""
        if local is None:
            local = local_blocks(self._client, self.api_addr)
        if parsed.multihash not in local:
            return {parsed.multihash}
        return document_blocks(self._client, self.api_addr, parsed)

    def presence(self, cid: str) -> Presence:
        """What the node itself says it holds of ``cid``: pinned or not, and which of its
        blocks are in the node's repository (``pin/ls`` and ``refs/local``; local-only).

        Raises :class:`NodeUnreachable` (:class:`ReadTimedOut` when slow) rather than ever
        reporting a document absent because the node did not answer.
        """
        parsed = parse_cid(cid)
        local = local_blocks(self._client, self.api_addr)
        blocks = self._blocks_of(parsed, local)
        if record := self.erasures.lookup(parsed):
            blocks |= {parse_cid(b).multihash for b in record.blocks}
        return held(self._client, self.api_addr, parsed, blocks, local)

    def _collect_garbage(self) -> None:
        """Run repo/gc to completion; refuse silently partial collections.

        Not ``quiet``: js-ipfs then answers at once and stops collecting part-way (seen
        here with ~800 garbage blocks), so the full listing is read to the end.
        """
        with ipfs_errors(self.api_addr, "repo/gc"):
            entries = self._client.repo.gc(timeout=max(self.timeout, 120.0)) or []
        failures = [entry.get("Error") for entry in entries
                    if isinstance(entry, Mapping) and entry.get("Error")]
        if failures:
            raise EvidenceError(f"IPFS node at {self.api_addr}: garbage collection failed "
                                f"for {len(failures)} block(s): {failures[0]}")
        logger.debug("repo/gc on %s removed %d blocks", self.api_addr, len(entries))

    def is_erased(self, cid: str) -> bool:
        """Whether ``cid`` is in the erasure log."""
        return self.erasures.lookup(parse_cid(cid)) is not None
