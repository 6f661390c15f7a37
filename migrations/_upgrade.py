"""``spamledger node migrate``: deploy v2 beside a v1 deployment and make v1's whole history
provable from v2, resumably.

Phases, each resumable, all state under ``DATA_DIR/deployments/upgrade-<chain_id>/`` until the
switch:

1. **source**: the live v1 record is copied to ``v1.json`` (the migration's own copy; every
   transaction below is recorded in a record before it is sent, as the deploy migrations do).
2. **freeze v1** (recorded in ``v1.json``): the consortium as it stands is read, then v1's
   Consensus, Dispute and ReportConsensus lose ``REGISTRY_WRITER_ROLE`` and every active v1
   validator is deactivated: no v1 record, lock, dispute outcome, vote or epoch can change
   afterwards. The block after the freeze is the last migrated block, fixed once.
3. **archive**: every log of the v1 contracts up to that block and every v1 registry record at
   it, read from the chain, written to ``archive.json`` (see :mod:`migrations._archive`).
4. **deploy v2**: the ordered deploy migrations on a fresh record ``v2.json``; the v1
   consortium (validators, arbiters, relayers, regulators) admitted again; ``LegacyArchive``
   deployed and the archive root committed once by governance, then read back and compared.
5. **switch**: the v1 record and archive move to ``deployments/legacy/``; the v2 record
   replaces ``deployments/<chain_id>.json`` (one atomic rename: before it v1 is live, after it
   v2 is). A run on a migrated record only reports.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from migrations._archive import Archive, collect, write_atomic
from migrations._runner import MigrationContext, check_record_matches_chain, run_migrations
from node import Deployment, Ledger
from node._errors import DeploymentError, LegacyArchiveError

logger = logging.getLogger(__name__)

FREEZE = "upgrade:freeze-v1"
CARRY = "upgrade:consortium"
ARCHIVE = "upgrade:legacy-archive"
ROLES = ("RELAYER_ROLE", "REGULATOR_ROLE")
# ReportConsensus exists only in deployments made after it was added (session 9).
WRITERS = ("Consensus", "Dispute", "ReportConsensus")


@dataclass
class Paths:
    """Where one chain's migration keeps its state."""

    data_dir: Path
    chain_id: int

    @property
    def live(self) -> Path:
        return Deployment.path_for(self.data_dir, self.chain_id)

    @property
    def staging(self) -> Path:
        return Path(self.data_dir) / "deployments" / f"upgrade-{self.chain_id}"

    def legacy(self, v1: Deployment, suffix: str) -> Path:
        tag = f"{self.chain_id}-v1-{v1.address('ValidatorSet').lower()}"
        return Path(self.data_dir) / "deployments" / "legacy" / f"{tag}{suffix}"


