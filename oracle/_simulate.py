"""A simulator of several operators' networks: calls, complaints and the hidden truth.

It exists so that the oracle can be measured against a truth it never sees. Every
population the issue lists is here, and the hard ones are deliberately close to each other:

* ordinary subscribers calling a personal circle (symmetric, so calls come back), a few of
  them new SIMs that appear mid-period;
* legitimate businesses that look spammy: couriers and shops (many distinct callees, short
  calls), banks and clinics (adjacent lines, reminders, repeat customers), registered call
  centres (high volume, low answer rate, some complaints; India's ``140`` series);
* spam: robocall campaigns rotating through adjacent numbers and sweeping callee blocks with
  very short calls, telemarketers, scammers with some long "hooked" calls, one-ring
  ``wangiri`` callers from abroad that live for a day and collect callbacks, and dormant
  numbers with an ordinary history that suddenly burst;
* complaints are sparse and noisy: most spam calls are never reported, some reports are
  wrong, one reporter sometimes floods a legitimate number;
* rows are recorded in mixed number formats (E.164, international, national) and a small
  share are broken (garbage numbers, negative durations, missing timestamps).

Nothing in the output except ``truth.parquet`` reveals a number's class.

Example::

    paths = simulate("sim/", scale=0.2, days=14, seed=7)
    paths["calls"], paths["reports"], paths["truth"]
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq

from spamledger._numbers import InvalidNumber, normalize

logger = logging.getLogger(__name__)

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; the simulation's day 0
DAY = 86_400.0
# Fixed UTC offsets (hours) of each network's local time, used for daily call rhythms.
UTC_OFFSET = {"US": -5.0, "IN": 5.5, "BR": -3.0, "GB": 0.0}
COUNTRIES: tuple[str, ...] = ("US", "IN", "BR", "GB")
WANGIRI_ORIGINS: tuple[str, ...] = ("TN", "SL", "LV")


@dataclass(frozen=True)
class Behaviour:
    """How one class of number places calls and how callees react to it."""

    is_spam: bool
    category: str
    per_day: float        # median calls per active day
    answer: float         # mean answer probability
    dur: float            # median talk time of an answered call, seconds
    dur_sigma: float
    short: float          # share of answered calls that hang up within seconds
    hours: str            # daily rhythm profile
    targets: str          # circle | customers | random | sweep
    callback: float       # probability a callee calls back
    report: float         # probability an answered call draws a spam complaint
    vouch: float          # probability an answered call draws a "not spam" vote
    hooked: float = 0.0   # share of answered calls that turn into very long calls


BEHAVIOURS: dict[str, Behaviour] = {
    "subscriber": Behaviour(False, "", 2.5, 0.75, 90, 1.0, 0.05, "social", "circle",
                            0.0, 0.0, 0.0),
    "new_subscriber": Behaviour(False, "", 2.5, 0.75, 80, 1.0, 0.05, "social", "circle",
                                0.0, 0.0, 0.0),
    "courier": Behaviour(False, "", 30, 0.6, 35, 0.6, 0.15, "business", "random",
                         0.10, 0.0006, 0.002),
    "shop": Behaviour(False, "", 10, 0.55, 60, 0.8, 0.1, "business", "customers",
                      0.08, 0.001, 0.002),
    "bank": Behaviour(False, "", 18, 0.65, 150, 0.8, 0.05, "business", "customers",
                      0.06, 0.0006, 0.003),
    "clinic": Behaviour(False, "", 18, 0.6, 40, 0.7, 0.3, "business", "customers",
                        0.05, 0.0005, 0.003),
    "call_centre": Behaviour(False, "telemarketing", 70, 0.35, 45, 0.9, 0.3, "business",
                             "random", 0.03, 0.003, 0.002),
    "robocall": Behaviour(True, "robocall", 140, 0.3, 8, 0.8, 0.6, "flat", "sweep",
                          0.01, 0.03, 0.0005),
    "telemarketer": Behaviour(True, "telemarketing", 60, 0.35, 40, 1.0, 0.4, "business",
                              "random", 0.02, 0.02, 0.0008),
    "scam": Behaviour(True, "scam", 30, 0.4, 60, 1.2, 0.25, "flat", "random",
                      0.04, 0.02, 0.0005, hooked=0.1),
    "wangiri": Behaviour(True, "wangiri", 220, 0.03, 3, 0.5, 0.9, "night", "sweep",
                         0.04, 0.06, 0.0),
    "dormant": Behaviour(True, "robocall", 110, 0.3, 10, 0.9, 0.55, "flat", "sweep",
                         0.01, 0.03, 0.0005),
    # Drawn worlds add these (the default plan has none of them):
    # appointment and delivery reminders: an auto-dialler, but to its own customers.
    "reminder": Behaviour(False, "", 60, 0.5, 25, 0.5, 0.3, "business", "customers",
                          0.10, 0.001, 0.004),
    # a SIM box relays international calls as local ones: real conversations, no complaints.
    "sim_box": Behaviour(True, "other", 120, 0.7, 110, 1.0, 0.05, "flat", "random",
                         0.03, 0.0005, 0.0),
    # neighbour spoofing: short-lived numbers inside the callees' own number block.
    "spoofer": Behaviour(True, "robocall", 40, 0.45, 25, 1.0, 0.4, "flat", "neighbour",
                         0.02, 0.03, 0.0005),
    # low-volume targeted scams: a few careful calls a day, some of them long.
    "low_scam": Behaviour(True, "scam", 4, 0.5, 150, 1.0, 0.1, "business", "random",
                          0.05, 0.04, 0.0, hooked=0.2),
}
LEGIT_BUSINESS: tuple[str, ...] = ("courier", "shop", "bank", "clinic", "call_centre",
                                   "reminder")
SPAM_CLASSES: tuple[str, ...] = tuple(k for k, b in BEHAVIOURS.items() if b.is_spam)

_HOURS = {
    "social": [1, .5, .3, .2, .2, .3, 1, 3, 5, 6, 6, 7, 8, 7, 7, 7, 8, 9, 10, 10, 9, 7, 4, 2],
    "business": [0, 0, 0, 0, 0, 0, 0, .3, 2, 8, 9, 9, 7, 8, 9, 9, 8, 5, 2, .5, .3, 0, 0, 0],
    "flat": [.5, .3, .3, .3, .3, .5, 1, 3, 6, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 5, 4, 3, 2, 1],
    "night": [6, 7, 7, 6, 5, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4, 5, 6],
}


@dataclass
class _Entity:
    number: str
    country: str          # network that records the calls
    cls: str
    start: float          # active interval, days
    end: float
    campaign: int = -1
    burst_start: float = -1.0


@dataclass(frozen=True)
class SimulationPlan:
    """Sizes per country at ``scale`` 1.0 (each scaled, at least one)."""

    subscribers: int = 2000
    new_subscriber_share: float = 0.04
    couriers: int = 25
    shops: int = 25
    banks: int = 10
    bank_lines: int = 3
    clinics: int = 15
    call_centres: int = 4
    call_centre_lines: int = 6
    campaigns: int = 8
    campaign_numbers: int = 8
    telemarketers: int = 30
    scammers: int = 30
    wangiri: int = 20
    dormant: int = 15
    broken_share: float = 0.002
    reminders: int = 0
    sim_boxes: int = 0
    spoof_campaigns: int = 0
    spoof_numbers: int = 12
    low_scams: int = 0


@dataclass(frozen=True)
class World:
    """Everything that differs between simulated worlds: behaviours, sizes, reporting."""

    behaviours: Mapping[str, Behaviour] = field(default_factory=lambda: dict(BEHAVIOURS))
    plan: SimulationPlan = field(default_factory=SimulationPlan)
    report_delay_h: float = 4.0        # mean hours from a call to its complaint
    wrong_report_share: float = 0.08   # complaints that click "not spam" by mistake
    noise_share: float = 0.01          # legitimate numbers drawing a stray complaint
    name: str = "default"

    def is_spam(self, cls: str) -> bool:
        return self.behaviours[cls].is_spam


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


# How long a spam number stays active, days (uniform between the two): campaigns rotate
# numbers quickly, telemarketers and SIM boxes keep theirs; a dormant number's burst.
LIFE_DAYS: dict[str, tuple[float, float]] = {
    "robocall": (0.7, 2.5), "telemarketer": (3, 12), "scam": (1, 5), "wangiri": (0.3, 2.0),
    "dormant": (1, 3), "sim_box": (2, 10), "spoofer": (0.2, 1.0), "low_scam": (4, 14)}

# The wide priors of draw_world: per-class volume factor and answer-rate shift.
VOLUME_PRIOR = (0.4, 2.5)
ANSWER_SHIFT = 0.15


def draw_world(seed: int) -> World:
    """A world with parameters drawn from wide priors (seed -> the same world).

    Per class: complaint propensity log-uniform over 0.01%-5% per answered call for spam
    and 0.001%-0.3% for legitimate businesses; volume x0.4-2.5; answer rate shifted by
    +-0.15 (wangiri stays below 10%); callback rate x0.5-2; sizes x0.3-2.5 (reminders,
    SIM boxes, neighbour spoofing and low-volume scams included). Per world: reporting
    delay 1-48 h, wrong-button share 2-15%, stray complaints on 0.2-3% of legitimate
    numbers, new SIMs 1-8% of subscribers.
    """
    rng = np.random.default_rng([seed, 0x5EED])
    behaviours = {}
    for cls, b in BEHAVIOURS.items():
        if cls in ("subscriber", "new_subscriber"):
            behaviours[cls] = b
            continue
        report = (_log_uniform(rng, 1e-4, 5e-2) if b.is_spam
                  else _log_uniform(rng, 1e-5, 3e-3))
        answer = (float(rng.uniform(0.005, 0.10)) if cls == "wangiri"
                  else float(np.clip(b.answer + rng.uniform(-ANSWER_SHIFT, ANSWER_SHIFT),
                                     0.08, 0.9)))
        behaviours[cls] = replace(
            b, per_day=b.per_day * _log_uniform(rng, *VOLUME_PRIOR), answer=answer,
            callback=min(b.callback * _log_uniform(rng, 0.5, 2.0), 0.6), report=report,
            vouch=b.vouch * _log_uniform(rng, 0.3, 3.0))
    base = SimulationPlan(reminders=8, sim_boxes=5, spoof_campaigns=3, low_scams=10)
    sizes = {f.name: max(1, round(getattr(base, f.name) * _log_uniform(rng, 0.3, 2.5)))
             for f in fields(SimulationPlan)
             if f.type in (int, "int") and f.name not in ("subscribers", "bank_lines",
                                                          "call_centre_lines",
                                                          "campaign_numbers", "spoof_numbers")}
    plan = replace(base, new_subscriber_share=float(rng.uniform(0.01, 0.08)), **sizes)
    return World(behaviours, plan, report_delay_h=_log_uniform(rng, 1.0, 48.0),
                 wrong_report_share=float(rng.uniform(0.02, 0.15)),
                 noise_share=float(rng.uniform(0.002, 0.03)), name=f"world-{seed}")

# ---------------------------------------------------------------------------------------
# Number minting


def _us(rng: np.random.Generator) -> str:
    npa = rng.choice([212, 213, 305, 312, 404, 415, 503, 512, 617, 646, 702, 713, 917])
    nxx = int(rng.integers(200, 1000))
    while nxx % 100 == 11 or nxx == 555:
        nxx = int(rng.integers(200, 1000))
    return f"+1{npa}{nxx}{int(rng.integers(0, 10_000)):04d}"


def _in(rng: np.random.Generator) -> str:
    return f"+91{int(rng.integers(6, 10))}{int(rng.integers(0, 10**9)):09d}"


def _in_140(rng: np.random.Generator) -> str:
    return f"+91140{int(rng.integers(0, 10**7)):07d}"


def _br(rng: np.random.Generator) -> str:
    ddd = rng.choice([11, 21, 31, 41, 51, 61, 71, 81])
    return f"+55{ddd}9{int(rng.integers(0, 10**8)):08d}"


def _br_fixed(rng: np.random.Generator) -> str:
    ddd = rng.choice([11, 21, 31, 41])
    return f"+55{ddd}{int(rng.integers(2, 6))}{int(rng.integers(0, 10**7)):07d}"


def _gb(rng: np.random.Generator) -> str:
    return f"+447{int(rng.integers(4, 10))}{int(rng.integers(0, 10**8)):08d}"


def _gb_fixed(rng: np.random.Generator) -> str:
    return f"+4420{rng.choice([3, 7, 8])}{int(rng.integers(0, 10**7)):07d}"


def _us_fixed(rng: np.random.Generator) -> str:
    return _us(rng)


_FOREIGN = {
    "TN": lambda rng: f"+216{int(rng.integers(2, 10))}{int(rng.integers(0, 10**7)):07d}",
    "SL": lambda rng: f"+23276{int(rng.integers(0, 10**6)):06d}",
    "LV": lambda rng: f"+3712{int(rng.integers(0, 10**7)):07d}",
}
_MOBILE: dict[str, Callable[[np.random.Generator], str]] = {
    "US": _us, "IN": _in, "BR": _br, "GB": _gb, **_FOREIGN}
_FIXED: dict[str, Callable[[np.random.Generator], str]] = {
    "US": _us_fixed, "IN": _in, "BR": _br_fixed, "GB": _gb_fixed}


class _Minter:
    """Hands out distinct valid numbers, singly or as blocks of adjacent numbers."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.used: set[str] = set()

    def one(self, make: Callable[[np.random.Generator], str]) -> str:
        while True:
            number = make(self.rng)
            if number not in self.used and _valid(number):
                self.used.add(number)
                return number

    def block(self, make: Callable[[np.random.Generator], str], size: int) -> list[str]:
        """``size`` numbers sharing all but the last two digits (one 100-number block)."""
        while True:
            base = make(self.rng)[:-2]
            first = int(self.rng.integers(0, 100 - size))
            numbers = [f"{base}{first + i:02d}" for i in range(size)]
            if all(n not in self.used and _valid(n) for n in numbers):
                self.used.update(numbers)
                return numbers


