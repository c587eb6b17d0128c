"""One simulated shopper in a client process: its connection, its page, its plan.

A shopper holds a connection of its own, as a browser tab does. Its page opens
it (GET status) before the release when the shopper is there from the start:
a shopper whose page is open has its connection already, so the release sends
purchases, not connection set-ups. Every later purchase and poll reuses the
connection, or opens a new one when the server closed it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from stress.api import (
    FINAL_PURCHASE_STATUSES,
    OUTCOME_PAUSED,
    PURCHASE_PATH,
    STATUS_PATH,
    bearer,
    iso_to_ns,
    str_or_none,
)
from stress.client.wire import (
    WIRE_ERRORS,
    Answer,
    ConnectionLost,
    HttpConnection,
    connect,
    json_post,
)
from stress.client.wire import request_bytes as build_request
from stress.records import OUTCOME_RESENT, Record
from stress.scenarios.plans import MAX_RETRY_WAIT_S, UserPlan

POLL_JITTER = 0.25
OnRecord = Callable[[Record], None]


@dataclass(frozen=True, slots=True)
class ShopperSettings:
    host: str
    port: int
    timeout_s: float  # per request, connecting included
    poll_interval_s: float  # prestart: status polling period


class Shopper:
    """One shopper on one host; a shopper buying on two hosts at once is two of them."""

    def __init__(
        self, plan: UserPlan, settings: ShopperSettings, on_record: OnRecord, host: int = 0
    ) -> None:
        self.plan = plan
        self.host = host  # the host's index among the run's URLs, written in each record
        self._settings = settings
        self._on_record = on_record
        # Every purchase request built now, before the clock: attempt n sends the
        # (n-1)th of them, round the list (one, but for a bot claiming others).
        self._purchases = purchase_requests(plan, settings.host)
        self._connection: HttpConnection | None = None
        # The first purchase when fire() sent it: send time, monotonic start, answer.
        self._fired: tuple[int, int, asyncio.Future[Answer]] | None = None

    async def open_page(self) -> None:
        """The page load before the release: the status, on the shopper's connection."""
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                await self._exchange(build_request("GET", STATUS_PATH, self._settings.host))
        except WIRE_ERRORS:
            self.close()  # the purchase opens a fresh connection and records any error

    def fire(self) -> None:
        """Press Buy now, at the release, on the page's open connection; run() then
        awaits that answer. No await here, so a whole process's shoppers go out
        back to back; a shopper without an open connection buys in run()."""
        connection = self._connection
        if connection is None or not connection.is_open or self.plan.wait_for_start:
            return
        send_ns, started = time.time_ns(), time.perf_counter_ns()
        self._fired = (send_ns, started, connection.start(self._purchases[0][0]))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def run(self, hard_stop_ns: int) -> None:
        """Follow the plan from its arrival: wait for the start if asked, then buy."""
        plan = self.plan
        try:
            if plan.wait_for_start:
                await self._wait_for_opening(hard_stop_ns)
            attempt, budget = 0, plan.attempts
            while attempt < budget:
                if time.time_ns() >= hard_stop_ns:
                    return
                attempt += 1
                record = await self._buy(attempt)
                if record.status == OUTCOME_PAUSED and plan.honour_retry_after:
                    # The operator paused the sale: nothing was decided, and a browser
                    # keeps coming back after Retry-After for as long as the pause lasts
                    # (bounded by the run's hard stop), without giving up its retries.
                    budget += 1
                pause = pause_after(record, plan)
                if pause is None:
                    return
                if pause > 0:
                    await asyncio.sleep(pause)
        finally:
            self.close()

    async def _buy(self, attempt: int) -> Record:
        sent_before = self._connection.requests_sent if self._connection is not None else 0
        reused = sent_before > (1 if self._fired else 0)
        request, claimed_as = self._purchases[(attempt - 1) % len(self._purchases)]
        record, _, stale = await self._timed(request, "purchase", attempt)
        if reused and stale:
            # Sent into a connection the server had just closed: a browser resends.
            record.status = OUTCOME_RESENT
            self._on_record(self._asked(record, claimed_as))
            record, _, _ = await self._timed(request, "purchase", attempt)
        self._on_record(self._asked(record, claimed_as))
        return record

    def _asked(self, record: Record, claimed_as: str) -> Record:
        """The record with what its body asked (another shopper's id, a sku) and its host."""
        record.claimed_as = claimed_as
        record.asked_sku = self.plan.sku or ""
        record.host = self.host
        return record

    async def _timed(
        self, request: bytes, kind: str, attempt: int
    ) -> tuple[Record, Answer | None, bool]:
        """One request, its record and answer; whether it died on a stale connection."""
        user = self.plan.user
        fired, self._fired = self._fired, None
        answering: Awaitable[Answer]  # one fired ahead (a future), or this request's exchange
        if fired is not None and kind == "purchase":
            send_ns, started, answering = fired
        else:
            send_ns, started = time.time_ns(), time.perf_counter_ns()
            answering = self._exchange(request)
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                answer = await answering
        except WIRE_ERRORS as exc:
            written_ns = self._written_ns(send_ns)
            self.close()
            stale = isinstance(exc, ConnectionLost) and not exc.got_bytes
            latency = time.perf_counter_ns() - started
            record = Record(
                user,
                kind,
                attempt,
                send_ns,
                latency,
                0,
                "",
                error=_describe(exc),
                written_ns=written_ns,
            )
            return record, None, stale
        latency = time.perf_counter_ns() - started
        record = _record(user, kind, attempt, send_ns, latency, answer, self._written_ns(send_ns))
        return record, answer, False

    def _written_ns(self, send_ns: int) -> int:
        """When this request was handed to the kernel; 0 if it never was."""
        connection = self._connection
        written_ns = connection.written_ns if connection is not None else 0
        return written_ns if written_ns >= send_ns else 0

    async def _exchange(self, request: bytes) -> Answer:
        if self._connection is None or not self._connection.is_open:
            self._connection = await connect(self._settings.host, self._settings.port)
        return await self._connection.exchange(request)

    async def _wait_for_opening(self, hard_stop_ns: int) -> None:
        """Poll the status like the countdown page does; return at the sale's start.

        Like the browser, the poll is conditional (If-None-Match): an unchanged sale
        answers 304 and the countdown runs on the local clock corrected by the skew
        measured on the last full answer."""
        settings = self._settings
        etag: str | None = None
        local_start_ns: int | None = None
        while time.time_ns() < hard_stop_ns:
            headers = {"If-None-Match": etag} if etag else None
            request = build_request("GET", STATUS_PATH, settings.host, headers=headers)
            record, answer, _ = await self._timed(request, "status", 0)
            record.host = self.host
            self._on_record(record)
            if answer is None:
                await asyncio.sleep(settings.poll_interval_s)
                continue
            if answer.status == 200:
                etag = answer.headers.get("etag")
                payload = answer.json()
                if payload.get("state") != "upcoming":
                    return
                starts_ns = iso_to_ns(payload.get("startsAt"))
                if starts_ns is None:
                    return
                server_ns = iso_to_ns(payload.get("serverTime"))
                # Same clock correction a countdown page makes: server time ~ mid-request.
                mid_ns = record.send_ns + record.latency_ns // 2
                local_start_ns = starts_ns - (0 if server_ns is None else server_ns - mid_ns)
            elif answer.status != 304 or local_start_ns is None:
                etag = None
                await asyncio.sleep(settings.poll_interval_s)
                continue
            wait_s = (local_start_ns - time.time_ns()) / 1e9
            if wait_s <= settings.poll_interval_s:
                await sleep_until_ns(local_start_ns)
                return
            await asyncio.sleep(
                settings.poll_interval_s * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)
            )


