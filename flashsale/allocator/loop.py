"""The allocator process: the only code that changes stock.

One loop: wait for readable worker connections (at most HEARTBEAT_S), drain
every complete request into a batch, acknowledge what was read to each worker,
and only then read the clock and decide the batch in arrival order. The sales
go to the journal in one synced transaction (the group commit), written by the
Committer's thread while the loop decides the next batch; the sold count is
published and the replies sent only once that commit is durable.

The jobs live beside it: the worker connections (peers.py), accepting them
(accepting.py), deciding (deciding.py), the group commits (commits.py), the
operator's commands (admin.py) and a journal that cannot be written
(journal_health.py).
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from flashsale import collector
from flashsale.admin_commands import AdminAnswer, AdminRequest
from flashsale.allocator.accepting import Acceptor
from flashsale.allocator.admin import AdminDesk
from flashsale.allocator.book import INSERT_HOLD, StockBook
from flashsale.allocator.commits import CommitGroup, CommitPipeline
from flashsale.allocator.deciding import decide_purchases
from flashsale.allocator.holds import decide_checkout
from flashsale.allocator.journal_health import JournalHealth, describe
from flashsale.allocator.messages import Kind, Reply, admin_reply, checkout_reply, frame
from flashsale.allocator.peers import Peer, Peers, Pending
from flashsale.allocator.waiting_room import Refusal, WaitingRoom, at_index
from flashsale.checkout_commands import (
    JOIN,
    QUEUE_COMMANDS,
    QUEUE_JOIN,
    CheckoutAnswer,
    CheckoutRequest,
)
from flashsale.config import WEBHOOK_MAX_AGE_S
from flashsale.journal import Journal, JournalLock
from flashsale.records import OrderRecord, Phase, SaleRecord, SaleTerms
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.store_board import StoreBoard
from flashsale.webhooks.outbox import Outbox
from flashsale.webhooks.pruning import PRUNE_EVERY_S, OutboxPruning

log = logging.getLogger("flashsale.allocator")

# The loop's longest sleep, and so how often an idle allocator says it is alive: five
# times within the breaker's default silence (1 s), without waking 20 times a second.
HEARTBEAT_S = 0.2
GIL_SWITCH_INTERVAL_S = 0.0002
# Holds expired in one turn of the loop at most: 10,000 falling due in the same second
# would otherwise hold up the purchases behind them for the whole batch.
EXPIRE_PER_TURN = 500

# What the selector's keys carry besides peers.
_STOP, _ACCEPTED, _COMMIT_DONE = object(), object(), object()


class Pipeline(Protocol):
    """What decides the purchases the loop reads and answers them: the group commits of
    SQLite (commits.py), or the batches sent to Redis (redis_engine/decisions.py)."""

    done_fd: int  # readable when the engine's call in flight is over

    def wait_s(self, idle_s: float) -> float: ...

    def advance(self, *, paced: bool = True) -> None: ...

    def complete(self) -> None: ...

    def settle(self) -> None: ...


class Allocator:
    def __init__(
        self,
        *,
        address: str,
        authkey: bytes,
        db_path: Path,
        first_sale: SaleTerms,
        board: SaleBoard,
        store_board: StoreBoard,
        lock: JournalLock,
        webhooks: bool = False,
        webhook_keep_s: float = WEBHOOK_MAX_AGE_S,
        prune_every_s: float = PRUNE_EVERY_S,
    ) -> None:
        """`webhooks`: append each decision's events to the journal's outbox, and prune
        the events the sender has finished once `webhook_keep_s` old."""
        self.db_path = db_path
        self.webhooks = webhooks
        self._pruning = OutboxPruning(db_path, webhook_keep_s, prune_every_s) if webhooks else None
        self.first_sale = first_sale
        self.board = board
        self.store_board = store_board
        self.lock = lock
        self._selector = selectors.DefaultSelector()
        self._acceptor = Acceptor(address, authkey)
        self._peers = Peers(self._selector)
        self._stop_r, self._stop_w = os.pipe()
        self._stopping = False
        self.room: WaitingRoom | None = None  # the sale's waiting room (SQLite engine)

    # -- process entry ------------------------------------------------------------
    def run(self, parent_pid: int | None = None) -> None:
        """Recover, serve until SIGTERM (or the parent's death), then stop cleanly."""
        if not self.lock.held:
            self.lock.acquire()  # before anything else: a refused allocator changes nothing
        signal.signal(signal.SIGTERM, lambda *_: self._stop())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master decides when we stop
        # The committer thread needs the GIL for a moment between SQLite calls
        # while this loop decides in pure Python; at the default 5 ms it would
        # wait that long each time.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self.board.announce_allocator(os.getpid())
        self._commits = self._open()
        # The book keeps every order and hold of the sale: recovery's are frozen.
        collector.settle_after_start()
        selector = self._selector
        selector.register(self._commits.done_fd, selectors.EVENT_READ, _COMMIT_DONE)
        selector.register(self._stop_r, selectors.EVENT_READ, _STOP)
        selector.register(self._acceptor.ready_fd, selectors.EVENT_READ, _ACCEPTED)
        self._acceptor.start()
        self.board.mark_ready(os.getpid())
        log.info("allocator %s ready: %s", os.getpid(), self._describe())
        try:
            while not self._stopping:
                self._serve_once()
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("allocator %s: master is gone, exiting", os.getpid())
                    break
            self._commits.settle()
        finally:
            self._acceptor.close()
            self._close()

    def _stop(self) -> None:
        self._stopping = True
        os.write(self._stop_w, b"x")

    # -- the engine: SQLite here, Redis in redis_engine/allocator.py -------------------
    def _open(self) -> Pipeline:
        """Recover the sale, publish it, and return what decides and answers purchases."""
        self.journal = Journal(self.db_path)
        self.book = self._recover()
        self.board.publish_ticket_key(self.journal.ticket_key)
        self.board.publish_sale(self.book.snapshot())
        self._publish_room()
        self.health = JournalHealth(self.journal, self.store_board)
        self.health.check()
        self._admin = AdminDesk(self.journal)
        self._group_commits = CommitPipeline(
            self.journal,
            self._peers,
            on_durable=self._durable,
            on_failure=self._commit_failed,
            outbox=Outbox() if self.webhooks else None,
        )
        return self._group_commits

    def _close(self) -> None:
        self.journal.close()

    def _describe(self) -> str:
        book = self.book
        return f"sale {book.sale.sale_id}, {book.sold} of {book.sale.stock} sold"

    def _recover(self) -> StockBook:
        self._normalise_old_user_ids()
        first = self.first_sale
        adopted = self.journal.adopt_products(first.products[0])
        if adopted:
            log.warning(
                "allocator: %s sales journaled before sales had products now sell %r",
                adopted,
                first.products[0].sku,
            )
        sale = self.journal.latest_sale()
        if sale is None:
            sale = self.journal.create_sale(first)
        book = self._load_book(sale)
        if book.checkout is not None:
            self._expire_at_start(book)
        return book

    def _load_book(self, sale: SaleRecord) -> StockBook:
        """The sale's book and waiting room, as the journal holds them."""
        orders = self.journal.orders_of_sale(sale.sale_id)
        if sale.terms.checkout is None:
            book = StockBook(sale, orders)
        else:
            book = StockBook(
                sale,
                orders,
                self.journal.checkout_rows(sale.sale_id),
                self.journal.waitlist(sale.sale_id),
                events=self.webhooks,
                token_key=self.journal.token_key,
            )
        self._open_room(book)
        return book

    def _open_room(self, book: StockBook) -> None:
        """The waiting room of `book`'s sale (if it has one) from the journal; the book
        asks it who may buy."""
        sale = book.sale
        self.room = None
        if sale.terms.queue is not None and sale.terms.starts_at_us is not None:
            now_us = time.time_ns() // 1000
            tickets, stands, proofs = self.journal.queue_of_sale(sale.sale_id, now_us)
            key = self.journal.ticket_key
            self.room = WaitingRoom(sale, key, tickets, stands, spent_proofs=proofs)
        book.gate = self.room

    def _expire_at_start(self, book: StockBook) -> None:
        """Holds that fell due while no allocator ran expire (and their units go to the
        waitlists) in one synced transaction, before any purchase is decided."""
        now_us = time.time_ns() // 1000
        book.close_at_end(now_us)
        expired = book.expire_due(now_us)
        orders, writes = book.take_unjournaled(), book.take_writes()
        if orders or writes:
            self.journal.record(orders, writes)
        if expired:
            log.warning("allocator: %s holds fell due while stopped: expired", expired)

    def _normalise_old_user_ids(self) -> None:
        try:
            rewritten, kept = self.journal.normalise_user_ids()
        except sqlite3.OperationalError as exc:  # a journal that cannot be written: later
            log.warning("allocator: old user ids not normalised yet (%s)", describe(exc))
            return
        if rewritten or kept:
            log.warning(
                "allocator: %s journaled user ids rewritten in NFKC form (%s kept: their "
                "normal form owns the same unit already)",
                rewritten,
                kept,
            )

    # -- the loop -------------------------------------------------------------------
    def _serve_once(self) -> None:
        batch: list[Pending] = []
        self._gather(batch, self._commits.wait_s(self._idle_s()))
        self._expire_holds()
        self._tick_room()
        if batch:
            self._decide(batch)
        self._commits.advance()
        self._between_batches()

    def _expire_holds(self) -> None:
        """A checkout sale's due holds (the Redis engine overrides: none there yet)."""
        if self.book.checkout is not None:
            self._expire_due()

    def _idle_s(self) -> float:
        """How long the loop may sleep: until its heartbeat, the next hold's expiry or
        the waiting room's next change (its draw, an admission)."""
        room = self.room
        if self.book.checkout is None and room is None:
            return HEARTBEAT_S
        wakes = []
        if self.book.checkout is not None:
            wakes = [at for at in (self.book.next_expiry_us(), self.book.next_end_us()) if at]
        if room is not None:
            at = room.next_change_us(time.time_ns() // 1000)
            if at is not None:
                wakes.append(at)
        if not wakes:
            return HEARTBEAT_S
        next_us = min(wakes)
        return min(HEARTBEAT_S, max(0.0, (next_us - time.time_ns() // 1000) / 1e6))

    def _expire_due(self) -> None:
        """The holds due now expire, in the next group commit with what they cause; at
        the sale's endsAt its waitlists close."""
        if self.health.failing:
            return  # a journal that cannot be written: they expire once it can
        now_us = time.time_ns() // 1000
        # Closed first: a unit released after the end is offered to nobody.
        closed = self.book.close_at_end(now_us)
        # At most EXPIRE_PER_TURN: the rest in the next turns (the loop does not sleep
        # while holds are due), so purchases are decided between them.
        if self.book.expire_due(now_us, EXPIRE_PER_TURN) or closed:
            self._take_book_changes()

    def _tick_room(self, now_us: int | None = None) -> None:
        """The waiting room's draw at the start, its admissions, and its closing once
        the sale is sold out or over: in the next group commit."""
        room = self.room
        if room is None or self.health.failing:
            return
        if now_us is None:
            now_us = time.time_ns() // 1000
        sale = self.book.sale
        ends_at_us = sale.terms.ends_at_us
        phase = sale.lifecycle.phase
        if room.tick(
            now_us,
            remaining=self.book.remaining,
            ended=phase is Phase.ENDED or (ends_at_us is not None and now_us >= ends_at_us),
            paused=phase is Phase.PAUSED,
        ):
            self._take_room_changes()

    def _take_room_changes(self) -> None:
        """Move what the waiting room decided into the next group commit, after the
        book's (its rows depend on no order)."""
        room, group = self.room, self._group_commits.next
        writes = room.take_writes() if room is not None else []
        if room is None or not writes:
            return
        group.writes += at_index(writes, len(group.orders))
        group.queue = (room.state, room.length, room.serving, room.waiting, room.changes)

    def _publish_room(self) -> None:
        room = self.room
        if room is None:
            self.board.publish_queue(None)
        else:
            self.board.publish_queue(
                (room.state, room.length, room.serving, room.waiting, room.changes)
            )

    def _between_batches(self) -> None:
        self.health.check_if_due()
        if self._pruning is not None:
            delete = self._pruning.due(time.monotonic(), time.time_ns() // 1000)
            if delete is not None:
                group = self._group_commits.next
                group.writes.append((len(group.orders), *delete))

    def _gather(self, batch: list[Pending], timeout_s: float) -> None:
        """Wait up to `timeout_s` for work; read every request that came into `batch`,
        then tell each worker how much of its connection has been read."""
        events = self._selector.select(timeout_s)
        self.board.beat()
        read_from: list[Peer] = []
        for key, mask in events:
            peer = key.data
            if peer is _COMMIT_DONE:
                self._commits.complete()
            elif peer is _ACCEPTED:
                for conn in self._acceptor.take():
                    self._peers.admit(conn)
            elif peer is _STOP:
                os.read(self._stop_r, 64)
            else:
                if mask & selectors.EVENT_READ and self._peers.drain(peer, batch):
                    read_from.append(peer)
                if mask & selectors.EVENT_WRITE and not peer.closed:
                    self._peers.flush(peer)
        for peer in read_from:
            self._peers.acknowledge(peer)

    def _decide(self, batch: list[Pending]) -> None:
        purchases = [item for item in batch if item.kind == Kind.PURCHASE]
        group = self._group_commits.next
        decide_purchases(self.book, purchases, group.replies, selling=not self.health.failing)
        self._take_book_changes()
        self._take_room_changes()
        for item in batch:
            if item.kind == Kind.CHECKOUT:
                self._checkout_command(item)
            elif item.kind == Kind.ADMIN:
                # The decisions before it are durable and answered first: a pause is exact.
                self._group_commits.settle()
                reply = self._admin_command(item).encode()
                self._peers.send({item.peer: [frame(reply)]})

    def _take_book_changes(self) -> None:
        """Move what the book decided into the next group commit."""
        book, group = self.book, self._group_commits.next
        base = len(group.orders)
        group.orders += book.take_unjournaled()
        if book.checkout is None:
            return
        group.writes += [(base + at, sql, params) for at, sql, params in book.take_writes()]
        shelves = {
            place: (live, *counts)
            for place, (live, counts) in enumerate(
                zip(book.sold_by_sku().values(), book.held_by_place(), strict=False)
            )
        }
        group.counts = (book.live, shelves, book.offers)

    def _checkout_command(self, item: Pending) -> None:
        request = CheckoutRequest.decode(item.body)
        if request.command in QUEUE_COMMANDS:
            answer = self._queue_command(request)
        elif self.health.failing or (self.book.checkout is None and request.command != JOIN):
            answer = CheckoutAnswer(
                503 if self.health.failing else 404,
                "not-selling" if self.health.failing else "unknown-order",
                {},
            )
        else:
            answer = decide_checkout(self.book, request, time.time_ns() // 1000)
            self._take_book_changes()
        frame_bytes = frame(checkout_reply(item.seq, item.request_id, answer).encode())
        self._group_commits.next.replies.setdefault(item.peer, []).append(frame_bytes)

    def _queue_command(self, request: CheckoutRequest) -> CheckoutAnswer:
        """A join of the waiting room, or a ticket's read (its holder checked by the
        worker's look at its signature: here only that the number is that holder's)."""
        room = self.room
        if self.health.failing:
            return CheckoutAnswer(503, "not-selling", {})
        if room is None:
            return CheckoutAnswer(404, "no-queue", {"detail": "this sale has no waiting room"})
        now_us = time.time_ns() // 1000
        self._tick_room(now_us)  # a join at the start comes after the draw
        if request.command == QUEUE_JOIN:
            joined = room.join(request.user_id, now_us, request.token)
            if isinstance(joined, Refusal):
                return CheckoutAnswer(joined.status, joined.problem, {"detail": joined.detail})
            self._take_room_changes()
            status, ticket = joined
            return CheckoutAnswer(status, entry=ticket)
        number = int(request.order_id) if request.order_id.isdigit() else 0
        read = room.read(number, now_us)
        if read is None or read["userId"] != request.user_id:
            return CheckoutAnswer(404, "unknown-ticket", {"detail": "no ticket of this sale"})
        return CheckoutAnswer(200, entry=read)

    # -- what the commits report ------------------------------------------------------
    def _durable(self, group: CommitGroup) -> None:
        if group.queue is not None:
            self.board.publish_queue(group.queue)
        orders = group.orders
        if group.counts is not None:
            live, shelves, offers = group.counts
            # An offered hold is a sale too (its row is one of the writes, not an order).
            holds = sum(1 for _, sql, _ in group.writes if sql == INSERT_HOLD)
            self.board.publish_holds(live, len(orders) + holds, shelves, offers)
            return
        if not orders:
            return  # only writes (the outbox pruned): no sale to publish
        self.board.publish_sold(orders[-1].position, len(orders), self._product_totals(orders))

    def _product_totals(self, orders: list[OrderRecord]) -> dict[int, int]:
        """Each product's sold count after `orders` (in position order), by its place:
        its last order's. Read from the end, so a sale of one product reads one."""
        place_of, products = self.book.place_of, len(self.book.sale.terms.products)
        totals: dict[int, int] = {}
        for order in reversed(orders):
            place = place_of(order.sku)
            if place not in totals:
                totals[place] = order.sku_position
                if len(totals) == products:
                    break
        return totals

    def _commit_failed(self, error: sqlite3.OperationalError) -> Callable[[str], bool]:
        """Stop selling and forget the sales nobody was told of: the book becomes what
        the journal holds. Returns whether the journal holds an order id."""
        self.health.failed(error)
        self.book = self._load_book(self.book.sale)
        return self.book.holds_order

    # -- the operator's commands ------------------------------------------------------
    def _admin_command(self, request: Pending) -> Reply:
        command = AdminRequest.decode(request.body)
        if self.health.failing:
            self.health.check()  # now: an operator is waiting
        answer: AdminAnswer
        if self.health.error is not None:
            answer = not_selling(self.health.error)
        else:
            sale = self.book.sale
            try:
                answer, book = self._admin.decide(self.book, command)
            except sqlite3.OperationalError as exc:
                self.health.failed(exc)
                answer = not_selling(describe(exc))
            else:
                if book is not self.book or book.sale is not sale:  # a new sale, or a change
                    if book is not self.book:
                        book.events = self.webhooks and book.checkout is not None
                    self.book = book
                    if book.sale.sale_id != sale.sale_id:
                        self._open_room(book)
                    else:
                        book.gate = self.room
                    if book.checkout is not None and book.sale.lifecycle.phase is Phase.ENDED:
                        book.close_waitlists()  # durable with the next group commit
                        self._take_book_changes()
                    self.board.publish_sale(book.snapshot())
                    if book.sale.sale_id != sale.sale_id:
                        self._publish_room()
                    _log_change(answer)
        return admin_reply(request.seq, request.request_id, answer)


def not_selling(error: str) -> AdminAnswer:
    """Nothing was changed: the store cannot be written, for `error`."""
    return AdminAnswer(503, "not-selling", {"error": error})


def _log_change(answer: AdminAnswer) -> None:
    sale = answer.sale
    if sale is None:
        return
    if answer.status == 201 and not answer.replayed:
        log.info(
            "allocator: sale %s created with %s products, stock %s",
            sale.sale_id,
            len(sale.terms.products),
            sale.stock,
        )
    elif answer.status == 200:
        log.info(
            "allocator: sale %s is %s (version %s)",
            sale.sale_id,
            sale.lifecycle.phase.word,
            sale.lifecycle.version,
        )
