"""``spamledger gov …``: consortium governance from the command line.

Every command signs with a keystore (``--as``, default ``governance``), checks its arguments
before touching the chain (addresses or keystore names, ISO country codes, weights), and
prints what the chain holds after the change, read back from the contracts; reverts are
printed as the contract's custom error. ``--as`` and the chain flags (``--rpc-url`` …) are
accepted before or after the action.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from spamledger._countries import country_code
from spamledger._settings import Settings, add_setting_flags

# Governance parameters: CLI name -> (contract, setter, help). The getter is the setter's
# name without "set" (setQuorumBps -> quorumBps).
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
MAX_WEIGHT = 1_000_000  # ValidatorSet.MAX_WEIGHT
ROLES = ("relayer", "regulator")


def getter_of(setter: str) -> str:
    """``setQuorumBps`` -> ``quorumBps``."""
    name = setter.removeprefix("set")
    return name[0].lower() + name[1:]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gov = sub.add_parser("gov", help="consortium governance: operators, arbiters, roles, "
                                     "parameters, funding")
    _common(gov, leaf=False)
    cmds = gov.add_subparsers(dest="gov_command", metavar="ACTION", required=True)

    p = _leaf(cmds, "admit", "admit (or re-weight) a validator", _admit)
    p.add_argument("address", help="0x address or keystore name")
    p.add_argument("--country", required=True)
    p.add_argument("--weight", type=int, required=True)

    p = _leaf(cmds, "remove", "deactivate a validator", _remove)
    p.add_argument("address", help="0x address or keystore name")

    p = _leaf(cmds, "arbiter", "set an arbiter's country and weight", _arbiter)
    p.add_argument("address", help="0x address or keystore name")
    p.add_argument("--country", required=True)
    p.add_argument("--weight", type=int, required=True)

    p = _leaf(cmds, "grant", "grant the relayer or regulator role", _grant)
    p.add_argument("role", choices=ROLES)
    p.add_argument("address", help="0x address or keystore name")

    p = _leaf(cmds, "fund", "top accounts up to a balance (gas money) from the signer", _fund)
    p.add_argument("addresses", nargs="+", metavar="ADDRESS",
                   help="0x addresses or keystore names")
    p.add_argument("--eth", default="10", help="balance to top each account up to, in ether "
                                               "(default 10)")

    p = _leaf(cmds, "set", "set a governance parameter", _set)
    p.add_argument("name", choices=sorted(PARAMETERS))
    p.add_argument("value", type=int)

    p = _leaf(cmds, "thresholds", "set a country's spam/suspicious thresholds (bps)",
              _thresholds)
    p.add_argument("country", help="ISO alpha-2, or 00 for the default")
    p.add_argument("spam_bps", type=int)
    p.add_argument("suspicious_bps", type=int)

    _leaf(cmds, "show", "print validators, arbiters, roles, parameters and thresholds",
          _show)


def _common(parser: argparse.ArgumentParser, leaf: bool) -> None:
    """``--as`` and the chain flags; on a leaf they only override what the group got."""
    parser.add_argument("--as", dest="signer",
                        default=argparse.SUPPRESS if leaf else "governance",
                        help="keystore name that signs (default governance)")
    add_setting_flags(parser, ["node"], default=argparse.SUPPRESS if leaf else None)


def _leaf(cmds: Any, name: str, help_text: str, action: Any) -> argparse.ArgumentParser:
    p = cmds.add_parser(name, help=help_text, description=help_text)
    _common(p, leaf=True)
    p.set_defaults(func=lambda s, a: _run(s, a, action))
    return p


# -- argument checks (before any chain call) -------------------------------------------------

def _check_weight(weight: int) -> int:
    from node._errors import NodeError

    if not 1 <= weight <= MAX_WEIGHT:
        raise NodeError(f"--weight must be between 1 and {MAX_WEIGHT}, not {weight}")
    return weight


def _check_bps(name: str, value: int) -> int:
    from node._errors import NodeError

    if not 0 <= value <= 10_000:
        raise NodeError(f"{name} must be between 0 and 10000 basis points, not {value}")
    return value


def _ether(text: str) -> int:
    from node._errors import NodeError

    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise NodeError(f"--eth must be a number of ether, not {text!r}") from exc
    if amount <= 0:
        raise NodeError(f"--eth must be positive, not {text}")
    return int(amount * 10**18)


def _check(settings: Settings, args: argparse.Namespace) -> None:
    """Validate and resolve arguments in place; raises a one-line SpamLedgerError."""
    from node._keys import keystore_dir, resolve_address

    directory = keystore_dir(settings.data_dir)
    if getattr(args, "address", None) is not None:
        args.address = resolve_address(directory, args.address)
    if getattr(args, "addresses", None):
        args.addresses = [resolve_address(directory, a) for a in args.addresses]
    if args.gov_command in ("admit", "arbiter"):
        args.country = country_code(args.country)
        _check_weight(args.weight)
    if args.gov_command == "thresholds":
        args.country = "00" if args.country == "00" else country_code(args.country)
        _check_bps("spam_bps", args.spam_bps)
        _check_bps("suspicious_bps", args.suspicious_bps)
    if args.gov_command == "fund":
        args.wei = _ether(args.eth)


def _run(settings: Settings, args: argparse.Namespace, action: Any) -> int:
    from node import Deployment, Ledger, connect, keystore_dir, load_account, resolve_password

    _check(settings, args)
    w3 = connect(settings.rpc_url)
    deployment = Deployment.load(settings.data_dir, w3.eth.chain_id)
    signer = None
    if action is not _show:  # reading needs no key (and no second of scrypt)
        password = resolve_password(settings.data_dir, settings.keystore_password)
        signer = load_account(keystore_dir(settings.data_dir) / f"{args.signer}.json",
                              password)
    action(Ledger(w3, deployment, signer), args)
    return 0


# -- actions: each prints what the chain holds afterwards -------------------------------------

def _validator_line(ledger: Any, address: str) -> str:
    from node import country_str

    country, weight, active = ledger.call("ValidatorSet", "getValidator", address)[:3]
    state = "active" if active else "inactive"
    return f"validator {address}: {country_str(country)} weight {weight} {state}"


def _admit(ledger: Any, args: argparse.Namespace) -> None:
    from node import admit_validator

    admit_validator(ledger, args.address, args.country, args.weight)
    print(_validator_line(ledger, args.address))


def _remove(ledger: Any, args: argparse.Namespace) -> None:
    from node._errors import MembershipError

    country, _, active = ledger.call("ValidatorSet", "getValidator", args.address)[:3]
    if country == b"\x00\x00":
        raise MembershipError(f"{args.address} is not a validator")
    if active:
        ledger.transact("ValidatorSet", "deactivateValidator", args.address)
    print(_validator_line(ledger, args.address))


def _arbiter(ledger: Any, args: argparse.Namespace) -> None:
    from node import country_str, set_arbiter

    set_arbiter(ledger, args.address, args.country, args.weight)
    country, weight = ledger.call("ValidatorSet", "arbiterOf", args.address)
    print(f"arbiter {args.address}: {country_str(country)} weight {weight}")


def _grant(ledger: Any, args: argparse.Namespace) -> None:
    from node import grant_role

    role = f"{args.role.upper()}_ROLE"
    grant_role(ledger, role, args.address)
    held = ledger.call("ValidatorSet", "hasRole", ledger.call("ValidatorSet", role),
                       args.address)
    print(f"{args.role} role: {'held by' if held else 'NOT held by'} {args.address}")


def _fund(ledger: Any, args: argparse.Namespace) -> None:
    from node import fund_accounts

    for f in fund_accounts(ledger, args.addresses, args.wei):
        print(f"{f.address}: balance {f.balance_wei / 10**18:.6g} ETH "
              f"(sent {f.sent_wei / 10**18:.6g} ETH)")


def _set(ledger: Any, args: argparse.Namespace) -> None:
    contract, setter, _ = PARAMETERS[args.name]
    ledger.transact(contract, setter, args.value)
    now = ledger.call(contract, getter_of(setter))
    print(f"{args.name} = {now} ({contract}.{getter_of(setter)})")


def _thresholds(ledger: Any, args: argparse.Namespace) -> None:
    country = b"\x00\x00" if args.country == "00" else args.country.encode("ascii")
    ledger.transact("Consensus", "setThresholds", country, args.spam_bps, args.suspicious_bps)
    spam, suspicious = ledger.call("Consensus", "thresholdsOf", country)
    print(f"thresholds {args.country}: spam >= {spam}, suspicious >= {suspicious}")


def _show(ledger: Any, args: argparse.Namespace) -> None:
    print(json.dumps(consortium_state(ledger), indent=2))


def consortium_state(ledger: Any) -> dict[str, Any]:
    """Validators, arbiters, role holders, parameters and thresholds, read from the chain."""
    from node import country_str

    validators = []
    for i in range(ledger.call("ValidatorSet", "validatorCount")):
        address = ledger.call("ValidatorSet", "validatorAt", i)
        country, weight, active, since, seat = ledger.call("ValidatorSet", "getValidator",
                                                           address)
        validators.append({"address": address, "country": country_str(country),
                           "weight": weight, "active": active, "since": since, "seat": seat})
    countries = sorted({v["country"] for v in validators})
    return {
        "validators": validators,
        "total_active_weight": ledger.call("ValidatorSet", "totalActiveWeight"),
        "arbiters": _arbiters(ledger),
        "roles": {r: _holders(ledger, f"{r.upper()}_ROLE") for r in
                  ("governance", *ROLES)},
        "parameters": {name: ledger.call(c, getter_of(s))
                       for name, (c, s, _) in sorted(PARAMETERS.items())},
        "thresholds": {cc or "00": dict(zip(("spam_bps", "suspicious_bps"), ledger.call(
            "Consensus", "thresholdsOf", cc.encode("ascii") if cc else b"\x00\x00"),
            strict=True)) for cc in ["", *countries]},
        "contracts": {name: ledger.deployment.address(name)
                      for name in ledger.deployment.contract_names()},
        "report_consensus": _report_consensus(ledger),
    }


def _report_consensus(ledger: Any) -> dict[str, Any] | None:
    """The report path's contract: address, limits and whether it may write records (None
    in deployments made before it existed)."""
    if "ReportConsensus" not in ledger.deployment.contract_names():
        return None
    address = ledger.deployment.address("ReportConsensus")
    role = ledger.call("ValidatorSet", "REGISTRY_WRITER_ROLE")
    return {"address": address,
            "max_keys": ledger.call("ReportConsensus", "MAX_KEYS"),
            "round_base": ledger.call("ReportConsensus", "ROUND_BASE"),
            "registry_writer": ledger.call("ValidatorSet", "hasRole", role, address)}


def _arbiters(ledger: Any) -> list[dict[str, Any]]:
    from node import country_str

    seen = {ev["args"]["arbiter"] for ev in ledger.events(
        "ValidatorSet", "ArbiterSet", from_block=ledger.deployment.first_block())}
    out = []
    for address in sorted(seen):
        country, weight = ledger.call("ValidatorSet", "arbiterOf", address)
        if weight:
            out.append({"address": address, "country": country_str(country),
                        "weight": weight})
    return out


def _holders(ledger: Any, role_name: str) -> list[str]:
    role = ledger.call("ValidatorSet", role_name)
    seen = {ev["args"]["account"] for ev in ledger.events(
        "ValidatorSet", "RoleGranted", from_block=ledger.deployment.first_block(), role=role)}
    return sorted(a for a in seen if ledger.call("ValidatorSet", "hasRole", role, a))
