"""Webhooks in the tests: a secret, the server's settings for a receiver, and the outbox
read directly from the journal, or from the Redis engine's stream."""

from __future__ import annotations

import base64
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from flashsale.redis_engine.outbox import RedisOutboxSource
from flashsale.redis_engine.store import RedisStore

SECRET = "whsec_" + base64.b64encode(b"flash-sale-webhook-test-key-32b!").decode()


def webhook_env(url: str, **more: str) -> dict[str, str]:
    return {"FLASHSALE_WEBHOOK_URL": url, "FLASHSALE_WEBHOOK_SECRET": SECRET, **more}


def outbox_rows(db_path: Path) -> list[dict[str, Any]]:
    """The journal's outbox, in seq order."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM webhook_outbox ORDER BY seq").fetchall()
    return [dict(row) for row in rows]


def journal_order_rows(db_path: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM orders ORDER BY sale_id, position").fetchall()
    return [dict(row) for row in rows]


def redis_store(url: str) -> RedisStore:
    return RedisStore(url, tag="flashsale", timeout_s=5.0)


def redis_outbox_rows(url: str) -> list[dict[str, Any]]:
    """The Redis engine's outbox stream as rows like the journal's (seq: the stream id as
    one integer), in stream order."""
    store = redis_store(url)
    try:
        rows = RedisOutboxSource(store).after(0, 1_000_000)
    finally:
        store.close()
    return [row._asdict() for row in rows]


def redis_order_rows(url: str) -> list[dict[str, Any]]:
    """Every order Redis holds, of every sale, as the journal's rows name them."""
    store = redis_store(url)
    try:
        orders = [
            order for sale, _ in store.all_sales() for order in store.orders_of_sale(sale.sale_id)
        ]
    finally:
        store.close()
    return [
        {
            "order_id": order.order_id,
            "sale_id": order.sale_id,
            "user_id": order.user_id,
            "sku": order.sku,
            "position": order.position,
            "purchased_at_us": order.purchased_at_us,
        }
        for order in orders
    ]