def _valid(number: str) -> bool:
    try:
        return normalize(number).e164 == number
    except InvalidNumber:
        return False


# ---------------------------------------------------------------------------------------
# Populations


def _population(cc: str, plan: SimulationPlan, scale: float, days: float,
                rng: np.random.Generator, mint: _Minter) -> list[_Entity]:
    """Every number of one network with its class and active interval."""
    def n(count: int) -> int:
        return max(1, round(count * scale))

    out: list[_Entity] = []
    for _ in range(n(plan.subscribers)):
        new = rng.random() < plan.new_subscriber_share
        start = float(rng.uniform(0, days - 0.5)) if new else 0.0
        out.append(_Entity(mint.one(_MOBILE[cc]), cc,
                           "new_subscriber" if new else "subscriber", start, days))
    out += _businesses(cc, plan, n, days, mint)
    out += _spammers(cc, plan, n, days, rng, mint)
    out += _new_kinds(cc, plan, days, rng, mint, [e.number for e in out if e.cls == "subscriber"],
                      scale)
    return [e for e in out if e.start < days]


def _businesses(cc: str, plan: SimulationPlan, n: Callable[[int], int], days: float,
                mint: _Minter) -> list[_Entity]:
    out = [_Entity(mint.one(_MOBILE[cc]), cc, "courier", 0.0, days)
           for _ in range(n(plan.couriers))]
    out += [_Entity(mint.one(_FIXED[cc]), cc, "shop", 0.0, days) for _ in range(n(plan.shops))]
    for cls, count, lines in (("bank", plan.banks, plan.bank_lines),
                              ("clinic", plan.clinics, 1),
                              ("call_centre", plan.call_centres, plan.call_centre_lines)):
        make = _in_140 if (cc == "IN" and cls == "call_centre") else _FIXED[cc]
        for _ in range(n(count)):
            out += [_Entity(num, cc, cls, 0.0, days) for num in mint.block(make, lines)]
    return out


