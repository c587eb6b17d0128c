"""A fixed-size table of rate-limit windows in shared memory, shared by all workers.

Keys (a user id, or a client address) hash to a bucket of BUCKET_SLOTS entries;
a key lives in one slot of its bucket. Each entry is three int64 words:
  KEY    key hash (0: empty)
  START  window start (epoch seconds)
  COUNT  the window's tally: AT_LIMIT (bit 62) set once the attempts reach the
         key's limit, the attempts in that window (bits 32-61), and the key's
         limit (bits 0-31). So the smallest tally of a bucket is the window
         eviction gives up first (flashsale.ratelimit), without knowing what
         its key is
A bucket is changed only under its RangeLocks lock (buckets share NUM_STRIPES
locks), so a count is exact across workers.

Full bucket: when every slot holds a live window of another key, one window is
given up, the key at its limit last (flashsale.ratelimit says which). Memory
never grows; the cost is that an evicted key starts a fresh window early.
"""

from __future__ import annotations

from flashsale.shm.segment import Words

BUCKET_SLOTS = 8
ENTRY_WORDS = 3
BUCKET_WORDS = BUCKET_SLOTS * ENTRY_WORDS
NUM_STRIPES = 256
KEY, START, COUNT = range(3)
ATTEMPTS_SHIFT = 32
ATTEMPTS_MASK = (1 << 30) - 1  # after the shift
AT_LIMIT = 1 << 62
MAX_LIMIT = (1 << 30) - 1  # attempts never exceed the limit


def tally(attempts: int, limit: int) -> int:
    """The COUNT word of `attempts` of a key limited to `limit` (at most MAX_LIMIT)."""
    return (AT_LIMIT if attempts >= limit else 0) | attempts << ATTEMPTS_SHIFT | limit


def attempts_of(tally: int) -> int:
    return tally >> ATTEMPTS_SHIFT & ATTEMPTS_MASK


class RateTable:
    def __init__(self, entries: int) -> None:
        self.buckets = max(entries // BUCKET_SLOTS, 1)
        self.words = Words(self.buckets * BUCKET_SLOTS * ENTRY_WORDS)

    def bucket_of(self, key_hash: int) -> int:
        return key_hash % self.buckets

    def first_word(self, bucket: int) -> int:
        """Where the bucket's BUCKET_WORDS words begin."""
        return bucket * BUCKET_WORDS
