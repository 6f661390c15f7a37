"""``spamledger dispute list|show|vote|resolve``: the arbiters' and the regulator's tools.

``list`` and ``show`` only read. ``vote`` and ``resolve`` sign with ``--as NAME`` (a keystore
under the data directory); the contract checks the role (an arbiter outside the flagging
country, or a regulator, may vote; anyone may resolve a case that reached quorum or passed
its deadline) and a refusal is printed as its custom error, exit 1. Every command prints
the case as the chain holds it afterwards.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from spamledger._settings import Settings, add_setting_flags


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("dispute", help="arbiters and regulators: list, show, vote on and "
                                           "resolve disputes")
    cmds = group.add_subparsers(dest="dispute_command", metavar="ACTION", required=True)

    p = _leaf(cmds, "list", "list disputes (default: the open ones)", _list, signer=False)
    p.add_argument("--status", default="open",
                   choices=["open", "upheld", "rejected", "expired", "all"])

    p = _leaf(cmds, "show", "a dispute's state, votes and outcome", _show, signer=False)
    p.add_argument("dispute_id", type=int, metavar="ID")

    p = _leaf(cmds, "vote", "vote uphold or reject on an open dispute (arbiter, regulator)",
              _vote, signer=True)
    p.add_argument("dispute_id", type=int, metavar="ID")
    p.add_argument("choice", choices=["uphold", "reject"])

    p = _leaf(cmds, "resolve", "decide a dispute that reached quorum or passed its deadline",
              _resolve, signer=True)
    p.add_argument("dispute_id", type=int, metavar="ID")


def _leaf(cmds: Any, name: str, help_text: str, action: Any,
          signer: bool) -> argparse.ArgumentParser:
    p = cmds.add_parser(name, help=help_text, description=help_text)
    if signer:
        p.add_argument("--as", dest="signer", required=True,
                       help="keystore name of the arbiter or regulator that signs")
    add_setting_flags(p, ["node"])
    p.set_defaults(func=lambda s, a: _run(s, a, action))
    return p


def _run(settings: Settings, args: argparse.Namespace, action: Any) -> int:
    from node import Deployment, Ledger, connect, keystore_dir, load_account, resolve_password

    w3 = connect(settings.rpc_url)
    deployment = Deployment.load(settings.data_dir, w3.eth.chain_id)
    account = None
    if getattr(args, "signer", None):
        password = resolve_password(settings.data_dir, settings.keystore_password)
        account = load_account(keystore_dir(settings.data_dir) / f"{args.signer}.json",
                               password)
    return int(action(Ledger(w3, deployment, account), args) or 0)


def _case(ledger: Any, dispute_id: int) -> Any:
    from node._disputes import read_dispute
    from node._errors import NodeError

    case = read_dispute(ledger, dispute_id)
    if case is None:
        raise NodeError(f"no dispute {dispute_id} on this chain")
    return case


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True))


def _list(ledger: Any, args: argparse.Namespace) -> None:
    from node._disputes import list_disputes

    status = None if args.status == "all" else args.status
    _print([c.as_dict() for c in list_disputes(ledger, status)])


def _detail(ledger: Any, dispute_id: int) -> dict[str, Any]:
    from node._disputes import dispute_votes, quorum_weight

    case = _case(ledger, dispute_id)
    return case.as_dict() | {"quorum_weight": quorum_weight(ledger, case),
                             "votes": dispute_votes(ledger, dispute_id,
                                                    ledger.deployment.first_block())}


def _show(ledger: Any, args: argparse.Namespace) -> None:
    _print(_detail(ledger, args.dispute_id))


def _vote(ledger: Any, args: argparse.Namespace) -> None:
    from node import vote_dispute

    _case(ledger, args.dispute_id)
    vote_dispute(ledger, args.dispute_id, args.choice == "uphold", ledger.account)
    _print(_detail(ledger, args.dispute_id) | {"voted": args.choice,
                                                "by": ledger.account.address})


def _resolve(ledger: Any, args: argparse.Namespace) -> None:
    from node import resolve_dispute

    _case(ledger, args.dispute_id)
    resolve_dispute(ledger, args.dispute_id, ledger.account)
    _print(_detail(ledger, args.dispute_id))
