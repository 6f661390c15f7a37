"""Peers' models from the chain and IPFS: the consortium learns without sharing a disk.

An operator learns from the others' models (:mod:`oracle._consortium`), never their call
records. This module is how those models travel between operators who share nothing but
the chain and IPFS:

- **publish** (at registration, :meth:`ModelGovernance.register`): ``portable.json`` and
  ``portable.npz`` (the safe format of :mod:`oracle._portable`, no pickle) go into IPFS,
  and their CIDs are written into the model card (``card["portable"]``) before the card
  itself goes into IPFS; the card's CID is the ``metricsCid`` the registry records.
- **fetch** (:func:`fetch_peer_models`): for every other validator's model that is
  *approved now* on-chain (revoked and pending ones are skipped, and the newest approved
  registration of each owner wins), read the card by its on-chain CID, the two files by
  the card's CIDs (each read is verified against its CID by the evidence store), check the
  JSON's SHA-256 against the card's ``portable_sha256``, write the pair to
  ``OUT/<country>-<owner>-<hash>/`` and load it once with :func:`oracle.load_portable`
  (hash pinned) to prove it is usable. What is skipped is said with its reason.

Trust: the chain says which models the consortium approved and where their cards are;
IPFS content is addressed by hash, so a node cannot substitute other bytes. Nothing
fetched is unpickled.

Example::

    peers = fetch_peer_models(chain, store, Path("peers"))
    # spamledger oracle train ... --peer-model peers/GB-0x1234…-ab12…=<portable_sha256>
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from oracle._errors import ModelError
from oracle._portable import JSON_FILE, NPZ_FILE, load_portable
from oracle.service._errors import ModelGovernanceError
from spamledger._files import write_atomic

logger = logging.getLogger(__name__)

PORTABLE_KEY = "portable"
_APPROVED = 2


@dataclass(frozen=True)
class PeerModel:
    """One peer model fetched and checked: where it now lies and what pins it."""

    owner: str
    country: str
    model_hash: str
    card_cid: str
    directory: str
    portable_sha256: str

    def as_flag(self) -> str:
        """The ``oracle train --peer-model`` argument that loads it, hash pinned."""
        return f"{self.directory}={self.portable_sha256}"


def attach_portable(card: dict[str, Any], directory: Path, store: Any) -> dict[str, Any]:
    """``card`` plus the IPFS CIDs of the portable copy lying in ``directory``.

    Raises :class:`ModelGovernanceError` when the files do not match the card's
    ``portable_sha256`` (a card and a portable copy of different models).
    """
    try:
        text = (directory / JSON_FILE).read_bytes()
        npz = (directory / NPZ_FILE).read_bytes()
    except OSError as exc:
        raise ModelGovernanceError(f"no portable model beside the card in {directory}: "
                                   f"{exc}") from exc
    digest = hashlib.sha256(text).hexdigest()
    if card.get("portable_sha256") and card["portable_sha256"] != digest:
        raise ModelGovernanceError(f"{directory / JSON_FILE}: hash {digest[:12]}… is not "
                                   f"the card's portable_sha256 "
                                   f"{str(card['portable_sha256'])[:12]}…")
    cids = store.put_many([(text, "application/json"), (npz, "application/x-npz")])
    return {**card, "portable_sha256": digest,
            PORTABLE_KEY: {"json": cids[0], "npz": cids[1]}}


def approved_peer_registrations(chain: Any) -> list[dict[str, Any]]:
    """The newest registration of each other validator whose model is approved now."""
    events = chain.events("ModelRegistry", "ModelRegistered", 0, chain.block_number())
    newest: dict[str, dict[str, Any]] = {}
    for ev in events:
        owner = ev["args"]["owner"]
        if owner.lower() == chain.address.lower():
            continue
        if chain.model_status(ev["args"]["modelHash"], owner) != _APPROVED:
            continue
        newest[owner] = {"owner": owner, "model_hash": "0x" + bytes(
            ev["args"]["modelHash"]).hex(), "cid": ev["args"]["metricsCid"],
            "country": bytes(ev["args"]["country"]).decode("ascii", "replace")}
    return list(newest.values())


def fetch_peer_models(chain: Any, store: Any, out: Path
                      ) -> tuple[list[PeerModel], list[dict[str, str]]]:
    """Fetch every approved peer model's portable copy into ``out``.

    Returns the models fetched and checked, and the registrations skipped with the reason
    (a card without a portable copy, a hash mismatch, an unreadable CID...).
    """
    fetched, skipped = [], []
    for reg in approved_peer_registrations(chain):
        try:
            fetched.append(_fetch_one(reg, store, out))
        except (ModelGovernanceError, ModelError) as exc:
            logger.warning("peer model %s of %s skipped: %s", reg["model_hash"][:14],
                           reg["owner"], exc)
            skipped.append({**{k: str(v) for k, v in reg.items()}, "reason": str(exc)})
    return fetched, skipped


def _fetch_one(reg: dict[str, Any], store: Any, out: Path) -> PeerModel:
    card = _read(store.get_json, reg["cid"], "model card")
    links = card.get(PORTABLE_KEY) if isinstance(card, dict) else None
    expected = card.get("portable_sha256") if isinstance(card, dict) else None
    if not isinstance(links, dict) or not expected:
        raise ModelGovernanceError(f"card {reg['cid']} names no portable copy (registered "
                                   "without one): nothing safe to run")
    text = _read(store.get, str(links.get("json")), "portable.json")
    digest = hashlib.sha256(text).hexdigest()
    if digest != expected:
        raise ModelGovernanceError(f"portable.json {links.get('json')} hashes to "
                                   f"{digest[:12]}…, the card says {str(expected)[:12]}…")
    npz = _read(store.get, str(links.get("npz")), "portable.npz")
    target = out / f"{reg['country']}-{reg['owner']}-{reg['model_hash'][2:14]}"
    _write_pair(target, text, npz)
    load_portable(target, expected_sha256=digest, owner=reg["owner"])
    return PeerModel(reg["owner"], reg["country"], reg["model_hash"], reg["cid"],
                     str(target), digest)


def _read(get: Any, cid: str, what: str) -> Any:
    from node.ipfs import EvidenceError

    try:
        return get(cid)
    except EvidenceError as exc:
        raise ModelGovernanceError(f"cannot read the {what} {cid} from IPFS: {exc}") from exc


def _write_pair(target: Path, text: bytes, npz: bytes) -> None:
    """Both files or neither: a half-written peer directory is removed, not left to load."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        write_atomic(target / NPZ_FILE, npz)
        write_atomic(target / JSON_FILE, text)
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ModelGovernanceError(f"cannot write the peer model to {target}: {exc}") from exc


def peer_report(fetched: list[PeerModel], skipped: list[dict[str, str]]) -> dict[str, Any]:
    """What ``oracle models peers`` prints: each model fetched, its train flag, the skips."""
    return {"fetched": [asdict(p) | {"trainFlag": p.as_flag()} for p in fetched],
            "skipped": skipped}
