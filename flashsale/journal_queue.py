"""The waiting room in the SQLite journal: each sale's tickets and where its queue stands.

The allocator decides (flashsale.allocator.waiting_room) and writes these rows among
the changes of its group commits (flashsale.journal.Write), so a ticket, the drawn
order and an admission are durable before anyone is told of them. The places a
shuffle drew stay in `queue_tickets` for good: the order can be audited afterwards.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

TABLES = """
-- One ticket a person a sale (`number`: in the order they joined). A ticket of the
-- pre-queue has no place until the start draws one; later ones get the next place.
CREATE TABLE IF NOT EXISTS queue_tickets (
    sale_id        INTEGER NOT NULL REFERENCES sales (sale_id),
    number         INTEGER NOT NULL CHECK (number >= 1),
    user_id        TEXT NOT NULL,
    joined_at_us   INTEGER NOT NULL,
    place          INTEGER CHECK (place >= 1),
    admitted_at_us INTEGER,
    used_at_us     INTEGER,  -- its purchase: the admission ends
    PRIMARY KEY (sale_id, number),
    UNIQUE (sale_id, user_id),
    UNIQUE (sale_id, place)
) WITHOUT ROWID;
-- Where a sale's queue stands: drawn (`shuffled_at_us`), admitted up to place
-- `serving`, admissions counted up to `budget_at_us`, and closed (sold out, ended).
CREATE TABLE IF NOT EXISTS queues (
    sale_id        INTEGER PRIMARY KEY REFERENCES sales (sale_id),
    shuffled_at_us INTEGER,
    serving        INTEGER NOT NULL DEFAULT 0 CHECK (serving >= 0),
    budget_at_us   INTEGER NOT NULL DEFAULT 0,
    closed_at_us   INTEGER
);
-- The proofs of work that joined someone, until their challenge has surely expired:
-- a solution joins one person, also across a restart of the allocator.
CREATE TABLE IF NOT EXISTS queue_proofs (
    sale_id        INTEGER NOT NULL REFERENCES sales (sale_id),
    proof          TEXT NOT NULL,
    kept_until_us  INTEGER NOT NULL,
    PRIMARY KEY (sale_id, proof)
) WITHOUT ROWID;
"""

INSERT_TICKET = (
    "INSERT INTO queue_tickets (sale_id, number, user_id, joined_at_us, place) "
    "VALUES (?, ?, ?, ?, ?)"
)
SET_PLACE = "UPDATE queue_tickets SET place = ? WHERE sale_id = ? AND number = ?"
ADMIT = "UPDATE queue_tickets SET admitted_at_us = ? WHERE sale_id = ? AND place > ? AND place <= ?"
USE = "UPDATE queue_tickets SET used_at_us = ? WHERE sale_id = ? AND number = ?"
# An upsert: a proof past its keeping (its challenge expired, so no worker passes it on)
# must never fail the group commit it rides in.
SPEND_PROOF = (
    "INSERT INTO queue_proofs (sale_id, proof, kept_until_us) VALUES (?, ?, ?) "
    "ON CONFLICT (sale_id, proof) DO UPDATE SET kept_until_us = excluded.kept_until_us"
)
PRUNE_PROOFS = "DELETE FROM queue_proofs WHERE sale_id = ? AND kept_until_us <= ?"
SAVE_QUEUE = (
    "INSERT INTO queues (sale_id, shuffled_at_us, serving, budget_at_us, closed_at_us) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sale_id) DO UPDATE SET "
    "shuffled_at_us = excluded.shuffled_at_us, serving = excluded.serving, "
    "budget_at_us = excluded.budget_at_us, closed_at_us = excluded.closed_at_us"
)


class TicketRow(NamedTuple):
    sale_id: int
    number: int
    user_id: str
    joined_at_us: int
    place: int | None
    admitted_at_us: int | None
    used_at_us: int | None


class QueueRow(NamedTuple):
    shuffled_at_us: int | None
    serving: int
    budget_at_us: int
    closed_at_us: int | None


_TICKET_COLUMNS = "sale_id, number, user_id, joined_at_us, place, admitted_at_us, used_at_us"


def create_tables(db: sqlite3.Connection) -> None:
    db.executescript(TABLES)


def tickets(db: sqlite3.Connection, sale_id: int) -> list[TicketRow]:
    """A sale's tickets in the order they joined."""
    rows = db.execute(
        f"SELECT {_TICKET_COLUMNS} FROM queue_tickets WHERE sale_id = ? ORDER BY number",
        (sale_id,),
    ).fetchall()
    return [TicketRow(*row) for row in rows]


def spent_proofs(db: sqlite3.Connection, sale_id: int, now_us: int) -> dict[str, int]:
    """The proofs of work a sale's joins spent that are still kept at `now_us`: proof ->
    until when."""
    rows = db.execute(
        "SELECT proof, kept_until_us FROM queue_proofs WHERE sale_id = ? AND kept_until_us > ?",
        (sale_id, now_us),
    ).fetchall()
    return dict(rows)


def queue_row(db: sqlite3.Connection, sale_id: int) -> QueueRow | None:
    row = db.execute(
        "SELECT shuffled_at_us, serving, budget_at_us, closed_at_us FROM queues WHERE sale_id = ?",
        (sale_id,),
    ).fetchone()
    return None if row is None else QueueRow(*row)


def tickets_by_place(
    db: sqlite3.Connection, sale_id: int, after: int, limit: int
) -> list[TicketRow]:
    """A page of the recorded order: tickets by place after `after` (a place), then those
    without one yet (the pre-queue before its draw) by number, as `after` counts on."""
    rows = db.execute(
        f"SELECT {_TICKET_COLUMNS} FROM queue_tickets "
        "WHERE sale_id = ? AND coalesce(place, 1000000000000 + number) > ? "
        "ORDER BY coalesce(place, 1000000000000 + number) LIMIT ?",
        (sale_id, after, limit),
    ).fetchall()
    return [TicketRow(*row) for row in rows]


def page_key(row: TicketRow) -> int:
    """Where a page of `tickets_by_place` ended: the next page's `after`."""
    return row.place if row.place is not None else 1_000_000_000_000 + row.number