def _spammers(cc: str, plan: SimulationPlan, n: Callable[[int], int], days: float,
              rng: np.random.Generator, mint: _Minter) -> list[_Entity]:
    out: list[_Entity] = []
    for campaign in range(n(plan.campaigns)):
        c_start = float(rng.uniform(0, days - 1))
        c_len = float(rng.uniform(2, 6))
        make = _MOBILE[cc] if rng.random() < 0.5 else _FIXED[cc]
        for num in mint.block(make, plan.campaign_numbers):
            start = c_start + float(rng.uniform(0, max(c_len - 1, 0.1)))
            out.append(_Entity(num, cc, "robocall", start,
                               start + float(rng.uniform(*LIFE_DAYS["robocall"])),
                               campaign=campaign))
    for cls, count in (("telemarketer", plan.telemarketers), ("scam", plan.scammers)):
        for _ in range(n(count)):
            start = float(rng.uniform(0, days - 0.5))
            out.append(_Entity(mint.one(_MOBILE[cc]), cc, cls, start,
                               start + float(rng.uniform(*LIFE_DAYS[cls]))))
    for _ in range(n(plan.wangiri)):
        origin = WANGIRI_ORIGINS[int(rng.integers(0, len(WANGIRI_ORIGINS)))]
        start = float(rng.uniform(0, days - 0.3))
        out.append(_Entity(mint.one(_MOBILE[origin]), cc, "wangiri", start,
                           start + float(rng.uniform(*LIFE_DAYS["wangiri"]))))
    for _ in range(n(plan.dormant)):
        burst = float(rng.uniform(days - 5, days - 0.3))
        out.append(_Entity(mint.one(_MOBILE[cc]), cc, "dormant", 0.0,
                           min(days, burst + float(rng.uniform(*LIFE_DAYS["dormant"]))),
                           burst_start=burst))
    return [e for e in out if e.start < days]


