"""The stock book: the allocator's in-memory state of one sale and its decisions.

A sale has one or more products, each with its own stock; the per-user limit
counts over the whole sale (a product may have a lower one of its own). One
book serves the whole sale first come, first served, and refuses everything
while the sale is paused or ended (flashsale.sale_lifecycle). Pure logic, no I/O: the
allocator loop feeds it requests in arrival order and journals the orders it
returns before anyone is told.
"""

from __future__ import annotations

import heapq
import secrets
from collections.abc import Iterable, Sequence
from typing import Protocol

from flashsale.catalogue import Product
from flashsale.checkout_rules import (
    CANCELLED,
    CLOSED,
    CONFIRMED,
    EXPIRED,
    HELD,
    LIVE,
    OFFERED,
    WAITING,
    checkout_token,
    due,
    new_token,
    offered_checkout_token,
    token_digest,
    token_matches,
    unit_free,
)
from flashsale.journal import CheckoutRow, WaitlistRow, Write
from flashsale.outcomes import Outcome
from flashsale.records import OrderRecord, Phase, SaleRecord, order_id_for
from flashsale.sale_lifecycle import ENDED, PAUSED, UPCOMING, sale_state
from flashsale.shm.sale_board import SaleSnapshot
from flashsale.webhooks import events as webhook
from flashsale.webhooks.outbox import INSERT_EVENT


class Gate(Protocol):
    """Who may buy now: a sale's waiting room admits its tickets' holders."""

    def admits(self, user_id: str, now_us: int) -> bool: ...

    def used(self, user_id: str, now_us: int) -> None: ...


# The refusal of each state in which nothing is sold.
_CLOSED = {ENDED: Outcome.ENDED, PAUSED: Outcome.PAUSED, UPCOMING: Outcome.NOT_STARTED}


class _Shelf:
    """One product's stock: its live units (held + confirmed), the highest slot ever
    taken, the slots released since (taken again first), its holds and waitlist, and
    how many of its orders are expired and cancelled now."""

    __slots__ = (
        "cancelled",
        "expired",
        "free",
        "held",
        "live",
        "place",
        "product",
        "top",
        "waitlist",
    )

    def __init__(self, place: int, product: Product) -> None:
        self.place = place
        self.product = product
        self.live = 0
        self.top = 0  # with nothing ever released, the live count
        self.free: list[int] = []  # a heap of released slots
        self.held = 0
        self.waitlist: list[Entry] = []  # in the order they joined
        self.expired = 0  # less those a late confirm took back
        self.cancelled = 0

    def count_released(self, state: str, by: int) -> None:
        if state == EXPIRED:
            self.expired += by
        elif state == CANCELLED:
            self.cancelled += by

    def take_slot(self) -> int:
        self.live += 1
        if self.free:
            return heapq.heappop(self.free)
        self.top += 1
        return self.top

    def waiting(self) -> int:
        return sum(1 for entry in self.waitlist if entry.state == WAITING)


class Hold:
    """An order of a sale with a checkout window: its state and hold, which change."""

    __slots__ = ("expires_at_us", "extended", "order", "payment_ref", "state", "token_sha256")

    def __init__(
        self,
        order: OrderRecord,
        state: str,
        expires_at_us: int | None,
        token_sha256: bytes | None,
        extended: bool = False,
        payment_ref: str | None = None,
    ) -> None:
        self.order = order
        self.state = state
        self.expires_at_us = expires_at_us
        self.token_sha256 = token_sha256
        self.extended = extended
        self.payment_ref = payment_ref


class Entry:
    """A place on a product's waitlist."""

    __slots__ = (
        "offer_token_sha256",
        "order_id",
        "place",
        "sku",
        "state",
        "token_sha256",
        "user_id",
    )

    def __init__(
        self,
        sku: str,
        place: int,
        user_id: str,
        state: str,
        order_id: str | None,
        token_sha256: bytes,
        offer_token_sha256: bytes,
    ) -> None:
        self.sku = sku
        self.place = place
        self.user_id = user_id
        self.state = state
        self.order_id = order_id
        self.token_sha256 = token_sha256
        self.offer_token_sha256 = offer_token_sha256


