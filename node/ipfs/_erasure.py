"""The local erasure log: which CIDs were erased on a privacy request, and when.

The chain keeps the CID forever; after erasure the node no longer has the bytes, and an
offline node cannot tell "erased" from "never had it" (a read just waits). The log lets
the store answer "erased" at once, and refuse to upload the same bytes again.

One JSON object per line, appended and fsync'ed; a torn last line (crash mid-write) is
skipped with a warning. The log holds CIDs and a free-text reason only.

Example::

    log = ErasureLog(Path(".spamledger/ipfs/erasures.jsonl"))
    log.record(parse_cid("bafk..."), reason="GDPR art. 17 request #12")
    log.lookup(parse_cid("bafk..."))  # -> ErasureRecord(...)
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from node.ipfs._cid import Cid, parse_cid
from node.ipfs._errors import EvidenceError, InvalidCid

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureRecord:
    """One erasure: the canonical CID, when (UTC ISO 8601) and why, and the CIDs of the
    document's blocks the node held (what the proof of erasure asks the node about)."""

    cid: str
    erased_at: str
    reason: str
    blocks: tuple[str, ...] = ()


class ErasureLog:
    """Append-only erasure log; ``path=None`` keeps it in memory (tests, remote-only use)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._records: dict[str, ErasureRecord] = {}
        self._seen_size = -1
        self._lock = threading.Lock()

    def lookup(self, cid: Cid) -> ErasureRecord | None:
        """The erasure record of ``cid``, re-reading the file if another process appended."""
        with self._lock:
            self._refresh()
            return self._records.get(str(cid))

    def record(self, cid: Cid, reason: str, blocks: tuple[str, ...] = ()) -> ErasureRecord:
        """Append an erasure of ``cid`` (idempotent: an existing record is returned)."""
        with self._lock:
            self._refresh()
            existing = self._records.get(str(cid))
            if existing:
                return existing
            entry = ErasureRecord(str(cid), datetime.now(UTC).isoformat(timespec="seconds"),
                                  reason, tuple(blocks))
            self._append(entry)
            self._records[entry.cid] = entry
            return entry

    def _append(self, entry: ErasureRecord) -> None:
        if self.path is None:
            return
        line = (json.dumps(asdict(entry), sort_keys=True) + "\n").encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # end a line torn by a crash; it stays skipped
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise EvidenceError(f"cannot write the erasure log {self.path}: {exc}") from exc
        self._seen_size = self.path.stat().st_size

    def _refresh(self) -> None:
        if self.path is None or not self.path.exists():
            return
        size = self.path.stat().st_size
        if size == self._seen_size:
            return
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            self._load_line(number, line)
        self._seen_size = size

    def _load_line(self, number: int, line: str) -> None:
        try:
            fields = json.loads(line)
            fields["blocks"] = tuple(fields.get("blocks", ()))
            entry = ErasureRecord(**fields)
            key = str(parse_cid(entry.cid))
        except (ValueError, TypeError, InvalidCid):
            logger.warning("erasure log %s line %d is unreadable: skipped", self.path, number)
            return
        self._records.setdefault(key, entry)
