"""Compiled contracts: ABIs and bytecode from Hardhat's ``artifacts/`` folder.

The bytecode that migrations deploy is the bytecode the Solidity tests ran: both come from
the one Hardhat compile (``make compile``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import function_abi_to_4byte_selector

from node._errors import ArtifactError

logger = logging.getLogger(__name__)

_REPO_ROOT = Path(__file__).resolve().parents[1]


def artifacts_dir() -> Path:
    """``SPAMLEDGER_ARTIFACTS_DIR`` or the repository's ``artifacts/``."""
    return Path(os.environ.get("SPAMLEDGER_ARTIFACTS_DIR", _REPO_ROOT / "artifacts"))


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str

    @property
    def bytecode_hash(self) -> str:
        """sha256 of the creation bytecode, recorded with each deployment."""
        return hashlib.sha256(bytes.fromhex(self.bytecode.removeprefix("0x"))).hexdigest()


@functools.lru_cache(maxsize=64)
def load_artifact(name: str) -> Artifact:
    """Load ``artifacts/contracts/**/<name>.json``; raises :class:`ArtifactError`."""
    root = artifacts_dir() / "contracts"
    matches = [p for p in root.rglob(f"{name}.json") if p.parent.name.endswith(".sol")]
    if not matches:
        raise ArtifactError(f"no compiled artifact for {name} under {root}; run `make compile`")
    data = json.loads(matches[0].read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data.get("bytecode", "0x"))


@functools.lru_cache(maxsize=1)
def error_selectors() -> dict[bytes, dict[str, Any]]:
    """Every custom error of every compiled contract, by its 4-byte selector."""
    table: dict[bytes, dict[str, Any]] = {}
    root = artifacts_dir() / "contracts"
    for path in root.rglob("*.json"):
        if not path.parent.name.endswith(".sol") or path.name.endswith(".dbg.json"):
            continue
        try:
            abi = json.loads(path.read_text()).get("abi", [])
        except (OSError, ValueError):
            continue
        for item in abi:
            if item.get("type") == "error":
                table[function_abi_to_4byte_selector(item)] = item
    return table
