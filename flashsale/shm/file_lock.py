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
        self._opening = threading.Lock()
        self._ranges = [_RangeLock(self, index) for index in range(count)]

    def descriptor(self) -> int:
        # Opened lazily per process: a descriptor inherited across fork would
        # share lock ownership with the parent. Opened once per process: a lock
        # taken through one descriptor is not released through another.
        pid = os.getpid()
        if self._fd_pid != pid:
            with self._opening:
                if self._fd_pid != pid:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
                    self._fd_pid = pid
        return self._fd

    def hold(self, index: int) -> _RangeLock:
        """`with locks.hold(i):` holds lock i against every thread of every process."""
        return self._ranges[index % self.count]


class _RangeLock:
    """One range: a context manager (a class, not a generator: it is taken on
    every purchase, and @contextmanager costs several times as much)."""

    __slots__ = ("_fd", "_lock_request", "_locks", "_thread_lock", "_unlock_request")

    def __init__(self, locks: RangeLocks, index: int) -> None:
        self._locks = locks
        self._thread_lock = threading.Lock()
        self._fd = -1
        self._lock_request = _flock(fcntl.F_WRLCK, index)
        self._unlock_request = _flock(fcntl.F_UNLCK, index)

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            # Kept for the release, which must go through the same descriptor.
            self._fd = self._locks.descriptor()
            fcntl.fcntl(self._fd, fcntl.F_OFD_SETLKW, self._lock_request)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            fcntl.fcntl(self._fd, fcntl.F_OFD_SETLKW, self._unlock_request)
        finally:
            self._thread_lock.release()
