"""Whether an IPFS node still holds a document, asked of the node itself.

A read that times out proves nothing (a slow or busy node times out too), so erasure is
proven by the node's own listings: ``pin/ls`` (is the CID pinned?) and ``refs/local`` (every
block in the node's repository, by multihash). Both are local-only operations on js-ipfs
and Kubo (``offline=true`` is sent too, so a Kubo node never asks the network); a node that
does not answer them in time raises :class:`NodeUnreachable`, never "absent".

Example::

    presence = held(client, api_addr, cid, blocks)
    presence.absent          # True only when not pinned and no block is left
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from node.ipfs._cid import RAW, Cid, parse_cid
from node.ipfs._client import ipfs_errors
from node.ipfs._errors import EvidenceError, InvalidCid

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Presence:
    """What the node says it holds of one document: pinned, and which blocks are local."""

    cid: str
    pinned: bool
    blocks_left: tuple[str, ...]

    @property
    def absent(self) -> bool:
        """Neither pinned nor any of its blocks in the node's repository."""
        return not self.pinned and not self.blocks_left


def is_pinned(client, api_addr: str, cid: Cid) -> bool:
    """Whether the node lists ``cid`` among its pins (``pin/ls``, local only)."""
    try:
        with ipfs_errors(api_addr, "pin/ls", str(cid)):
            answer = client.pin.ls(str(cid), type="all", offline=True)
    except EvidenceError as exc:
        if "not pinned" in str(exc).lower():
            return False
        raise
    keys = answer.get("Keys", {}) if hasattr(answer, "get") else {}
    listed = {_multihash(k) for k in keys}
    return cid.multihash in listed


def local_blocks(client, api_addr: str) -> set[bytes]:
    """Multihashes of every block in the node's repository (``refs/local``)."""
    with ipfs_errors(api_addr, "refs/local"):
        answer = client.unstable.refs.local(offline=True)
    entries = answer if isinstance(answer, list) else [answer]
    out = set()
    for entry in entries:
        if entry.get("Err"):
            raise EvidenceError(f"IPFS node at {api_addr}: refs/local failed: {entry['Err']}")
        digest = _multihash(entry.get("Ref", ""))
        if digest:
            out.add(digest)
    return out


def document_blocks(client, api_addr: str, cid: Cid) -> set[bytes]:
    """The multihashes of ``cid``'s block and every block below it (``refs -r``); read from
    the node's own repository, so only call it while the document is held locally."""
    with ipfs_errors(api_addr, "refs", str(cid)):
        answer = client.unstable.refs(str(cid), opts={"recursive": "true", "unique": "true"},
                                      offline=True)
    entries = answer if isinstance(answer, list) else [answer]
    return {cid.multihash} | {d for d in (_multihash(e.get("Ref", "")) for e in entries) if d}


def held(client, api_addr: str, cid: Cid, blocks: Iterable[bytes] = (),
         local: set[bytes] | None = None) -> Presence:
    """What the node holds of ``cid`` (and of ``blocks``, multihashes of its other blocks);
    ``local`` is a ``refs/local`` listing just taken (else one is taken here)."""
    wanted = {cid.multihash, *blocks}
    present = (local if local is not None else local_blocks(client, api_addr)) & wanted
    left = tuple(sorted(str(Cid(1, RAW, m)) for m in present))
    return Presence(str(cid), is_pinned(client, api_addr, cid), left)


def _multihash(text: str) -> bytes:
    try:
        return parse_cid(str(text).strip()).multihash
    except InvalidCid:
        logger.debug("node listed an unparseable CID %r", text)
        return b""