def load_record(path: Path) -> Deployment:
    """A deployment record from any path (the staging copies live outside ``<chain_id>.json``)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"cannot read deployment record {path}: {exc}") from exc
    return Deployment(path=Path(path), chain_id=data["chain_id"],
                      network=data.get("network", "local"), contracts=data.get("contracts", {}),
                      steps=data.get("steps", {}), created_at=data.get("created_at", 0.0))


def migrate(w3: Web3, data_dir: Path, deployer: LocalAccount,
            params: dict[str, Any] | None = None) -> Deployment:
    """Run (or finish) the v1 -> v2 migration of the chain's deployment; returns the v2 record.

    On a record already migrated (and no migration in progress) nothing is sent.
    """
    paths = Paths(Path(data_dir), int(w3.eth.chain_id))
    live = Deployment.load(paths.data_dir, paths.chain_id)
    if is_migrated(live):
        if paths.staging.exists():  # a crash after the switch: only the clean-up was left
            shutil.rmtree(paths.staging)
        logger.info("deployment %s is already migrated; nothing to do", live.path)
        return live
    if not (paths.staging / "v1.json").exists():  # the copy is the migration's first write
        check_record_matches_chain(w3, live)
        write_atomic(paths.staging / "v1.json", live.path.read_bytes())
    v1 = load_record(paths.staging / "v1.json")
    last_block = freeze_v1(w3, v1, deployer)
    archive = _archive(w3, v1, last_block, paths.staging / "archive.json")
    v2 = _open_v2(paths)
    run_migrations(w3, v2, deployer, params)
    carry_consortium(w3, v2, deployer, v1.steps[FREEZE]["consortium"])
    commit_archive(w3, v2, deployer, archive, paths.legacy(v1, ".archive.json"))
    return _switch(paths, v1, v2, archive)


def is_migrated(record: Deployment) -> bool:
    """True for a v2 record whose legacy archive is committed and live."""
    return record.steps.get(ARCHIVE, {}).get("status") == "applied"


# ------------------------------------------------------------------------ freeze v1


def freeze_v1(w3: Web3, v1: Deployment, deployer: LocalAccount) -> int:
    """Stop every v1 write path; returns the last migrated block (fixed at the first run)."""
    state = v1.steps.setdefault(FREEZE, {"status": "running"})
    if state.get("status") == "applied":
        return int(state["last_block"])
    ctx = MigrationContext(w3, v1, deployer, FREEZE, {})
    if "consortium" not in state:
        state["consortium"] = read_consortium(ctx.ledger, v1.first_block())
        v1.save()
    writer = ctx.ledger.call("ValidatorSet", "REGISTRY_WRITER_ROLE")
    for name in (n for n in WRITERS if n in v1.contracts):
        if ctx.ledger.call("ValidatorSet", "hasRole", writer, v1.address(name)):
            ctx.transact(f"revoke-writer:{name}", "ValidatorSet", "revokeRole", writer,
                         v1.address(name))
    for address in ctx.ledger.call("ValidatorSet", "activeValidators"):
        ctx.transact(f"deactivate:{address}", "ValidatorSet", "deactivateValidator", address)
    state.update(status="applied", last_block=int(w3.eth.block_number))
    v1.save()
    logger.info("v1 frozen at block %d", state["last_block"])
    return int(state["last_block"])


def read_consortium(ledger: Ledger, first_block: int) -> dict[str, Any]:
    """Validators (with standing), arbiters and role holders of a deployment, now."""
    vs = "ValidatorSet"
    validators = []
    for i in range(int(ledger.call(vs, "validatorCount"))):
        address = ledger.call(vs, "validatorAt", i)
        v = ledger.call(vs, "getValidator", address)
        validators.append({"address": address, "country": "0x" + bytes(v[0]).hex(),
                           "weight": int(v[1]), "active": bool(v[2])})
    arbiters = []
    for address in sorted({e["args"]["arbiter"]
                           for e in ledger.events(vs, "ArbiterSet", first_block)}):
        country, weight = ledger.call(vs, "arbiterOf", address)
        if weight:
            arbiters.append({"address": address, "country": "0x" + bytes(country).hex(),
                             "weight": int(weight)})
    roles: dict[str, list[str]] = {}
    for role_name in ROLES:
        role = ledger.call(vs, role_name)
        granted = {e["args"]["account"] for e in ledger.events(vs, "RoleGranted", first_block,
                                                               role=role)}
        roles[role_name] = sorted(a for a in granted if ledger.call(vs, "hasRole", role, a))
    return {"validators": validators, "arbiters": arbiters, "roles": roles}


# ------------------------------------------------------------------------- archive


def _archive(w3: Web3, v1: Deployment, last_block: int, path: Path) -> Archive:
    """The archive file, built once; a re-run reads it back and checks it still matches."""
    if path.exists():
        archive = Archive.load(path)
        if archive.last_block != last_block or archive.sources != _sources(v1):
            raise LegacyArchiveError(f"{path} covers another deployment or block; move it away")
        return archive
    archive = collect(w3, v1, v1.first_block(), last_block)
    archive.save(path)
    return archive


def _sources(v1: Deployment) -> dict[str, str]:
    return {n: v1.address(n) for n in v1.contract_names()}


# ------------------------------------------------------------------------- v2


def _open_v2(paths: Paths) -> Deployment:
    path = paths.staging / "v2.json"
    if path.exists():
        return load_record(path)
    v2 = Deployment(path=path, chain_id=paths.chain_id,
                    network="local" if paths.chain_id == 31337 else "remote")
    v2.save()
    return v2


def carry_consortium(w3: Web3, v2: Deployment, deployer: LocalAccount,
                     consortium: dict[str, Any]) -> None:
    """Admit v1's validators (same country, weight, standing), arbiters and role holders."""
    state = v2.steps.setdefault(CARRY, {"status": "running"})
    if state.get("status") == "applied":
        return
    ctx = MigrationContext(w3, v2, deployer, CARRY, {})
    vs = "ValidatorSet"
    for v in consortium["validators"]:
        country = bytes.fromhex(v["country"][2:])
        if not ctx.ledger.call(vs, "isValidator", v["address"]):
            ctx.transact(f"admit:{v['address']}", vs, "admitValidator", v["address"], country,
                         v["weight"])
        if not v["active"] and ctx.ledger.call(vs, "getValidator", v["address"])[2]:
            ctx.transact(f"deactivate:{v['address']}", vs, "deactivateValidator", v["address"])
    for a in consortium["arbiters"]:
        if not ctx.ledger.call(vs, "arbiterOf", a["address"])[1]:
            ctx.transact(f"arbiter:{a['address']}", vs, "setArbiter", a["address"],
                         bytes.fromhex(a["country"][2:]), a["weight"])
    for role_name, holders in consortium["roles"].items():
        role = ctx.ledger.call(vs, role_name)
        for address in holders:
            if not ctx.ledger.call(vs, "hasRole", role, address):
                ctx.transact(f"grant:{role_name}:{address}", vs, "grantRole", role, address)
    state["status"] = "applied"
    v2.save()


