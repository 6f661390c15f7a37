"""``spamledger gov …``: consortium governance from the command line.

Every command signs with a keystore (``--as``, default ``governance``) and prints what it
changed; reverts are printed as the contract's custom error.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from spamledger._settings import Settings, add_setting_flags

# Governance parameters: CLI name -> (contract, setter, help).
PARAMETERS: dict[str, tuple[str, str, str]] = {
    "quorum-bps": ("Consensus", "setQuorumBps", "participating weight needed to finalize"),
    "min-participation-bps": ("Consensus", "setMinParticipationBps",
                              "weight needed to finalize at the deadline"),
    "min-verdict-share-bps": ("Consensus", "setMinVerdictShareBps",
                              "weight on a verdict's side needed (abstentions hand no verdict)"),
    "round-duration": ("Consensus", "setRoundDuration", "seconds a round stays open"),
    "record-ttl": ("SpamRegistry", "setRecordTtl", "seconds a finalized record is valid"),
    "required-approvals": ("ModelRegistry", "setRequiredApprovals",
                           "distinct other countries whose approval a model needs (>= 1)"),
    "dispute-window": ("Dispute", "setVoteWindow", "seconds arbiters have to vote"),
    "dispute-lock": ("Dispute", "setLockPeriod", "seconds an upheld record stays locked"),
    "dispute-quorum-bps": ("Dispute", "setQuorumBps", "arbiter weight needed to decide"),
    "dispute-cooldown": ("Dispute", "setCooldown", "seconds before a key can be re-disputed"),
    "max-open-per-claimant": ("Dispute", "setMaxOpenPerClaimant",
                              "open disputes one claimant may have"),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gov = sub.add_parser("gov", help="consortium governance: operators, arbiters, roles, "
                                     "parameters")
    gov.add_argument("--as", dest="signer", default="governance",
                     help="keystore name that signs (default governance)")
    add_setting_flags(gov, ["node"])
    cmds = gov.add_subparsers(dest="gov_command", metavar="ACTION", required=True)

    p = cmds.add_parser("admit", help="admit (or re-weight) a validator")
    p.add_argument("address")
    p.add_argument("--country", required=True)
    p.add_argument("--weight", type=int, required=True)
    p.set_defaults(func=lambda s, a: _run(s, a, _admit))

    p = cmds.add_parser("remove", help="deactivate a validator")
    p.add_argument("address")
    p.set_defaults(func=lambda s, a: _run(s, a, _remove))

    p = cmds.add_parser("arbiter", help="set an arbiter's country and weight")
    p.add_argument("address")
    p.add_argument("--country", required=True)
    p.add_argument("--weight", type=int, required=True)
    p.set_defaults(func=lambda s, a: _run(s, a, _arbiter))

    p = cmds.add_parser("grant", help="grant the relayer or regulator role")
    p.add_argument("role", choices=["relayer", "regulator"])
    p.add_argument("address")
    p.set_defaults(func=lambda s, a: _run(s, a, _grant))

    p = cmds.add_parser("set", help="set a governance parameter")
    p.add_argument("name", choices=sorted(PARAMETERS))
    p.add_argument("value", type=int)
    p.set_defaults(func=lambda s, a: _run(s, a, _set))

    p = cmds.add_parser("thresholds", help="set a country's spam/suspicious thresholds (bps)")
    p.add_argument("country", help="ISO alpha-2, or 00 for the default")
    p.add_argument("spam_bps", type=int)
    p.add_argument("suspicious_bps", type=int)
    p.set_defaults(func=lambda s, a: _run(s, a, _thresholds))

    p = cmds.add_parser("show", help="print the validator set")
    p.set_defaults(func=lambda s, a: _run(s, a, _show))


def _run(settings: Settings, args: argparse.Namespace, action: Any) -> int:
    from node import Deployment, Ledger, connect, keystore_dir, load_account, resolve_password

    w3 = connect(settings.rpc_url)
    deployment = Deployment.load(settings.data_dir, w3.eth.chain_id)
    password = resolve_password(settings.data_dir, settings.keystore_password)
    signer = load_account(keystore_dir(settings.data_dir) / f"{args.signer}.json", password)
    action(Ledger(w3, deployment, signer), args)
    return 0


def _admit(ledger: Any, args: argparse.Namespace) -> None:
    from node import admit_validator

    admit_validator(ledger, args.address, args.country, args.weight)
    print(f"validator {args.address}: {args.country.upper()} weight {args.weight}")


def _remove(ledger: Any, args: argparse.Namespace) -> None:
    ledger.transact("ValidatorSet", "deactivateValidator", args.address)
    print(f"validator {args.address}: deactivated")


def _arbiter(ledger: Any, args: argparse.Namespace) -> None:
    from node import set_arbiter

    set_arbiter(ledger, args.address, args.country, args.weight)
    print(f"arbiter {args.address}: {args.country.upper()} weight {args.weight}")


def _grant(ledger: Any, args: argparse.Namespace) -> None:
    from node import grant_role

    grant_role(ledger, f"{args.role.upper()}_ROLE", args.address)
    print(f"{args.role} role: granted to {args.address}")


def _set(ledger: Any, args: argparse.Namespace) -> None:
    contract, setter, _ = PARAMETERS[args.name]
    ledger.transact(contract, setter, args.value)
    print(f"{args.name} = {args.value} ({contract}.{setter})")


def _thresholds(ledger: Any, args: argparse.Namespace) -> None:
    country = b"\x00\x00" if args.country == "00" else args.country.upper().encode("ascii")
    ledger.transact("Consensus", "setThresholds", country, args.spam_bps, args.suspicious_bps)
    print(f"thresholds {args.country}: spam >= {args.spam_bps}, suspicious >= "
          f"{args.suspicious_bps}")


def _show(ledger: Any, args: argparse.Namespace) -> None:
    from node import country_str

    rows = []
    for i in range(ledger.call("ValidatorSet", "validatorCount")):
        address = ledger.call("ValidatorSet", "validatorAt", i)
        country, weight, active, since, seat = ledger.call("ValidatorSet", "getValidator",
                                                           address)
        rows.append({"address": address, "country": country_str(country), "weight": weight,
                     "active": active, "since": since, "seat": seat})
    print(json.dumps({"validators": rows,
                      "total_active_weight": ledger.call("ValidatorSet", "totalActiveWeight")},
                     indent=2))
