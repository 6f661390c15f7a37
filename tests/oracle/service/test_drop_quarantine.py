"""The drop folder: a file that cannot be read is moved aside with its reason, and the
runner goes on (it used to die on it, and again on every restart)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from oracle.service import Operator, Outbox
from oracle.service._run import ContinuousRunner, CycleReport, scan

GOOD = "ts,caller,callee,duration_s,answered,country\n" \
       "2026-01-05T10:00:00Z,+14155550123,+12125551234,30,true,US\n"


def _runner(tmp_path):
    op = Operator.create(tmp_path, "US").ensure_dirs()
    outbox = Outbox(op.outbox_path)
    app = SimpleNamespace(operator=op, outbox=outbox)
    return ContinuousRunner(app, poll_seconds=0, epoch_seconds=0, retrain_seconds=0), op


def test_unreadable_drop_files_are_moved_aside_with_the_reason(tmp_path):
    runner, op = _runner(tmp_path)
    (op.drop_dir / "calls").mkdir(parents=True, exist_ok=True)
    (op.drop_dir / "reports").mkdir(parents=True, exist_ok=True)
    (op.drop_dir / "calls" / "good.csv").write_text(GOOD)
    (op.drop_dir / "calls" / "garbage.parquet").write_bytes(b"PAR1 this is not parquet")
    (op.drop_dir / "reports" / "no_label.csv").write_text(
        "ts,number,country\n2026-01-05T10:00:00Z,+14155550123,US\n")

    moved = runner.quarantine_unreadable(sorted(scan(op.drop_dir)))

    assert sorted(moved) == ["calls/garbage.parquet", "reports/no_label.csv"]
    assert sorted(scan(op.drop_dir)) == ["calls/good.csv"]
    aside = op.drop_dir / "quarantine"
    assert (aside / "calls" / "garbage.parquet").exists()
    reason = (aside / "reports" / "no_label.csv.reason.txt").read_text()
    assert "'label'" in reason and "missing" in reason
    assert runner.quarantine_unreadable(sorted(scan(op.drop_dir))) == []
    runner.outbox.close()


def test_health_file_says_when_the_last_cycle_ran_and_what_it_did(tmp_path):
    runner, op = _runner(tmp_path)
    runner.write_health(CycleReport(new_files=2, scored=10,
                                    quarantined=["calls/garbage.parquet"], seconds=1.5))
    health = json.loads((op.state_dir / "health.json").read_text())
    assert health["new_files"] == 2 and health["quarantined"] == ["calls/garbage.parquet"]
    assert health["at"] > 0
    runner.outbox.close()
