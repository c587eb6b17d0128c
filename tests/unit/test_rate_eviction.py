"""Which window a full bucket of the rate table gives up: the key at its limit last."""

from __future__ import annotations

import asyncio

import pytest

from flashsale.config import declared
from flashsale.ratelimit import RateLimiter
from flashsale.setting import Integer
from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import (
    BUCKET_SLOTS,
    MAX_LIMIT,
    NUM_STRIPES,
    RateTable,
    attempts_of,
    tally,
)

WINDOW_S = 60


@pytest.fixture
def one_bucket(tmp_path):
    """A limiter over a table of one bucket: every key collides."""
    return RateLimiter(RateTable(BUCKET_SLOTS), RangeLocks(tmp_path / "rates.lock", NUM_STRIPES))


def hit(limiter: RateLimiter, key: str, limit: int, now_s: int, times: int = 1) -> bool:
    """Count `times` attempts of `key`; whether the last was allowed."""

    async def attempts() -> bool:
        allowed = False
        for _ in range(times):
            decision = await limiter.hit(key, limit=limit, window_s=WINDOW_S, now_s=now_s)
            allowed = decision.allowed
        return allowed

    return asyncio.run(attempts())


def attempts(limiter: RateLimiter, key: str, now_s: int) -> int:
    return asyncio.run(limiter.count(key, window_s=WINDOW_S, now_s=now_s))[0]


def test_a_newcomer_evicts_the_fewest_attempts_never_a_key_at_its_limit(one_bucket):
    hit(one_bucket, "guesser", 3, now_s=100, times=3)  # at its limit, and the oldest
    for n in range(BUCKET_SLOTS - 1):
        hit(one_bucket, f"shopper{n}", 3, now_s=101 + n, times=1 if n == 4 else 2)
    hit(one_bucket, "newcomer", 3, now_s=120)
    assert attempts(one_bucket, "shopper4", now_s=120) == 0  # the fewest attempts: evicted
    assert attempts(one_bucket, "guesser", now_s=120) == 3
    assert not hit(one_bucket, "guesser", 3, now_s=120)
    for n in (0, 1, 2, 3, 5, 6):
        assert attempts(one_bucket, f"shopper{n}", now_s=120) == 2


def test_a_flood_counted_once_each_never_evicts_a_key_at_its_limit(one_bucket):
    hit(one_bucket, "guesser", 10, now_s=100, times=10)
    for n in range(10_000):
        assert hit(one_bucket, f"flood{n}", 10, now_s=101 + n % 50)
    assert not hit(one_bucket, "guesser", 10, now_s=150)
    assert attempts(one_bucket, "guesser", now_s=150) == 10


def test_at_their_limits_the_newest_window_goes_and_older_lock_outs_hold(one_bucket):
    for n in range(BUCKET_SLOTS):
        hit(one_bucket, f"guesser{n}", 2, now_s=100 + n, times=2)
    # A flood of keys each brought to its limit churns the newest slot.
    for n in range(100):
        hit(one_bucket, f"flood{n}", 2, now_s=110 + n % 20, times=2)
    held = [attempts(one_bucket, f"guesser{n}", now_s=130) for n in range(BUCKET_SLOTS)]
    assert held == [2] * (BUCKET_SLOTS - 1) + [0]  # guesser7, the newest, went first
    assert attempts(one_bucket, "flood99", now_s=130) == 2


def test_the_limit_is_each_keys_own(one_bucket):
    # A per-address key far from its limit of 1,000 goes before a user at their 10.
    hit(one_bucket, "user:at-limit", 10, now_s=100, times=10)
    hit(one_bucket, "ip:busy", 1000, now_s=101, times=50)
    for n in range(BUCKET_SLOTS - 2):
        hit(one_bucket, f"user:{n}", 10, now_s=102, times=60)  # 10 counted: at the limit
    hit(one_bucket, "newcomer", 10, now_s=110)
    assert attempts(one_bucket, "ip:busy", now_s=110) == 0
    assert attempts(one_bucket, "user:at-limit", now_s=110) == 10


def test_free_and_expired_slots_go_before_any_live_window_and_memory_stays_fixed(one_bucket):
    size = one_bucket.table.words.count
    hit(one_bucket, "old", 5, now_s=100)  # its window closes at 160
    for n in range(BUCKET_SLOTS - 1):
        hit(one_bucket, f"k{n}", 5, now_s=150)
    hit(one_bucket, "newcomer", 5, now_s=160)
    assert attempts(one_bucket, "old", now_s=160) == 0
    assert all(attempts(one_bucket, f"k{n}", now_s=160) == 1 for n in range(BUCKET_SLOTS - 1))
    assert one_bucket.table.words.count == size


def test_an_evicted_key_starts_a_fresh_window(one_bucket):
    for n in range(BUCKET_SLOTS):
        hit(one_bucket, f"k{n}", 1, now_s=100 + n)
    assert not hit(one_bucket, "k3", 1, now_s=120)
    assert hit(one_bucket, "newcomer", 1, now_s=120)  # k7, the newest, evicted
    assert hit(one_bucket, "k7", 1, now_s=121)  # k7 starts over


def test_a_tally_orders_windows_as_eviction_gives_them_up():
    # Below its limit before at it, whatever the limits; the fewer attempts first.
    assert tally(1, 10) < tally(9, 10) < tally(999, 1000) < tally(10, 10) < tally(1000, 1000)
    assert attempts_of(tally(7, 10)) == 7 and attempts_of(tally(MAX_LIMIT, MAX_LIMIT)) == MAX_LIMIT
    for name in ("rate_limit", "ip_rate_limit"):  # every limit a setting allows fits
        assert declared(name, Integer).high <= MAX_LIMIT