def commit_archive(w3: Web3, v2: Deployment, deployer: LocalAccount, archive: Archive,
                   archive_path: Path) -> None:
    """Deploy ``LegacyArchive`` and commit the root once; then compare what the chain holds."""
    state = v2.steps.setdefault(ARCHIVE, {"status": "running"})
    ctx = MigrationContext(w3, v2, deployer, ARCHIVE, {})
    ctx.deploy("LegacyArchive", ctx.address("ValidatorSet"))
    root = archive.tree().root
    if not ctx.ledger.call("LegacyArchive", "isSealed"):
        names = list(archive.sources)
        ctx.transact("commit", "LegacyArchive", "commitArchive", archive.source_chain_id, names,
                     [archive.sources[n] for n in names], archive.first_block,
                     archive.last_block, root, len(archive.entries), archive.manifest_hash())
    on_chain = ctx.ledger.call("LegacyArchive", "archive")
    if bytes(on_chain[4]) != root or bytes(on_chain[5]) != archive.manifest_hash():
        raise LegacyArchiveError(
            f"LegacyArchive at {ctx.address('LegacyArchive')} holds root "
            f"0x{bytes(on_chain[4]).hex()}, the archive file gives 0x{root.hex()}: not this "
            "migration's archive")
    state.update(root="0x" + root.hex(), archive_file=_beside(v2, archive_path),
                 source_chain_id=archive.source_chain_id, last_block=archive.last_block,
                 leaves=len(archive.entries))
    v2.save()


def _beside(record: Deployment, path: Path) -> str:
    """``path`` relative to the deployments folder (the data dir may move)."""
    return str(Path(path).relative_to(Path(record.path).parent.parent
                                      if record.path.parent.name.startswith("upgrade-")
                                      else record.path.parent))


def recorded_path(record: Deployment, name: str) -> Path:
    """A file the archive step recorded (``archive_file``, ``source_record``)."""
    return Path(record.path).parent / record.steps[ARCHIVE][name]


# --------------------------------------------------------------------------- switch


def _switch(paths: Paths, v1: Deployment, v2: Deployment, archive: Archive) -> Deployment:
    """Legacy files first, then the one rename that makes v2 live, then clean up."""
    archive.save(paths.legacy(v1, ".archive.json"))
    write_atomic(paths.legacy(v1, ".json"), v1.path.read_bytes())
    v2.steps[ARCHIVE].update(status="applied",
                             source_record=_beside(v2, paths.legacy(v1, ".json")))
    v2.save()
    v2.path.replace(paths.live)
    shutil.rmtree(paths.staging)
    live = Deployment.load(paths.data_dir, paths.chain_id)
    logger.info("v2 is live: %s; v1 history archived under %s", live.path,
                paths.legacy(v1, ".archive.json"))
    return live
