"""The records every engine shares: a sale, its orders, and what a buyer is told.

The SQLite journal (flashsale.journal) and the Redis engine (flashsale.redis_engine)
both store and return these; the allocator, the workers and the shared memory
pass them on. Plain data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from flashsale.catalogue import Product


@dataclass(frozen=True)
class SaleRecord:
    sale_id: int
    stock: int  # over all its products
    per_user_limit: int
    starts_at_us: int | None
    ends_at_us: int | None
    created_at_us: int
    products: tuple[Product, ...]


class OrderRecord(NamedTuple):
    """One sale. A NamedTuple: the allocator builds one per sale, and it is the row itself."""

    order_id: str
    sale_id: int
    user_id: str
    unit: int
    position: int  # in the whole sale
    purchased_at_us: int
    sku: str
    sku_position: int  # in its product's stock


class Confirmation(NamedTuple):
    """A sale as the allocator's reply tells it: the order without its buyer, whom
    the worker that asked knows."""

    order_id: str
    sale_id: int
    unit: int
    position: int
    purchased_at_us: int
    sku: str


# An order as answers show it: from the journal, or from the allocator's reply.
Order = OrderRecord | Confirmation


def order_id_for(request_id: bytes) -> str:
    """An order is named after the request that bought it, so a resent request finds it.

    The 16 random bytes are written as a UUID (formatted by hand: building
    uuid.UUID objects was a tenth of the allocator's time).
    """
    h = request_id.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
