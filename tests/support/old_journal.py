"""Journals as versions before products wrote them (ba18fd3): one stock per sale."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

SCHEMA_BEFORE_PRODUCTS = """
CREATE TABLE sales (
    sale_id        INTEGER PRIMARY KEY,
    stock          INTEGER NOT NULL CHECK (stock >= 0),
    per_user_limit INTEGER NOT NULL CHECK (per_user_limit >= 1),
    starts_at_us   INTEGER,
    ends_at_us     INTEGER,
    created_at_us  INTEGER NOT NULL
);
CREATE TABLE orders (
    sale_id         INTEGER NOT NULL REFERENCES sales (sale_id),
    position        INTEGER NOT NULL,
    order_id        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    unit            INTEGER NOT NULL,
    purchased_at_us INTEGER NOT NULL,
    PRIMARY KEY (sale_id, position),
    UNIQUE (sale_id, user_id, unit)
) WITHOUT ROWID;
CREATE TRIGGER orders_within_limits BEFORE INSERT ON orders
WHEN NOT EXISTS (
    SELECT 1 FROM sales
    WHERE sale_id = NEW.sale_id
      AND NEW.position BETWEEN 1 AND stock
      AND NEW.unit BETWEEN 1 AND per_user_limit
)
BEGIN
    SELECT RAISE(ABORT, 'order outside the sale''s stock or per-user limit');
END;
CREATE TABLE write_probe (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    at_us INTEGER NOT NULL
);
"""


def write_old_journal(
    path: Path, stock: int, users: Sequence[str], *, per_user_limit: int = 1
) -> list[str]:
    """A journal of one sale of `stock` whose first buyers are `users` (one unit each);
    returns their order ids."""
    order_ids = [f"{n:08x}-0000-0000-0000-000000000000" for n in range(1, len(users) + 1)]
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA_BEFORE_PRODUCTS)
        db.execute(
            "INSERT INTO sales (stock, per_user_limit, created_at_us) VALUES (?, ?, ?)",
            (stock, per_user_limit, 1_700_000_000_000_000),
        )
        db.executemany(
            "INSERT INTO orders VALUES (1, ?, ?, ?, 1, ?)",
            [
                (n, order_ids[n - 1], user, 1_700_000_000_000_000 + n)
                for n, user in enumerate(users, start=1)
            ],
        )
    return order_ids


SCHEMA_BEFORE_LIFECYCLES = """
CREATE TABLE sales (
    sale_id        INTEGER PRIMARY KEY,
    stock          INTEGER NOT NULL CHECK (stock >= 0),
    per_user_limit INTEGER NOT NULL CHECK (per_user_limit >= 1),
    starts_at_us   INTEGER,
    ends_at_us     INTEGER,
    created_at_us  INTEGER NOT NULL
);
CREATE TABLE products (
    sale_id        INTEGER NOT NULL REFERENCES sales (sale_id),
    sku            TEXT NOT NULL,
    place          INTEGER NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    price_cents    INTEGER NOT NULL CHECK (price_cents >= 0),
    currency       TEXT NOT NULL,
    image_url      TEXT,
    stock          INTEGER NOT NULL CHECK (stock >= 0),
    per_user_limit INTEGER CHECK (per_user_limit >= 1),
    PRIMARY KEY (sale_id, sku),
    UNIQUE (sale_id, place)
) WITHOUT ROWID;
CREATE TABLE orders (
    sale_id         INTEGER NOT NULL REFERENCES sales (sale_id),
    position        INTEGER NOT NULL,
    order_id        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    unit            INTEGER NOT NULL,
    purchased_at_us INTEGER NOT NULL,
    sku             TEXT NOT NULL,
    sku_position    INTEGER NOT NULL,
    PRIMARY KEY (sale_id, position),
    UNIQUE (sale_id, user_id, unit)
) WITHOUT ROWID;
CREATE TABLE write_probe (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    at_us INTEGER NOT NULL
);
"""


def write_journal_before_lifecycles(
    path: Path, sales: Sequence[tuple[int, int | None]], *, stock: int = 5
) -> None:
    """A journal as 0.2.0 wrote it (products, no lifecycle): one sale of one product
    `item` of `stock` per (created_at_us, ends_at_us) of `sales`, the last the current one,
    each earlier one replaced by the next as that version did."""
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(SCHEMA_BEFORE_LIFECYCLES)
        for sale_id, (created, ends) in enumerate(sales, start=1):
            db.execute(
                "INSERT INTO sales VALUES (?, ?, 1, NULL, ?, ?)", (sale_id, stock, ends, created)
            )
            db.execute(
                "INSERT INTO products VALUES "
                "(?, 'item', 0, 'Item', '', 1000, 'EUR', NULL, ?, NULL)",
                (sale_id, stock),
            )
