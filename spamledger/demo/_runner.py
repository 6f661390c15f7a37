"""``make demo``: the whole consortium working, end to end, with a progress display.

Steps: start chain and IPFS; keys; deploy; admit four operators, two arbiters and a
regulator; simulate two weeks of each operator's network; train each model alone; register
models with cross-country approvals (card and portable copy in IPFS); train again with the
other operators' approved models fetched from IPFS (consortium learning); score and push
votes and epoch snapshots; finalize cross-border rounds; start the API; then a telco
lookup, a business dispute upheld by arbiters, and a regulator's audit. Every process
started is ended unless ``--keep``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from spamledger._settings import Settings
from spamledger.demo import _consortium, _operators, _report, _services, _users

logger = logging.getLogger(__name__)


@dataclass
class DemoState:
    """Everything the steps produce, for the next steps and the report."""

    settings: Settings
    services: _services.Services
    timings: list[tuple[str, float]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def demo_settings(settings: Settings, out_dir: Path) -> Settings:
    """Fresh data dir; free loopback ports; a consortium secret made for this run."""
    out_dir = out_dir.resolve()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    secret_file = out_dir / ".consortium-secret"
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    anvil = _services.port_or_free(8545)
    ipfs = _services.port_or_free(5011)
    gateway = _services.port_or_free(8081)
    return settings.replace(
        data_dir=out_dir, anvil_port=anvil, rpc_url=f"http://127.0.0.1:{anvil}",
        ipfs_api=f"/ip4/127.0.0.1/tcp/{ipfs}/http", ipfs_gateway_port=gateway,
        api_port=_services.port_or_free(8000), consortium_secret=secret_file.read_text(),
        service_epoch_seconds=3600, service_retrain_seconds=0, oracle_vote_path="report")


def run_demo(settings: Settings, *, out_dir: Path, keep: bool, scale: float, seed: int,
             console: Console | None = None) -> int:
    """Run every step; returns 0 when every user story ended as expected."""
    console = console or Console()
    state = DemoState(demo_settings(settings, out_dir), _services.Services(settings))
    state.services.settings = state.settings
    steps = _steps(scale, seed)
    ok = False
    try:
        for number, (title, step) in enumerate(steps, 1):
            console.print(f"[bold cyan][{number}/{len(steps)}][/] {title} …")
            t0 = time.perf_counter()
            step(state)
            state.timings.append((title, time.perf_counter() - t0))
            console.print(f"      done in {state.timings[-1][1]:.1f} s")
        ok = _report.print_report(console, state)
    finally:
        _finish(state, keep, console)
    return 0 if ok else 1


def _finish(state: DemoState, keep: bool, console: Console) -> None:
    rigs = state.data.get("rigs")
    if rigs:
        _operators.close_rigs(rigs)
    url = state.data.get("api_url")
    if keep and url:
        console.print(
            f"\nKept running: API {url} (docs at /docs), chain "
            f"{state.settings.rpc_url}, IPFS {state.settings.ipfs_api}.\nStop them with: "
            f"[bold].venv/bin/spamledger demo --out {state.settings.data_dir} --stop[/]")
        _console_line(state, console, url, running=True)
        return
    state.services.stop()
    console.print("All demo processes stopped.")
    if url:
        _console_line(state, console, url, running=False)


def _console_line(state: DemoState, console: Console, url: str, running: bool) -> None:
    """The demo's last line: where the web console is (or was) and its sign-in keys."""
    keys = state.data.get("console_keys")
    if running:
        _save_story_numbers(state)
        console.print(f"Web console: [bold]{url}/console/[/] (sign-in keys per role in "
                      f"{keys})")
    else:
        console.print(f"Web console was at {url}/console/ while the demo ran; "
                      "`make demo KEEP=1` keeps it running.")


def _save_story_numbers(state: DemoState) -> None:
    """The API URL and the numbers the stories used (simulated), for tools driving a kept
    demo's console (``bench/console_bench.py``)."""
    import json

    picks = {"audited": (state.data.get("regulator") or {}).get("number"),
             "disputed": (state.data.get("business") or {}).get("number"),
             "spam": (state.data.get("telco") or {}).get("spam_number"),
             "courier": (state.data.get("telco") or {}).get("courier_number")}
    picks["api_url"] = state.data.get("api_url")
    path = Path(state.settings.data_dir) / "demo-numbers.json"
    path.write_text(json.dumps({k: v for k, v in picks.items() if v}, indent=2))


