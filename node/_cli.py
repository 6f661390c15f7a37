"""``spamledger node …``: start, stop and inspect the local chain (and IPFS); keys; genesis."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from spamledger._settings import Settings, add_setting_flags

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``node`` group to the root parser."""
    node = sub.add_parser("node", help="run the local chain and IPFS node; keys; genesis")
    cmds = node.add_subparsers(dest="node_command", metavar="ACTION", required=True)

    start = cmds.add_parser("start", help="start Anvil (and IPFS) under the data directory")
    start.add_argument("--no-ipfs", action="store_true", help="start the chain only")
    add_setting_flags(start, ["node", "ipfs"])
    start.set_defaults(func=_start)

    stop = cmds.add_parser("stop", help="stop what `node start` started")
    add_setting_flags(stop, ["node", "ipfs"])
    stop.set_defaults(func=_stop)

    status = cmds.add_parser("status", help="show whether the chain and IPFS run")
    add_setting_flags(status, ["node", "ipfs"])
    status.set_defaults(func=_status)

    keys = cmds.add_parser("keys", help="create (or list) operator keystores")
    keys.add_argument("names", nargs="*", help="keystore names, e.g. governance validator-us")
    keys.set_defaults(func=_keys)

    genesis = cmds.add_parser("genesis", help="write a Besu QBFT genesis for the validators")
    genesis.add_argument("--validators", nargs="+", required=True, metavar="ACCOUNT",
                         help="initial QBFT validators: 0x addresses (collected from the "
                              "operators) or local keystore names")
    genesis.add_argument("--fund", nargs="*", default=[], metavar="ACCOUNT",
                         help="more accounts given a starting balance: governance, arbiters, "
                              "relayer, regulator (addresses or keystore names)")
    genesis.add_argument("--fund-eth", type=int, default=1_000_000,
                         help="starting balance of every validator and --fund account, in "
                              "ether (default 1000000)")
    genesis.add_argument("--chain-id", dest="genesis_chain_id", type=int, default=1337)
    genesis.add_argument("--out", type=Path, required=True, help="genesis JSON to write")
    genesis.set_defaults(func=_genesis)

    export = cmds.add_parser("export-key", help="write a keystore's private key as a Besu "
                                                "node key file (mode 0600)")
    export.add_argument("name", help="keystore name")
    export.add_argument("--out", type=Path, required=True,
                        help="file to write (Besu: DATA_PATH/key); refuses to overwrite")
    export.set_defaults(func=_export_key)

    migrate = cmds.add_parser(
        "migrate", help="deploy v2 and make the v1 deployment's whole history provable from "
                        "it (freezes v1; resumable; a migrated record only reports)")
    migrate.add_argument("--deployer", default="governance",
                         help="keystore name of the governance account (of v1 and v2)")
    migrate.add_argument("--show", action="store_true",
                         help="only print what the chain holds for the live deployment")
    add_setting_flags(migrate, ["node"])
    migrate.set_defaults(func=_migrate)


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from migrations import describe, migrate_with_settings
    from node import Deployment, connect

    w3 = connect(settings.rpc_url)
    if args.show:
        record = Deployment.load(settings.data_dir, w3.eth.chain_id)
    else:
        record = migrate_with_settings(settings, deployer_name=args.deployer)
    print(json.dumps(describe(w3, record), indent=2, default=str))
    return 0


def _anvil(settings: Settings) -> Any:
    from node._anvil import AnvilNode

    return AnvilNode(settings.data_dir, port=settings.anvil_port, chain_id=settings.chain_id,
                     state_interval=settings.state_interval)


def _ipfs_module() -> Any:
    try:
        import node.ipfs as ipfs
    except ImportError:
        return None
    return ipfs if hasattr(ipfs, "start_ipfs") else None


def _plain(obj: Any) -> dict[str, Any]:
    """A status dataclass as a plain dict, for JSON output."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return dict(obj) if isinstance(obj, dict) else {"value": str(obj)}


def _start(settings: Settings, args: argparse.Namespace) -> int:
    pid = _anvil(settings).start()
    print(f"chain: anvil pid {pid} at http://127.0.0.1:{settings.anvil_port}")
    ipfs = _ipfs_module()
    if ipfs and not args.no_ipfs and not _loopback(settings.ipfs_api):
        print(f"ipfs: using the configured node at {settings.ipfs_api} (not started here)")
    elif ipfs and not args.no_ipfs:
        info = _plain(ipfs.start_ipfs(settings))
        print(f"ipfs: pid {info.get('pid')} api {info.get('api')} gateway {info.get('gateway')}")
    return 0


def _loopback(multiaddr: str) -> bool:
    """True for an API address on this machine: the local node we manage."""
    return multiaddr.startswith(("/ip4/127.", "/ip6/::1/", "/dns/localhost/", "/dns4/localhost/"))


def _stop(settings: Settings, args: argparse.Namespace) -> int:
    ipfs = _ipfs_module()
    if ipfs:
        ipfs.stop_ipfs(settings)
        print("ipfs: stopped")
    stopped = _anvil(settings).stop()
    print("chain: stopped" if stopped else "chain: was not running")
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    report: dict[str, Any] = {"chain": _anvil(settings).status()}
    ipfs = _ipfs_module()
    if ipfs:
        report["ipfs"] = _plain(ipfs.ipfs_status(settings))
    print(json.dumps(report, indent=2, default=str))
    return 0 if report["chain"]["running"] else 3


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from node._keys import ensure_keystores, keystore_dir, list_keystores, resolve_password

    directory = keystore_dir(settings.data_dir)
    if args.names:
        password = resolve_password(settings.data_dir, settings.keystore_password, create=True)
        ensure_keystores(directory, list(args.names), password)
    for name, address in list_keystores(directory).items():
        print(f"{name}\t{address}")
    return 0


def _genesis(settings: Settings, args: argparse.Namespace) -> int:
    from node._genesis import besu_qbft_genesis
    from node._keys import keystore_dir, resolve_address

    directory = keystore_dir(settings.data_dir)
    validators = [resolve_address(directory, v) for v in args.validators]
    funded = list(dict.fromkeys(validators + [resolve_address(directory, f)
                                              for f in args.fund]))
    genesis = besu_qbft_genesis(args.genesis_chain_id, validators,
                                alloc={a: args.fund_eth * 10**18 for a in funded})
    args.out.write_text(json.dumps(genesis, indent=2))
    print(f"wrote {args.out}: QBFT genesis, chain id {args.genesis_chain_id}, "
          f"{len(validators)} validators, {len(funded)} funded accounts "
          f"({args.fund_eth} ETH each)")
    return 0


def _export_key(settings: Settings, args: argparse.Namespace) -> int:
    import os

    from node._errors import KeystoreError
    from node._keys import keystore_dir, load_account, resolve_password

    password = resolve_password(settings.data_dir, settings.keystore_password)
    account = load_account(keystore_dir(settings.data_dir) / f"{args.name}.json", password)
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeystoreError(f"cannot write {args.out}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as fh:
        fh.write("0x" + bytes(account.key).hex())
    print(f"wrote {args.out}: node key of {args.name} ({account.address}); keep it secret")
    return 0
