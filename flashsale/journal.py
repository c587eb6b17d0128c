"""The durable record of sales: a SQLite file in WAL mode, written by the allocator only.

The allocator appends each batch of sales in one transaction and the commit is
synced (`synchronous=FULL`) before any buyer hears "confirmed". Workers open
the same file read-only for look-ups. A sale has one or more products, each with
its own stock. The schema itself refuses an oversell of any product, a unit
over the sale's or the product's per-user limit and a reused position, so a
bug in the allocator fails loudly instead of selling twice.
"""

from __future__ import annotations

import fcntl
import functools
import os
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from flashsale import journal_queue, journal_sales
from flashsale.catalogue import Product
from flashsale.errors import JournalLocked
from flashsale.journal_queue import QueueRow, TicketRow
from flashsale.journal_room import Room, disk_full
from flashsale.journal_sales import insert_product, products_of_sale
from flashsale.records import ListedOrder, OrderRecord, SaleRecord, SaleTerms
from flashsale.webhooks.outbox import INSERT_EVENT, OUTBOX_TABLE, Outbox

# A change decided among a batch's sales: (the index of the sale it comes before, SQL, parameters).
Write = tuple[int, str, tuple[object, ...]]

__all__ = ["Journal", "JournalLock", "JournalReader", "products_of_sale"]

BUSY_TIMEOUT_MS = 5000
# Every commit rewrites the same few right-edge pages of the B-trees, and a
# checkpoint copies each distinct page once: checkpointing every 10,000 pages
# (about 40 MiB of WAL) instead of SQLite's 1,000 cut the journal's CPU per
# sale from 15.4-17.8 us to 11.8-15.5 us at 20 sales a commit. A small disk
# is checkpointed sooner (journal_room.py).
WAL_AUTOCHECKPOINT_PAGES = 10_000
# The secret of the checkout tokens (flashsale.checkout_rules.checkout_token).
TOKEN_KEY = "checkout_token_key"
TICKET_KEY = "queue_ticket_key"  # signs the waiting room's tickets (flashsale.queue_tickets)
TOKEN_KEY_BYTES = 32
# Each WAL frame is a page and its 24-byte header.
WAL_FRAME_HEADER_BYTES = 24
# An early checkpoint waits this long at most for look-ups reading the WAL
# (TRUNCATE must wait for them to end); a busy one is tried again at the next commit.
CHECKPOINT_BUSY_TIMEOUT_MS = 100

