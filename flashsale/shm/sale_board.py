"""The sale board: the current sale, its sold count and the allocator's liveness.

Layout (int64 words):

  word  field               writer      notes
  0     version             allocator   seqlock: odd while words 1-6 are rewritten
  1     sale_id             allocator   \
  2     stock               allocator    |  one sale, published as a whole when the
  3     per_user_limit      allocator    |  allocator recovers or starts a new sale
  4     starts_at_us        allocator    |  (-1: open from creation)
  5     ends_at_us          allocator    |  (-1: never ends)
  6     created_at_us       allocator   /
  7     sold                allocator   durable sales of the sale; only grows within a sale
  8     allocator_pid       allocator
  9     heartbeat_ns        allocator   CLOCK_MONOTONIC, the same clock in every process
  10    ready_pid           allocator   pid of the allocator once it has recovered
  11    restarts            master      allocators restarted after a death
  12    started_at_us       master      when the server started
  13    commits             allocator   journal commits (each one fsync) since it started
  14    committed_sales     allocator   sales written by those commits
  15    catalogue_bytes     allocator   in the seqlock: the length of the catalogue
  16    phase               allocator   in the seqlock: 0 active, 1 paused, 2 ended
  17    lifecycle_version   allocator   in the seqlock: +1 on each change of the lifecycle
  18    paused_at_us        allocator   in the seqlock (-1: not paused)
  19    ended_at_us         allocator   in the seqlock (-1: not ended by a command)
  20..  product sold[64]    allocator   each product's durable sales, in catalogue order;
                                        written before `sold`
  84..  product held[64]    allocator   a sale with holds: each product's holds
  148.. product waiting[64] allocator   a sale with holds: each product's waiting entries
  212   offers              allocator   units offered to waitlists in the sale
  213   hold_s              allocator   in the seqlock: the checkout window (-1: none)
  214   extend_s            allocator   in the seqlock
  215   hold_changes        allocator   +1 after each durable change of a sale with holds:
                                        readers' snapshots are keyed by it too
  216.. product expired[64] allocator   a sale with holds: each product's expired orders
  280.. product cancelled[64] allocator a sale with holds: each product's cancelled orders
  344   queue_flags         allocator   in the seqlock: -1 no waiting room, else 1 shuffle
                                        + 2 proof of work
  345   queue_opens_at_us   allocator   in the seqlock (-1: open from the sale's creation)
  346   admit_per_minute    allocator   in the seqlock (-1: all at once)
  347   admitted_s          allocator   in the seqlock
  348   queue_state         allocator   0 pre-queue, 1 admitting, 2 closed
  349   queue_length        allocator   tickets issued
  350   queue_serving       allocator   the highest place admitted
  351   queue_waiting       allocator   tickets not admitted yet
  352   queue_changes       allocator   +1 after each durable change of the waiting room,
                                        written last: readers' snapshots are keyed by it
  353.. ticket_key[4]       allocator   the store's key that signs the waiting room's
                                        tickets (32 bytes; 0: not published yet), written
                                        once at recovery: workers verify tickets with it
  then  catalogue           allocator   in the seqlock: the sale's products as JSON
                                        (name, price, stock...), parsed once per sale

In a sale with holds `sold` and each product's sold are its live units (held +
confirmed): they fall again when a hold ends, and change with the holds' counts
after each durable commit (publish_holds), the products' before the total.

Workers learn a new sale's products from here, never from the disk, and its
lifecycle too (flashsale.records.Lifecycle), republished with the sale on each
change: a paused sale is answered `paused` by every worker without IPC once the
allocator has published the pause, which it does once the pause is durable.

Readers never lock: `sale()` retries until it reads the same even version before
and after the sale words. Each reader keeps the last snapshot it built and
hands it out again while the version and `sold` are unchanged. `sold` is
written after each durable commit, outside the seqlock: a reader may pair a
fresh sale with a `sold` that is one commit old, which is harmless because sold
only grows and the allocator decides every sale. The products' sold counts are
written before the total, so a snapshot's products are never older than its
`sold` (which keys the cache).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from flashsale.catalogue import MAX_PRODUCTS, Product
from flashsale.records import (
    CheckoutTerms,
    Lifecycle,
    Phase,
    QueueTerms,
    SaleRecord,
    SaleTerms,
)
from flashsale.sale_lifecycle import OPEN, SOLD_OUT, sale_state
from flashsale.shm.segment import Words

NO_TIME = -1
_VERSION, _SALE_ID, _STOCK, _LIMIT, _STARTS, _ENDS, _CREATED = range(7)
_SOLD, _PID, _HEARTBEAT, _READY_PID, _RESTARTS, _STARTED, _COMMITS, _COMMITTED = range(7, 15)
_CATALOGUE_BYTES = 15
_PHASE, _LIFECYCLE_VERSION, _PAUSED_AT, _ENDED_AT = range(16, 20)
_PRODUCT_SOLD = 20
_PRODUCT_HELD = _PRODUCT_SOLD + MAX_PRODUCTS
_PRODUCT_WAITING = _PRODUCT_HELD + MAX_PRODUCTS
_OFFERS = _PRODUCT_WAITING + MAX_PRODUCTS
_HOLD_S, _EXTEND_S, _HOLD_CHANGES = _OFFERS + 1, _OFFERS + 2, _OFFERS + 3
_PRODUCT_EXPIRED = _HOLD_CHANGES + 1
_PRODUCT_CANCELLED = _PRODUCT_EXPIRED + MAX_PRODUCTS
_Q_FLAGS = _PRODUCT_CANCELLED + MAX_PRODUCTS
_Q_OPENS, _Q_RATE, _Q_ADMITTED_S = _Q_FLAGS + 1, _Q_FLAGS + 2, _Q_FLAGS + 3
_Q_STATE, _Q_LENGTH, _Q_SERVING, _Q_WAITING, _Q_CHANGES = range(_Q_FLAGS + 4, _Q_FLAGS + 9)
_TICKET_KEY = _Q_CHANGES + 1
_TICKET_KEY_WORDS = 4
_WORDS = _TICKET_KEY + _TICKET_KEY_WORDS
_SHUFFLE, _PROOF_OF_WORK = 1, 2
_PHASES = tuple(Phase)  # by value: the phase word read from the board
# Room for the largest catalogue flashsale.catalogue allows (64 products of the
# longest texts, in UTF-8); pages of an anonymous mapping cost nothing until written.
CATALOGUE_MAX_BYTES = 2 * 1024 * 1024


class ProductStock(NamedTuple):
    """One product of the sale and its durable sales (live units, in a sale with holds)."""

    product: Product
    sold: int
    held: int = 0
    waiting: int = 0
    expired: int = 0  # orders expired (and not taken back by a late confirm)
    cancelled: int = 0

    @property
    def remaining(self) -> int:
        return max(self.product.stock - self.sold, 0)


class QueueFigures(NamedTuple):
    """Where a sale's waiting room stands (flashsale.allocator.waiting_room)."""

    state: int  # 0 pre-queue, 1 admitting, 2 closed
    length: int  # tickets issued
    serving: int  # the highest place admitted
    waiting: int  # tickets not admitted yet


