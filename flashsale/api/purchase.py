"""POST /flash-sale/purchase and GET /flash-sale/purchase/{userId}."""

from __future__ import annotations

import re
import time
from typing import Any, Protocol
from urllib.parse import quote

import falcon
import falcon.asgi

from flashsale.allocator.client import Decision
from flashsale.api.answers import answer_purchase, answer_unavailable
from flashsale.api.body import read_json_body
from flashsale.api.guard import PurchaseGuard, rate_headers
from flashsale.api.identity import LOOKUP_SELF, Identity
from flashsale.api.problems import NO_PURCHASE, HTTPProblem
from flashsale.api.problems import NOT_SELLING as NOT_SELLING_PROBLEM
from flashsale.api.queue import TICKET_HEADER, ticket_of
from flashsale.api.representations import order_json
from flashsale.api.sale_ids import sale_in_query, unknown_sale
from flashsale.breaker import Admission
from flashsale.checkout_rules import CONFIRMED, LIVE
from flashsale.clock import iso_from_us
from flashsale.errors import InvalidSku
from flashsale.journal import CheckoutRow
from flashsale.lookups import OrderLookups
from flashsale.metrics import MetricsRecorder
from flashsale.outcomes import Outcome
from flashsale.records import OrderRecord, Phase
from flashsale.sale_lifecycle import PAUSED
from flashsale.shm.sale_board import SaleBoard, SaleSnapshot

LOOKUP_PREFIX = "/flash-sale/purchase/"


class Allocation(Protocol):
    """What the purchase path needs of the allocator (flashsale.allocator.client)."""

    async def purchase(self, user_id: str, sku: str, arrival_ns: int) -> Decision: ...


# Ids made only of URL-unreserved characters need no quoting, and most are.
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+").fullmatch


def lookup_path(user_id: str) -> str:
    return LOOKUP_PREFIX + (user_id if _UNRESERVED(user_id) else quote(user_id, safe=""))


# chosen_place's answer for a sku the sale does not have.
UNKNOWN = -1


def chosen_place(sale: SaleSnapshot, sku: str | None) -> int:
    """The place in `sale` of the product a purchase asks for, or UNKNOWN.

    A sale of one product may be bought without naming it; one of several may not.
    """
    if sku is None:
        if len(sale.products) == 1:
            return 0
        raise InvalidSku("Invalid sku", "sku is required: this sale has several products")
    return sale.places.get(sku, UNKNOWN)


def _sku_named(sale: SaleSnapshot | None, place: int | None, asked: str | None) -> str | None:
    """The sku an answer names: the one asked for, or the sale's only product."""
    if asked is not None or sale is None or place is None:
        return asked
    return sale.products[place].product.sku


# Why nothing is sold while the store cannot take sales, by engine.
NOT_SELLING = {
    "sqlite": "the journal cannot be written, so nothing is sold until it can; nothing was bought",
    "redis": "Redis cannot be reached, so nothing is sold until it answers; nothing was bought",
}
# What the allocator may answer when it could not decide in time.
ALLOCATOR_FAILURES = frozenset({Outcome.UNAVAILABLE, Outcome.PENDING, Outcome.EXPIRED})


