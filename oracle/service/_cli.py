"""``spamledger oracle run|push|epoch|proof|models``: the service's commands.

``register_service_commands(oracle_subparsers)`` adds them to the ``oracle`` group
(``oracle/_cli.py`` calls it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from spamledger._settings import add_setting_flags

logger = logging.getLogger(__name__)

GROUPS = ("service", "node", "ipfs")


def register_service_commands(sub: Any) -> None:
    """Add the service commands to the ``oracle`` subparsers."""
    _add(sub, "run", "continuous mode: watch the drop folder, rescore, push, commit epochs",
         _run, [("--once", {"action": "store_true", "help": "one cycle, then exit"}),
                ("--cycles", {"type": int, "default": 0, "help": "stop after N cycles"})])
    _add(sub, "push", "vote on a scores file's numbers that matter; answer open rounds; "
         "finalize rounds at quorum", _push, [
             ("scores", {"type": Path, "nargs": "?", "help": "scores file (Parquet/CSV)"}),
             ("--model-hash", {"default": None, "help": "model to vote with"}),
             ("--clear-failed", {"action": "store_true",
                                 "help": "forget actions that failed earlier, so this push "
                                         "plans them again (after fixing the cause)"})])
    _add(sub, "epoch", "commit an epoch snapshot of a scores file", _epoch, [
        ("scores", {"type": Path, "help": "scores file (Parquet/CSV): the whole table"}),
        ("--epoch", {"type": int, "default": None,
                     "help": "epoch number (default: the country's next one on chain)"}),
        ("--model-hash", {"default": None, "help": "model that produced the scores"})])
    _add(sub, "proof", "Merkle proof of a number in an epoch snapshot", _proof, [
        ("number", {"help": "E.164 number"}),
        ("--epoch", {"type": int, "default": None, "help": "epoch (default: latest)"})])
    models = sub.add_parser("models", help="register, approve, promote or roll back models")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    _add(msub, "register", "register a model hash with its metrics card", _register, [
        ("model_hash", {"help": "model content hash (hex)"}),
        ("--card", {"type": Path, "required": True,
                    "help": "metrics card JSON (model_card.json); the portable copy beside it "
                            "(portable.json/.npz) is published to IPFS for peers"}),
        ("--no-portable", {"action": "store_true",
                           "help": "do not publish the portable copy beside the card"})])
    _add(msub, "peers", "fetch every other operator's approved model (portable copy, by "
         "the CIDs its on-chain card names) for training with --peer-model", _peers, [
             ("--out", {"type": Path, "required": True,
                        "help": "folder the peer models are written to"})])
    _add(msub, "approve", "approve another country's model", _approve,
         [("model_hash", {"help": "model content hash (hex)"}),
          ("--owner", {"required": True,
                       "help": "address of the validator that registered the model"})])
    _add(msub, "promote", "make a registered, approved model current", _promote, [
        ("model_hash", {"help": "model content hash (hex)"}),
        ("--card", {"type": Path, "default": None, "help": "metrics card JSON"})])
    _add(msub, "rollback", "return to the previous approved model", _rollback, [])


def _add(sub: Any, name: str, help_text: str, func: Any,
         args: list[tuple[str, dict[str, Any]]]) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    for flag, kwargs in args:
        parser.add_argument(flag, **kwargs)
    add_setting_flags(parser, GROUPS)
    parser.set_defaults(func=func)
    return parser


def _app(settings: Any, model_hash: str | None = None) -> Any:
    from oracle.service._app import OracleApp

    return OracleApp.from_settings(settings, model_hash)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _push(settings: Any, args: argparse.Namespace) -> int:
    from oracle.service._errors import ServiceError
    from oracle.service._scored import read_scores

    app = _app(settings, args.model_hash)
    try:
        rows = read_scores(args.scores) if args.scores else []
        if rows:
            app.require_approved_model()
        if args.clear_failed:
            cleared = app.outbox.clear_failed()
            print(f"cleared {len(cleared)} failed action(s); they are planned again",
                  file=sys.stderr)
        report = app.votes.push(rows)
        _print(report.__dict__ | {"outbox": app.outbox.counts()})
        if report.failed:
            reasons = ", ".join(f"{r} x{n}" for r, n in sorted(report.reasons.items()))
            raise ServiceError(f"{len(report.failed)} action(s) failed in this push "
                               f"({reasons}); fix the cause, then `spamledger oracle push "
                               "--clear-failed` plans them again")
        return 0
    finally:
        app.close()


def _epoch(settings: Any, args: argparse.Namespace) -> int:
    from oracle.service._errors import SnapshotImmutable
    from oracle.service._scored import read_scores

    app = _app(settings, args.model_hash)
    try:
        model = app.require_approved_model()
        epoch = args.epoch or app.chain.next_epoch(app.operator.country)
        root = app.epochs.committed_root(epoch)
        if root is not None:
            raise SnapshotImmutable(f"epoch {epoch} is already committed on-chain with root "
                                    f"0x{root.hex()}; a committed snapshot never changes "
                                    "(commit the table under the next epoch)")
        snap = app.epochs.existing(epoch) or app.epochs.build(read_scores(args.scores),
                                                              epoch, model)
        receipt = app.epochs.commit(snap)
        _print({"epoch": epoch, "root": "0x" + snap.root.hex(), "cid": snap.cid,
                "count": snap.tree.count,
                "tx": None if receipt is None else "0x" + bytes(
                    receipt["transactionHash"]).hex()})
        return 0
    finally:
        app.close()


def _proof(settings: Any, args: argparse.Namespace) -> int:
    from spamledger._numbers import normalize

    app = _app(settings)
    try:
        number = normalize(args.number, app.operator.country).e164
        proof = app.epochs.verified_proof(number, args.epoch)
        _print(proof.as_dict() | {"verifiedOnChain": True})
        return 0
    finally:
        app.close()


def _register(settings: Any, args: argparse.Namespace) -> int:
    from oracle.service._models import read_card

    app = _app(settings)
    try:
        beside = args.card.parent
        portable = beside if (beside / "portable.json").exists() and not args.no_portable \
            else None
        cid = app.models.register(args.model_hash, read_card(args.card), portable)
        _print({"model": args.model_hash, "metricsCid": cid,
                "onChain": app.models.onchain(args.model_hash)})
        return 0
    finally:
        app.close()


def _peers(settings: Any, args: argparse.Namespace) -> int:
    from oracle.service._peers import fetch_peer_models, peer_report

    app = _app(settings)
    try:
        fetched, skipped = fetch_peer_models(app.chain, app.store, args.out)
        _print(peer_report(fetched, skipped))
        return 0 if fetched or not skipped else 1
    finally:
        app.close()


def _approve(settings: Any, args: argparse.Namespace) -> int:
    app = _app(settings)
    try:
        now = app.models.approve(args.model_hash, args.owner)
        _print({"model": args.model_hash, "owner": args.owner, "approvedNow": now,
                "by": app.chain.address,
                "onChain": app.models.onchain(args.model_hash, args.owner)})
        return 0
    finally:
        app.close()


def _promote(settings: Any, args: argparse.Namespace) -> int:
    from oracle.service._models import read_card

    app = _app(settings)
    try:
        card = read_card(args.card) if args.card else None
        current = app.models.promote(args.model_hash, card)
        _print({"current": current, "onChain": app.models.onchain(current)})
        return 0
    finally:
        app.close()


def _rollback(settings: Any, args: argparse.Namespace) -> int:
    app = _app(settings)
    try:
        _print({"current": app.models.rollback()})
        return 0
    finally:
        app.close()


def _run(settings: Any, args: argparse.Namespace) -> int:
    from oracle.service._run import ContinuousRunner

    app = _app(settings)
    try:
        cycles = 1 if args.once else args.cycles
        ContinuousRunner.from_app(app).run(max_cycles=cycles or None)
        return 0
    finally:
        app.close()