QUEUE_STATES = ("prequeue", "admitting", "closed")
NO_QUEUE_FIGURES = QueueFigures(0, 0, 0, 0)


@dataclass(frozen=True)
class SaleSnapshot:
    sale_id: int
    stock: int
    per_user_limit: int
    starts_at_us: int | None
    ends_at_us: int | None
    created_at_us: int
    sold: int  # over all products
    products: tuple[ProductStock, ...]
    phase: Phase = Phase.ACTIVE
    version: int = 1  # the lifecycle's
    paused_at_us: int | None = None
    ended_at_us: int | None = None
    checkout: CheckoutTerms | None = None
    offers: int = 0  # units offered to waitlists
    # A sale with holds: its durable changes published so far (hold_changes). Its live
    # orders are the same while this is (a unit that comes back, a retake), so what
    # was read of them may be kept until it moves. Not part of the sale's value.
    changes: int = field(default=0, compare=False)
    queue: QueueTerms | None = None  # a waiting room's terms
    queue_now: QueueFigures = NO_QUEUE_FIGURES  # and where it stands

    @classmethod
    def of(
        cls,
        sale: SaleRecord,
        sold: Mapping[str, int],
        held: Sequence[tuple[int, int, int, int]] = (),
        offers: int = 0,
    ) -> SaleSnapshot:
        """`sale` with its sold counts: by sku, and "" for the whole sale; a sale with
        holds also with each product's (holds, waiting, expired, cancelled), in catalogue
        order."""
        lifecycle = sale.lifecycle
        holds = list(held) or [(0, 0, 0, 0)] * len(sale.terms.products)
        return cls(
            sale_id=sale.sale_id,
            stock=sale.stock,
            per_user_limit=sale.terms.per_user_limit,
            starts_at_us=sale.terms.starts_at_us,
            ends_at_us=sale.terms.ends_at_us,
            created_at_us=sale.created_at_us,
            sold=sold.get("", 0),
            products=tuple(
                ProductStock(p, sold.get(p.sku, 0), *counts)
                for p, counts in zip(sale.terms.products, holds, strict=True)
            ),
            phase=lifecycle.phase,
            version=lifecycle.version,
            paused_at_us=lifecycle.paused_at_us,
            ended_at_us=lifecycle.ended_at_us,
            checkout=sale.terms.checkout,
            offers=offers,
            queue=sale.terms.queue,
        )

    @property
    def held(self) -> int:
        return sum(item.held for item in self.products)

    @property
    def remaining(self) -> int:
        return max(self.stock - self.sold, 0)

    def record(self) -> SaleRecord:
        """The sale as its engine keeps it (without its sold counts: `sold_by_sku`)."""
        terms = SaleTerms(
            tuple(item.product for item in self.products),
            self.per_user_limit,
            self.starts_at_us,
            self.ends_at_us,
            self.checkout,
            self.queue,
        )
        lifecycle = Lifecycle(self.phase, self.version, self.paused_at_us, self.ended_at_us)
        return SaleRecord(self.sale_id, self.stock, terms, self.created_at_us, lifecycle)

    def sold_by_sku(self) -> dict[str, int]:
        """Each product's sold count, and "" for the whole sale."""
        return {**{item.product.sku: item.sold for item in self.products}, "": self.sold}

    @cached_property
    def places(self) -> dict[str, int]:
        """Each product's place in `products`, by sku."""
        return {item.product.sku: place for place, item in enumerate(self.products)}

    def state(self, now_us: int) -> str:
        """As a shopper sees it (flashsale.sale_lifecycle)."""
        return sale_state(self.phase, self.starts_at_us, self.ends_at_us, self.remaining, now_us)

    def product_state(self, place: int, now_us: int) -> str:
        """The sale's state, but `sold_out` as soon as this product is gone."""
        state = self.state(now_us)
        if state == OPEN and self.products[place].remaining == 0:
            return SOLD_OUT
        return state


