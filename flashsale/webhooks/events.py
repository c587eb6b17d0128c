"""The events a decision makes, as the outbox stores them and the shop receives them.

A payload is Standard Webhooks' shape, `{"type", "timestamp", "data"}`, written once
when the decision is made (so every delivery of an event sends the same bytes); the
`webhook-id` of each delivery is the event's id, which receivers dedupe on.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, NamedTuple

import orjson

from flashsale.clock import iso_from_us
from flashsale.records import OrderRecord

ORDER_HELD = "order.held"
ORDER_CONFIRMED = "order.confirmed"
ORDER_EXPIRED = "order.expired"
ORDER_CANCELLED = "order.cancelled"
WAITLIST_OFFERED = "waitlist.offered"
SALE_SOLD_OUT = "sale.sold_out"
EVENT_ID_PREFIX = "evt_"


class WebhookEvent(NamedTuple):
    """One row of the outbox (without its seq, which the journal gives it)."""

    event_id: str
    type: str
    order_id: str | None  # None: the event of no order (sale.sold_out)
    sale_id: int
    at_us: int
    payload: str


class _EventIds:
    """`evt_` and 24 hex digits: 64 random bits drawn once per process, then a count.
    Unique across processes and restarts without a system call per event (one for each
    cost the allocator about 10 µs a decision)."""

    def __init__(self) -> None:
        self._pid = 0
        self._prefix = ""
        self._count = itertools.count()

    def next(self) -> str:
        if self._pid != os.getpid():  # a new process (forked): its own random bits
            self._pid, self._prefix = os.getpid(), os.urandom(8).hex()
            self._count = itertools.count()
        return f"{EVENT_ID_PREFIX}{self._prefix}{next(self._count) & 0xFFFFFFFF:08x}"


new_event_id = _EventIds().next


def event(
    kind: str, sale_id: int, at_us: int, data: dict[str, Any], order_id: str | None
) -> WebhookEvent:
    payload = orjson.dumps({"type": kind, "timestamp": iso_from_us(at_us), "data": data})
    return WebhookEvent(new_event_id(), kind, order_id, sale_id, at_us, payload.decode())


def order_confirmed(order: OrderRecord) -> WebhookEvent:
    """A final sale: the buyer, the product and its place, as the purchase answer shows it."""
    data = {
        "orderId": order.order_id,
        "saleId": order.sale_id,
        "userId": order.user_id,
        "sku": order.sku,
        "position": order.position,
        "purchasedAt": iso_from_us(order.purchased_at_us),
        "state": "confirmed",
    }
    return event(ORDER_CONFIRMED, order.sale_id, order.purchased_at_us, data, order.order_id)


def order_changed(
    kind: str,
    order: OrderRecord,
    state: str,
    at_us: int,
    *,
    expires_at_us: int | None = None,
    payment_ref: str | None = None,
) -> WebhookEvent:
    """An order of a sale with a checkout window, at a decision about it (`at_us`): held,
    confirmed (with its paymentRef), expired or cancelled."""
    data: dict[str, Any] = {
        "orderId": order.order_id,
        "saleId": order.sale_id,
        "userId": order.user_id,
        "sku": order.sku,
        "position": order.position,
        "purchasedAt": iso_from_us(order.purchased_at_us),
        "state": state,
    }
    if expires_at_us is not None:
        data["expiresAt"] = iso_from_us(expires_at_us)
    if payment_ref is not None:
        data["paymentRef"] = payment_ref
    return event(kind, order.sale_id, at_us, data, order.order_id)


def waitlist_offered(order: OrderRecord, place: int, expires_at_us: int) -> WebhookEvent:
    """A released unit went to the first waiting entry of its product as a new hold
    (`order`, made at this instant): in that order's lane, after its `order.held`."""
    data = {
        "orderId": order.order_id,
        "saleId": order.sale_id,
        "userId": order.user_id,
        "sku": order.sku,
        "place": place,
        "expiresAt": iso_from_us(expires_at_us),
    }
    return event(WAITLIST_OFFERED, order.sale_id, order.purchased_at_us, data, order.order_id)


def sold_out(sale_id: int, sku: str, at_us: int) -> WebhookEvent:
    """A product's last unit was taken (at that order's instant)."""
    return event(SALE_SOLD_OUT, sale_id, at_us, {"saleId": sale_id, "sku": sku}, None)
