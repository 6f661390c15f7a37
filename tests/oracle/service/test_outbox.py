"""The outbox records each intended action once and survives reopening."""

from __future__ import annotations

import pytest

from oracle.service import Outbox, OutboxError
from oracle.service._outbox import FAILED, MINED, PLANNED, SENT, SIGNED, SentTx


def test_planning_the_same_action_twice_keeps_one(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    first = box.plan("vote:1", "vote", {"score": 1})
    again = box.plan("vote:1", "vote", {"score": 999})
    assert first == again and again.payload == {"score": 1}
    assert box.counts() == {PLANNED: 1}


def test_lifecycle_survives_reopening(tmp_path):
    path = tmp_path / "o.sqlite3"
    with Outbox(path) as box:
        box.plan_many([("a", "vote", {}), ("b", "vote", {})])
        box.mark_signed("a", {"sig": "0x01"})
        box.mark_signed("b", {"sig": "0x02"})
        box.mark_sent(["a", "b"], SentTx("0xaa", 7, b"raw"))
    with Outbox(path) as box:
        assert [t.nonce for t in box.sent_txs()] == [7]
        assert box.sent_txs()[0].raw == b"raw"
        assert box.mark_tx_mined("0xaa", 42) == 2
        assert box.get("a").state == MINED and box.get("a").block == 42
        assert box.sent_txs() == []


def test_reverted_tx_fails_its_actions_with_the_reason(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.plan("a", "finalize", {})
    box.mark_sent(["a"], SentTx("0xbb", 0, b"r"))
    box.mark_tx_failed("0xbb", "QuorumNotReached(0x.., 10, 20)")
    action = box.get("a")
    assert action.state == FAILED and "QuorumNotReached" in action.error


def test_requeued_tx_returns_actions_to_signed(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.plan("a", "vote", {})
    box.mark_sent(["a"], SentTx("0xcc", 3, b"r"))
    assert box.requeue_tx("0xcc") == 1
    assert box.get("a").state == SIGNED and box.get("a").tx_hash is None


def test_a_mined_action_cannot_be_sent_again(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.plan("a", "vote", {})
    box.mark_sent(["a"], SentTx("0xdd", 0, b"r"))
    box.mark_tx_mined("0xdd", 1)
    with pytest.raises(OutboxError, match="is mined"):
        box.mark_sent(["a"], SentTx("0xee", 1, b"r"))
    assert box.get("a").tx_hash == "0xdd"


def test_failed_mark_sent_leaves_nothing_half_written(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.plan("a", "vote", {})
    with pytest.raises(OutboxError, match="no action"):
        box.mark_sent(["a", "missing"], SentTx("0xff", 0, b"r"))
    assert box.get("a").state == PLANNED
    assert box.sent_txs() == []


def test_open_actions_filter_by_kind_and_state(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.plan_many([("v1", "vote", {}), ("o1", "open", {}), ("v2", "vote", {})])
    box.mark_sent(["v2"], SentTx("0x11", 0, b"r"))
    assert [a.id for a in box.actions(kind="vote")] == ["v1", "v2"]
    assert [a.id for a in box.actions([SENT])] == ["v2"]


def test_meta_values_persist(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.get_meta("cursor") is None
    box.set_meta("cursor", "17")
    box.set_meta("cursor", "18")
    assert Outbox(tmp_path / "o.sqlite3").get_meta("cursor") == "18"
