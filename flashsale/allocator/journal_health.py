"""The allocator's side of a journal that cannot be written: stop selling, probe, resume.

A full disk or a file system gone read-only fails a commit; nothing of it
was confirmed (commits.py). From then on every purchase is refused at once
and the journal is probed every PROBE_INTERVAL_S: a checkpoint that empties
the WAL, room to spare on the disk (journal_room.py) and a one-row commit; the
first probe that passes resumes selling. The StoreBoard tells the workers,
whose breaker and health answer 503 meanwhile.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from flashsale.journal import Journal
from flashsale.shm.store_board import StoreBoard

log = logging.getLogger("flashsale.allocator")

PROBE_INTERVAL_S = 1.0


def describe(error: sqlite3.OperationalError) -> str:
    """E.g. "SQLITE_FULL: database or disk is full"."""
    name = getattr(error, "sqlite_errorname", None)
    return f"{name}: {error}" if name else str(error)


class JournalHealth:
    def __init__(self, journal: Journal, board: StoreBoard) -> None:
        self._journal = journal
        self._board = board
        self.failing = False
        self.error: str | None = None  # while failing: why
        self._failing_since_s = 0.0
        self._next_probe_s = 0.0

    def failed(self, error: sqlite3.OperationalError) -> None:
        """A write failed: refuse to sell until a probe commits."""
        self.error = describe(error)
        self._board.report_failure(self.error)
        now_s = time.monotonic()
        if not self.failing:
            log.error(
                "allocator: journal %s cannot be written (%s); selling stops until it can "
                "(checked every %.0f s)",
                self._journal.path,
                self.error,
                PROBE_INTERVAL_S,
            )
            self.failing = True
            self._failing_since_s = now_s
        self._next_probe_s = now_s + PROBE_INTERVAL_S

    def check(self) -> None:
        """Probe the journal now (at start-up: the last allocator may have died failing).

        Only a journal that failed must wait for room to spare: at start-up, one
        that can be written sells until a write fails.
        """
        try:
            self._journal.probe(need_room=self.failing)
        except sqlite3.OperationalError as exc:
            self.failed(exc)
            return
        if self.failing:
            log.warning(
                "allocator: journal writable again after %.1f s; selling resumes",
                time.monotonic() - self._failing_since_s,
            )
        self.failing, self.error = False, None
        self._board.report_writable()

    def check_if_due(self) -> None:
        if self.failing and time.monotonic() >= self._next_probe_s:
            self.check()
