"""Sending outbox actions as transactions, exactly once, and reconciling after a crash.

The order is what makes a crash harmless:

1. build and sign the transaction with the chain's pending nonce;
2. record it as ``sent`` (raw bytes, hash, nonce) in the outbox, in one SQLite transaction;
3. broadcast; 4. wait for the receipt; 5. record ``mined`` or ``failed`` (decoded reason).

A crash before 2 leaves nothing on chain and nothing recorded as sent. A crash after 2 is
settled by :meth:`Submitter.reconcile` before any new nonce is taken: a receipt settles it;
otherwise the identical bytes are broadcast again (same nonce: at most one can be mined);
if that nonce was consumed by another transaction, the actions go back to ``signed`` and
the caller's contract-state check (e.g. "has this validator voted in this round?") decides.

Example::

    sub = Submitter(w3, account, outbox, RetryPolicy())
    sub.reconcile()
    sub.send(["vote:..."], consensus, "castVotes", [votes, sigs])
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from oracle.service._errors import ChainUnavailable, ServiceError
from oracle.service._outbox import Action, Outbox, SentTx
from oracle.service._retry import RetryPolicy, chain_transient

logger = logging.getLogger(__name__)

AlreadyDone = Callable[[Action], "int | None"]


def failpoint(name: str) -> None:
    """Crash-test instrumentation: ``SPAMLEDGER_FAILPOINT=after_sent:0.3`` SIGKILLs this
    process at that point with probability 0.3. Unset (always, outside crash tests): no-op.
    """
    spec = os.environ.get("SPAMLEDGER_FAILPOINT", "")
    if not spec.startswith(name + ":"):
        return
    if random.random() < float(spec.partition(":")[2] or 1):
        logger.warning("failpoint %s: killing this process", name)
        os.kill(os.getpid(), signal.SIGKILL)


class WouldRevert(ServiceError):
    """Estimating the transaction showed it would revert; nothing was sent."""

    def __init__(self, fn_name: str, reason: str):
        super().__init__(f"{fn_name} would revert: {reason}")
        self.reason = reason


def _give_up(what: str, exc: BaseException) -> ChainUnavailable:
    return ChainUnavailable(f"chain unreachable while trying to {what}: {exc}")


class Submitter:
    """Signs and sends one account's transactions for outbox actions."""

    def __init__(self, w3: Any, account: Any, outbox: Outbox, retry: RetryPolicy, *,
                 receipt_timeout: float = 120.0, gas_margin: float = 1.2):
        self.w3, self.account, self.outbox, self.retry = w3, account, outbox, retry
        self._timeout, self._margin = receipt_timeout, gas_margin
        self._transient = chain_transient()
        self.gas_used: list[tuple[str, int, int]] = []  # (fn name, actions, gas) per tx

    # -- public -----------------------------------------------------------------------------

    def send(self, action_ids: list[str], contract: Any, fn_name: str,
             args: Sequence[Any], *, fail_on_revert: bool = True) -> dict[str, Any] | None:
        """Send ``contract.fn_name(*args)`` carrying ``action_ids``; returns the receipt.

        When the call would revert, nothing is sent: with ``fail_on_revert`` the actions are
        marked ``failed`` with the decoded reason and ``None`` is returned; without it
        :class:`WouldRevert` is raised and the actions stay as they were.
        """
        self.reconcile()
        call = getattr(contract.functions, fn_name)(*args)
        nonce = self._chain(lambda: self.w3.eth.get_transaction_count(
            self.account.address, "pending"), "read the pending nonce")
        tx = self._build(call, nonce, action_ids, fn_name, fail_on_revert)
        if tx is None:
            return None
        signed = self.account.sign_transaction(tx)
        sent = SentTx(hash="0x" + bytes(signed.hash).hex(), nonce=nonce,
                      raw=bytes(signed.raw_transaction))
        self.outbox.mark_sent(action_ids, sent)
        failpoint("after_sent")
        return self._settle(sent, fn_name)

    def reconcile(self, already_done: AlreadyDone | None = None) -> int:
        """Settle every transaction recorded as sent; returns how many were settled.

        :param already_done: for actions whose transaction vanished (nonce consumed
            elsewhere), returns the block where the contract shows the action done, or None.
        """
        settled = 0
        for sent in self.outbox.sent_txs():
            receipt = self._receipt(sent.hash)
            if receipt is None and self._nonce_consumed(sent.nonce):
                self._requeue(sent, already_done)
            else:
                self._settle(sent, "reconciled", receipt=receipt)
            settled += 1
        if settled:
            logger.info("outbox: reconciled %d transaction(s) left from a previous run",
                        settled)
        return settled

    # -- steps ------------------------------------------------------------------------------

    def _build(self, call: Any, nonce: int, action_ids: list[str], fn_name: str,
               fail_on_revert: bool) -> dict[str, Any] | None:
        from web3.exceptions import ContractLogicError

        params = {"from": self.account.address, "nonce": nonce,
                  "chainId": self._chain(lambda: self.w3.eth.chain_id, "read the chain id")}
        try:
            tx = self._chain(lambda: call.build_transaction(params), f"estimate {fn_name}")
        except ContractLogicError as exc:
            reason = self.decode_revert(exc)
            if not fail_on_revert:
                raise WouldRevert(fn_name, reason) from exc
            logger.error("%s would revert (%s); %d action(s) marked failed", fn_name, reason,
                         len(action_ids))
            for action_id in action_ids:
                self.outbox.mark_failed(action_id, reason)
            return None
        tx["gas"] = int(tx["gas"] * self._margin)
        self._check_balance(tx, fn_name)
        return tx

    def _check_balance(self, tx: dict[str, Any], fn_name: str) -> None:
        """Refuse, before anything is recorded as sent, a transaction the sender cannot pay."""
        from node import InsufficientFunds

        price = int(tx.get("maxFeePerGas") or tx.get("gasPrice") or 0)
        cost = int(tx["gas"]) * price + int(tx.get("value") or 0)
        balance = int(self._chain(lambda: self.w3.eth.get_balance(self.account.address),
                                  "read the balance"))
        if balance < cost:
            raise InsufficientFunds(self.account.address, balance, fn_name)

    def _settle(self, sent: SentTx, fn_name: str,
                receipt: dict[str, Any] | None = None) -> dict[str, Any] | None:
        if receipt is None:
            self._broadcast(sent)
            failpoint("after_broadcast")
            receipt = self._wait(sent.hash)
        block = int(receipt["blockNumber"])
        if receipt["status"] == 1:
            n = self.outbox.mark_tx_mined(sent.hash, block)
            self.gas_used.append((fn_name, n, int(receipt["gasUsed"])))
            logger.info("%s mined in block %d (%d action(s), gas %d)", fn_name, block, n,
                        receipt["gasUsed"])
            return receipt
        reason = self._replay_reason(sent, block)
        n = self.outbox.mark_tx_failed(sent.hash, reason)
        logger.error("%s reverted in block %d: %s (%d action(s) failed)", fn_name, block,
                     reason, n)
        return receipt

    def _broadcast(self, sent: SentTx) -> None:
        from web3.exceptions import Web3RPCError

        try:
            self._chain(lambda: self.w3.eth.send_raw_transaction(sent.raw),
                        f"broadcast tx {sent.hash}")
        except Web3RPCError as exc:
            # The node may already hold (or have mined) these exact bytes: not an error.
            text = str(exc).lower()
            if "insufficient funds" in text:
                from node import InsufficientFunds

                balance = int(self.w3.eth.get_balance(self.account.address))
                raise InsufficientFunds(self.account.address, balance, "a transaction") from exc
            if not any(s in text for s in ("already known", "nonce too low", "already")):
                raise
            logger.info("tx %s was already with the node (%s)", sent.hash, exc)

    def _wait(self, tx_hash: str) -> dict[str, Any]:
        return self._chain(lambda: self.w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=self._timeout, poll_latency=0.02), f"wait for tx {tx_hash}")

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        from web3.exceptions import TransactionNotFound

        try:
            return self._chain(lambda: self.w3.eth.get_transaction_receipt(tx_hash),
                               f"read receipt {tx_hash}")
        except TransactionNotFound:
            return None

    def _nonce_consumed(self, nonce: int) -> bool:
        latest = self._chain(lambda: self.w3.eth.get_transaction_count(
            self.account.address, "latest"), "read the nonce")
        return latest > nonce

    def _requeue(self, sent: SentTx, already_done: AlreadyDone | None) -> None:
        actions = self.outbox.tx_actions(sent.hash)
        self.outbox.requeue_tx(sent.hash)
        logger.warning("tx %s (nonce %d) was replaced; %d action(s) back to signed",
                       sent.hash, sent.nonce, len(actions))
        for action in actions:
            block = already_done(action) if already_done else None
            if block is not None:
                self.outbox.mark_mined(action.id, block)

    def _chain(self, fn: Callable[[], Any], what: str) -> Any:
        return self.retry.call(fn, what, self._transient, _give_up)

    # -- revert reasons ---------------------------------------------------------------------

    def _replay_reason(self, sent: SentTx, block: int) -> str:
        from web3.exceptions import ContractLogicError

        tx = self._chain(lambda: self.w3.eth.get_transaction(sent.hash), "read tx")
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"],
                "value": tx["value"], "gas": tx["gas"]}
        try:
            self.w3.eth.call(call, block_identifier=max(block - 1, 0))
        except ContractLogicError as exc:
            return self.decode_revert(exc)
        return "reverted (out of gas or state changed within the block)"

    @staticmethod
    def decode_revert(exc: Any) -> str:
        """A readable reason from a web3 revert: ``ErrorName(arg, ...)`` for custom errors."""
        data = getattr(exc, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str | bytes) and data:
            from node import decode_revert

            name, args = decode_revert(data)
            return f"{name}({', '.join(_show(a) for a in args)})"
        return str(getattr(exc, "message", None) or exc)


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()
