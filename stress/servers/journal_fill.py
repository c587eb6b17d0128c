"""A journal made before its server starts, holding a sale that already has many orders.

Selling 100,000 orders through the API takes most of a minute on a 2-core host
and measures the purchase path, not what comes after it; the allocator rebuilds
a sale from its journal at start (flashsale.allocator.loop), so a journal filled
here is served as if those orders had been bought. The orders are written by
the journal's own `record`, whose schema refuses anything a real sale could
not hold (an oversell, a reused position, a unit over the limit).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from flashsale.config import Settings
from flashsale.journal import Journal
from flashsale.records import OrderRecord, SaleRecord, SaleTerms, order_id_for

BATCH_ORDERS = 10_000
# An order every microsecond from the sale's creation: distinct times, in position
# order, and 100,000 of them within a tenth of a second (none much in the future).
ORDER_SPACING_US = 1


def numbered_buyer(position: int) -> str:
    return f"buyer-{position:07d}"


def fill_journal(
    db_path: Path,
    *,
    orders: int,
    stock: int,
    buyer: Callable[[int], str] = numbered_buyer,
) -> SaleRecord:
    """A new sale of `stock` units of the default product, open now, in a new journal
    at `db_path`, with `orders` orders already sold (positions 1..orders, one unit
    each to the user `buyer(position)` names). Returns the sale."""
    if db_path.exists():
        raise FileExistsError(f"{db_path} exists: the journal to fill must be new")
    if not 0 <= orders <= stock:
        raise ValueError(f"{orders} orders do not fit a stock of {stock}")
    product = replace(Settings.from_env({}).first_products()[0], stock=stock)
    journal = Journal(db_path)
    try:
        sale = journal.create_sale(SaleTerms((product,), 1, None, None))
        for start in range(1, orders + 1, BATCH_ORDERS):
            batch = [
                OrderRecord(
                    order_id_for(os.urandom(16)),
                    sale.sale_id,
                    buyer(position),
                    1,
                    position,
                    sale.created_at_us + position * ORDER_SPACING_US,
                    product.sku,
                    position,
                )
                for position in range(start, min(start + BATCH_ORDERS, orders + 1))
            ]
            journal.record(batch)
    finally:
        journal.close()
    return sale
