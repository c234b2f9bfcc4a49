"""Forwarded headers, believed only from the configured ``server.trusted_proxies``.

The client address (``scope["client"]``) is the socket's peer unless that peer is a trusted
proxy; then it is the nearest address in ``X-Forwarded-For`` that is not itself a trusted
proxy, and ``X-Forwarded-Proto`` gives the scheme. From anyone else these headers are ignored,
so no client can choose the address that rate limits, lockouts or the admin check see. The
socket's peer stays in ``scope["openleash.peer"]``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PEER = "openleash.peer"
#: Headers a proxy adds; a request that carries one did not come straight from its peer.
FORWARDING_HEADERS = frozenset(
    {b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"x-real-ip"}
)


def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def is_within(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in trusted)


def forwarded_client(values: list[str], trusted: tuple[Network, ...]) -> str | None:
    """The nearest address of an ``X-Forwarded-For`` chain not in ``trusted`` (each proxy
    appends its peer, so only the right-hand end is vouched for)."""
    found: str | None = None
    for entry in reversed([part.strip() for value in values for part in value.split(",")]):
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            break
        found = entry
        if not is_within(entry, trusted):
            break
    return found


class ForwardedHeaders:
    """ASGI middleware applying the rules above."""

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...]) -> None:
        self.app = app
        self.trusted = networks(trusted)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and PEER not in scope:
            client = scope.get("client")
            scope[PEER] = client
            if self.trusted and client and is_within(client[0], self.trusted):
                self._apply(scope)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope) -> None:
        chain: list[str] = []
        proto: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                chain.append(value.decode("latin-1"))
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
        client = forwarded_client(chain, self.trusted)
        if client is not None:
            scope["client"] = (client, 0)
        if proto in ("http", "https"):
            scope["scheme"] = proto
