"""`python -m stress streams`: what open event streams cost a worker, what it gives
back once they close, and what one address flooding the server gets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stress.benchmarks.streams import StreamsOptions


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    streams = commands.add_parser(
        "streams",
        help="what open event streams cost a worker and what it gives back once they close; "
        "what one address flooding the server gets (starts the servers itself)",
        description="memory: one worker, --streams pages from many loopback addresses; its "
        "RSS with them open, at once when they have closed and --settle seconds later, for "
        "--rounds rounds. flood: two workers; one address asks for --flood streams at once "
        "while another reads the status and buys. waiting (only when asked for): --pages "
        "pages in a moving waiting room for --hold seconds; the server's CPU meanwhile. "
        "Linux only (127.0.0.0/8 on lo).",
    )
    streams.add_argument(
        "--phases",
        type=_phases,
        default="memory,flood",
        help="comma-separated: memory, flood, waiting (default memory,flood)",
    )
    streams.add_argument(
        "--streams", type=int, default=8000, help="memory: pages a round (default 8000)"
    )
    streams.add_argument("--rounds", type=int, default=2, help="memory: rounds (default 2)")
    streams.add_argument(
        "--per-source", type=int, default=16, help="memory: pages per client address (default 16)"
    )
    streams.add_argument(
        "--settle",
        type=float,
        default=12.0,
        help="memory: seconds after the close before the last reading (default 12)",
    )
    streams.add_argument(
        "--flood", type=int, default=8000, help="flood: streams one address asks for (default 8000)"
    )
    streams.add_argument(
        "--pages", type=int, default=10_000, help="waiting: pages held open (default 10000)"
    )
    streams.add_argument(
        "--hold",
        type=float,
        default=120.0,
        # A page is written to every 40 s or so (the 45 s heartbeat): a minute alone
        # would count one write or two, as the phase fell.
        help="waiting: seconds measured (default 120)",
    )
    streams.add_argument(
        "--workers", type=int, default=2, help="waiting: the server's workers (default 2)"
    )
    streams.add_argument(
        "--engine-store",
        dest="engine",
        choices=("sqlite", "redis"),
        default="sqlite",
        help="waiting: where the waiting room is decided, the allocator's SQLite journal or "
        "Redis (a redis-server of its own, its CPU counted with the server's; default sqlite)",
    )
    streams.add_argument(
        "--repo",
        type=Path,
        default=None,
        help="repository root holding gunicorn.conf.py (default: this checkout)",
    )
    streams.add_argument("--report", type=Path, metavar="DIR", help="write streams.json there")
    streams.set_defaults(handler=_cmd_streams)


def _phases(text: str) -> tuple[str, ...]:
    from stress.benchmarks.streams import PHASES

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names or set(names) - set(PHASES):
        raise argparse.ArgumentTypeError(f"phases are {', '.join(PHASES)}")
    return names


def streams_options(args: argparse.Namespace) -> StreamsOptions:
    from stress.benchmarks.streams import StreamsOptions

    return StreamsOptions(
        phases=args.phases,
        streams=args.streams,
        rounds=args.rounds,
        per_source=args.per_source,
        settle_s=args.settle,
        flood=args.flood,
        pages=args.pages,
        hold_s=args.hold,
        workers=args.workers,
        engine=args.engine,
        repo=args.repo,
    )


def _cmd_streams(args: argparse.Namespace) -> int:
    from stress.benchmarks.streams import format_streams, run_streams, write_report

    result = run_streams(streams_options(args))
    print(format_streams(result))
    if args.report:
        print(f"\nreport: {write_report(result, args.report)}")
    return 0
