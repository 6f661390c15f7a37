"""Model governance: register before voting, promote only without regression, roll back.

- ``register``: the model hash and its metrics card (JSON, in IPFS) go on-chain with
  ``ModelRegistry.registerModel`` (an outbox action, once), as this operator's own (the
  registry binds a model to its owner). Validators of other, distinct countries approve it
  (``approve(hash, owner)``); ``Consensus`` refuses votes naming a model the signer has not
  got approved.
- ``promote``: the candidate becomes this operator's current model only if it is approved
  on-chain and its validation precision and recall are each no more than ``tolerance``
  below the current model's (for this operator's country when the card has per-country
  figures, else overall).
- ``rollback``: back to the previous promoted model that is still approved on-chain.

The promotion history lives in ``state/models.json`` (written atomically).

Example::

    gov = ModelGovernance(operator, chain, store, tolerance=0.02)
    gov.register(model_hash, card); gov.promote(model_hash, card)
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from oracle.service._chain import Chain
from oracle.service._errors import ModelGovernanceError
from oracle.service._evidence import EvidenceWriter
from oracle.service._operator import Operator
from oracle.service._outbox import MINED
from oracle.service._peers import attach_portable
from oracle.service._scored import model_hash_bytes

logger = logging.getLogger(__name__)

STATUS_NONE, STATUS_PENDING, STATUS_APPROVED, STATUS_REVOKED = 0, 1, 2, 3


def metrics_of(card: dict[str, Any], country: str) -> tuple[float, float]:
    """(precision, recall) of a model card: the country's own figures, else overall."""
    paths = (("metrics", country), ("countries", country), ("per_country", country),
             ("metrics", "overall"), ("countries", "*"), ("metrics",), ())
    for path in paths:
        node: Any = card
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and "precision" in node and "recall" in node:
            return float(node["precision"]), float(node["recall"])
    raise ModelGovernanceError("model card has no precision and recall "
                               f"(for {country} or overall)")