class StockBook:
    def __init__(
        self,
        sale: SaleRecord,
        orders: Iterable[OrderRecord] = (),
        holds: Iterable[CheckoutRow] = (),
        waitlist: Iterable[WaitlistRow] = (),
        *,
        events: bool = False,
        token_key: bytes | None = None,
    ) -> None:
        """`events` (webhooks on, a sale with a checkout window): each decision's outbox
        events join its writes, so they are appended in its transaction, in its order.
        (Without a window the committer's Outbox makes them from the orders.)
        `token_key`: the secret checkout tokens are derived from (the journal's; none:
        one of this book's own, which a restart would not know)."""
        self.sale = sale
        self.events = events
        self._token_key = token_key or secrets.token_bytes(32)
        self._closed_at_end = False  # the waitlists were closed at the sale's endsAt
        self.checkout = sale.terms.checkout
        self.position = 0  # the latest decision's position
        self.live = 0  # held + confirmed units over the whole sale
        self.offers = 0  # units offered to waitlists
        self._shelves = {p.sku: _Shelf(place, p) for place, p in enumerate(sale.terms.products)}
        self._by_user: dict[str, list[OrderRecord]] = {}  # live orders only
        self._by_id: dict[str, OrderRecord] = {}
        self.holds: dict[str, Hold] = {}  # by order id, in a sale with a checkout window
        self._expiry: list[tuple[int, str]] = []  # (expires_at_us, order id): a heap
        self._unjournaled: list[OrderRecord] = []
        self._writes: list[Write] = []
        self.issued: tuple[str, int] | None = None  # the last hold's (token, expires_at_us)
        # A sale with a waiting room: who may buy (flashsale.allocator.waiting_room).
        self.gate: Gate | None = None
        self.last_sold_at_us = 0  # the latest decision instant of a sale
        states = {row.order_id: row for row in holds}
        for order in sorted(orders, key=lambda o: o.position):
            self._recover(order, states.get(order.order_id))
        for row in waitlist:
            self._shelves[row.sku].waitlist.append(Entry(*row))
            self.offers += row.state == OFFERED
        if self.checkout is not None:
            self.finish_recovery()
        for shelf in self._shelves.values():
            if shelf.live > shelf.product.stock:
                raise RuntimeError(
                    f"journal holds {shelf.live} live orders of {shelf.product.sku} "
                    f"for a stock of {shelf.product.stock}"
                )

    def _recover(self, order: OrderRecord, row: CheckoutRow | None) -> None:
        self._by_id[order.order_id] = order
        if order.position > self.position:
            self.position = order.position
            self.last_sold_at_us = order.purchased_at_us
        shelf = self._shelves[order.sku]
        shelf.top = max(shelf.top, order.sku_position)
        if row is not None and self.checkout is not None:
            self.holds[order.order_id] = Hold(
                order, row.state, row.expires_at_us, row.token_sha256, row.extended, row.payment_ref
            )
            if row.state == HELD:
                shelf.held += 1
                heapq.heappush(self._expiry, (row.expires_at_us or 0, order.order_id))
            elif row.state not in LIVE:
                shelf.count_released(row.state, 1)
                return
        self._own(order)
        shelf.live += 1
        self.live += 1

    def _own(self, order: OrderRecord) -> None:
        owned = self._by_user.get(order.user_id)
        if owned is None:
            self._by_user[order.user_id] = [order]
        else:
            owned.append(order)

    def finish_recovery(self) -> None:
        """The slots below each product's highest that no live order holds were released."""
        taken: dict[str, set[int]] = {}
        for owned in self._by_user.values():
            for order in owned:
                taken.setdefault(order.sku, set()).add(order.sku_position)
        for sku, shelf in self._shelves.items():
            used = taken.get(sku, set())
            shelf.free = [slot for slot in range(1, shelf.top + 1) if slot not in used]

    def decide(
        self, user_id: str, sku: str, request_id: bytes, now_us: int, expired: bool, resent: int
    ) -> tuple[Outcome, OrderRecord | None]:
        """One purchase attempt. `expired`: its worker gives up too soon to sell to it.

        The flags are positional (`resent` any truthy int): this runs once per request.
        """
        # A resent request may have been sold by an allocator that died before replying.
        if resent and (earlier := self._by_id.get(order_id_for(request_id))) is not None:
            return self._resent(earlier)
        shelf = self._shelves.get(sku)
        if shelf is None:  # a worker that had not seen this sale's catalogue yet
            return Outcome.UNKNOWN_PRODUCT, None
        sale = self.sale
        terms = sale.terms
        if not self._selling(now_us):
            return self._closed(now_us), None
        owned: Sequence[OrderRecord] = self._by_user.get(user_id, ())
        if owned:
            enough = _enough(owned, terms.per_user_limit, shelf.product)
            if enough is not None:
                return Outcome.ALREADY_PURCHASED, enough
        product = shelf.product
        if shelf.live >= product.stock:
            return Outcome.SOLD_OUT, None
        gate = self.gate
        if gate is not None and not gate.admits(user_id, now_us):
            return Outcome.NOT_ADMITTED, None
        if expired:
            return Outcome.EXPIRED, None
        self.position += 1
        self.live += 1
        order = OrderRecord(
            order_id_for(request_id),
            sale.sale_id,
            user_id,
            _free_unit(owned),
            self.position,
            now_us,
            sku,
            shelf.take_slot(),
        )
        self._by_id[order.order_id] = order
        self._own(order)
        self.last_sold_at_us = now_us
        if gate is not None:
            gate.used(user_id, now_us)
        # With a checkout window, the journal writes it as a hold (Journal.record).
        self._unjournaled.append(order)
        if self.checkout is None:
            return Outcome.CONFIRMED, order
        self._hold(order, shelf, now_us)
        if self.events and shelf.live == product.stock:
            self._emit(webhook.sold_out(sale.sale_id, sku, now_us))
        return Outcome.HELD, order

    def _selling(self, now_us: int) -> bool:
        """Whether the sale sells at `now_us`: active, started and not over."""
        sale = self.sale
        starts, ends = sale.terms.starts_at_us, sale.terms.ends_at_us
        return (
            sale.lifecycle.phase is Phase.ACTIVE
            and (starts is None or now_us >= starts)
            and (ends is None or now_us < ends)
        )

    def _resent(self, earlier: OrderRecord) -> tuple[Outcome, OrderRecord]:
        hold = self.holds.get(earlier.order_id)
        if hold is None or hold.state == CONFIRMED:
            return Outcome.CONFIRMED, earlier
        # The token is derived again from the order id.
        token = checkout_token(self._token_key, earlier.order_id)
        if hold.token_sha256 is not None and not token_matches(
            token, hold.token_sha256, self._token_key, earlier.order_id
        ):
            # A digest kept (0.4.0 kept one of every token) of a token made under another
            # key: the buyer learns the hold, not the token.
            token = ""
        self.issued = (token, hold.expires_at_us or 0)
        return Outcome.HELD, earlier

    def _hold(
        self, order: OrderRecord, shelf: _Shelf, now_us: int, digest: bytes | None = None
    ) -> None:
        """Make `order` a hold. A bought one (no `digest`): its checkout token, derived
        from its order id, in `issued`, and its row written by the journal as a hold of
        the sale's window. An offered one: its token's `digest` (derived from its waitlist
        entry's token, which only the entry's holder knows) kept in its row."""
        assert self.checkout is not None
        expires_at_us = now_us + self.checkout.hold_s * 1_000_000
        self.holds[order.order_id] = Hold(order, HELD, expires_at_us, digest)
        shelf.held += 1
        heapq.heappush(self._expiry, (expires_at_us, order.order_id))
        if digest is None:
            self.issued = (checkout_token(self._token_key, order.order_id), expires_at_us)
        else:
            self.issued = ("", expires_at_us)
            self._write(INSERT_HOLD, (*order, HELD, expires_at_us, 0, digest, None, None))
        if self.events:
            self._emit(
                webhook.order_changed(
                    webhook.ORDER_HELD, order, HELD, now_us, expires_at_us=expires_at_us
                )
            )

    def token_matches(self, hold: Hold, token: str) -> bool:
        """Whether `token` is `hold`'s checkout token."""
        return token_matches(token, hold.token_sha256, self._token_key, hold.order.order_id)

    def _emit(self, event: webhook.WebhookEvent) -> None:
        """An outbox event, written in decision order with the changes that made it."""
        self._write(INSERT_EVENT, tuple(event))

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        self._writes.append((len(self._unjournaled), sql, params))

    def change(self, sale: SaleRecord) -> None:
        """The same sale after an operator's change (its lifecycle, its end): decisions
        from now on follow it. Its products and orders are the same."""
        if sale.sale_id != self.sale.sale_id:
            raise ValueError(f"sale {sale.sale_id} is not the book's sale {self.sale.sale_id}")
        self.sale = sale

    @property
    def remaining(self) -> int:
        return max(self.sale.stock - self.live, 0)

    @property
    def sold(self) -> int:
        """Live units over the whole sale ("stock falls" with holds too)."""
        return self.live

    def sold_by_sku(self) -> dict[str, int]:
        """Each product's live units, and "" for the whole sale."""
        return {**{sku: shelf.live for sku, shelf in self._shelves.items()}, "": self.live}

    def held_by_place(self) -> list[tuple[int, int, int, int]]:
        """Each product's (holds, waiting entries, expired, cancelled), in catalogue order."""
        return [
            (shelf.held, shelf.waiting(), shelf.expired, shelf.cancelled)
            for shelf in self._shelves.values()
        ]

    def shelf(self, sku: str) -> _Shelf | None:
        return self._shelves.get(sku)

    def _closed(self, now_us: int) -> Outcome:
        """Why nothing is sold now: ended > paused > not started (as the sale's state)."""
        state = sale_state(
            self.sale.lifecycle.phase,
            self.sale.terms.starts_at_us,
            self.sale.terms.ends_at_us,
            self.remaining,
            now_us,
        )
        return _CLOSED[state]

    def holds_order(self, order_id: str) -> bool:
        return order_id in self._by_id

    def order(self, order_id: str) -> OrderRecord | None:
        return self._by_id.get(order_id)

    def place_of(self, sku: str) -> int:
        """The product's place in the catalogue (its row on the sale board)."""
        return self._shelves[sku].place

    def take_unjournaled(self) -> list[OrderRecord]:
        """The sales decided since the last call, for the journal's next commit."""
        orders, self._unjournaled = self._unjournaled, []
        return orders

    def take_writes(self) -> list[Write]:
        """The other changes decided since the last call, each at its index among the
        sales `take_unjournaled` returns (call it first)."""
        writes, self._writes = self._writes, []
        return writes

    def snapshot(self) -> SaleSnapshot:
        if self.checkout is None:
            return SaleSnapshot.of(self.sale, self.sold_by_sku())
        return SaleSnapshot.of(self.sale, self.sold_by_sku(), self.held_by_place(), self.offers)

    # -- holds ending ----------------------------------------------------------------------
    def next_expiry_us(self) -> int | None:
        """When the next hold falls due (None: no hold)."""
        expiry = self._expiry
        while expiry:
            at_us, order_id = expiry[0]
            hold = self.holds.get(order_id)
            if hold is not None and hold.state == HELD and hold.expires_at_us == at_us:
                return at_us
            heapq.heappop(expiry)  # confirmed, cancelled or extended since: stale
        return None

    def expire_due(self, now_us: int, limit: int | None = None) -> int:
        """Expire the holds due at `now_us` (at most `limit`, earliest first), offering
        each unit to its waitlist. Returns how many expired."""
        count = 0
        while limit is None or count < limit:
            at_us = self.next_expiry_us()
            if at_us is None or not due(at_us, now_us):
                return count
            _, order_id = heapq.heappop(self._expiry)
            self.release(self.holds[order_id], EXPIRED, now_us)
            count += 1
        return count

    def release(self, hold: Hold, state: str, now_us: int) -> None:
        """A held unit ends (`state`: expired or cancelled): its slot goes to the first
        waiting entry of its product as a new hold, or back to stock."""
        order = hold.order
        shelf = self._shelves[order.sku]
        hold.state = state
        shelf.held -= 1
        shelf.count_released(state, 1)
        shelf.live -= 1
        self.live -= 1
        heapq.heappush(shelf.free, order.sku_position)
        owned = self._by_user.get(order.user_id)
        if owned is not None and order in owned:
            owned.remove(order)
        self._write(SET_STATE, (state, now_us, order.sale_id, order.position))
        if self.events:
            kind = webhook.ORDER_EXPIRED if state == EXPIRED else webhook.ORDER_CANCELLED
            self._emit(webhook.order_changed(kind, order, state, now_us))
        self._offer(shelf, now_us)

    def _offer(self, shelf: _Shelf, now_us: int) -> None:
        for entry in shelf.waitlist:
            if entry.state != WAITING:
                continue
            owned = self._by_user.get(entry.user_id, ())
            product_limit = shelf.product.per_user_limit
            if len(owned) >= self.sale.terms.per_user_limit or (
                product_limit is not None
                and sum(o.sku == entry.sku for o in owned) >= product_limit
            ):
                entry.state = CLOSED  # bought enough meanwhile
                self._write(CLOSE_ENTRY, (self.sale.sale_id, entry.sku, entry.place))
                continue
            self.position += 1
            self.live += 1
            order = OrderRecord(
                order_id_for(secrets.token_bytes(16)),
                self.sale.sale_id,
                entry.user_id,
                _free_unit(owned),
                self.position,
                now_us,
                entry.sku,
                shelf.take_slot(),
            )
            self._by_id[order.order_id] = order
            self._own(order)
            self._hold(order, shelf, now_us, entry.offer_token_sha256)
            self.issued = None
            entry.state, entry.order_id = OFFERED, order.order_id
            self.offers += 1
            self._write(OFFER_ENTRY, (order.order_id, self.sale.sale_id, entry.sku, entry.place))
            if self.events:
                hold = self.holds[order.order_id]
                self._emit(webhook.waitlist_offered(order, entry.place, hold.expires_at_us or 0))
            return
        if shelf.held == 0:
            self._close_waitlist(shelf)

    def _close_waitlist(self, shelf: _Shelf) -> None:
        """No hold is left to come back: nobody waiting will be served."""
        for entry in shelf.waitlist:
            if entry.state == WAITING:
                entry.state = CLOSED
                self._write(CLOSE_ENTRY, (self.sale.sale_id, entry.sku, entry.place))

    def close_waitlists(self) -> None:
        """The sale ended: every waiting entry is closed."""
        for shelf in self._shelves.values():
            self._close_waitlist(shelf)

    def close_at_end(self, now_us: int) -> bool:
        """Close the waitlists once the sale's endsAt has come (an operator's end closes
        them at once): whether this call closed them."""
        ends_at_us = self.sale.terms.ends_at_us
        if self._closed_at_end or ends_at_us is None or now_us < ends_at_us:
            return False
        self._closed_at_end = True
        self.close_waitlists()
        return True

    def next_end_us(self) -> int | None:
        """When the waitlists are to be closed by the sale's end (None: never, or done)."""
        return None if self._closed_at_end else self.sale.terms.ends_at_us

    # -- the buyer's commands ------------------------------------------------------------
    def confirm(self, hold: Hold, payment_ref: str, now_us: int) -> None:
        order = hold.order
        hold.state, hold.payment_ref = CONFIRMED, payment_ref
        shelf = self._shelves[order.sku]
        shelf.held -= 1
        self._write(CONFIRM_HOLD, (payment_ref, now_us, order.sale_id, order.position))
        if self.events:
            self._emit(
                webhook.order_changed(
                    webhook.ORDER_CONFIRMED, order, CONFIRMED, now_us, payment_ref=payment_ref
                )
            )
        if shelf.held == 0:
            self._close_waitlist(shelf)  # no hold is left to come back to anyone waiting

    def retake(self, hold: Hold, payment_ref: str, now_us: int) -> None:
        """A late confirm takes a free unit back: a slot and a unit of its buyer again."""
        order = hold.order
        shelf = self._shelves[order.sku]
        owned = self._by_user.get(order.user_id, ())
        retaken = order._replace(unit=_free_unit(owned), sku_position=shelf.take_slot())
        shelf.count_released(hold.state, -1)
        self.live += 1
        self._by_id[order.order_id] = retaken
        self._own(retaken)
        hold.order, hold.state, hold.payment_ref = retaken, CONFIRMED, payment_ref
        self._write(
            RETAKE_HOLD,
            (
                retaken.unit,
                retaken.sku_position,
                payment_ref,
                now_us,
                order.sale_id,
                order.position,
            ),
        )
        if self.events:
            self._emit(
                webhook.order_changed(
                    webhook.ORDER_CONFIRMED, retaken, CONFIRMED, now_us, payment_ref=payment_ref
                )
            )
            if shelf.live == shelf.product.stock:
                self._emit(webhook.sold_out(order.sale_id, order.sku, now_us))

    def may_retake(self, hold: Hold) -> bool:
        """Whether the late buyer of `hold` may take a unit back now (its limits too)."""
        order = hold.order
        shelf = self._shelves[order.sku]
        owned = self._by_user.get(order.user_id, ())
        limit = shelf.product.per_user_limit
        within = len(owned) < self.sale.terms.per_user_limit and (
            limit is None or sum(o.sku == order.sku for o in owned) < limit
        )
        return within and unit_free(shelf.product.stock, shelf.live, shelf.waiting())

    def extend(self, hold: Hold) -> None:
        assert self.checkout is not None and hold.expires_at_us is not None
        hold.expires_at_us += self.checkout.extend_s * 1_000_000
        hold.extended = True
        heapq.heappush(self._expiry, (hold.expires_at_us, hold.order.order_id))
        order = hold.order
        self._write(EXTEND_HOLD, (hold.expires_at_us, order.sale_id, order.position))

    def join(self, user_id: str, sku: str, now_us: int) -> tuple[Entry, str]:
        """A new place at the end of `sku`'s waitlist, and its waitlist token."""
        shelf = self._shelves[sku]
        token = new_token()
        entry = Entry(
            sku,
            len(shelf.waitlist) + 1,
            user_id,
            WAITING,
            None,
            token_digest(token),
            token_digest(offered_checkout_token(token)),
        )
        shelf.waitlist.append(entry)
        self._write(
            JOIN_WAITLIST,
            (
                self.sale.sale_id,
                sku,
                entry.place,
                user_id,
                now_us,
                entry.token_sha256,
                entry.offer_token_sha256,
            ),
        )
        return entry, token

    def entry_of(self, user_id: str, sku: str) -> Entry | None:
        shelf = self._shelves.get(sku)
        if shelf is None:
            return None
        for entry in shelf.waitlist:
            if entry.user_id == user_id:
                return entry
        return None


