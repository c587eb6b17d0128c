"""The journal's outbox, pruned: events the sender has finished (delivered, or given up)
and that happened more than the webhooks' max age ago are deleted, so the table does not
grow with every sale for ever. The Redis engine trims its stream the same way
(flashsale.redis_engine.outbox).

The allocator does it, being the journal's one writer: every PRUNE_EVERY_S it reads
how far the sender has finished (its own progress file, read-only) and adds one bounded
DELETE to its next group commit, so pruning a large backlog costs a commit a few
milliseconds at a time, never one long transaction.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from flashsale.webhooks.progress import progress_path

PRUNE_EVERY_S = 60.0
PRUNE_AT_MOST = 2_000  # events deleted by one commit
DELETE_FINISHED = (
    "DELETE FROM webhook_outbox WHERE seq IN (SELECT seq FROM webhook_outbox "
    "WHERE seq <= ? AND at_us < ? ORDER BY seq LIMIT ?)"
)


class OutboxPruning:
    def __init__(self, journal: Path, keep_s: float, every_s: float = PRUNE_EVERY_S) -> None:
        self._progress = progress_path(journal)
        self._keep_us = int(keep_s * 1_000_000)
        self._every_s = every_s
        self._next_at_s = 0.0

    def due(self, now_s: float, now_us: int) -> tuple[str, tuple[object, ...]] | None:
        """The DELETE to commit now (`now_s` monotonic), or None: not time yet, or the
        sender has finished nothing."""
        if now_s < self._next_at_s:
            return None
        self._next_at_s = now_s + self._every_s
        through = finished_through(self._progress)
        if not through:
            return None
        return DELETE_FINISHED, (through, now_us - self._keep_us, PRUNE_AT_MOST)


def finished_through(progress: Path) -> int:
    """The sender's `through_seq` (every event up to it finished); 0 when unreadable,
    as before the sender's first start."""
    try:
        with closing(sqlite3.connect(f"file:{progress}?mode=ro", uri=True, timeout=1)) as db:
            row = db.execute("SELECT through_seq FROM progress WHERE id = 1").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0
