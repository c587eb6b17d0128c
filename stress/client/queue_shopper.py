"""One client process of a waiting-room run (`python -m stress flash --queue`): its
people, its queue-skippers and its status poller on one uvloop event loop, all timed
from the release instant the parent sets (stress.client.release.PhaseGate).

A person opens the shop page at its join instant: `POST /flash-sale/queue` on a tab's
connection of its own, and opens its other tabs at theirs (some at once, some later,
some after the start: every one must be told the same ticket). It then follows its
place as the shop page does, from one status poller per process (`queue.serving`, the
"now serving" number): a pre-queue ticket reads its place once the queue admits (the
shuffle drew it), and a person whose place is served buys with `Flash-Sale-Ticket`. A
safety read of its ticket every `ticket_poll_s` catches a state the status cannot show.
Once the queue closes, a person still waiting reads its ticket once more (its final
state). So requests stay bounded: the poller's, one or two reads and a purchase a person.

Queue-skippers buy without an admitted ticket of their own: none (no_ticket), a forged
one (forged: its own ticket with a character changed, or random characters), another
person's just admitted (stolen: that person waits a moment before buying, so the
thief's attempt meets a live admission). The first buyers of each process present their
used ticket once more (replayed). Everything is recorded as plain dataclasses sent back
to the parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import string
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from stress.api import PURCHASE_PATH, QUEUE_PATH, STATUS_PATH, TICKET_HEADER
from stress.client.release import STARTED, PhaseGate
from stress.client.wire import (
    WIRE_ERRORS,
    Answer,
    ConnectionLost,
    HttpConnection,
    connect,
    request_bytes,
)
from stress.runs import raise_nofile_limit
from stress.verdicts.queue import Attempt, Join

# Queue states of a ticket whose holder will not be admitted any more.
OVER = frozenset({"closed", "lapsed", "used"})
PURCHASE_RETRIES = 5
PURCHASE_RETRY_S = 0.3
RELEASE_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class PersonPlan:
    user: str
    join_s: float  # its first tab, seconds after the release instant
    tabs_s: tuple[float, ...] = ()  # its other tabs' join instants
    buy_delay_s: float = 0.0  # a thief's victim waits this long once admitted


@dataclass(frozen=True, slots=True)
class SkipperPlan:
    user: str
    kind: str  # no_ticket, forged, stolen
    at_s: float  # forged: when it joins; no_ticket: its first attempt after the start
    attempts: int
    victim: str | None = None  # stolen: whose ticket


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    host: str
    port: int
    starts_at_s: float  # the sale's start, seconds after the release instant
    deadline_s: float  # the whole run, seconds after the release instant
    status_poll_s: float
    ticket_poll_s: float
    timeout_s: float
    seed: int
    people: tuple[PersonPlan, ...]
    skippers: tuple[SkipperPlan, ...]
    replays: int  # this many of its first buyers present their used ticket once more
    samples: bool  # this process keeps the status samples for the report


@dataclass(frozen=True, slots=True)
class PersonEnd:
    """Where a person ended: its ticket, its place, its purchase and final ticket state."""

    user: str
    ticket: str | None
    place: int | None
    outcome: str | None  # its purchase's outcome (confirmed, sold_out, ...) or None
    final_state: str | None  # its ticket's last state read
    admitted_ns: int | None  # when it saw its place served


@dataclass
class ProcessResult:
    index: int
    joins: list[Join] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    forged_reads: list[int] = field(default_factory=list)
    people: list[PersonEnd] = field(default_factory=list)
    robbed: dict[str, str] = field(default_factory=dict)  # victim -> its purchase's outcome
    samples: list[tuple[float, int, int, int, str, int]] = field(default_factory=list)
    closed_seen_ns: int | None = None
    answers: Counter[str] = field(default_factory=Counter)
    note: str = ""


def client_main(index: int, plan: ProcessPlan, gate: PhaseGate, results: Any) -> None:
    """Entry point of one client process (`results`: a multiprocess Queue)."""
    import uvloop

    raise_nofile_limit()
    gate.report(index, STARTED)
    release_ns = gate.release_ns(RELEASE_TIMEOUT_S)
    if release_ns is None:
        results.put(ProcessResult(index, note="never released"))
        return
    results.put(uvloop.run(_Process(index, plan, release_ns).run()))


class Tab:
    """One keep-alive connection (a browser tab); a request whose connection the server
    had closed before a byte of the answer is sent again on a new one, never a request
    that may have been read (a purchase must not go twice)."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.hostport = f"{host}:{port}"
        self._conn: HttpConnection | None = None

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer | None:
        """The answer, or None when none came."""
        sent = dict(headers or {})
        payload = b""
        if body is not None:
            sent["Content-Type"] = "application/json"
            payload = orjson.dumps(body)
        request = request_bytes(method, path, self.hostport, body=payload, headers=sent)
        for _ in range(2):
            try:
                async with asyncio.timeout(self.timeout_s):
                    if self._conn is None or not self._conn.is_open:
                        self._conn = await connect(self.host, self.port)
                    return await self._conn.exchange(request)
            except ConnectionLost as exc:
                self.close()
                if exc.got_bytes:
                    return None
            except WIRE_ERRORS:
                self.close()
                return None
        return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.abort()
            self._conn = None


