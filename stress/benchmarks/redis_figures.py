"""`python -m stress redis`: figures of the Redis engine on this machine, in three
bounded phases, each on a redis-server it starts itself (appendfsync always):

- decide: Redis decisions/s by batch size, RedisStore.decide called directly
  (stress/benchmarks/redis_decide.py);
- hosts: durable purchases/s with 1, 2, 3 hosts on one Redis, a closed loop
  spread over them, and the CPU of each process kind (stress/benchmarks/redis_hosts.py);
- burst: shoppers released together over several hosts for a small stock, its
  p99, and exactly the stock sold.

The exit code says only whether the engine was correct (every decision
confirmed, every 201 a sale Redis counts, the hosts agreeing, the burst's
stock sold exactly); the figures are the point.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stress.benchmarks.closed_loop import pick_load_generator
from stress.benchmarks.redis_decide import decide_figures, decide_lines
from stress.benchmarks.redis_hosts import (
    KINDS,
    MACHINE,
    BurstFigures,
    Hosts,
    HostsLoad,
    PurchaseFigures,
    measure_burst,
    measure_purchases,
    redis_hosts,
)
from stress.servers.redis_server import RedisServer, redis_server_binary

PHASES = ("decide", "hosts", "burst")


@dataclass(frozen=True)
class RedisFiguresOptions:
    phases: tuple[str, ...] = PHASES
    batch_sizes: tuple[int, ...] = (1, 8, 32, 128, 512)
    decide_seconds: float = 2.0  # per batch size
    host_counts: tuple[int, ...] = (1, 2, 3)
    load: HostsLoad = field(default_factory=HostsLoad)
    burst_users: int = 3000
    burst_stock: int = 100
    burst_hosts: int = 3
    burst_processes: int = 2
    redis_dir: Path | None = None  # where each redis-server keeps its AOF (default: a temp dir)


@dataclass
class RedisFigures:
    options: RedisFiguresOptions
    setting: str = ""
    decide: list[dict[str, Any]] = field(default_factory=list)
    purchases: list[PurchaseFigures] = field(default_factory=list)
    burst: BurstFigures | None = None
    load_before: float = 0.0
    load_after: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            all(row["allConfirmed"] for row in self.decide)
            and all(one.ok for one in self.purchases)
            and (self.burst is None or self.burst.exact)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "decide": self.decide,
            "purchases": [one.to_dict() for one in self.purchases],
            "burst": None if self.burst is None else self.burst.to_dict(),
            "hostLoadAverage1m": {"before": self.load_before, "after": self.load_after},
            "ok": self.ok,
        }


def measure_redis(options: RedisFiguresOptions) -> RedisFigures:
    if redis_server_binary() is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    load = replace(options.load, load_generator=pick_load_generator(options.load.load_generator))
    if options.redis_dir is not None:
        options.redis_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stress-redis-", dir=options.redis_dir) as folder:
        root = Path(folder)
        figures = RedisFigures(options, _setting(root), load_before=os.getloadavg()[0])
        if "decide" in options.phases:
            figures.decide = decide_figures(
                root / "decide", options.batch_sizes, options.decide_seconds
            )
        counts = options.host_counts if "hosts" in options.phases else ()
        burst = "burst" in options.phases and options.burst_users > 0
        with RedisServer(root / "hosts") as redis:
            for count in counts:
                with redis_hosts(redis, count, load.workers, root / f"hosts-{count}") as hosts:
                    figures.purchases.append(measure_purchases(hosts, load))
                    if burst and count == options.burst_hosts and figures.burst is None:
                        figures.burst = _burst(hosts, options)
            if burst and figures.burst is None:
                with redis_hosts(redis, options.burst_hosts, load.workers, root / "burst") as hosts:
                    figures.burst = _burst(hosts, options)
    figures.load_after = os.getloadavg()[0]
    return figures


def _burst(hosts: Hosts, options: RedisFiguresOptions) -> BurstFigures:
    return measure_burst(hosts, options.burst_users, options.burst_stock, options.burst_processes)


def _setting(folder: Path) -> str:
    binary = redis_server_binary() or "redis-server"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    words = version.stdout.split()
    release = next((w.removeprefix("v=") for w in words if w.startswith("v=")), "?")
    return (
        f"redis-server {release}, appendonly yes, appendfsync always (each FCALL fsynced "
        f"before it answers), its AOF on {_filesystem(folder)} {folder}; {os.cpu_count()} cores"
    )


def _filesystem(folder: Path) -> str:
    """The type of the file system holding `folder` (fsync on tmpfs costs nothing)."""
    best, kind = "", "?"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    target = str(folder.resolve())
    for line in mounts:
        parts = line.split()
        inside = len(parts) >= 3 and (target + "/").startswith(parts[1].rstrip("/") + "/")
        if inside and len(parts[1]) > len(best):
            best, kind = parts[1], parts[2]
    return kind


def format_redis(figures: RedisFigures) -> str:
    options, load = figures.options, figures.options.load
    lines = [
        f"REDIS ENGINE ({figures.setting})",
        f"  host load average (1 min) {figures.load_before:.2f} before, "
        f"{figures.load_after:.2f} after: other work on the host skews every figure",
    ]
    if figures.decide:
        lines += [
            "",
            f"DECISIONS: RedisStore.decide called directly, batches of distinct users, "
            f"{options.decide_seconds:g} s per batch size (µs: wall time inside decide)",
            *decide_lines(figures.decide),
        ]
    if figures.purchases:
        first = figures.purchases[0].measurement
        lines += [
            "",
            f"PURCHASES: closed loop of durable purchases (a new user each) over "
            f"{load.connections} keep-alive connections split over the hosts "
            f"({first.load_generator}), "
            f"{load.seconds:g} s per host count, {load.workers} worker(s) per host",
            "  " + " " * 50 + "cores busy (CPU s / wall s); all: these processes, machine: "
            "every process of the host",
            "  hosts  purchases/s    201s  p99 ms  sold +  durable "
            + " ".join(f"{kind:>12}" for kind in KINDS)
            + "    all  machine",
        ]
        for one in figures.purchases:
            m = one.measurement
            durable = "yes" if one.durable else "NO"
            if not one.hosts_agree:
                durable += " (hosts disagree)"
            lines.append(
                f"  {one.hosts:>5} {m.per_second:>12,.0f} {m.good:>7} {_num(m.p99_ms):>7} "
                f"{_num(one.sold_increase):>7}  {durable:<7} "
                + " ".join(f"{_num(one.cores(kind)):>12}" for kind in KINDS)
                + f" {_num(_all(one)):>6} {_num(one.cores(MACHINE)):>8}"
            )
            odd = {code: n for code, n in m.codes.items() if code != "201"}
            if odd or m.errors:
                lines.append(f"        other answers {odd}, errors {m.errors}")
    if figures.burst is not None:
        lines += ["", *_burst_lines(figures.burst)]
    lines += ["", "PASS: the engine was correct" if figures.ok else "FAIL: see above"]
    return "\n".join(lines)


def _burst_lines(figures: BurstFigures) -> list[str]:
    burst = figures.burst
    by_host = ", ".join(
        f"host {h} {_num(burst.host_latency_ms(h, 0.99))}" for h in range(figures.hosts)
    )
    cpu = ", ".join(f"{kind} {figures.cpu_s[kind]:.2f}" for kind in KINDS if kind != "client")
    return [
        f"BURST: {burst.shoppers} shoppers, each on a new connection, released together "
        f"over {figures.hosts} hosts ({figures.workers} worker(s) each), {figures.stock} items",
        f"  p50 {_num(burst.latency_ms(0.5))} ms, p99 {_num(burst.latency_ms(0.99))} ms, max "
        f"{_num(burst.latency_ms(1.0))} ms; p99 by host (ms): {by_host}",
        f"  answers {burst.codes}; release spread {_num(burst.release_spread_ms)} ms; CPU s: {cpu}",
        f"  sold {_num(figures.sold)} of {figures.stock}: "
        f"{'exact' if figures.exact else 'NOT EXACT'}"
        + ("" if figures.hosts_agree else "; the hosts' statuses disagree")
        + (f"; errors {burst.errors}" if burst.errors else ""),
    ]


def _all(one: PurchaseFigures) -> float | None:
    cores = [one.cores(kind) for kind in KINDS]
    return None if None in cores else round(sum(c for c in cores if c is not None), 2)


def _num(value: Any) -> str:
    return "-" if value is None else str(value)