def _in_block(victim: str) -> Callable[[np.random.Generator], str]:
    """A maker of numbers in ``victim``'s 10,000-block (its number but the last four digits)."""
    def make(rng: np.random.Generator) -> str:
        return f"{victim[:-4]}{int(rng.integers(0, 10_000)):04d}"
    return make


def _new_kinds(cc: str, plan: SimulationPlan, days: float, rng: np.random.Generator,
               mint: _Minter, subscribers: list[str], scale: float) -> list[_Entity]:
    """Reminders, SIM boxes, neighbour spoofing and low-volume scams (drawn worlds only)."""
    def n(count: int) -> int:  # zero stays zero: the default world has none of these
        return max(1, round(count * scale)) if count else 0

    out = [_Entity(num, cc, "reminder", 0.0, days)
           for _ in range(n(plan.reminders)) for num in mint.block(_FIXED[cc], 2)]
    for _ in range(n(plan.sim_boxes)):
        start = float(rng.uniform(0, days - 1))
        out.append(_Entity(mint.one(_MOBILE[cc]), cc, "sim_box", start,
                           min(days, start + float(rng.uniform(*LIFE_DAYS["sim_box"])))))
    for campaign in range(n(plan.spoof_campaigns)):
        c_start = float(rng.uniform(0, days - 1))
        for _ in range(plan.spoof_numbers):
            victim = subscribers[int(rng.integers(0, len(subscribers)))]
            number = mint.one(_in_block(victim))
            start = c_start + float(rng.uniform(0, 2))
            out.append(_Entity(number, cc, "spoofer", start,
                               start + float(rng.uniform(*LIFE_DAYS["spoofer"])),
                               campaign=500 + campaign))
    for _ in range(n(plan.low_scams)):
        start = float(rng.uniform(0, days - 3))
        out.append(_Entity(mint.one(_MOBILE[cc]), cc, "low_scam", start,
                           min(days, start + float(rng.uniform(*LIFE_DAYS["low_scam"])))))
    return out