def purchase_requests(plan: UserPlan, host: str) -> list[tuple[bytes, str]]:
    """The shopper's purchase requests, each with the other shopper's id it claims
    ("" for its own). Open mode: the body names the buyer. jwt mode: the token
    does; the body is `{}`, and a bot's attempts alternate between its own id
    (`{}`, then `{"userId": sub}`) and each id of its claims. Every body names the
    plan's sku, when it has one."""
    product = {} if plan.sku is None else {"sku": plan.sku}
    if plan.token is None:
        return [(json_post(PURCHASE_PATH, host, {"userId": plan.user, **product}), "")]
    headers = bearer(plan.token)
    own = [
        json_post(PURCHASE_PATH, host, product, headers=headers),
        json_post(PURCHASE_PATH, host, {"userId": plan.user, **product}, headers=headers),
    ]
    if not plan.claims:
        return [(own[0], "")]
    requests: list[tuple[bytes, str]] = []
    for n, other in enumerate(plan.claims):
        requests.append((own[n % 2], ""))
        claim = {"userId": other, **product}
        requests.append((json_post(PURCHASE_PATH, host, claim, headers=headers), other))
    return requests


def pause_after(record: Record, plan: UserPlan) -> float | None:
    """Seconds to wait before the next attempt, or None when the shopper stops."""
    if plan.persistent:
        if record.http == 0:
            return None  # a bot that lost its connection gives up
        return plan.gap_s
    if record.http == 0 or record.status in FINAL_PURCHASE_STATUSES:
        return None
    if record.status == "not_started":
        return plan.gap_s if plan.wait_for_start else None
    if record.http in (429, 503) and plan.honour_retry_after:
        return min(record.retry_after_s or 1.0, MAX_RETRY_WAIT_S)
    return None  # pending (202), invalid input or anything unexpected: stop and look up later


async def sleep_until_ns(target_ns: int) -> None:
    delay_s = (target_ns - time.time_ns()) / 1e9
    if delay_s > 0:
        await asyncio.sleep(delay_s)


def _record(
    user: str,
    kind: str,
    attempt: int,
    send_ns: int,
    latency_ns: int,
    answer: Answer,
    written_ns: int,
) -> Record:
    payload = answer.json() if answer.status != 304 else {}
    if kind == "status":
        state = payload.get("state") or ("not_modified" if answer.status == 304 else "")
        return Record(user, kind, 0, send_ns, latency_ns, answer.status, str(state))
    position = payload.get("position")
    return Record(
        user=user,
        kind=kind,
        attempt=attempt,
        send_ns=send_ns,
        latency_ns=latency_ns,
        http=answer.status,
        status=str(payload.get("outcome") or ""),
        position=position if isinstance(position, int) else None,
        order_id=str_or_none(payload.get("orderId")),
        sale_id=str_or_none(payload.get("saleId")),
        sku=str_or_none(payload.get("sku")),
        retry_after_s=answer.retry_after_s,
        # What a server error said, for the report (its JSON title, else raw text).
        error=_server_error_text(answer, payload) if answer.status >= 500 else "",
        written_ns=written_ns,
    )


def _server_error_text(answer: Answer, payload: dict[str, Any]) -> str:
    title = payload.get("title") or payload.get("detail")
    return f"{answer.status}: {title or answer.body[:200].decode('latin-1')}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout: no whole answer in time"
    if isinstance(exc, OSError):
        return f"connection: {type(exc).__name__}: {str(exc)[:160]}"
    return f"{type(exc).__name__}: {str(exc)[:160]}"
