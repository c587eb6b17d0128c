"""`python -m stress expiry`: 10,000 holds expiring in the same second, and the p99 of
the purchases decided meanwhile against idle (stress.benchmarks.expiry)."""

from __future__ import annotations

import argparse
import json


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "expiry", help="holds expiring in one second: purchases' p99 during it against idle"
    )
    parser.add_argument("--holds", type=int, default=10_000)
    parser.add_argument("--lead", type=float, default=30.0, help="seconds to the expiry second")
    parser.add_argument("--rate", type=float, default=200.0, help="purchases a second")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=_cmd_expiry)


def _cmd_expiry(args: argparse.Namespace) -> int:
    import signal

    from stress.benchmarks.expiry import ExpiryOptions, format_expiry, measure_expiry

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the server started is stopped on the way out

    signal.signal(signal.SIGTERM, interrupted)

    figures = measure_expiry(
        ExpiryOptions(
            holds=args.holds,
            lead_s=args.lead,
            rate=args.rate,
            connections=args.connections,
            workers=args.workers,
        )
    )
    print(json.dumps(figures, indent=2) if args.json else format_expiry(figures))
    return 0 if figures["ok"] else 1