# An order's state (flashsale.checkout_rules): held, then confirmed, cancelled or
# expired; without a checkout window every order is confirmed when made. Only a
# live one (held, confirmed) holds its slot in the product's stock and in its
# buyer's units, so those are unique among live orders only: a released slot is
# taken again by a later order, never by two at once (live <= stock, by the schema).
ORDERS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    sale_id         INTEGER NOT NULL REFERENCES sales (sale_id),
    position        INTEGER NOT NULL,  -- in the whole sale, from 1: the order of decisions
    order_id        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    unit            INTEGER NOT NULL,  -- the user's unit slot in the whole sale, from 1
    purchased_at_us INTEGER NOT NULL,
    sku             TEXT NOT NULL,
    sku_position    INTEGER NOT NULL,  -- the unit's slot in its product's stock, from 1
    state           TEXT NOT NULL DEFAULT 'confirmed'
                    CHECK (state IN ('held', 'confirmed', 'cancelled', 'expired')),
    expires_at_us   INTEGER,           -- a hold's (as extended)
    extended        INTEGER NOT NULL DEFAULT 0,
    token_sha256    BLOB,              -- a hold's checkout token, hashed
    payment_ref     TEXT,              -- a confirmed hold's
    changed_at_us   INTEGER,           -- when it was confirmed, cancelled or expired
    -- Keyed by position: each batch appends at the end of the table's B-tree,
    -- which made inserts twice as fast as a random order-id key.
    PRIMARY KEY (sale_id, position)
) WITHOUT ROWID;
"""
ORDER_COLUMNS = (
    "sale_id, position, order_id, user_id, unit, purchased_at_us, sku, sku_position, state, "
    "expires_at_us, extended, token_sha256, payment_ref, changed_at_us"
)

TABLES = """
CREATE TABLE IF NOT EXISTS sales (
    sale_id        INTEGER PRIMARY KEY,
    stock          INTEGER NOT NULL CHECK (stock >= 0),  -- over all its products
    per_user_limit INTEGER NOT NULL CHECK (per_user_limit >= 1),
    starts_at_us   INTEGER,
    ends_at_us     INTEGER,
    created_at_us  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS products (
    sale_id        INTEGER NOT NULL REFERENCES sales (sale_id),
    sku            TEXT NOT NULL,
    place          INTEGER NOT NULL,  -- in the catalogue's order, from 0
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
{orders}-- A product's waitlist while it is sold out with holds outstanding: first come, first
-- served (`place`), one place per person; an entry is offered a released unit as a
-- new hold (`order_id`), or closed.
CREATE TABLE IF NOT EXISTS waitlist (
    sale_id            INTEGER NOT NULL REFERENCES sales (sale_id),
    sku                TEXT NOT NULL,
    place              INTEGER NOT NULL,  -- from 1, in the order they joined
    user_id            TEXT NOT NULL,
    joined_at_us       INTEGER NOT NULL,
    state              TEXT NOT NULL DEFAULT 'waiting'
                       CHECK (state IN ('waiting', 'offered', 'closed')),
    order_id           TEXT,              -- the hold it was offered
    token_sha256       BLOB NOT NULL,     -- its waitlist token, hashed
    offer_token_sha256 BLOB NOT NULL,     -- the checkout token of its offered hold, hashed
    PRIMARY KEY (sale_id, sku, place),
    UNIQUE (sale_id, sku, user_id),
    UNIQUE (token_sha256)
) WITHOUT ROWID;
-- One row the allocator rewrites to learn whether the journal can take a
-- commit again after a write failed (Journal.probe).
CREATE TABLE IF NOT EXISTS write_probe (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    at_us INTEGER NOT NULL
);
-- The journal's own values, made once: `checkout_token_key`, the secret a hold's
-- checkout token is derived from (so a restarted allocator derives the same one).
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
""".replace("{orders}", ORDERS_TABLE.format(name="orders"))
# After the tables (and _upgrade): these name columns a journal of one product lacked.
GUARDS = """
DROP INDEX IF EXISTS orders_product_position;
CREATE UNIQUE INDEX IF NOT EXISTS orders_live_slot ON orders (sale_id, sku, sku_position)
    WHERE state IN ('held', 'confirmed');
CREATE UNIQUE INDEX IF NOT EXISTS orders_live_unit ON orders (sale_id, user_id, unit)
    WHERE state IN ('held', 'confirmed');
-- A buyer's released orders, for the look-up; a sale without holds has none, so
-- its inserts never touch this index.
CREATE INDEX IF NOT EXISTS orders_released_by_user ON orders (sale_id, user_id)
    WHERE state IN ('cancelled', 'expired');
DROP TRIGGER IF EXISTS orders_within_limits;
DROP TRIGGER IF EXISTS orders_within_stock;
CREATE TRIGGER IF NOT EXISTS orders_live_within_stock BEFORE INSERT ON orders
WHEN NEW.state IN ('held', 'confirmed') AND NOT EXISTS (
    SELECT 1 FROM sales JOIN products ON products.sale_id = sales.sale_id
    WHERE sales.sale_id = NEW.sale_id
      AND products.sku = NEW.sku
      AND NEW.position >= 1
      AND NEW.unit BETWEEN 1 AND sales.per_user_limit
      AND NEW.sku_position BETWEEN 1 AND products.stock
      AND (products.per_user_limit IS NULL OR products.per_user_limit > (
          SELECT count(*) FROM orders AS owned
          WHERE owned.sale_id = NEW.sale_id AND owned.user_id = NEW.user_id
            AND owned.sku = NEW.sku AND owned.state IN ('held', 'confirmed')))
)
BEGIN
    SELECT RAISE(ABORT, 'order outside its product''s stock or a per-user limit');
END;
-- A late confirm takes a slot again: within the stock too.
CREATE TRIGGER IF NOT EXISTS orders_retaken_within_stock BEFORE UPDATE OF sku_position ON orders
WHEN NEW.state IN ('held', 'confirmed') AND NOT EXISTS (
    SELECT 1 FROM products
    WHERE products.sale_id = NEW.sale_id AND products.sku = NEW.sku
      AND NEW.sku_position BETWEEN 1 AND products.stock
)
BEGIN
    SELECT RAISE(ABORT, 'order outside its product''s stock');
END;
"""


# Row counts of the INSERT statements a batch is cut into, largest first.
_INSERT_SIZES = (256, 32, 4, 1)


@functools.cache
def _insert_orders(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO orders (order_id, sale_id, user_id, unit, position, purchased_at_us, "
        f"sku, sku_position) VALUES {values}"
    )


@functools.cache
def _insert_holds(rows: int) -> str:
    """`_insert_orders` for the sales of a checkout window: each row held until its
    purchase instant plus the window, the statement's last parameter (numbered
    parameters, so the window is bound once, not once a row)."""
    window = rows * 8 + 1
    values = ", ".join(
        f"(?{r * 8 + 1}, ?{r * 8 + 2}, ?{r * 8 + 3}, ?{r * 8 + 4}, ?{r * 8 + 5}, ?{r * 8 + 6}, "
        f"?{r * 8 + 7}, ?{r * 8 + 8}, 'held', ?{r * 8 + 6} + ?{window})"
        for r in range(rows)
    )
    return (
        "INSERT INTO orders (order_id, sale_id, user_id, unit, position, purchased_at_us, "
        f"sku, sku_position, state, expires_at_us) VALUES {values}"
    )


def _one_row_insert(sql: str) -> bool:
    return sql.startswith("INSERT INTO ") and sql.endswith(")") and " VALUES (" in sql


@functools.cache
def _insert_rows(sql: str, rows: int) -> str:
    """`sql`, an INSERT of one row (its `VALUES (?, ...)` last), for `rows` rows."""
    head, values = sql.rsplit(" VALUES ", 1)
    return f"{head} VALUES {', '.join([values] * rows)}"


def _orders(db: sqlite3.Connection, where: str, params: tuple[int | str, ...]) -> list[OrderRecord]:
    """Orders matching `where`, the columns in OrderRecord's order."""
    rows = db.execute(
        "SELECT order_id, sale_id, user_id, unit, position, purchased_at_us, sku, sku_position "
        f"FROM orders {_index_for(where)} WHERE {where}",
        params,
    ).fetchall()
    return [OrderRecord(*row) for row in rows]


def _index_for(where: str) -> str:
    if where.startswith(_RELEASED_OF_USER):
        return "INDEXED BY orders_released_by_user"
    if where.startswith(_LIVE_OF_USER):
        return "INDEXED BY orders_live_unit"
    return ""


class CheckoutRow(NamedTuple):
    """An order's hold columns (flashsale.checkout_rules)."""

    order_id: str
    position: int
    state: str
    expires_at_us: int | None
    extended: bool
    token_sha256: bytes | None
    payment_ref: str | None


def _checkout_rows(
    db: sqlite3.Connection, where: str, params: tuple[int | str, ...]
) -> list[CheckoutRow]:
    rows = db.execute(
        "SELECT order_id, position, state, expires_at_us, extended, token_sha256, payment_ref "
        f"FROM orders {_index_for(where)} WHERE {where}",
        params,
    ).fetchall()
    return [CheckoutRow(o, p, s, e, bool(x), t, r) for o, p, s, e, x, t, r in rows]


class WaitlistRow(NamedTuple):
    sku: str
    place: int
    user_id: str
    state: str
    order_id: str | None
    token_sha256: bytes
    offer_token_sha256: bytes


def _waitlist_rows(
    db: sqlite3.Connection, where: str, params: tuple[int | str | bytes, ...]
) -> list[WaitlistRow]:
    rows = db.execute(
        "SELECT sku, place, user_id, state, order_id, token_sha256, offer_token_sha256 "
        f"FROM waitlist WHERE {where}",
        params,
    ).fetchall()
    return [WaitlistRow(*row) for row in rows]


def _user_orders(db: sqlite3.Connection, sale_id: int, user_id: str) -> list[OrderRecord]:
    """A buyer's orders, live ones first by unit then released ones by position: each
    half read through its own partial index."""
    live = _orders(db, _LIVE_OF_USER + " ORDER BY unit", (sale_id, user_id))
    released = _orders(db, _RELEASED_OF_USER, (sale_id, user_id))
    return live + sorted(released, key=lambda order: order.position)


# Without statistics the planner would walk the sale's primary key instead.
_LIVE_OF_USER = "sale_id = ? AND user_id = ? AND state IN ('held', 'confirmed')"
_RELEASED_OF_USER = "sale_id = ? AND user_id = ? AND state IN ('cancelled', 'expired')"


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


class JournalLock:
    """An exclusive lock beside the journal: one server, hence one allocator, per file.

    flock belongs to the open file description, so the allocator and workers
    forked by the locking master share it, and the kernel releases it when the
    last of them exits, however it dies.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = Path(f"{db_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLocked(
                f"journal {self.path.with_suffix('')} is already served by another flashsale "
                f"server (lock {self.path} is held); stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def forget_in_child(self) -> None:
        """Close this process's copy of the descriptor; the lock stays with the others."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        # Used by the allocator's loop and its committer thread, never at once.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


class Journal:
    """The allocator's read-write handle."""

    def __init__(self, path: Path, *, room: Room | None = None) -> None:
        """`room`: the free space beside the journal (the tests give their own)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.room = room or Room(path)
        self._db = self._open()
        self._db.executescript(TABLES)
        self._db.executescript(OUTBOX_TABLE)
        self._upgrade()
        self._give_orders_states()
        self._db.executescript(GUARDS)
        journal_sales.create_tables(self._db)
        if journal_sales.needs_upgrade(self._db):
            with self._transaction():
                journal_sales.upgrade(self._db)
        if journal_sales.needs_checkout_columns(self._db):
            with self._transaction():
                journal_sales.add_checkout_columns(self._db)
        if journal_sales.needs_queue_column(self._db):
            with self._transaction():
                journal_sales.add_queue_column(self._db)
        journal_queue.create_tables(self._db)
        self.token_key = self._meta_secret(TOKEN_KEY)
        self.ticket_key = self._meta_secret(TICKET_KEY)
        # Each sale's checkout window in µs (None: none), as read once (record).
        self._hold_windows: dict[int, int | None] = {}

    def _meta_secret(self, name: str) -> bytes:
        """A random secret kept in `meta`: made the first time, the same ever after."""
        select = "SELECT value FROM meta WHERE name = ?"
        row = self._db.execute(select, (name,)).fetchone()
        if row is None:  # written only once: a start on a full disk needs no write
            with self._transaction():
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)",
                    (name, secrets.token_bytes(TOKEN_KEY_BYTES)),
                )
            row = self._db.execute(select, (name,)).fetchone()
        return bytes(row[0])

    def _open(self) -> sqlite3.Connection:
        db = _connect(self.path, read_only=False)
        db.execute("PRAGMA journal_mode = WAL")
        # FULL: the WAL is fsynced at every commit, so a confirmed sale survives
        # a power cut, not only a process crash.
        db.execute("PRAGMA synchronous = FULL")
        db.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        # A WAL that grew past the autocheckpoint's size (a look-up held the
        # checkpoint back) is cut back to it when it starts over; no smaller, so
        # the usual cycle reuses the file instead of growing it again.
        (page_bytes,) = db.execute("PRAGMA page_size").fetchone()
        limit = WAL_AUTOCHECKPOINT_PAGES * (page_bytes + WAL_FRAME_HEADER_BYTES)
        db.execute(f"PRAGMA journal_size_limit = {limit}")
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _upgrade(self) -> None:
        """Give a journal of one-product sales the columns of products (see adopt_products)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(orders)")}
        if "sku" in columns:
            return
        with self._transaction():
            self._db.execute("ALTER TABLE orders ADD COLUMN sku TEXT NOT NULL DEFAULT ''")
            self._db.execute(
                "ALTER TABLE orders ADD COLUMN sku_position INTEGER NOT NULL DEFAULT 0"
            )
            # One product held the whole stock: its place in it is the sale's.
            self._db.execute("UPDATE orders SET sku_position = position")

    def _give_orders_states(self) -> None:
        """Rebuild the orders of a journal written before holds: its table-wide UNIQUE
        (sale_id, user_id, unit) becomes unique among live orders only, which SQLite can
        only do by copying the table. One transaction: the journal is the old one or
        the new one, never half of it. Every old order was final: `confirmed`."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(orders)")}
        if "state" in columns:
            return
        old = "sale_id, position, order_id, user_id, unit, purchased_at_us, sku, sku_position"
        with self._transaction():
            self._db.execute(ORDERS_TABLE.format(name="orders_with_states"))
            self._db.execute(f"INSERT INTO orders_with_states ({old}) SELECT {old} FROM orders")
            # Its indexes and triggers go with it; GUARDS makes the new ones.
            self._db.execute("DROP TABLE orders")
            self._db.execute("ALTER TABLE orders_with_states RENAME TO orders")

    def adopt_products(self, product: Product) -> int:
        """Make `product` the one product of each sale journaled before sales had
        products (its stock: the sale's), and the product of those sales' orders.
        Returns how many sales were adopted."""
        orphans = self._db.execute(
            "SELECT sale_id, stock FROM sales WHERE sale_id NOT IN "
            "(SELECT DISTINCT sale_id FROM products)"
        ).fetchall()
        if not orphans:
            return 0
        with self._transaction():
            for sale_id, stock in orphans:
                insert_product(
                    self._db, sale_id, 0, replace(product, stock=stock, per_user_limit=None)
                )
                self._db.execute(
                    "UPDATE orders SET sku = ? WHERE sale_id = ? AND sku = ''",
                    (product.sku, sale_id),
                )
        return len(orphans)

    def latest_sale(self) -> SaleRecord | None:
        return journal_sales.read_sale(self._db)

    def create_sale(self, terms: SaleTerms) -> SaleRecord:
        with self._transaction():
            return journal_sales.insert_sale(self._db, terms, time.time_ns() // 1000)

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for journal_sales' writes inside `transaction()`."""
        return self._db

    def transaction(self) -> AbstractContextManager[None]:
        """One synced transaction: everything in it is durable together, or not at all."""
        return self._transaction()

    def queue_of_sale(
        self, sale_id: int, now_us: int
    ) -> tuple[list[TicketRow], QueueRow | None, dict[str, int]]:
        """A sale's waiting room as the journal holds it: its tickets, where it stands,
        and the proofs of work its joins spent that are still kept at `now_us`."""
        db = self._db
        return (
            journal_queue.tickets(db, sale_id),
            journal_queue.queue_row(db, sale_id),
            journal_queue.spent_proofs(db, sale_id, now_us),
        )

    def orders_of_sale(self, sale_id: int) -> list[OrderRecord]:
        return _orders(self._db, "sale_id = ? ORDER BY position", (sale_id,))

    def normalise_user_ids(self) -> tuple[int, int]:
        """Rewrite user ids journaled before ids were NFKC-normalised (a fullwidth
        alice, U+FF41 U+FF4C..., is `alice` now), so that one person stays one id
        across the upgrade. Returns (rewritten, kept): an old spelling whose normal form
        already owns the same unit keeps its own."""
        self._db.create_function("nfkc", 1, _nfkc, deterministic=True)
        rows = self._db.execute(
            "SELECT sale_id, position, nfkc(user_id) FROM orders WHERE user_id != nfkc(user_id)"
        ).fetchall()
        rewritten = kept = 0
        for sale_id, position, normal in rows:
            try:
                with self._transaction():
                    self._db.execute(
                        "UPDATE orders SET user_id = ? WHERE sale_id = ? AND position = ?",
                        (normal, sale_id, position),
                    )
                rewritten += 1
            except sqlite3.IntegrityError:
                kept += 1
        return rewritten, kept

    def record(
        self,
        orders: Sequence[OrderRecord],
        writes: Sequence[Write] = (),
        outbox: Outbox | None = None,
    ) -> None:
        """Append a batch of sales of one sale in one synced transaction: the group
        commit. With webhooks on, `outbox` appends their events in the same transaction.
        In a sale with a checkout window each sale is a hold, until its purchase instant
        plus the window (its events are among the writes).

        Rows go in multi-row INSERTs of a few fixed sizes (so their statements
        stay prepared in the cache): a third cheaper than one INSERT per row,
        and SQLite runs each one without taking the GIL back between rows.
        `writes`: the other changes decided among them (holds, their ends, the
        waitlist), each run before the order at its index, so in decision order;
        a run of the same statement goes in one `executemany`. Their outbox events
        go last, in their order: no other row depends on them, and the holds of a
        batch then form one run instead of alternating with their events.
        """
        with self._transaction():
            held_for_us = self._held_for_us(orders)
            if outbox is not None and held_for_us is None:
                outbox.append_orders(self._db, orders)
            if not writes:
                self._insert(orders, 0, len(orders), held_for_us)
                return
            events = [params for _, sql, params in writes if sql == INSERT_EVENT]
            start = 0
            for at, sql, rows in _runs(w for w in writes if w[1] != INSERT_EVENT):
                self._insert(orders, start, at, held_for_us)
                self._run(sql, rows)
                start = at
            self._insert(orders, start, len(orders), held_for_us)
            if events:
                self._run(INSERT_EVENT, events)

    def _held_for_us(self, orders: Sequence[OrderRecord]) -> int | None:
        """How long the sales of `orders`' sale are held (None: they are final)."""
        if not orders:
            return None
        sale_id = orders[0].sale_id
        if orders[-1].sale_id != sale_id:
            raise ValueError("a batch holds sales of one sale")
        if sale_id not in self._hold_windows:  # a sale's window never changes
            row = self._db.execute("SELECT hold_s FROM sales WHERE sale_id = ?", (sale_id,))
            hold_s = (row.fetchone() or (None,))[0]
            self._hold_windows[sale_id] = None if hold_s is None else hold_s * 1_000_000
        return self._hold_windows[sale_id]

    def _run(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        """One statement for many rows: an INSERT of one row as multi-row INSERTs (as
        `_insert` does for orders: a holds' batch is a third cheaper so), else
        `executemany`."""
        if not _one_row_insert(sql):
            self._db.executemany(sql, rows)
            return
        start = 0
        for size in _INSERT_SIZES:
            while len(rows) - start >= size:
                chunk = rows[start : start + size]
                self._db.execute(_insert_rows(sql, size), [v for row in chunk for v in row])
                start += size

    def _insert(
        self, orders: Sequence[OrderRecord], start: int, end: int, held_for_us: int | None
    ) -> None:
        for rows in _INSERT_SIZES:
            while end - start >= rows:
                chunk = orders[start : start + rows]
                # OrderRecord's fields are in the INSERT's column order.
                values = [v for order in chunk for v in order]
                if held_for_us is None:
                    self._db.execute(_insert_orders(rows), values)
                else:
                    values.append(held_for_us)
                    self._db.execute(_insert_holds(rows), values)
                start += rows

    def checkout_rows(self, sale_id: int) -> list[CheckoutRow]:
        """The hold columns of a sale's orders (a sale with a checkout window), by position."""
        return _checkout_rows(self._db, "sale_id = ? ORDER BY position", (sale_id,))

    def waitlist(self, sale_id: int) -> list[WaitlistRow]:
        return _waitlist_rows(self._db, "sale_id = ? ORDER BY sku, place", (sale_id,))

    def keep_room(self) -> None:
        """After a commit: checkpoint at once if the disk is short of room (journal_room.py).

        A checkpoint that fails (the disk cannot take the database's new
        pages) is not the commit's failure: its sales are durable in the WAL.
        The next commit, or the probe once a commit failed, tries again.
        """
        if not self.room.short():
            return
        try:
            self.checkpoint()
        except sqlite3.OperationalError as exc:
            self.room.note_early_checkpoint(str(exc))
            return
        self.room.note_early_checkpoint()

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and cut it to nothing (TRUNCATE).

        Returns False when a look-up reading the WAL kept it (the pages it
        could copy are copied); raises when the database cannot grow.
        """
        self._db.execute(f"PRAGMA busy_timeout = {CHECKPOINT_BUSY_TIMEOUT_MS}")
        try:
            (busy, _, _) = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return not busy

    def probe(self, *, need_room: bool = True) -> None:
        """Empty the WAL and commit one row on a fresh connection: raises unless the
        journal can take commits again.

        After a failed write (a full disk, a read-only file system), a new
        connection leaves behind whatever state the failure left in the old one.
        `need_room`: also raise while the disk is short of room (journal_room.py):
        after a failed write, a probe that fitted in the last free page would let
        selling resume only to fail again at once.
        """
        fresh = self._open()
        self._db.close()
        self._db = fresh
        self.checkpoint()
        shortfall = self.room.shortfall() if need_room else None
        if shortfall is not None:
            raise disk_full(shortfall)
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO write_probe (id, at_us) VALUES (1, ?)",
                (time.time_ns() // 1000,),
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (a full disk) may leave the transaction open.
            if self._db.in_transaction:
                with suppress(sqlite3.Error):  # the error that matters is the first
                    self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()


class JournalReader:
    """Read-only look-ups for the workers, one connection per thread (they block:
    workers call them on a thread pool, see flashsale.lookups)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = _connect(self.path, read_only=True)
        return db

    def orders_of_user(self, sale_id: int, user_id: str) -> list[OrderRecord]:
        return _user_orders(self._db(), sale_id, user_id)

    def checkout_of_user(self, sale_id: int, user_id: str) -> list[CheckoutRow]:
        """The hold columns of a buyer's orders."""
        db = self._db()
        return _checkout_rows(db, _LIVE_OF_USER, (sale_id, user_id)) + _checkout_rows(
            db, _RELEASED_OF_USER, (sale_id, user_id)
        )

    def waitlist_of_user(self, sale_id: int, user_id: str) -> list[WaitlistRow]:
        return _waitlist_rows(
            self._db(), "sale_id = ? AND user_id = ? ORDER BY sku", (sale_id, user_id)
        )

    def waitlist_entry(self, sale_id: int, sku: str, token_sha256: bytes) -> WaitlistRow | None:
        rows = _waitlist_rows(
            self._db(), "sale_id = ? AND sku = ? AND token_sha256 = ?", (sale_id, sku, token_sha256)
        )
        return rows[0] if rows else None

    def orders_of_sale(self, sale_id: int) -> list[OrderRecord]:
        return _orders(self._db(), "sale_id = ? ORDER BY position", (sale_id,))

    def live_orders_of_sale(self, sale_id: int) -> list[OrderRecord]:
        """Its held and confirmed orders (those that hold a unit), each buyer's in the
        order of their units (a late confirm's unit may be lower than its position's)."""
        return _orders(
            self._db(),
            "sale_id = ? AND state IN ('held', 'confirmed') ORDER BY unit, position",
            (sale_id,),
        )

    def queue_after(
        self, sale_id: int, after: int, limit: int
    ) -> tuple[list[TicketRow], QueueRow | None]:
        db = self._db()
        rows = journal_queue.tickets_by_place(db, sale_id, after, limit)
        return rows, journal_queue.queue_row(db, sale_id)

    def sale_exists(self, sale_id: int) -> bool:
        row = self._db().execute("SELECT 1 FROM sales WHERE sale_id = ?", (sale_id,)).fetchone()
        return row is not None

    def orders_after(self, sale_id: int, position: int, limit: int) -> list[ListedOrder]:
        """At most `limit` orders of the sale after `position`, in position order, with
        their state and payment reference.

        One short read (a range of the orders' primary key): between two pages
        no read is open, so the allocator's checkpoints are never held back by a
        long export (a reader keeps the WAL from being reset while it reads).
        """
        rows = (
            self._db()
            .execute(
                "SELECT order_id, sale_id, user_id, unit, position, purchased_at_us, sku, "
                "sku_position, state, payment_ref FROM orders "
                "WHERE sale_id = ? AND position > ? ORDER BY position LIMIT ?",
                (sale_id, position, limit),
            )
            .fetchall()
        )
        return [ListedOrder(*row) for row in rows]


def _runs(writes: Iterable[Write]) -> Iterator[tuple[int, str, list[tuple[object, ...]]]]:
    """Consecutive writes of the same statement at the same index, as one run."""
    run: tuple[int, str, list[tuple[object, ...]]] | None = None
    for at, sql, params in writes:
        if run is not None and run[0] == at and run[1] == sql:
            run[2].append(params)
            continue
        if run is not None:
            yield run
        run = (at, sql, [params])
    if run is not None:
        yield run
