"""`python -m stress ceiling`: status reads/s, durable purchases/s and a burst's p99,
against a trivial Falcon app served alike."""

from __future__ import annotations

import argparse
from pathlib import Path

from stress.commands.options import DEFAULT_URL, add_ceiling_options, ceiling_options


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ceiling = commands.add_parser(
        "ceiling",
        help="status reads/s, durable purchases/s and a burst's p99, against a trivial "
        "Falcon app served alike (started by the command)",
    )
    _add_url(ceiling)
    add_ceiling_options(ceiling)
    ceiling.add_argument(
        "--admin-token", help="needed: the run starts a sale as large as the load, then the burst's"
    )
    ceiling.add_argument("--report", type=Path, metavar="DIR", help="write ceiling.json there")
    ceiling.add_argument(
        "--hold-seconds",
        type=int,
        default=None,
        help="the sales it starts have this checkout window: every purchase a hold "
        "(default: final sales)",
    )
    ceiling.add_argument(
        "--queue",
        action="store_true",
        help="the burst's sale on the server has a waiting room admitting everyone at the "
        "start: its shoppers join first, then buy with their tickets",
    )
    ceiling.set_defaults(handler=_cmd_ceiling)


def _add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"server base URL (default {DEFAULT_URL})"
    )


def _cmd_ceiling(args: argparse.Namespace) -> int:
    from stress.benchmarks.ceiling import format_ceiling, measure_ceiling

    result = measure_ceiling(ceiling_options(args))
    print(format_ceiling(result))
    if args.report:
        from stress.report.html import write_json

        write_json(args.report / "ceiling.json", result.to_dict())
    return 0 if result.ok else 1
