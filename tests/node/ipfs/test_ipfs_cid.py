"""CIDs computed locally (unit) and compared with the real node's answers."""

from __future__ import annotations

import io
import random

import pytest

from node.ipfs import InvalidCid, cid_matches, compute_cid, compute_file_cid, parse_cid
from node.ipfs._cid import CHUNK_SIZE, MAX_LINKS, RAW
from node.ipfs._client import open_client

# Published Kubo results (`ipfs add` / `ipfs add --cid-version=1`).
KNOWN = [
    (b"", 0, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
    (b"", 1, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
    (b"hello", 0, "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX"),
    (b"hello", 1, "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"),
]


@pytest.mark.parametrize(("data", "version", "expected"), KNOWN)
def test_known_kubo_cids_are_reproduced(data: bytes, version: int, expected: str) -> None:
    assert str(compute_cid(data, cid_version=version)) == expected


def test_cid_strings_parse_and_print_canonically() -> None:
    v1 = parse_cid("bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq")
    assert (v1.version, v1.codec) == (1, RAW)
    # js-ipfs answers CIDv1 in base58btc; it is the same CID.
    assert parse_cid("zb2rhZfjRh2FHHB2RkHVEvL2vJnCTcu7kwRqgVsf9gpkLgteo") == v1
    v0 = parse_cid("QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX")
    assert (v0.version, v0.codec_name) == (0, "dag-pb")
    assert str(v0) == "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX"


@pytest.mark.parametrize("text", ["", "Qm123", "xyz", "bafk!!", "QmWfVY9y3xjsixTgbd9AorQxH7Vt"
                                  "Mpzfx2HaWtsoUYecaY0", "bafkreibm6jg3ux5qumhcn2b3f"])
def test_malformed_cid_is_refused_naming_it(text: str) -> None:
    with pytest.raises(InvalidCid) as caught:
        parse_cid(text)
    assert repr(text) in str(caught.value) or "non-empty" in str(caught.value)


def test_altered_bytes_do_not_match_their_cid() -> None:
    data = random.Random(1).randbytes(3 * CHUNK_SIZE + 5)
    for version in (0, 1):
        cid = compute_cid(data, cid_version=version)
        assert cid_matches(cid, data)
        assert not cid_matches(cid, data[:-1] + bytes([data[-1] ^ 1]))


def test_file_cid_equals_bytes_cid(tmp_path) -> None:
    data = random.Random(2).randbytes(2 * CHUNK_SIZE + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert compute_file_cid(path) == compute_cid(data)
    assert compute_file_cid(path, cid_version=0) == compute_cid(data, cid_version=0)


def test_raw_leaves_with_cidv0_is_refused() -> None:
    with pytest.raises(InvalidCid, match="CIDv1"):
        compute_cid(b"x", cid_version=0, raw_leaves=True)


SIZES = [0, 1, 2048, CHUNK_SIZE, CHUNK_SIZE + 1, 1 << 20]


def _node_cid(client, data: bytes, version: int, only_hash: bool = False) -> str:
    answer = client.add(io.BytesIO(data), cid_version=version, raw_leaves=version == 1,
                        pin=False, only_hash=only_hash)
    return str(parse_cid(answer["Hash"]))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("version", [0, 1])
def test_local_cid_equals_node_cid(ipfs_node, size: int, version: int) -> None:
    data = random.Random(size).randbytes(size)
    client = open_client(ipfs_node.api, 60)
    try:
        assert _node_cid(client, data, version) == str(compute_cid(data, cid_version=version))
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.parametrize("size", [MAX_LINKS * CHUNK_SIZE, MAX_LINKS * CHUNK_SIZE + 1, 46 << 20])
def test_local_cid_equals_node_cid_beyond_174_leaves(ipfs_node, size: int) -> None:
    data = random.Random(size).randbytes(size)
    client = open_client(ipfs_node.api, 120)
    try:
        for version in (0, 1):
            local = str(compute_cid(data, cid_version=version))
            # only-hash: the node's own importer chunks and hashes, but ~90 MB of
            # garbage blocks are not left behind for every later repo/gc to delete.
            assert _node_cid(client, data, version, only_hash=True) == local
    finally:
        client.close()
