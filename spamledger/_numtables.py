"""Digit-prefix tables generated from libphonenumber's own metadata, for the fast path.

libphonenumber decides a number with a fixed set of regular expressions from its metadata
(per region: the general and per-type national number patterns, leading digits, the
national prefix for parsing and the international prefix). For one country calling code
(or one home region, for national strings) and one digit count, this module walks the
digit trie and stops at the first prefix where *every* one of those expressions is
decided - it matches all completions of the prefix, or none of them. Beyond that point
libphonenumber cannot tell two numbers of the prefix apart except by their digits, so
its verdict on one representative (computed by :func:`spamledger._numbers.normalize`
itself, not re-implemented) is its verdict on the whole prefix. Prefixes that need more
than :data:`MAX_DEPTH` digits, and cases the tables do not model (a non-literal national
prefix that matches, an international or country-code prefix on a national string), get
no entry: the caller sends those strings to libphonenumber.

Tables are built on first use per (group, digit count) and cached for the process; the
regexes are compiled into small automata over the ten digits with :mod:`re._parser`
(the patterns use literals, classes, alternation, groups and bounded repeats only; any
other construct makes the group fall back to libphonenumber, never to a guess).

Example::

    t = prefix_table(intl_group(44), 10)          # +44 numbers with 10 national digits
    t.starts, t.ends, t.outcome                    # sorted intervals of national numbers
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import os
import re
import re._parser as sre  # the stdlib's own regex parser (stable since 3.11)
import threading
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from spamledger._numbers import InvalidNumber, normalize

logger = logging.getLogger(__name__)

MAX_DEPTH = 9          # prefixes longer than this are left to libphonenumber
MAX_LEAVES = 200_000   # per (group, length): a table larger than this is not built
NATIONAL_BASE = 1000   # group ids: country calling code, or 1000 + index of a home region
MAX_DIGITS = 14        # national digits the fast path handles (keys stay inside int64)
DIGITS = "0123456789"

_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
_DESC_FIELDS = ("general_desc", "premium_rate", "toll_free", "shared_cost", "voip",
                "personal_number", "pager", "uan", "voicemail", "fixed_line", "mobile")


class Unsupported(Exception):
    """A pattern uses a construct the automaton builder does not model."""


# ---------------------------------------------------------------------------------------
# Regular expression -> automaton over the digits


class _Nfa:
    """Thompson automaton: ``moves[state] = [(digit set, next)]``, ``eps[state] = [next]``."""

    def __init__(self) -> None:
        self.moves: list[list[tuple[frozenset[int], int]]] = []
        self.eps: list[list[int]] = []

    def state(self) -> int:
        self.moves.append([])
        self.eps.append([])
        return len(self.moves) - 1

    def build(self, items: sre.SubPattern | list, start: int) -> int:
        """Add ``items`` after ``start``; return the end state."""
        cur = start
        for op, av in items:
            cur = self._item(op, av, cur)
        return cur

    def _item(self, op: object, av: object, cur: int) -> int:
        name = str(op)
        if name in ("LITERAL", "IN"):
            chars = _charset(op, av)
            nxt = self.state()
            self.moves[cur].append((chars, nxt))
            return nxt
        if name == "SUBPATTERN":
            return self.build(av[3], cur)  # type: ignore[index]
        if name == "BRANCH":
            end = self.state()
            for alt in av[1]:  # type: ignore[index]
                s = self.state()
                self.eps[cur].append(s)
                self.eps[self.build(alt, s)].append(end)
            return end
        if name == "MAX_REPEAT":
            rep: tuple[int, int, sre.SubPattern] = av  # type: ignore[assignment]
            return self._repeat(rep[0], rep[1], rep[2], cur)
        raise Unsupported(name)

    def _repeat(self, lo: int, hi: int, sub: sre.SubPattern, cur: int) -> int:
        for _ in range(lo):
            cur = self.build(sub, cur)
        if hi == sre.MAXREPEAT:
            loop = self.state()
            self.eps[cur].append(loop)
            self.eps[self.build(sub, loop)].append(loop)
            return loop
        end = self.state()
        for _ in range(hi - lo):
            self.eps[cur].append(end)
            cur = self.build(sub, cur)
        self.eps[cur].append(end)
        return end


def _charset(op: object, av: object) -> frozenset[int]:
    if str(op) == "LITERAL":
        ch = chr(av)  # type: ignore[arg-type]
        return frozenset({int(ch)}) if ch in DIGITS else frozenset()
    out: set[int] = set()
    for sub_op, sub_av in av:  # type: ignore[attr-defined]
        kind = str(sub_op)
        if kind == "LITERAL":
            out |= _charset(sub_op, sub_av)
        elif kind == "RANGE":
            out |= {d for d in range(10) if sub_av[0] <= ord(str(d)) <= sub_av[1]}
        elif kind == "CATEGORY" and str(sub_av) == "CATEGORY_DIGIT":
            out |= set(range(10))
        else:
            raise Unsupported(kind)
    return frozenset(out)


class Automaton:
    """A compiled pattern: full match (``prefix=False``) or ``re.match`` (``prefix=True``)."""

    def __init__(self, pattern: str, prefix: bool):
        nfa = _Nfa()
        start = nfa.state()
        end = nfa.build(sre.parse(pattern), start)
        if prefix:  # re.match: any continuation after a match is accepted
            nfa.moves[end].append((frozenset(range(10)), end))
        self._closure = [self._close(nfa, {s}) for s in range(len(nfa.moves))]
        self._moves = nfa.moves
        self.final = end
        self.start = self._closure[start]
        self._step: dict[tuple[frozenset[int], int], frozenset[int]] = {}
        self._can: dict[tuple[frozenset[int], int], bool] = {}
        self._must: dict[tuple[frozenset[int], int], bool] = {}

    @staticmethod
    def _close(nfa: _Nfa, states: set[int]) -> frozenset[int]:
        todo, seen = list(states), set(states)
        while todo:
            for nxt in nfa.eps[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def step(self, states: frozenset[int], digit: int) -> frozenset[int]:
        key = (states, digit)
        hit = self._step.get(key)
        if hit is None:
            nxt: set[int] = set()
            for s in states:
                for chars, t in self._moves[s]:
                    if digit in chars:
                        nxt |= self._closure[t]
            hit = self._step[key] = frozenset(nxt)
        return hit

    def can(self, states: frozenset[int], left: int) -> bool:
        """Some string of ``left`` more digits is accepted."""
        if not states:
            return False
        if left == 0:
            return self.final in states
        key = (states, left)
        if key not in self._can:
            self._can[key] = any(self.can(self.step(states, d), left - 1) for d in range(10))
        return self._can[key]

    def must(self, states: frozenset[int], left: int) -> bool:
        """Every string of ``left`` more digits is accepted."""
        if not states:
            return False
        if left == 0:
            return self.final in states
        key = (states, left)
        if key not in self._must:
            self._must[key] = all(self.must(self.step(states, d), left - 1) for d in range(10))
        return self._must[key]


@functools.lru_cache(maxsize=4096)
def _automaton(pattern: str, prefix: bool) -> Automaton:
    return Automaton(pattern, prefix)


# ---------------------------------------------------------------------------------------
# Which expressions libphonenumber consults, per group


@dataclass(frozen=True)
class Group:
    """Strings of one kind: ``+<cc>...`` (``region`` None) or national digits in ``region``."""

    gid: int
    cc: int
    region: str | None

    def representative(self, digits: str) -> str:
        """The raw string libphonenumber is asked about for ``digits`` of this group."""
        return digits if self.region else f"+{self.cc}{digits}"


def intl_group(cc: int) -> Group | None:
    """The group of ``+<cc>`` strings, or None for an unassigned country calling code."""
    return Group(cc, cc, None) if cc in COUNTRY_CODE_TO_REGION_CODE else None


def national_group(region: str) -> Group | None:
    """The group of national strings in ``region``; None unless it is its code's main region
    (parsing in a secondary region such as CA uses that region's own prefixes: not modelled)."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    cc = phonenumbers.country_code_for_region(region)
    if phonenumbers.region_code_for_country_code(cc) != region:
        return None
    return Group(NATIONAL_BASE + _REGIONS.index(region), cc, region)


def _main_metadata(cc: int) -> PhoneMetadata:
    main = phonenumbers.region_code_for_country_code(cc)
    meta = PhoneMetadata.metadata_for_region_or_calling_code(cc, main)
    if meta is None:
        raise Unsupported(f"no metadata for +{cc}")
    return meta


def _validation_patterns(cc: int) -> list[tuple[str, bool]]:
    """(pattern, prefix-match?) of every expression validation and typing read for ``cc``."""
    out: list[tuple[str, bool]] = []
    for region in COUNTRY_CODE_TO_REGION_CODE[cc]:
        meta = PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
        if meta is None:
            continue
        if meta.leading_digits:
            out.append((meta.leading_digits, True))
        for name in _DESC_FIELDS:
            desc = getattr(meta, name)
            if desc is not None and desc.national_number_pattern:
                out.append((desc.national_number_pattern, False))
    return out


@dataclass(frozen=True)
class _Plan:
    """The expressions of a group: tracked ones, and prefix ones that send a string away."""

    tracked: tuple[tuple[str, bool], ...]
    refuse: tuple[tuple[str, bool], ...]   # prefix matches we do not model -> no entry


def _plan(group: Group) -> _Plan:
    meta = _main_metadata(group.cc)
    tracked = _validation_patterns(group.cc)
    refuse: list[tuple[str, bool]] = []
    npp = meta.national_prefix_for_parsing or ""
    alternatives = npp.split("|")
    if npp and all(a.isdigit() for a in alternatives) and not meta.national_prefix_transform_rule:
        # A literal prefix (or a choice of literals, e.g. GB's "0|180020"): which one
        # matches is decided per prefix, and the expressions read after it are tracked
        # as the same expressions behind that literal.
        validation = list(tracked)
        for alt in alternatives:
            tracked += [(f"{alt}(?:{p})", pre) for p, pre in validation]
            tracked.append((alt, True))
    elif npp:
        refuse.append((npp, True))
    if group.region:
        if meta.international_prefix:
            refuse.append((meta.international_prefix, True))
        refuse.append((str(group.cc), True))  # national digits starting with the code
    return _Plan(tuple(tracked), tuple(refuse))


# ---------------------------------------------------------------------------------------
# The trie walk


@dataclass(frozen=True)
class Outcome:
    """libphonenumber's verdict on every number of a prefix."""

    reason: str | None     # None: valid
    region: str | None
    ntype: str | None
    strip: int             # leading digits dropped before the country code is prefixed


@dataclass
class PrefixTable:
    """Sorted, disjoint intervals ``[starts[i], ends[i]]`` of national numbers (as integers)
    of one group and digit count, each with the outcome shared by all its numbers."""

    length: int
    starts: list[int]
    ends: list[int]
    outcome: list[Outcome]


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2048)
def prefix_table(group: Group, length: int) -> PrefixTable:
    """The table for strings of ``group`` with ``length`` digits (built once per process)."""
    with _LOCK:
        return _build(group, length)


