"""The deployment record: which migrations ran on which chain, and what they deployed.

One JSON file per chain, ``DATA_DIR/deployments/<chain_id>.json``, rewritten atomically
(temp file + rename) after every transaction a migration sends, so a crash at any point
leaves a record from which the next run resumes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node._errors import DeploymentError


@dataclass
class Deployment:
    """Addresses, blocks, transactions and migration steps of one chain's deployment."""

    path: Path
    chain_id: int
    network: str = "local"
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    @staticmethod
    def path_for(data_dir: Path, chain_id: int) -> Path:
        return Path(data_dir) / "deployments" / f"{chain_id}.json"

    @classmethod
    def load(cls, data_dir: Path, chain_id: int | None = None) -> Deployment:
        """Load the record for ``chain_id`` (or the only record under ``data_dir``)."""
        path = cls._find(Path(data_dir), chain_id)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DeploymentError(f"cannot read deployment record {path}: {exc}") from exc
        return cls(path=path, chain_id=data["chain_id"], network=data.get("network", "local"),
                   contracts=data.get("contracts", {}), steps=data.get("steps", {}),
                   created_at=data.get("created_at", 0.0))

    @classmethod
    def _find(cls, data_dir: Path, chain_id: int | None) -> Path:
        if chain_id is not None:
            path = cls.path_for(data_dir, chain_id)
            if not path.exists():
                raise DeploymentError(f"no deployment record {path}; run `spamledger deploy`")
            return path
        found = sorted((data_dir / "deployments").glob("*.json"))
        if len(found) != 1:
            raise DeploymentError(
                f"expected one deployment record under {data_dir / 'deployments'}, "
                f"found {len(found)}; run `spamledger deploy`")
        return found[0]

    @classmethod
    def open(cls, data_dir: Path, chain_id: int, network: str = "local") -> Deployment:
        """Load the record for ``chain_id`` or start an empty one."""
        path = cls.path_for(Path(data_dir), chain_id)
        if path.exists():
            return cls.load(data_dir, chain_id)
        return cls(path=path, chain_id=chain_id, network=network)

    def address(self, name: str) -> str:
        try:
            return str(self.contracts[name]["address"])
        except KeyError:
            raise DeploymentError(
                f"{name} is not in deployment record {self.path}; run `spamledger deploy`"
            ) from None

    def block(self, name: str) -> int:
        return int(self.contracts[name]["block"])

    def first_block(self) -> int:
        """The earliest deployment block: where indexers start."""
        return min((int(c["block"]) for c in self.contracts.values()), default=0)

    def contract_names(self) -> list[str]:
        return list(self.contracts)

    def as_dict(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "network": self.network,
                "created_at": self.created_at, "updated_at": time.time(),
                "contracts": self.contracts, "steps": self.steps}

    def save(self) -> None:
        """Write atomically: a crash leaves the old or the new record, never half of one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".deploy-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(self.as_dict(), fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
