"""Who may use the admin API, and what the audit trail learns of each request.

Every admin endpoint needs `Authorization: Bearer <FLASHSALE_ADMIN_TOKEN>`, and
is not found (404) when no token is set. Every admin action is audited: the
allocator appends the request's context with the change it makes (or the
refusal it decides); a refusal the worker decides itself (a wrong token on any
admin path, a body or header it refuses, a path that names no sale) is sent to
the allocator as a record of its own, and the answer waits for it (a bounded
while: a refusal stands even if the trail cannot take it, which is logged).
Refusals of a request without a token, and the guesser's lock-out, are not
recorded: they are unbounded, and change nothing (BearerAuth logs them).

The context never holds a token: which kind was presented (`admin`) and the
first 8 hex digits of its SHA-256, or `none`; a token found in the body is
replaced by `[redacted]`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import falcon

from flashsale.admin_commands import (
    AUDIT_BODY_MAX_BYTES,
    REFUSED,
    REPLACE,
    AdminAnswer,
    AdminRequest,
    AuditContext,
    Command,
    CreateSale,
    RecordRefusal,
)
from flashsale.allocator.client import Decision
from flashsale.api.bearer import BearerAuth
from flashsale.api.client_address import ClientAddress
from flashsale.api.error_handlers import problem_of_invalid
from flashsale.api.problems import INVALID_TOKEN, NOT_FOUND, UNAVAILABLE, HTTPProblem
from flashsale.errors import InvalidInput
from flashsale.metrics import MetricsRecorder
from flashsale.outcomes import Outcome

log = logging.getLogger("flashsale.admin")

# How long a worker's refusal waits for the trail to take it.
RECORD_TIMEOUT_S = 2.0
REDACTED = "[redacted]"


class AdminGateway(Protocol):
    """The allocator as the admin API sees it (flashsale.allocator.client)."""

    async def admin(self, request: AdminRequest) -> Decision: ...


@dataclass
class Attempt:
    """What an admin request has been read as so far (its body once read, its sale id
    once known), for the record of a refusal."""

    attempted: str | None = None
    body: bytes = b""
    sale_id: int | None = None


class AdminAccess:
    def __init__(
        self,
        auth: BearerAuth | None,
        gateway: AdminGateway,
        addresses: ClientAddress,
        recorder: MetricsRecorder,
    ) -> None:
        self.auth = auth
        self.gateway = gateway
        self.addresses = addresses
        self.recorder = recorder

    async def authorize(self, req: falcon.Request, attempt: Attempt) -> None:
        """Return if the request carries the admin token; raise its HTTP error otherwise
        (a wrong token recorded in the trail first)."""
        if self.auth is None:
            raise HTTPProblem(NOT_FOUND, "the admin API is off (no FLASHSALE_ADMIN_TOKEN)")
        try:
            await self.auth.authorize(req)
        except HTTPProblem as refused:
            if refused.problem is INVALID_TOKEN:
                await self.record(req, attempt, refused.problem.status, refused.problem.slug)
            raise

    @asynccontextmanager
    async def refusals_recorded(
        self, req: falcon.Request, attempt: Attempt
    ) -> AsyncIterator[Attempt]:
        """Within it, an HTTP error or bad input is recorded as a refusal, then raised."""
        try:
            yield attempt
        except HTTPProblem as refused:
            await self.record(req, attempt, refused.problem.status, refused.problem.slug)
            raise
        except InvalidInput as invalid:
            problem = problem_of_invalid(invalid)
            await self.record(req, attempt, problem.status, problem.slug)
            raise

    async def command(self, req: falcon.Request, attempt: Attempt, command: Command) -> AdminAnswer:
        """Send `command` with this request's context; its answer, or raise 503."""
        decision = await self.gateway.admin(AdminRequest(command, self.context(req, attempt)))
        action = _counted_action(command, attempt)
        if decision.outcome is not Outcome.CONFIRMED or not decision.body:
            self.recorder.record_admin(action, UNAVAILABLE.slug)
            raise _no_answer(decision)
        answer = AdminAnswer.decode(decision.body)
        self.recorder.record_admin(action, answer.problem or "ok")
        return answer

    async def record(self, req: falcon.Request, attempt: Attempt, status: int, slug: str) -> None:
        self.recorder.record_admin(attempt.attempted or REFUSED, slug)
        refusal = RecordRefusal(status, slug, attempt.sale_id, attempt.attempted)
        request = AdminRequest(refusal, self.context(req, attempt))
        try:
            decision = await asyncio.wait_for(self.gateway.admin(request), RECORD_TIMEOUT_S)
        except TimeoutError:
            decision = Decision(Outcome.UNAVAILABLE)
        if decision.outcome is not Outcome.CONFIRMED:
            log.warning(
                "admin: a refused %s %s (%s) could not be recorded in the audit trail",
                req.method,
                req.path,
                status,
            )

    def context(self, req: falcon.Request, attempt: Attempt) -> AuditContext:
        presented = _presented_token(req)
        body = attempt.body[:AUDIT_BODY_MAX_BYTES].decode("utf-8", errors="replace")
        for secret in {presented, self.auth.token if self.auth else None}:
            if secret:
                body = body.replace(secret, REDACTED)
        return AuditContext(
            method=req.method,
            path=req.path,
            body=body,
            body_truncated=len(attempt.body) > AUDIT_BODY_MAX_BYTES,
            address=self.addresses.of(req),
            token="none" if presented is None else f"admin:{_fingerprint(presented)}",
            if_match=req.get_header("If-Match"),
            idempotency_key=req.get_header("Idempotency-Key"),
        )


def _counted_action(command: Command, attempt: Attempt) -> str:
    """The metrics' kind of a command: a creation that names the sale it replaces is
    `replace` (flashsale.shm.slots.ADMIN_ACTIONS)."""
    if isinstance(command, CreateSale) and (command.replaces or command.if_match):
        return REPLACE
    return attempt.attempted or REFUSED


def _presented_token(req: falcon.Request) -> str | None:
    scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def _no_answer(decision: Decision) -> HTTPProblem:
    """The allocator did not answer in time: busy, or restarting."""
    if decision.outcome is Outcome.PENDING:
        detail = (
            "the allocator did not answer in time and the command may have been carried out: "
            "read the sale before trying again"
        )
    else:
        detail = "the allocator is busy or restarting; nothing was changed"
    return HTTPProblem(UNAVAILABLE, detail, headers={"Retry-After": "1"})
