"""The typed chain client: connect, call, transact and decode reverts, over web3.py.

Transactions are signed locally (eth-account with coincurve) and sent raw, so the node never
holds a key. Custom errors from any compiled contract are decoded by selector and re-raised as
:class:`~node.ContractRevert` naming the error.

Example::

    w3 = connect("http://127.0.0.1:8545")
    ledger = Ledger(w3, Deployment.load(data_dir), account=governance)
    ledger.transact("ValidatorSet", "admitValidator", addr, b"US", 4000)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.types import TxReceipt

from node._artifacts import error_selectors, load_artifact
from node._deployment import Deployment
from node._errors import (
    ChainUnreachable,
    ContractRevert,
    InsufficientFunds,
    MissingRole,
    NodeError,
)

logger = logging.getLogger(__name__)

# Receipts on a local chain arrive within milliseconds; web3's default 0.1 s poll dominates.
POLL_LATENCY = 0.02
RECEIPT_TIMEOUT = 120
RPC_TIMEOUT = 30

_ROLE_ERRORS = {"AccessControlUnauthorizedAccount", "NotValidator", "NotArbiter",
                "NotRelayer", "NotGovernance", "NotRegulator", "Unauthorized", "NotWriter"}


def connect(rpc_url: str, timeout: float = RPC_TIMEOUT) -> Web3:
    """A connected :class:`Web3`; raises :class:`ChainUnreachable` naming the URL."""
    if not rpc_url.startswith(("http://", "https://")):
        raise NodeError(f"RPC URL {rpc_url!r} must start with http:// or https:// "
                        "(e.g. http://127.0.0.1:8545)")
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - the cheapest call that proves the node answers
    except Exception as exc:  # requests/aiohttp/OSError: all mean "not reachable"
        raise ChainUnreachable(rpc_url, type(exc).__name__) from exc
    return w3


def is_insufficient_funds(exc: BaseException) -> bool:
    """True when a node refused a transaction because the sender cannot pay for it."""
    return "insufficient funds" in str(exc).lower()


def decode_revert(data: str | bytes | None) -> tuple[str, tuple[Any, ...]]:
    """Decode revert data into ``(error_name, args)`` using every compiled contract's ABI."""
    raw = _as_bytes(data)
    if len(raw) < 4:
        return ("EmptyRevert", ())
    selector, body = raw[:4], raw[4:]
    if selector == bytes.fromhex("08c379a0"):
        return ("Error", tuple(abi_decode(["string"], body)))
    if selector == bytes.fromhex("4e487b71"):
        return ("Panic", tuple(abi_decode(["uint256"], body)))
    item = error_selectors().get(selector)
    if item is None:
        return ("UnknownError", ("0x" + raw.hex(),))
    types = [_abi_type(i) for i in item.get("inputs", [])]
    values = abi_decode(types, body)
    return (item["name"], tuple(_readable(t, v) for t, v in zip(types, values, strict=True)))


# Role hashes shown by name in errors: "lacks GOVERNANCE_ROLE" beats a 32-byte hex string.
_ROLE_NAMES = {keccak(text=n): n for n in ("GOVERNANCE_ROLE", "ARBITER_ROLE", "RELAYER_ROLE",
                                            "REGULATOR_ROLE", "REGISTRY_WRITER_ROLE")}
_ROLE_NAMES[b"\x00" * 32] = "DEFAULT_ADMIN_ROLE"


