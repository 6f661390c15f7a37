"""The evidence store against the real js-ipfs node."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from node.ipfs import (
    BadContentType,
    Erased,
    EvidenceError,
    EvidenceStore,
    InvalidCid,
    NodeUnreachable,
    NotFound,
    ReadTimedOut,
    TamperedContent,
    TooLarge,
    compute_cid,
    compute_file_cid,
    parse_cid,
)
from node.ipfs._cid import CHUNK_SIZE
from node.ipfs._client import open_client

from .conftest import free_port

EVIDENCE = {"dispute": 7, "number_key": "0x" + "ab" * 32, "claim": "registered pharmacy"}


def test_json_round_trip_returns_the_same_document(store: EvidenceStore) -> None:
    cid = store.put_json(EVIDENCE)
    assert cid.startswith("bafk")
    assert store.get_json(cid) == EVIDENCE
    assert store.put_json(dict(reversed(EVIDENCE.items()))) == cid


def test_stored_cid_equals_the_independently_computed_one(store: EvidenceStore) -> None:
    data = b"callee,calls\n" + b"".join(
        f"{i:08d},{i % 97}\n".encode() for i in range(70_000))
    assert len(data) > 2 * CHUNK_SIZE
    cid = store.put_bytes(data, "text/csv")
    assert parse_cid(cid) == compute_cid(data)
    assert cid.startswith("bafy")
    assert store.get(cid) == data


def test_file_over_one_chunk_round_trips(store: EvidenceStore, tmp_path: Path) -> None:
    path = tmp_path / "scores.jsonl"
    path.write_text("".join(json.dumps({"k": i, "s": i % 10001}) + "\n"
                            for i in range(30_000)))
    assert path.stat().st_size > CHUNK_SIZE
    cid = store.put_file(path)
    assert parse_cid(cid) == compute_file_cid(path)
    assert store.get(cid) == path.read_bytes()


def test_cidv0_store_round_trips(ipfs_node) -> None:
    data = b"%PDF-1.7\n" + random.Random(3).randbytes(300_000)
    with ipfs_node.store(cid_version=0) as store_v0:
        cid = store_v0.put_bytes(data, "application/pdf")
        assert cid.startswith("Qm")
        assert cid == str(compute_cid(data, cid_version=0))
        assert store_v0.get(cid) == data


def test_batched_put_and_get_keep_order(store: EvidenceStore) -> None:
    docs = [{"vote": i, "evidence": "x" * (i % 50)} for i in range(150)]
    cids = store.put_json_many(docs)
    assert len(set(cids)) == len(docs)
    assert store.get_json_many(cids) == docs


def test_tampered_response_is_rejected(store: EvidenceStore, tampering_proxy: str) -> None:
    cid = store.put_json(EVIDENCE)
    with EvidenceStore(tampering_proxy, timeout=10) as through_proxy:
        with pytest.raises(TamperedContent, match="do not hash"):
            through_proxy.get(cid)
        # Writes pass through the proxy unaltered and still verify.
        assert through_proxy.put_json({"via": "proxy"}) == str(
            compute_cid(b'{"via":"proxy"}'))


def test_oversized_upload_is_refused_naming_the_limit(ipfs_node) -> None:
    with ipfs_node.store(max_bytes=100) as small:
        with pytest.raises(TooLarge, match="limit is 100 bytes"):
            small.put_bytes(b"a" * 101, "text/plain")
        with pytest.raises(TooLarge, match="item 1 is 200 bytes"):
            small.put_many([(b"ok", "text/plain"), (b"b" * 200, "text/plain")])


def test_oversized_download_is_refused_naming_the_limit(store, ipfs_node) -> None:
    cid = store.put_bytes(b"z" * 5000, "text/plain")
    with ipfs_node.store(max_bytes=1000) as small, \
            pytest.raises(TooLarge, match="limit of 1000 bytes"):
        small.get(cid)


def test_wrong_content_type_is_refused_naming_the_allowed_ones(store: EvidenceStore) -> None:
    with pytest.raises(BadContentType, match=r"application/x-msdownload.*not allowed.*"
                                             r"application/json"):
        store.put_bytes(b"MZ\x90\x00", "application/x-msdownload")
    with pytest.raises(BadContentType, match="not valid JSON"):
        store.put_bytes(b"{not json", "application/json")
    with pytest.raises(BadContentType, match="%PDF-"):
        store.put_bytes(b"<html>", "application/pdf")


def test_unreachable_node_gives_one_error_naming_the_address(tmp_path) -> None:
    address = f"/ip4/127.0.0.1/tcp/{free_port()}/http"
    with EvidenceStore(address, timeout=3) as dead:
        with pytest.raises(NodeUnreachable, match=address):
            dead.put_json(EVIDENCE)
        with pytest.raises(NodeUnreachable, match=address):
            dead.get(str(compute_cid(b"anything")))


def test_erase_then_read_says_erased(store: EvidenceStore, ipfs_node, tmp_path) -> None:
    document = {"privacy": "subject", "n": random.random()}
    cid = store.put_json(document)
    store.erase(cid, reason="privacy request #3")
    with pytest.raises(Erased, match="erased") as caught:
        store.get(cid)
    assert "privacy request #3" in str(caught.value)
    assert caught.value.http_status == 410
    with pytest.raises(Erased, match="not stored again"):
        store.put_json(document)
    # Another store on the same log (e.g. the API process) knows it too.
    with ipfs_node.store(erasure_log=tmp_path / "erasures.jsonl") as other:
        assert other.is_erased(cid)
    # And the node really dropped it, by its own listings (not by a read timing out).
    assert store.presence(cid).absent
    with ipfs_node.store(timeout=2) as forgetful, pytest.raises(NotFound, match="refs/local"):
        forgetful.get(cid)


def test_erasure_is_proven_by_the_node_pin_and_block_listings(store: EvidenceStore) -> None:
    data = _text(3 * CHUNK_SIZE)  # a root and three leaf blocks
    cid = store.put_bytes(data, "text/plain")
    before = store.presence(cid)
    assert before.pinned and len(before.blocks_left) == 4 and not before.absent
    store.erase(cid, reason="privacy request #4")
    after = store.presence(cid)
    assert (after.pinned, after.blocks_left, after.absent) == (False, (), True)


def test_erasure_that_leaves_a_block_on_the_node_fails_naming_it(store: EvidenceStore) -> None:
    shared = _text(CHUNK_SIZE)
    erased = store.put_bytes(shared + _text(CHUNK_SIZE), "text/plain")
    # Another pinned document holds the same first chunk: gc cannot drop that block.
    store.put_bytes(shared + _text(CHUNK_SIZE), "text/plain")
    with pytest.raises(EvidenceError, match=r"incomplete: 1 of its 3 block\(s\)") as caught:
        store.erase(erased, reason="privacy request #5")
    assert str(compute_cid(shared)) in str(caught.value)
    assert store.presence(erased).blocks_left == (str(compute_cid(shared)),)


def _text(size: int) -> bytes:
    return random.randbytes(size // 2).hex().encode()


def test_a_slow_node_never_passes_as_erased(store: EvidenceStore, slow_proxy: str) -> None:
    cid = store.put_json({"still": "here", "n": random.random()})
    with EvidenceStore(slow_proxy, timeout=1.0) as slow:
        with pytest.raises(ReadTimedOut):  # not NotFound: a timeout proves nothing
            slow.get(cid)
        with pytest.raises(ReadTimedOut):
            slow.presence(cid)
        with pytest.raises(NodeUnreachable):
            slow.erase(cid)
    assert store.presence(cid).pinned


@pytest.mark.slow
def test_erase_completes_with_much_garbage_on_the_node(store: EvidenceStore, ipfs_node) -> None:
    # Regression: a quiet repo/gc on js-ipfs stopped part-way with ~800 garbage blocks.
    client = open_client(ipfs_node.api, 120)
    try:
        garbage = [io.BytesIO(random.randbytes(64)) for _ in range(1000)]
        for index, stream in enumerate(garbage):
            stream.name = f"g{index}"
        client.add(*garbage, cid_version=1, raw_leaves=True, pin=False)
    finally:
        client.close()
    cid = store.put_bytes(random.randbytes(32).hex().encode(), "text/plain")
    store.erase(cid)
    assert store.presence(cid).absent


def test_erase_is_idempotent(store: EvidenceStore) -> None:
    cid = store.put_bytes(b"erase me twice", "text/plain")
    first = store.erase(cid)
    assert store.erase(cid) == first
    assert store.unpin(cid) is False


def test_pin_and_unpin(store: EvidenceStore) -> None:
    cid = store.put_bytes(b"pinned evidence", "text/plain")
    assert store.unpin(cid) is True
    assert store.unpin(cid) is False
    store.pin(cid)
    assert store.unpin(cid) is True


def test_absent_document_is_not_found(ipfs_node) -> None:
    never_added = str(compute_cid(b"never added " + random.randbytes(16)))
    with ipfs_node.store(timeout=2) as quick, pytest.raises(NotFound, match=never_added):
        quick.get(never_added)


def test_malformed_cid_is_refused(store: EvidenceStore) -> None:
    with pytest.raises(InvalidCid):
        store.get("not-a-cid")
