"""What stands before the allocator: rate limits, the circuit breaker, the queue's bound."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

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

    async def rate(self, req: falcon.Request, user_id: str) -> RateDecision:
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
            if not by_address.allowed:
                return by_address
        return decision

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


def rate_headers(resp: falcon.Response, decision: RateDecision) -> None:
    resp.set_header("RateLimit-Limit", str(decision.limit))
    resp.set_header("RateLimit-Remaining", str(decision.remaining))
    resp.set_header("RateLimit-Reset", str(decision.reset_s))
