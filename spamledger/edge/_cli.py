"""``spamledger edge build|apply|commit|verify|serve``: bundles for telco switches.

``build`` reads the API index (run ``spamledger api index`` first) and writes the file
atomically; ``commit`` attests its root on-chain as a validator (``--as NAME``); ``verify``
checks a file against the chain and exits 1 naming what fails; ``serve`` runs the sidecar.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from spamledger._settings import Settings, add_setting_flags

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("edge", help="telco edge: verifiable reputation bundles, lookups "
                                        "and the sidecar")
    cmds = group.add_subparsers(dest="edge_command", metavar="ACTION", required=True)

    p = _leaf(cmds, "build", "write a bundle (or a delta) of the indexed ledger", _build,
              ["api", "node"])
    p.add_argument("--country", type=_scope, default="**",
                   help="ISO alpha-2 country (default: every country)")
    p.add_argument("--out", type=Path, required=True, help="file to write (atomically)")
    p.add_argument("--since", type=int, default=None, metavar="BLOCK",
                   help="write a delta holding only what changed after BLOCK")

    p = _leaf(cmds, "apply", "apply deltas, in order, to a bundle", _apply, [])
    p.add_argument("base", type=Path)
    p.add_argument("deltas", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)

    p = _leaf(cmds, "commit", "attest a bundle's root on-chain as a validator", _commit,
              ["node"])
    p.add_argument("file", type=Path)
    p.add_argument("--as", dest="signer", required=True,
                   help="keystore name of the validator that attests")

    p = _leaf(cmds, "verify", "check a bundle against the root attested on-chain", _verify,
              ["node"])
    p.add_argument("file", type=Path)
    p.add_argument("--committer", default=None,
                   help="require this validator's attestation (default: any active one)")
    p.add_argument("--number", action="append", default=[],
                   help="also verify this number's page and record against the chain "
                        "(repeatable)")
    p.add_argument("--country", default=None, help="region for national-format --number")

    p = _leaf(cmds, "serve", "run the lookup sidecar (HTTP), reloading on new files", _serve,
              ["edge"])
    p.add_argument("file", type=Path)
    p.add_argument("--deltas", type=Path, default=None, metavar="DIR",
                   help="folder watched for delta files (*.delta), applied in order")


def _scope(text: str) -> str:
    from spamledger._countries import country_code

    return "**" if text in ("**", "all", "ALL") else country_code(text)


def _leaf(cmds: Any, name: str, help_text: str, action: Any,
          groups: list[str]) -> argparse.ArgumentParser:
    p = cmds.add_parser(name, help=help_text, description=help_text)
    add_setting_flags(p, groups)
    p.set_defaults(func=action)
    return p


def _target(settings: Settings):
    from api._bundles import Target
    from node import Deployment

    try:
        deployment = Deployment.load(settings.data_dir, settings.chain_id)
    except Exception:
        deployment = Deployment.load(settings.data_dir)
    return Target.from_deployment(deployment)


def _build(settings: Settings, args: argparse.Namespace) -> int:
    from api._bundles import build
    from api._db import database_url, make_engine
    from spamledger._files import write_atomic
    from spamledger.edge._format import encode

    engine = make_engine(database_url(settings))
    try:
        header, entries = build(engine, _target(settings), args.country, args.since)
    finally:
        engine.dispose()
    data = encode(header, entries)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, data)
    root = "0x" + data[96:128].hex()
    if args.since is None:
        print(f"bundle {args.out}: scope {header.scope}, block {header.block}, "
              f"{len(entries)} numbers, {len(data)} bytes "
              f"({(len(data) - 128) / max(len(entries), 1):.1f} B/number), root {root}")
    else:
        print(f"delta {args.out}: scope {header.scope}, blocks {args.since}..{header.block}, "
              f"{len(entries)} changes, {len(data)} bytes; root after applying {root}")
    return 0


def _apply(settings: Settings, args: argparse.Namespace) -> int:
    from spamledger._files import write_atomic
    from spamledger.edge._errors import BundleFormatError
    from spamledger.edge._format import Header, apply_delta, check_root

    try:
        data = args.base.read_bytes()
        check_root(data)
        for path in args.deltas:
            data = apply_delta(data, path.read_bytes())
    except OSError as exc:
        raise BundleFormatError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    write_atomic(args.out, data)
    h = Header.unpack(data)
    print(f"bundle {args.out}: scope {h.scope}, block {h.block}, {h.count} numbers, "
          f"root 0x{h.root.hex()}")
    return 0


def _ledger(settings: Settings, signer: str | None = None):
    from node import Deployment, Ledger, connect, keystore_dir, load_account, resolve_password

    w3 = connect(settings.rpc_url)
    deployment = Deployment.load(settings.data_dir, w3.eth.chain_id)
    account = None
    if signer:
        password = resolve_password(settings.data_dir, settings.keystore_password)
        account = load_account(keystore_dir(settings.data_dir) / f"{signer}.json", password)
    return Ledger(w3, deployment, account)


def _commit(settings: Settings, args: argparse.Namespace) -> int:
    from spamledger.edge._errors import BundleFormatError
    from spamledger.edge._verify import commit

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise BundleFormatError(f"cannot read {args.file}: {exc.strerror}") from exc
    ledger = _ledger(settings, args.signer)
    state = commit(ledger, data)
    print(json.dumps(state, indent=2))
    return 0


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    from spamledger.edge._bundle import Bundle
    from spamledger.edge._verify import verify

    bundle = Bundle.open(args.file, settings.consortium_secret)
    report = verify(_ledger(settings), bundle, args.committer, args.number, args.country)
    print(f"bundle {args.file}: scope {report.scope}, block {report.block}, "
          f"{report.entries} numbers, root {report.root}: content matches the root, attested "
          f"on-chain by {', '.join(report.committers)}")
    for c in report.numbers:
        verified = {None: "absent", True: "page verified on-chain", False: "page FAILED"}
        print(f"  {c.number}: {c.answer.verdict} ({verified[c.page_verified]}; {c.detail})")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from spamledger.edge._serve import serve

    serve(settings, args.file, args.deltas)
    return 0