def _steps(scale: float, seed: int) -> list[tuple[str, Callable[[DemoState], None]]]:
    return [
        ("start the local chain (Anvil) and IPFS node", _start),
        ("create keystores for operators, arbiters, relayer, regulator", _keys),
        ("deploy the contracts and admit the consortium", _deploy),
        ("simulate two weeks of four operators' networks",
         lambda s: _simulate(s, scale, seed)),
        ("train each operator's model on its first ten days", _train),
        ("register models on-chain (card and portable copy in IPFS); other countries "
         "approve", _models),
        ("learn together: fetch the approved peer models from IPFS, retrain, register",
         _together),
        ("score the newest files; push votes and epoch snapshots; finalize rounds", _push),
        ("start the API with its chain indexer", _api),
        ("telco: look up a spam number and a legitimate courier", _telco),
        ("business: dispute a verdict with evidence; arbiters decide", _business),
        ("regulator: audit a number and verify every check", _regulator),
        ("telco edge: bundle the ledger, attest and verify it, compare every number", _edge),
    ]


def _start(state: DemoState) -> None:
    state.services.start_chain_and_ipfs()


def _keys(state: DemoState) -> None:
    state.data["accounts"] = _consortium.create_keys(state.settings)


def _deploy(state: DemoState) -> None:
    consortium = _consortium.deploy_and_admit(state.settings, state.data["accounts"])
    state.data["consortium"] = consortium
    state.data["start_block"] = 0


def _simulate(state: DemoState, scale: float, seed: int) -> None:
    state.data["sim"] = _operators.simulate_networks(state.settings, scale, seed)


def _train(state: DemoState) -> None:
    sim = state.data["sim"]
    cut = _operators.training_cut(sim)
    board = _operators.relay_board(state.data["consortium"].ledger)
    rigs = {cc: _operators.make_rig(state.settings, cc, _relay_for(state, board))
            for cc in _consortium.OPERATORS}
    state.data["rigs"] = rigs
    for rig in rigs.values():
        _operators.stage_and_train(rig, sim, cut)


def _relay_for(state: DemoState, board: Any) -> Any:
    """Each operator's own transport to the relay (report path only)."""
    from oracle.service._relay import LocalRelay

    return LocalRelay(board) if state.settings.oracle_vote_path == "report" else None


def _together(state: DemoState) -> None:
    sim = state.data["sim"]
    state.data["together"] = _operators.learn_together(
        state.data["rigs"], sim, _operators.training_cut(sim))


def _models(state: DemoState) -> None:
    _operators.register_and_approve(state.data["rigs"])


def _push(state: DemoState) -> None:
    rigs = state.data["rigs"]
    _operators.release_and_push(rigs)
    state.data["evaluation"] = _operators.evaluate_rigs(rigs, state.data["sim"])


def _api(state: DemoState) -> None:
    from spamledger.demo._keys import create_api_keys, create_console_keys

    s = state.settings
    # The secret reaches the API process through its environment, never its command line;
    # the relayer's keystore and password file are found under the data dir.
    env = {"SPAMLEDGER_CONSORTIUM_SECRET": s.consortium_secret}
    state.data["api_keys"] = create_api_keys(s)
    state.data["console_keys"] = create_console_keys(s)
    state.data["api_url"] = state.services.start_api(env)
    users = _users.ApiUsers(state.data["api_url"], state.data["api_keys"])
    state.data["users"] = users
    _users.wait_indexed(users, state.data["consortium"].w3.eth.block_number)


def _telco(state: DemoState) -> None:
    from spamledger.demo._stories import telco_story

    state.data["telco"] = telco_story(state)


def _business(state: DemoState) -> None:
    from spamledger.demo._stories import business_story

    state.data["business"] = business_story(state)


def _regulator(state: DemoState) -> None:
    from spamledger.demo._stories import regulator_story

    state.data["regulator"] = regulator_story(state)


def _edge(state: DemoState) -> None:
    from spamledger.demo._edge import edge_story

    state.data["edge"] = edge_story(state)
