"""What a flood of distinct keys does to the rate limiter (`python -m stress
rate-flood`): the server's limiter driven in this process without HTTP, the
limited keys still held after each flood, and the CPU cost of a hit."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from flashsale.ratelimit import RateLimiter
from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import NUM_STRIPES, RateTable

WINDOW_S = 60
NOW_S = 1_000_000  # every hit of a run falls in one window


async def measure(args: argparse.Namespace, floods: list[int], folder: Path) -> dict[str, Any]:
    locks = RangeLocks(folder / "rates.lock", NUM_STRIPES)
    survivors = [{"flood": flood, "held": await _survivors(args, flood, locks)} for flood in floods]
    return {
        "table_size": args.table_size,
        "limited": args.limited,
        "limit": args.limit,
        "flood_attempts": args.flood_attempts,
        "survivors": survivors,
        "us_per_hit": await _costs(args, locks),
    }


async def _survivors(args: argparse.Namespace, flood: int, locks: RangeLocks) -> int:
    """How many of `args.limited` keys at their limit a flood of `flood` keys leaves held."""
    limiter = RateLimiter(RateTable(args.table_size), locks)
    limit = args.limit
    for n in range(args.limited):
        for _ in range(limit):
            await limiter.hit(f"limited:{n}", limit=limit, window_s=WINDOW_S, now_s=NOW_S)
    for n in range(flood):
        for _ in range(args.flood_attempts):
            await limiter.hit(f"flood:{n}", limit=limit, window_s=WINDOW_S, now_s=NOW_S + 1)
    held = 0
    for n in range(args.limited):
        attempts, _ = await limiter.count(f"limited:{n}", window_s=WINDOW_S, now_s=NOW_S + 1)
        held += attempts >= limit
    return held


async def _costs(args: argparse.Namespace, locks: RangeLocks) -> dict[str, float]:
    hits, limit = args.timed_hits, args.limit

    async def timed(limiter: RateLimiter, keys: list[str]) -> float:
        began = time.process_time()
        for key in keys:
            await limiter.hit(key, limit=limit, window_s=WINDOW_S, now_s=NOW_S)
        return (time.process_time() - began) / len(keys) * 1e6

    known, roomy, full = [], [], []
    for run in range(5):
        keys = [f"user:{run}:{n}" for n in range(hits)]
        # Room for every key: a new key finds a free slot.
        roomy_limiter = RateLimiter(RateTable(hits * 4), locks)
        roomy.append(await timed(roomy_limiter, keys))
        known.append(await timed(roomy_limiter, keys))  # the same keys again
        # A table full of live windows: every new key evicts one.
        full_limiter = RateLimiter(RateTable(args.table_size), locks)
        for n in range(args.table_size * 2):
            await full_limiter.hit(f"filler:{n}", limit=limit, window_s=WINDOW_S, now_s=NOW_S)
        full.append(await timed(full_limiter, keys))
    return {
        "known key": min(known),
        "new key, room in its bucket": min(roomy),
        "new key, full bucket": min(full),
    }
