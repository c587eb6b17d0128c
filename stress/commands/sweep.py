"""`python -m stress sweep`: start the server per worker count and compare."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from stress.commands.options import (
    add_ceiling_options,
    add_load_options,
    ceiling_options,
    flash_options,
)

if TYPE_CHECKING:
    from stress.benchmarks.sweep import SweepOptions


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sweep = commands.add_parser("sweep", help="start the server per worker count and compare")
    sweep.add_argument("--workers", default="1,2,4,8", help="comma-separated worker counts")
    sweep.add_argument(
        "--repo",
        type=Path,
        default=None,
        help="repository root holding gunicorn.conf.py (default: this checkout)",
    )
    sweep.add_argument("--no-ceiling", action="store_true", help="skip the throughput ceiling")
    add_load_options(sweep, with_token=False)
    add_ceiling_options(sweep)
    sweep.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write sweep.json, sweep.html and one flash report per worker count",
    )
    sweep.set_defaults(handler=_cmd_sweep)


def sweep_options(args: argparse.Namespace) -> SweepOptions:
    from stress.benchmarks.sweep import SweepOptions

    return SweepOptions(
        workers=[int(part) for part in args.workers.split(",") if part.strip()],
        repo=args.repo,
        flash=flash_options(args, "", None, None),
        ceiling=None if args.no_ceiling else ceiling_options(args),
        report_dir=args.report,
    )


def _cmd_sweep(args: argparse.Namespace) -> int:
    from stress.benchmarks.sweep import format_sweep, run_sweep

    result = run_sweep(sweep_options(args))
    print(format_sweep(result))
    return 0 if result.ok else 1
