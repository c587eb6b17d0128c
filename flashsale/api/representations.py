"""JSON shapes of sales and orders (camelCase, times as ISO-8601 UTC)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flashsale.clock import iso_from_us
from flashsale.records import Order, QueueTerms, SaleRecord
from flashsale.sale_lifecycle import OPEN, SOLD_OUT, admin_state, sale_state
from flashsale.shm.sale_board import QUEUE_STATES, SaleSnapshot


def order_json(order: Order, user_id: str) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "userId": user_id,
        "position": order.position,
        "purchasedAt": iso_from_us(order.purchased_at_us),
        "saleId": order.sale_id,
        "sku": order.sku,
    }


def sale_json(sale: SaleSnapshot, at_us: int) -> dict[str, Any]:
    """The sale's totals over all its products, and each product's own."""
    return {
        "saleId": sale.sale_id,
        "state": sale.state(at_us),
        "total": sale.stock,
        "remaining": sale.remaining,
        "sold": sale.sold,
        "perUserLimit": sale.per_user_limit,
        "startsAt": iso_from_us(sale.starts_at_us),
        "endsAt": iso_from_us(sale.ends_at_us),
        "products": [
            {
                **item.product.catalogue_json(),
                "total": item.product.stock,
                "remaining": item.remaining,
                "sold": item.sold,
                "state": sale.product_state(place, at_us),
                **(
                    {
                        "held": item.held,
                        "waitlist": item.waiting,
                        "expired": item.expired,
                        "cancelled": item.cancelled,
                    }
                    if sale.checkout
                    else {}
                ),
            }
            for place, item in enumerate(sale.products)
        ],
        "checkout": None if sale.checkout is None else sale.checkout.spec_json(),
        **({"queue": queue_status_json(sale)} if sale.queue is not None else {}),
        **(
            {
                "held": sale.held,
                "waitlist": sum(item.waiting for item in sale.products),
                "expired": sum(item.expired for item in sale.products),
                "cancelled": sum(item.cancelled for item in sale.products),
                "offers": sale.offers,
            }
            if sale.checkout
            else {}
        ),
    }


def sale_resource_json(sale: SaleRecord, sold: Mapping[str, int], at_us: int) -> dict[str, Any]:
    """The admin API's sale: its terms, totals, lifecycle and ETag, as it is at `at_us`
    (`sold`: by sku, and "" for the whole sale)."""
    terms, lifecycle = sale.terms, sale.lifecycle
    total_sold = sold.get("", 0)
    remaining = max(sale.stock - total_sold, 0)
    state = admin_state(
        sale_state(lifecycle.phase, terms.starts_at_us, terms.ends_at_us, remaining, at_us)
    )
    products = []
    for product in terms.products:
        product_sold = sold.get(product.sku, 0)
        product_remaining = max(product.stock - product_sold, 0)
        products.append(
            {
                **product.spec_json(),
                "total": product.stock,
                "sold": product_sold,
                "remaining": product_remaining,
                "state": SOLD_OUT if state == OPEN and product_remaining == 0 else state,
            }
        )
    return {
        "saleId": sale.sale_id,
        "state": state,
        "phase": lifecycle.phase.word,
        "version": lifecycle.version,
        "total": sale.stock,
        "sold": total_sold,
        "remaining": remaining,
        "perUserLimit": terms.per_user_limit,
        "startsAt": iso_from_us(terms.starts_at_us),
        "endsAt": iso_from_us(terms.ends_at_us),
        "createdAt": iso_from_us(sale.created_at_us),
        "endedAt": iso_from_us(lifecycle.ended_at_us),
        "pausedAt": iso_from_us(lifecycle.paused_at_us),
        "products": products,
        "checkout": None if terms.checkout is None else terms.checkout.spec_json(),
        "queue": None if terms.queue is None else queue_terms_json(terms.queue),
        "etag": sale.etag,
    }


def queue_terms_json(queue: QueueTerms) -> dict[str, Any]:
    """A waiting room's terms as the admin API takes and shows them."""
    return {
        "opensAt": iso_from_us(queue.opens_at_us),
        "shuffle": queue.shuffle,
        "admitPerMinute": queue.admit_per_minute,
        "admittedSeconds": queue.admitted_s,
        "proofOfWork": queue.proof_of_work,
    }


def queue_status_json(sale: SaleSnapshot) -> dict[str, Any]:
    """Where a sale's waiting room stands, for every page at once: each page works out
    its own place from `serving` ("now serving"), so one stream serves them all."""
    assert sale.queue is not None
    now = sale.queue_now
    rate = sale.queue.admit_per_minute
    return {
        "state": QUEUE_STATES[now.state],
        **queue_terms_json(sale.queue),
        "length": now.length,
        "serving": now.serving,
        "waiting": now.waiting,
        "estimatedWaitSeconds": (0 if rate is None else math.ceil(now.waiting * 60 / rate)),
    }
