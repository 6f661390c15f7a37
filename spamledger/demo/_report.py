"""The demo's closing report: detection quality, ledger activity, the three user stories."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from spamledger._types import Verdict
from spamledger.demo._consortium import gas_spent


def _fmt(value: float) -> str:
    """A metric, or a dash where it is undefined (no number was flagged)."""
    return "—" if value != value else f"{value:.3f}"


def _timings_table(timings: list[tuple[str, float]]) -> Table:
    table = Table(title=f"Time: {sum(t for _, t in timings):.0f} s in all")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for title, seconds in timings:
        table.add_row(title, f"{seconds:.1f}")
    return table


def _detection_table(evaluation: dict[str, Any]) -> Table:
    table = Table(title="Detection at day 14 (each operator's own scores vs. the hidden truth)")
    for col in ("country", "numbers", "spam", "precision", "recall", "PR-AUC"):
        table.add_column(col, justify="right")
    for cc, m in evaluation.items():
        table.add_row(cc, str(m["numbers"]), str(m["spam"]), _fmt(m["precision"]),
                      _fmt(m["recall"]), _fmt(m["pr_auc"]))
    return table


def _together_table(together: dict[str, Any]) -> Table:
    table = Table(title="Consortium learning (same run, each operator's network at day 14): "
                  "alone → with the other operators' approved models, fetched from IPFS")
    for col in ("country", "precision", "recall", "spam-or-suspicious recall", "peers",
                "votes with"):
        table.add_column(col, justify="right")
    for cc, m in together.items():
        a, c = m["alone"], m["consortium"]
        table.add_row(cc, *(f"{_fmt(a[k])} → {_fmt(c[k])}"
                            for k in ("precision", "recall", "flagged_recall")),
                      ",".join(m.get("peers", [])),
                      "consortium model" if m.get("promoted") else "own model (not promoted)")
    return table


def _ledger_table(state: Any) -> Table:
    picks = state.data["picks"]
    gas = gas_spent(state.data["consortium"])
    table = Table(title="Ledger")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("rounds finalized", str(picks["rounds_finalized"]))
    table.add_row("… as spam", str(picks["rounds_spam"]))
    epochs = state.data["consortium"].ledger.events("SnapshotRegistry", "EpochCommitted")
    table.add_row("epoch snapshots committed", str(len(epochs)))
    table.add_row("leaves in snapshots", f"{sum(e['args']['leafCount'] for e in epochs):,}")
    table.add_row("gas spent, total", f"{sum(gas.values()):,}")
    for who, used in sorted(gas.items(), key=lambda kv: -kv[1]):
        table.add_row(f"… by {who}", f"{used:,}")
    return table


def _stories(state: Any) -> tuple[list[str], bool]:
    telco, business, regulator = (state.data[k] for k in ("telco", "business", "regulator"))
    spam_ok = telco["spam"]["verdict"] == "spam"
    courier_ok = telco["courier"]["verdict"] != "spam"
    upheld = business["state"]["status"] == "upheld"
    unlocked = business["record"].verdict == Verdict.NOT_SPAM
    audit_ok = bool(regulator["verify"]["ok"])
    edge = state.data["edge"]
    edge_ok = not edge["api_mismatches"] and not edge["chain_mismatches"] and edge["found"] > 0
    checks = regulator["verify"]["checks"]
    lines = [
        f"telco    {telco['spam_number']}: {telco['spam']['verdict']} "
        f"(score {telco['spam'].get('score')}, {telco['spam']['category']}) "
        f"{'✔' if spam_ok else '✘'}",
        f"telco    courier {telco['courier_number']}: {telco['courier']['verdict']} "
        f"{'✔' if courier_ok else '✘'}",
        f"business dispute #{business['state']['dispute_id']} on {business['number']} "
        f"({business['class']}): {business['state']['status']}, "
        f"{len(business['state']['arbiter_votes'])} arbiter votes; registry now "
        f"{business['record'].verdict.name.lower()}, "
        f"locked until {business['record'].locked_until} "
        f"{'✔' if upheld and unlocked else '✘'}",
        f"regulator audit of {regulator['number']}: {sum(c['ok'] for c in checks)}/{len(checks)} "
        f"checks pass {'✔' if audit_ok else '✘'}",
        f"edge     bundle at block {edge['block']}: {edge['entries']:,} numbers, "
        f"{edge['bytes']:,} bytes, attested by {edge['committers'][0]}; of "
        f"{edge['numbers']:,} demo numbers ({edge['found']:,} in it) "
        f"{len(edge['api_mismatches'])} differ from the API, "
        f"{len(edge['chain_mismatches'])} from the chain {'✔' if edge_ok else '✘'}",
    ]
    return lines, spam_ok and courier_ok and upheld and unlocked and audit_ok and edge_ok


def print_report(console: Console, state: Any) -> bool:
    """Print the report; True when every user story ended as expected."""
    console.rule("SpamLedger demo report")
    console.print(_detection_table(state.data["evaluation"]))
    if state.data.get("together"):
        together = state.data["together"]
        console.print(_together_table(together))
        fetched = sum(len(m.get("peers", [])) for m in together.values())
        console.print(f"Peer models fetched from IPFS and hash-checked: {fetched} "
                      f"({len(together)} operators)")
    console.print(_ledger_table(state))
    lines, ok = _stories(state)
    for line in lines:
        console.print(line)
    console.print(f"API: {state.data['api_url']}  (OpenAPI docs at {state.data['api_url']}/docs)")
    console.print(_timings_table(state.timings))
    console.print("[bold green]All user stories passed.[/]" if ok
                  else "[bold red]Some user stories did not end as expected.[/]")
    return ok
