"""JSON shapes of sales and orders (camelCase, times as ISO-8601 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from time import time_ns
from typing import Any

from flashsale.journal import OrderRecord
from flashsale.shm.sale_board import SaleSnapshot


def iso_from_us(moment_us: int | None) -> str | None:
    if moment_us is None:
        return None
    moment = datetime.fromtimestamp(moment_us / 1e6, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_us() -> int:
    return time_ns() // 1000


def order_json(order: OrderRecord, user_id: str) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "userId": user_id,
        "position": order.position,
        "purchasedAt": iso_from_us(order.purchased_at_us),
        "saleId": order.sale_id,
    }


def sale_json(sale: SaleSnapshot, at_us: int) -> dict[str, Any]:
    return {
        "saleId": sale.sale_id,
        "state": sale.state(at_us),
        "total": sale.stock,
        "remaining": sale.remaining,
        "sold": sale.sold,
        "perUserLimit": sale.per_user_limit,
        "startsAt": iso_from_us(sale.starts_at_us),
        "endsAt": iso_from_us(sale.ends_at_us),
    }
