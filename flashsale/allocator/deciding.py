"""Deciding a batch of purchases against the stock book, in arrival order.

Each decision becomes its reply frame at once; the replies wait in the
caller's group for the commit that makes its sales durable (commits.py).
"""

from __future__ import annotations

import logging
import operator
import time

from flashsale.allocator.book import StockBook
from flashsale.allocator.messages import (
    FRAMED_REPLY,
    REPLY,
    RESENT,
    Kind,
    hold_text,
    read_purchase_body,
)
from flashsale.allocator.peers import Pending, Replies
from flashsale.outcomes import Outcome
from flashsale.records import OrderRecord

log = logging.getLogger("flashsale.allocator")

_arrival = operator.attrgetter("arrival_ns")


def decide_purchases(
    book: StockBook, purchases: list[Pending], replies: Replies, *, selling: bool
) -> None:
    """Decide `purchases` (sorted here by arrival), appending each reply to `replies`.

    `selling` False (the journal cannot be written): every one is refused as
    unavailable and nothing is sold.
    """
    purchases.sort(key=_arrival)
    now_ns = time.monotonic_ns()
    now_us = time.time_ns() // 1000
    decide = book.decide
    expired_count = late = 0
    for purchase in purchases:
        peer = purchase.peer
        if not selling:
            outcome, order = Outcome.UNAVAILABLE, None
        else:
            too_late = now_ns > purchase.sell_deadline_ns
            # A request no ACK covers is answered 503 by its worker (Peers.acknowledge).
            expired = too_late or purchase.number > peer.acknowledged
            user_id, sku = read_purchase_body(purchase.body)
            outcome, order = decide(
                user_id, sku, purchase.request_id, now_us, expired, purchase.flags & RESENT
            )
            if outcome is Outcome.EXPIRED:
                expired_count += 1
                late += too_late
        if outcome is Outcome.HELD:
            issued, book.issued = book.issued, None
            replies.setdefault(peer, []).append(decision_frame(purchase, outcome, order, issued))
            continue
        replies.setdefault(peer, []).append(decision_frame(purchase, outcome, order))
    if expired_count:
        # One line a batch: after a freeze, thousands of requests expire at once.
        log.warning(
            "allocator: nothing sold to %s requests (%s read past their sell deadline, "
            "the rest not acknowledged to their worker)",
            expired_count,
            late,
        )


def decision_frame(
    purchase: Pending,
    outcome: Outcome,
    order: OrderRecord | None,
    issued: tuple[str, int] | None = None,
) -> bytes:
    """The framed reply that tells `purchase`'s worker its outcome (and order; a hold's
    expiry and checkout token when `issued`)."""
    if order is None:
        return FRAMED_REPLY.pack(
            REPLY.size, Kind.DECISION, outcome, 0, 0, purchase.seq, purchase.request_id, 0, 0
        )
    if issued is None:
        order_text = (order.order_id + order.sku).encode()
    else:
        token, expires_at_us = issued
        order_text = (order.order_id + hold_text(token, expires_at_us) + order.sku).encode()
    return (
        FRAMED_REPLY.pack(
            REPLY.size + len(order_text),
            Kind.DECISION,
            outcome,
            order.unit,
            order.sale_id,
            purchase.seq,
            purchase.request_id,
            order.position,
            order.purchased_at_us,
        )
        + order_text
    )
