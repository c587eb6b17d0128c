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
        h, first, stripe = self._place(key)
        words = self.table.words.view
        if not self.locks.try_lock(stripe):  # nearly always free: then no coroutine
            await self._wait_for(stripe)
        try:
            # The whole bucket in one read; then only the chosen entry is written.
            bucket_words = words[first : first + BUCKET_WORDS].tolist()
            at = _entry_for(bucket_words, h, window_s, now_s)
            if not _is_open(bucket_words, at, h, window_s, now_s):
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
        h, first, stripe = self._place(key)
        if not self.locks.try_lock(stripe):
            await self._wait_for(stripe)
        try:
            bucket_words = self.table.words.view[first : first + BUCKET_WORDS].tolist()
        finally:
            self.locks.unlock(stripe)
        keys = bucket_words[KEY::ENTRY_WORDS]
        at = keys.index(h) * ENTRY_WORDS if h in keys else 0
        if not _is_open(bucket_words, at, h, window_s, now_s):
            return 0, window_s
        start = bucket_words[at + START]
        return bucket_words[at + COUNT], max(start + window_s - now_s, 1)

    def _place(self, key: str) -> tuple[int, int, int]:
        """The key's hash, its bucket's first word and the bucket's lock stripe."""
        h = key_hash(key)
        bucket = self.table.bucket_of(h)
        return h, self.table.first_word(bucket), bucket % NUM_STRIPES

    async def _wait_for(self, stripe: int) -> None:
        """Take the stripe's lock, held by another worker now, or give up."""
        if not await self.locks.lock(stripe, LOCK_TIMEOUT_S):
            raise Unavailable("the rate limiter is busy")


def _is_open(bucket_words: list[int], at: int, h: int, window_s: int, now_s: int) -> bool:
    """Whether the entry at `at` is `h`'s and its window has not closed."""
    return bucket_words[at + KEY] == h and bucket_words[at + START] + window_s > now_s


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