class PurchaseResource:
    def __init__(
        self,
        board: SaleBoard,
        allocation: Allocation,
        lookups: OrderLookups,
        guard: PurchaseGuard,
        recorder: MetricsRecorder,
        identity: Identity,
        engine: str = "sqlite",
    ) -> None:
        self.not_selling = NOT_SELLING[engine]
        self.board = board
        self.identity = identity
        self.allocation = allocation
        self.lookups = lookups
        self.guard = guard
        self.recorder = recorder

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        arrival_ns = req.context.arrival_ns
        user_id, asked_sku = self.identity.buyer(req, await read_json_body(req))
        sale = self.board.sale()
        place = None if sale is None else chosen_place(sale, asked_sku)
        if place == UNKNOWN:  # refused before it costs the shopper an attempt
            req.context.outcome = Outcome.UNKNOWN_PRODUCT
            answer_purchase(
                resp,
                Outcome.UNKNOWN_PRODUCT,
                user_id=user_id,
                sku=asked_sku,
                lookup_path=lambda: lookup_path(user_id),
            )
            return
        if sale is not None and sale.phase is Phase.PAUSED and _paused(req, resp, sale):
            return  # answered from shared memory, and not counted against the shopper
        rate = await self.guard.rate(req, user_id)
        rate_headers(resp, self.guard.rate_policy, rate)
        retry_after_s = 1
        if not rate.allowed:
            decision, retry_after_s = Decision(Outcome.RATE_LIMITED), rate.reset_s
        elif sale is None or place is None:
            decision = Decision(Outcome.UNAVAILABLE)  # the allocator has not recovered yet
        else:
            ticket = req.get_header(TICKET_HEADER) if sale.queue is not None else None
            decision, retry_after_s = await self._decide(sale, place, user_id, arrival_ns, ticket)
            if decision.outcome is Outcome.RATE_LIMITED:
                # Counted over every host, in Redis: this host's window tells when to retry.
                retry_after_s = max(rate.reset_s, 1)
        outcome = Outcome.UNAVAILABLE if decision.outcome is Outcome.EXPIRED else decision.outcome
        req.context.outcome = outcome
        if outcome is Outcome.UNAVAILABLE and self.guard.store.failing():
            answer_unavailable(resp, self.not_selling, retry_after_s, NOT_SELLING_PROBLEM)
            return
        answer_purchase(
            resp,
            outcome,
            user_id=user_id,
            sku=_sku_named(sale, place, asked_sku),
            several=sale is not None and len(sale.products) > 1,
            order=decision.order,
            starts_at_us=sale.starts_at_us if sale else None,
            ends_at_us=sale.ends_at_us if sale else None,
            retry_after_s=retry_after_s,
            lookup_path=lambda: lookup_path(user_id),
            hold=decision.hold,
            waitlist=_waitlist(self.board, place, outcome),
        )

    async def _decide(
        self, sale: SaleSnapshot, place: int, user_id: str, arrival_ns: int, ticket: str | None
    ) -> tuple[Decision, int]:
        """Answer from shared memory when no sale is possible; else ask the allocator.
        With a waiting room, a purchase without a ticket of its buyer is refused here;
        the allocator decides whether the ticket is admitted.

        Returns the decision and, for a refusal, the Retry-After in seconds.
        """
        decision = await self._without_allocator(sale, user_id)
        if decision is not None:
            return decision, 1
        if sale.queue is not None:
            held = ticket_of(self.board, sale, ticket)
            if held is None or held.user_id != user_id:
                return Decision(Outcome.NOT_ADMITTED), 1
        admission, retry_after_s = self.guard.admit()
        if admission is Admission.REJECT:
            return Decision(Outcome.UNAVAILABLE), retry_after_s
        sku = sale.products[place].product.sku
        decision = await self.allocation.purchase(user_id, sku, arrival_ns)
        ok = decision.outcome not in ALLOCATOR_FAILURES
        if not ok:
            self.recorder.count_failure()
        self.guard.breaker.record(admission, ok=ok)
        return decision, 1

    async def _without_allocator(self, sale: SaleSnapshot, user_id: str) -> Decision | None:
        """The answers shared memory (and the journal) can give on their own.

        One product sold out while others remain is for the allocator to answer:
        it knows from memory whether this shopper already owns another one (409),
        where a worker would read the journal for each such request.
        """
        state = sale.state(time.time_ns() // 1000)
        if state == "upcoming":
            return Decision(Outcome.NOT_STARTED)
        if state == "ended":
            return Decision(Outcome.ENDED)
        if state == PAUSED:  # paused since the check before the rate limit
            return Decision(Outcome.PAUSED)
        if state == "sold_out":
            # A shopper whose first answer was lost must learn they own one. With holds,
            # only live orders count (a released one does not), and a unit that comes back
            # is in the snapshot before any purchase can be decided for it.
            owned = await self.lookups.live_orders_if_known(sale, user_id)
            if owned is None:
                owned = await self.lookups.orders_of_user(sale, user_id)
                if owned and sale.checkout is not None:
                    owned = await self._live(sale.sale_id, user_id, owned)
            if len(owned) >= sale.per_user_limit:
                return Decision(Outcome.ALREADY_PURCHASED, owned[0])
            return Decision(Outcome.SOLD_OUT)
        return None

    async def _live(
        self, sale_id: int, user_id: str, orders: list[OrderRecord]
    ) -> list[OrderRecord]:
        states = {
            row.order_id: row.state for row in await self.lookups.checkout_of_user(sale_id, user_id)
        }
        return [order for order in orders if states.get(order.order_id, CONFIRMED) in LIVE]


def _with_state(shown: dict[str, Any], states: dict[str, CheckoutRow]) -> dict[str, Any]:
    """An order of a sale with holds: its state and expiry (never its token)."""
    row = states.get(shown["orderId"])
    if row is None:
        return shown
    return {**shown, "state": row.state, "expiresAt": iso_from_us(row.expires_at_us)}


def _waitlist(board: SaleBoard, place: int | None, outcome: Outcome) -> tuple[int, int] | None:
    """A sold-out product of a sale with holds: its (holds, waiting entries), as they are
    now (read only for a sold-out answer: not a snapshot more for every purchase)."""
    if outcome is not Outcome.SOLD_OUT:
        return None
    sale = board.sale()
    if sale is None or sale.checkout is None:
        return None
    if place is None or not 0 <= place < len(sale.products):
        return None
    item = sale.products[place]
    return item.held, item.waiting


def _paused(req: falcon.asgi.Request, resp: falcon.asgi.Response, sale: SaleSnapshot) -> bool:
    """Answer `paused` if the sale is (a paused sale past its end has ended)."""
    if sale.state(time.time_ns() // 1000) != PAUSED:
        return False
    req.context.outcome = Outcome.PAUSED
    answer_purchase(resp, Outcome.PAUSED, user_id="", lookup_path=str)
    return True


class PurchaseLookupResource:
    """A user's orders in a sale (`?saleId=`, the current one by default); in jwt mode
    the caller's only (also at /purchase/me)."""

    def __init__(self, board: SaleBoard, lookups: OrderLookups, identity: Identity) -> None:
        self.board = board
        self.lookups = lookups
        self.identity = identity

    async def on_get_me(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self.on_get(req, resp, LOOKUP_SELF)

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, user_id: str
    ) -> None:
        user_id = self.identity.caller(req, user_id)
        asked = sale_in_query(req)
        sale = self.board.sale()
        if asked is None or (sale is not None and asked == sale.sale_id):
            orders = await self.lookups.orders_of_user(sale, user_id) if sale else []
        else:  # an earlier sale (or none): read from the journal, never kept
            if not await self.lookups.sale_exists(asked):
                raise unknown_sale(str(asked))
            orders = await self.lookups.orders_of_user_in(asked, user_id)
        sale_id = asked if asked is not None else (sale.sale_id if sale else 0)
        states = {
            row.order_id: row for row in await self.lookups.checkout_of_user(sale_id, user_id)
        }
        waitlist = [
            {
                "sku": entry.sku,
                "place": entry.place,
                "state": entry.state,
                **({"orderId": entry.order_id} if entry.order_id else {}),
            }
            for entry in await self.lookups.waitlist_of_user(sale_id, user_id)
        ]
        if not orders and not waitlist:
            which = "this sale" if asked is None else f"sale {asked}"
            raise HTTPProblem(NO_PURCHASE, f"{user_id!r} has bought nothing in {which}")
        shown = [_with_state(order_json(order, user_id), states) for order in orders]
        live = [
            order for order in shown if order.get("state", "confirmed") in ("held", "confirmed")
        ]
        resp.media = {
            **(shown[0] if shown else {"userId": user_id}),
            "units": len(live),
            "orders": shown,
            **({"waitlist": waitlist} if states or waitlist else {}),
        }
