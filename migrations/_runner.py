"""Runs the ordered contract migrations that have not yet been applied on a chain.

Each step (``migrations/steps/mNNN_*.py``) exposes ``NAME`` and ``apply(ctx)``. Every
transaction a step sends goes through :class:`MigrationContext`, which records the signed
transaction (hash and raw bytes) in the deployment record *before* sending it. A re-run
therefore never sends a step's transaction twice: it looks up the receipt of the recorded one
(re-broadcasting the same raw bytes if the node lost it). A failed step is marked ``failed``
with its error; the next run retries from that step.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TransactionNotFound

from node import ContractRevert, Deployment, Ledger, load_artifact
from node._client import POLL_LATENCY, RECEIPT_TIMEOUT
from node._errors import DeploymentError, MigrationError, NodeError

logger = logging.getLogger(__name__)


def discover_steps() -> list[ModuleType]:
    """The step modules, in their numeric order."""
    from migrations import steps

    names = sorted(m.name for m in pkgutil.iter_modules(steps.__path__) if m.name.startswith("m"))
    return [importlib.import_module(f"migrations.steps.{n}") for n in names]


@dataclass
class MigrationContext:
    """What a step may use: the chain, the record, the deployer and recorded sends."""

    w3: Web3
    deployment: Deployment
    deployer: LocalAccount
    step: str
    params: dict[str, Any]

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.w3, self.deployment, self.deployer)

    def address(self, name: str) -> str:
        return self.deployment.address(name)

    def deploy(self, name: str, *args: Any) -> str:
        """Deploy contract ``name`` (once per record); returns its address."""
        if name in self.deployment.contracts:
            return self.deployment.address(name)
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self._send(f"deploy:{name}", lambda p: factory.constructor(*args)
                             .build_transaction(p))
        self.deployment.contracts[name] = {
            "address": receipt["contractAddress"], "tx_hash": receipt["transactionHash"].hex(),
            "block": receipt["blockNumber"], "bytecode_sha256": artifact.bytecode_hash,
            "step": self.step, "constructor_args": [_jsonable(a) for a in args]}
        self.deployment.save()
        return str(receipt["contractAddress"])

    def transact(self, label: str, contract: str, fn: str, *args: Any) -> Any:
        """Call ``contract.fn(*args)`` once per ``label`` in this step."""
        func = getattr(self.ledger.contract(contract).functions, fn)(*args)
        return self._send(label, lambda p: func.build_transaction(p), contract, fn)

    def _send(self, label: str, build: Callable[[dict[str, Any]], dict[str, Any]],
              contract: str = "", fn: str = "") -> Any:
        txs = self.deployment.steps[self.step].setdefault("txs", {})
        if label not in txs:
            txs[label] = self._sign(build, contract, fn)
            self.deployment.save()  # recorded before sent: a crash cannot double it
        return self._settle(txs[label], label, contract, fn)

    def _sign(self, build: Callable[[dict[str, Any]], dict[str, Any]],
              contract: str, fn: str) -> dict[str, Any]:
        nonce = self.w3.eth.get_transaction_count(self.deployer.address, "pending")
        try:
            tx = build({"from": self.deployer.address, "nonce": nonce})
        except Exception as exc:
            from node._client import _revert_from

            raise _revert_from(exc, contract or "constructor", fn or "deploy") from exc
        signed = self.deployer.sign_transaction(tx)
        return {"hash": "0x" + bytes(signed.hash).hex(),
                "raw": "0x" + bytes(signed.raw_transaction).hex(), "nonce": nonce}

    def _settle(self, rec: dict[str, Any], label: str, contract: str, fn: str) -> Any:
        receipt = self._receipt(rec["hash"])
        if receipt is None:
            self.w3.eth.send_raw_transaction(rec["raw"])
            receipt = self.w3.eth.wait_for_transaction_receipt(
                rec["hash"], timeout=RECEIPT_TIMEOUT, poll_latency=POLL_LATENCY)
        if receipt["status"] != 1:
            raise MigrationError(f"{self.step}: transaction {label} ({rec['hash']}) reverted")
        rec["block"] = receipt["blockNumber"]
        rec.pop("raw", None)
        self.deployment.save()
        return receipt

    def _receipt(self, tx_hash: str) -> Any:
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def check_record_matches_chain(w3: Web3, deployment: Deployment) -> None:
    """A record whose contracts have no code on the chain belongs to another chain history."""
    for name, info in deployment.contracts.items():
        if not w3.eth.get_code(info["address"]):
            raise DeploymentError(
                f"{name} at {info['address']} has no code on this chain: the deployment record "
                f"{deployment.path} is stale (chain reset?); move it away and deploy again")


def run_migrations(w3: Web3, deployment: Deployment, deployer: LocalAccount,
                   params: dict[str, Any] | None = None) -> Deployment:
    """Apply every step not yet applied; stops at the first failure, recording it."""
    check_record_matches_chain(w3, deployment)
    for module in discover_steps():
        name = module.__name__.rsplit(".", 1)[-1]
        state = deployment.steps.setdefault(name, {"status": "pending"})
        if state.get("status") == "applied":
            continue
        _run_step(module, name, state, w3, deployment, deployer, params or {})
    return deployment


def _run_step(module: ModuleType, name: str, state: dict[str, Any], w3: Web3,
              deployment: Deployment, deployer: LocalAccount, params: dict[str, Any]) -> None:
    state.update(status="running", started_at=time.time())
    state.pop("error", None)
    deployment.save()
    ctx = MigrationContext(w3, deployment, deployer, name, params)
    try:
        module.apply(ctx)
    except (NodeError, ContractRevert, ValueError) as exc:
        state.update(status="failed", error=str(exc), failed_at=time.time())
        deployment.save()
        raise MigrationError(f"migration {name} failed: {exc}; the next run retries it") from exc
    state.update(status="applied", applied_at=time.time())
    deployment.save()
    logger.info("migration %s applied", name)
