"""Command line of the stress toolkit: `python -m stress <command> --help`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from stress.commands import (
    allocator,
    ceiling,
    expiry,
    export,
    flash,
    journal,
    rate_flood,
    redis,
    streams,
    sweep,
)

# As --help lists them.
COMMANDS = (flash, ceiling, sweep, redis, rate_flood, streams, export, expiry, allocator, journal)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["allocator"]:
        return allocator.main(argv[1:])
    if argv[:1] == ["journal"]:
        return journal.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stress", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_command(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
