"""Per-user (and optionally per-address) rate limiting, exact across all workers.

A fixed window per key: the first attempt opens a window of `window_s`; at most
`limit` attempts are let through until it closes. The windows live in a
shared-memory RateTable, so whichever worker answers, the count is the same.
A bucket's lock is waited for on the event loop, for LOCK_TIMEOUT_S at most
(its holder may be stopped); past that the attempt is refused as unavailable.

A new key whose bucket is full of live windows takes the slot of the key below
its limit with the fewest attempts; if every key is at its limit, of the one
whose window opened last. So a flood of new keys counted once each evicts only
windows of keys that tried as rarely, never a key held at its limit; and a
flood of keys each brought to its limit churns the slot of its newest key,
while the older lock-outs hold (stress/rate_flood.py measures both).
"""

from __future__ import annotations

from typing import NamedTuple

from flashsale.errors import Unavailable
from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import (
    AT_LIMIT,
    ATTEMPTS_MASK,
    ATTEMPTS_SHIFT,
    BUCKET_WORDS,
    COUNT,
    ENTRY_WORDS,
    KEY,
    NUM_STRIPES,
    START,
    RateTable,
    attempts_of,
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
                start = bucket_words[at + START]
                count = bucket_words[at + COUNT] >> ATTEMPTS_SHIFT & ATTEMPTS_MASK
            reset_s = max(start + window_s - now_s, 1)
            if count >= limit:
                return RateDecision(False, limit, 0, reset_s)
            # rate_table.tally(), inlined: this runs on every purchase.
            count += 1
            words[first + at + COUNT] = (
                (AT_LIMIT if count >= limit else 0) | count << ATTEMPTS_SHIFT | limit
            )
            return RateDecision(True, limit, limit - count, reset_s)
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
        return attempts_of(bucket_words[at + COUNT]), max(start + window_s - now_s, 1)

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
    """The key's entry if it has one; else a free or expired one; else a victim's."""
    keys = entries[KEY::ENTRY_WORDS]
    # List operations in C, no loop in Python: this runs on every purchase.
    if h in keys:
        return keys.index(h) * ENTRY_WORDS
    if 0 in keys:
        return keys.index(0) * ENTRY_WORDS
    starts = entries[START::ENTRY_WORDS]
    oldest = min(starts)
    if oldest <= now_s - window_s:
        return starts.index(oldest) * ENTRY_WORDS
    tallies = entries[COUNT::ENTRY_WORDS]
    fewest = min(tallies)  # a key below its limit has a smaller tally than any at it
    if fewest < AT_LIMIT:
        return tallies.index(fewest) * ENTRY_WORDS
    # Every key at its limit: the newest window goes, so a lock-out holds against
    # a flood of keys at their limits, which then churns one slot.
    return starts.index(max(starts)) * ENTRY_WORDS