def _build(group: Group, length: int) -> PrefixTable:
    table = PrefixTable(length, [], [], [])
    try:
        plan = _plan(group)
        tracked = [_automaton(p, pre) for p, pre in plan.tracked]
        refuse = [_automaton(p, pre) for p, pre in plan.refuse]
    except (Unsupported, re.error) as exc:
        logger.info("group %s: pattern not modelled (%s); all strings go to libphonenumber",
                    group, exc)
        return table
    states = [a.start for a in tracked] + [a.start for a in refuse]
    refused = [False] * len(tracked) + [True] * len(refuse)
    _walk(group, length, "", states, tracked + refuse, refused, table)
    if len(table.starts) > MAX_LEAVES:
        logger.info("group %s length %d: %d prefixes, not kept", group, length,
                    len(table.starts))
        return PrefixTable(length, [], [], [])
    return table


def _walk(group: Group, length: int, prefix: str, states: list[frozenset[int]],
          autos: list[Automaton], refused: list[bool], table: PrefixTable) -> None:
    """Depth-first over digit prefixes until every automaton is decided.

    Decided automata (matching all or none of the completions) stay decided below, so
    only the undecided ones are passed down.
    """
    left = length - len(prefix)
    keep = []
    for i, (a, s) in enumerate(zip(autos, states, strict=True)):
        if not a.can(s, left):
            continue                      # matches no completion
        if a.must(s, left):
            if refused[i]:
                return                    # a refused prefix matches them all: no entry
            continue
        keep.append(i)
    if (not keep and len(prefix) >= 2) or left == 0:
        _leaf(group, length, prefix, table)
        return
    if len(prefix) >= MAX_DEPTH or len(table.starts) > MAX_LEAVES:
        return
    sub_autos = [autos[i] for i in keep]
    sub_refused = [refused[i] for i in keep]
    for d in range(10):
        nxt = [a.step(states[i], d) for a, i in zip(sub_autos, keep, strict=True)]
        _walk(group, length, prefix + DIGITS[d], nxt, sub_autos, sub_refused, table)


