"""The outbox: events appended to the journal in the transaction of the decision that made
them, so an event exists if and only if its decision is durable.

The table is the journal's (the allocator is its one writer); the sender process
reads it through a read-only connection (`OutboxReader`) and keeps its own progress
elsewhere (flashsale.webhooks.progress). Nothing here runs when webhooks are off:
the allocator then has no `Outbox` at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from flashsale.records import OrderRecord
from flashsale.webhooks.events import WebhookEvent, order_confirmed, sold_out

# Created with the journal's tables (flashsale.journal.TABLES): an old journal gains
# it, empty, the first time a new allocator opens it.
OUTBOX_TABLE = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type     TEXT NOT NULL,
    order_id TEXT,
    sale_id  INTEGER NOT NULL,
    at_us    INTEGER NOT NULL,
    payload  TEXT NOT NULL
);
"""
INSERT_EVENT = (
    "INSERT INTO webhook_outbox (event_id, type, order_id, sale_id, at_us, payload) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def append(db: sqlite3.Connection, events: Iterable[WebhookEvent]) -> None:
    """Append events inside the caller's open transaction (the decision's own)."""
    db.executemany(INSERT_EVENT, events)


class Outbox:
    """What the group commit calls, on the committer's thread inside its transaction:
    one `order.confirmed` per order and a `sale.sold_out` when an order took a
    product's last unit."""

    def __init__(self) -> None:
        # Each sale's products' stocks, read once from the journal (a sale's stock never changes).
        self._stocks: dict[int, dict[str, int]] = {}

    def append_orders(self, db: sqlite3.Connection, orders: Sequence[OrderRecord]) -> None:
        append(db, self.events_of(db, orders))

    def events_of(
        self, db: sqlite3.Connection, orders: Sequence[OrderRecord]
    ) -> list[WebhookEvent]:
        events = []
        for order in orders:
            events.append(order_confirmed(order))
            if order.sku_position == self._stock(db, order.sale_id, order.sku):
                events.append(sold_out(order.sale_id, order.sku, order.purchased_at_us))
        return events

    def _stock(self, db: sqlite3.Connection, sale_id: int, sku: str) -> int:
        stocks = self._stocks.get(sale_id)
        if stocks is None:
            rows = db.execute("SELECT sku, stock FROM products WHERE sale_id = ?", (sale_id,))
            stocks = self._stocks[sale_id] = dict(rows.fetchall())
        return stocks.get(sku, -1)


class OutboxRow(NamedTuple):
    seq: int
    event_id: str
    type: str
    order_id: str | None
    sale_id: int
    at_us: int
    payload: str


class OutboxReader:
    """The sender's read-only view of the outbox: short reads, so that no read holds back
    the allocator's checkpoints."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            db.execute("PRAGMA busy_timeout = 5000")
            self._db = db
        return self._db

    def after(self, seq: int, limit: int) -> list[OutboxRow]:
        """At most `limit` events after `seq`, in seq order; none while the table is missing
        (a journal the allocator has not upgraded yet)."""
        try:
            rows = self._conn().execute(
                "SELECT seq, event_id, type, order_id, sale_id, at_us, payload "
                "FROM webhook_outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            )
            return [OutboxRow(*row) for row in rows.fetchall()]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise

    def count_after(self, seq: int) -> tuple[int, int | None]:
        """How many events there are after `seq`, and the oldest one's `at_us`."""
        try:
            count, oldest = (
                self._conn()
                .execute(
                    "SELECT count(*), (SELECT at_us FROM webhook_outbox WHERE seq > ?1 "
                    "ORDER BY seq LIMIT 1) FROM webhook_outbox WHERE seq > ?1",
                    (seq,),
                )
                .fetchone()
            )
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0, None
            raise
        return int(count), oldest

    def backlog_after(self, seq: int, loaded: int) -> tuple[int, int | None]:
        unread, oldest = self.count_after(seq)
        return loaded + unread, oldest

    def prune(self, through_seq: int, before_us: int) -> None:
        """Nothing here: the journal has one writer, the allocator, which prunes the
        table itself (flashsale.webhooks.pruning); this is a read-only view."""

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
