"""A failing migration step is recorded and retried alone on the next run."""

from __future__ import annotations

import types

import pytest
from eth_account import Account

import migrations._runner as runner
from migrations import deploy, fund_dev_accounts
from node import Deployment, MigrationError, connect


def _flaky_step(state: dict) -> types.ModuleType:
    module = types.ModuleType("migrations.steps.m999_flaky")

    def apply(ctx):
        ctx.transact("grant-relayer", "ValidatorSet", "grantRole",
                     ctx.ledger.call("ValidatorSet", "RELAYER_ROLE"), state["relayer"])
        if state["fail"]:
            raise ValueError("simulated failure after the first transaction")

    module.apply = apply  # type: ignore[attr-defined]
    return module


def test_failed_step_is_recorded_and_retried_alone(anvil, tmp_path, monkeypatch):
    w3 = connect(anvil.rpc_url)
    governance = Account.create()
    fund_dev_accounts(w3, [governance.address])
    real_steps = runner.discover_steps()
    state = {"fail": True, "relayer": Account.create().address}
    monkeypatch.setattr(runner, "discover_steps", lambda: [*real_steps, _flaky_step(state)])

    with pytest.raises(MigrationError, match="m999_flaky"):
        deploy(w3, tmp_path, governance)
    record = Deployment.load(tmp_path)
    assert record.steps["m999_flaky"]["status"] == "failed"
    assert "simulated failure" in record.steps["m999_flaky"]["error"]
    assert all(record.steps[m.__name__.rsplit(".", 1)[-1]]["status"] == "applied"
               for m in real_steps)

    nonce = w3.eth.get_transaction_count(governance.address)
    state["fail"] = False
    record = deploy(w3, tmp_path, governance)
    assert record.steps["m999_flaky"]["status"] == "applied"
    # The step's transaction was recorded before it was sent: the retry did not resend it.
    assert w3.eth.get_transaction_count(governance.address) == nonce
