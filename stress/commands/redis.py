"""`python -m stress redis`: figures of the Redis engine
(stress/benchmarks/redis_figures.py); its options, and the command that runs the
phases and prints the tables."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from stress.commands.options import add_load_generator_option

if TYPE_CHECKING:
    from stress.benchmarks.redis_figures import RedisFiguresOptions


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of counts: {text}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"counts must be 1 or more: {text}")
    return counts


def _names(text: str) -> tuple[str, ...]:
    from stress.benchmarks.redis_figures import PHASES

    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(names) - set(PHASES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"phases are {', '.join(PHASES)}; not {unknown}")
    return names


# The options of each group, in --help's order: (flag, type, default, help). argparse
# applies `type` to a string default too, so redis_options gets every value parsed.
Option = tuple[str, Callable[[str], object], object, str]
PHASES_OPTIONS: tuple[Option, ...] = (
    ("--phases", _names, "decide,hosts,burst", "comma-separated (default decide,hosts,burst)"),
)
DECIDE_OPTIONS: tuple[Option, ...] = (
    ("--batches", _counts, "1,8,32,128,512", "batch sizes, at most 512 (default 1,8,32,128,512)"),
    ("--decide-seconds", float, 2.0, "per batch size (default 2)"),
)
HOSTS_OPTIONS: tuple[Option, ...] = (
    ("--hosts", _counts, "1,2,3", "host counts to measure (default 1,2,3)"),
    ("--workers", int, 1, "gunicorn workers per host, hosts and burst (default 1)"),
    ("--seconds", float, 5.0, "of closed-loop purchases per host count (default 5)"),
    ("--connections", int, 48, "keep-alive connections over the hosts (default 48)"),
)
# After --load-generator (stress.commands.options), in the hosts group.
CLIENT_OPTIONS: tuple[Option, ...] = (
    ("--client-processes", int, 2, "python load generator: client processes per host (default 2)"),
)
BURST_OPTIONS: tuple[Option, ...] = (
    ("--burst-users", int, 3000, "shoppers, each on a new connection (default 3000)"),
    ("--burst-stock", int, 100, "items (default 100)"),
    ("--burst-hosts", int, 3, "hosts the shoppers are spread over (default 3)"),
    ("--burst-processes", int, 2, "client processes of the burst (default 2)"),
)


def add_redis_options(parser: argparse.ArgumentParser) -> None:
    _add(parser, PHASES_OPTIONS)
    _add(parser.add_argument_group("decide"), DECIDE_OPTIONS)
    hosts = parser.add_argument_group("hosts")
    _add(hosts, HOSTS_OPTIONS)
    add_load_generator_option(hosts)
    _add(hosts, CLIENT_OPTIONS)
    _add(parser.add_argument_group("burst"), BURST_OPTIONS)
    parser.add_argument(
        "--redis-dir",
        type=Path,
        metavar="DIR",
        help="where redis-server keeps its append-only file (default: a "
        "temporary folder; fsync on tmpfs costs nothing)",
    )
    parser.add_argument("--report", type=Path, metavar="DIR", help="write redis.json there")


def _add(group: argparse._ActionsContainer, options: tuple[Option, ...]) -> None:
    for flag, kind, default, text in options:
        group.add_argument(flag, type=kind, default=default, help=text)


def redis_options(args: argparse.Namespace) -> RedisFiguresOptions:
    from stress.benchmarks.redis_figures import RedisFiguresOptions
    from stress.benchmarks.redis_hosts import HostsLoad

    # argparse applies `type` to a string default too: every field is parsed here.
    return RedisFiguresOptions(
        phases=args.phases,
        batch_sizes=args.batches,
        decide_seconds=args.decide_seconds,
        host_counts=args.hosts,
        load=HostsLoad(
            args.workers, args.seconds, args.connections, args.load_generator, args.client_processes
        ),
        burst_users=args.burst_users,
        burst_stock=args.burst_stock,
        burst_hosts=args.burst_hosts,
        burst_processes=args.burst_processes,
        redis_dir=args.redis_dir,
    )


def cmd_redis(args: argparse.Namespace) -> int:
    from stress.benchmarks.redis_figures import format_redis, measure_redis

    try:
        figures = measure_redis(redis_options(args))
    except (RuntimeError, ValueError) as exc:
        print(f"stress redis: {exc}", file=sys.stderr)
        return 2
    print(format_redis(figures))
    if args.report:
        from stress.report.html import write_json

        write_json(args.report / "redis.json", figures.to_dict())
    return 0 if figures.ok else 1