class ModelGovernance:
    """One operator's models: on-chain registration, promotion and rollback."""

    def __init__(self, operator: Operator, chain: Chain | None,
                 evidence: EvidenceWriter | None, tolerance: float = 0.02):
        self.op, self.chain, self.evidence, self.tolerance = operator, chain, evidence, tolerance
        self.path = operator.state_dir / "models.json"

    # -- state file --------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"current": None, "history": [], "cards": {}}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelGovernanceError(f"cannot read {self.path}: {exc}") from exc

    def _save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(state, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def card(self, model_hash: str | bytes) -> dict[str, Any]:
        """The card this operator registered or promoted ``model_hash`` with (as published:
        with its portable copy's CIDs when it has one)."""
        h = model_hash_bytes(model_hash).hex()
        card = self._load()["cards"].get(h)
        if card is None:
            raise ModelGovernanceError(f"no card recorded for model {h}")
        return dict(card)

    def current(self) -> str | None:
        """Hex of the promoted model this operator votes with (None before the first)."""
        return self._load()["current"]

    # -- chain -------------------------------------------------------------------------------

    def _need_chain(self) -> Chain:
        if self.chain is None:
            raise ModelGovernanceError("model governance needs a chain connection")
        return self.chain

    def register(self, model_hash: str | bytes, card: dict[str, Any],
                 portable_dir: Path | None = None) -> str:
        """Put the card into IPFS and register the model on-chain (once); returns its CID.

        :param portable_dir: the model's folder holding ``portable.json``/``.npz``: both go
            into IPFS first and the card names their CIDs, so peers can fetch the model
            (:mod:`oracle.service._peers`).
        """
        chain, h = self._need_chain(), model_hash_bytes(model_hash)
        action_id = f"model:{chain.chain_id}:{h.hex()}"
        chain.outbox.clear_failed("model")  # an earlier refusal is retried, not replayed
        found = chain.outbox.find(action_id)
        state = self._load()
        if found:  # published already: keep the card as it went into IPFS
            card = state["cards"].get(h.hex(), card)
        elif portable_dir is not None:
            card = attach_portable(card, Path(portable_dir), self._evidence().store)
        state["cards"][h.hex()] = card
        self._save(state)
        cid = found.payload["cid"] if found else self._put_card(card)
        action = chain.outbox.plan(action_id, "model", {"hash": h.hex(), "cid": cid})
        chain.submitter.reconcile()
        if chain.outbox.get(action_id).state != MINED:
            if chain.model_status(h) != STATUS_NONE:
                chain.outbox.mark_mined(action_id, None)
            else:
                chain.send([action_id], "ModelRegistry", "registerModel", h, cid)
        done = chain.outbox.get(action_id)
        if done.state == "failed":
            raise ModelGovernanceError(f"registration of model {h.hex()} refused: "
                                       f"{done.error}")
        return action.payload["cid"]

    def _evidence(self) -> EvidenceWriter:
        if self.evidence is None:
            raise ModelGovernanceError("registering a model needs the IPFS evidence store")
        return self.evidence

    def _put_card(self, card: dict[str, Any]) -> str:
        return self._evidence().put(card)

    def approve(self, model_hash: str | bytes, owner: str) -> bool:
        """Approve another country's validator ``owner``'s model (once per validator); True
        if approved now, False if this validator had approved it already.

        Raises :class:`ModelGovernanceError` with the contract's reason when the approval is
        refused (the model is this operator's own country's, unknown, revoked, ...).
        """
        chain, h = self._need_chain(), model_hash_bytes(model_hash)
        action_id = f"approve:{chain.chain_id}:{owner}:{h.hex()}:{chain.address}"
        chain.outbox.clear_failed("approve")  # an earlier refusal is retried, not replayed
        chain.outbox.plan(action_id, "approve", {"hash": h.hex(), "owner": owner})
        if chain.outbox.get(action_id).state == MINED:
            return False
        if chain.call("ModelRegistry", "hasApproved", owner, h, chain.address):
            chain.outbox.mark_mined(action_id, None)
            return False
        receipt = chain.send([action_id], "ModelRegistry", "approveModel", owner, h)
        action = chain.outbox.get(action_id)
        if action.state == "failed":
            raise ModelGovernanceError(f"approval of model {h.hex()} refused: {action.error}")
        return receipt is not None and receipt["status"] == 1

    def onchain(self, model_hash: str | bytes, owner: str | None = None) -> dict[str, Any]:
        """What the registry holds for ``owner``'s model (this operator's by default): owner
        country, status and approvals."""
        from node import country_str

        chain = self._need_chain()
        raw = chain.call("ModelRegistry", "getModel", owner or chain.address,
                         model_hash_bytes(model_hash))
        status = ("none", "pending", "approved", "revoked")[int(raw[2])]
        return {"owner": raw[0], "country": country_str(raw[1]), "status": status,
                "approvals": int(raw[3])}

    def _owner_countries(self, h: str) -> list[str]:
        """Countries of every validator that registered ``h`` as its own (ledger v2 keys
        models by owner, so one hash may be registered by several)."""
        from node import country_str

        chain = self._need_chain()
        events = chain.events("ModelRegistry", "ModelRegistered", 0, chain.block_number(),
                              modelHash=bytes.fromhex(h))
        return sorted({country_str(e["args"]["country"]) for e in events})

    def _check_own_country(self, h: str) -> None:
        """Refuse a model this operator cannot vote with: ``Consensus`` checks the model
        registered under the signer's own address, so another validator's registration (of
        another country's model, typically) does not count."""
        if self.chain is None:
            return
        country = self.onchain(h)["country"]  # this operator's own registration
        if not country:
            foreign = [c for c in self._owner_countries(h) if c != self.op.country]
            if foreign:
                raise ModelGovernanceError(
                    f"model {h} is {'/'.join(foreign)}'s model, not {self.op.country}'s: an "
                    "operator votes only with its own country's models")
            raise ModelGovernanceError(f"model {h} is not registered on-chain; register it")
        if country != self.op.country:
            raise ModelGovernanceError(
                f"model {h} is {country}'s model, not {self.op.country}'s: an operator "
                "votes only with its own country's models")

    # -- promotion ---------------------------------------------------------------------------

    def check_promotion(self, candidate: dict[str, Any], current: dict[str, Any] | None) -> None:
        """Raise :class:`ModelGovernanceError` naming the metric that dropped too far."""
        if current is None:
            return
        new_p, new_r = metrics_of(candidate, self.op.country)
        old_p, old_r = metrics_of(current, self.op.country)
        for name, new, old in (("precision", new_p, old_p), ("recall", new_r, old_r)):
            if new < old - self.tolerance:
                raise ModelGovernanceError(
                    f"not promoted: validation {name} {new:.4f} is below the current "
                    f"model's {old:.4f} by more than the tolerance {self.tolerance}")

    def promote(self, model_hash: str | bytes, card: dict[str, Any] | None = None) -> str:
        """Make a registered, approved model current if it does not regress; returns its hex."""
        h = model_hash_bytes(model_hash).hex()
        state = self._load()
        card = card or state["cards"].get(h)
        if card is None:
            raise ModelGovernanceError(f"no metrics card known for model {h}; register it")
        current = state["current"]
        self._check_own_country(h)
        if current == h:
            return h
        self.check_promotion(card, state["cards"].get(current) if current else None)
        if self.chain is not None and not self.chain.model_approved(bytes.fromhex(h)):
            raise ModelGovernanceError(f"model {h} is not approved on-chain yet")
        state["cards"][h] = card
        if current:
            state["history"].append(current)
        state["current"] = h
        self._save(state)
        logger.info("model %s promoted (previous %s)", h, current)
        return h

    def rollback(self) -> str:
        """Return to the previous promoted model still approved on-chain; returns its hex."""
        state = self._load()
        while state["history"]:
            previous = state["history"].pop()
            if self.chain is None or self.chain.model_approved(bytes.fromhex(previous)):
                logger.warning("model rolled back from %s to %s", state["current"], previous)
                state["current"] = previous
                self._save(state)
                return previous
            logger.warning("skipping model %s: no longer approved on-chain", previous)
        raise ModelGovernanceError("no previous approved model to roll back to")


def read_card(path: Path) -> dict[str, Any]:
    """A model card JSON file."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelGovernanceError(f"cannot read model card {path}: {exc}") from exc
