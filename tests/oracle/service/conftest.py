"""Fixtures for the oracle service: a real js-ipfs node and per-country operators on the
session's consortium (real Anvil, contracts deployed through the migrations)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from oracle.service import Operator, Outbox, RetryPolicy
from oracle.service._chain import Chain
from oracle.service._epoch import EpochService
from oracle.service._evidence import EvidenceWriter
from oracle.service._models import ModelGovernance
from oracle.service._votes import VotePolicy, VoteService
from spamledger._settings import load_settings

FAST_RETRY = RetryPolicy(attempts=3, backoff=0.05)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def service_ipfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The embedded js-ipfs node on free loopback ports, stopped by PID at the end."""
    from node.ipfs import EvidenceStore, start_ipfs, stop_ipfs

    settings = load_settings(overrides={
        "data_dir": tmp_path_factory.mktemp("service-ipfs"),
        "ipfs_api": f"/ip4/127.0.0.1/tcp/{_free_port()}/http",
        "ipfs_gateway_port": _free_port()}, environ={})
    start_ipfs(settings)
    try:
        with EvidenceStore(settings.ipfs_api, timeout=20.0) as store:
            yield store
    finally:
        stop_ipfs(settings)


@dataclass
class OperatorRig:
    """One operator's oracle wired to the test chain and IPFS."""

    op: Operator
    account: object
    outbox: Outbox
    chain: Chain
    votes: VoteService
    epochs: EpochService
    models: ModelGovernance
    model_hash: bytes


def model_hash_for(country: str, version: int = 1) -> bytes:
    return hashlib.sha256(f"test-model-{country}-{version}".encode()).digest()


@pytest.fixture
def make_operator(consortium, service_ipfs, tmp_path: Path
                  ) -> Iterator[Callable[..., OperatorRig]]:
    """Factory: ``make_operator("US")`` -> an :class:`OperatorRig` with its own state."""
    rigs: list[OperatorRig] = []

    def make(country: str, batch_size: int = 40) -> OperatorRig:
        op = Operator.create(tmp_path, country).ensure_dirs()
        account = consortium.validators[country]
        outbox = Outbox(op.outbox_path)
        chain = Chain(consortium.ledger, account, outbox, FAST_RETRY)
        evidence = EvidenceWriter(service_ipfs, FAST_RETRY)
        mh = model_hash_for(country)
        votes = VoteService(op, chain, consortium.hasher, evidence, mh,
                            VotePolicy(batch_size=batch_size))
        rig = OperatorRig(op, account, outbox, chain, votes,
                          EpochService(op, chain, service_ipfs, consortium.hasher, FAST_RETRY),
                          ModelGovernance(op, chain, evidence, tolerance=0.02), mh)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.outbox.close()


def approve_models(rigs: list[OperatorRig]) -> None:
    """Every rig registers its model; every other country approves it (2 approvals needed)."""
    card = {"metrics": {"overall": {"precision": 0.96, "recall": 0.95}}}
    for rig in rigs:
        rig.models.register(rig.model_hash, card)
    for rig in rigs:
        for other in rigs:
            if other is not rig:
                other.models.approve(rig.model_hash, rig.chain.address)
    for rig in rigs:
        assert rig.chain.model_approved(rig.model_hash)
