"""An independent call-record world for testing the oracle as an outside operator would.

Written from the data contract (``docs/DATA_CONTRACT.md``), the CLI help and public knowledge of
how phone spam behaves, without reading the project's simulator, label code or benchmark worlds.
It writes ``calls.parquet`` and ``reports.parquet`` exactly in the contract's formats and a
``truth.parquet`` (``number`` E.164, ``country`` = the network that saw the number, ``class``,
``is_spam``, ``number_country``, ``first_seen``).

Usage::

    .venv/bin/python -m bench.independent_world --out /tmp/w --seed 101 --scale 0.25

The world's assumptions (the spec)
==================================

Time and networks. 14 days from 2026-03-02 00:00 UTC. Four networks, each the operator of one
country: US (UTC-5), BR (UTC-3), IN (UTC+5:30), GB (UTC+0). Each network records the calls its
own subscribers receive and place; one number lives on one network (foreign wangiri numbers
appear only on the network they ring). The ``country`` column is the recording network.
Calls are voice only (no SMS rows: the contract does not say how an SMS's ``answered`` and
``duration_s`` should read).

Scale. ``scale`` 1.0 has 3,000 private subscribers, 165 businesses and 76 spam numbers per
network (12,964 numbers, 304 spam, ~2.9M calls). Counts scale linearly; the daily volume of a
high-volume caller is a *fraction of the subscriber base* (a robocaller rings ~40% of the
base on an active day), so a smaller world is a smaller operator, with proportionally fewer
calls and therefore fewer complaints per spam number; high-volume calls grow with the square of
the scale (~0.3M calls at 0.25, ~2.9M at 1.0). Exact copies of a call row (a caller ringing
the same callee twice in one second, unanswered) are written once.

Number plans. Numbers are drawn so that libphonenumber calls them valid: US NANP local numbers
(real area codes, exchange 2xx-9xx) and toll-free 833/844/855/866/877/888 for some campaigns;
BR mobiles ``+55 DD 9XXXX-XXXX``; IN mobiles ``+91 [6-9]XXXXXXXXX``; GB mobiles ``+44 7[4-9]..``
and London ``+44 20 7/8...``. Wangiri numbers are foreign (TN, MA, NG, MD, LV, BY, CU,
satellite-free) in 60% of cases and local otherwise. The GB and IN networks write domestic
numbers in national format (``020 7946 0018``, ``098xxxxxxx`` style, as libphonenumber formats
them) and foreign ones in E.164; US and BR write E.164. Half of all complaints type the number
in national format, as subscribers do.

Legitimate classes (per network at scale 1):

* ``private_subscriber`` (2,850): a social graph of ~8 reciprocal contacts each (mostly same
  network), 1-10 calls a day (lognormal rate, median 3), 85% to contacts, 10% to businesses they use
  (customers call the bank, clinic, shop: the organic inbound that marks a business as sought
  out), 5% to strangers (wrong numbers, new acquaintances); answer rate 0.75, talk time
  lognormal median 90 s; day and evening hours.
* ``new_subscriber`` (60): the same, first seen on day 12 or 13 (new SIMs; nobody calls them
  before).

* ``recycled_number`` (8 of the 3,000 subscriber numbers): days 0-3 a telemarketer under the
  previous owner (drawing complaints), silent days 4-8, a private subscriber from day 9.
  Legitimate on day 14: its complaints belong to the previous owner.
* businesses: ``bank`` (10, calls its own customers, 30-200 a day), ``pharmacy_reminder``
  (20, automated refill calls to its customers, short: median 25 s), ``delivery`` (20, calls
  strangers, the day's recipients, ~200 a day, short), ``clinic_reminder`` (25, patients),
  ``school`` (10, quiet except one or two alert days when it rings every parent within
  30 minutes), ``political_charity`` (15, campaign days of 200-1,500 calls to strangers,
  answer 0.25; exempt from do-not-call lists in the US, so legitimate here, but complained
  about), ``debt_collector`` (10, rings the same debtors repeatedly, answer 0.2, complained
  about), ``call_centre`` (20, outbound callbacks to customers who called in), ``shop``
  (30, a few outbound calls, many inbound), ``new_business`` (5, a delivery-like caller first
  seen on day 12 or 13).

Spam classes (per network at scale 1; 76 in all):

* ``robocaller`` (16): campaigns of 4 numbers in one thousand-block (consecutive numbers,
  the block clustering seen in the real FTC sample below); half the numbers stay active for
  the whole period, half rotate (active 2-5 days each, the "snowshoe" pattern). On an active
  day a number rings ~40% of the base (lognormal, 10%-150%: some callees twice); 40% dial
  sequentially through the numbering plan, the rest at random; answer rate 0.2 x the
  country's answer factor; answered calls last lognormal median 12 s; 9:00-20:00 local. The
  fourth number of each campaign is first used on day 12 or 13 (the campaign's next number).
* ``wangiri`` (10): 1-4 active days; one ring at night (22:00-05:00 local) to ~30% of the
  base, unanswered, duration 0 (3% picked up, 0-2 s); 50% sequential; 3% of those rung call
  back within 12 h (answered, 20-300 s, a premium line).
* ``dormant_burst`` (10): a quiet number (2-5 contacts, <1 call a day) that on a day between
  8 and 13 bursts for 1-3 days, ringing 15%-50% of the base a day, robocall-like.
* ``scammer`` (15): scam call centres (bank impersonation, tech support, tax): 40-250 calls
  a day to strangers, answer 0.35; answered calls mostly hang-ups (< 20 s) but 15% are long
  (5-25 min: a victim engaged).
* ``telemarketer`` (15): 200-800 calls a day to strangers (30% re-call the same list),
  answer 0.3, median 40 s, business hours.
* ``low_volume_scam`` (10): targeted scams, 3-15 calls a day, answer 0.5, long calls.

New spam numbers: the fourth number of every robocall campaign, 20% of wangiri and scammer
numbers and 10% of telemarketers are first used on day 12 or 13 (a new SIM, the campaign's
next number), so each world has spam first seen in the 48 hours before scoring.

STIR/SHAKEN attestation (US network only; others leave it empty): subscribers and most
businesses ``A``; call centres, delivery, political and debt callers ``A``/``B``; robocallers
``C`` 50% / ``B`` 30% / ``A`` 20%; scammers and telemarketers ``B``/``C``; foreign numbers ``C``.

Complaints. Each call draws a complaint about the caller with probability ``rate(class,
answered) x country factor``. Per answered call: robocaller 0.002, telemarketer 0.004,
scammer 0.01, low-volume scam 0.04, dormant burst 0.003; per missed wangiri ring 0.0003 and
per wangiri callback 0.03 (the charge on the bill). Legitimate callers draw mistaken or
annoyed complaints: political/charity 0.003, debt collector 0.004, delivery and call centre
0.0003, bank and pharmacy 0.0002, clinic, school and shop 0.0001, private subscribers
0.00001 per call. Unanswered calls of spam draw complaints at one fifth of the answered rate
(missed-call lookups). Country factors (reporting culture and tools): US 1.0, GB 0.7,
BR 0.4, IN 0.25; answer factors: US 0.8, GB 1.0, BR 1.1, IN 1.2. Reporting delay: lognormal,
median 1.5 h (IN 6 h), with 15% filed 1-5 days later; complaints filed after day 14 are not
in the file. 0.5% of complaints hit a wrong number (a typo: a random subscriber of the same
network, never called by the reporter). Subscribers also mark answered calls ``not_spam``:
0.001 per answered call of a business, 0.0002 of a telemarketer. Category: drawn per class
(a robocall is reported as ``robocall`` 60%, ``telemarketing`` 20%, ``scam`` 15%, ``other``
5%, and so on). Source and reporter: in the US 30% of complaints arrive through the FTC
feed (``source=ftc``, no reporter); in GB 10% through the regulator (``source=regulator``,
no reporter); the rest are ``source=user`` with the reporter's own E.164 number.

What was taken from the real FTC sample (``/work/shared/data/ftc_dnc_sample.csv``, one day of
numbers reported to the US FTC, 12,113 rows, 11,342 distinct numbers): (1) complaints per
reported number per day are very skewed: 96% of reported numbers draw exactly one complaint
that day, 3% two, and a few 10-43; the US complaint rates above were chosen so that a
robocaller's complaints on one day are mostly 0 or 1 (``summary()`` prints the world's own
per-day distribution to compare); (2) reported numbers cluster in thousand-blocks (e.g. nine
distinct numbers in ``833-487-25xx/26xx``, six in ``833-588-37xx``): campaigns take consecutive
numbers in a block and rotate through them, hence the campaign blocks and rotation above;
(3) 7.6% of reported numbers are toll-free: a quarter of US robocall campaigns use toll-free
blocks; (4) 0.9% of rows are malformed numbers (typos): the world keeps complaints readable
(the contract quarantines malformed rows, and the tests check zero quarantined rows) and
models typos as complaints against a wrong valid number instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["COUNTRIES", "LEGIT_CLASSES", "SPAM_CLASSES", "START", "generate", "summary"]

log = logging.getLogger(__name__)

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 14
DAY = 86_400


@dataclass(frozen=True)
class Country:
    """One network: time zone, answer and complaint factors, delay, number plan."""

    code: str
    tz_hours: float
    answer: float
    complain: float
    delay_median_h: float
    national_format: bool
    feed_share: float
    feed_source: str


COUNTRIES = {
    "US": Country("US", -5, 0.8, 1.0, 1.5, False, 0.30, "ftc"),
    "BR": Country("BR", -3, 1.1, 0.4, 1.5, False, 0.0, ""),
    "IN": Country("IN", 5.5, 1.2, 0.25, 6.0, True, 0.0, ""),
    "GB": Country("GB", 0, 1.0, 0.7, 1.5, True, 0.10, "regulator"),
}

SPAM_CLASSES = {"robocaller": 16, "wangiri": 10, "dormant_burst": 10, "scammer": 15,
                "telemarketer": 15, "low_volume_scam": 10}
BUSINESS_CLASSES = {"bank": 10, "pharmacy_reminder": 20, "delivery": 20, "clinic_reminder": 25,
                    "school": 10, "political_charity": 15, "debt_collector": 10,
                    "call_centre": 20, "shop": 30, "new_business": 5}
SUBSCRIBERS = 3000
NEW_SUBSCRIBERS = 60
RECYCLED = 8
LEGIT_CLASSES = ("private_subscriber", "new_subscriber", "recycled_number",
                 *BUSINESS_CLASSES)

# complaints per answered call (missed calls of spam: one fifth), before the country factor
COMPLAINT_RATE = {
    "robocaller": 0.002, "telemarketer": 0.004, "scammer": 0.01, "low_volume_scam": 0.04,
    "dormant_burst": 0.003, "wangiri": 0.0003, "political_charity": 0.003,
    "debt_collector": 0.004, "delivery": 0.0003, "call_centre": 0.0003, "bank": 0.0002,
    "pharmacy_reminder": 0.0002, "clinic_reminder": 0.0001, "school": 0.0001, "shop": 0.0001,
    "new_business": 0.0003, "private_subscriber": 0.00001, "new_subscriber": 0.00001,
    "recycled_number": 0.00001,
}
WANGIRI_CALLBACK_COMPLAINT = 0.03
FRESH_SHARE = 0.2       # spam numbers first used on day 12 or 13
NOT_SPAM_RATE = {c: 0.001 for c in BUSINESS_CLASSES} | {"telemarketer": 0.0002}
CATEGORIES = ("robocall", "telemarketing", "scam", "wangiri", "survey", "debt_collection",
              "other")
CATEGORY_MIX = {
    "robocaller": (0.6, 0.2, 0.15, 0, 0, 0, 0.05),
    "dormant_burst": (0.5, 0.1, 0.3, 0, 0, 0, 0.1),
    "telemarketer": (0.15, 0.7, 0.05, 0, 0.05, 0, 0.05),
    "scammer": (0.1, 0.05, 0.75, 0, 0, 0.05, 0.05),
    "low_volume_scam": (0, 0, 0.85, 0, 0, 0.05, 0.1),
    "wangiri": (0, 0, 0.3, 0.6, 0, 0, 0.1),
    "political_charity": (0.3, 0.3, 0, 0, 0.3, 0, 0.1),
    "debt_collector": (0.1, 0.1, 0.1, 0, 0, 0.6, 0.1),
}
DEFAULT_MIX = (0.2, 0.3, 0.2, 0, 0.1, 0, 0.2)

US_AREA = (201, 212, 213, 214, 305, 312, 313, 404, 415, 469, 503, 512, 602, 617, 646, 702,
           713, 718, 720, 773, 786, 818, 832, 917, 929, 972)
US_TOLL_FREE = (833, 844, 855, 866, 877, 888)
BR_DDD = (11, 12, 19, 21, 27, 31, 41, 47, 48, 51, 61, 62, 71, 81, 85, 91)
FOREIGN = ("+216", "+212", "+234", "+373", "+371", "+375", "+53")
HOURS_DAY = np.array([0, 0, 0, 0, 0, 0, 0, 1, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 6, 4, 2, 1.0])
HOURS_BUSINESS = np.array([0] * 9 + [1] * 9 + [0] * 6, dtype=float)
HOURS_CAMPAIGN = np.array([0] * 9 + [1] * 11 + [0] * 4, dtype=float)
HOURS_NIGHT = np.array([1, 1, 1, 1, 1, 0.5] + [0] * 16 + [0.5, 1], dtype=float)


# --------------------------------------------------------------------------- numbers

def _valid(e164: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False


def _draw_number(rng: np.random.Generator, cc: str, kind: str = "mobile") -> str:
    if cc == "US":
        area = rng.choice(US_TOLL_FREE if kind == "toll_free" else US_AREA)
        return f"+1{area}{rng.integers(200, 1000)}{rng.integers(0, 10000):04d}"
    if cc == "BR":
        return f"+55{rng.choice(BR_DDD)}9{rng.integers(6000, 10000)}{rng.integers(0, 10000):04d}"
    if cc == "IN":
        return f"+91{rng.integers(6, 10)}{rng.integers(0, 10**9):09d}"
    if cc == "GB":
        if kind == "landline":
            return f"+4420{rng.choice((7, 8))}{rng.integers(0, 10**7):07d}"
        return f"+447{rng.integers(4, 10)}{rng.integers(0, 10**8):08d}"
    return f"{rng.choice(FOREIGN)}{rng.integers(10**7, 10**8)}"


def _foreign(rng: np.random.Generator) -> str:
    templates = {"+216": (2, 8), "+212": (6, 8), "+234": (80, 8), "+373": (6, 7),
                 "+371": (2, 7), "+375": (29, 7), "+53": (5, 7)}
    prefix = str(rng.choice(list(templates)))
    head, digits = templates[prefix]
    return f"{prefix}{head}{rng.integers(0, 10**digits):0{digits}d}"


class NumberBook:
    """Every number of the world, unique and valid, with its truth."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.numbers: list[str] = []
        self.network: list[str] = []
        self.cls: list[str] = []
        self.active_from: dict[int, int] = {}     # number id -> first day it exists
        self._seen: set[str] = set()

    def _add(self, number: str, network: str, cls: str) -> int:
        self._seen.add(number)
        self.numbers.append(number)
        self.network.append(network)
        self.cls.append(cls)
        return len(self.numbers) - 1

    def new(self, network: str, cls: str, kind: str = "mobile", foreign: bool = False) -> int:
        while True:
            n = _foreign(self.rng) if foreign else _draw_number(self.rng, network, kind)
            if n not in self._seen and _valid(n):
                return self._add(n, network, cls)

    def block(self, network: str, cls: str, size: int, toll_free: bool) -> list[int]:
        """``size`` consecutive valid numbers in one thousand-block (a campaign's range)."""
        while True:
            base = _draw_number(self.rng, network, "toll_free" if toll_free else "mobile")
            start = int(base[-3:]) % (1000 - size * 3)
            cands = [f"{base[:-3]}{start + 2 * k + int(self.rng.integers(0, 2)):03d}"
                     for k in range(size)]
            if all(c not in self._seen and _valid(c) for c in cands):
                return [self._add(c, network, cls) for c in cands]