def _readable(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "bytes32" and value in _ROLE_NAMES:
        return _ROLE_NAMES[value]
    if abi_type == "bytes2":
        return value.decode("ascii", errors="replace")
    return value


def _abi_type(inp: dict[str, Any]) -> str:
    if inp["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in inp["components"])
        return f"({inner})" + inp["type"][len("tuple"):]
    return str(inp["type"])


def _as_bytes(data: str | bytes | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    text = data.removeprefix("0x")
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def _revert_from(exc: Exception, contract: str, function: str) -> ContractRevert:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    name, args = decode_revert(data) if data else ("Reverted", (str(exc),))
    cls = MissingRole if name in _ROLE_ERRORS else ContractRevert
    return cls(contract, function, name, args, raw=str(data or ""))


class Ledger:
    """Every SpamLedger contract of one deployment, with locally signed transactions.

    ``account`` is the default sender; each call may pass another. Nonces are tracked per
    sender inside this object so that many transactions can be sent without waiting.
    """

    def __init__(self, w3: Web3, deployment: Deployment, account: LocalAccount | None = None):
        self.w3 = w3
        self.deployment = deployment
        self.account = account
        self._contracts: dict[str, Contract] = {}
        self._nonces: dict[str, int] = {}
        self._lock = threading.Lock()

    def contract(self, name: str) -> Contract:
        """The web3 contract object for ``name`` at its deployed address."""
        if name not in self._contracts:
            address = self.deployment.address(name)
            abi = load_artifact(name).abi
            self._contracts[name] = self.w3.eth.contract(
                address=to_checksum_address(address), abi=abi)
        return self._contracts[name]

    def call(self, name: str, fn: str, *args: Any, block: Any = "latest") -> Any:
        """Read-only call; reverts become :class:`ContractRevert`."""
        try:
            return getattr(self.contract(name).functions, fn)(*args).call(
                block_identifier=block)
        except (ContractCustomError, ContractLogicError) as exc:
            raise _revert_from(exc, name, fn) from exc

    def transact(self, name: str, fn: str, *args: Any, account: LocalAccount | None = None,
                 gas: int | None = None, wait: bool = True) -> TxReceipt | bytes:
        """Sign and send ``name.fn(*args)``; returns the receipt (or tx hash if not ``wait``)."""
        sender = account or self.account
        if sender is None:
            raise NodeError(f"{name}.{fn}: no account to send from")
        func = getattr(self.contract(name).functions, fn)(*args)
        tx_hash = self._send(func, sender, gas, name, fn)
        if not wait:
            return tx_hash
        return self.wait(tx_hash, name, fn)

    def _send(self, func: Any, sender: LocalAccount, gas: int | None,
              name: str, fn: str) -> bytes:
        with self._lock:
            params: dict[str, Any] = {"from": sender.address,
                                      "nonce": self._next_nonce(sender.address)}
            if gas is not None:
                params["gas"] = gas
            try:
                tx = func.build_transaction(params)
            except (ContractCustomError, ContractLogicError) as exc:
                self._nonces.pop(sender.address, None)
                raise _revert_from(exc, name, fn) from exc
            except Web3RPCError as exc:
                self._nonces.pop(sender.address, None)
                raise self._refused(exc, sender.address, f"{name}.{fn}") from exc
            try:
                tx_hash = self._sign_and_send(tx, sender)
            except Web3RPCError as exc:
                # Another client (an oracle, another Ledger) used this key meanwhile: our
                # cached nonce is stale. Re-read it from the chain and try once more.
                if "nonce" not in str(exc).lower() or is_insufficient_funds(exc):
                    self._nonces.pop(sender.address, None)
                    raise self._refused(exc, sender.address, f"{name}.{fn}") from exc
                self._nonces.pop(sender.address, None)
                tx["nonce"] = self._next_nonce(sender.address)
                tx_hash = self._sign_and_send(tx, sender)
            self._nonces[sender.address] = tx["nonce"] + 1
            return bytes(tx_hash)

    def _refused(self, exc: Exception, address: str, action: str) -> NodeError:
        """The node refused a transaction: short of gas money, or another reason."""
        if is_insufficient_funds(exc):
            return InsufficientFunds(address, self.balance(address), action)
        return NodeError(f"{action}: node refused the transaction: {exc}")

    def balance(self, address: str) -> int:
        """Balance of ``address`` in wei."""
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def send_value(self, to: str, value_wei: int,
                   account: LocalAccount | None = None) -> TxReceipt:
        """Transfer ``value_wei`` to ``to`` (signed locally); returns the receipt."""
        sender = account or self.account
        if sender is None:
            raise NodeError("transfer: no account to send from")
        action = f"a transfer of {value_wei} wei to {to}"
        with self._lock:
            params: dict[str, Any] = {
                "from": sender.address, "to": to_checksum_address(to), "value": int(value_wei),
                "nonce": self._next_nonce(sender.address), "chainId": self.w3.eth.chain_id}
            try:
                params["gas"] = self.w3.eth.estimate_gas(params)  # type: ignore[arg-type]
                params["gasPrice"] = self.w3.eth.gas_price
                tx_hash = self._sign_and_send(params, sender)
            except Web3RPCError as exc:
                self._nonces.pop(sender.address, None)
                raise self._refused(exc, sender.address, action) from exc
            self._nonces[sender.address] = params["nonce"] + 1
        return self.wait(bytes(tx_hash), "transfer", to)

    def _sign_and_send(self, tx: Any, sender: LocalAccount) -> Any:
        return self.w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)

    def _next_nonce(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = self.w3.eth.get_transaction_count(
                to_checksum_address(address), "pending")
        return self._nonces[address]

    def wait(self, tx_hash: bytes, name: str = "?", fn: str = "?") -> TxReceipt:
        """Wait for a receipt; a failed transaction is replayed as a call to decode why."""
        receipt = self.w3.eth.wait_for_transaction_receipt(
            HexBytes(tx_hash), timeout=RECEIPT_TIMEOUT, poll_latency=POLL_LATENCY)
        if receipt["status"] != 1:
            raise self._failure(receipt, name, fn)
        return receipt

    def _failure(self, receipt: TxReceipt, name: str, fn: str) -> ContractRevert:
        tx = self.w3.eth.get_transaction(receipt["transactionHash"])
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError) as exc:
            return _revert_from(exc, name, fn)
        return ContractRevert(name, fn, "Reverted", ("out of gas or reverted without data",))

    def events(self, name: str, event: str, from_block: int = 0,
               to_block: int | str = "latest", **filters: Any) -> list[Any]:
        """Decoded logs of ``name.event`` in a block range (argument filters optional)."""
        ev = getattr(self.contract(name).events, event)
        return list(ev.get_logs(from_block=from_block, to_block=to_block,
                                argument_filters=filters or None))

    def all_events(self, from_block: int, to_block: int,
                   names: Iterable[str] | None = None) -> list[tuple[str, Any]]:
        """Every event of the given contracts in a block range, in chain order."""
        out: list[tuple[str, Any]] = []
        for name in names or self.deployment.contract_names():
            contract = self.contract(name)
            for ev in contract.all_events():
                for log in ev.get_logs(from_block=from_block, to_block=to_block):
                    out.append((name, log))
        out.sort(key=lambda item: (item[1]["blockNumber"], item[1]["logIndex"]))
        return out
