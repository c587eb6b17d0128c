"""A bearer token (the admin's, the operator's), and a slow-down for whoever keeps
guessing it.

Refusals follow RFC 6750: no token is 401 with `WWW-Authenticate: Bearer
realm="flashsale"`, a wrong one 401 with `error="invalid_token"` added.

The comparison is constant-time. An address that sent FAILURE_LIMIT wrong
tokens within FAILURE_WINDOW_S gets 429 with Retry-After until the window
closes, whatever token it sends meanwhile (the right one too: it cannot
tell a lucky guess from the owner); asking without a token is never slowed.
Counted across workers, per token, by client address (an IPv6 client by its
/64), in a shared table of their own: purchases never count there, so no flood
of userIds evicts a guesser's count, and a guesser at its limit is the last
window that table gives up (flashsale.ratelimit). Each wrong token is logged in
one line; a lock-out once.
"""

from __future__ import annotations

import hmac
import logging
import time

import falcon

from flashsale.api.client_address import ClientAddress, counted_as
from flashsale.api.problems import (
    INVALID_TOKEN,
    TOKEN_REQUIRED,
    TOO_MANY_WRONG_TOKENS,
    HTTPProblem,
)
from flashsale.ratelimit import RateLimiter

log = logging.getLogger("flashsale.auth")

FAILURE_LIMIT = 10
FAILURE_WINDOW_S = 60
REALM = "flashsale"
CHALLENGE = f'Bearer realm="{REALM}"'
INVALID_TOKEN_CHALLENGE = f'{CHALLENGE}, error="invalid_token"'


class BearerAuth:
    def __init__(
        self,
        token: str,
        *,
        name: str,
        variable: str,
        limiter: RateLimiter,
        addresses: ClientAddress,
    ) -> None:
        self.token = token
        self.name = name  # "admin", "operator": in answers, logs and the failure count's key
        self.variable = variable  # the setting that holds the token
        self.limiter = limiter
        self.addresses = addresses

    async def authorize(self, req: falcon.Request) -> None:
        """Return if the request carries the token; raise the HTTP error otherwise."""
        if not await self.presented(req):
            raise HTTPProblem(
                TOKEN_REQUIRED,
                f"send Authorization: Bearer <{self.variable}>",
                headers={"WWW-Authenticate": CHALLENGE},
            )

    async def presented(self, req: falcon.Request) -> bool:
        """True with the right token, False with none; a wrong one raises 401 (or 429).

        Asking without a token is never slowed down: a load balancer's health
        check behind the same address as a guesser still gets its answer."""
        header = req.get_header("Authorization")
        if not header:
            return False
        address, now_s = self.addresses.of(req), int(time.time())
        key = f"{self.name}-failures:{counted_as(address)}"
        failures, reset_s = await self.limiter.count(key, window_s=FAILURE_WINDOW_S, now_s=now_s)
        if failures >= FAILURE_LIMIT:
            raise self._too_many(reset_s)
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.token.encode()
        ):
            return True
        counted = await self.limiter.hit(
            key, limit=FAILURE_LIMIT, window_s=FAILURE_WINDOW_S, now_s=now_s
        )
        failures = counted.limit - counted.remaining
        log.warning(
            "%s: wrong token from %s (%d of %d in %d s)",
            self.name,
            address,
            failures,
            FAILURE_LIMIT,
            FAILURE_WINDOW_S,
        )
        if failures >= FAILURE_LIMIT:
            log.warning(
                "%s: %s refused for %d s after %d wrong tokens",
                self.name,
                address,
                counted.reset_s,
                failures,
            )
        raise HTTPProblem(
            INVALID_TOKEN,
            f"wrong {self.name} token",
            headers={"WWW-Authenticate": INVALID_TOKEN_CHALLENGE},
        )

    def _too_many(self, reset_s: int) -> HTTPProblem:
        return HTTPProblem(
            TOO_MANY_WRONG_TOKENS,
            f"{FAILURE_LIMIT} wrong {self.name} tokens from this address within "
            f"{FAILURE_WINDOW_S} s; try again in {reset_s} s",
            headers={"Retry-After": str(reset_s)},
        )