# --------------------------------------------------------------------------- calls

@dataclass
class Calls:
    """Accumulated call rows (number ids) with each row's complaint probabilities."""

    caller: list[np.ndarray] = field(default_factory=list)
    callee: list[np.ndarray] = field(default_factory=list)
    ts: list[np.ndarray] = field(default_factory=list)
    duration: list[np.ndarray] = field(default_factory=list)
    answered: list[np.ndarray] = field(default_factory=list)
    p_spam: list[np.ndarray] = field(default_factory=list)
    about_callee: list[np.ndarray] = field(default_factory=list)
    p_ok: list[np.ndarray] = field(default_factory=list)

    def add(self, caller, callee, ts, duration, answered, p_spam, p_ok=0.0,
            about_callee=False) -> None:
        n = len(ts)
        if n == 0:
            return
        self.caller.append(np.broadcast_to(np.asarray(caller, np.int64), n).copy())
        self.callee.append(np.asarray(callee, np.int64))
        self.ts.append(np.asarray(ts, np.int64))
        self.duration.append(np.asarray(duration, np.int64))
        self.answered.append(np.asarray(answered, bool))
        self.p_spam.append(np.broadcast_to(np.asarray(p_spam, float), n).copy())
        self.p_ok.append(np.broadcast_to(np.asarray(p_ok, float), n).copy())
        self.about_callee.append(np.full(n, about_callee))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(getattr(self, k)) for k in
                ("caller", "callee", "ts", "duration", "answered", "p_spam", "about_callee",
                 "p_ok")}


