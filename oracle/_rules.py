"""Country rules, applied after the model: never-spam lists, telemarketer ranges, quiet hours.

One YAML file per country, ``<CC>.yaml``, in :data:`RULES_DIR` (packaged) or a directory
given by the ``oracle_rules_dir`` setting. Keys (anything else fails at load)::

    country: IN                     # must match the file name
    never_spam:                     # emergency numbers, short codes, verified businesses:
      - "112"                       #   short codes match a number's national digits
      - "+911800*"                  #   a trailing * makes a prefix
    registered_telemarketers:       # E.164 prefixes of registered telemarketer ranges:
      - "+91140"                    #   at most 'suspicious', unless they call in quiet hours
    quiet_hours: {start: 21, end: 9, max_share: 0.2}   # local hours [start, end)
    thresholds: {spam: 0.9, suspicious: 0.5}           # override the model's thresholds

Example::

    rules = load_rules()            # {"US": CountryRules(...), "IN": ...}
    rules["IN"].is_registered_telemarketer("+911401234567")  # True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from oracle._errors import RulesError
from spamledger._numbers import InvalidNumber, normalize

logger = logging.getLogger(__name__)

RULES_DIR = Path(__file__).parent / "rules"
_KEYS = {"country", "never_spam", "registered_telemarketers", "quiet_hours", "thresholds"}
_QUIET_KEYS = {"start", "end", "max_share"}
_THRESHOLD_KEYS = {"spam", "suspicious"}


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which unsolicited calls are not allowed, and the share tolerated."""

    start: int
    end: int
    max_share: float


@dataclass(frozen=True)
class CountryRules:
    """The rules of one country."""

    country: str
    never_exact: frozenset[str] = frozenset()
    never_prefixes: tuple[str, ...] = ()
    short_codes: frozenset[str] = frozenset()
    telemarketer_prefixes: tuple[str, ...] = ()
    quiet_hours: QuietHours | None = None
    spam_threshold: float | None = None
    suspicious_threshold: float | None = None
    source: str = field(default="", compare=False)

    def is_never_spam(self, e164: str, national: str = "") -> bool:
        if e164 in self.never_exact or (national and national in self.short_codes):
            return True
        return any(e164.startswith(p) for p in self.never_prefixes)

    def is_registered_telemarketer(self, e164: str) -> bool:
        return any(e164.startswith(p) for p in self.telemarketer_prefixes)


def load_rules(directory: str | Path | None = None) -> dict[str, CountryRules]:
    """Every ``<CC>.yaml`` in ``directory`` (default: the packaged rules)."""
    d = Path(directory) if directory else RULES_DIR
    if not d.is_dir():
        raise RulesError(f"rules directory {d} does not exist")
    rules = {}
    for path in sorted(d.glob("*.yaml")):
        r = load_country_rules(path)
        rules[r.country] = r
    return rules


def load_country_rules(path: str | Path) -> CountryRules:
    """Read and validate one country's rules file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{p}: cannot read rules: {exc}") from exc
    if not isinstance(data, dict):
        raise RulesError(f"{p}: rules must be a mapping")
    _no_unknown(p, "", data, _KEYS)
    country = str(data.get("country", p.stem)).upper()
    if country != p.stem.upper():
        raise RulesError(f"{p}: country {country!r} does not match the file name")
    exact, prefixes, codes = _never_spam(p, country, data.get("never_spam") or [])
    return CountryRules(
        country=country, never_exact=frozenset(exact), never_prefixes=tuple(prefixes),
        short_codes=frozenset(codes),
        telemarketer_prefixes=tuple(_prefixes(p, data.get("registered_telemarketers") or [])),
        quiet_hours=_quiet(p, data.get("quiet_hours")),
        spam_threshold=_threshold(p, data, "spam"),
        suspicious_threshold=_threshold(p, data, "suspicious"),
        source=str(p))


def _no_unknown(path: Path, where: str, data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise RulesError(f"{path}: unknown key(s) {where}{', '.join(unknown)} "
                         f"(allowed: {', '.join(sorted(allowed))})")


def _never_spam(path: Path, country: str, entries: list[Any]) -> tuple[list, list, list]:
    exact, prefixes, codes = [], [], []
    for entry in entries:
        text = str(entry).strip()
        if text.endswith("*"):
            prefixes.append(text[:-1])
            continue
        try:
            exact.append(normalize(text, country).e164)
        except InvalidNumber:
            if not text.isdigit():
                raise RulesError(f"{path}: never_spam entry {text!r} is neither a number, "
                                 "a short code nor a prefix*") from None
            codes.append(text)
    return exact, prefixes, codes


def _prefixes(path: Path, entries: list[Any]) -> list[str]:
    out = []
    for entry in entries:
        text = str(entry).strip()
        if not (text.startswith("+") and text[1:].isdigit()):
            raise RulesError(f"{path}: registered_telemarketers entry {text!r} must be an "
                             "E.164 prefix like '+91140'")
        out.append(text)
    return out


def _quiet(path: Path, raw: Any) -> QuietHours | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: quiet_hours must be a mapping")
    _no_unknown(path, "quiet_hours.", raw, _QUIET_KEYS)
    try:
        q = QuietHours(int(raw["start"]), int(raw["end"]), float(raw.get("max_share", 0.2)))
    except (KeyError, TypeError, ValueError) as exc:
        raise RulesError(f"{path}: quiet_hours needs integer start and end: {exc}") from exc
    if not (0 <= q.start < 24 and 0 <= q.end < 24 and 0 <= q.max_share <= 1):
        raise RulesError(f"{path}: quiet_hours out of range: {raw}")
    return q


def _threshold(path: Path, data: dict[str, Any], name: str) -> float | None:
    raw = data.get("thresholds") or {}
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: thresholds must be a mapping")
    _no_unknown(path, "thresholds.", raw, _THRESHOLD_KEYS)
    value = raw.get(name)
    if value is None:
        return None
    if not 0.0 <= float(value) <= 1.0:
        raise RulesError(f"{path}: thresholds.{name} must be within 0..1")
    return float(value)


def quiet_windows(rules: dict[str, CountryRules]) -> dict[str, tuple[int, int]]:
    """Each country's quiet window, for the feature build."""
    return {cc: (r.quiet_hours.start, r.quiet_hours.end)
            for cc, r in rules.items() if r.quiet_hours}
