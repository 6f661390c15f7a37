"""Reconciling transactions left "sent" by a crash, against a real Anvil."""

from __future__ import annotations

from eth_account import Account

from migrations import fund_dev_accounts
from oracle.service import Outbox, RetryPolicy, Submitter
from oracle.service._outbox import MINED, SentTx


def _transfer(account, w3, nonce: int, value: int = 1):
    return account.sign_transaction({"to": Account.create().address, "value": value,
                                     "gas": 21_000, "gasPrice": w3.eth.gas_price,
                                     "nonce": nonce, "chainId": w3.eth.chain_id})


def _setup(consortium, tmp_path):
    account = Account.create()
    fund_dev_accounts(consortium.w3, [account.address])
    box = Outbox(tmp_path / "o.sqlite3")
    return account, box, Submitter(consortium.w3, account, box, RetryPolicy(3, 0.05))


def test_sent_but_never_broadcast_is_broadcast_once(consortium, tmp_path):
    account, box, sub = _setup(consortium, tmp_path)
    w3 = consortium.w3
    signed = _transfer(account, w3, 0)
    box.plan("a", "transfer", {})
    box.mark_sent(["a"], SentTx("0x" + bytes(signed.hash).hex(), 0,
                                bytes(signed.raw_transaction)))
    assert sub.reconcile() == 1  # the crash happened before the broadcast
    assert box.get("a").state == MINED
    assert sub.reconcile() == 0
    assert w3.eth.get_transaction_count(account.address) == 1


def test_sent_tx_whose_nonce_was_used_elsewhere_is_settled_by_contract_state(
        consortium, tmp_path):
    account, box, sub = _setup(consortium, tmp_path)
    w3 = consortium.w3
    ours = _transfer(account, w3, 0, value=1)
    other = _transfer(account, w3, 0, value=2)  # same nonce, different tx
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(other.raw_transaction))
    box.plan_many([("done", "vote", {}), ("todo", "vote", {})])
    box.mark_sent(["done", "todo"], SentTx("0x" + bytes(ours.hash).hex(), 0,
                                           bytes(ours.raw_transaction)))
    sub.reconcile(already_done=lambda action: 7 if action.id == "done" else None)
    assert box.get("done").state == MINED and box.get("done").block == 7
    assert box.get("todo").state == "signed"  # to be sent again with a fresh nonce
    assert w3.eth.get_transaction_count(account.address) == 1


def test_an_unfunded_account_is_refused_before_anything_is_recorded_as_sent(
        consortium, tmp_path):
    import pytest

    from node import InsufficientFunds

    poor = Account.create()
    box = Outbox(tmp_path / "o.sqlite3")
    sub = Submitter(consortium.w3, poor, box, RetryPolicy(3, 0.05))
    box.plan("model", "model", {})
    with pytest.raises(InsufficientFunds) as info:  # a call that cannot revert: only gas
        sub.send(["model"], consortium.ledger.contract("ValidatorSet"), "validatorCount", [])
    assert poor.address in str(info.value) and "has 0 ETH" in str(info.value)
    assert box.get("model").state == "planned"
    assert box.sent_txs() == []
    box.close()