@dataclass
class Net:
    """One network while it is being generated."""

    c: Country
    rng: np.random.Generator
    subs: np.ndarray                 # ids of private subscribers (callees of everyone)
    sorted_subs: np.ndarray          # the same, in numbering-plan order (sequential dialling)
    customers_of: dict[int, np.ndarray] = field(default_factory=dict)

    def times(self, day: np.ndarray | int, n: int, profile: np.ndarray) -> np.ndarray:
        hour = self.rng.choice(24, size=n, p=profile / profile.sum())
        local = np.asarray(day) * DAY + hour * 3600 + self.rng.integers(0, 3600, n)
        return local - int(self.c.tz_hours * 3600)

    def answer(self, n: int, rate: float) -> np.ndarray:
        return self.rng.random(n) < min(0.95, rate * self.c.answer)

    def strangers(self, n: int, sequential: bool) -> np.ndarray:
        if not sequential:
            return self.rng.choice(self.subs, size=n)
        start = int(self.rng.integers(0, len(self.sorted_subs)))
        return self.sorted_subs[(start + np.arange(n)) % len(self.sorted_subs)]


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.maximum(1, np.round(rng.lognormal(np.log(median), sigma, n))).astype(np.int64)


def _daily(net: Net, calls: Calls, caller: int, cls: str, days: np.ndarray, per_day: int,
           target: Callable[[int], np.ndarray], answer: float, talk_median: float,
           profile: np.ndarray, long_share: float = 0.0) -> None:
    """``per_day`` calls (Poisson) on each of ``days`` to ``target(n)``, one caller."""
    rng = net.rng
    for day in days:
        n = int(rng.poisson(per_day))
        if n == 0:
            continue
        callee = target(n)
        ans = net.answer(n, answer)
        dur = _lognormal(rng, talk_median, 0.8, n)
        if long_share:
            engaged = rng.random(n) < long_share
            dur = np.where(engaged, rng.integers(300, 1500, n), dur)
        dur = np.where(ans, dur, 0)
        rate = COMPLAINT_RATE[cls] * net.c.complain
        p = np.where(ans, rate, rate / 5 if cls in SPAM_CLASSES else 0.0)
        calls.add(caller, callee, net.times(day, n, profile), dur, ans, p,
                  p_ok=np.where(ans, NOT_SPAM_RATE.get(cls, 0.0), 0.0))


