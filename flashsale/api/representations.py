"""JSON shapes of sales and orders (camelCase, times as ISO-8601 UTC)."""

from __future__ import annotations

from typing import Any

from flashsale.clock import iso_from_us
from flashsale.records import Order
from flashsale.shm.sale_board import SaleSnapshot


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
            }
            for place, item in enumerate(sale.products)
        ],
    }
