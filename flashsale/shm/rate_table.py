"""A fixed-size table of rate-limit windows in shared memory, shared by all workers.

Keys (a user id, or a client address) hash to a bucket of BUCKET_SLOTS entries;
a key lives in one slot of its bucket. Each entry is three int64 words:
key hash (0: empty), window start (epoch seconds), attempts in that window.
A bucket is changed only under its RangeLocks lock (buckets share NUM_STRIPES
locks), so a count is exact across workers.

Full table: when every slot of a bucket holds a live window of another key,
the key with the oldest window is evicted. Memory never grows; the cost is that
an evicted key starts a fresh window early (the table is sized so that this
needs more distinct keys per window than FLASHSALE_RATE_TABLE_SIZE).
"""

from __future__ import annotations

from flashsale.shm.segment import Words

BUCKET_SLOTS = 8
ENTRY_WORDS = 3
BUCKET_WORDS = BUCKET_SLOTS * ENTRY_WORDS
NUM_STRIPES = 256
KEY, START, COUNT = range(3)


class RateTable:
    def __init__(self, entries: int) -> None:
        self.buckets = max(entries // BUCKET_SLOTS, 1)
        self.words = Words(self.buckets * BUCKET_SLOTS * ENTRY_WORDS)

    def bucket_of(self, key_hash: int) -> int:
        return key_hash % self.buckets

    def first_word(self, bucket: int) -> int:
        """Where the bucket's BUCKET_WORDS words begin."""
        return bucket * BUCKET_WORDS
