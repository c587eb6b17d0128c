"""The allocator's half of the Redis engine: purchases go to Redis in batches, in order.

The loop reads and acknowledges purchases as with SQLite; here they wait for
the Redis thread (jobs.py) and go in one FCALL per batch, where the
sale is decided and made durable (store.py, library.lua). Each host also
follows the store: every FOLLOW_INTERVAL_S it reads the current sale and its
sold counts, so another host's sales, and its new sale, reach this host's
shared memory within a second. A sale with a waiting room is ticked as often
(and whenever Redis says an admission falls due): Redis draws, admits and
closes it by its own clock, once whichever host asks, and each host publishes
the room's figures it learns, so every host's pages show the same "now serving".

A call whose reply never came (a lost connection, a timeout) has an unknown
outcome. Its batch is kept and sent again, with the same request ids, once
Redis answers: Redis keeps each request's decision for the sale's life, so
the second call returns the first one's outcomes, never a second sale. Its
shoppers meanwhile hear 202 `pending` from their workers (client.py); nobody
is told 503 for a request Redis may have decided. While Redis cannot be
reached, new purchases are refused at once (never sent: nothing is sold) and
health says why (the StoreBoard, as for a journal that cannot be written).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.exceptions import RedisClusterException, RedisError, ResponseError

from flashsale.admin_commands import AdminAnswer, AdminRequest
from flashsale.allocator.deciding import decision_frame
from flashsale.allocator.messages import (
    admin_reply,
    checkout_reply,
    frame,
    read_purchase_body,
)
from flashsale.allocator.peers import Peers, Pending, Replies
from flashsale.allocator.waiting_room import ADMIT_EVERY_US, ROOM_CLOSED
from flashsale.checkout_commands import QUEUE_COMMANDS, CheckoutAnswer, CheckoutRequest
from flashsale.outcomes import Outcome
from flashsale.records import SaleRecord, SaleTerms
from flashsale.redis_engine import holds, waiting_room
from flashsale.redis_engine.jobs import Job, RedisJobs
from flashsale.redis_engine.store import (
    EXPIRE_BATCH,
    MAX_BATCH,
    BatchPurchase,
    BatchResult,
    CheckoutDone,
    Counts,
    Expired,
    RedisStore,
    as_redis_error,
)
from flashsale.redis_engine.waiting_room import RoomCall
from flashsale.shm.sale_board import SaleBoard, SaleSnapshot
from flashsale.shm.store_board import StoreBoard

log = logging.getLogger("flashsale.allocator")

FOLLOW_INTERVAL_S = 0.2
PROBE_INTERVAL_S = 1.0
# A sale with holds is expired at least this often (holds other hosts made, offers made
# by expiries, a clock between Redis's and ours that differs), besides at its next due.
EXPIRE_INTERVAL_S = 0.5
# A waiting room is ticked at least every FOLLOW_INTERVAL_S (other hosts' joins, the
# start), and when Redis says an admission falls due, but not more often than this: a
# batch of admissions a tick (flashsale.allocator.waiting_room.ADMIT_EVERY_US).
QUEUE_TICK_MIN_S = ADMIT_EVERY_US / 1e6
# Shoppers' queue commands (joins, ticket reads) decided in one call at most.
MAX_QUEUE_COMMANDS = 256


@dataclass(frozen=True)
class SaleSettings:
    """What deciding needs besides the batch: the first sale and the rate limit."""

    first: SaleTerms
    rate_limit: int
    rate_window_s: int
    webhooks: bool = False  # this host has a webhook URL: decisions append to the outbox


class RedisHealth:
    """Whether Redis answers (the journal's is JournalHealth); the workers' breaker and
    health read it from the StoreBoard."""

    def __init__(self, board: StoreBoard, url: str) -> None:
        self._board = board
        self._url = url
        self.failing = False
        self.error: str | None = None
        self._since_s = 0.0
        self.next_probe_s = 0.0

    def failed(self, error: RedisError) -> None:
        self.error = f"Redis at {self._url} cannot be reached: {type(error).__name__}: {error}"
        self._board.report_failure(self.error)
        now_s = time.monotonic()
        if not self.failing:
            log.error("allocator: %s; selling stops until it answers", self.error)
            self.failing, self._since_s = True, now_s
        self.next_probe_s = now_s + PROBE_INTERVAL_S

    def answered(self) -> None:
        if self.failing:
            log.warning(
                "allocator: Redis answers again after %.1f s; selling resumes",
                time.monotonic() - self._since_s,
            )
        self.failing, self.error = False, None
        self._board.report_writable()


class RedisDecisions:
    """The loop's pipeline in Redis mode (the SQLite one is commits.CommitPipeline)."""

    def __init__(
        self,
        store: RedisStore,
        peers: Peers,
        board: SaleBoard,
        store_board: StoreBoard,
        settings: SaleSettings,
    ) -> None:
        self._store = store
        self._peers = peers
        self._board = board
        self._settings = settings
        self.health = RedisHealth(store_board, store.url)
        self._jobs = RedisJobs()
        self.done_fd = self._jobs.done_fd
        self._queue: deque[Job] = deque()  # waiting for the thread, in order
        self._waiting: list[Pending] = []  # read, in no job yet
        self._unknown: Job | None = None  # sent, reply lost: sent again once Redis answers
        self._sale: SaleRecord | None = None
        self._next_follow_s = 0.0
        self._next_expire_s = 0.0  # monotonic: when the next hold may fall due
        self._token_key = b""  # the store's checkout key (read at recovery)
        self._holds_shown: tuple[int, holds.Shelves, int] | None = None  # last published
        self._ticket_key = b""  # the store's key of the waiting room's tickets
        self._room_shown: tuple[int, int, int, int] | None = None  # last published figures
        self._next_tick_s = 0.0  # monotonic: when the waiting room is ticked next
        self._room_sale: SaleRecord | None = None  # the Redis thread's: answers' terms
        self._recover_now()

    def _recover_now(self) -> None:
        """At start, before the allocator says it is ready: the sale on the board first,
        as the SQLite engine does; if Redis does not answer, its recovery is a job."""
        job = Job(self._recover, "recover")
        try:
            job.result = self._recover()
        except (RedisError, RedisClusterException) as exc:
            self._queue.append(job)
            self.health.failed(as_redis_error(exc))
            return
        self._succeeded(job)

    # -- what the loop hands over ---------------------------------------------------------
    def add(self, purchases: list[Pending]) -> None:
        if not purchases:
            return
        if self.health.failing or self._sale is None:
            self._refuse(purchases)
        else:
            self._waiting += purchases

    def checkout(self, request: Pending) -> None:
        """A buyer's confirm, cancel, extend or join: decided by Redis after every
        purchase read before it, as with SQLite."""
        if self.health.failing:
            self._answer_checkout(request, _checkout_unavailable(self.health.error))
            return
        self._batch_waiting()
        if CheckoutRequest.decode(request.body).command in QUEUE_COMMANDS:
            last = self._queue[-1] if self._queue else None
            if last is not None and last.kind == "queue" and len(last.payload) < MAX_QUEUE_COMMANDS:
                last.payload.append(request)  # not started yet: one call for them all
            else:
                batch = [request]
                run = functools.partial(self._queue_commands, batch)
                self._queue.append(Job(run, "queue", batch))
        else:
            self._queue.append(Job(lambda: self._checkout(request), "checkout", request))

    def tick_queue_if_due(self) -> None:
        """Queue a tick of the sale's waiting room when one is due: the draw at the start,
        an admission, or learning what other hosts' shoppers did."""
        sale = self._sale
        if sale is None or sale.terms.queue is None or self.health.failing:
            return
        now_s = time.monotonic()
        if now_s >= self._next_tick_s and not any(job.kind == "tick" for job in self._queue):
            self._next_tick_s = now_s + FOLLOW_INTERVAL_S  # until this one tells when
            self._queue.append(Job(lambda: waiting_room.tick(self._store), "tick"))

    def expire_if_due(self) -> None:
        """Queue a flashsale_expire call when a hold may have fallen due."""
        sale = self._sale
        if sale is None or sale.terms.checkout is None or self.health.failing:
            return
        if time.monotonic() >= self._next_expire_s and not any(
            job.kind == "expire" for job in self._queue
        ):
            self._next_expire_s = time.monotonic() + EXPIRE_INTERVAL_S
            # One call (a batch of expiries): purchases read meanwhile are decided next.
            self._queue.append(Job(self._store.expire, "expire"))

    def idle_s(self, heartbeat_s: float) -> float:
        """How long the loop may sleep: until its heartbeat, the next hold's expiry, or
        the waiting room's next tick."""
        sale = self._sale
        if sale is None:
            return heartbeat_s
        idle_s, now_s = heartbeat_s, time.monotonic()
        if sale.terms.checkout is not None:
            idle_s = min(idle_s, max(0.0, self._next_expire_s - now_s))
        if sale.terms.queue is not None and not self.health.failing:
            idle_s = min(idle_s, max(0.0, self._next_tick_s - now_s))
        return idle_s

    def admin(self, request: Pending) -> None:
        """An operator's command: after every purchase read before it, as with SQLite
        (settle); Redis decides it between their batches and the next ones."""
        if self.health.failing:
            self._answer_admin(request, _not_selling(self.health.error))
            return
        self._batch_waiting()
        self._queue.append(Job(lambda: self._admin(request), "admin", request))

    # -- pacing ---------------------------------------------------------------------------
    def wait_s(self, idle_s: float) -> float:
        if self._jobs.busy:
            return idle_s
        if self._waiting or (self._queue and not self.health.failing):
            return 0.0
        due_s = self.health.next_probe_s if self.health.failing else self._next_follow_s
        return max(0.0, min(idle_s, due_s - time.monotonic()))

    def advance(self, *, paced: bool = True) -> None:
        """Start the next call if the thread is free."""
        if self._jobs.busy:
            return
        now_s = time.monotonic()
        if self.health.failing:
            if now_s >= self.health.next_probe_s:
                self._jobs.start(Job(self._store.ping, "probe"))
            return
        self._batch_waiting()
        if not self._queue and now_s >= self._next_follow_s:
            self._queue.append(Job(self._follow, "follow"))
        if self._queue:
            self._jobs.start(self._queue.popleft())

    def settle(self) -> None:
        """Make every call that waits, and answer it: at exit."""
        deadline_s = time.monotonic() + 5.0
        while (self._jobs.busy or self._waiting or self._queue) and time.monotonic() < deadline_s:
            if self._jobs.busy:
                self.complete()
            elif self.health.failing:
                break
            else:
                self.advance()
        self._refuse_queued()
        if self._waiting:
            self._refuse(self._waiting)
            self._waiting = []

    # -- a call is over -------------------------------------------------------------------
    def complete(self) -> None:
        job = self._jobs.finish()
        if job.error is None:
            if job.kind == "probe":
                self._answered()
            else:
                self._succeeded(job)
            return
        error = job.error
        if job.kind == "decide" and isinstance(error, ResponseError):
            # The function refused this call before writing anything (library.lua), but a
            # batch sent again may have been decided by the call whose reply was lost:
            # only a first call's shoppers may hear that nothing was sold.
            if job.tries == 1:
                log.error("allocator: Redis refused a batch (%s): answered unavailable", error)
                self._refuse(job.payload)
            else:
                log.error(
                    "allocator: Redis refused a batch sent again (%s): its shoppers hear "
                    "'pending' and find the outcome by their look-up",
                    error,
                )
            return
        if job.kind == "decide":
            self._unknown = job  # its reply was lost: sent again, the same outcomes come back
        elif job.kind == "admin":
            self._answer_admin(job.payload, _not_selling(f"Redis did not answer ({error})"))
            self._next_follow_s = 0.0  # it may have been done: learn the sale once Redis answers
        elif job.kind == "checkout":
            # It may have been done: the buyer sends it again (each command is idempotent).
            self._answer_checkout(job.payload, _checkout_unavailable(f"Redis: {error}"))
        elif job.kind == "queue":  # a join sent again is the same ticket
            for request in job.payload:
                self._answer_checkout(request, _checkout_unavailable(f"Redis: {error}"))
        elif job.kind == "recover":
            self._queue.appendleft(job)
        self.health.failed(error)
        self._refuse_queued()

    def _succeeded(self, job: Job) -> None:
        if job.kind == "decide":
            self._decided(job.payload, job.result)
        elif job.kind == "admin":
            self._admin_done(job.payload, job.result)
        elif job.kind == "checkout":
            self._checkout_done(job.payload, job.result)
        elif job.kind == "expire":
            self._expired(job.result)
        elif job.kind == "queue":
            call, answers = job.result
            self._room_seen(call)
            replies: Replies = {}
            for request, answer in zip(job.payload, answers, strict=True):
                reply = checkout_reply(request.seq, request.request_id, answer)
                replies.setdefault(request.peer, []).append(frame(reply.encode()))
            self._peers.send(replies)
        elif job.kind == "tick":
            self._room_seen(job.result)
        else:  # recover, follow
            sale, sold, counts, room = job.result
            if job.kind == "recover":  # before any ticket is issued: workers verify with it
                self._board.publish_ticket_key(self._ticket_key)
            if sale is not None:
                self._publish(sale, sold, room)
            elif self._sale is None or self._sale.terms.checkout is None:
                self._board.update_sold(sold.get("", 0), self._places(sold))
            self._publish_holds(sold, counts, 0, force=sale is not None)
            self._next_follow_s = time.monotonic() + FOLLOW_INTERVAL_S

    def _answered(self) -> None:
        self.health.answered()
        if self._unknown is not None:
            self._queue.appendleft(self._unknown)  # first: its shoppers wait longest
            self._unknown = None

    # -- the calls (on the Redis thread) ------------------------------------------------
    def _recover(self) -> tuple[SaleRecord, dict[str, int], Counts, RoomCall | None]:
        """The sale, and (a sale with holds) the holds that fell due while no allocator
        ran expired first, before any purchase is decided here; (a sale with a waiting
        room) where its room stands, ticked."""
        self._store.load_library()
        if self._settings.webhooks:  # before any decision of this host's
            self._store.enable_outbox()
        sale_id = self._store.first_sale(self._settings.first)
        self._token_key = self._store.checkout_key()
        self._ticket_key = self._store.ticket_key()
        sale = self._store.sale(sale_id)
        if sale.terms.checkout is not None:
            expired = self._store.expire_all()
            if expired.expired:
                log.warning("allocator: %s holds fell due while stopped: expired", expired.expired)
        room = waiting_room.tick(self._store) if sale.terms.queue is not None else None
        _, sold, _, counts = self._store.state_with_counts()
        return sale, sold, counts, room

    def _follow(self) -> tuple[SaleRecord | None, dict[str, int], Counts, None]:
        """The current sale if it is not the one this host knows (another host made a
        new one, or changed its lifecycle), and its sold counts and hold counts."""
        sale_id, sold, version, counts = self._store.state_with_counts()
        known = self._sale
        if sale_id is None or (
            known is not None and sale_id == known.sale_id and version == known.lifecycle.version
        ):
            return None, sold, counts, None
        return self._store.sale(sale_id), sold, counts, None

    def _queue_commands(self, batch: list[Pending]) -> tuple[RoomCall, list[CheckoutAnswer]]:
        """Joins of the waiting room and tickets' reads (the worker checked a ticket's
        signature: Redis checks that its number is its holder's), and their answers."""
        call = waiting_room.commands(
            self._store, [CheckoutRequest.decode(request.body) for request in batch]
        )
        sale = self._room_sale
        if call.stands is not None and (sale is None or sale.sale_id != call.sale_id):
            sale = self._room_sale = self._store.sale(call.sale_id)  # its terms never change
        return call, waiting_room.answers_of(call, len(batch), sale, self._ticket_key)

    def _checkout(self, request: Pending) -> tuple[CheckoutDone, str | None]:
        command, token = holds.command_json(CheckoutRequest.decode(request.body), self._token_key)
        return self._store.checkout(command), token

    def _decide(self, batch: Sequence[Pending]) -> BatchResult:
        # The deadlines are read now, just before the call: as late as they can be.
        now_ns = time.monotonic_ns()
        purchases = []
        for pending in batch:
            user_id, sku = read_purchase_body(pending.body)
            # As deciding.py: past the sell deadline, or not acknowledged to its worker.
            late = now_ns > pending.sell_deadline_ns
            expired = late or pending.number > pending.peer.acknowledged
            purchases.append(BatchPurchase(pending.request_id, user_id, sku, expired))
        settings = self._settings
        return self._store.decide(purchases, settings.rate_limit, settings.rate_window_s)

    def _admin(self, request: Pending) -> AdminAnswer:
        return self._store.admin(AdminRequest.decode(request.body))

    # -- answers ----------------------------------------------------------------------------
    def _decided(self, batch: Sequence[Pending], result: BatchResult) -> None:
        replies: Replies = {}
        sold_here = 0
        for pending, decided in zip(batch, result.decisions, strict=True):
            outcome, order = decided.outcome, decided.order
            if outcome is Outcome.CONFIRMED:
                sold_here += 1
            if outcome is Outcome.HELD and order is not None:
                sold_here += 1
                # The token is a MAC of the order id: a resent purchase is told it again.
                issued = (holds.hold_token(self._token_key, order.order_id), decided.expires_at_us)
                frame_bytes = decision_frame(pending, outcome, order, (issued[0], issued[1] or 0))
                replies.setdefault(pending.peer, []).append(frame_bytes)
                continue
            replies.setdefault(pending.peer, []).append(decision_frame(pending, outcome, order))
        sale = self._sale
        if sale is not None and result.sale_id == sale.sale_id and sale.terms.checkout is not None:
            self._publish_holds(result.sold, result.counts, sold_here)
            if result.version != sale.lifecycle.version:
                self._next_follow_s = 0.0
        elif sale is not None and result.sale_id == sale.sale_id:
            sold = result.sold
            self._board.publish_sold(sold.get("", 0), sold_here, self._places(sold))
            if result.version != sale.lifecycle.version:
                self._next_follow_s = 0.0  # another host paused, resumed or ended it
        else:
            self._next_follow_s = 0.0  # another host started a sale: learn it now
        if (
            sale is not None
            and sale.terms.queue is not None
            and result.sale_id == sale.sale_id
            and result.sold.get("", 0) >= sale.stock
            and (self._room_shown is None or self._room_shown[0] != ROOM_CLOSED)
        ):
            self._next_tick_s = 0.0  # sold out closed the room: show it now
        self._peers.send(replies)

    def _admin_done(self, request: Pending, answer: AdminAnswer) -> None:
        """Publish what the command changed here at once (other hosts follow the store),
        then answer it."""
        sale = answer.sale
        if answer.status == 201 and sale is not None and not answer.replayed:
            log.info(
                "allocator: sale %s created in Redis with %s products, stock %s",
                sale.sale_id,
                len(sale.terms.products),
                sale.stock,
            )
            self._publish(sale, {"": 0})
        elif answer.status == 200 and sale is not None:
            self._publish(sale, answer.sold)
        else:
            self._next_follow_s = 0.0
        self._answer_admin(request, answer)

    def _checkout_done(self, request: Pending, result: tuple[CheckoutDone, str | None]) -> None:
        done, token = result
        sale = self._sale
        if sale is not None and done.sale_id == sale.sale_id:
            self._publish_holds(done.sold, done.counts, 0)
            self._next_expire_s = 0.0  # an extend, an offer: learn the next due
        self._answer_checkout(request, holds.answer_of(done.answer, done.sale_id, token))

    def _expired(self, done: Expired) -> None:
        sale = self._sale
        if sale is None or done.sale_id != sale.sale_id:
            return
        if done.expired:
            log.info("allocator: %s holds expired", done.expired)
        self._publish_holds(done.sold, done.counts, 0)
        next_s = time.monotonic() + EXPIRE_INTERVAL_S
        if done.next_due_us is not None:
            # Redis's clock, read as ours: the interval bounds what a difference costs.
            due_s = time.monotonic() + (done.next_due_us - time.time_ns() // 1000) / 1e6
            next_s = min(next_s, due_s)
        if done.expired >= EXPIRE_BATCH:
            next_s = 0.0  # more are due: the next call once the batches waiting are sent
        self._next_expire_s = next_s

    def _publish_holds(
        self, sold: dict[str, int], counts: Counts, batch: int, *, force: bool = False
    ) -> None:
        """A sale with holds: live units and each product's hold figures on the board."""
        sale = self._sale
        if sale is None or sale.terms.checkout is None:
            return
        figures = (sold.get("", 0), holds.shelves(sale, sold, counts), counts.get(b"offers", 0))
        if figures == self._holds_shown and not (batch or force):
            return  # unchanged: the board's readers (the status's stream) key on a change
        self._holds_shown = figures
        live, shelves, offers = figures
        self._board.publish_holds(live, batch, shelves, offers)

    def _answer_checkout(self, request: Pending, answer: CheckoutAnswer) -> None:
        reply = checkout_reply(request.seq, request.request_id, answer)
        self._peers.send({request.peer: [frame(reply.encode())]})

    def _answer_admin(self, request: Pending, answer: AdminAnswer) -> None:
        reply = admin_reply(request.seq, request.request_id, answer)
        self._peers.send({request.peer: [frame(reply.encode())]})

    def _refuse(self, purchases: Sequence[Pending]) -> None:
        """Never sent to Redis: nothing was sold to them."""
        replies: Replies = {}
        for pending in purchases:
            replies.setdefault(pending.peer, []).append(
                decision_frame(pending, Outcome.UNAVAILABLE, None)
            )
        self._peers.send(replies)

    def _refuse_queued(self) -> None:
        """Redis failed: what waits is answered now, not after it comes back."""
        kept = deque(job for job in self._queue if job.kind == "recover")
        for job in self._queue:
            if job.kind == "decide":
                self._refuse(job.payload)
            elif job.kind == "admin":
                self._answer_admin(job.payload, _not_selling(self.health.error))
            elif job.kind == "checkout":
                self._answer_checkout(job.payload, _checkout_unavailable(self.health.error))
            elif job.kind == "queue":
                for request in job.payload:
                    self._answer_checkout(request, _checkout_unavailable(self.health.error))
        self._queue = kept
        if self._waiting:
            self._refuse(self._waiting)
            self._waiting = []

    def _batch_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            batch.sort(key=_arrival)
            self._queue.append(Job(_bind(self._decide, batch), "decide", batch))

    def _publish(
        self, sale: SaleRecord, sold: dict[str, int], room: RoomCall | None = None
    ) -> None:
        known = self._sale
        self._sale = sale
        self._board.publish_sale(SaleSnapshot.of(sale, sold))
        if known is None or known.sale_id != sale.sale_id:
            # Another sale: its own room (none yet, or as recovery ticked it), then ticks.
            self._room_shown = None
            if room is None or room.sale_id != sale.sale_id:
                self._board.publish_queue(None)
        if sale.terms.queue is not None:
            self._next_tick_s = 0.0  # a new sale or a change of its lifecycle: tick now
        if room is not None:
            self._room_seen(room)

    def _room_seen(self, call: RoomCall) -> None:
        """Publish the figures of the sale's waiting room that a call of Redis's saw (if
        they changed), and tick it again when Redis says something falls due."""
        sale = self._sale
        figures = call.figures
        if sale is None or call.sale_id != sale.sale_id or figures is None:
            if sale is not None and call.sale_id != sale.sale_id:
                self._next_follow_s = 0.0  # another host started a sale: learn it now
            return
        if figures[:4] != self._room_shown:  # the status stream keys on a change
            self._room_shown = figures[:4]
            self._board.publish_queue(figures)
        now_s = time.monotonic()
        next_s = now_s + FOLLOW_INTERVAL_S
        if call.stands is not None and call.stands.closed_at_us is not None:
            next_s = math.inf  # closed for good: nothing more to learn of it
        elif call.next_change_us is not None:
            due_s = now_s + (call.next_change_us - call.now_us) / 1e6  # on Redis's clock
            next_s = min(next_s, max(due_s, now_s + QUEUE_TICK_MIN_S))
        self._next_tick_s = next_s

    def _places(self, sold: dict[str, int]) -> dict[int, int]:
        sale = self._sale
        if sale is None:
            return {}
        return {place: sold.get(p.sku, 0) for place, p in enumerate(sale.terms.products)}


def _not_selling(error: str | None) -> AdminAnswer:
    """Nothing was changed (or, for a call whose reply was lost, it is not known)."""
    return AdminAnswer(503, "not-selling", {"error": error or "Redis cannot be reached"})


def _checkout_unavailable(error: str | None) -> CheckoutAnswer:
    return CheckoutAnswer(503, "not-selling", {"error": error or "Redis cannot be reached"})


def _arrival(pending: Pending) -> int:
    return pending.arrival_ns


def _bind(
    call: Callable[[Sequence[Pending]], BatchResult], batch: list[Pending]
) -> Callable[[], BatchResult]:
    return lambda: call(batch)
