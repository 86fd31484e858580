"""Which addresses a fetch may reach, and what robots.txt and X-Robots-Tag allow.

Web URLs come from search results and hand-made lists; a URL (or a redirect, or a DNS answer)
that points at a private, loopback or link-local address could make the collector read cloud
metadata or internal services. Every hop is resolved and vetted, and the connection is made to
the vetted address itself, so a second DNS answer cannot swap it (DNS rebinding).
"""

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(networks: Iterable[str]) -> tuple[Network, ...]:
    """``["127.0.0.1", "10.0.0.0/8"]`` -> networks; a clear error names a bad entry."""
    out = []
    for text in networks:
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"allowed network {text!r} is not an IP address or CIDR range"
            ) from exc
    return tuple(out)


def is_public(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses (not private, loopback, link-local, ...)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def address_allowed(ip: IPAddress, allow: tuple[Network, ...]) -> bool:
    """Public addresses, plus whatever the operator explicitly allowed."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return is_public(ip) or any(ip in net for net in allow if ip.version == net.version)


def noai_directive(header_values: Iterable[str], agent: str) -> bool:
    """True if an X-Robots-Tag header forbids AI use (``noai`` / ``noimageai``) for ``agent``.

    A directive may be scoped to one crawler (``otherbot: noai``); only unscoped ones and
    those naming ``agent`` apply.
    """
    agent = agent.casefold()
    for value in header_values:
        scope, _, rest = value.partition(":")
        directives = value
        if rest and "," not in scope and " " not in scope.strip():
            if scope.strip().casefold() != agent:
                continue
            directives = rest
        tokens = {t.strip().casefold() for t in directives.split(",")}
        if tokens & {"noai", "noimageai"}:
            return True
    return False