# --------------------------------------------------------------------------- legitimate

def _subscribers(net: Net, book: NumberBook, calls: Calls, ids: np.ndarray,
                 first_day: np.ndarray, businesses: np.ndarray) -> None:
    """Private subscribers: a reciprocal social graph, calls to contacts, businesses, strangers."""
    rng = net.rng
    n = len(ids)
    pairs = rng.integers(0, n, size=(n * 4, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    both = np.concatenate([pairs, pairs[:, ::-1]])
    order = np.argsort(both[:, 0], kind="stable")
    both = both[order]
    starts = np.searchsorted(both[:, 0], np.arange(n + 1))
    rate = np.clip(rng.lognormal(np.log(3.0), 0.6, n), 0.3, 10)
    counts = rng.poisson(rate[:, None], size=(n, DAYS))
    counts[np.arange(DAYS)[None, :] < first_day[:, None]] = 0
    who = np.repeat(np.arange(n), counts.sum(axis=1))
    day = np.concatenate([np.repeat(np.arange(DAYS), c) for c in counts])
    total = len(who)
    kind = rng.random(total)
    deg = starts[who + 1] - starts[who]
    pick = starts[who] + (rng.random(total) * np.maximum(deg, 1)).astype(np.int64)
    contact = np.where(deg > 0, both[np.minimum(pick, len(both) - 1), 1], rng.integers(0, n, total))
    callee = ids[contact]
    to_business = kind > 0.85
    callee[to_business] = rng.choice(businesses, size=int(to_business.sum()))
    stranger = kind > 0.95
    callee[stranger] = rng.choice(net.subs, size=int(stranger.sum()))
    self_call = callee == ids[who]
    callee[self_call] = ids[(contact[self_call] + 1) % n]
    ans = rng.random(total) < 0.75
    dur = np.where(ans, _lognormal(rng, 90, 1.0, total), 0)
    ts = net.times(day, total, HOURS_DAY)
    calls.add(ids[who], callee, ts, dur, ans, COMPLAINT_RATE["private_subscriber"] * net.c.complain)
    _business_customers(net, businesses, ids[who[to_business & ~stranger]],
                        callee[to_business & ~stranger])


def _business_customers(net: Net, businesses: np.ndarray, callers: np.ndarray,
                        called: np.ndarray) -> None:
    for b in businesses:
        mine = np.unique(callers[called == b])
        extra = net.rng.choice(net.subs, size=int(net.rng.integers(100, 600)))
        net.customers_of[int(b)] = np.unique(np.concatenate([mine, extra]))


BUSINESS_BEHAVIOUR = {
    # class: (calls a day median, answer, talk median s, hour profile, who is called)
    "bank": (80, 0.6, 120, HOURS_BUSINESS, "customers"),
    "pharmacy_reminder": (60, 0.5, 25, HOURS_BUSINESS, "customers"),
    "delivery": (200, 0.55, 30, HOURS_CAMPAIGN, "strangers"),
    "clinic_reminder": (35, 0.6, 40, HOURS_BUSINESS, "customers"),
    "debt_collector": (200, 0.2, 60, HOURS_CAMPAIGN, "debtors"),
    "call_centre": (120, 0.65, 180, HOURS_CAMPAIGN, "customers"),
    "shop": (6, 0.7, 60, HOURS_BUSINESS, "customers"),
    "new_business": (200, 0.55, 30, HOURS_CAMPAIGN, "strangers"),
}


def _business(net: Net, calls: Calls, b: int, cls: str, scale: float) -> None:
    rng = net.rng
    customers = net.customers_of.get(b, net.subs[:10])
    if cls == "school":
        for day in rng.choice(DAYS, size=int(rng.integers(1, 3)), replace=False):
            parents = customers if len(customers) > 50 else rng.choice(net.subs, 300)
            n = len(parents)
            ts = net.times(day, 1, HOURS_BUSINESS)[0] + rng.integers(0, 1800, n)
            ans = net.answer(n, 0.7)
            calls.add(b, parents, ts, np.where(ans, _lognormal(rng, 30, 0.4, n), 0), ans,
                      COMPLAINT_RATE[cls] * net.c.complain)
        return
    if cls == "political_charity":
        days = np.sort(rng.choice(DAYS, size=int(rng.integers(3, 7)), replace=False))
        per_day = int(rng.uniform(200, 1500) * scale)
        _daily(net, calls, b, cls, days, per_day, lambda n: net.strangers(n, False), 0.25, 45,
               HOURS_CAMPAIGN)
        return
    median, answer, talk, hours, whom = BUSINESS_BEHAVIOUR[cls]
    per_day = max(1, int(rng.lognormal(np.log(median), 0.5) * (scale if median > 20 else 1)))
    first = int(rng.integers(12, 14)) if cls == "new_business" else 0
    days = np.arange(first, DAYS)
    if whom == "debtors":
        debtors = rng.choice(net.subs, size=max(20, per_day * 4))
        target = lambda n: rng.choice(debtors, size=n)  # noqa: E731
    elif whom == "customers":
        target = lambda n: rng.choice(customers, size=n)  # noqa: E731
    else:
        target = lambda n: net.strangers(n, False)  # noqa: E731
    _daily(net, calls, b, cls, days, per_day, target, answer, talk, hours)


# --------------------------------------------------------------------------- spam

def _fresh_days(rng: np.random.Generator) -> np.ndarray:
    """A number first used on day 12 or 13 (a new SIM or a campaign's next number)."""
    return np.arange(int(rng.integers(12, 14)), DAYS)


def _active_window(rng: np.random.Generator, rotating: bool, fresh: bool) -> np.ndarray:
    if fresh:
        return _fresh_days(rng)
    if not rotating:
        return np.arange(DAYS)
    length = int(rng.integers(2, 6))
    start = int(rng.integers(0, DAYS - length + 1))
    return np.arange(start, start + length)


def _robocaller(net: Net, calls: Calls, s: int, cls: str, rotating: bool, fresh: bool) -> None:
    rng = net.rng
    frac = float(np.clip(rng.lognormal(np.log(0.4), 0.6), 0.1, 1.5))
    sequential = rng.random() < 0.4
    _daily(net, calls, s, cls, _active_window(rng, rotating, fresh), int(frac * len(net.subs)),
           lambda n: net.strangers(n, sequential), 0.2, 12, HOURS_CAMPAIGN, long_share=0.03)


def _wangiri(net: Net, calls: Calls, s: int) -> None:
    rng = net.rng
    sequential = rng.random() < 0.5
    days = np.sort(rng.choice(DAYS, size=int(rng.integers(1, 5)), replace=False))
    if rng.random() < FRESH_SHARE:
        days = _fresh_days(rng)
    for day in days:
        n = int(rng.poisson(0.3 * len(net.subs) * rng.uniform(0.5, 2)))
        callee = net.strangers(n, sequential)
        ans = rng.random(n) < 0.03
        ts = net.times(day, n, HOURS_NIGHT)
        rate = COMPLAINT_RATE["wangiri"] * net.c.complain
        calls.add(s, callee, ts, np.where(ans, rng.integers(0, 3, n), 0), ans, rate)
        back = rng.random(n) < 0.03
        k = int(back.sum())
        calls.add(callee[back], np.full(k, s), ts[back] + rng.integers(60, 12 * 3600, k),
                  rng.integers(20, 300, k), np.ones(k, bool),
                  WANGIRI_CALLBACK_COMPLAINT * net.c.complain, about_callee=True)


def _dormant_burst(net: Net, calls: Calls, s: int) -> None:
    rng = net.rng
    friends = rng.choice(net.subs, size=int(rng.integers(2, 6)))
    burst = int(rng.integers(8, 14))
    quiet = np.arange(burst)
    _daily(net, calls, s, "private_subscriber", quiet, 1,
           lambda n: rng.choice(friends, size=n), 0.75, 90, HOURS_DAY)
    frac = rng.uniform(0.15, 0.5)
    days = np.arange(burst, min(DAYS, burst + int(rng.integers(1, 4))))
    _daily(net, calls, s, "dormant_burst", days, int(frac * len(net.subs)),
           lambda n: net.strangers(n, rng.random() < 0.3), 0.25, 15, HOURS_CAMPAIGN)


def _spam(net: Net, calls: Calls, s: int, cls: str, scale: float) -> None:
    rng = net.rng
    if cls == "scammer":
        days = _fresh_days(rng) if rng.random() < FRESH_SHARE else np.arange(DAYS)
        _daily(net, calls, s, cls, days, int(rng.uniform(40, 250) * scale),
               lambda n: net.strangers(n, False), 0.35, 12, HOURS_CAMPAIGN, long_share=0.15)
    elif cls == "telemarketer":
        per_day = int(rng.uniform(200, 800) * scale)
        listed = rng.choice(net.subs, size=per_day * 3)
        repeat = rng.random() < 0.3
        target = ((lambda n: rng.choice(listed, size=n)) if repeat
                  else (lambda n: net.strangers(n, rng.random() < 0.3)))
        days = np.arange(int(rng.integers(0, 3)), DAYS)
        if rng.random() < FRESH_SHARE / 2:
            days = _fresh_days(rng)
        _daily(net, calls, s, cls, days, per_day, target, 0.3, 40, HOURS_BUSINESS)
    elif cls == "low_volume_scam":
        _daily(net, calls, s, cls, np.arange(DAYS), int(rng.integers(3, 16)),
               lambda n: net.strangers(n, False), 0.5, 200, HOURS_CAMPAIGN, long_share=0.2)
    elif cls == "wangiri":
        _wangiri(net, calls, s)
    elif cls == "dormant_burst":
        _dormant_burst(net, calls, s)


def _recycled(net: Net, calls: Calls, r: int, scale: float) -> None:
    """Days 0-3: the previous owner telemarkets; days 4-8 silent; then a private subscriber."""
    rng = net.rng
    _daily(net, calls, r, "telemarketer", np.arange(4), int(rng.uniform(100, 400) * scale),
           lambda n: net.strangers(n, False), 0.3, 40, HOURS_BUSINESS)
    friends = rng.choice(net.subs, size=int(rng.integers(4, 12)))
    _daily(net, calls, r, "recycled_number", np.arange(9, DAYS), 3,
           lambda n: rng.choice(friends, size=n), 0.75, 90, HOURS_DAY)


# --------------------------------------------------------------------------- the world

def _count(n: int, scale: float) -> int:
    return max(1, round(n * scale))


def _network(book: NumberBook, calls: Calls, c: Country, rng: np.random.Generator,
             scale: float) -> None:
    n_sub = _count(SUBSCRIBERS, scale)
    subs = np.array([book.new(c.code, "private_subscriber") for _ in range(n_sub)])
    n_new = _count(NEW_SUBSCRIBERS, scale)
    recycled = subs[n_new:n_new + _count(RECYCLED, scale)]
    first_day = np.zeros(n_sub, np.int64)
    first_day[:n_new] = rng.integers(12, 14, n_new)
    for i, day in zip(subs[:n_new], first_day[:n_new], strict=True):
        book.cls[i] = "new_subscriber"
        book.active_from[int(i)] = int(day)
    for i in recycled:
        book.cls[i] = "recycled_number"
    order = np.argsort([book.numbers[i] for i in subs])
    net = Net(c, rng, subs, subs[order])
    businesses = {cls: [book.new(c.code, cls, "landline" if cls in ("bank", "school", "shop")
                                 else "mobile") for _ in range(_count(k, scale))]
                  for cls, k in BUSINESS_CLASSES.items()}
    organic = np.array([b for cls, ids in businesses.items() if cls != "new_business"
                        and cls not in ("political_charity", "debt_collector", "delivery")
                        for b in ids])
    regular = np.ones(n_sub, bool)
    regular[n_new:n_new + len(recycled)] = False
    _subscribers(net, book, calls, subs[regular], first_day[regular], organic)
    for r in recycled:
        _recycled(net, calls, int(r), scale)
    for cls, ids in businesses.items():
        for b in ids:
            _business(net, calls, b, cls, scale)
    for cls, k in SPAM_CLASSES.items():
        n = _count(k, scale)
        if cls == "robocaller":
            campaign: list[int] = []
            while len(campaign) < n:
                size = min(4, n - len(campaign))
                campaign += book.block(c.code, cls, size, c.code == "US" and rng.random() < 0.25)
            for j, s in enumerate(campaign):
                _robocaller(net, calls, s, cls, rotating=j % 2 == 1, fresh=j % 4 == 3)
            continue
        for _ in range(n):
            foreign = cls == "wangiri" and rng.random() < 0.6
            s = book.new(c.code, cls, foreign=foreign)
            _spam(net, calls, s, cls, scale)


def _categories(rng: np.random.Generator, classes: np.ndarray) -> np.ndarray:
    out = np.empty(len(classes), dtype=object)
    for cls in np.unique(classes):
        mask = classes == cls
        mix = np.array(CATEGORY_MIX.get(cls, DEFAULT_MIX), float)
        out[mask] = rng.choice(CATEGORIES, size=int(mask.sum()), p=mix / mix.sum())
    return out


def _reports(book: NumberBook, a: dict[str, np.ndarray], network: np.ndarray,
             rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Complaints and not-spam feedback drawn call by call, with delays, typos and feeds."""
    n = len(a["ts"])
    spam = rng.random(n) < a["p_spam"]
    ok = rng.random(n) < a["p_ok"]
    rows = np.concatenate([np.flatnonzero(spam), np.flatnonzero(ok)])
    label = np.array(["spam"] * int(spam.sum()) + ["not_spam"] * int(ok.sum()), dtype=object)
    about = np.where(a["about_callee"][rows], a["callee"][rows], a["caller"][rows])
    reporter = np.where(a["about_callee"][rows], a["caller"][rows], a["callee"][rows])
    net = network[rows]
    med = np.array([COUNTRIES[c].delay_median_h * 3600 for c in net])
    delay = rng.lognormal(np.log(med), 1.5)
    late = rng.random(len(rows)) < 0.15
    delay = np.where(late, rng.uniform(DAY, 5 * DAY, len(rows)), delay)
    ts = a["ts"][rows] + a["duration"][rows] + delay.astype(np.int64)
    typo = (rng.random(len(rows)) < 0.005) & (label == "spam")
    book_net, book_cls = np.asarray(book.network), np.asarray(book.cls)
    for cc in np.unique(net[typo]):
        hit = typo & (net == cc)
        same = np.flatnonzero((book_net == cc) & (book_cls == "private_subscriber"))
        about[hit] = rng.choice(same, size=int(hit.sum()))
    classes = np.asarray(book.cls, dtype=object)[about]
    category = np.where(label == "spam", _categories(rng, classes), "")
    feed_share = np.array([COUNTRIES[c].feed_share for c in net])
    feed = (rng.random(len(rows)) < feed_share) & (label == "spam")
    source = np.where(feed, [COUNTRIES[c].feed_source for c in net], "user")
    keep = ts < DAYS * DAY
    return {"ts": ts[keep], "about": about[keep], "label": label[keep], "network": net[keep],
            "reporter": np.where(feed, -1, reporter)[keep], "category": category[keep],
            "source": source[keep]}


def _formatter(book: NumberBook) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    e164 = np.asarray(book.numbers, dtype=object)
    national = np.empty(len(e164), dtype=object)
    for i, num in enumerate(book.numbers):
        national[i] = phonenumbers.format_number(phonenumbers.parse(num, None),
                                                 phonenumbers.PhoneNumberFormat.NATIONAL)
    home = np.array([phonenumbers.region_code_for_number(phonenumbers.parse(x, None))
                     for x in book.numbers], dtype=object)

    def fmt(ids: np.ndarray, use_national: np.ndarray) -> np.ndarray:
        return np.where(use_national & (home[ids] == np.asarray(book.network)[ids]),
                        national[ids], e164[ids])
    return fmt


def _attestation(rng: np.random.Generator, classes: np.ndarray, network: np.ndarray,
                 foreign: np.ndarray) -> np.ndarray:
    r = rng.random(len(classes))
    out = np.full(len(classes), "A", dtype=object)
    mid = np.isin(classes, ["delivery", "call_centre", "political_charity", "debt_collector"])
    out[mid & (r < 0.4)] = "B"
    robo = np.isin(classes, ["robocaller", "dormant_burst"])
    out[robo & (r < 0.5)] = "C"
    out[robo & (r >= 0.5) & (r < 0.8)] = "B"
    shady = np.isin(classes, ["scammer", "telemarketer", "low_volume_scam", "wangiri"])
    out[shady] = np.where(r[shady] < 0.5, "B", "C")
    out[foreign] = "C"
    out[network != "US"] = ""
    return out


def _first_of_each_call(a: dict[str, np.ndarray], attestation: np.ndarray) -> np.ndarray:
    """Rows to write: the first of exact copies (every column the same); a CDR file holds
    a call once.

    Applied after every random draw, so worlds without a copy are unchanged by it.
    """
    codes = np.unique(attestation, return_inverse=True)[1]
    keys = np.stack([a["ts"], a["caller"], a["callee"], a["duration"],
                     a["answered"].astype(np.int64), codes], axis=1)
    _, first = np.unique(keys, axis=0, return_index=True)
    keep = np.zeros(len(keys), bool)
    keep[first] = True
    return keep


def generate(out: str | Path, seed: int, scale: float = 1.0) -> dict[str, Path]:
    """Write ``calls.parquet``, ``reports.parquet`` and ``truth.parquet`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 20261201])
    book = NumberBook(rng)
    calls = Calls()
    for c in COUNTRIES.values():
        _network(book, calls, c, rng, scale)
    a = calls.arrays()
    exists = np.zeros(len(book.numbers), np.int64)
    for i, day in book.active_from.items():
        exists[i] = day * DAY
    inside = ((a["ts"] >= 0) & (a["ts"] < DAYS * DAY) & (a["ts"] >= exists[a["callee"]])
              & (a["ts"] >= exists[a["caller"]]))
    a = {k: v[inside] for k, v in a.items()}
    order = np.argsort(a["ts"], kind="stable")
    a = {k: v[order] for k, v in a.items()}
    net_of = np.asarray(book.network, dtype=object)
    network = net_of[a["caller"]]
    cls_of = np.asarray(book.cls, dtype=object)
    foreign = np.array([not n.startswith(("+1", "+55", "+91", "+44")) for n in book.numbers])
    network = np.where(foreign[a["caller"]], net_of[a["callee"]], network)
    fmt = _formatter(book)
    nat = np.array([COUNTRIES[c].national_format for c in network])
    start_s = int(START.timestamp())
    attestation = _attestation(rng, cls_of[a["caller"]], network, foreign[a["caller"]])
    calls_tbl = pa.table({
        "ts": pa.array((start_s + a["ts"]) * 1_000_000, pa.timestamp("us", tz="UTC")),
        "caller": pa.array(fmt(a["caller"], nat), pa.string()),
        "callee": pa.array(fmt(a["callee"], nat), pa.string()),
        "duration_s": pa.array(a["duration"], pa.int64()),
        "answered": pa.array(a["answered"], pa.bool_()),
        "country": pa.array(network, pa.string()),
        "channel": pa.array(np.full(len(network), "voice", dtype=object), pa.string()),
        "attestation": pa.array(attestation, pa.string()),
        "operator": pa.array(np.char.add("op-", network.astype(str)), pa.string()),
    })
    r = _reports(book, a, network, rng)
    r_order = np.argsort(r["ts"], kind="stable")
    r = {k: v[r_order] for k, v in r.items()}
    typed = rng.random(len(r["ts"])) < 0.5
    e164 = np.asarray(book.numbers, dtype=object)
    reporter = np.where(r["reporter"] >= 0, e164[np.maximum(r["reporter"], 0)], None)
    reports_tbl = pa.table({
        "ts": pa.array((start_s + r["ts"]) * 1_000_000, pa.timestamp("us", tz="UTC")),
        "number": pa.array(fmt(r["about"], typed), pa.string()),
        "label": pa.array(r["label"], pa.string()),
        "country": pa.array(r["network"], pa.string()),
        "reporter": pa.array(reporter, pa.string()),
        "category": pa.array(r["category"], pa.string()),
        "source": pa.array(r["source"], pa.string()),
    })
    first = np.full(len(book.numbers), -1, np.int64)
    both = np.concatenate([a["caller"], a["callee"]])
    both_ts = np.concatenate([a["ts"], a["ts"]])
    o = np.lexsort((both_ts, both))
    uniq, idx = np.unique(both[o], return_index=True)
    first[uniq] = both_ts[o][idx]
    seen = first >= 0
    truth_tbl = pa.table({
        "number": pa.array(e164[seen], pa.string()),
        "country": pa.array(net_of[seen], pa.string()),
        "number_country": pa.array(
            [phonenumbers.region_code_for_number(phonenumbers.parse(x, None))
             for x in e164[seen]], pa.string()),
        "class": pa.array(cls_of[seen], pa.string()),
        "is_spam": pa.array(np.isin(cls_of[seen], list(SPAM_CLASSES)), pa.bool_()),
        "first_seen": pa.array((start_s + first[seen]) * 1_000_000,
                               pa.timestamp("us", tz="UTC")),
    })
    paths = {"calls": out / "calls.parquet", "reports": out / "reports.parquet",
             "truth": out / "truth.parquet"}
    pq.write_table(calls_tbl.filter(_first_of_each_call(a, attestation)), paths["calls"])
    pq.write_table(reports_tbl, paths["reports"])
    pq.write_table(truth_tbl, paths["truth"])
    us = (r["network"] == "US") & (r["label"] == "spam")
    _, per_day = np.unique(np.stack([r["ts"][us] // DAY, r["about"][us]]), axis=1,
                           return_counts=True)
    k, n = np.unique(np.minimum(per_day, 10), return_counts=True)
    shape = {int(a): round(float(b) / max(1, len(per_day)), 3) for a, b in zip(k, n, strict=True)}
    (out / "world.json").write_text(json.dumps(
        {"seed": seed, "scale": scale, **summary(paths),
         "us_complaints_per_number_day (10 = 10 or more)": shape}, indent=1))
    return paths


def summary(paths: dict[str, Path]) -> dict:
    """Row counts of a written world."""
    calls = pq.read_table(paths["calls"], columns=["country"]).to_pandas()
    reports = pq.read_table(paths["reports"], columns=["label"]).to_pandas()
    truth = pq.read_table(paths["truth"]).to_pandas()
    return {
        "calls": len(calls), "calls_per_country": calls["country"].value_counts().to_dict(),
        "reports": len(reports), "reports_spam": int((reports["label"] == "spam").sum()),
        "numbers": len(truth), "spam": int(truth["is_spam"].sum()),
        "numbers_per_class": truth["class"].value_counts().to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    paths = generate(args.out, args.seed, args.scale)
    print((paths["calls"].parent / "world.json").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
