"""Cross-process locks that a killed holder cannot leave locked.

A `multiprocessing.Lock` held by a process that is killed stays locked forever.
These are Linux open-file-description (OFD) byte-range locks: each process
opens the lock file itself, the kernel drops its locks when that descriptor
closes, however the process dies, and, unlike classic POSIX record locks
(owned by the process), they get no per-process deadlock check. With several
threads per worker that check saw false cycles between workers and failed
with EDEADLK, although no caller ever holds two ranges. Threads of one process
share a descriptor, so each range also has a process-local thread lock.

Used for the breaker's transitions and the rate-limit buckets.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# struct flock (Linux): l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks).
_FLOCK = struct.Struct("hhqqi4x")


def _flock(lock_type: int, index: int) -> bytes:
    return _FLOCK.pack(lock_type, os.SEEK_SET, index, 1, 0)


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
            fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, _flock(fcntl.F_WRLCK, index))
            try:
                yield
            finally:
                fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, _flock(fcntl.F_UNLCK, index))
