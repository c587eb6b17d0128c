"""The journal's group commits, written on a thread of their own.

SQLite inserts a batch and waits for its fsync without holding the GIL, so
while one batch is being made durable the allocator loop reads and decides
the next: the two halves of a sale's cost overlap on two cores. One commit at
a time, so batches become durable in the order they were decided.

After each commit the thread also checks the disk's room and checkpoints early
when it runs short (journal_room.py), before the loop hears the commit is
over: the connection is never used by both at once.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Sequence

from flashsale.journal import Journal, Write
from flashsale.records import OrderRecord
from flashsale.webhooks.outbox import Outbox


class Committer:
    def __init__(self, journal: Journal, outbox: Outbox | None = None) -> None:
        """`outbox`: with webhooks on, each commit appends its sales' events."""
        self._journal = journal
        self._outbox = outbox
        self._batches: queue.SimpleQueue[tuple[Sequence[OrderRecord], Sequence[Write]]] = (
            queue.SimpleQueue()
        )
        self._failure: BaseException | None = None
        # Readable once a commit is over: the loop selects on it.
        self.done_fd, self._done_w = os.pipe()
        self.busy = False
        threading.Thread(target=self._write_forever, name="journal", daemon=True).start()

    def start(self, orders: Sequence[OrderRecord], writes: Sequence[Write] = ()) -> None:
        """Begin making `orders` durable; the caller hears of it through `done_fd`."""
        if self.busy:
            raise RuntimeError("a commit is already being written")
        self.busy = True
        self._batches.put((orders, writes))

    def finish(self) -> sqlite3.OperationalError | None:
        """Collect the commit `done_fd` announced: None if it is durable, else why it failed.

        A journal that cannot be written (a full disk, a read-only file system)
        is returned: nobody has been told about these sales yet. Anything else
        (the schema refusing an oversell: a bug) is raised, and the process
        dies and recovers from what was durable.
        """
        os.read(self.done_fd, 1)  # blocks until it is over
        self.busy = False
        failure, self._failure = self._failure, None
        if failure is None or isinstance(failure, sqlite3.OperationalError):
            return failure
        raise failure

    def _write_forever(self) -> None:
        while True:
            orders, writes = self._batches.get()
            try:
                self._journal.record(orders, writes, self._outbox)
                self._journal.keep_room()
            except BaseException as exc:  # handed to the loop (finish)
                self._failure = exc
            os.write(self._done_w, b"d")
