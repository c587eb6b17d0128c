"""What stands before the allocator: rate limits, the circuit breaker, the queue's bound.

Each purchase attempt that is counted says so in the RateLimit header fields of
draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy` names the windows
(`"purchase"` per shopper, and `"address"` per client address when that limit is
set) with their quota `q` and window `w` in seconds; `RateLimit` the attempts
left in each (`r`) and the seconds until it resets (`t`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import falcon

from flashsale.api.client_address import ClientAddress, counted_as
from flashsale.breaker import Admission, CircuitBreaker
from flashsale.config import Settings
from flashsale.ratelimit import RateDecision, RateLimiter
from flashsale.shm.store_board import StoreBoard


@dataclass(frozen=True)
class PurchaseGuard:
    settings: Settings
    limiter: RateLimiter
    breaker: CircuitBreaker
    queue_depth: Callable[[], int]
    addresses: ClientAddress
    store: StoreBoard

    async def rate(self, req: falcon.Request, user_id: str) -> RateCount:
        """Count the attempt against the user (and the client address, if limited)."""
        settings, now_s = self.settings, int(time.time())
        decision = await self.limiter.hit(
            f"user:{user_id}",
            limit=settings.rate_limit,
            window_s=settings.rate_window_s,
            now_s=now_s,
        )
        if decision.allowed and settings.ip_rate_limit:
            by_address = await self.limiter.hit(
                f"ip:{counted_as(self.addresses.of(req))}",
                limit=settings.ip_rate_limit,
                window_s=settings.rate_window_s,
                now_s=now_s,
            )
            return RateCount(decision, by_address)
        return RateCount(decision)

    @cached_property
    def rate_policy(self) -> str:
        """The RateLimit-Policy header: the same on every answer."""
        settings = self.settings
        policy = f'"{USER_POLICY}";q={settings.rate_limit};w={settings.rate_window_s}'
        if settings.ip_rate_limit:
            policy += f', "{ADDRESS_POLICY}";q={settings.ip_rate_limit};w={settings.rate_window_s}'
        return policy

    def admit(self) -> tuple[Admission, int]:
        """May this purchase go to the allocator? With the Retry-After if not."""
        admission = self.breaker.admit()
        if admission is Admission.REJECT:
            return admission, self.breaker.retry_after_s()
        full = self.queue_depth() >= self.settings.queue_capacity
        self.breaker.note_queue(full)
        if full:
            return Admission.REJECT, 1
        return admission, 0


USER_POLICY = "purchase"
ADDRESS_POLICY = "address"


@dataclass(frozen=True, slots=True)
class RateCount:
    """The windows one attempt was counted in: the user's, then (if limited, and the
    user's allowed it) the client address's."""

    user: RateDecision
    address: RateDecision | None = None

    @property
    def allowed(self) -> bool:
        return self.user.allowed and (self.address is None or self.address.allowed)

    @property
    def reset_s(self) -> int:
        """When to try again: when the window that refused resets (the user's if none did)."""
        address = self.address
        if address is not None and not address.allowed:
            return address.reset_s
        return self.user.reset_s

    def header(self) -> str:
        """The RateLimit header: each window's attempts left and seconds to its reset."""
        user, address = self.user, self.address
        counted = f'"{USER_POLICY}";r={user.remaining};t={user.reset_s}'
        if address is not None:
            counted += f', "{ADDRESS_POLICY}";r={address.remaining};t={address.reset_s}'
        return counted


def rate_headers(resp: falcon.Response, policy: str, count: RateCount) -> None:
    resp.set_header("RateLimit-Policy", policy)
    resp.set_header("RateLimit", count.header())
