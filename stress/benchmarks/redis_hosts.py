"""Hosts on one Redis, measured: durable purchases/s with 1, 2, 3... hosts, and a
burst over several hosts (`python -m stress redis`, stress/benchmarks/redis_figures.py).

Every host is a real gunicorn server (stress/servers/gunicorn_server.py) with
FLASHSALE_ENGINE=redis on one redis-server (stress/servers/redis_server.py,
appendfsync always). The purchase phase is the ceiling's
(stress/benchmarks/ceiling.py): a closed loop of keep-alive connections
(stress/benchmarks/closed_loop.py), each purchase a new user of a sale far
larger than the load, here split over the hosts and run on all of them at
once. Each process kind's CPU is read from /proc before and after
(flashsale.processes), with the client's (this process's children), to show
what limits the figure on the machine. The burst is stress/client/burst.py's,
its shoppers spread over the hosts.
"""

from __future__ import annotations

import os
import resource
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flashsale.processes import usage_of
from stress.api_client import Api
from stress.benchmarks.ceiling import CEILING_STOCK
from stress.benchmarks.closed_loop import Measurement, measure, merge
from stress.client.burst import BurstResult, run_burst
from stress.runs import new_run_id
from stress.scenarios.hosts import settled_statuses, stock_view, wait_for_sale
from stress.servers.gunicorn_server import FlashSaleServer
from stress.servers.redis_server import RedisServer

WARM_UP_S = 1.0
QUIET_POLL_S = 0.2
QUIET_TIMEOUT_S = 30.0
KINDS = ("redis-server", "allocators", "workers", "masters", "client")
MACHINE = "machine"  # every process of the host, ours or not (/proc/stat)
_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class HostsLoad:
    """How the hosts are started and loaded."""

    workers: int = 1  # per host
    seconds: float = 5.0  # of closed-loop purchases, per host count
    connections: int = 48  # over all hosts
    load_generator: str = "wrk"  # closed_loop.pick_load_generator's choice
    client_processes: int = 2  # the Python load generator's, per host


@dataclass
class CpuReading:
    """CPU seconds so far of each process kind of the hosts and their Redis."""

    pids: dict[str, list[int]]

    def read(self) -> dict[str, float]:
        spent = {kind: sum(_cpu_s(pid) for pid in pids) for kind, pids in self.pids.items()}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, client processes
        spent["client"] = children.ru_utime + children.ru_stime
        spent[MACHINE] = _machine_busy_s()
        return spent


@dataclass
class PurchaseFigures:
    hosts: int
    workers: int
    measurement: Measurement  # over every host
    per_host: list[Measurement]
    sold_increase: int | None
    hosts_agree: bool
    connections: int
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def durable(self) -> bool:
        """Every 201 is a sale Redis counts, and Redis counts no more than the 201s
        plus answers still in flight at the end (one per connection) and failures."""
        if self.sold_increase is None:
            return False
        slack = self.measurement.errors + self.connections
        good = self.measurement.good
        return good <= self.sold_increase <= good + slack

    @property
    def ok(self) -> bool:
        m = self.measurement
        return (
            self.durable
            and self.hosts_agree
            and m.errors == 0
            and not any(code.startswith("5") for code in m.codes)
        )

    def cores(self, kind: str) -> float | None:
        """The kind's CPU as cores busy over the measurement (2.0: both cores of 2)."""
        spent, wall = self.cpu_s.get(kind), self.measurement.seconds
        return None if spent is None or wall <= 0 else round(spent / wall, 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": self.hosts,
            "workersPerHost": self.workers,
            "purchasesPerS": self.measurement.per_second,
            "measurement": self.measurement.to_dict(),
            "perHost": [m.to_dict() for m in self.per_host],
            "connections": self.connections,
            "soldIncrease": self.sold_increase,
            "durable": self.durable,
            "hostsAgree": self.hosts_agree,
            "cpuS": {kind: round(value, 2) for kind, value in self.cpu_s.items()},
            "cores": {kind: self.cores(kind) for kind in self.cpu_s},
            "ok": self.ok,
        }


@dataclass
class BurstFigures:
    hosts: int
    workers: int
    stock: int
    burst: BurstResult
    sold: int | None
    hosts_agree: bool
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        burst = self.burst
        expected = min(self.stock, burst.shoppers)
        return (
            burst.answered == burst.shoppers
            and self.sold == expected
            and burst.codes.get("201", 0) == expected
            and self.hosts_agree
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": self.hosts,
            "workersPerHost": self.workers,
            "stock": self.stock,
            "burst": self.burst.to_dict(),
            "p99ByHostMs": {str(h): self.burst.host_latency_ms(h, 0.99) for h in range(self.hosts)},
            "sold": self.sold,
            "hostsAgree": self.hosts_agree,
            "exact": self.exact,
            "cpuS": {kind: round(value, 2) for kind, value in self.cpu_s.items()},
        }


@contextmanager
def redis_hosts(redis: RedisServer, count: int, workers: int, folder: Path) -> Iterator[Hosts]:
    """`count` hosts on `redis`, started together, stopped at the end of the block."""
    token = secrets.token_hex(16)
    env = {**redis.engine_env, "FLASHSALE_ADMIN_TOKEN": token}
    with ExitStack() as stack:
        servers = []
        for index in range(count):
            server = FlashSaleServer(folder / f"host{index}.db", workers=workers, env=env)
            servers.append(stack.enter_context(server))
        hosts = Hosts(redis, servers, token)
        try:
            yield hosts
        finally:
            hosts.close()


