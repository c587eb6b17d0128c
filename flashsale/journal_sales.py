"""The journal's record of sales themselves: their terms and products, their lifecycle
and its changes, the idempotency keys of new sales, and the audit trail.

SQL on a connection the caller owns: the allocator's Journal writes through it
inside its own transactions (one per admin command: the change, the key and the
audit entry commit together, synced, before anyone is told), and the workers'
read-only connections read through it (`SalesReader`).

Tables beside `sales` and `products` (journal.py):
- `sales` gains `phase` (active, paused, ended), `version` (+1 on each change),
  `paused_at_us` and `ended_at_us`; `ends_at_us` may be moved.
- `sale_changes`: append-only, one row per version of each sale: when, which
  action (create, pause, resume, end, set_end, replaced) and the phase and end it
  left. Its first row holds the sale's end as created.
- `idempotency_keys`: a new sale's Idempotency-Key with the SHA-256 of its body,
  remembered for IDEMPOTENCY_KEY_TTL_S.
- `audit`: append-only, every admin action, refused ones included.

A journal written before these (an older version) is upgraded in place, in one
transaction: each sale gets its `create` row, and each sale but the latest, which
the next one replaced in those versions, is recorded as ended then (`replaced`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flashsale.admin_commands import AuditContext
from flashsale.catalogue import Product
from flashsale.records import CheckoutTerms, Lifecycle, Phase, QueueTerms, SaleRecord, SaleTerms

# Long enough for any retry; a key older than this is forgotten (RFC draft
# httpapi-idempotency-key-header: a key has an expiry the server documents).
IDEMPOTENCY_KEY_TTL_S = 24 * 3600
CREATED, REPLACED = "create", "replaced"
READ_BUSY_TIMEOUT_MS = 1000

TABLES = """
CREATE TABLE IF NOT EXISTS sale_changes (
    sale_id    INTEGER NOT NULL REFERENCES sales (sale_id),
    version    INTEGER NOT NULL CHECK (version >= 1),
    at_us      INTEGER NOT NULL,
    action     TEXT NOT NULL,  -- create, pause, resume, end, set_end, replaced
    phase      TEXT NOT NULL CHECK (phase IN ('active', 'paused', 'ended')),
    ends_at_us INTEGER,
    PRIMARY KEY (sale_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,  -- SHA-256 (hex) of the body's canonical JSON
    sale_id     INTEGER NOT NULL REFERENCES sales (sale_id),
    at_us       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us     INTEGER NOT NULL,
    action    TEXT NOT NULL,  -- create, replace, pause, resume, end, set_end, refused
    attempted TEXT,           -- the action a refused request was (NULL: not known)
    sale_id   INTEGER,
    status    INTEGER NOT NULL,  -- the HTTP code answered
    problem   TEXT,              -- its problem type's slug; NULL: done
    replayed  INTEGER NOT NULL DEFAULT 0,  -- an idempotent retry answered again
    context   TEXT NOT NULL      -- the request (AuditContext), JSON; never a token
);
"""
# The history is evidence: the schema refuses to rewrite it.
APPEND_ONLY = "".join(
    f"""
CREATE TRIGGER IF NOT EXISTS {table}_append_only_{verb.lower()} BEFORE {verb} ON {table}
BEGIN
    SELECT RAISE(ABORT, '{table} is append-only');
END;"""
    for table in ("sale_changes", "audit")
    for verb in ("UPDATE", "DELETE")
)
LIFECYCLE_COLUMNS = (
    "phase TEXT NOT NULL DEFAULT 'active' CHECK (phase IN ('active', 'paused', 'ended'))",
    "version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)",
    "paused_at_us INTEGER",
    "ended_at_us INTEGER",
)
# A sale's checkout window (flashsale.records.CheckoutTerms); NULL: none.
CHECKOUT_COLUMNS = ("hold_s INTEGER CHECK (hold_s >= 1)", "extend_s INTEGER CHECK (extend_s >= 0)")
# A sale's waiting room (flashsale.records.QueueTerms) as the JSON of its spec; NULL: none.
QUEUE_COLUMN = "queue_json TEXT"
_SALE_COLUMNS = (
    "sale_id, stock, per_user_limit, starts_at_us, ends_at_us, created_at_us, "
    "phase, version, paused_at_us, ended_at_us, hold_s, extend_s, queue_json"
)


def create_tables(db: sqlite3.Connection) -> None:
    """This module's tables, where they are missing (no transaction may be open)."""
    db.executescript(TABLES)
    db.executescript(APPEND_ONLY)


def needs_upgrade(db: sqlite3.Connection) -> bool:
    """Whether `sales` lacks the lifecycle (a journal of an older version)."""
    return "phase" not in {row[1] for row in db.execute("PRAGMA table_info(sales)")}


def needs_checkout_columns(db: sqlite3.Connection) -> bool:
    """Whether `sales` lacks the checkout window (a journal written before holds)."""
    return "hold_s" not in {row[1] for row in db.execute("PRAGMA table_info(sales)")}


def add_checkout_columns(db: sqlite3.Connection) -> None:
    """Give `sales` its checkout window: every older sale had none (in the caller's
    transaction)."""
    for column in CHECKOUT_COLUMNS:
        db.execute(f"ALTER TABLE sales ADD COLUMN {column}")


def needs_queue_column(db: sqlite3.Connection) -> bool:
    """Whether `sales` lacks the waiting room (a journal written before queues)."""
    return "queue_json" not in {row[1] for row in db.execute("PRAGMA table_info(sales)")}


def add_queue_column(db: sqlite3.Connection) -> None:
    """Give `sales` its waiting room: every older sale had none (in the caller's
    transaction)."""
    db.execute(f"ALTER TABLE sales ADD COLUMN {QUEUE_COLUMN}")


def upgrade(db: sqlite3.Connection) -> None:
    """Give an older journal's sales their lifecycle (in a transaction the caller holds)."""
    for column in LIFECYCLE_COLUMNS:
        db.execute(f"ALTER TABLE sales ADD COLUMN {column}")
    rows = db.execute(
        "SELECT sale_id, ends_at_us, created_at_us FROM sales ORDER BY sale_id"
    ).fetchall()
    for place, (sale_id, ends, created) in enumerate(rows):
        after = rows[place + 1] if place + 1 < len(rows) else None
        db.execute(
            "INSERT INTO sale_changes VALUES (?, 1, ?, ?, 'active', ?)",
            (sale_id, created, CREATED, ends),
        )
        if after is None:
            continue  # the latest sale is the current one
        # Replaced by the next sale, when it was made (unless it had ended before).
        replaced_at = max(after[2], created)
        if ends is not None and ends <= replaced_at:
            continue
        db.execute(
            "UPDATE sales SET phase = 'ended', version = 2, ended_at_us = ?, ends_at_us = ? "
            "WHERE sale_id = ?",
            (replaced_at, replaced_at, sale_id),
        )
        db.execute(
            "INSERT INTO sale_changes VALUES (?, 2, ?, ?, 'ended', ?)",
            (sale_id, replaced_at, REPLACED, replaced_at),
        )


# -- sales -------------------------------------------------------------------------------
def insert_product(db: sqlite3.Connection, sale_id: int, place: int, product: Product) -> None:
    db.execute(
        "INSERT INTO products (sale_id, sku, place, name, description, price_cents, "
        "currency, image_url, stock, per_user_limit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sale_id,
            product.sku,
            place,
            product.name,
            product.description,
            product.price_cents,
            product.currency,
            product.image_url,
            product.stock,
            product.per_user_limit,
        ),
    )


