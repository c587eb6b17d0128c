"""Command line of the stress toolkit: `python -m stress <command> --help`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from stress.benchmarks import rate_flood
from stress.commands.redis import add_redis_options, cmd_redis
from stress.scenarios.plans import SCENARIOS, ScenarioOptions
from stress.scenarios.products import PRODUCTS_HELP, ProductDemand, ProductsError, parse_products

DEFAULT_URL = "http://127.0.0.1:8000"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["allocator"]:
        from stress.benchmarks import allocator

        return allocator.main(argv[1:])
    if argv[:1] == ["journal"]:
        from stress.benchmarks import journal_footprint

        return journal_footprint.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stress", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    flash = commands.add_parser("flash", help="run shoppers against a server and judge the sale")
    _add_urls(flash)
    add_load_options(flash)
    flash.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write report.json, report.html and records.csv there",
    )
    flash.add_argument(
        "--ceiling",
        action="store_true",
        help="after the scenario, measure the throughput ceiling on the same server "
        "(needs --admin-token; see the ceiling options)",
    )
    _add_identity_options(flash)
    add_ceiling_options(flash)
    flash.set_defaults(handler=_cmd_flash)

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
    ceiling.set_defaults(handler=_cmd_ceiling)

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

    redis = commands.add_parser(
        "redis",
        help="figures of the Redis engine: decisions/s by batch size, purchases/s with 1-3 "
        "hosts on one Redis, a burst over 3 hosts (starts redis-server and the hosts itself)",
        description="Figures of FLASHSALE_ENGINE=redis, each phase on a redis-server it "
        "starts (appendonly yes, appendfsync always). decide: RedisStore.decide called "
        "directly, by batch size, with Redis's own CPU per decision. hosts: closed-loop "
        "durable purchases spread over 1, 2, 3 gunicorn hosts on one Redis, with the CPU of "
        "each process kind (redis-server, allocators, workers, masters, the client) as cores "
        "busy. burst: shoppers each on a new connection, released together over the hosts "
        "(shopper i on host i mod N), for a small stock: its p99, and exactly the stock sold. "
        "Exit code 0 when the engine was correct.",
    )
    add_redis_options(redis)
    redis.set_defaults(handler=cmd_redis)

    flood = commands.add_parser(
        "rate-flood",
        help="the rate limiter under a flood of distinct keys: limited keys still held, "
        "and the cost of a hit (no server)",
        description=rate_flood.__doc__,
    )
    rate_flood.add_options(flood)
    flood.set_defaults(handler=rate_flood.cmd_rate_flood)
    streams = commands.add_parser(
        "streams",
        help="what open event streams cost a worker and what it gives back once they close; "
        "what one address flooding the server gets (starts the servers itself)",
        description="memory: one worker, --streams pages from many loopback addresses; its "
        "RSS with them open, at once when they have closed and --settle seconds later, for "
        "--rounds rounds. flood: two workers; one address asks for --flood streams at once "
        "while another reads the status and buys. Linux only (127.0.0.0/8 on lo).",
    )
    streams.add_argument(
        "--phases", type=_phases, default="memory,flood", help="comma-separated (default all)"
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
        "--repo",
        type=Path,
        default=None,
        help="repository root holding gunicorn.conf.py (default: this checkout)",
    )
    streams.add_argument("--report", type=Path, metavar="DIR", help="write streams.json there")
    streams.set_defaults(handler=_cmd_streams)

    # `python -m stress allocator` (the allocator measured without HTTP) lives in
    # stress/benchmarks/allocator.py with its own argument parser: main() hands it the
    # rest of the command line; this entry only lists it in --help.
    commands.add_parser(
        "allocator", help="decisions per second of the allocator, without HTTP", add_help=False
    )
    # Likewise `python -m stress journal`, in stress/benchmarks/journal_footprint.py.
    commands.add_parser(
        "journal", help="the disk a sale's journal needs: bytes an order, WAL", add_help=False
    )
    return parser


def _add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"server base URL (default {DEFAULT_URL})"
    )


def _add_urls(parser: argparse.ArgumentParser) -> None:
    hosts = parser.add_argument_group(
        "hosts",
        "Give --url once per host of one Redis (FLASHSALE_ENGINE=redis) to spread the "
        "shoppers over them: shopper i buys on host i mod N (the order of --url). The sale "
        "is made through the first; the release waits until every host shows it; the "
        "verdict adds that every host's status agrees, every 201 is in every host's "
        "look-up and nobody holds over the limit across hosts, and prints each host's "
        "figures.",
    )
    hosts.add_argument(
        "--url",
        dest="urls",
        action="append",
        metavar="URL",
        help=f"server base URL; repeat for several hosts (default {DEFAULT_URL})",
    )
    hosts.add_argument(
        "--two-hosts-each",
        action="store_true",
        help="every shopper presses Buy on two hosts at once (hosts i mod N and i+1 mod N): "
        "two concurrent attempts of one person; needs two --url at least",
    )


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


def _add_identity_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "identity (a server with FLASHSALE_AUTH=jwt)",
        "With a key, every shopper holds a token of its own (sub = its id), minted before "
        "the run; purchases and look-ups (GET /flash-sale/purchase/me) send it as "
        "Authorization: Bearer. Bots also name other shoppers' ids, which must be refused.",
    )
    key = group.add_mutually_exclusive_group()
    key.add_argument("--jwt-secret", metavar="SECRET", help="sign HS256 with this shared secret")
    key.add_argument(
        "--jwt-key-file",
        type=Path,
        metavar="PEM",
        help="sign with this private key: RSA (RS256) or P-256 EC (ES256)",
    )
    group.add_argument("--jwt-kid", metavar="KID", help="the tokens' kid header (the JWKS key)")
    group.add_argument("--jwt-issuer", metavar="ISS", help="the tokens' iss claim")
    group.add_argument("--jwt-audience", metavar="AUD", help="the tokens' aud claim")


def signing_key(args: argparse.Namespace):
    """The signing key of the command line, or None (open mode); IdentityError if unusable."""
    from stress.scenarios.identity import SigningKey

    return SigningKey.from_options(
        secret=getattr(args, "jwt_secret", None),
        key_file=getattr(args, "jwt_key_file", None),
        kid=getattr(args, "jwt_kid", None),
        issuer=getattr(args, "jwt_issuer", None),
        audience=getattr(args, "jwt_audience", None),
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
    group.add_argument(
        "--engine",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk when installed (auto), or the Python loops",
    )
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
        help="python engine: client processes (default 2)",
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


def flash_options(args: argparse.Namespace, url: str, token: str | None, report: Path | None):
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


def _cmd_flash(args: argparse.Namespace) -> int:
    import requests

    from stress.api_client import ApiError
    from stress.scenarios.flash import format_summary, run_flash
    from stress.scenarios.identity import IdentityError

    if args.stock is not None and not args.admin_token:
        print(
            "stress flash: --stock needs --admin-token; using the sale as it stands",
            file=sys.stderr,
        )
    if any(product.stock is not None for product in args.products) and not args.admin_token:
        print(
            "stress flash: a product's :stock needs --admin-token; using the sale as it stands",
            file=sys.stderr,
        )
    if args.ceiling and not args.admin_token:
        print("stress flash: --ceiling needs --admin-token", file=sys.stderr)
        return 2
    refused = _hosts_refused(args)
    if refused:
        print(f"stress flash: {refused}", file=sys.stderr)
        return 2
    try:
        options = flash_options(args, args.url, args.admin_token, args.report)
    except IdentityError as exc:
        print(f"stress flash: {exc}", file=sys.stderr)
        return 2
    if args.ceiling and options.signing is not None:
        # The ceiling's loads buy as a new userId per request: they sign no tokens.
        print("stress flash: --ceiling runs in open mode only, not with --jwt-*", file=sys.stderr)
        return 2
    if args.ceiling:
        options = replace(options, ceiling=ceiling_options(args))
    try:
        result = run_flash(options)
    except ProductsError as exc:
        print(f"stress flash: {exc}", file=sys.stderr)
        return 2
    except (ApiError, requests.RequestException) as exc:
        print(f"stress flash: cannot run against {', '.join(args.urls)}: {exc}", file=sys.stderr)
        return 2
    print(format_summary(result))
    if result.ceiling is not None:
        from stress.benchmarks.ceiling import format_ceiling

        print("\n" + format_ceiling(result.ceiling))
    if args.report:
        print(f"\nreport: {args.report / 'report.html'}")
    return 0 if result.ok else 1


def _hosts_refused(args: argparse.Namespace) -> str | None:
    """Fills in the hosts (the default URL without --url; `url`: the first, where the
    sale and --ceiling go); what is wrong with them, if anything."""
    args.urls = args.urls or [DEFAULT_URL]
    args.url = args.urls[0]
    if args.two_hosts_each and len(args.urls) < 2:
        return "--two-hosts-each needs two --url at least"
    if len(set(args.urls)) < len(args.urls):
        return "a --url is given twice"
    return None


def ceiling_options(args: argparse.Namespace):
    from stress.benchmarks.ceiling import CeilingOptions

    return CeilingOptions(
        # The sweep has neither: it fills in each server's own url and token.
        url=getattr(args, "url", ""),
        admin_token=getattr(args, "admin_token", None),
        connections=args.connections,
        seconds=args.seconds,
        engine=args.engine,
        client_processes=args.client_processes,
        rounds=args.rounds,
        burst_users=args.burst_users,
        burst_stock=args.burst_stock,
        burst_processes=args.burst_processes,
    )


def _cmd_ceiling(args: argparse.Namespace) -> int:
    from stress.benchmarks.ceiling import format_ceiling, measure_ceiling

    result = measure_ceiling(ceiling_options(args))
    print(format_ceiling(result))
    if args.report:
        from stress.report.html import write_json

        write_json(args.report / "ceiling.json", result.to_dict())
    return 0 if result.ok else 1


def sweep_options(args: argparse.Namespace):
    from stress.benchmarks.sweep import SweepOptions

    return SweepOptions(
        workers=[int(part) for part in args.workers.split(",") if part.strip()],
        repo=args.repo,
        flash=flash_options(args, "", None, None),
        ceiling=None if args.no_ceiling else ceiling_options(args),
        report_dir=args.report,
    )


def _phases(text: str) -> tuple[str, ...]:
    from stress.benchmarks.streams import PHASES

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names or set(names) - set(PHASES):
        raise argparse.ArgumentTypeError(f"phases are {', '.join(PHASES)}")
    return names


def streams_options(args: argparse.Namespace):
    from stress.benchmarks.streams import StreamsOptions

    return StreamsOptions(
        phases=args.phases,
        streams=args.streams,
        rounds=args.rounds,
        per_source=args.per_source,
        settle_s=args.settle,
        flood=args.flood,
        repo=args.repo,
    )


def _cmd_streams(args: argparse.Namespace) -> int:
    from stress.benchmarks.streams import format_streams, run_streams, write_report

    result = run_streams(streams_options(args))
    print(format_streams(result))
    if args.report:
        print(f"\nreport: {write_report(result, args.report)}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from stress.benchmarks.sweep import format_sweep, run_sweep

    result = run_sweep(sweep_options(args))
    print(format_sweep(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
