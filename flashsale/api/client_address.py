"""Who is asking: the peer's address, or the client behind a trusted proxy.

X-Forwarded-For is believed only when the peer is in FLASHSALE_FORWARDED_ALLOW_IPS
(which is also gunicorn's forwarded_allow_ips); the client is then the rightmost
address in it that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress

import falcon


class ClientAddress:
    def __init__(self, trusted: tuple[str, ...]) -> None:
        self.trust_all = "*" in trusted
        self.networks = [ipaddress.ip_network(t, strict=False) for t in trusted if t != "*"]

    def is_trusted(self, address: str) -> bool:
        if self.trust_all:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def of(self, req: falcon.Request) -> str:
        return self.client_of(req.remote_addr or "", req.get_header("X-Forwarded-For"))

    def client_of(self, peer: str, forwarded: str | None) -> str:
        """The client of a request from `peer` with this X-Forwarded-For (None: none);
        also for an ASGI scope's client and headers, where there is no falcon.Request."""
        if not forwarded or not self.is_trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                return hop
        return hops[0] if hops else peer
