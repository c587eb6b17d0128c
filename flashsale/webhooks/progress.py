"""The sender's own durable progress: a SQLite file beside the journal (`<journal>.webhooks`),
so that the journal keeps its one writer.

- `through_seq`: every outbox event up to it is finished (delivered or given up);
- `finished`: events after it that are finished, out of order (another order's
  event was slower); folded into `through_seq` as the gaps close;
- `retrying`: the tries of events that failed, and when to try again, so a restarted
  sender keeps backing off;
- `given_up`: each event given up, kept for the operator.

Each finished delivery is committed at once (WAL, synchronous NORMAL: it survives a
kill -9 of any process; a power cut may forget the last ones, which are then sent
again): a restart re-sends at most the deliveries that were in flight.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO progress (id, through_seq) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS finished (seq INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS retrying (
    seq        INTEGER PRIMARY KEY,
    attempts   INTEGER NOT NULL,
    next_at_us INTEGER NOT NULL,
    last_error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS given_up (
    seq           INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL,
    type          TEXT NOT NULL,
    order_id      TEXT,
    attempts      INTEGER NOT NULL,
    last_error    TEXT NOT NULL,
    gave_up_at_us INTEGER NOT NULL
);
"""


def progress_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".webhooks")


class Progress:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(SCHEMA)
        self.through_seq: int = self._db.execute(
            "SELECT through_seq FROM progress WHERE id = 1"
        ).fetchone()[0]
        self._finished = {
            seq
            for (seq,) in self._db.execute(
                "SELECT seq FROM finished WHERE seq > ?", (self.through_seq,)
            )
        }

    def leading(self) -> bool:
        return True  # this host's journal has this host's sender alone

    @property
    def term(self) -> int:
        return 1

    def is_finished(self, seq: int) -> bool:
        return seq <= self.through_seq or seq in self._finished

    def retries(self) -> dict[int, tuple[int, int]]:
        """seq -> (attempts, next_at_us) of the events that failed before."""
        rows = self._db.execute("SELECT seq, attempts, next_at_us FROM retrying").fetchall()
        return {seq: (attempts, next_at) for seq, attempts, next_at in rows}

    def delivered(self, seq: int) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._finish(seq)

    def failed(self, seq: int, attempts: int, next_at_us: int, error: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO retrying (seq, attempts, next_at_us, last_error) "
            "VALUES (?, ?, ?, ?)",
            (seq, attempts, next_at_us, error[:500]),
        )

    def gave_up(
        self,
        seq: int,
        event_id: str,
        kind: str,
        order_id: str | None,
        attempts: int,
        error: str,
        at_us: int,
    ) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO given_up VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, event_id, kind, order_id, attempts, error[:500], at_us),
            )
            self._finish(seq)

    def given_up_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM given_up").fetchone()[0])

    def _finish(self, seq: int) -> None:
        """Inside a transaction: `seq` is finished; fold the closed gap into through_seq."""
        db = self._db
        db.execute("DELETE FROM retrying WHERE seq = ?", (seq,))
        if seq != self.through_seq + 1:
            db.execute("INSERT OR IGNORE INTO finished (seq) VALUES (?)", (seq,))
            self._finished.add(seq)
            return
        through = seq
        while through + 1 in self._finished:
            through += 1
            self._finished.discard(through)
        db.execute("DELETE FROM finished WHERE seq <= ?", (through,))
        db.execute("UPDATE progress SET through_seq = ? WHERE id = 1", (through,))
        self.through_seq = through

    def close(self) -> None:
        self._db.close()
