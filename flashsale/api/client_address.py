"""Who is asking: the peer's address, or the client behind a trusted proxy.

X-Forwarded-For is believed only when the peer is in FLASHSALE_FORWARDED_ALLOW_IPS
(which is also gunicorn's forwarded_allow_ips). Its hops are read from the right,
the one the peer itself added first: the client is the first hop that is not a
trusted proxy. Every hop read must be a plain IP address: a hop that is not
(a name, a port, a zone, markup, a forged log line) was not written by a proxy
we trust, so nothing to its left is believed either, and the client is the
last trusted address read (the peer, when it is the first hop). So whatever
the header holds, the client's address is a parsed IP address or the peer's,
and the text of the header never reaches a log or a key.

Failures are counted per client (`counted_as`): an IPv6 client by its /64,
the block one host is usually given, so that rotating the host's own 64 bits
buys no more attempts.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

import falcon

IPV6_CLIENT_PREFIX = 64


def parse_ip(text: str) -> IPv4Address | IPv6Address | None:
    """`text` as an IP address, or None. An IPv4 address mapped into IPv6 is the
    IPv4 address; one with a zone (`fe80::1%eth0`) is not an address here: the
    zone is any text, and it means nothing beyond the proxy's own link."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, IPv6Address):
        if ip.scope_id is not None:
            return None
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
    return ip


def counted_as(address: str) -> str:
    """The key a client's attempts are counted under: an IPv4 address itself, an
    IPv6 address its /64; anything else (a peer with no IP address) as it is."""
    ip = parse_ip(address)
    if ip is None:
        return address
    if isinstance(ip, IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


class ClientAddress:
    def __init__(self, trusted: tuple[str, ...]) -> None:
        self.trust_all = "*" in trusted
        self.networks = [ipaddress.ip_network(t, strict=False) for t in trusted if t != "*"]

    def is_trusted(self, address: str) -> bool:
        ip = parse_ip(address)
        return ip is not None and self._trusts(ip)

    def _trusts(self, ip: IPv4Address | IPv6Address) -> bool:
        return self.trust_all or any(ip in network for network in self.networks)

    def of(self, req: falcon.Request) -> str:
        return self.client_of(req.remote_addr or "", req.get_header("X-Forwarded-For"))

    def client_of(self, peer: str, forwarded: str | None) -> str:
        """The client of a request from `peer` with this X-Forwarded-For (None: none);
        also for an ASGI scope's client and headers, where there is no falcon.Request."""
        if not forwarded or not self.is_trusted(peer):
            return peer
        return self._named_by(peer, forwarded)

    def _named_by(self, peer: str, forwarded: str) -> str:
        """The client named by a trusted peer's X-Forwarded-For (see the module's docstring)."""
        last_trusted = peer
        for hop in reversed(forwarded.split(",")):
            ip = parse_ip(hop.strip())
            if ip is None:
                return last_trusted
            if not self._trusts(ip):
                return str(ip)
            last_trusted = str(ip)
        return last_trusted  # every hop a trusted proxy: the first of them
