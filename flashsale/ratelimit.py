"""Per-user (and optionally per-address) rate limiting, exact across all workers.

A fixed window per key: the first attempt opens a window of `window_s`; at most
`limit` attempts are let through until it closes. The windows live in a
shared-memory RateTable, so whichever worker answers, the count is the same.
A bucket's lock is waited for on the event loop, for LOCK_TIMEOUT_S at most
(its holder may be stopped); past that the attempt is refused as unavailable.
"""

from __future__ import annotations

from typing import NamedTuple

from flashsale.errors import Unavailable
from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import (
    BUCKET_WORDS,
    COUNT,
    ENTRY_WORDS,
    KEY,
    NUM_STRIPES,
    START,
    RateTable,
)


class RateDecision(NamedTuple):
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window closes


LOCK_TIMEOUT_S = 0.2


def key_hash(key: str) -> int:
    """A non-zero 63-bit hash of `key`, the same in every process that shares the table.

    Python's str hash is seeded once per interpreter start; the table lives in
    one master's shared memory, and every worker that reads it is forked from
    that master with its seed. Seeded (SipHash), it also keeps a client from
    computing ids that all land in one bucket to evict other shoppers' windows,
    which an unkeyed hash would allow.
    """
    return (hash(key) & _HASH_MASK) or 1


_HASH_MASK = (1 << 63) - 1


class RateLimiter:
    def __init__(self, table: RateTable, locks: RangeLocks) -> None:
        self.table = table
        self.locks = locks

    async def hit(self, key: str, *, limit: int, window_s: int, now_s: int) -> RateDecision:
        """Count one attempt of `key`; refused (and not counted) past the limit."""
        h = key_hash(key)
        bucket = self.table.bucket_of(h)
        first = self.table.first_word(bucket)
        words = self.table.words.view
        stripe = bucket % NUM_STRIPES
        # try_lock first: a free lock (nearly always) then costs no coroutine.
        if not self.locks.try_lock(stripe) and not await self.locks.lock(stripe, LOCK_TIMEOUT_S):
            raise Unavailable("the rate limiter is busy")
        try:
            # The whole bucket in one read; then only the chosen entry is written.
            bucket_words = words[first : first + BUCKET_WORDS].tolist()
            at = _entry_for(bucket_words, h, window_s, now_s)
            if bucket_words[at + KEY] != h or bucket_words[at + START] + window_s <= now_s:
                start, count = now_s, 0
                words[first + at + KEY] = h
                words[first + at + START] = now_s
            else:
                start, count = bucket_words[at + START], bucket_words[at + COUNT]
            reset_s = max(start + window_s - now_s, 1)
            if count >= limit:
                return RateDecision(False, limit, 0, reset_s)
            words[first + at + COUNT] = count + 1
            return RateDecision(True, limit, limit - count - 1, reset_s)
        finally:
            self.locks.unlock(stripe)

    async def count(self, key: str, *, window_s: int, now_s: int) -> tuple[int, int]:
        """(attempts of `key` in its open window, seconds until it closes), counting nothing."""
        h = key_hash(key)
        bucket = self.table.bucket_of(h)
        first = self.table.first_word(bucket)
        stripe = bucket % NUM_STRIPES
        if not self.locks.try_lock(stripe) and not await self.locks.lock(stripe, LOCK_TIMEOUT_S):
            raise Unavailable("the rate limiter is busy")
        try:
            entries = self.table.words.view[first : first + BUCKET_WORDS].tolist()
        finally:
            self.locks.unlock(stripe)
        keys = entries[KEY::ENTRY_WORDS]
        if h not in keys:
            return 0, window_s
        at = keys.index(h) * ENTRY_WORDS
        start = entries[at + START]
        if start + window_s <= now_s:
            return 0, window_s
        return entries[at + COUNT], max(start + window_s - now_s, 1)


def _entry_for(entries: list[int], h: int, window_s: int, now_s: int) -> int:
    """The key's entry if it has one; else the first free or expired one; else the stalest."""
    keys = entries[KEY::ENTRY_WORDS]
    if h in keys:  # list operations in C: this runs on every purchase
        return keys.index(h) * ENTRY_WORDS
    starts = entries[START::ENTRY_WORDS]
    cutoff = now_s - window_s
    for index, start in enumerate(starts):
        if keys[index] == 0 or start <= cutoff:
            return index * ENTRY_WORDS
    return starts.index(min(starts)) * ENTRY_WORDS
