"""A worker hands memory back to the system after many of its connections close.

What Python's allocators allow. Objects of 512 bytes or less come from
pymalloc, which takes memory from the system in 1 MiB arenas (Python 3.10 and
later) of 16 KiB pools, and unmaps an arena only once every block in it is
free: one object that outlives the connections around it (a cached text of
a second, a timer handle the loop frees later, the interpreter's free lists
of tuples, floats and dicts) pins its whole arena. A freed block is reused by the next
objects of its size, so the memory of closed connections serves the next
ones, but stays the worker's. Larger blocks (a parser's 4 KiB buffer, a
protocol's attribute dict, a deque's block) come from glibc's malloc, which
gives back the top of its heap by itself but keeps the free holes below it
until `malloc_trim`, which returns their pages (MADV_DONTNEED).

Measured on one worker with 8,000 event streams (`python -m stress streams`):
at 154 MiB with them open (49.5 MiB at rest), 117-128 MiB once they closed;
then a full collection (cheap once few objects are left: start-up's are
frozen; it also empties the interpreter's free lists) and malloc_trim(0), in
7-8 ms, brought it to 70-90 MiB. What stays is pymalloc arenas pinned by a
few objects made while the streams were open and still alive (found with
tracemalloc); the next streams reuse them, so the peak stays where it was
(154-155 MiB over four rounds). With PYTHONMALLOC=malloc (glibc for every
object) the worker came back to within 1 MiB of its baseline, but served
10-34% fewer status reads a second here: pymalloc stays.

So once the open connections have fallen by TRIM_AFTER_DROP from the highest
count since the last trim and have stopped falling, the worker collects (if
fewer than TRIM_AFTER_DROP are left) and calls malloc_trim, at most every
TRIM_MIN_INTERVAL_S, from gunicorn's once-a-second heartbeat of the worker.
Without glibc (musl has no malloc_trim) it does nothing.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import time
from collections.abc import Callable

from flashsale.processes import usage_of

log = logging.getLogger("flashsale.memory")

TRIM_AFTER_DROP = 1000  # connections: 13 MiB or more
TRIM_MIN_INTERVAL_S = 10.0
MIB = 1 << 20


def glibc_malloc_trim() -> Callable[[], object] | None:
    """glibc's malloc_trim(0), or None where the C library has none."""
    try:
        libc = ctypes.CDLL(None)  # this process's own symbols, its C library's among them
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class MemoryReturn:
    def __init__(
        self,
        trim: Callable[[], object] | None,
        *,
        pid: int,
        collect: Callable[[], object] = gc.collect,
        after_drop: int = TRIM_AFTER_DROP,
        min_interval_s: float = TRIM_MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trim = trim
        self._collect = collect
        self._pid = pid
        self.after_drop = after_drop
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._peak = 0  # the most connections open since the last trim
        self._last = 0  # at the last call
        self._trimmed_at = -min_interval_s

    def note_open(self, connections: int) -> bool:
        """Called with the connections open now; True when it handed memory back."""
        self._peak = max(self._peak, connections)
        still_falling, self._last = connections < self._last, connections
        if self._trim is None or still_falling or self._peak - connections < self.after_drop:
            return False
        now = self._clock()
        if now - self._trimmed_at < self.min_interval_s:
            return False
        before = self._resident_mib()
        started = time.perf_counter()
        collected = connections < self.after_drop
        if collected:
            # Few objects are left to scan (start-up's are frozen), and a full
            # collection also empties the interpreter's free lists.
            self._collect()
        self._trim()
        took_ms = (time.perf_counter() - started) * 1000
        log.info(
            "worker %d: %d connections closed; handed memory back: RSS %.0f -> %.0f MiB "
            "(%s, %.0f ms)",
            self._pid,
            self._peak - connections,
            before,
            self._resident_mib(),
            "gc.collect and malloc_trim" if collected else "malloc_trim",
            took_ms,
        )
        self._peak, self._trimmed_at = connections, now
        return True

    def _resident_mib(self) -> float:
        usage = usage_of("worker", self._pid)
        return usage.resident_bytes / MIB if usage is not None else 0.0
