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
from pathlib import Path

from stress.benchmarks.rate_flood import measure

DEFAULT_FLOODS = "1000,10000,65536,200000,1000000"


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    flood = commands.add_parser(
        "rate-flood",
        help="the rate limiter under a flood of distinct keys: limited keys still held, "
        "and the cost of a hit (no server)",
        description=__doc__,
    )
    add_options(flood)
    flood.set_defaults(handler=cmd_rate_flood)


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
