"""Vectorised normalization of whole columns of raw numbers: a table fast path, then
libphonenumber for the rest.

Strings that are already E.164 or international (``+`` then digits, spaces, hyphens) and
plain national strings of a home region with generated tables (digits, spaces, hyphens,
parentheses) are looked up, all at once with Arrow and NumPy, in the prefix tables that
:mod:`spamledger._numtables` generated from libphonenumber's metadata. Whatever the tables
do not decide - other shapes, regions without tables, rare lengths, prefixes that would
need libphonenumber's context rules - goes to :func:`spamledger._numbers.normalize`. The
result is libphonenumber's on every string (``tests/spamledger/test_fastnumbers.py``
checks every distinct string of the real data and of a simulated 10M-row call file).

Example::

    out = normalize_arrays(pa.array(["+14155550123", "(415) 555-0123"]), pa.array(["US"] * 2))
    out["e164"], out["region"], out["ntype"], out["reason"]     # Arrow string arrays
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from spamledger._numbers import MAX_RAW_LENGTH, InvalidNumber, normalize
from spamledger._numtables import MAX_DIGITS, NATIONAL_BASE, load_tables

logger = logging.getLogger(__name__)

_INTL = r"^\+[1-9][0-9 \-]*[0-9]$"
_NATIONAL = r"^[0-9(][0-9 ()\-]*[0-9]$"
_SPAN = 10 ** MAX_DIGITS
COLUMNS = ("e164", "region", "ntype", "reason")
CHUNK = 1 << 20        # strings normalized per pass


@dataclass
class _Index:
    """All generated tables as one sorted array of integer keys (see :func:`_key`)."""

    starts: np.ndarray
    ends: np.ndarray
    outcome: np.ndarray          # index into the outcome columns below
    reason: np.ndarray
    region: np.ndarray
    ntype: np.ndarray
    strip: np.ndarray
    regions: pa.Array            # home regions with national tables ...
    region_gid: np.ndarray       # ... and their group ids
    gid_cc: np.ndarray           # calling code of every group id


@functools.lru_cache(maxsize=1)
def _index() -> _Index | None:
    doc = load_tables()
    if doc is None:
        return None
    starts, ends, idx = [], [], []
    for t in doc["tables"]:
        base = (t["gid"] * 16 + t["length"]) * _SPAN
        starts.append(np.asarray(t["starts"], dtype=np.int64) + base)
        ends.append(np.asarray(t["ends"], dtype=np.int64) + base)
        idx.append(np.asarray(t["outcomes"], dtype=np.int64))
    s, e, o = (np.concatenate(a) if a else np.zeros(0, np.int64) for a in (starts, ends, idx))
    order = np.argsort(s, kind="stable")
    out = list(zip(*doc["outcomes"], strict=True)) if doc["outcomes"] else [(), (), (), ()]
    gids = {t["region"]: t["gid"] for t in doc["tables"] if t["region"]}
    gid_cc = np.zeros(NATIONAL_BASE * 2, dtype=np.int64)
    for t in doc["tables"]:
        gid_cc[t["gid"]] = t["cc"]
    return _Index(s[order], e[order], o[order], np.array(out[0], dtype=object),
                  np.array(out[1], dtype=object), np.array(out[2], dtype=object),
                  np.array(out[3], dtype=np.int64), pa.array(list(gids), pa.string()),
                  np.array(list(gids.values()), dtype=np.int64), gid_cc)


def _valid_cc() -> np.ndarray:
    valid = np.zeros(1000, dtype=bool)
    valid[list(COUNTRY_CODE_TO_REGION_CODE)] = True
    return valid


_VALID_CC = _valid_cc()


def _country_code(digits: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(calling code, its digit count) of each ``+`` string's digits (0 when unassigned).

    Codes are prefix-free: the first 1, 2 or 3 digits that form an assigned code are it,
    as in libphonenumber's ``_extract_country_code``.
    """
    cc = np.zeros(len(digits), dtype=np.int64)
    width = np.zeros(len(digits), dtype=np.int64)
    for w in (3, 2, 1):   # shortest wins: assign the longer ones first, overwrite after
        head = pc.cast(pc.utf8_slice_codeunits(digits, 0, w), pa.int64()).to_numpy(
            zero_copy_only=False)
        ok = _VALID_CC[head] & (pc.utf8_length(digits).to_numpy(zero_copy_only=False) > w)
        cc[ok], width[ok] = head[ok], w
    return cc, width


def _tail(digits: pa.Array, start: np.ndarray) -> pa.Array:
    """``digits[i][start[i]:]`` for every i (few distinct starts: one slice per start)."""
    out = digits
    for s in np.unique(start):
        if s:
            sliced = pc.utf8_slice_codeunits(digits, int(s))
            out = pc.if_else(pa.array(start == s), sliced, out)
    return out


