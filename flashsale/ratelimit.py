"""Per-user (and optionally per-address) rate limiting, exact across all workers.

A fixed window per key: the first attempt opens a window of `window_s`; at most
`limit` attempts are let through until it closes. The windows live in a
shared-memory RateTable, so whichever worker answers, the count is the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import COUNT, KEY, NUM_STRIPES, START, RateTable


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window closes


def key_hash(key: str) -> int:
    """A stable, non-zero 63-bit hash (Python's hash() differs between interpreters)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 1) or 1


class RateLimiter:
    def __init__(self, table: RateTable, locks: RangeLocks) -> None:
        self.table = table
        self.locks = locks

    def hit(self, key: str, *, limit: int, window_s: int, now_s: int) -> RateDecision:
        """Count one attempt of `key`; refused (and not counted) past the limit."""
        h = key_hash(key)
        bucket = self.table.bucket_of(h)
        words = self.table.words
        with self.locks.hold(bucket % NUM_STRIPES):
            entry = self._entry_for(h, bucket, window_s, now_s)
            if words[entry + KEY] != h or words[entry + START] + window_s <= now_s:
                words[entry + KEY] = h
                words[entry + START] = now_s
                words[entry + COUNT] = 0
            count = words[entry + COUNT]
            reset_s = max(words[entry + START] + window_s - now_s, 1)
            if count >= limit:
                return RateDecision(False, limit, 0, reset_s)
            words[entry + COUNT] = count + 1
            return RateDecision(True, limit, limit - count - 1, reset_s)

    def _entry_for(self, h: int, bucket: int, window_s: int, now_s: int) -> int:
        """The key's slot if it has one; else a free or expired slot; else the stalest."""
        words = self.table.words
        free = stalest = None
        for entry in self.table.slot_offsets(bucket):
            if words[entry + KEY] == h:
                return entry
            expired = words[entry + KEY] == 0 or words[entry + START] + window_s <= now_s
            if expired and free is None:
                free = entry
            if stalest is None or words[entry + START] < words[stalest + START]:
                stalest = entry
        return free if free is not None else stalest
