"""Cross-process locks that a killed holder cannot leave locked.

A `multiprocessing.Lock` held by a process that is killed stays locked forever.
fcntl byte-range locks belong to the process, and the kernel drops them when
it dies, however it dies. fcntl locks do not exclude threads of one process
from each other, so each range also has a process-local thread lock.

Used only off the hot path: breaker transitions and rate-limit buckets.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RangeLocks:
    """`count` independent locks, byte i of one lock file being lock i."""

    def __init__(self, path: Path, count: int) -> None:
        self.path = path
        self.count = count
        path.touch(exist_ok=True)
        self._fd: int | None = None
        self._fd_pid = 0
        self._threads = [threading.Lock() for _ in range(count)]

    def _descriptor(self) -> int:
        # Opened lazily per process: a descriptor inherited across fork would
        # share lock ownership with the parent.
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            self._fd_pid = os.getpid()
        return self._fd

    @contextmanager
    def hold(self, index: int) -> Iterator[None]:
        index %= self.count
        with self._threads[index]:
            fd = self._descriptor()
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, index)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, index)