def _leaf(group: Group, length: int, prefix: str, table: PrefixTable) -> None:
    pad = length - len(prefix)
    digits = prefix + "0" * pad
    try:
        num = normalize(group.representative(digits), group.region)
        e164_digits = num.e164[1 + len(str(group.cc)):]
        strip = len(digits) - len(e164_digits)
        if strip < 0 or digits[strip:] != e164_digits or not num.e164.startswith(
                f"+{group.cc}"):
            return                         # not the shape the fast path rebuilds: no entry
        outcome = Outcome(None, num.region, num.type, strip)
    except InvalidNumber as exc:
        outcome = Outcome(exc.reason, None, None, 0)
    base = int(prefix) if prefix else 0
    table.starts.append(base * 10 ** pad)
    table.ends.append((base + 1) * 10 ** pad - 1)
    table.outcome.append(outcome)


# ---------------------------------------------------------------------------------------
# The generated file: built by ``python -m spamledger._numtables``, read at first use

# Home regions whose tables are generated (their +code strings and their national
# strings); other numbers still normalize, through libphonenumber.
REGIONS: tuple[str, ...] = (
    "US", "CA", "MX", "BR", "AR", "GB", "IE", "PT", "FR", "DE", "ES", "IT", "NL", "PL",
    "RU", "TR", "AE", "IN", "PK", "ID", "CN", "JP", "KR", "AU", "NG", "ZA", "KE",
)
TABLES_PATH = Path(__file__).with_name("numtables.json.gz")


