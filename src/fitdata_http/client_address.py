"""The client's address, believing ``X-Forwarded-For`` only from trusted proxies.

Any client can write ``X-Forwarded-For``, so it is read only when the connection's peer is a
proxy named in ``FITDATA_TRUSTED_PROXIES`` (addresses or CIDR networks; none by default).
Then the header is walked from the right (the hop the trusted proxy appended) past every
trusted proxy; the first address that is not one is the client. Whatever a client puts on
the left of the header is never reached while a trusted proxy appended the real peer.

``fitdata serve`` turns uvicorn's own proxy-header handling off, so the peer seen here is the
socket's (uvicorn would otherwise trust loopback by default and rewrite it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection

from fitdata_adapters.settings import IPNetwork
from fitdata_http.context import runtime_of

__all__ = ["FORWARDED_FOR_HEADER", "UNKNOWN_CLIENT", "client_address", "forwarded_client"]

FORWARDED_FOR_HEADER = "x-forwarded-for"
UNKNOWN_CLIENT = "unknown"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in proxies)


def forwarded_client(peer: str, forwarded_for: Sequence[str], proxies: Sequence[IPNetwork]) -> str:
    """The client's address given the socket ``peer`` and the ``X-Forwarded-For`` values.

    A hop that is not an IP address stops the walk: the address before it (the proxy that
    received it) is used, so garbage never becomes a rate-limit key of the client's choosing.
    """
    current = _address(peer)
    if current is None or not _trusted(current, proxies):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(current, proxies):
            break
    return str(current)


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address for this request (see the module docstring)."""
    client = connection.client
    peer = client.host if client is not None and client.host else UNKNOWN_CLIENT
    proxies = runtime_of(connection).settings.trusted_proxies
    if not proxies:
        return peer
    return forwarded_client(peer, connection.headers.getall(FORWARDED_FOR_HEADER, []), proxies)
