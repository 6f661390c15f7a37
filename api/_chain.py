"""The API's view of the chain and the evidence store, behind two small adapters.

Both are created lazily from the settings (``rpc_url``, ``data_dir``, ``ipfs_api``) so the
API answers from the index even when the chain or IPFS is down; errors from web3 and IPFS
are re-raised as :class:`~api.UpstreamUnavailable` (503) naming what failed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from api._errors import Conflict, Unprocessable, UpstreamUnavailable

logger = logging.getLogger(__name__)

REGISTRY = "SpamRegistry"
REGISTRY_GET = "get"


def jsonable(value: Any) -> Any:
    """ABI values as JSON: bytes as 0x-hex, big ints kept, tuples as lists."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def named_outputs(abi: list[dict[str, Any]], fn: str, result: Any) -> dict[str, Any]:
    """Pair a call result with its ABI output names (one struct output is flattened)."""
    item = next(i for i in abi if i.get("type") == "function" and i.get("name") == fn)
    outputs = item.get("outputs", [])
    if len(outputs) == 1 and outputs[0].get("components"):
        outputs, result = outputs[0]["components"], result
    elif len(outputs) == 1:
        result = (result,)
    return {(o.get("name") or f"out{i}"): jsonable(v)
            for i, (o, v) in enumerate(zip(outputs, result, strict=False))}


class Chain:
    """Reads and relayed writes on the deployed contracts (wraps ``node.Ledger``)."""

    def __init__(self, ledger: Any, relayer: Any = None):
        self.ledger = ledger
        self.w3 = ledger.w3
        self.deployment = ledger.deployment
        self.relayer = relayer

    @classmethod
    def from_settings(cls, settings) -> Chain:
        import node

        try:
            w3 = node.connect(settings.rpc_url)
            deployment = node.Deployment.load(settings.data_dir, w3.eth.chain_id)
        except node.NodeError as exc:
            raise UpstreamUnavailable(f"chain: {exc}") from exc
        return cls(node.Ledger(w3, deployment), _relayer(settings))

    def head(self) -> int:
        try:
            return int(self.w3.eth.block_number)
        except Exception as exc:  # any transport failure means "down" here
            raise UpstreamUnavailable(f"chain unreachable: {type(exc).__name__}") from exc

    def call(self, contract: str, fn: str, *args: Any, block: Any = "latest") -> Any:
        import node

        try:
            return self.ledger.call(contract, fn, *args, block=block)
        except node.NodeError as exc:
            raise UpstreamUnavailable(f"chain call {contract}.{fn} failed: {exc}") from exc
        except Exception as exc:
            raise UpstreamUnavailable(f"chain unreachable: {type(exc).__name__}") from exc

    def call_named(self, contract: str, fn: str, *args: Any, block: Any = "latest",
                   ) -> dict[str, Any]:
        """A view's result as a dict keyed by the ABI's output (or struct member) names."""
        result = self.call(contract, fn, *args, block=block)
        return named_outputs(self.ledger.contract(contract).abi, fn, result)

    def block_time(self) -> int:
        """The chain's clock: the latest block's timestamp."""
        try:
            return int(self.w3.eth.get_block("latest")["timestamp"])
        except Exception as exc:  # any transport failure means "down" here
            raise UpstreamUnavailable(f"chain unreachable: {type(exc).__name__}") from exc

    def record(self, number_key: str) -> dict[str, Any]:
        """The SpamRegistry record of a ``0x``-hex number key, read from the contract."""
        return self.call_named(REGISTRY, REGISTRY_GET, bytes.fromhex(number_key[2:]))

    def transact(self, contract: str, fn: str, *args: Any) -> Any:
        if self.relayer is None:
            raise UpstreamUnavailable("no relayer account configured (relayer_keystore)")
        return self.transact_as(self.relayer, contract, fn, *args)

    def transact_as(self, account: Any, contract: str, fn: str, *args: Any) -> Any:
        """Send ``contract.fn(*args)`` signed by ``account``; a revert is a 409 naming the
        contract's custom error."""
        import node

        try:
            return self.ledger.transact(contract, fn, *args, account=account)
        except node.ContractRevert as exc:
            raise Conflict(f"{contract}.{fn} rejected on-chain: {exc.error_name}") from exc
        except node.NodeError as exc:
            raise UpstreamUnavailable(f"chain transaction failed: {exc}") from exc


def _relayer(settings) -> Any:
    """The relayer account from its keystore, or None when none is configured."""
    from pathlib import Path

    import node

    # Where `spamledger node keys relayer` writes it, unless configured elsewhere.
    path = Path(settings.relayer_keystore or node.keystore_dir(settings.data_dir)
                / "relayer.json")
    if not path.exists():
        logger.warning("no relayer keystore at %s: disputes cannot be filed", path)
        return None
    try:
        password = node.resolve_password(settings.data_dir, settings.keystore_password)
        return node.load_account(path, password)
    except node.NodeError as exc:
        raise UpstreamUnavailable(f"relayer keystore {path}: {exc}") from exc


class Evidence:
    """Evidence documents in IPFS (wraps the node's verifying ``EvidenceStore``)."""

    def __init__(self, store: Any):
        self.store = store

    @classmethod
    def from_settings(cls, settings) -> Evidence:
        from node import ipfs

        try:
            return cls(ipfs.EvidenceStore.from_settings(settings))
        except ipfs.EvidenceError as exc:
            raise UpstreamUnavailable(f"IPFS: {exc}") from exc

    def alive(self) -> bool:
        return bool(self.store.node_info())

    def put(self, data: bytes, content_type: str) -> str:
        from node import ipfs

        try:
            return str(self.store.put_bytes(data, content_type))
        except (ipfs.TooLarge, ipfs.BadContentType) as exc:
            raise Unprocessable(f"evidence refused: {exc}") from exc
        except ipfs.EvidenceError as exc:
            raise UpstreamUnavailable(f"IPFS put failed: {exc}") from exc

    def get(self, cid: str) -> bytes:
        """The bytes of ``cid``, verified against it (raises ``node.ipfs.EvidenceError``)."""
        return bytes(self.store.get(cid))


class Lazy:
    """Builds a dependency on first use, and again after a failure."""

    def __init__(self, factory):
        self._factory = factory
        self._value = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._value is None:
                self._value = self._factory()
            return self._value

    def peek(self):
        return self._value


class LazyEvidence:
    """An :class:`Evidence` built on first use and rebuilt after a failed build, so the
    indexer starts (and keeps epochs pending) whether or not IPFS answers yet."""

    def __init__(self, settings):
        self._lazy = Lazy(lambda: Evidence.from_settings(settings))

    def get(self, cid: str) -> bytes:
        return self._lazy.get().get(cid)
