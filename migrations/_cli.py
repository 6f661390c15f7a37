"""``spamledger deploy``: apply the contract migrations not yet applied on the target chain."""

from __future__ import annotations

import argparse
import json
import logging

from spamledger._settings import Settings, add_setting_flags

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = sub.add_parser("deploy", help="deploy or upgrade the contracts (resumable)")
    deploy.add_argument("--deployer", default="governance",
                        help="keystore name of the deploying (governance) account")
    deploy.add_argument("--show", action="store_true",
                        help="print the deployment record and exit")
    add_setting_flags(deploy, ["node"])
    deploy.set_defaults(func=_deploy)


def _deploy(settings: Settings, args: argparse.Namespace) -> int:
    from migrations._deploy import deploy_with_settings
    from node import Deployment

    if args.show:
        print(json.dumps(Deployment.load(settings.data_dir).as_dict(), indent=2))
        return 0
    deployment = deploy_with_settings(settings, deployer_name=args.deployer)
    print(json.dumps(deployment.as_dict(), indent=2))
    return 0