def products_of_sale(db: sqlite3.Connection, sale_id: int) -> tuple[Product, ...]:
    rows = db.execute(
        "SELECT sku, name, description, price_cents, currency, image_url, stock, "
        "per_user_limit FROM products WHERE sale_id = ? ORDER BY place",
        (sale_id,),
    ).fetchall()
    return tuple(Product(*row) for row in rows)


def insert_sale(db: sqlite3.Connection, terms: SaleTerms, created_at_us: int) -> SaleRecord:
    """A new sale (version 1, active) with its products and its `create` change."""
    checkout, queue = terms.checkout, terms.queue
    cursor = db.execute(
        "INSERT INTO sales (stock, per_user_limit, starts_at_us, ends_at_us, created_at_us, "
        "hold_s, extend_s, queue_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            terms.stock,
            terms.per_user_limit,
            terms.starts_at_us,
            terms.ends_at_us,
            created_at_us,
            None if checkout is None else checkout.hold_s,
            None if checkout is None else checkout.extend_s,
            None if queue is None else json.dumps(queue.spec_json()),
        ),
    )
    sale_id = cursor.lastrowid or 0
    for place, product in enumerate(terms.products):
        insert_product(db, sale_id, place, product)
    db.execute(
        "INSERT INTO sale_changes VALUES (?, 1, ?, ?, 'active', ?)",
        (sale_id, created_at_us, CREATED, terms.ends_at_us),
    )
    return SaleRecord(sale_id, terms.stock, terms, created_at_us)


