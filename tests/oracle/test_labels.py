"""Labels derived from complaints: distinct, confirmed reporters weighed against exposure."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oracle import LabelError, LabelPolicy, derive_labels, read_labels
from oracle._ingest import connect, load_calls, load_reports
from oracle._labels import complaint_llr, log_likelihood_ratio

SPAMMER = "+14155550100"
BUSY = "+14155550101"
FRIEND = "+14155550102"
VICTIMS = [f"+1212555{1000 + i:04d}" for i in range(30)]
# Silence over 30 strangers is informative only if a spammer would draw complaints from
# many of them: this policy says so (30 * 0.19 = 5.7 nats of evidence for "not spam").
SENSITIVE = LabelPolicy(spam_rate=0.2, background_rate=0.01)
DEFAULT = LabelPolicy()


@pytest.fixture
def con(tmp_path: Path):
    calls = ["ts,caller,callee,duration_s,answered,country"]
    for i, v in enumerate(VICTIMS):
        calls.append(f"2026-01-05T10:{i:02d}:00Z,{SPAMMER},{v},3,true,US")
        calls.append(f"2026-01-05T11:{i:02d}:00Z,{BUSY},{v},60,true,US")
    for i, v in enumerate(VICTIMS[:4]):  # a circle: they call each other
        calls.append(f"2026-01-05T12:{i:02d}:00Z,{FRIEND},{v},120,true,US")
        calls.append(f"2026-01-05T13:{i:02d}:00Z,{v},{FRIEND},90,true,US")
    (tmp_path / "calls.csv").write_text("\n".join(calls) + "\n")
    con = connect()
    load_calls(con, tmp_path / "calls.csv")
    return con, tmp_path


def _reports(con_tmp, rows: list[str], policy: LabelPolicy = DEFAULT):
    con, tmp = con_tmp
    (tmp / "reports.csv").write_text("ts,number,label,country,reporter,source\n"
                                     + "\n".join(rows) + "\n")
    load_reports(con, tmp / "reports.csv")
    return derive_labels(con, datetime(2026, 1, 6), policy,
                         numbers=[SPAMMER, BUSY, FRIEND, VICTIMS[29]])


def _label(labels, number: str):
    hit = labels.loc[labels["number"] == number, "label"]
    return None if hit.empty else int(hit.item())


def test_two_confirmed_reporters_over_a_small_exposure_make_spam(con) -> None:
    labels = _reports(con, [f"2026-01-05T12:00:00Z,{SPAMMER},spam,US,{VICTIMS[0]},user",
                            f"2026-01-05T12:05:00Z,{SPAMMER},spam,US,{VICTIMS[1]},user"])
    assert _label(labels, SPAMMER) == 1
    assert _label(labels, VICTIMS[29]) == 0   # placed no call: nothing to suspect


def test_silence_over_a_small_exposure_is_left_out_not_called_clean(con) -> None:
    assert _label(_reports(con, []), BUSY) is None          # 30 strangers, no complaint
    assert _label(_reports(con, [], SENSITIVE), BUSY) == 0  # ... informative here


def test_a_number_calling_people_who_call_it_is_not_spam(con) -> None:
    assert _label(_reports(con, []), FRIEND) == 0


def test_one_reporter_flooding_never_makes_spam(con) -> None:
    rows = [f"2026-01-05T12:{i:02d}:00Z,{SPAMMER},spam,US,{VICTIMS[0]},user" for i in range(20)]
    assert _label(_reports(con, rows), SPAMMER) is None  # one complaint, counted once


def test_complaints_from_people_it_never_called_do_not_count(con) -> None:
    rows = [f"2026-01-05T12:0{i}:00Z,{BUSY},spam,US,+1305555{2000 + i:04d},user"
            for i in range(5)]
    assert _label(_reports(con, rows, SENSITIVE), BUSY) == 0


def test_complaints_after_the_cutoff_are_ignored(con) -> None:
    labels = _reports(con, [f"2026-01-07T12:00:00Z,{SPAMMER},spam,US,{VICTIMS[0]},user",
                            f"2026-01-07T12:05:00Z,{SPAMMER},spam,US,{VICTIMS[1]},user"],
                      SENSITIVE)
    assert _label(labels, SPAMMER) == 0


def test_mostly_not_spam_votes_make_not_spam_and_mixed_is_left_out(con) -> None:
    votes = [f"2026-01-05T12:0{i}:00Z,{BUSY},not_spam,US,{VICTIMS[i]},user" for i in range(8)]
    mixed = [f"2026-01-05T13:0{i}:00Z,{SPAMMER},{lab},US,{VICTIMS[i]},user"
             for i, lab in enumerate(["spam", "spam", "not_spam", "not_spam"])]
    lone = f"2026-01-05T12:30:00Z,{BUSY},spam,US,{VICTIMS[9]},user"
    labels = _reports(con, [*votes, lone, *mixed])
    assert _label(labels, BUSY) == 0
    assert _label(labels, SPAMMER) is None


def test_complaints_a_legitimate_rate_explains_are_not_spam_evidence(con) -> None:
    rows = [f"2026-01-05T12:0{i}:00Z,{BUSY},spam,US,{VICTIMS[i]},user" for i in range(2)]
    # Legitimate callers here draw 5% complaints: 2 of 30 is what one would expect.
    tolerant = LabelPolicy(spam_rate=0.1, background_rate=0.05)
    assert _label(_reports(con, rows, tolerant), BUSY) is None
    assert _label(_reports(con, rows), BUSY) == 1


def test_likelihood_ratio_weighs_complaints_against_exposure() -> None:
    policy = LabelPolicy(spam_rate=0.02, background_rate=0.004)
    llr = log_likelihood_ratio(np.array([0, 2, 0]), np.array([150.0, 50.0, 0.0]), policy)
    assert llr[0] == pytest.approx(-150 * 0.016)
    assert llr[1] == pytest.approx(2 * math.log(5) - 50 * 0.016)
    assert llr[2] == 0.0


def test_unanswered_strangers_weigh_less_in_the_exposure() -> None:
    frame = pd.DataFrame({"spam_reporters": [0, 0], "strangers": [100, 100],
                          "strangers_answered": [100, 0]})
    policy = LabelPolicy(missed_weight=0.25)
    llr = complaint_llr(frame, policy)
    assert llr[1] == pytest.approx(llr[0] / 4)
    assert complaint_llr(frame.drop(columns=["strangers"]), policy).tolist() == [0.0, 0.0]


def test_an_inconsistent_policy_is_refused() -> None:
    with pytest.raises(LabelError, match="background_rate < spam_rate"):
        LabelPolicy(spam_rate=0.01, background_rate=0.02)
    with pytest.raises(LabelError, match="evidence must be above 1"):
        LabelPolicy(ham_evidence=1.0)


def test_labels_file_overrides_with_numbers_normalized(tmp_path: Path) -> None:
    f = tmp_path / "labels.csv"
    f.write_text("number,label,country\n(415) 555-0100,spam,US\n+14155550101,0,US\n")
    labels = read_labels(f)
    assert dict(zip(labels["number"], labels["label"], strict=True)) == {
        SPAMMER: 1, BUSY: 0}


# --- labels from conduct: sequential dialling needs no complaint --------------------------

SWEEPER = "+14155550200"
BANK = "+14155550201"


@pytest.fixture
def dialled(tmp_path: Path):
    """400 subscribers calling their circles; a sweeper walks 80 adjacent ones, a bank calls
    80 chosen at random; nobody complains."""
    rng = np.random.default_rng(5)
    subs = sorted({f"+1212{int(n):07d}" for n in rng.integers(2_000_000, 9_999_999, 400)})
    rows = ["ts,caller,callee,duration_s,answered,country"]
    for i, s in enumerate(subs):
        for j in rng.integers(0, len(subs), 4):
            rows.append(f"2026-01-05T09:{i % 60:02d}:00Z,{s},{subs[j]},90,true,US")
    start = int(rng.integers(0, len(subs) - 80))
    for i, v in enumerate(subs[start:start + 80]):
        rows.append(f"2026-01-05T10:{i % 60:02d}:{i // 60:02d}Z,{SWEEPER},{v},4,true,US")
    for i, j in enumerate(rng.choice(len(subs), 80, replace=False)):
        rows.append(f"2026-01-05T11:{i % 60:02d}:{i // 60:02d}Z,{BANK},{subs[j]},80,true,US")
    return _loaded(tmp_path, rows)


def _loaded(tmp_path: Path, rows: list[str]):
    """A connection holding ``rows`` as its calls and no complaint at all."""
    (tmp_path / "calls.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "reports.csv").write_text("ts,number,label,country,reporter,source\n")
    con = connect()
    load_calls(con, tmp_path / "calls.csv")
    load_reports(con, tmp_path / "reports.csv")
    return con


def test_a_sequential_dialler_is_labelled_spam_without_any_complaint(dialled) -> None:
    labels = derive_labels(dialled, datetime(2026, 1, 6), DEFAULT,
                           numbers=pd.Series([SWEEPER, BANK]))
    assert _label(labels, SWEEPER) == 1
    assert bool(labels.loc[labels["number"] == SWEEPER, "firm"].item())
    assert _label(labels, BANK) != 1       # random customers: adjacent only by chance


def test_sweep_alpha_zero_leaves_spam_to_complaints(dialled) -> None:
    labels = derive_labels(dialled, datetime(2026, 1, 6),
                           LabelPolicy(sweep_alpha=0.0), numbers=pd.Series([SWEEPER]))
    assert _label(labels, SWEEPER) != 1


def test_sequential_evidence_is_a_binomial_tail_against_the_pool() -> None:
    from oracle._labels import sequential_evidence

    ev = sequential_evidence([140, 3, 0], [150, 150, 150], [10_000, 10_000, 10_000])
    assert ev[0] > 200 and ev[1] < 1 and ev[2] == 0
    # Calling nearly the whole pool makes adjacency expected: no evidence.
    assert sequential_evidence([140], [150], [152])[0] < 1


def test_a_sweep_alpha_outside_zero_one_is_refused() -> None:
    with pytest.raises(LabelError, match="sweep_alpha"):
        LabelPolicy(sweep_alpha=1.5)


SHOP = "+14155550150"
# Three subscribers keeping a reciprocal circle (each calls the others back).
REGULARS = [f"+1303555{2000 + i:04d}" for i in range(3)]


def _shop_calls(tmp_path: Path, regulars_call_first: bool) -> tuple:
    """A shop calling 30 strangers; its three regulars ring it first, or only back."""
    rows = ["ts,caller,callee,duration_s,answered,country"]
    for i, v in enumerate(VICTIMS):
        rows.append(f"2026-01-05T10:{i:02d}:00Z,{SHOP},{v},60,true,US")
    for i, a in enumerate(REGULARS):
        for j, b in enumerate(REGULARS):
            if a != b:
                rows.append(f"2026-01-05T08:{i * 3 + j:02d}:00Z,{a},{b},90,true,US")
        ring_at = "09" if regulars_call_first else "11"
        if not regulars_call_first:  # the shop rang them first: these are callbacks
            rows.append(f"2026-01-05T10:4{i}:00Z,{SHOP},{a},30,true,US")
        rows.append(f"2026-01-05T{ring_at}:{i:02d}:00Z,{a},{SHOP},40,true,US")
    (tmp_path / "calls.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "reports.csv").write_text("ts,number,label,country,reporter,source\n")
    con = connect()
    load_calls(con, tmp_path / "calls.csv")
    load_reports(con, tmp_path / "reports.csv")
    return derive_labels(con, datetime(2026, 1, 6), numbers=pd.Series([SHOP]))


def test_a_number_established_callers_ring_first_is_firm_not_spam(tmp_path: Path) -> None:
    labels = _shop_calls(tmp_path, regulars_call_first=True)
    row = labels.set_index("number").loc[SHOP]
    assert row["label"] == 0 and bool(row["firm"])


def test_callbacks_after_its_own_calls_are_not_being_sought_out(tmp_path: Path) -> None:
    labels = _shop_calls(tmp_path, regulars_call_first=False)
    assert _label(labels, SHOP) is None          # 30 silent strangers: left out


def test_min_organic_zero_turns_the_sought_out_anchor_off(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    _shop_calls(tmp_path / "a", regulars_call_first=True)
    con = connect()
    load_calls(con, tmp_path / "a" / "calls.csv")
    load_reports(con, tmp_path / "a" / "reports.csv")
    labels = derive_labels(con, datetime(2026, 1, 6), LabelPolicy(min_organic=0),
                           numbers=pd.Series([SHOP]))
    assert _label(labels, SHOP) is None


# --- labels from conduct: ringing strangers in the quiet hours ---------------------------

NIGHT = "+14155550300"     # rings strangers round the clock (a SIM box, a scam floor)
SHIFT = "+14155550301"     # rings strangers at night too, but its riders ring it first
DAYTIME = "+14155550302"   # a courier: strangers, business hours only
COURIERS = [DAYTIME, "+14155550303", "+14155550304"]


@pytest.fixture
def night(tmp_path: Path):
    """300 subscribers in reciprocal circles; three couriers calling 120 strangers by day
    (three customers rang each first: known legitimate, they set the null); a night caller and a
    night driver each calling the same 120 strangers, a third of them between 22:00 and
    06:00 New York time; three riders ring the driver before it calls them. Nobody
    complains."""
    rng = np.random.default_rng(11)
    subs = sorted({f"+1212{int(n):07d}" for n in rng.integers(2_000_000, 9_999_999, 300)})
    rows = ["ts,caller,callee,duration_s,answered,country"]
    for i, s in enumerate(subs):           # circles, 15:00-02:00 UTC = 10:00-21:00 local
        for k, j in enumerate(rng.integers(0, len(subs), 4)):
            for a, b in ((s, subs[j]), (subs[j], s)):   # friends call back
                rows.append(f"2026-01-04T{15 + (i + k) % 9:02d}:{i % 60:02d}:00Z,{a},{b},"
                            "90,true,US")
    picks = rng.choice(len(subs), 120, replace=False)
    for n, j in enumerate(picks):          # by day: 14:00-21:00 UTC = 09:00-16:00 local
        for courier in COURIERS:
            rows.append(f"2026-01-0{5 + n % 4}T{14 + n % 7:02d}:{n % 60:02d}:00Z,{courier},"
                        f"{subs[j]},40,true,US")
        hour = 3 + n % 8 if n % 3 == 0 else 14 + n % 7   # a third at 22:00-06:00 local
        for caller in (NIGHT, SHIFT):
            rows.append(f"2026-01-0{5 + n % 4}T{hour:02d}:{n % 60:02d}:30Z,{caller},"
                        f"{subs[j]},60,true,US")
    for k, j in enumerate(picks[:3]):      # riders who ring the driver (and customers
        for called in (SHIFT, *COURIERS):  # the couriers) first
            rows.append(f"2026-01-04T14:0{k}:00Z,{subs[j]},{called},30,true,US")
    return _loaded(tmp_path, rows)


def _night_labels(con, policy: LabelPolicy = DEFAULT):
    return derive_labels(con, datetime(2026, 1, 10), policy,
                         numbers=pd.Series([NIGHT, SHIFT, DAYTIME]),
                         quiet_hours={"US": (21, 8)})


def test_a_quiet_hours_stranger_caller_is_labelled_spam_without_any_complaint(night) -> None:
    labels = _night_labels(night)
    assert _label(labels, NIGHT) == 1
    assert bool(labels.loc[labels["number"] == NIGHT, "firm"].item())
    assert _label(labels, DAYTIME) != 1    # the same strangers, in the calling window


def test_a_night_caller_its_counterparts_seek_out_is_not_labelled_spam(night) -> None:
    assert _label(_night_labels(night), SHIFT) != 1


def test_night_alpha_zero_turns_the_quiet_hours_label_off(night) -> None:
    assert _label(_night_labels(night, LabelPolicy(night_alpha=0.0)), NIGHT) != 1


def test_the_quiet_window_is_each_countrys_own(night) -> None:
    """Read as a country whose quiet hours are 04:00-05:00 local, the same calls are not
    significant (only an eighth of the night calls fall in that hour)."""
    labels = derive_labels(night, datetime(2026, 1, 10), DEFAULT,
                           numbers=pd.Series([NIGHT]), quiet_hours={"US": (4, 5)})
    assert _label(labels, NIGHT) != 1


def test_night_evidence_is_a_binomial_tail_against_the_legitimate_share() -> None:
    from oracle._labels import night_evidence

    ev = night_evidence([32, 5, 0], [266, 330, 50], [0.036, 0.036, 0.036])
    assert ev[0] > 8 and ev[1] < 1 and ev[2] == 0
    assert night_evidence([40], [40], [1.0])[0] == pytest.approx(0.0, abs=1e-9)


def test_a_night_alpha_outside_zero_one_is_refused() -> None:
    with pytest.raises(LabelError, match="night_alpha"):
        LabelPolicy(night_alpha=-0.1)
