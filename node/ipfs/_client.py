"""The boundary to ``ipfshttpclient``: open a client, and turn its errors into ours.

Only standard ``/api/v0/`` commands are used anywhere (add, cat, pin/add, pin/rm, pin/ls,
refs, refs/local, repo/gc, id, version), so the same code talks to the embedded js-ipfs
node and to a Kubo RPC endpoint. ``ipfshttpclient.connect()`` is not used: it refuses
js-ipfs's version string.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import ipfshttpclient
import ipfshttpclient.exceptions as ipfs_exc
import requests

from node.ipfs._errors import EvidenceError, NodeUnreachable, ReadTimedOut

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0


def open_client(api_addr: str, timeout: float) -> ipfshttpclient.Client:
    """A client with a persistent HTTP session on ``api_addr`` (a multiaddr).

    Raises :class:`EvidenceError` when the address is not a valid multiaddr.
    """
    try:
        client = ipfshttpclient.Client(
            api_addr, session=True, timeout=(min(CONNECT_TIMEOUT, timeout), timeout))
    except ipfs_exc.AddressError as exc:
        raise EvidenceError(f"IPFS API address {api_addr!r} is not a valid multiaddr "
                            f"(expected e.g. /ip4/127.0.0.1/tcp/5001/http)") from exc
    _drop_strict_pool_flag(client)
    return client


def _drop_strict_pool_flag(client: ipfshttpclient.Client) -> None:
    """Stop urllib3 2 warning (an error under pytest) on every request.

    ipfshttpclient 0.7 builds its pool manager with ``strict=True``, which urllib3 2 pops
    with a FutureWarning each time it picks a pool; removing the flag from the pool
    manager's defaults once is enough. Best effort: a future ipfshttpclient may differ.
    """
    session = getattr(getattr(client, "_client", None), "_session", None)
    for adapter in getattr(session, "adapters", {}).values():
        manager = getattr(adapter, "poolmanager", None)
        if manager is not None:
            manager.connection_pool_kw.pop("strict", None)


@contextmanager
def ipfs_errors(api_addr: str, action: str, subject: str = "") -> Iterator[None]:
    """Re-raise ipfshttpclient errors raised inside the block as :class:`EvidenceError`.

    ``action`` names what was attempted ("add", "cat", ...); ``subject`` (a CID) is named
    in the error. A call that times out raises :class:`ReadTimedOut`: a slow node and a node
    without the content look alike, so "not found" is decided by asking the node what it
    holds (:mod:`node.ipfs._presence`), never by a timeout.
    """
    try:
        yield
    except ipfs_exc.ConnectionError as exc:
        raise NodeUnreachable(
            f"IPFS node at {api_addr} is unreachable ({action}): is it running? "
            f"(`spamledger node start`)") from exc
    except ipfs_exc.TimeoutError as exc:
        about = f" of {subject}" if subject else ""
        raise ReadTimedOut(f"IPFS node at {api_addr} did not answer {action}{about} in time") \
            from exc
    except ipfs_exc.ErrorResponse as exc:
        raise EvidenceError(f"IPFS node at {api_addr} refused {action}: {exc}") from exc
    except ipfs_exc.Error as exc:
        raise EvidenceError(f"IPFS {action} at {api_addr} failed: {exc}") from exc
    except requests.RequestException as exc:
        # Raised while streaming a response body, after ipfshttpclient handed it over.
        raise NodeUnreachable(f"connection to the IPFS node at {api_addr} broke during "
                              f"{action}: {exc}") from exc