def record_change(db: sqlite3.Connection, sale: SaleRecord, action: str, at_us: int) -> None:
    """Store `sale` as a change left it (its version one more than the stored one's)."""
    lifecycle = sale.lifecycle
    updated = db.execute(
        "UPDATE sales SET phase = ?, version = ?, paused_at_us = ?, ended_at_us = ?, "
        "ends_at_us = ? WHERE sale_id = ? AND version = ?",
        (
            lifecycle.phase.word,
            lifecycle.version,
            lifecycle.paused_at_us,
            lifecycle.ended_at_us,
            sale.terms.ends_at_us,
            sale.sale_id,
            lifecycle.version - 1,
        ),
    ).rowcount
    if updated != 1:  # a bug: the allocator alone writes, from what it read
        raise RuntimeError(f"sale {sale.sale_id} is not at version {lifecycle.version - 1}")
    db.execute(
        "INSERT INTO sale_changes VALUES (?, ?, ?, ?, ?, ?)",
        (
            sale.sale_id,
            lifecycle.version,
            at_us,
            action,
            lifecycle.phase.word,
            sale.terms.ends_at_us,
        ),
    )


def read_sale(db: sqlite3.Connection, sale_id: int | None = None) -> SaleRecord | None:
    """Sale `sale_id` as it is now (None: the latest), or None if there is none."""
    where = "ORDER BY sale_id DESC LIMIT 1" if sale_id is None else "WHERE sale_id = ?"
    params = () if sale_id is None else (sale_id,)
    row = db.execute(f"SELECT {_SALE_COLUMNS} FROM sales {where}", params).fetchone()
    return None if row is None else _sale(db, row)


def sales(db: sqlite3.Connection) -> list[SaleRecord]:
    """Every sale, newest first."""
    rows = db.execute(f"SELECT {_SALE_COLUMNS} FROM sales ORDER BY sale_id DESC").fetchall()
    return [_sale(db, row) for row in rows]


def sale_as_created(db: sqlite3.Connection, sale_id: int) -> SaleRecord | None:
    """The sale as its creation left it (what its first answer showed)."""
    sale = read_sale(db, sale_id)
    row = db.execute(
        "SELECT ends_at_us FROM sale_changes WHERE sale_id = ? AND version = 1", (sale_id,)
    ).fetchone()
    if sale is None or row is None:
        return None
    terms = replace(sale.terms, ends_at_us=row[0])
    return SaleRecord(sale.sale_id, sale.stock, terms, sale.created_at_us)


def sold_counts(db: sqlite3.Connection, sale: SaleRecord) -> dict[str, int]:
    """A sale's sold units by sku, and "" for the whole sale: its live units (held and
    confirmed). Without a checkout window no unit is ever released, so the last place
    taken in each (places are given in order, from 1) is that count, read from an
    index's end; with one, released slots are taken again, so the live orders are
    counted (on the live slots' partial index)."""
    sold = {}
    if sale.terms.checkout is not None:
        rows = db.execute(
            "SELECT sku, count(*) FROM orders WHERE sale_id = ? "
            "AND state IN ('held', 'confirmed') GROUP BY sku",
            (sale.sale_id,),
        ).fetchall()
        live = dict(rows)
        sold = {product.sku: live.get(product.sku, 0) for product in sale.terms.products}
        sold[""] = sum(sold.values())
        return sold
    for product in sale.terms.products:
        (sold[product.sku],) = db.execute(
            "SELECT coalesce(max(sku_position), 0) FROM orders WHERE sale_id = ? AND sku = ?",
            (sale.sale_id, product.sku),
        ).fetchone()
    (sold[""],) = db.execute(
        "SELECT coalesce(max(position), 0) FROM orders WHERE sale_id = ?", (sale.sale_id,)
    ).fetchone()
    return sold


