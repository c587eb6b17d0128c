"""Per-address bounds: how many connections, and how many event streams, one client
address may hold in this worker.

Without them one client could take every connection a worker holds, or every
event-stream slot (16,384 streams from one address were seen, 240 MiB of one
worker). Each worker counts its own, on its event loop, with no lock: an
address holds at most `workers` times a bound across the server. A bound shared
by the workers would be tighter by that factor, but it would cost a locked write
to shared memory on every connection's open and close, and counts that a
killed worker leaves behind; and the kernel does not spread one address's
connections evenly over the workers, so a server-wide bound split into equal
shares per worker would refuse a shop behind NAT while other workers had room.

The address counted is the client's: an IPv6 address by its /64 (one
subscriber's network: a client holds a /64 and could otherwise be 2^64
clients), an IPv4-mapped IPv6 address as its IPv4 one. A connection from a
trusted proxy is not counted (it carries many clients); its event streams
count against the address it forwards (flashsale.api.client_address).

A refusal is logged at once, then at most once a REFUSAL_LOG_INTERVAL_S per
kind, as a count: a flood of refusals is never a flood of lines.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("flashsale.bounds")

REFUSAL_LOG_INTERVAL_S = 10.0
IPV6_SUBSCRIBER_PREFIX = 64


def address_key(host: str) -> str | None:
    """The address a bound counts for `host` (an IP address); None when it is not one."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        network = ipaddress.IPv6Network((ip, IPV6_SUBSCRIBER_PREFIX), strict=False)
        return str(network)
    return str(ip)


class AddressCounts:
    """What each address holds now, each at most `bound` (0: no bound). An address
    that holds nothing takes no room: a flood of distinct addresses leaves nothing."""

    __slots__ = ("_held", "bound")

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._held: dict[str, int] = {}

    def take(self, key: str) -> bool:
        """Count one more for `key`; False (nothing counted) when it holds its bound."""
        held = self._held.get(key, 0)
        if self.bound and held >= self.bound:
            return False
        self._held[key] = held + 1
        return True

    def give_back(self, key: str) -> None:
        held = self._held.pop(key) - 1
        if held:
            self._held[key] = held

    def held(self, key: str) -> int:
        return self._held.get(key, 0)

    def __len__(self) -> int:
        """How many addresses hold something."""
        return len(self._held)


class RefusalLog:
    """Refusals of one kind, logged as a count: the first at once, then at most one
    line an interval, naming the last address refused (always a parsed address,
    never text a client chose)."""

    def __init__(
        self,
        what: str,
        bound: int,
        *,
        interval_s: float = REFUSAL_LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.bound = bound
        self.interval_s = interval_s
        self._clock = clock
        self._logged_at = -interval_s  # the first refusal is logged at once
        self._unlogged = 0
        self._last_address = ""
        self._flush: asyncio.TimerHandle | None = None

    def note(self, address: str) -> None:
        self._unlogged += 1
        self._last_address = address
        wait_s = self._logged_at + self.interval_s - self._clock()
        if wait_s <= 0:
            self.write()
        elif self._flush is None:
            # Those refused meanwhile are logged when the interval ends, even if
            # no refusal follows to log them.
            self._flush = asyncio.get_running_loop().call_later(wait_s, self.write)

    def write(self) -> None:
        self._flush = None
        if not self._unlogged:
            return
        log.warning(
            "refused %d %s beyond the bound per address (%d in this worker), the last from %s",
            self._unlogged,
            self.what,
            self.bound,
            self._last_address,
        )
        self._unlogged = 0
        self._logged_at = self._clock()


@dataclass(frozen=True)
class ConnectionsByAddress:
    """The open connections of each client address in this worker."""

    counts: AddressCounts
    is_trusted_proxy: Callable[[str], bool]
    refusals: RefusalLog

    @classmethod
    def create(cls, bound: int, is_trusted_proxy: Callable[[str], bool]) -> ConnectionsByAddress:
        return cls(AddressCounts(bound), is_trusted_proxy, RefusalLog("connections", bound))

    def admit(self, peername: object) -> str | None:
        """Count a new connection from `peername` (the transport's); the key it is
        counted under ("" when it is not counted: a trusted proxy, a Unix socket,
        no bound), or None when its address holds its bound already."""
        if not self.counts.bound or not isinstance(peername, tuple):
            return ""
        host = str(peername[0])
        key = address_key(host)
        if key is None or self.is_trusted_proxy(host):
            return ""
        if self.counts.take(key):
            return key
        self.refusals.note(key)
        return None

    def release(self, key: str) -> None:
        if key:
            self.counts.give_back(key)