def normalize_arrays(raw: pa.Array, region: pa.Array) -> dict[str, pa.Array]:
    """Normalize ``raw`` strings (national ones read in ``region``, an ISO code or null).

    :returns: ``e164``, ``region``, ``ntype`` (null when invalid) and ``reason`` (null
        when valid) as string arrays aligned with ``raw``.
    """
    raw = pc.cast(raw, pa.string())
    region = pc.utf8_upper(pc.cast(region, pa.string()))
    n = len(raw)
    if n > CHUNK:  # bounded working memory: the per-string arrays of one chunk at a time
        parts = [normalize_arrays(raw.slice(i, CHUNK), region.slice(i, CHUNK))
                 for i in range(0, n, CHUNK)]
        return {c: pa.concat_arrays([p[c] for p in parts]) for c in COLUMNS}
    out = {c: np.full(n, None, dtype=object) for c in COLUMNS}
    decided = np.zeros(n, dtype=bool)
    index = _index()
    if index is not None and n:
        decided = _fast(raw, region, index, out)
    rest = np.flatnonzero(~decided)
    raws, regions = raw.to_numpy(zero_copy_only=False), region.to_numpy(zero_copy_only=False)
    for i in rest:
        _slow(raws[i], regions[i], out, int(i))
    logger.debug("normalized %d strings: %d from tables, %d by libphonenumber", n,
                 n - len(rest), len(rest))
    return {c: pa.array(out[c], pa.string()) for c in COLUMNS}


def _slow(raw: str | None, region: str | None, out: dict[str, np.ndarray], i: int) -> None:
    try:
        num = normalize(raw or "", region)
    except InvalidNumber as exc:
        out["reason"][i] = exc.reason
        return
    out["e164"][i], out["region"][i], out["ntype"][i] = num.e164, num.region, num.type


def _fast(raw: pa.Array, region: pa.Array, index: _Index,
          out: dict[str, np.ndarray]) -> np.ndarray:
    """Fill ``out`` for the strings the tables decide; return which ones they were."""
    short = pc.fill_null(pc.less_equal(pc.utf8_length(raw), MAX_RAW_LENGTH), False)
    intl = pc.and_(short, pc.fill_null(pc.match_substring_regex(raw, _INTL), False))
    at = pc.fill_null(pc.index_in(region, value_set=index.regions), -1).to_numpy(
        zero_copy_only=False)
    nat_gid = np.where(at >= 0, np.append(index.region_gid, 0)[at], 0)
    national = pc.and_(pc.and_(short, pc.invert(intl)),
                       pc.fill_null(pc.match_substring_regex(raw, _NATIONAL), False))
    is_intl = intl.to_numpy(zero_copy_only=False)
    is_nat = national.to_numpy(zero_copy_only=False) & (nat_gid > 0)
    digits = pc.replace_substring_regex(pc.fill_null(raw, ""), "[^0-9]", "")
    cc, width = _country_code(pc.if_else(pa.array(is_intl), digits, "0"))
    gid = np.where(is_intl, cc, np.where(is_nat, nat_gid, 0))
    cc = np.where(is_intl, cc, index.gid_cc[nat_gid])
    national_digits = _tail(digits, np.where(is_intl, width, 0))
    length = pc.utf8_length(national_digits).to_numpy(zero_copy_only=False).astype(np.int64)
    ok = (gid > 0) & (length >= 1) & (length <= MAX_DIGITS) & (is_intl | is_nat)
    ok &= np.where(is_intl, width + length >= 4, length >= 3)
    value = pc.cast(pc.if_else(pa.array(ok), national_digits, "0"), pa.int64()).to_numpy(
        zero_copy_only=False)
    key = (gid * 16 + length) * _SPAN + value
    pos = np.searchsorted(index.starts, key, side="right") - 1
    hit = ok & (pos >= 0)
    hit &= key <= index.ends[np.clip(pos, 0, None)]
    oc = index.outcome[np.clip(pos, 0, None)]
    _fill(out, hit, oc, index, cc, national_digits)
    return hit


def _fill(out: dict[str, np.ndarray], hit: np.ndarray, oc: np.ndarray, index: _Index,
          cc: np.ndarray, national_digits: pa.Array) -> None:
    reason = np.where(hit, index.reason[oc], None)
    valid = hit & np.array([r is None for r in reason], dtype=bool)
    strip = np.where(valid, index.strip[oc], 0)
    nsn = _tail(national_digits, strip)
    prefix = pc.binary_join_element_wise("+", pc.cast(pa.array(cc), pa.string()), "")
    e164 = pc.binary_join_element_wise(prefix, nsn, "").to_numpy(zero_copy_only=False)
    out["e164"][valid] = e164[valid]
    out["region"][valid] = index.region[oc][valid]
    out["ntype"][valid] = index.ntype[oc][valid]
    invalid = hit & ~valid
    out["reason"][invalid] = reason[invalid]
