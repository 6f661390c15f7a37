"""The client's address behind reverse proxies, for per-address throttles.

``X-Forwarded-For`` and ``Forwarded`` are written by whoever sends the request, so they are
believed only when the direct peer is a proxy listed in ``api_trusted_proxies``. Then the
forwarded chain is read from the right (the entry the nearest proxy appended) past every
trusted proxy; the first address that is not a trusted proxy is the client. Anything a
client writes further left is never reached, so it cannot pick the address it is throttled
under. Without trusted proxies (the default) the headers are ignored entirely.

Example::

    trusted = trusted_networks("10.0.0.0/8, 192.168.1.7")
    client_address(scope, trusted)     # "203.0.113.9" from a trusted proxy's header
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable

from spamledger._settings import SettingsError

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)
_MAX_ADDRESS = 64


def trusted_networks(text: str) -> tuple[Network, ...]:
    """Parse ``api_trusted_proxies`` (comma-separated addresses or CIDR networks);
    :class:`SettingsError` names an entry that is neither."""
    out = []
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise SettingsError(f"api_trusted_proxies: {entry[:60]!r} is not an IP address "
                                f"or CIDR network") from exc
    return tuple(out)


def client_address(scope, trusted: tuple[Network, ...]) -> str:
    """The address a request is throttled under (see the module doc)."""
    peer = str((scope.get("client") or ("unknown", 0))[0])
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    chain = _forwarded_chain(scope.get("headers", ()))
    for hop in reversed(chain):
        if not _is_trusted(hop, trusted):
            return hop[:_MAX_ADDRESS]
    return (chain[0] if chain else peer)[:_MAX_ADDRESS]


def _is_trusted(address: str, trusted: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _forwarded_chain(headers) -> list[str]:
    """Addresses of the ``Forwarded`` header (RFC 7239) when present, else of
    ``X-Forwarded-For``, in order (client first); every instance of the header counts."""
    forwarded, xff = [], []
    for name, value in headers:
        if name == b"forwarded":
            forwarded += [_host(m.group(1)) for part in value.decode("latin-1").split(",")
                          for m in [_FOR.search(part.strip())] if m]
        elif name == b"x-forwarded-for":
            xff += [_host(v) for v in value.decode("latin-1").split(",") if v.strip()]
    return forwarded or xff


def _host(value: str) -> str:
    """``1.2.3.4``, ``1.2.3.4:80``, ``"[2001:db8::1]:4711"`` or ``2001:db8::1`` -> address."""
    value = value.strip().strip('"')
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        return value.split(":")[0]
    return value
