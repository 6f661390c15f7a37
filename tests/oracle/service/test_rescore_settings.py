"""The continuous runner scores with the operator's own settings (its rules folder).

The chain side of the runner is not involved in rescoring, so the app here is a plain
namespace; the runner against a real chain is tested in ``test_continuous.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import oracle
from oracle._rules import RULES_DIR
from oracle.service._operator import Operator
from oracle.service._run import ContinuousRunner
from spamledger._settings import load_settings
from spamledger._types import Verdict


def _runner(tmp_path: Path, sim: dict[str, Path], trained: Path,
            **settings: object) -> ContinuousRunner:
    op = Operator.create(tmp_path / "data", "US").ensure_dirs()
    for kind, src in (("calls", sim["calls"]), ("reports", sim["reports"])):
        (op.drop_dir / kind).mkdir(parents=True, exist_ok=True)
        if Path(src).is_dir():
            shutil.copytree(src, op.drop_dir / kind, dirs_exist_ok=True)
        else:
            shutil.copy(src, op.drop_dir / kind)
    shutil.copytree(trained, op.model_dir, dirs_exist_ok=True)
    model = oracle.load_model(op.model_dir)
    app = SimpleNamespace(settings=load_settings(environ={}, overrides=settings), operator=op,
                          outbox=None, models=SimpleNamespace(current=lambda: None),
                          votes=SimpleNamespace(model_hash=model.hash_bytes32))
    return ContinuousRunner(app, poll_seconds=0, epoch_seconds=0, retrain_seconds=0)


def test_rescore_applies_the_operators_rules_folder(tmp_path: Path, sim: dict[str, Path],
                                                    trained: Path) -> None:
    table = _runner(tmp_path / "a", sim, trained).rescore()
    flagged = next(row for row in table if row.verdict == Verdict.SPAM)
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    path = rules / f"{flagged.country}.yaml"
    path.write_text(path.read_text().replace(
        "never_spam:\n", f"never_spam:\n  - \"{flagged.e164}\"   # verified business\n", 1))
    again = _runner(tmp_path / "b", sim, trained, oracle_rules_dir=rules).rescore()
    assert {row.e164: row.verdict for row in again}[flagged.e164] == Verdict.NOT_SPAM


def test_retrain_trains_with_the_operators_settings(tmp_path: Path, sim: dict[str, Path],
                                                     trained: Path) -> None:
    runner = _runner(tmp_path, sim, trained, oracle_bags=2, oracle_long_days=10.0,
                     oracle_snapshots=2)
    registered: list[str] = []
    runner.app.models = SimpleNamespace(register=lambda digest, card: registered.append(digest),
                                        promote=lambda digest, card: digest)
    runner.app.votes.set_model = lambda digest: None
    digest = runner.retrain()
    assert registered == [digest]
    model = oracle.load_model(runner.op.model_dir / digest)
    assert model.config.bags == 2
    assert (model.window["long_days"], model.window["snapshots"]) == (10.0, 2)