@dataclass(frozen=True)
class AllocatorLiveness:
    pid: int
    heartbeat_age_s: float
    ready: bool
    restarts: int
    commits: int
    committed_sales: int

    def alive(self, stale_after_s: float) -> bool:
        return self.ready and self.heartbeat_age_s < stale_after_s


class SaleBoard:
    def __init__(self) -> None:
        self._words = Words(_WORDS, extra_bytes=CATALOGUE_MAX_BYTES)
        self._catalogue = self._words.bytes_after()
        # This process's last snapshot and the (version, sold) it was read at.
        self._last: tuple[int, int, SaleSnapshot, int, int] | None = None
        # The catalogue parsed at a version: parsing once per sale, not per sold count.
        self._products: tuple[int, tuple[Product, ...]] = (0, ())

    # -- the allocator's side -------------------------------------------------
    def publish_sale(self, sale: SaleSnapshot) -> None:
        catalogue = json.dumps(
            [item.product.spec_json() for item in sale.products], ensure_ascii=False
        ).encode()
        if len(catalogue) > CATALOGUE_MAX_BYTES:  # flashsale.catalogue's bounds keep it below
            raise ValueError(f"a catalogue of {len(catalogue)} bytes")
        words = self._words
        version = words[_VERSION]
        words[_VERSION] = version + 1  # odd: readers retry
        words[_SALE_ID] = sale.sale_id
        words[_STOCK] = sale.stock
        words[_LIMIT] = sale.per_user_limit
        words[_STARTS] = NO_TIME if sale.starts_at_us is None else sale.starts_at_us
        words[_ENDS] = NO_TIME if sale.ends_at_us is None else sale.ends_at_us
        words[_CREATED] = sale.created_at_us
        words[_CATALOGUE_BYTES] = len(catalogue)
        words[_PHASE] = sale.phase
        words[_LIFECYCLE_VERSION] = sale.version
        words[_PAUSED_AT] = NO_TIME if sale.paused_at_us is None else sale.paused_at_us
        words[_ENDED_AT] = NO_TIME if sale.ended_at_us is None else sale.ended_at_us
        self._catalogue[: len(catalogue)] = catalogue
        checkout = sale.checkout
        words[_HOLD_S] = NO_TIME if checkout is None else checkout.hold_s
        words[_EXTEND_S] = NO_TIME if checkout is None else checkout.extend_s
        for place, item in enumerate(sale.products):
            words[_PRODUCT_SOLD + place] = item.sold
            words[_PRODUCT_HELD + place] = item.held
            words[_PRODUCT_WAITING + place] = item.waiting
            words[_PRODUCT_EXPIRED + place] = item.expired
            words[_PRODUCT_CANCELLED + place] = item.cancelled
        words[_OFFERS] = sale.offers
        queue = sale.queue
        if queue is None:
            words[_Q_FLAGS] = NO_TIME
        else:
            words[_Q_FLAGS] = _SHUFFLE * queue.shuffle + _PROOF_OF_WORK * queue.proof_of_work
            words[_Q_OPENS] = NO_TIME if queue.opens_at_us is None else queue.opens_at_us
            words[_Q_RATE] = NO_TIME if queue.admit_per_minute is None else queue.admit_per_minute
            words[_Q_ADMITTED_S] = queue.admitted_s
        words[_SOLD] = sale.sold
        words[_HOLD_CHANGES] += 1
        words[_VERSION] = version + 2

    def publish_sold(self, sold: int, batch: int, product_sold: dict[int, int]) -> None:
        """After a durable commit of `batch` sales: the new totals (each changed product's
        by its place) and the commit count."""
        words = self._words
        for place, product_total in product_sold.items():
            words[_PRODUCT_SOLD + place] = product_total
        words[_SOLD] = sold
        words[_COMMITS] += 1
        words[_COMMITTED] += batch

    def publish_holds(
        self,
        live: int,
        batch: int,
        shelves: dict[int, tuple[int, int, int, int, int]],
        offers: int,
    ) -> None:
        """After a durable commit in a sale with holds: live units, and each product's
        (live, held, waiting, expired, cancelled) by its place; then `hold_changes`,
        which readers key on."""
        words = self._words
        for place, (product_live, held, waiting, expired, cancelled) in shelves.items():
            words[_PRODUCT_SOLD + place] = product_live
            words[_PRODUCT_HELD + place] = held
            words[_PRODUCT_WAITING + place] = waiting
            words[_PRODUCT_EXPIRED + place] = expired
            words[_PRODUCT_CANCELLED + place] = cancelled
        words[_OFFERS] = offers
        words[_SOLD] = live
        words[_COMMITS] += 1
        words[_COMMITTED] += batch
        words[_HOLD_CHANGES] += 1

    def publish_queue(self, figures: tuple[int, int, int, int, int] | None) -> None:
        """Where the waiting room stands, once durable: (state, tickets, serving, waiting,
        changes); None: the sale has none. `queue_changes` last, which readers key on."""
        words = self._words
        state, length, serving, waiting, _ = figures or (0, 0, 0, 0, 0)
        words[_Q_STATE] = state
        words[_Q_LENGTH] = length
        words[_Q_SERVING] = serving
        words[_Q_WAITING] = waiting
        words[_Q_CHANGES] += 1

    def update_sold(self, sold: int, product_sold: dict[int, int]) -> None:
        """Sales made elsewhere (another host's, in the Redis engine), learnt by this host."""
        words = self._words
        for place, product_total in product_sold.items():
            words[_PRODUCT_SOLD + place] = product_total
        words[_SOLD] = sold

    def publish_ticket_key(self, key: bytes) -> None:
        if len(key) != 8 * _TICKET_KEY_WORDS:
            raise ValueError(f"a ticket key of {len(key)} bytes")
        for at in range(_TICKET_KEY_WORDS):
            word = int.from_bytes(key[8 * at : 8 * at + 8], "big", signed=True)
            self._words[_TICKET_KEY + at] = word

    def ticket_key(self) -> bytes | None:
        """The key tickets are signed with (None: no allocator has published it yet)."""
        words = [self._words[_TICKET_KEY + at] for at in range(_TICKET_KEY_WORDS)]
        if not any(words):
            return None
        return b"".join(word.to_bytes(8, "big", signed=True) for word in words)

    def announce_allocator(self, pid: int) -> None:
        self._words[_PID] = pid
        self.beat()

    def mark_ready(self, pid: int) -> None:
        self._words[_READY_PID] = pid

    def was_ready(self, pid: int) -> bool:
        """Whether allocator `pid` recovered and served (also after its death)."""
        return self._words[_READY_PID] == pid

    def beat(self) -> None:
        self._words[_HEARTBEAT] = time.monotonic_ns()

    # -- the master's side ----------------------------------------------------
    def count_restart(self) -> None:
        self._words[_RESTARTS] += 1

    def mark_server_started(self) -> None:
        self._words[_STARTED] = time.time_ns() // 1000

    # -- every reader ---------------------------------------------------------
    def sale(self) -> SaleSnapshot | None:
        words = self._words.view  # read on every request: straight from the memoryview
        last = self._last
        if last is not None:
            version, sold, changes = words[_VERSION], words[_SOLD], words[_HOLD_CHANGES]
            # The version unchanged after `sold`: the sale words are the ones read.
            if (
                version == last[0]
                and sold == last[1]
                and changes == last[3]
                and words[_Q_CHANGES] == last[4]
                and words[_VERSION] == version
            ):
                return last[2]
        while True:
            before = words[_VERSION]
            if before & 1:
                continue
            changes = words[_HOLD_CHANGES]
            queue_changes = words[_Q_CHANGES]
            fields = words[_SALE_ID : _SOLD + 1].tolist()
            queue_terms = words[_Q_FLAGS : _Q_ADMITTED_S + 1].tolist()
            lifecycle = words[_PHASE : _ENDED_AT + 1].tolist()
            hold_s, extend_s, offers = words[_HOLD_S], words[_EXTEND_S], words[_OFFERS]
            parsed_at, products = self._products
            if parsed_at != before:
                catalogue = bytes(self._catalogue[: words[_CATALOGUE_BYTES]])
            if words[_VERSION] == before:
                break
        if before == 0:
            return None  # no allocator has published a sale yet
        if parsed_at != before:
            products = tuple(map(Product.from_spec, json.loads(catalogue)))
            self._products = (before, products)
        sale_id, stock, limit, starts, ends, created, sold = fields
        phase, version, paused_at, ended_at = lifecycle
        count = len(products)
        solds = words[_PRODUCT_SOLD : _PRODUCT_SOLD + count].tolist()
        if hold_s == NO_TIME:
            helds = waitings = expireds = cancelleds = [0] * count
        else:
            helds = words[_PRODUCT_HELD : _PRODUCT_HELD + count].tolist()
            waitings = words[_PRODUCT_WAITING : _PRODUCT_WAITING + count].tolist()
            expireds = words[_PRODUCT_EXPIRED : _PRODUCT_EXPIRED + count].tolist()
            cancelleds = words[_PRODUCT_CANCELLED : _PRODUCT_CANCELLED + count].tolist()
        snapshot = SaleSnapshot(
            sale_id=sale_id,
            stock=stock,
            per_user_limit=limit,
            starts_at_us=None if starts == NO_TIME else starts,
            ends_at_us=None if ends == NO_TIME else ends,
            created_at_us=created,
            sold=sold,
            products=tuple(
                map(ProductStock, products, solds, helds, waitings, expireds, cancelleds)
            ),
            phase=_PHASES[phase],
            version=version,
            paused_at_us=None if paused_at == NO_TIME else paused_at,
            ended_at_us=None if ended_at == NO_TIME else ended_at,
            checkout=None if hold_s == NO_TIME else CheckoutTerms(hold_s, extend_s),
            offers=offers,
            changes=changes,
            queue=_queue_terms(*queue_terms),
            queue_now=QueueFigures(*words[_Q_STATE : _Q_WAITING + 1].tolist()),
        )
        self._last = (before, sold, snapshot, changes, queue_changes)
        return snapshot

    def heartbeat_age_s(self) -> float:
        """Seconds since the allocator's last beat (read on every purchase: one word)."""
        return (time.monotonic_ns() - self._words[_HEARTBEAT]) / 1e9

    def allocator(self) -> AllocatorLiveness:
        words = self._words
        pid = words[_PID]
        return AllocatorLiveness(
            pid=pid,
            heartbeat_age_s=(time.monotonic_ns() - words[_HEARTBEAT]) / 1e9,
            ready=pid != 0 and words[_READY_PID] == pid,
            restarts=words[_RESTARTS],
            commits=words[_COMMITS],
            committed_sales=words[_COMMITTED],
        )

    @property
    def server_started_at_us(self) -> int:
        return self._words[_STARTED]


def _queue_terms(flags: int, opens_at_us: int, rate: int, admitted_s: int) -> QueueTerms | None:
    if flags == NO_TIME:
        return None
    return QueueTerms(
        None if opens_at_us == NO_TIME else opens_at_us,
        bool(flags & _SHUFFLE),
        None if rate == NO_TIME else rate,
        admitted_s,
        bool(flags & _PROOF_OF_WORK),
    )
