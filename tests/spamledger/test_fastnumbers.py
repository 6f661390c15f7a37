"""The table fast path gives libphonenumber's answer on every string, or leaves it to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from spamledger import _fastnumbers, _numtables
from spamledger._fastnumbers import normalize_arrays
from spamledger._numbers import InvalidNumber, normalize

DATA = Path(__file__).resolve().parents[2] / "data"  # the shared data, in the repository


def _reference(raw: list[str], region: list[str | None]) -> dict[str, list]:
    """libphonenumber's own answer, one string at a time (the source of truth)."""
    out: dict[str, list] = {"e164": [], "region": [], "ntype": [], "reason": []}
    for r, c in zip(raw, region, strict=True):
        try:
            num = normalize(r, c)
        except InvalidNumber as exc:
            out["e164"].append(None), out["region"].append(None)
            out["ntype"].append(None), out["reason"].append(exc.reason)
            continue
        out["e164"].append(num.e164), out["region"].append(num.region)
        out["ntype"].append(num.type), out["reason"].append(None)
    return out


def _assert_identical(raw: list[str], region: list[str | None]) -> float:
    """Compare every string; return the share the tables decided."""
    got = normalize_arrays(pa.array(raw, pa.string()), pa.array(region, pa.string()))
    want = _reference(raw, region)
    for col, values in want.items():
        mine = got[col].to_pylist()
        bad = [(raw[i], region[i], mine[i], v) for i, v in enumerate(values) if mine[i] != v]
        assert not bad, f"{col}: {len(bad)} differ, e.g. {bad[:5]}"
    return _decided_share(raw, region)


def _decided_share(raw: list[str], region: list[str | None]) -> float:
    index = _fastnumbers._index()
    assert index is not None
    out = {c: np.full(len(raw), None, dtype=object) for c in _fastnumbers.COLUMNS}
    hit = _fastnumbers._fast(pc.cast(pa.array(raw, pa.string()), pa.string()),
                             pa.array(region, pa.string()), index, out)
    return float(hit.mean()) if len(raw) else 0.0


def _render(numbers: list[str], rng: np.random.Generator) -> list[tuple[str, str]]:
    """Each number in E.164, international and national form, read in its own region."""
    out = []
    for num in numbers:
        p = phonenumbers.parse(num, None)
        home = phonenumbers.region_code_for_number(p) or "US"
        for fmt in (phonenumbers.PhoneNumberFormat.E164,
                    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                    phonenumbers.PhoneNumberFormat.NATIONAL):
            out.append((phonenumbers.format_number(p, fmt), home))
        other = str(rng.choice(["US", "GB", "IN", "BR", "DE", "JP", "ZZ"]))
        out.append((phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.NATIONAL),
                    other))
    return out


def test_committed_tables_match_the_installed_metadata():
    doc = _numtables.load_tables()
    assert doc is not None, "regenerate: python -m spamledger._numtables"
    assert doc["phonenumbers"] == phonenumbers.__version__
    # The file is what the generator makes: rebuild two groups and compare.
    for group in (_numtables.intl_group(44), _numtables.national_group("GB")):
        for t in (t for t in doc["tables"] if t["gid"] == group.gid):
            fresh = _numtables.prefix_table(group, t["length"])
            assert fresh.starts == t["starts"] and fresh.ends == t["ends"]
            outcomes = [doc["outcomes"][i] for i in t["outcomes"]]
            assert [[o.reason, o.region, o.ntype, o.strip] for o in fresh.outcome] == outcomes


def test_ftc_sample_every_distinct_string_is_identical():
    table = pacsv.read_csv(DATA / "ftc_dnc_sample.csv",
                            convert_options=pacsv.ConvertOptions(
                                column_types={"number": pa.string()}))
    raw = sorted(set(table.column("number").to_pylist()) - {None})
    for region in ("US", "GB", None):
        share = _assert_identical(raw, [region] * len(raw))
        if region == "US":
            assert share > 0.9  # the point of the tables: most strings never reach the parser
    # and as international strings
    plus = [f"+1{r}" for r in raw]
    assert _assert_identical(plus, ["US"] * len(plus)) > 0.9


def test_random_numbers_in_every_format_are_identical():
    rng = np.random.default_rng(15)
    numbers = []
    for region in _numtables.REGIONS:
        cc = phonenumbers.country_code_for_region(region)
        for _ in range(300):
            length = int(rng.integers(6, 13))
            digits = "".join(str(d) for d in rng.integers(0, 10, size=length))
            try:
                p = phonenumbers.parse(f"+{cc}{digits}", None)
            except phonenumbers.NumberParseException:
                continue
            numbers.append(phonenumbers.format_number(p, phonenumbers.PhoneNumberFormat.E164))
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            ex = phonenumbers.example_number_for_type(region, kind)
            if ex is not None:
                numbers.append(phonenumbers.format_number(ex, phonenumbers.PhoneNumberFormat.E164))
    pairs = _render(numbers, rng)
    raw, region = [p[0] for p in pairs], [p[1] for p in pairs]
    assert _assert_identical(raw, region) > 0.5