def _sale(db: sqlite3.Connection, row: tuple[Any, ...]) -> SaleRecord:
    sale_id, stock, limit, starts, ends, created, phase, version, paused, ended = row[:10]
    hold, extend, queue_json = row[10:]
    checkout = None if hold is None else CheckoutTerms(hold, extend)
    queue = None if queue_json is None else QueueTerms.from_spec(json.loads(queue_json))
    terms = SaleTerms(products_of_sale(db, sale_id), limit, starts, ends, checkout, queue)
    lifecycle = Lifecycle(Phase.of_word(phase), version, paused, ended)
    return SaleRecord(sale_id, stock, terms, created, lifecycle)


# -- idempotency keys -----------------------------------------------------------------------
def known_key(db: sqlite3.Connection, key: str, now_us: int) -> tuple[str, int] | None:
    """(fingerprint, sale id) of a key used within IDEMPOTENCY_KEY_TTL_S, or None."""
    row = db.execute(
        "SELECT fingerprint, sale_id FROM idempotency_keys WHERE key = ? AND at_us > ?",
        (key, now_us - IDEMPOTENCY_KEY_TTL_S * 1_000_000),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def remember_key(
    db: sqlite3.Connection, key: str, fingerprint: str, sale_id: int, at_us: int
) -> None:
    """An expired key's row is taken over."""
    db.execute(
        "INSERT OR REPLACE INTO idempotency_keys VALUES (?, ?, ?, ?)",
        (key, fingerprint, sale_id, at_us),
    )


# -- the audit trail ------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditEntry:
    """One admin action as the trail keeps it (flashsale.api.admin_audit shows it)."""

    seq: int
    at_us: int
    action: str
    attempted: str | None
    sale_id: int | None
    status: int
    problem: str | None  # None: done
    replayed: bool
    context: AuditContext


def append_audit(db: sqlite3.Connection, entry: AuditEntry) -> int:
    """Append `entry` (its seq is given here); returns its seq."""
    cursor = db.execute(
        "INSERT INTO audit (at_us, action, attempted, sale_id, status, problem, replayed, "
        "context) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.at_us,
            entry.action,
            entry.attempted,
            entry.sale_id,
            entry.status,
            entry.problem,
            int(entry.replayed),
            json.dumps(entry.context.to_json(), ensure_ascii=False),
        ),
    )
    return cursor.lastrowid or 0


def audit_page(db: sqlite3.Connection, after: int, limit: int) -> list[AuditEntry]:
    """Up to `limit` entries after seq `after`, in seq order."""
    rows = db.execute(
        "SELECT seq, at_us, action, attempted, sale_id, status, problem, replayed, context "
        "FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    ).fetchall()
    return [
        AuditEntry(
            seq,
            at_us,
            action,
            attempted,
            sale_id,
            status,
            problem,
            bool(replayed),
            AuditContext.from_json(json.loads(context)),
        )
        for seq, at_us, action, attempted, sale_id, status, problem, replayed, context in rows
    ]


class SalesReader:
    """The workers' read-only reads of sales and the audit trail, one connection per
    thread (they block: flashsale.api.admin_reads runs them on a thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
            db.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
            self._local.db = db
        return db

    def all_sales(self) -> list[tuple[SaleRecord, dict[str, int]]]:
        """Every sale with its sold counts, newest first."""
        db = self._db()
        return [(sale, sold_counts(db, sale)) for sale in sales(db)]

    def one_sale(self, sale_id: int) -> tuple[SaleRecord, dict[str, int]] | None:
        db = self._db()
        sale = read_sale(db, sale_id)
        return None if sale is None else (sale, sold_counts(db, sale))

    def audit_page(self, after: int, limit: int) -> list[AuditEntry]:
        return audit_page(self._db(), after, limit)
