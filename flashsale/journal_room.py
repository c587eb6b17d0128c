"""Room on the journal's disk: when to checkpoint early, so a full disk can always recover.

A commit appends pages to the WAL; a checkpoint copies them into the database
file, which grows by the pages that are new. Left to SQLite's autocheckpoint
(every WAL_AUTOCHECKPOINT_PAGES, about 40 MiB: journal.py), the WAL of a sale
on a small disk fills the disk before the first checkpoint, and then nothing
recovers: a checkpoint cannot grow the database, so the WAL can never be
emptied, however long the allocator waits.

So after each commit the committer compares the disk's free space with the
WAL: a checkpoint needs at most the WAL's size of new database pages, and the
commits to come need RESERVE_BYTES. With less free than both, the journal
checkpoints (TRUNCATE: the WAL file is cut to nothing) at once. A disk with
plenty of room is looked at every RECHECK_S (statvfs, stat: 5-8 us) rather than
after each commit; the early checkpoints cost only near a full disk.

Selling goes on until a write fails, so a sale may use the disk to its last
page; once one has failed, selling resumes only with RESERVE_BYTES free after
the checkpoint (journal_health.py probes), so that it does not resume into a
disk the next commit fills again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("flashsale.journal")

MIB = 1024 * 1024
# Room kept for the commits to come. A commit of 256 sales to shoppers whose ids
# fall all over the buyers' index rewrites about 300 pages (1.2 MiB of WAL).
RESERVE_BYTES = 2 * MIB
# A disk with SPARE_BYTES more than the WAL and the reserve needs is looked at
# again only after RECHECK_S: meanwhile the WAL grows at most to its
# autocheckpoint's 40 MiB, and the database by a few MB (200 bytes a sale).
SPARE_BYTES = 128 * MIB
RECHECK_S = 0.05
# At most one line this often about early checkpoints: near a full disk, each
# commit may need one.
LOG_INTERVAL_S = 60.0


def disk_free_bytes(folder: Path) -> int:
    """What an unprivileged writer may still write on `folder`'s file system."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def file_bytes(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:  # no WAL yet, or none after a clean close
        return 0


def disk_full(detail: str) -> sqlite3.OperationalError:
    """The error of a disk too full to sell on, named as SQLite names its own."""
    error = sqlite3.OperationalError(f"database or disk is full: {detail}")
    error.sqlite_errorcode = sqlite3.SQLITE_FULL
    error.sqlite_errorname = "SQLITE_FULL"
    return error


class Room:
    """The free space beside one journal, against what its WAL may need."""

    def __init__(self, db_path: Path, *, free_bytes: Callable[[], int] | None = None) -> None:
        """`free_bytes`: the disk's free space (the tests give their own)."""
        folder = db_path.parent
        self.wal_path = Path(f"{db_path}-wal")
        self.free_bytes = free_bytes or (lambda: disk_free_bytes(folder))
        self._next_look_s = 0.0  # monotonic: when the disk is looked at again
        self._seen = (0, 0)  # free and WAL bytes at the last look, for the log
        self._early = 0  # early checkpoints since the last log line
        self._logged_s: float | None = None  # monotonic time of the last line

    def short(self) -> bool:
        """Whether the WAL must be checkpointed now to keep the disk recoverable."""
        now_s = time.monotonic()
        if now_s < self._next_look_s:
            return False
        free, wal = self.free_bytes(), file_bytes(self.wal_path)
        self._seen = (free, wal)
        if free >= wal + RESERVE_BYTES + SPARE_BYTES:
            self._next_look_s = now_s + RECHECK_S
        return free < wal + RESERVE_BYTES

    def shortfall(self) -> str | None:
        """Why the journal should not sell again yet (a disk short of room), or None."""
        free, wal = self.free_bytes(), file_bytes(self.wal_path)
        if free >= wal + RESERVE_BYTES:
            return None
        return (
            f"{free / MIB:.1f} MiB free beside {wal / MIB:.1f} MiB of WAL; "
            f"selling resumes with {RESERVE_BYTES / MIB:.0f} MiB free"
        )

    def note_early_checkpoint(self, error: str | None = None) -> None:
        """Count an early checkpoint (and log, at most every LOG_INTERVAL_S, what the
        disk had when it was found short)."""
        self._early += 1
        now_s = time.monotonic()
        if self._logged_s is not None and now_s - self._logged_s < LOG_INTERVAL_S:
            return
        free, wal = self._seen
        failed = f"; the last one failed ({error})" if error else ""
        log.warning(
            "journal: its disk is short of room (%.1f MiB free, %.1f MiB of WAL): "
            "checkpointing early (%s times since the last such line)%s",
            free / MIB,
            wal / MIB,
            self._early,
            failed,
        )
        self._early, self._logged_s = 0, now_s