class _Process:
    def __init__(self, index: int, plan: ProcessPlan, release_ns: int) -> None:
        self.plan = plan
        self.release_ns = release_ns
        self.result = ProcessResult(index)
        self.rng = random.Random(plan.seed * 1_000 + index)
        self.deadline_ns = release_ns + int(plan.deadline_s * 1e9)
        self.serving = 0
        self.queue_state = "prequeue"
        self.admitting = asyncio.Event()  # the queue admits (or closed): places are drawn
        self.closed = asyncio.Event()
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # (place, n, served)
        self._order = itertools.count()
        self.tickets: dict[str, str] = {}  # user -> ticket, for the thieves
        self.admitted: dict[str, asyncio.Event] = {}  # victim -> admitted, not bought yet
        self.replays_left = plan.replays
        self.answered_ns = 0  # the last purchase's answer (one loop: read right after it)

    def at(self, seconds: float) -> int:
        return self.release_ns + int(seconds * 1e9)

    async def sleep_until(self, instant_ns: int) -> None:
        await asyncio.sleep(max(0.0, (instant_ns - time.time_ns()) / 1e9))

    def tab(self) -> Tab:
        return Tab(self.plan.host, self.plan.port, self.plan.timeout_s)

    async def run(self) -> ProcessResult:
        plan = self.plan
        for person in plan.people:
            if person.buy_delay_s:
                self.admitted[person.user] = asyncio.Event()
        poller = asyncio.create_task(self.poll_status())
        tasks = [asyncio.create_task(self.person(p)) for p in plan.people]
        tasks += [asyncio.create_task(self.skipper(s)) for s in plan.skippers]
        left = max(1.0, (self.deadline_ns - time.time_ns()) / 1e9)
        _, stuck = await asyncio.wait(tasks, timeout=left) if tasks else (set(), set())
        for task in stuck:
            task.cancel()
        if stuck:
            self.result.note = f"{len(stuck)} people or skippers still running at the deadline"
        poller.cancel()
        await asyncio.gather(poller, *stuck, return_exceptions=True)
        return self.result

    # -- the status: "now serving" for everyone of this process ---------------------------
    async def poll_status(self) -> None:
        tab = self.tab()
        await self.sleep_until(self.release_ns)
        while True:
            answer = await tab.call("GET", STATUS_PATH)
            if answer is not None and answer.status == 200:
                self.on_status(answer.json())
            await asyncio.sleep(self.plan.status_poll_s)

    def on_status(self, status: dict[str, Any]) -> None:
        found = status.get("queue")
        queue: dict[str, Any] = found if isinstance(found, dict) else {}
        self.serving = max(self.serving, int(queue.get("serving") or 0))
        self.queue_state = str(queue.get("state") or self.queue_state)
        now = time.time_ns()
        if self.plan.samples:
            self.result.samples.append(
                (
                    round((now - self.release_ns) / 1e9, 3),
                    self.serving,
                    int(queue.get("waiting") or 0),
                    int(queue.get("length") or 0),
                    self.queue_state,
                    int(status.get("sold") or 0),
                )
            )
        if self.queue_state in ("admitting", "closed"):
            self.admitting.set()
        if self.queue_state == "closed" and not self.closed.is_set():
            self.result.closed_seen_ns = now
            self.closed.set()
        while self._waiting and (self._waiting[0][0] <= self.serving or self.closed.is_set()):
            _, _, served = heapq.heappop(self._waiting)
            if not served.done():
                served.set_result(None)

    async def served(self, place: int, timeout_s: float) -> None:
        """Until `place` is served, the queue closed, or `timeout_s` passed."""
        if place <= self.serving or self.closed.is_set():
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (place, next(self._order), future))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(future, timeout_s)

    # -- a person -----------------------------------------------------------------------
    async def join(self, user: str, tab_no: int, at_s: float) -> dict[str, Any] | None:
        """One tab's join at its instant: the ticket body, or None."""
        await self.sleep_until(self.at(at_s))
        tab = self.tab()
        try:
            sent = time.time_ns()
            answer = await tab.call("POST", QUEUE_PATH, {"userId": user})
            answered = time.time_ns()
        finally:
            tab.close()
        http = answer.status if answer is not None else 0
        body = answer.json() if answer is not None else {}
        ticket = body.get("ticket") if http in (200, 201) else None
        self.result.answers[f"join {http}"] += 1
        self.result.joins.append(
            Join(
                user,
                tab_no,
                sent,
                answered,
                http,
                str(ticket) if ticket else None,
                str(body.get("state")) if ticket else None,
            )
        )
        return body if ticket else None

    async def person(self, plan: PersonPlan) -> None:
        others = [
            asyncio.create_task(self.join(plan.user, n, at_s))
            for n, at_s in enumerate(plan.tabs_s, start=1)
        ]
        body = await self.join(plan.user, 0, plan.join_s)
        end = PersonEnd(plan.user, None, None, None, None, None)
        if body is not None:
            self.tickets[plan.user] = str(body["ticket"])
            tab = self.tab()
            try:
                end = await self.follow(plan, tab, body)
            finally:
                tab.close()
        await asyncio.gather(*others, return_exceptions=True)
        self.result.people.append(end)
        victim = self.admitted.get(plan.user)
        if victim is not None and victim.is_set():  # admitted while a thief held its ticket
            self.result.robbed[plan.user] = end.outcome or "none"

    async def read(self, tab: Tab, ticket: str) -> dict[str, Any]:
        answer = await tab.call("GET", f"{QUEUE_PATH}/{quote(ticket, safe='')}")
        self.result.answers[f"read {answer.status if answer else 0}"] += 1
        return answer.json() if answer is not None and answer.status == 200 else {}

    async def follow(self, plan: PersonPlan, tab: Tab, body: dict[str, Any]) -> PersonEnd:
        """From the join to a purchase or a closed queue."""
        ticket = str(body["ticket"])
        place = _int(body.get("place"))
        state = str(body.get("state") or "")
        await self.admitting.wait()
        if place is None:  # a pre-queue ticket: its place was drawn at the start
            await asyncio.sleep(self.rng.random())  # not every page at the same instant
        must_read = place is None
        while time.time_ns() < self.deadline_ns:
            if must_read:
                seen = await self.read(tab, ticket)
                place = _int(seen.get("place")) or place
                state = str(seen.get("state") or state)
                must_read = False
            if state == "admitted" or (place is not None and place <= self.serving):
                admitted_ns = time.time_ns()
                outcome = await self.buy(plan, tab, ticket)
                return PersonEnd(plan.user, ticket, place, outcome, None, admitted_ns)
            if state in OVER or self.closed.is_set():
                break
            if place is None:  # not drawn yet: read again shortly
                await asyncio.sleep(0.5)
                must_read = True
                continue
            await self.served(place, self.plan.ticket_poll_s)
            # Served or closed: the loop acts on it; else the safety read is due.
            must_read = place > self.serving and not self.closed.is_set()
        await asyncio.sleep(self.rng.random())  # the closed queue's readers spread out
        final = await self.read(tab, ticket)
        return PersonEnd(
            plan.user, ticket, place, None, str(final.get("state") or "") or None, None
        )

    async def buy(self, plan: PersonPlan, tab: Tab, ticket: str) -> str:
        admitted = self.admitted.get(plan.user)
        if admitted is not None:
            admitted.set()  # the thief's moment
            await asyncio.sleep(plan.buy_delay_s)
        outcome = "none"
        for attempt in range(PURCHASE_RETRIES):
            http, outcome = await self.purchase(tab, plan.user, ticket)
            self.result.answers[f"purchase {http} {outcome}"] += 1
            if not (http == 403 and outcome == "not_admitted"):
                break
            if attempt + 1 < PURCHASE_RETRIES:  # served in the status, not yet for the ticket
                await asyncio.sleep(PURCHASE_RETRY_S)
        if outcome == "confirmed" and self.replays_left > 0:
            self.replays_left -= 1
            http, again = await self.purchase(tab, plan.user, ticket)
            self.result.answers[f"replayed {http} {again}"] += 1
            self.result.attempts.append(
                Attempt("replayed", plan.user, http, again, self.answered_ns)
            )
        return outcome

    async def purchase(self, tab: Tab, user: str, ticket: str | None) -> tuple[int, str]:
        """The purchase's status and outcome (`self.answered_ns`: when it came)."""
        headers = {TICKET_HEADER: ticket} if ticket is not None else {}
        answer = await tab.call("POST", PURCHASE_PATH, {"userId": user}, headers)
        self.answered_ns = time.time_ns()
        if answer is None:
            return 0, "no answer"
        body = answer.json()
        outcome = body.get("outcome") or body.get("status") or str(body.get("type") or "")
        return answer.status, str(outcome).rsplit("/", 1)[-1] or str(answer.status)

    # -- queue-skippers -------------------------------------------------------------------
    async def skipper(self, plan: SkipperPlan) -> None:
        tab = self.tab()
        try:
            if plan.kind == "forged":
                await self.forger(plan, tab)
            elif plan.kind == "stolen":
                await self.thief(plan, tab)
            else:
                await self.sleep_until(self.at(self.plan.starts_at_s + plan.at_s))
                for _ in range(plan.attempts):
                    await self.attempt(plan, tab, None)
                    await asyncio.sleep(1.0)
        finally:
            tab.close()

    async def attempt(self, plan: SkipperPlan, tab: Tab, ticket: str | None) -> None:
        http, outcome = await self.purchase(tab, plan.user, ticket)
        self.result.answers[f"skipper {plan.kind} {http}"] += 1
        self.result.attempts.append(Attempt(plan.kind, plan.user, http, outcome, self.answered_ns))

    async def forger(self, plan: SkipperPlan, tab: Tab) -> None:
        body = await self.join(plan.user, 0, self.plan.starts_at_s + plan.at_s)
        own = str(body["ticket"]) if body else "x" * 40
        for n in range(plan.attempts):
            forged = _tampered(own, self.rng) if n % 2 == 0 else _random_like(own, self.rng)
            answer = await tab.call("GET", f"{QUEUE_PATH}/{quote(forged, safe='')}")
            self.result.forged_reads.append(answer.status if answer is not None else 0)
            await self.attempt(plan, tab, forged)
            await asyncio.sleep(1.0)

    async def thief(self, plan: SkipperPlan, tab: Tab) -> None:
        victim = plan.victim or ""
        admitted = self.admitted.get(victim)
        if admitted is None:
            return
        left = max(0.0, (self.deadline_ns - time.time_ns()) / 1e9)
        closed = asyncio.ensure_future(self.closed.wait())
        served = asyncio.ensure_future(admitted.wait())
        await asyncio.wait({closed, served}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        served.cancel()
        ticket = self.tickets.get(victim)
        if ticket is None:
            return
        for _ in range(plan.attempts):
            await self.attempt(plan, tab, ticket)
            await asyncio.sleep(0.1)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


TICKET_CHARS = string.ascii_letters + string.digits + "-_"


def _tampered(ticket: str, rng: random.Random) -> str:
    """The ticket with one character in its second half changed (its signature, most
    likely), never the last of a dot-separated part: there, in unpadded base64url, some
    other characters differ only in unused bits and decode to the very same bytes."""
    ends = {i - 1 for i, c in enumerate(ticket) if c == "."} | {len(ticket) - 1}
    places = [i for i, c in enumerate(ticket) if c != "." and i not in ends]
    later = [i for i in places if i >= len(ticket) // 2]
    at = rng.choice(later or places or [0])
    others = [c for c in TICKET_CHARS if c != ticket[at]]
    return ticket[:at] + rng.choice(others) + ticket[at + 1 :]


def _random_like(ticket: str, rng: random.Random) -> str:
    """Random characters in the ticket's shape (its dots kept)."""
    return "".join(c if c == "." else rng.choice(TICKET_CHARS) for c in ticket)
