"""Options more than one command takes: a flash run's load (flash, sweep) and the
ceiling's (flash, ceiling, sweep), and the options objects built from them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from stress.scenarios.plans import SCENARIOS, ScenarioOptions
from stress.scenarios.products import PRODUCTS_HELP, ProductDemand, ProductsError, parse_products

if TYPE_CHECKING:
    from stress.benchmarks.ceiling import CeilingOptions
    from stress.scenarios.flash import FlashOptions
    from stress.scenarios.identity import SigningKey

DEFAULT_URL = "http://127.0.0.1:8000"


def add_load_options(parser: argparse.ArgumentParser, *, with_token: bool = True) -> None:
    load = parser.add_argument_group("load")
    load.add_argument("--users", type=int, default=5000, help="simulated shoppers (default 5000)")
    load.add_argument(
        "--stock",
        type=int,
        default=None,
        help="items of the new sale (with --admin-token; default 100)",
    )
    load.add_argument(
        "--products",
        type=_products,
        default=(),
        metavar="SKU=WEIGHT[:STOCK],...",
        help=PRODUCTS_HELP,
    )
    load.add_argument(
        "--seed",
        type=int,
        default=1,
        help="of the draw of each shopper's sku: the same seed, the same draw (default 1)",
    )
    load.add_argument(
        "--processes",
        type=int,
        default=4,
        help="client processes of the shoppers, each an event loop (default 4)",
    )
    if with_token:
        load.add_argument(
            "--admin-token",
            help="start a new sale through the admin API (else use the sale as it stands)",
        )
    load.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="burst",
        help="burst: everyone at once; bots: repeat buyers hammering; ramp: arrivals "
        "growing linearly over --duration; soak: steady arrivals over --duration; "
        "prestart: wait for a sale starting --start-lead seconds later",
    )
    load.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="ramp/soak: seconds over which users arrive (default 60)",
    )
    load.add_argument(
        "--bots", type=int, default=50, help="bots: how many repeat buyers (default 50)"
    )
    load.add_argument(
        "--bot-attempts",
        type=int,
        default=30,
        help="bots: attempts per bot, back to back (default 30)",
    )
    load.add_argument(
        "--rate-limit",
        type=int,
        default=10,
        help="bots: the server's per-user limit a minute, checked (default 10)",
    )
    load.add_argument(
        "--start-lead",
        type=float,
        default=5.0,
        help="prestart: seconds from now to the sale's start (default 5)",
    )
    load.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        help="prestart: status polling period of each waiting shopper (default 2 s)",
    )
    load.add_argument(
        "--max-retries",
        type=int,
        default=2,
        help="attempts again after a 503 with Retry-After (default 2)",
    )
    load.add_argument("--per-user-limit", type=int, default=1, help="of the new sale (default 1)")
    load.add_argument(
        "--timeout", type=float, default=30.0, help="per request, seconds (default 30)"
    )
    load.add_argument(
        "--cold",
        action="store_true",
        help="no page open before the release: each shopper's first purchase opens its "
        "connection (by default every shopper there at the release has loaded its page, "
        "GET status, and holds that connection, as a browser tab does)",
    )
    load.add_argument(
        "--watchers",
        type=int,
        default=0,
        help="open pages holding GET /flash-sale/events through the run; the verdict "
        "checks each got the status at once and showed sold_out in time (default 0)",
    )
    load.add_argument(
        "--watcher-processes",
        type=int,
        default=2,
        help="client processes of the watchers' own (0: on the shoppers'; default 2)",
    )
    load.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="cap on simultaneous shoppers (default: none)",
    )
    load.add_argument(
        "--spread-warning-ms",
        type=float,
        default=100.0,
        help="warn 'not a burst' when the first attempts spread wider (default 100)",
    )
    load.add_argument(
        "--sold-out-within-ms",
        type=float,
        default=1000.0,
        help="every open page must show sold_out this soon after the last sale (default 1000)",
    )
    load.add_argument(
        "--fairness-tolerance-ms",
        type=float,
        default=1000.0,
        help="send-time gap beyond which an overtaken shopper makes the order unfair",
    )
    load.add_argument("--no-progress", action="store_true", help="no progress bar")


def _products(text: str) -> tuple[ProductDemand, ...]:
    try:
        return parse_products(text)
    except ProductsError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--products: ")) from None


def add_load_generator_option(group: argparse._ActionsContainer) -> None:
    """wrk or the Python loops, for closed-loop load (ceiling, sweep, redis)."""
    group.add_argument(
        "--load-generator",
        "--engine",
        dest="load_generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk when installed (auto), or the Python loops (--engine: the same option)",
    )


def add_ceiling_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ceiling")
    group.add_argument(
        "--connections",
        type=int,
        default=64,
        help="concurrent keep-alive client loops (default 64)",
    )
    group.add_argument("--seconds", type=float, default=10.0, help="per measurement (default 10)")
    add_load_generator_option(group)
    group.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternate status and purchase this many times within --seconds (default 2)",
    )
    group.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="python load generator: client processes (default 2)",
    )
    group.add_argument(
        "--burst-users",
        type=int,
        default=5000,
        help="shoppers of the burst, each on a new connection (default 5000; 0: no burst)",
    )
    group.add_argument(
        "--burst-stock", type=int, default=100, help="items of the burst's sale (default 100)"
    )
    group.add_argument(
        "--burst-processes",
        type=int,
        default=2,
        help="client processes of the burst (default 2)",
    )


def signing_key(args: argparse.Namespace) -> SigningKey | None:
    """The signing key of the command line, or None (open mode); IdentityError if unusable."""
    from stress.scenarios.identity import SigningKey

    return SigningKey.from_options(
        secret=getattr(args, "jwt_secret", None),
        key_file=getattr(args, "jwt_key_file", None),
        kid=getattr(args, "jwt_kid", None),
        issuer=getattr(args, "jwt_issuer", None),
        audience=getattr(args, "jwt_audience", None),
    )


def flash_options(
    args: argparse.Namespace, url: str, token: str | None, report: Path | None
) -> FlashOptions:
    from stress.scenarios.flash import FlashOptions

    urls = getattr(args, "urls", None) or []
    return FlashOptions(
        url=url,
        hosts=tuple(urls) if len(urls) > 1 else (),
        two_hosts_each=getattr(args, "two_hosts_each", False),
        users=args.users,
        stock=args.stock,
        processes=args.processes,
        admin_token=token,
        report_dir=report,
        scenario=ScenarioOptions(
            scenario=args.scenario,
            users=args.users,
            max_retries=args.max_retries,
            bots=args.bots,
            bot_attempts=args.bot_attempts,
            duration_s=args.duration,
        ),
        per_user_limit=args.per_user_limit,
        timeout_s=args.timeout,
        page_open=not args.cold,
        watchers=args.watchers,
        watcher_processes=args.watcher_processes,
        concurrency=args.concurrency,
        poll_interval_s=args.poll_interval,
        start_lead_s=args.start_lead,
        rate_limit_per_min=args.rate_limit,
        fairness_tolerance_ms=args.fairness_tolerance_ms,
        spread_warning_ms=args.spread_warning_ms,
        sold_out_within_ms=args.sold_out_within_ms,
        progress=not args.no_progress,
        signing=signing_key(args),
        products=args.products,
        seed=args.seed,
    )


def ceiling_options(args: argparse.Namespace) -> CeilingOptions:
    from stress.benchmarks.ceiling import CeilingOptions

    return CeilingOptions(
        # The sweep has neither: it fills in each server's own url and token.
        url=getattr(args, "url", ""),
        admin_token=getattr(args, "admin_token", None),
        connections=args.connections,
        seconds=args.seconds,
        load_generator=args.load_generator,
        client_processes=args.client_processes,
        rounds=args.rounds,
        burst_users=args.burst_users,
        burst_stock=args.burst_stock,
        burst_processes=args.burst_processes,
        hold_s=getattr(args, "hold_seconds", None),
        queue=getattr(args, "queue", False),
    )