def group_lengths(group: Group) -> list[int]:
    """Digit counts worth a table: the possible national lengths (after a national prefix,
    for national strings); other counts are rare and go to libphonenumber."""
    lengths: set[int] = set()
    for region in COUNTRY_CODE_TO_REGION_CODE[group.cc]:
        meta = PhoneMetadata.metadata_for_region_or_calling_code(group.cc, region)
        if meta is not None and meta.general_desc is not None:
            lengths |= set(meta.general_desc.possible_length)
    if group.region:
        npp = _main_metadata(group.cc).national_prefix_for_parsing or ""
        extra = [len(a) for a in npp.split("|") if a.isdigit()]
        lengths |= {n + k for n in lengths for k in extra}
    return sorted(n for n in lengths if 0 < n <= MAX_DIGITS)


def generate(regions: tuple[str, ...] = REGIONS) -> dict:
    """Every table of ``regions`` as a JSON-able document stamped with the metadata version."""
    groups: dict[int, Group] = {}
    for region in regions:
        nat = national_group(region)
        if nat is not None:
            groups[nat.gid] = nat
        intl = intl_group(phonenumbers.country_code_for_region(region))
        if intl is not None:
            groups[intl.gid] = intl
    outcomes: dict[Outcome, int] = {}
    tables = []
    for gid in sorted(groups):
        g = groups[gid]
        for length in group_lengths(g):
            t = prefix_table(g, length)
            tables.append({"gid": gid, "cc": g.cc, "region": g.region, "length": length,
                           "starts": t.starts, "ends": t.ends,
                           "outcomes": [outcomes.setdefault(o, len(outcomes))
                                        for o in t.outcome]})
            logger.info("%s length %d: %d prefixes", g, length, len(t.starts))
    return {"phonenumbers": phonenumbers.__version__, "max_depth": MAX_DEPTH,
            "outcomes": [[o.reason, o.region, o.ntype, o.strip] for o in outcomes],
            "tables": tables}


def write_tables(path: Path = TABLES_PATH, regions: tuple[str, ...] = REGIONS) -> Path:
    """Generate and write the tables (atomically) to ``path``."""
    doc = generate(regions)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(doc, fh, separators=(",", ":"))
    os.replace(tmp, path)
    return path


def load_tables(path: Path = TABLES_PATH) -> dict | None:
    """The generated tables, or None when missing or made from another metadata version
    (then every string goes to libphonenumber: slower, never different)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        logger.warning("number tables %s unreadable (%s): libphonenumber only", path, exc)
        return None
    if doc.get("phonenumbers") != phonenumbers.__version__:
        logger.warning("number tables %s were generated from phonenumbers %s, this is %s: "
                       "libphonenumber only (regenerate: python -m spamledger._numtables)",
                       path, doc.get("phonenumbers"), phonenumbers.__version__)
        return None
    return doc


def main(argv: list[str] | None = None) -> int:
    """``python -m spamledger._numtables [OUT]``: regenerate the committed tables."""
    import sys

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = sys.argv[1:] if argv is None else argv
    out = write_tables(Path(args[0]) if args else TABLES_PATH)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, phonenumbers "
          f"{phonenumbers.__version__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