class Hosts:
    def __init__(self, redis: RedisServer, servers: list[FlashSaleServer], token: str) -> None:
        self.redis = redis
        self.servers = servers
        self.urls = [server.url for server in servers]
        self.admin = Api(self.urls[0], token)
        self.apis = [self.admin, *(Api(url) for url in self.urls[1:])]

    def close(self) -> None:
        for api in self.apis:
            api.close()

    def new_sale(self, stock: int) -> str:
        """A sale made through the first host, once every host shows it."""
        sale_id = str(self.admin.start_sale(stock, 1)["saleId"])
        wait_for_sale(self.apis, sale_id)
        return sale_id

    def cpu(self) -> CpuReading:
        pids: dict[str, list[int]] = {
            "redis-server": [self.redis.pid],
            "allocators": [],
            "workers": [],
            "masters": [],
        }
        for server in self.servers:
            pids["masters"].append(server.pid)
            pids["allocators"].append(server.allocator_pid())
            pids["workers"] += server.worker_pids()
        return CpuReading(pids)

    def settled(self) -> tuple[int | None, bool]:
        """The sold count once every host shows the same, and whether they do."""
        statuses = settled_statuses(self.apis)
        sold = statuses[0].get("sold")
        agree = len({stock_view(status) for status in statuses}) == 1
        return (sold if isinstance(sold, int) else None), agree

    def wait_until_quiet(self) -> None:
        """Until no host has purchases queued and the sold count holds still."""
        deadline = time.monotonic() + QUIET_TIMEOUT_S
        last, steady = None, 0
        while time.monotonic() < deadline and steady < 3:
            time.sleep(QUIET_POLL_S)
            statuses = [api.status() for api in self.apis]
            queued = any(status.get("queueDepth") for status in statuses)
            sold = statuses[0].get("sold")
            steady = steady + 1 if sold == last and not queued else 0
            last = sold


def measure_purchases(hosts: Hosts, load: HostsLoad) -> PurchaseFigures:
    """Closed-loop durable purchases on every host at once, for `load.seconds`."""
    hosts.new_sale(CEILING_STOCK)
    _closed_loop(hosts, load, "status", WARM_UP_S)
    before_sold, _ = hosts.settled()
    reading = hosts.cpu()
    cpu_before = reading.read()
    per_host = _closed_loop(hosts, load, "purchase", load.seconds)
    cpu_after = reading.read()
    after_sold, agree = hosts.settled()
    increase = None if before_sold is None or after_sold is None else after_sold - before_sold
    return PurchaseFigures(
        hosts=len(hosts.urls),
        workers=hosts.servers[0].workers,
        measurement=_together(per_host),
        per_host=per_host,
        sold_increase=increase,
        hosts_agree=agree,
        connections=load.connections,
        cpu_s=_spent(cpu_before, cpu_after, (*KINDS, MACHINE)),
    )


def measure_burst(hosts: Hosts, users: int, stock: int, processes: int) -> BurstFigures:
    """`users` shoppers, each on a new connection, released together over the hosts."""
    hosts.wait_until_quiet()  # nothing of an earlier load left to land in this sale
    hosts.new_sale(stock)
    run_id = new_run_id()
    shoppers = [f"burst-{run_id}-{i}" for i in range(users)]
    reading = hosts.cpu()
    cpu_before = reading.read()
    burst = run_burst(hosts.urls, shoppers, processes)
    cpu_after = reading.read()
    sold, agree = hosts.settled()
    return BurstFigures(
        hosts=len(hosts.urls),
        workers=hosts.servers[0].workers,
        stock=stock,
        burst=burst,
        sold=sold,
        hosts_agree=agree,
        cpu_s=_spent(cpu_before, cpu_after, KINDS),
    )


def _closed_loop(hosts: Hosts, load: HostsLoad, target: str, seconds: float) -> list[Measurement]:
    """`target` in a closed loop on every host at once for `seconds`."""

    def one(url: str, connections: int, wrk_threads: int) -> Measurement:
        return measure(
            load.load_generator,
            url,
            target,
            connections=connections,
            seconds=seconds,
            client_processes=load.client_processes,
            wrk_threads=wrk_threads,
        )

    return _on_every_host(hosts.urls, one, load.connections)


def _spent(
    before: dict[str, float], after: dict[str, float], kinds: Sequence[str]
) -> dict[str, float]:
    """CPU seconds of each kind between two readings."""
    return {kind: after[kind] - before[kind] for kind in kinds}


def _on_every_host(
    urls: Sequence[str], one: Callable[[str, int, int], Measurement], connections: int
) -> list[Measurement]:
    """`one(url, connections, wrk threads)` on every host at once, in threads; the
    connections (and wrk's two threads) shared over the hosts."""
    shares = [connections // len(urls) + (i < connections % len(urls)) for i in range(len(urls))]
    threads = max(1, 2 // len(urls))
    results: list[Measurement | BaseException | None] = [None] * len(urls)

    def run(index: int) -> None:
        try:
            results[index] = one(urls[index], max(1, shares[index]), threads)
        except BaseException as exc:  # re-raised below, on the caller's thread
            results[index] = exc

    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(urls))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    measured = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        assert result is not None
        measured.append(result)
    return measured


def _together(per_host: list[Measurement]) -> Measurement:
    """The hosts' simultaneous measurements as one: counts add up over one window."""
    merged = merge(per_host)
    merged.seconds = max(m.seconds for m in per_host)
    return merged


def _machine_busy_s() -> float:
    """CPU seconds every core of the machine has been busy since boot: the first line
    of /proc/stat (user nice system idle iowait irq softirq steal ...), less idle and
    iowait."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(field) for field in fields[:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _CLOCK_TICKS_PER_S


def _cpu_s(pid: int) -> float:
    usage = usage_of("process", pid)
    return 0.0 if usage is None else usage.cpu_s
