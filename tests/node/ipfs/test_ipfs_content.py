"""Content-type checks and the erasure log (unit tests, no node)."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.ipfs import DEFAULT_ALLOWED_TYPES, BadContentType, compute_cid
from node.ipfs._content import check_content, guess_type
from node.ipfs._erasure import ErasureLog


@pytest.mark.parametrize(("data", "kind"), [
    (b'{"a": [1, 2]}', "application/json; charset=utf-8"),
    (b'{"a": 1}\n\n{"b": 2}\n', "application/x-ndjson"),
    (b"%PDF-1.4\n...", "application/pdf"),
    (b"PAR1....PAR1", "application/vnd.apache.parquet"),
    ("h\u00e9llo".encode(), "Text/Plain"),
])
def test_allowed_types_with_matching_bytes_pass(data: bytes, kind: str) -> None:
    assert check_content(data, kind, DEFAULT_ALLOWED_TYPES) == kind.split(";")[0].lower()


@pytest.mark.parametrize(("data", "kind", "message"), [
    (b"{", "application/json", "not valid JSON"),
    (b'{"a": 1}\n{oops\n', "application/x-ndjson", "line 2"),
    (b"\xff\xfe", "text/plain", "not UTF-8 at byte 0"),
    (b"a\0b", "text/csv", "NUL"),
    (b"PAR1 truncated", "application/vnd.apache.parquet", "end with"),
    (b"x", "text/plain; charset=latin-1", "charset"),
    (b"x", "application/zip", "not allowed"),
    (b"x", "", "content type is required"),
])
def test_bad_content_is_refused_saying_why(data: bytes, kind: str, message: str) -> None:
    with pytest.raises(BadContentType, match=message):
        check_content(data, kind, DEFAULT_ALLOWED_TYPES)


def test_type_is_guessed_from_the_suffix() -> None:
    assert guess_type(Path("a.JSON")) == "application/json"
    assert guess_type(Path("snap.parquet")) == "application/vnd.apache.parquet"
    with pytest.raises(BadContentType, match="content_type"):
        guess_type(Path("noext"))


def test_erasure_log_survives_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "erasures.jsonl"
    cid = compute_cid(b"gone")
    ErasureLog(path).record(cid, "request 1")
    with path.open("a") as handle:
        handle.write('{"cid": "bafk')  # crash mid-append
    fresh = ErasureLog(path)
    record = fresh.lookup(cid)
    assert record is not None and record.reason == "request 1"
    assert fresh.lookup(compute_cid(b"kept")) is None
    after = compute_cid(b"after the crash")
    fresh.record(after, "request 3")
    assert ErasureLog(path).lookup(after) is not None


def test_erasure_log_sees_appends_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "erasures.jsonl"
    reader, writer = ErasureLog(path), ErasureLog(path)
    cid = compute_cid(b"later")
    assert reader.lookup(cid) is None
    writer.record(cid, "request 2")
    assert reader.lookup(cid) is not None
