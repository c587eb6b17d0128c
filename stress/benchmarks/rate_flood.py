"""`python -m stress rate-flood`: what a flood of distinct keys does to the rate limiter.

The limiter of the server (flashsale.ratelimit on a shared-memory RateTable and
its fcntl locks), driven in this process without HTTP. A few keys are pushed to
their limit, as a guesser or an impatient shopper is; then N distinct keys are
counted once each (or `--flood-attempts` times), all within one window, as an
attacker flooding userIds does. The figure: how many of the limited keys are
still held at their limit after each flood size. Then the cost of a hit, in µs
of this process's CPU time (the machine's other load does not count), the
fastest of five runs: for a known key, a new key with room in its bucket, and
a new key whose bucket is full of live windows (one is evicted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from flashsale.ratelimit import RateLimiter
from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import NUM_STRIPES, RateTable

WINDOW_S = 60
NOW_S = 1_000_000  # every hit of a run falls in one window
DEFAULT_FLOODS = "1000,10000,65536,200000,1000000"


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table-size", type=int, default=65536, help="windows in the table (the server's default)"
    )
    parser.add_argument("--limited", type=int, default=64, help="keys held at their limit")
    parser.add_argument("--limit", type=int, default=10, help="attempts per key per window")
    parser.add_argument(
        "--floods", default=DEFAULT_FLOODS, help="comma-separated counts of distinct flood keys"
    )
    parser.add_argument(
        "--flood-attempts",
        type=int,
        default=1,
        help="attempts of each flood key (the limit: a flood of keys at their limit)",
    )
    parser.add_argument(
        "--timed-hits", type=int, default=50_000, help="hits per timing of the per-hit cost"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures there too")


def cmd_rate_flood(args: argparse.Namespace) -> int:
    floods = [int(count) for count in args.floods.split(",") if count.strip()]
    with tempfile.TemporaryDirectory(prefix="rate-flood-") as folder:
        figures = asyncio.run(measure(args, floods, Path(folder)))
    for row in figures["survivors"]:
        print(
            f"flood of {row['flood']:>9,} keys x {args.flood_attempts}: "
            f"{row['held']:>4} of {args.limited} limited keys still held at their limit"
        )
    for name, us in figures["us_per_hit"].items():
        print(f"{name:<28} {us:6.2f} µs per hit (CPU, fastest of 5 runs)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


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