# ---------------------------------------------------------------------------------------
# Calls


@dataclass
class _Network:
    """Who can be called in one country: subscribers (sorted, for sweeps) and circles."""

    subscribers: np.ndarray          # numbers, sorted
    circles: dict[str, np.ndarray]   # number -> numbers it talks to
    customers: dict[str, np.ndarray]  # business -> its customer base


def _network(entities: list[_Entity], rng: np.random.Generator) -> _Network:
    subs = sorted(e.number for e in entities if e.cls in ("subscriber", "new_subscriber",
                                                          "dormant"))
    subs_arr = np.array(subs, dtype=object)
    served = [e.number for e in entities if e.cls in ("courier", "shop", "bank", "clinic")]
    links: dict[str, set[str]] = {s: set() for s in subs}
    # Draws with replacement (duplicates collapse in the sets): choice without replacement
    # permutes the whole population per subscriber, quadratic at a 10M-row scale.
    for s in subs:
        for j in rng.integers(0, len(subs), size=int(rng.integers(2, 7))):
            if subs[j] != s:
                links[s].add(subs[j])
                links[subs[j]].add(s)
        for j in rng.integers(0, len(served), size=int(rng.integers(0, 3))):
            links[s].add(served[j])
    circles = {k: np.array(sorted(v), dtype=object) for k, v in links.items()}
    customers = {
        e.number: subs_arr[rng.choice(len(subs), size=min(len(subs), 300), replace=False)]
        for e in entities if e.cls in ("shop", "bank", "clinic", "reminder")}
    return _Network(subs_arr, circles, customers)


def _times(rng: np.random.Generator, start: float, end: float, count: int, profile: str,
           offset_h: float) -> np.ndarray:
    """``count`` call instants (days since START) in [start, end) with a daily rhythm."""
    weights = np.asarray(_HOURS[profile], dtype=float)
    day0 = np.floor(start)
    span_days = int(np.ceil(end) - day0)
    day = day0 + rng.integers(0, max(span_days, 1), size=count * 3)
    hour = rng.choice(24, size=count * 3, p=weights / weights.sum()) + rng.random(count * 3)
    t = day + (hour - offset_h) / 24.0
    t = t[(t >= start) & (t < end)]
    return np.sort(t[:count])


@dataclass
class _Calls:
    """Columns of generated calls (numbers as E.164; formatting happens at write time)."""

    t: list[np.ndarray]
    caller: list[np.ndarray]
    callee: list[np.ndarray]
    dur: list[np.ndarray]
    ans: list[np.ndarray]
    att: list[np.ndarray]

    def add(self, t, caller, callee, dur, ans, att) -> None:
        for name, value in (("t", t), ("caller", caller), ("callee", callee), ("dur", dur),
                            ("ans", ans), ("att", att)):
            getattr(self, name).append(np.asarray(value))

    def concat(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(getattr(self, name)) if getattr(self, name) else
                np.array([]) for name in ("t", "caller", "callee", "dur", "ans", "att")}


