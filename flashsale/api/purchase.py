"""POST /flash-sale/purchase and GET /flash-sale/purchase/{userId}."""

from __future__ import annotations

import time
from typing import Protocol
from urllib.parse import quote

import falcon

from flashsale.allocator.client import Decision
from flashsale.api.answers import answer_purchase
from flashsale.api.body import read_json_body
from flashsale.api.representations import order_json
from flashsale.api.validation import check_user_id, purchase_user_id
from flashsale.journal import JournalReader
from flashsale.outcomes import Outcome
from flashsale.shm.sale_board import SaleBoard, SaleSnapshot

LOOKUP_PREFIX = "/flash-sale/purchase/"


class Allocation(Protocol):
    """What the purchase path needs of the allocator (flashsale.allocator.client)."""

    def purchase(self, user_id: str, arrival_ns: int) -> Decision: ...


def lookup_path(user_id: str) -> str:
    return LOOKUP_PREFIX + quote(user_id, safe="")


class PurchaseResource:
    def __init__(self, board: SaleBoard, allocation: Allocation, journal: JournalReader) -> None:
        self.board = board
        self.allocation = allocation
        self.journal = journal

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        arrival_ns = req.context.arrival_ns
        user_id = purchase_user_id(read_json_body(req))
        sale = self.board.sale()
        if sale is None:
            decision = Decision(Outcome.UNAVAILABLE)  # the allocator has not recovered yet
        else:
            decision = self._decide(sale, user_id, arrival_ns)
        outcome = Outcome.UNAVAILABLE if decision.outcome is Outcome.EXPIRED else decision.outcome
        req.context.outcome = outcome
        answer_purchase(
            resp,
            outcome,
            user_id=user_id,
            order=decision.order,
            starts_at_us=sale.starts_at_us if sale else None,
            ends_at_us=sale.ends_at_us if sale else None,
            lookup_path=lookup_path(user_id),
        )

    def _decide(self, sale: SaleSnapshot, user_id: str, arrival_ns: int) -> Decision:
        """Answer from shared memory when no sale is possible; else ask the allocator."""
        state = sale.state(time.time_ns() // 1000)
        if state == "upcoming":
            return Decision(Outcome.NOT_STARTED)
        if state == "ended":
            return Decision(Outcome.ENDED)
        if state == "sold_out":
            # A shopper whose first answer was lost must learn they own one.
            owned = self.journal.orders_of_user(sale.sale_id, user_id)
            if len(owned) >= sale.per_user_limit:
                return Decision(Outcome.ALREADY_PURCHASED, owned[0])
            return Decision(Outcome.SOLD_OUT)
        return self.allocation.purchase(user_id, arrival_ns)


class PurchaseLookupResource:
    def __init__(self, board: SaleBoard, journal: JournalReader) -> None:
        self.board = board
        self.journal = journal

    def on_get(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        user_id = check_user_id(user_id)
        sale = self.board.sale()
        orders = self.journal.orders_of_user(sale.sale_id, user_id) if sale else []
        if not orders:
            raise falcon.HTTPNotFound(
                title="No purchase", description=f"{user_id!r} has bought nothing in this sale"
            )
        resp.media = {**order_json(orders[0], user_id), "units": len(orders)}
