"""The admin API's bearer token, and a slow-down for whoever keeps guessing it.

The comparison is constant-time. An address that sent ADMIN_FAILURE_LIMIT
wrong tokens within ADMIN_FAILURE_WINDOW_S gets 429 with Retry-After until the
window closes, whatever it sends meanwhile (a right token too: it cannot tell
a lucky guess from the owner). Counted in the shared rate table, so across
workers. Each wrong token is logged in one line; a lock-out once.
"""

from __future__ import annotations

import hmac
import logging
import time

import falcon

from flashsale.api.client_address import ClientAddress
from flashsale.ratelimit import RateLimiter

log = logging.getLogger("flashsale.admin")

ADMIN_FAILURE_LIMIT = 10
ADMIN_FAILURE_WINDOW_S = 60


class AdminAuth:
    def __init__(self, token: str | None, limiter: RateLimiter, addresses: ClientAddress) -> None:
        self.token = token
        self.limiter = limiter
        self.addresses = addresses

    async def authorize(self, req: falcon.Request) -> None:
        """Return if the request carries the token; raise the HTTP error otherwise."""
        if self.token is None:
            raise falcon.HTTPNotFound(
                title="Not found", description="the admin API is off (no FLASHSALE_ADMIN_TOKEN)"
            )
        address, now_s = self.addresses.of(req), int(time.time())
        key = f"admin-failures:{address}"
        failures, reset_s = await self.limiter.count(
            key, window_s=ADMIN_FAILURE_WINDOW_S, now_s=now_s
        )
        if failures >= ADMIN_FAILURE_LIMIT:
            raise _too_many(reset_s)
        header = req.get_header("Authorization")
        if not header:
            raise falcon.HTTPUnauthorized(
                title="Authorization required",
                description="send Authorization: Bearer <FLASHSALE_ADMIN_TOKEN>",
                challenges=["Bearer"],
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.token.encode()
        ):
            return
        counted = await self.limiter.hit(
            key, limit=ADMIN_FAILURE_LIMIT, window_s=ADMIN_FAILURE_WINDOW_S, now_s=now_s
        )
        failures = counted.limit - counted.remaining
        log.warning(
            "admin: wrong token from %s (%d of %d in %d s)",
            address, failures, ADMIN_FAILURE_LIMIT, ADMIN_FAILURE_WINDOW_S,
        )  # fmt: skip
        if failures >= ADMIN_FAILURE_LIMIT:
            log.warning("admin: %s refused for %d s after %d wrong tokens",
                        address, counted.reset_s, failures)  # fmt: skip
        raise falcon.HTTPForbidden(title="Forbidden", description="wrong admin token")


def _too_many(reset_s: int) -> falcon.HTTPTooManyRequests:
    return falcon.HTTPTooManyRequests(
        title="Too many wrong tokens",
        description=f"{ADMIN_FAILURE_LIMIT} wrong admin tokens from this address within "
        f"{ADMIN_FAILURE_WINDOW_S} s; try again in {reset_s} s",
        retry_after=reset_s,
    )
