"""`python -m stress redis`: figures of the Redis engine
(stress/benchmarks/redis_figures.py); its options, and the command that runs the
phases and prints the tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

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


def add_redis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--phases",
        type=_names,
        default="decide,hosts,burst",
        help="comma-separated (default decide,hosts,burst)",
    )
    decide = parser.add_argument_group("decide")
    decide.add_argument(
        "--batches",
        type=_counts,
        default="1,8,32,128,512",
        help="batch sizes, at most 512 (default 1,8,32,128,512)",
    )
    decide.add_argument(
        "--decide-seconds", type=float, default=2.0, help="per batch size (default 2)"
    )
    hosts = parser.add_argument_group("hosts")
    hosts.add_argument(
        "--hosts", type=_counts, default="1,2,3", help="host counts to measure (default 1,2,3)"
    )
    hosts.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gunicorn workers per host, hosts and burst (default 1)",
    )
    hosts.add_argument(
        "--seconds",
        type=float,
        default=5.0,
        help="of closed-loop purchases per host count (default 5)",
    )
    hosts.add_argument(
        "--connections",
        type=int,
        default=48,
        help="keep-alive connections over the hosts (default 48)",
    )
    hosts.add_argument(
        "--load-generator",
        "--engine",
        dest="load_generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk when installed (auto), or the Python loops (--engine: the same option)",
    )
    hosts.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="python load generator: client processes per host (default 2)",
    )
    burst = parser.add_argument_group("burst")
    burst.add_argument(
        "--burst-users",
        type=int,
        default=3000,
        help="shoppers, each on a new connection (default 3000)",
    )
    burst.add_argument("--burst-stock", type=int, default=100, help="items (default 100)")
    burst.add_argument(
        "--burst-hosts", type=int, default=3, help="hosts the shoppers are spread over (default 3)"
    )
    burst.add_argument(
        "--burst-processes", type=int, default=2, help="client processes of the burst (default 2)"
    )
    parser.add_argument(
        "--redis-dir",
        type=Path,
        metavar="DIR",
        help="where redis-server keeps its append-only file (default: a "
        "temporary folder; fsync on tmpfs costs nothing)",
    )
    parser.add_argument("--report", type=Path, metavar="DIR", help="write redis.json there")


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