def _targets(e: _Entity, b: Behaviour, net: _Network, count: int, rng: np.random.Generator,
             sweep_pos: dict[tuple[str, int], int]) -> np.ndarray:
    if b.targets == "circle":
        circle = net.circles.get(e.number)
        if circle is None or len(circle) == 0:
            return net.subscribers[rng.integers(0, len(net.subscribers), size=count)]
        weights = 1.0 / np.arange(1, len(circle) + 1)
        return circle[rng.choice(len(circle), size=count, p=weights / weights.sum())]
    if b.targets == "customers":
        base = net.customers[e.number]
        return base[rng.integers(0, len(base), size=count)]
    if b.targets == "neighbour":  # its own block first: the victims it pretends to be near
        pos = int(np.searchsorted(net.subscribers.astype(str), e.number))
        return net.subscribers[(pos - count // 2 + np.arange(count)) % len(net.subscribers)]
    if b.targets == "sweep":
        key = (e.country, e.campaign if e.campaign >= 0 else 1000 + int(e.number[-6:]))
        pos = sweep_pos.setdefault(key, int(rng.integers(0, len(net.subscribers))))
        sweep_pos[key] = pos + count
        return net.subscribers[(pos + np.arange(count)) % len(net.subscribers)]
    return net.subscribers[rng.integers(0, len(net.subscribers), size=count)]


def _attestation(cc: str, is_spam: bool, foreign: bool, count: int,
                 rng: np.random.Generator) -> np.ndarray:
    if cc != "US":
        return np.full(count, "", dtype=object)
    probs = [0.25, 0.3, 0.45, 0.0] if is_spam else [0.85, 0.1, 0.05, 0.0]
    if foreign:
        probs = [0.0, 0.0, 0.6, 0.4]
    return rng.choice(np.array(["A", "B", "C", ""], dtype=object), size=count, p=probs)


def _durations(b: Behaviour, answered: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    count = len(answered)
    dur = rng.lognormal(np.log(b.dur), b.dur_sigma, size=count)
    short = rng.random(count) < b.short
    dur[short] = rng.integers(1, 6, size=int(short.sum()))
    hooked = rng.random(count) < b.hooked
    dur[hooked] = rng.lognormal(np.log(900), 0.5, size=int(hooked.sum()))
    return np.where(answered, np.round(dur), 0).astype(np.int64)


def _entity_calls(e: _Entity, net: _Network, rng: np.random.Generator, calls: _Calls,
                  sweep_pos: dict[tuple[str, int], int], world: World) -> tuple[tuple, ...]:
    """Calls placed by one number; returns (t, callee, answered, duration) for reactions."""
    cls = e.cls
    segments = [(e.start, e.end, cls)]
    if cls == "dormant":  # an ordinary, quiet history, then the burst
        segments = [(0.0, e.burst_start, "subscriber"), (e.burst_start, e.end, "dormant")]
    out = []
    for start, end, seg_cls in segments:
        b = world.behaviours[seg_cls]
        rate = b.per_day * float(rng.lognormal(0, 0.5)) * (0.15 if cls == "dormant" and
                                                           seg_cls == "subscriber" else 1)
        count = int(rng.poisson(rate * max(end - start, 0)))
        if count == 0:
            continue
        t = _times(rng, start, end, count, b.hours, UTC_OFFSET[e.country])
        count = len(t)
        callee = _targets(e, b, net, count, rng, sweep_pos)
        answer_p = float(np.clip(rng.beta(b.answer * 8, (1 - b.answer) * 8), 0.01, 0.99))
        answered = rng.random(count) < answer_p
        dur = _durations(b, answered, rng)
        foreign = not e.number.startswith(_COUNTRY_CODE[e.country])
        att = _attestation(e.country, b.is_spam, foreign, count, rng)
        calls.add(t, np.full(count, e.number, dtype=object), callee, dur, answered, att)
        out.append((t, callee, answered, dur, b))
    return tuple(out)


_COUNTRY_CODE = {"US": "+1", "IN": "+91", "BR": "+55", "GB": "+44"}


def _reactions(e: _Entity, placed: tuple, rng: np.random.Generator, calls: _Calls,
               reports: list[dict], world: World) -> None:
    """Callbacks and complaints drawn by the calls one number placed."""
    for t, callee, answered, _dur, b in placed:
        back = rng.random(len(t)) < b.callback
        if back.any():
            k = int(back.sum())
            tb = t[back] + rng.exponential(1.5 / 24, size=k)
            dur_back = np.round(rng.lognormal(np.log(120 if b.category == "wangiri" else 60),
                                              0.8, size=k)).astype(np.int64)
            calls.add(tb, callee[back], np.full(k, e.number, dtype=object), dur_back,
                      np.ones(k, dtype=bool), np.full(k, "", dtype=object))
        weight = np.where(answered, 1.0, 0.25)
        complain = rng.random(len(t)) < b.report * weight
        vouch = rng.random(len(t)) < b.vouch * answered
        for idx in np.flatnonzero(complain):
            # a confused reporter clicks the wrong button
            wrong = rng.random() < world.wrong_report_share
            reports.append(_report(e, float(t[idx]), callee[idx], "not_spam" if wrong else
                                   "spam", _reported_category(b, rng), rng,
                                   world.report_delay_h))
        for idx in np.flatnonzero(vouch):
            reports.append(_report(e, float(t[idx]), callee[idx], "not_spam", "", rng,
                                   world.report_delay_h))


def _reported_category(b: Behaviour, rng: np.random.Generator) -> str:
    roll = rng.random()
    if roll < 0.55 and b.category:
        return b.category
    if roll < 0.8:
        return ""
    return str(rng.choice(["robocall", "telemarketing", "scam", "survey", "other"]))


def _report(e: _Entity, t: float, reporter: str, label: str, category: str,
            rng: np.random.Generator, delay_h: float = 4.0) -> dict:
    return {"t": t + float(rng.exponential(delay_h / 24)), "number": e.number, "label": label,
            "country": e.country, "reporter": reporter, "category": category,
            "source": "user"}


def _noise_reports(entities: list[_Entity], days: float, rng: np.random.Generator,
                   reports: list[dict], world: World) -> None:
    """Mistaken complaints about ordinary numbers, and one reporter flooding a business."""
    legit = [e for e in entities if not world.is_spam(e.cls)]
    subs = [e.number for e in legit if e.cls == "subscriber"]
    for e in legit:
        if rng.random() < world.noise_share:
            for _ in range(int(rng.integers(1, 3))):
                reports.append(_report(e, float(rng.uniform(0, days)),
                                       subs[int(rng.integers(0, len(subs)))], "spam", "", rng))
    for _ in range(3):
        e = legit[int(rng.integers(0, len(legit)))]
        grudge = subs[int(rng.integers(0, len(subs)))]
        for _ in range(int(rng.integers(5, 15))):
            reports.append(_report(e, float(rng.uniform(0, days)), grudge, "spam", "scam", rng))


# ---------------------------------------------------------------------------------------
# Writing


def _formats(numbers: Sequence[str], home: str) -> dict[str, tuple[str, str, str]]:
    """Each number's (E.164, international, national-or-international) renderings."""
    out = {}
    for num in numbers:
        parsed = phonenumbers.parse(num, None)
        intl = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        domestic = phonenumbers.region_code_for_number(parsed) == home
        nat = (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
               if domestic else intl)
        out[num] = (num, intl, nat)
    return out


def _render(numbers: np.ndarray, home: str, rng: np.random.Generator) -> np.ndarray:
    """Mixed formats as networks record them: mostly E.164, some international, some national."""
    uniq, inverse = np.unique(numbers.astype(str), return_inverse=True)
    table = _formats(uniq.tolist(), home)
    forms = np.array([table[u] for u in uniq], dtype=object)
    choice = rng.choice(3, size=len(numbers), p=[0.7, 0.15, 0.15])
    return forms[inverse, choice]


_BROKEN_NUMBERS = np.array(["", "anonymous", "12", "+1 555 0", "0000000000000000000",
                            "+999123456", "N/A"], dtype=object)


def _break_rows(cols: dict[str, np.ndarray], share: float, rng: np.random.Generator) -> None:
    """A few rows as real exports have them: garbage numbers, negative durations, no time."""
    n = len(cols["ts"])
    broken = np.flatnonzero(rng.random(n) < share)
    kind = rng.integers(0, 3, size=len(broken))
    pick = _BROKEN_NUMBERS[rng.integers(0, len(_BROKEN_NUMBERS), size=len(broken))]
    cols["caller"][broken[kind == 0]] = pick[kind == 0]
    cols["duration_s"][broken[kind == 1]] = -1
    ts_mask = np.zeros(n, dtype=bool)
    ts_mask[broken[kind == 2]] = True
    cols["ts_null"] = ts_mask


def _to_timestamps(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    micros = (START.timestamp() + days * DAY) * 1e6
    return pa.array(micros.astype(np.int64), type=pa.int64(), mask=mask).cast(
        pa.timestamp("us", "UTC"))


def _write_calls(cc: str, raw: dict[str, np.ndarray], path: Path, plan: SimulationPlan,
                 rng: np.random.Generator) -> int:
    order = np.argsort(raw["t"], kind="stable")
    cols = {
        "ts": raw["t"][order],
        "caller": _render(raw["caller"][order], cc, rng),
        "callee": _render(raw["callee"][order], cc, rng),
        "duration_s": raw["dur"][order].astype(np.int64),
        "answered": raw["ans"][order].astype(bool),
        "attestation": raw["att"][order],
    }
    _break_rows(cols, plan.broken_share, rng)
    n = len(cols["ts"])
    ts = _to_timestamps(cols["ts"], mask=cols["ts_null"])
    table = pa.table({
        "ts": ts,
        "caller": pa.array(cols["caller"].tolist(), pa.string()),
        "callee": pa.array(cols["callee"].tolist(), pa.string()),
        "duration_s": pa.array(cols["duration_s"]),
        "answered": pa.array(cols["answered"]),
        "country": pa.array([cc] * n, pa.string()),
        "channel": pa.array(["voice"] * n, pa.string()),
        "attestation": pa.array(cols["attestation"].tolist(), pa.string()),
        "operator": pa.array([f"{cc.lower()}-op"] * n, pa.string()),
    })
    _atomic_parquet(table, path)
    return n


def _atomic_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _reports_table(reports: list[dict], rng: np.random.Generator) -> pa.Table:
    reports.sort(key=lambda r: (r["t"], r["number"], r["reporter"]))
    t = np.array([r["t"] for r in reports], dtype=float)
    numbers = np.array([r["number"] for r in reports], dtype=object)
    rendered = np.empty(len(reports), dtype=object)
    for cc in COUNTRIES:
        mask = np.array([r["country"] == cc for r in reports], dtype=bool)
        if mask.any():
            rendered[mask] = _render(numbers[mask], cc, rng)
    return pa.table({
        "ts": _to_timestamps(t),
        "number": pa.array(rendered.tolist(), pa.string()),
        "label": pa.array([r["label"] for r in reports], pa.string()),
        "country": pa.array([r["country"] for r in reports], pa.string()),
        "reporter": pa.array([r["reporter"] for r in reports], pa.string()),
        "category": pa.array([r["category"] for r in reports], pa.string()),
        "source": pa.array([r["source"] for r in reports], pa.string()),
    })


def _truth_table(entities: list[_Entity], first_seen: dict[str, float],
                 world: World) -> pa.Table:
    rows = [e for e in entities if e.number in first_seen]
    return pa.table({
        "number": pa.array([e.number for e in rows], pa.string()),
        "country": pa.array([e.country for e in rows], pa.string()),
        "class": pa.array([e.cls for e in rows], pa.string()),
        "is_spam": pa.array([world.is_spam(e.cls) for e in rows]),
        "first_seen": _to_timestamps(np.array([first_seen[e.number] for e in rows])),
    })


def _first_seen(raw: dict[str, np.ndarray], into: dict[str, float]) -> None:
    for col in ("caller", "callee"):
        nums, t = raw[col], raw["t"]
        order = np.argsort(t, kind="stable")
        t_sorted = t[order]
        uniq, idx = np.unique(nums[order].astype(str), return_index=True)
        for num, ti in zip(uniq.tolist(), t_sorted[idx].tolist(), strict=True):
            if ti < into.get(num, np.inf):
                into[num] = ti


def simulate(out_dir: str | Path, scale: float = 1.0, days: int = 14, seed: int = 0,
             countries: Sequence[str] = COUNTRIES,
             plan: SimulationPlan | None = None, world: World | None = None
             ) -> dict[str, Path]:
    """Write a simulated ``calls/`` folder, ``reports.parquet`` and ``truth.parquet``.

    :param out_dir: created if missing; existing outputs are replaced atomically.
    :param scale: multiplies every population size (1.0: ~2,000 subscribers a country).
    :param days: length of the simulated period, starting at :data:`START`.
    :param seed: same seed, same plan -> byte-identical data.
    :param countries: networks to simulate (subset of :data:`COUNTRIES`).
    :param world: behaviours, sizes and reporting (:func:`draw_world`); the default world
        when not given (with ``plan`` as its sizes).
    :returns: paths of ``calls`` (folder), ``reports``, ``truth`` and ``meta`` (JSON).
    """
    unknown = set(countries) - set(COUNTRIES)
    if unknown:
        raise ValueError(f"cannot simulate countries {sorted(unknown)}; known: {COUNTRIES}")
    world = world or World(plan=plan or SimulationPlan())
    plan = world.plan
    out = Path(out_dir)
    (out / "calls").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    mint = _Minter(rng)
    entities: list[_Entity] = []
    reports: list[dict] = []
    first_seen: dict[str, float] = {}
    total = 0
    for cc in countries:
        people = _population(cc, plan, scale, float(days), rng, mint)
        entities += people
        raw = _country_calls(people, rng, reports, float(days), world)
        _first_seen(raw, first_seen)
        total += _write_calls(cc, raw, out / "calls" / f"{cc}.parquet", plan, rng)
    _noise_reports(entities, float(days), rng, reports, world)
    reports = [r for r in reports if r["t"] < days]
    _atomic_parquet(_reports_table(reports, rng), out / "reports.parquet")
    _atomic_parquet(_truth_table(entities, first_seen, world), out / "truth.parquet")
    meta = {"start": START.isoformat(), "end": (START + timedelta(days=days)).isoformat(),
            "days": days, "scale": scale, "seed": seed, "countries": list(countries),
            "calls": total, "reports": len(reports), "numbers": len(first_seen),
            "world": world.name}
    (out / "simulation.json").write_text(json.dumps(meta, indent=2) + "\n")
    logger.info("simulated %d calls, %d reports, %d numbers in %s", total, len(reports),
                len(first_seen), out)
    return {"calls": out / "calls", "reports": out / "reports.parquet",
            "truth": out / "truth.parquet", "meta": out / "simulation.json"}


def _country_calls(people: list[_Entity], rng: np.random.Generator, reports: list[dict],
                   days: float, world: World) -> dict[str, np.ndarray]:
    net = _network(people, rng)
    calls = _Calls([], [], [], [], [], [])
    sweep_pos: dict[tuple[str, int], int] = {}
    for e in people:
        placed = _entity_calls(e, net, rng, calls, sweep_pos, world)
        _reactions(e, placed, rng, calls, reports, world)
    raw = calls.concat()
    # Nobody reaches a number before its SIM exists.
    starts = {e.number: e.start for e in people if e.start > 0 and not world.is_spam(e.cls)}
    callee_start = np.array([starts.get(n, 0.0) for n in raw["callee"]]) if starts else 0.0
    keep = (raw["t"] < days) & (raw["t"] >= callee_start)
    return {k: v[keep] for k, v in raw.items()}
