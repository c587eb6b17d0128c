"""`python -m stress flash --queue`: the options of a waiting-room run and its command."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from stress.commands.options import DEFAULT_URL

if TYPE_CHECKING:
    from stress.scenarios.queue_plans import QueueOptions


def add_queue_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "a waiting room (--queue; needs --admin-token)",
        "With --queue the sale is made with a queue term and starts --prequeue-seconds "
        "after the release. --users people join: a --prequeue-share of them at spread "
        "instants before the start, the others over --later-seconds after it, some with "
        "several tabs; each follows its place from the status's 'now serving' and buys "
        "with its Flash-Sale-Ticket once admitted. --skippers buy without a ticket, with a "
        "forged one, or with another person's just admitted; --replays buyers present "
        "their used ticket again. The verdict: the pre-queue's places not correlated with "
        "join times (Spearman's rho, bootstrap interval), later arrivals in arrival order, "
        "admission in queue order at --admit-per-minute (within 5 %%), skippers refused "
        "(403 not_admitted), exactly the stock sold, nobody admitted after the sell-out, "
        "every tab one ticket. --users, --stock (default 100), --seed, --processes, "
        "--timeout and --report apply; the first --url is used.",
    )
    group.add_argument("--queue", action="store_true", help="run the waiting-room scenario")
    group.add_argument(
        "--admit-per-minute",
        type=int,
        default=600,
        metavar="N",
        help="the queue's admitPerMinute; 0: everyone admitted at the start (default 600)",
    )
    group.add_argument(
        "--admitted-seconds", type=int, default=120, metavar="S", help="admittedSeconds (120)"
    )
    group.add_argument(
        "--prequeue-seconds",
        type=float,
        default=10.0,
        metavar="P",
        help="from the release to the sale's start: the pre-queue's joins (default 10)",
    )
    group.add_argument(
        "--later-seconds",
        type=float,
        default=10.0,
        metavar="L",
        help="after the start, the later arrivals spread over this long (default 10)",
    )
    group.add_argument("--prequeue-share", type=float, default=0.6, metavar="F")
    group.add_argument(
        "--tab-share",
        type=float,
        default=0.25,
        metavar="F",
        help="people who open several tabs (default 0.25), 2..--max-tabs each (default 3)",
    )
    group.add_argument("--max-tabs", type=int, default=3, metavar="N")
    group.add_argument(
        "--skippers",
        type=int,
        default=30,
        metavar="N",
        help="queue-skippers, a third each: no ticket, forged, stolen (default 30), "
        "--skipper-attempts purchases each (default 4)",
    )
    group.add_argument("--skipper-attempts", type=int, default=4, metavar="N")
    group.add_argument("--replays", type=int, default=10, metavar="N")
    group.add_argument(
        "--status-poll",
        type=float,
        default=0.25,
        metavar="S",
        help="each client process reads the status this often (default 0.25)",
    )
    group.add_argument(
        "--ticket-poll",
        type=float,
        default=15.0,
        metavar="S",
        help="a waiting person reads its ticket this often besides (default 15)",
    )
    group.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        metavar="C",
        help="of the bootstrap interval of Spearman's rho (default 0.95)",
    )
    group.add_argument("--resamples", type=int, default=2000, metavar="N")


def queue_options(args: argparse.Namespace) -> QueueOptions:
    from stress.scenarios.queue_plans import QueueOptions

    return QueueOptions(
        url=(args.urls or [DEFAULT_URL])[0],
        admin_token=args.admin_token or "",
        people=args.users,
        stock=args.stock if args.stock is not None else 100,
        admit_per_minute=args.admit_per_minute or None,
        admitted_s=args.admitted_seconds,
        prequeue_s=args.prequeue_seconds,
        later_s=args.later_seconds,
        prequeue_share=args.prequeue_share,
        tab_share=args.tab_share,
        max_tabs=args.max_tabs,
        skippers=args.skippers,
        skipper_attempts=args.skipper_attempts,
        replays=args.replays,
        processes=args.processes,
        seed=args.seed,
        status_poll_s=args.status_poll,
        ticket_poll_s=args.ticket_poll,
        timeout_s=args.timeout,
        confidence=args.confidence,
        resamples=args.resamples,
        progress=not args.no_progress,
    )


def cmd_queue(args: argparse.Namespace) -> int:
    from stress.commands.verdict_run import run_judged
    from stress.report.queue import write_queue_report
    from stress.scenarios.queue import format_queue, run_queue
    from stress.scenarios.queue_plans import refused

    if not args.admin_token:
        print("stress flash: --queue needs --admin-token", file=sys.stderr)
        return 2
    options = queue_options(args)
    wrong = refused(options)
    if wrong:
        print(f"stress flash: {wrong}", file=sys.stderr)
        return 2
    return run_judged(
        lambda: run_queue(options), options.url, args.report, format_queue, write_queue_report
    )
