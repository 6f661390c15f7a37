"""Content types evidence may have, and checks that the bytes really are of that type.

IPFS stores no content type, so the check happens before upload: the declared type must
be allowed, and the bytes must look like it (JSON parses, PDFs start with ``%PDF-``, text
is UTF-8, ...). This keeps executables and arbitrary binaries out of the evidence store.

Example::

    >>> check_content(b'{"a": 1}', "application/json; charset=utf-8", DEFAULT_ALLOWED_TYPES)
    'application/json'
"""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path

from node.ipfs._errors import BadContentType

logger = logging.getLogger(__name__)

JSON = "application/json"
# NumPy's .npz (a zip of plain arrays, read with allow_pickle=False): the arrays of the
# portable models operators share (oracle._portable).
NPZ = "application/x-npz"
DEFAULT_ALLOWED_TYPES: frozenset[str] = frozenset({
    JSON,
    NPZ,
    "application/x-ndjson",
    "application/pdf",
    "application/vnd.apache.parquet",
    "text/plain",
    "text/csv",
    "text/markdown",
    "image/png",
    "image/jpeg",
})
_SUFFIX_TYPES = {
    ".json": JSON,
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".parquet": "application/vnd.apache.parquet",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".npz": NPZ,
}


def normalize_type(content_type: str) -> str:
    """``"Text/Plain; charset=UTF-8"`` -> ``"text/plain"``; refuses non-UTF-8 charsets."""
    if not isinstance(content_type, str) or not content_type.strip():
        raise BadContentType("a content type is required (e.g. application/json)")
    base, _, params = content_type.partition(";")
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value.strip('"').lower() not in {"utf-8", "utf8"}:
            raise BadContentType(f"charset {value!r} is not allowed: evidence text is UTF-8")
    return base.strip().lower()


def guess_type(path: Path) -> str:
    """Content type from a file name; ``BadContentType`` when it cannot be told."""
    found = _SUFFIX_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    if not found:
        raise BadContentType(f"cannot tell the content type of {path.name!r} from its "
                             f"suffix: pass content_type explicitly")
    return found


def _is_utf8_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 at byte {exc.start}"
    return "contains NUL bytes" if "\0" in text else None


def _is_json(data: bytes) -> str | None:
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"not valid JSON ({exc})"
    return None


def _is_ndjson(data: bytes) -> str | None:
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip() and (problem := _is_json(line)):
            return f"line {number}: {problem}"
    return None


def _magic(head: bytes, tail: bytes = b"") -> Callable[[bytes], str | None]:
    def check(data: bytes) -> str | None:
        if data.startswith(head) and data.endswith(tail):
            return None
        return f"does not start with the {head!r} signature" if not data.startswith(head) \
            else f"does not end with the {tail!r} signature"
    return check


_SNIFFERS: dict[str, Callable[[bytes], str | None]] = {
    JSON: _is_json,
    "application/x-ndjson": _is_ndjson,
    "application/pdf": _magic(b"%PDF-"),
    "application/vnd.apache.parquet": _magic(b"PAR1", b"PAR1"),
    "image/png": _magic(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": _magic(b"\xff\xd8\xff"),
    NPZ: _magic(b"PK\x03\x04"),
}


def check_content(data: bytes, content_type: str, allowed: Iterable[str]) -> str:
    """Return the normalized type if allowed and ``data`` matches it, else raise.

    Raises :class:`BadContentType` naming the type and what is wrong.
    """
    kind = normalize_type(content_type)
    allowed_set = frozenset(allowed)
    if kind not in allowed_set:
        raise BadContentType(f"content type {kind!r} is not allowed "
                             f"(allowed: {', '.join(sorted(allowed_set))})")
    sniff = _SNIFFERS.get(kind) or (_is_utf8_text if kind.startswith("text/") else None)
    problem = sniff(data) if sniff else None
    if problem:
        raise BadContentType(f"bytes declared as {kind} are not: {problem}")
    return kind
