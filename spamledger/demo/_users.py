"""The three users, as they would use SpamLedger: over the HTTP API (and arbiters on-chain)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from node import Ledger, resolve_dispute, vote_dispute

logger = logging.getLogger(__name__)

TIMEOUT = 30.0


@dataclass
class ApiUsers:
    """An HTTP client per role, each with its own API key."""

    base_url: str
    keys: dict[str, str]
    log: list[str] = field(default_factory=list)

    def _client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=TIMEOUT,
                            headers={"X-API-Key": self.keys[role]})

    def lookup(self, number: str, country: str | None = None) -> dict[str, Any]:
        """A telco's pre-connect lookup."""
        params = {"country": country} if country else {}
        with self._client("telco") as client:
            resp = client.get(f"/v1/reputation/{number}", params=params)
        resp.raise_for_status()
        return dict(resp.json())

    def lookup_batch(self, numbers: list[str], size: int = 5000) -> list[dict[str, Any]]:
        """A telco's batch lookups, ``size`` numbers a request."""
        out: list[dict[str, Any]] = []
        with self._client("telco") as client:
            for i in range(0, len(numbers), size):
                resp = client.post("/v1/reputation/batch",
                                   json={"numbers": numbers[i:i + size]})
                resp.raise_for_status()
                out.extend(resp.json()["results"])
        return out

    def dispute(self, number: str, business: str, filename: str, content: bytes) -> dict[str, Any]:
        """A business files a dispute with an evidence file."""
        files = {"evidence": (filename, content, "application/pdf")}
        with self._client("business") as client:
            resp = client.post("/v1/disputes", data={"number": number, "business": business},
                               files=files)
        if resp.status_code >= 400:
            raise RuntimeError(f"dispute refused: {resp.status_code} {resp.text}")
        return dict(resp.json())

    def dispute_state(self, dispute_id: int) -> dict[str, Any]:
        with self._client("business") as client:
            resp = client.get(f"/v1/disputes/{dispute_id}")
        resp.raise_for_status()
        return dict(resp.json())

    def audit(self, number: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A regulator's full history and verification of a number."""
        with self._client("regulator") as client:
            history = client.get(f"/v1/audit/numbers/{number}")
            verify = client.get(f"/v1/audit/numbers/{number}/verify")
        history.raise_for_status()
        verify.raise_for_status()
        return dict(history.json()), dict(verify.json())

    def health(self) -> dict[str, Any]:
        with httpx.Client(base_url=self.base_url, timeout=TIMEOUT) as client:
            return dict(client.get("/healthz").json())


def arbiters_uphold(ledger: Ledger, dispute_id: int, voters: list[Any]) -> None:
    """Arbiters of other countries and the regulator vote to uphold, then anyone resolves."""
    for account in voters:
        vote_dispute(ledger, dispute_id, True, account)
    resolve_dispute(ledger, dispute_id, account=voters[0])


def wait_indexed(users: ApiUsers, block: int, timeout: float = 60.0) -> None:
    """Wait until the API's indexer has reached ``block``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        indexed = users.health().get("indexed_block") or 0
        if indexed >= block:
            return
        time.sleep(0.3)
    raise RuntimeError(f"the API indexer did not reach block {block} in {timeout:.0f} s")
