"""Wiring: one operator's oracle service assembled from settings (CLI and continuous mode)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from oracle.service._chain import Chain
from oracle.service._epoch import EpochService
from oracle.service._errors import ServiceError
from oracle.service._evidence import EvidenceWriter
from oracle.service._models import ModelGovernance
from oracle.service._operator import Operator
from oracle.service._outbox import Outbox
from oracle.service._retry import RetryPolicy
from oracle.service._votes import VotePolicy, VoteService

logger = logging.getLogger(__name__)


@dataclass
class OracleApp:
    """Every part of one operator's service, connected."""

    settings: Any
    operator: Operator
    outbox: Outbox
    chain: Chain
    store: Any
    hasher: Any
    models: ModelGovernance
    epochs: EpochService
    votes: VoteService

    @classmethod
    def from_settings(cls, settings: Any, model_hash: str | None = None,
                      relay: Any = None) -> OracleApp:
        """Connect to the chain and IPFS as the configured operator.

        :param model_hash: model to vote with (default: the promoted one).
        :param relay: the report path's transport (default: the API at
            ``oracle_relay_url``); used when ``oracle_vote_path`` is ``report``.
        """
        import node
        from node.ipfs import EvidenceStore
        from spamledger import NumberHasher

        op = Operator.from_settings(settings).ensure_dirs()
        password = node.resolve_password(settings.data_dir, settings.keystore_password)
        account = op.load_account(password)
        retry = RetryPolicy.from_settings(settings)
        w3 = node.connect(settings.rpc_url)
        ledger = node.Ledger(w3, node.Deployment.load(settings.data_dir, int(w3.eth.chain_id)))
        outbox = Outbox(op.outbox_path)
        chain = Chain(ledger, account, outbox, retry)
        store = EvidenceStore.from_settings(settings)
        evidence = EvidenceWriter(store, retry)
        hasher = NumberHasher(settings.consortium_secret)
        models = ModelGovernance(op, chain, evidence, settings.service_promote_tolerance)
        chosen = model_hash or models.current()
        votes = VoteService(op, chain, hasher, evidence, chosen or b"\0" * 32,
                            VotePolicy.from_settings(settings))
        if not chosen:
            logger.warning("operator %s has no promoted model: votes will be refused "
                           "until one is registered, approved and promoted", op.name)
        epochs = EpochService(op, chain, store, hasher, retry)
        _choose_path(settings, votes, relay)
        return cls(settings, op, outbox, chain, store, hasher, models, epochs, votes)

    def require_model(self) -> bytes:
        if self.votes.model_hash == b"\0" * 32:
            raise ServiceError(f"operator {self.operator.name} has no model: run "
                               "`spamledger oracle models register` and `promote`, "
                               "or pass --model-hash")
        return self.votes.model_hash

    def require_approved_model(self) -> bytes:
        """:meth:`require_model`, and refuse one the chain would refuse votes for."""
        model = self.require_model()
        if not self.chain.model_approved(model):
            status = ("not registered", "pending approval", "approved", "revoked")[
                self.chain.model_status(model)]
            raise ServiceError(f"model {model.hex()} is not approved on-chain ({status}): "
                               "register it, get approvals from other countries, promote it")
        return model

    def close(self) -> None:
        self.outbox.close()
        try:
            self.store.close()
        except Exception:  # closing an HTTP session must not mask the real outcome
            logger.debug("closing the IPFS client failed", exc_info=True)


VOTE_PATHS = ("votes", "report")


def _choose_path(settings: Any, votes: VoteService, relay: Any) -> None:
    """Turn the report path on when ``oracle_vote_path`` asks for it."""
    path = str(settings.oracle_vote_path).strip().lower()
    if path not in VOTE_PATHS:
        raise ServiceError(f"oracle_vote_path must be one of {', '.join(VOTE_PATHS)}, "
                           f"not {settings.oracle_vote_path!r}")
    if path == "votes":
        return
    from oracle.service._relay import HttpRelay
    from oracle.service._reportpath import ReportPolicy, report_path_for

    if relay is None:
        if not settings.oracle_relay_url:
            raise ServiceError("oracle_vote_path is 'report' but oracle_relay_url is not "
                               "set: name the relay (the API's base URL)")
        relay = HttpRelay(settings.oracle_relay_url, settings.oracle_relay_api_key)
    votes.use_report_path(report_path_for(votes, relay,
                                          ReportPolicy(ttl=settings.service_vote_ttl)))
    logger.info("operator %s sends flagged numbers through signed reports", votes.op.name)
