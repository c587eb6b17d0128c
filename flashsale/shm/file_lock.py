"""Cross-process locks that a killed holder cannot leave locked, and that never block.

A `multiprocessing.Lock` held by a process that is killed stays locked forever.
These are Linux open-file-description (OFD) byte-range locks: each process
opens the lock file itself, and the kernel drops its locks when that
descriptor closes, however the process dies.

Nothing here waits in the kernel: a holder may be stopped (SIGSTOP, a
debugger), and a worker's event loop must never wait for it. `try_lock` takes
a range at once or not at all; `lock` retries it from the event loop, with
short sleeps, until a deadline. A range is held only across code that does not
await, and only by a worker's event loop thread, so one process never tries to
take a range it already holds (an OFD lock would let it, being its owner).

Used for the rate-limit buckets (which wait) and the breaker's transitions
(which are skipped when another worker is making one).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# struct flock (Linux): l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks).
_FLOCK = struct.Struct("hhqqi4x")
# A holder keeps a range for microseconds; a preempted one for a scheduler tick.
RETRY_INTERVAL_S = 0.0005

# This process's pid, kept up to date across forks (os.getpid() is a system
# call, and a lock is taken on every purchase).
_pid = os.getpid()


def _note_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_note_fork)


def _flock(lock_type: int, index: int) -> bytes:
    return _FLOCK.pack(lock_type, os.SEEK_SET, index, 1, 0)


class RangeLocks:
    """`count` independent locks, byte i of one lock file being lock i."""

    def __init__(self, path: Path, count: int) -> None:
        self.path = path
        self.count = count
        path.touch(exist_ok=True)
        self._fd = -1
        self._fd_pid = 0
        self._lock_requests = [_flock(fcntl.F_WRLCK, i) for i in range(count)]
        self._unlock_requests = [_flock(fcntl.F_UNLCK, i) for i in range(count)]

    def _descriptor(self) -> int:
        # Opened lazily per process: a descriptor inherited across fork would
        # share lock ownership with the parent.
        if self._fd_pid != _pid:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            self._fd_pid = _pid
        return self._fd

    def try_lock(self, index: int) -> bool:
        """Take lock `index` if no other process holds it; never waits."""
        try:
            fcntl.fcntl(self._descriptor(), fcntl.F_OFD_SETLK, self._lock_requests[index])
        except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: held elsewhere
            return False
        return True

    def unlock(self, index: int) -> None:
        fcntl.fcntl(self._descriptor(), fcntl.F_OFD_SETLK, self._unlock_requests[index])

    async def lock(self, index: int, timeout_s: float) -> bool:
        """Take lock `index`, waiting on the event loop for at most `timeout_s`."""
        if self.try_lock(index):
            return True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(RETRY_INTERVAL_S)
            if self.try_lock(index):
                return True
        return False

    @contextmanager
    def attempt(self, index: int) -> Iterator[bool]:
        """`with locks.attempt(i) as held:` holds lock i if it was free (held is True)."""
        held = self.try_lock(index)
        try:
            yield held
        finally:
            if held:
                self.unlock(index)
