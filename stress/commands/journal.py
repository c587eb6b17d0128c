"""`python -m stress journal`: the disk a sale's journal needs, measured.

Sales are recorded straight into a temporary journal (WAL, synchronous=FULL,
the autocheckpoint as in production), in commits of a given size, by buyers
whose ids are short and in order or UUIDs in random order (the buyers' index
then takes them all over its pages). Printed: the database's bytes per order
once checkpointed, and the largest the WAL and its index (-shm) grew between
checkpoints. A sale of N orders needs about N times the first plus the second.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Likewise `python -m stress journal` (main below).
    commands.add_parser(
        "journal", help="the disk a sale's journal needs: bytes an order, WAL", add_help=False
    )


def main(argv: list[str] | None = None) -> int:
    from flashsale.journal_room import MIB
    from stress.benchmarks.journal_footprint import ID_KINDS, measure

    parser = argparse.ArgumentParser(prog="python -m stress journal", description=__doc__)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--per-commit", type=int, default=20, help="sales a commit")
    parser.add_argument(
        "--ids",
        choices=ID_KINDS,
        default="uuid",
        help="buyers' ids: short and in order, or UUIDs in random order",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flashsale-journal-") as tmp:
        figures = measure(
            orders=args.orders, per_commit=args.per_commit, ids=args.ids, journal_dir=Path(tmp)
        )
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"journal: {figures['orders']:,} orders ({figures['ids']} ids, "
            f"{figures['perCommit']} a commit): {figures['bytesPerOrder']} bytes an order "
            f"({figures['databaseBytes'] / MIB:.1f} MiB); WAL at most "
            f"{figures['walPeakBytes'] / MIB:.1f} MiB between checkpoints, its index "
            f"{figures['shmPeakBytes'] / 1024:.0f} KiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
