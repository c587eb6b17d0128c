"""`python -m stress allocator`: how many purchases the allocator decides per second, without HTTP.

A real allocator process runs on a temporary journal exactly as in production
(WAL, synchronous=FULL, one synced commit per batch). Client processes, one
connection each as gunicorn workers have, keep a window of requests in flight
with frames encoded before the clock starts, so the figure is the allocator's:
decisions per second, every sale durable before its reply.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # `python -m stress allocator` has an argument parser of its own (main below):
    # stress/__main__.py hands it the rest of the command line; this entry only
    # lists it in --help.
    commands.add_parser(
        "allocator", help="decisions per second of the allocator, without HTTP", add_help=False
    )


def main(argv: list[str] | None = None) -> int:
    from flashsale.outcomes import Outcome
    from stress.benchmarks.allocator import measure

    parser = argparse.ArgumentParser(prog="python -m stress allocator", description=__doc__)
    parser.add_argument("--purchases", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=2, help="client processes (connections)")
    parser.add_argument("--window", type=int, default=256, help="requests in flight per client")
    parser.add_argument(
        "--hold-seconds",
        type=int,
        default=None,
        help="a sale with this checkout window: every sale is a hold (default: final sales)",
    )
    parser.add_argument(
        "--webhooks", action="store_true", help="write each decision's events to the outbox"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flashsale-bench-") as tmp:
        figures = measure(
            purchases=args.purchases,
            clients=args.clients,
            window=args.window,
            journal_dir=Path(tmp),
            hold_s=args.hold_seconds,
            webhooks=args.webhooks,
        )
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"allocator: {figures['purchases']:,} purchases from {figures['clients']} clients "
            f"(window {figures['window']}) in {figures['seconds']} s = "
            f"{figures['decisionsPerSecond']:,} decisions/s "
            f"({figures['decisionsPerCpuSecond']:,} per second of allocator CPU); "
            f"{figures['commits']:,} synced "
            f"commits, {figures['salesPerCommit']} sales per commit; journal holds "
            f"{figures['journaled']:,}; outbox {figures['outboxEvents']:,} events; "
            f"outcomes {figures['outcomes']}"
        )
    sold = Outcome.HELD if args.hold_seconds is not None else Outcome.CONFIRMED
    ok = figures["journaled"] == figures["outcomes"].get(sold.name, 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