def _enough(owned: Sequence[OrderRecord], sale_limit: int, product: Product) -> OrderRecord | None:
    """An order of `owned` that shows its buyer has bought as many as allowed, of the
    sale or of `product` (None: they may buy one more)."""
    if len(owned) >= sale_limit:
        return owned[0]
    if product.per_user_limit is not None:
        of_product = [order for order in owned if order.sku == product.sku]
        if len(of_product) >= product.per_user_limit:
            return of_product[0]
    return None


def _free_unit(owned: Sequence[OrderRecord]) -> int:
    """The buyer's lowest unit slot no live order of theirs holds."""
    unit = len(owned) + 1
    if not owned or owned[-1].unit < unit:
        return unit  # units 1..n taken in order: the usual case
    used = {order.unit for order in owned}
    return next(u for u in range(1, unit + 1) if u not in used)


# The columns in OrderRecord's order, then the hold's.
INSERT_HOLD = (
    "INSERT INTO orders (order_id, sale_id, user_id, unit, position, purchased_at_us, sku, "
    "sku_position, state, expires_at_us, extended, token_sha256, payment_ref, changed_at_us) "
    f"VALUES ({', '.join(['?'] * 14)})"
)
SET_STATE = (
    "UPDATE orders SET state = ?, changed_at_us = ? WHERE sale_id = ? AND position = ? "
    "AND state = 'held'"
)
CONFIRM_HOLD = (
    "UPDATE orders SET state = 'confirmed', payment_ref = ?, changed_at_us = ? "
    "WHERE sale_id = ? AND position = ? AND state = 'held'"
)
RETAKE_HOLD = (
    "UPDATE orders SET state = 'confirmed', unit = ?, sku_position = ?, payment_ref = ?, "
    "changed_at_us = ? WHERE sale_id = ? AND position = ? AND state = 'expired'"
)
EXTEND_HOLD = (
    "UPDATE orders SET expires_at_us = ?, extended = 1 WHERE sale_id = ? AND position = ? "
    "AND state = 'held'"
)
JOIN_WAITLIST = (
    "INSERT INTO waitlist (sale_id, sku, place, user_id, joined_at_us, token_sha256, "
    "offer_token_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
OFFER_ENTRY = (
    "UPDATE waitlist SET state = 'offered', order_id = ? WHERE sale_id = ? AND sku = ? "
    "AND place = ?"
)
CLOSE_ENTRY = "UPDATE waitlist SET state = 'closed' WHERE sale_id = ? AND sku = ? AND place = ?"
