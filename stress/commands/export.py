"""`python -m stress export`: what exporting a large sale's orders as CSV costs a worker's
memory and the purchases it serves meanwhile, in each engine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stress.benchmarks.export import ExportOptions

ENGINES = ("sqlite", "redis")


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export",
        help="sales of 10,000 and 100,000 orders exported as CSV: time, rows checked against "
        "the journal, the serving worker's memory, and the purchases served meanwhile "
        "(starts its servers itself)",
        description="For each engine and each size of --orders: starts a server, opens a "
        "sale and fills it with that many orders by real purchases, then measures one "
        "export alone (time, bytes, rows checked row for row against the engine's orders, "
        "the RSS of the worker that served it before, at its peak and after); --rounds "
        "rounds of --seconds of steady purchases of the same sale (--rate a second) without "
        "an export, then with exports back to back (p50, p99, max); a client reading "
        "--slow-kib-s KiB a second (the worker's RSS). Linux only (RSS from /proc). "
        "Exit code 0 when every check held.",
    )
    export.add_argument(
        "--orders",
        type=_sizes,
        default=(10_000, 100_000),
        metavar="N[,N...]",
        help="the sales' sizes, each on a server of its own (default 10000,100000)",
    )
    export.add_argument(
        "--engine-store",
        dest="engines",
        type=_engines,
        default=ENGINES,
        metavar="sqlite,redis",
        help="where the orders are kept: the SQLite journal, Redis (a redis-server of its "
        "own), or both (default; redis skipped when redis-server is not installed)",
    )
    export.add_argument("--workers", type=int, default=2, help="default 2")
    export.add_argument("--rounds", type=int, default=2, help="default 2")
    export.add_argument(
        "--seconds", type=float, default=8.0, help="of purchases, each way (default 8)"
    )
    export.add_argument(
        "--rate", type=float, default=200.0, help="purchases a second (default 200)"
    )
    export.add_argument(
        "--connections", type=int, default=8, help="the purchases' connections (default 8)"
    )
    export.add_argument(
        "--fill-processes",
        type=int,
        default=2,
        help="client processes filling the sale (default 2)",
    )
    export.add_argument(
        "--fill-connections",
        type=int,
        default=16,
        help="connections of each filling process (default 16)",
    )
    export.add_argument(
        "--slow-kib-s", type=float, default=256.0, help="the slow client's pace (default 256)"
    )
    export.add_argument(
        "--slow-seconds", type=float, default=5.0, help="how long it reads (default 5)"
    )
    export.add_argument(
        "--repo",
        type=Path,
        default=None,
        help="repository root holding gunicorn.conf.py (default: this checkout)",
    )
    export.add_argument("--report", type=Path, metavar="DIR", help="write export.json there")
    export.set_defaults(handler=_cmd_export)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("each size is at least 1")
    return sizes


def _engines(text: str) -> tuple[str, ...]:
    engines = tuple(part.strip() for part in text.split(","))
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise argparse.ArgumentTypeError(f"unknown engine {unknown}: sqlite, redis or both")
    return engines


def export_options(args: argparse.Namespace) -> ExportOptions:
    from stress.benchmarks.export import ExportOptions, available_engines

    return ExportOptions(
        sizes=args.orders,
        engines=available_engines(args.engines),
        workers=args.workers,
        rounds=args.rounds,
        seconds=args.seconds,
        rate=args.rate,
        connections=args.connections,
        fill_processes=args.fill_processes,
        fill_connections=args.fill_connections,
        slow_kib_s=args.slow_kib_s,
        slow_seconds=args.slow_seconds,
        repo=args.repo,
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from stress.benchmarks.export import format_export, run_export, write_report

    options = export_options(args)
    skipped = set(args.engines) - set(options.engines)
    if skipped:
        print(f"export: {', '.join(sorted(skipped))} skipped: redis-server is not installed")
    if not options.engines:
        return 2
    result = run_export(options)
    print(format_export(result))
    if args.report:
        print(f"\nreport: {write_report(result, args.report)}")
    return 0 if result.ok else 1