def test_hostile_and_odd_strings_are_identical():
    odd = ["", " ", "+", "+1", "+12", "+123", "0", "00", "000", "011 44 20 7946 0018",
           "0044 20 7946 0018", "1 415 555 0123", "14155550123", "+1 1415 555 0123",
           "+44 0 20 7946 0018", "+4402079460018", "(0)20 7946 0018", "((415)) 555--0123",
           "415-555-0123-", "-415-555-0123", "+-14155550123", "+1 415 555 01234567",
           "+999123456", "+0123456789", "N/A", "anonymous", "0000000000000000000",
           "٤١٥٥٥٥٠١٢٣", "+１４１５５５５０１２３", "4" * 64, "4" * 65, "+" + "9" * 20,
           "180020 7946 0018", "1800207946", "9198765 43210", "091 98765 43210",
           "55 11 91234 5678", "0 11 91234 5678", "0XX11912345678", "tel:+14155550123",
           "+44 (0) 20 7946 0018", "+1 (415) 555-0123", "(415)555-0123 ext 12"]
    for region in ("US", "GB", "IN", "BR", "CA", "XX", None):
        _assert_identical(odd, [region] * len(odd))


def test_digit_strings_near_every_table_boundary_are_identical():
    """Random digits of every generated length behind every prefix the tables split on."""
    rng = np.random.default_rng(7)
    doc = _numtables.load_tables()
    assert doc is not None
    raw, region = [], []
    for t in doc["tables"]:
        n = len(t["starts"])
        for i in rng.choice(n, size=min(n, 40), replace=False) if n else []:
            lo, hi = t["starts"][i], t["ends"][i]
            for value in (lo, hi, int(rng.integers(lo, hi + 1))):
                digits = str(value).zfill(t["length"])
                raw.append(digits if t["region"] else f"+{t['cc']}{digits}")
                region.append(t["region"] or "US")
    assert _assert_identical(raw, region) > 0.9


def test_without_tables_everything_goes_to_libphonenumber(monkeypatch):
    monkeypatch.setattr(_fastnumbers, "_index", lambda: None)
    raw = ["+14155550123", "(415) 555-0123", "12", None]
    got = normalize_arrays(pa.array(raw, pa.string()), pa.array(["US"] * 4))
    assert got["e164"].to_pylist() == ["+14155550123", "+14155550123", None, None]
    assert got["reason"].to_pylist() == [None, None, "too_short", "empty"]


def test_tables_from_other_metadata_are_not_used(tmp_path, monkeypatch):
    import gzip
    import json

    path = tmp_path / "t.json.gz"
    with gzip.open(path, "wt") as fh:
        json.dump({"phonenumbers": "0.0.1", "tables": [], "outcomes": []}, fh)
    assert _numtables.load_tables(path) is None
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    assert _numtables.load_tables(tmp_path / "bad.json.gz") is None


@pytest.mark.slow
def test_simulated_call_file_every_distinct_string_is_identical(tmp_path):
    """Every distinct (raw, country) of a simulated call file (~1.4M rows, four networks)."""
    from oracle._simulate import simulate

    paths = simulate(tmp_path, scale=2.0, days=14, seed=3)
    pairs: set[tuple[str, str]] = set()
    for f in sorted(Path(paths["calls"]).glob("*.parquet")):
        t = pq.read_table(f, columns=["caller", "callee", "country"])
        country = t.column("country").to_pylist()
        for col in ("caller", "callee"):
            pairs |= set(zip(t.column(col).to_pylist(), country, strict=True))
    ordered = sorted(pairs, key=str)
    share = _assert_identical([p[0] or "" for p in ordered], [p[1] for p in ordered])
    assert share > 0.95


def test_long_columns_are_done_in_chunks_with_the_same_result(monkeypatch):
    raw = ["+14155550123", "(415) 555-0123", "12", None, "+44 20 7946 0018"] * 7
    region = ["US", "US", "US", "US", "GB"] * 7
    whole = normalize_arrays(pa.array(raw, pa.string()), pa.array(region))
    monkeypatch.setattr(_fastnumbers, "CHUNK", 4)
    chunked = normalize_arrays(pa.array(raw, pa.string()), pa.array(region))
    for col in _fastnumbers.COLUMNS:
        assert chunked[col].to_pylist() == whole[col].to_pylist()
    assert whole["e164"].to_pylist()[:5] == ["+14155550123", "+14155550123", None, None,
                                             "+442079460018"]
