"""`python -m stress streams --phases waiting`: what pages open in a moving waiting
room cost the server's CPU.

A server of its own (`--workers`, 2 by default) with a sale whose waiting room admits
WAITING_ADMIT_PER_MINUTE; enough tickets join before its start that "now serving"
keeps moving through the measured minute. `--pages` pages open `GET /flash-sale/events`
from 127.0.1.x (WAITING_PER_SOURCE an address, within the per-address bound), spread
over client processes of PAGES_PER_CLIENT at most (a process may hold 20,000 sockets
here). With every page open, the server's CPU (each process's user + system time,
/proc) is read before and after `--hold` seconds, and each page counts the events and
heartbeats it got meanwhile. Then the pages close and the same server, its waiting
room still admitting, is measured as long again: what the server spends with no page
open, so that what the pages themselves cost is the difference. `engine="redis"` decides
the room in Redis (`--engine-store redis`): a redis-server of its own, whose CPU counts
with the server's.

The default settings hold 8,192 streams and 10,000 connections a worker: the phase
raises both (and says so), within a worker's descriptor limit (here 20,000, which
cannot be raised: 50,000 pages need more than 2 workers, `--workers 4`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from flashsale.processes import stat_fields
from stress.api import EVENTS_PATH
from stress.api_client import Api
from stress.runs import raise_nofile_limit
from stress.servers.gunicorn_server import FlashSaleServer
from stress.servers.redis_server import RedisServer

WAITING_ADMIT_PER_MINUTE = 6000
WAITING_PER_SOURCE = 64  # within 128 a worker even if one worker gets them all
PAGES_PER_CLIENT = 12_500
JOIN_THREADS = 8
# The longest the pages may take to open (it sizes the queue): at least this, and a
# second for every OPENED_A_SECOND pages more.
OPEN_BUDGET_S = 120.0
OPENED_A_SECOND = 400
OPEN_CONCURRENCY = 200
START_IN_S = 30.0  # the sale's start, from its creation: most joins come before it
ADMITTING_TIMEOUT_S = 120.0
PAGES_CLOSE_S = 5.0
ADMIN_TOKEN = "waiting-pages-admin-token"
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
USER_FIELD, SYSTEM_FIELD = 11, 12  # of /proc/<pid>/stat after the command name
FIRST_SOURCE_INDEX = 1 << 8  # 127.0.1.0 as an offset in 127.0.0.0/8


@dataclass
class ProcessCpu:
    role: str
    pid: int
    user_s: float  # over the measured hold
    system_s: float

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.system_s


@dataclass
class WaitingFigures:
    pages: int  # open when the measurement began
    workers: int
    engine: str  # where the waiting room is decided: sqlite (the allocator) or redis
    hold_s: float  # measured, wall clock
    settings: dict[str, str]  # what the phase changed from the defaults
    tickets: int
    serving_before: int
    serving_after: int
    cpu: list[ProcessCpu]
    idle_cpu: list[ProcessCpu]  # the same server, as long, once the pages closed
    events_per_page: tuple[int, int, float]  # min, max, mean over the hold
    heartbeats_per_page: tuple[int, int, float]
    pages_lost: int  # closed by the server during the hold

    @property
    def server_cpu_s(self) -> float:
        return sum(p.cpu_s for p in self.cpu)

    @property
    def workers_cpu_s(self) -> float:
        return sum(p.cpu_s for p in self.cpu if p.role == "worker")

    @property
    def idle_cpu_s(self) -> float:
        return sum(p.cpu_s for p in self.idle_cpu)

    def per_minute(self, cpu_s: float) -> float:
        return cpu_s / (self.hold_s / 60)


def waiting_phase(
    folder: Path,
    pages: int,
    hold_s: float,
    workers: int,
    repo: Path | None,
    *,
    engine: str = "sqlite",
) -> WaitingFigures:
    # A worker cannot hold more sockets than its descriptor limit (the launcher's, raised
    # to its hard limit): bounds beyond it would only turn into failed accepts.
    per_worker = min(100_000, pages + 1000, raise_nofile_limit() - 1000)
    open_budget_s = max(OPEN_BUDGET_S, 60 + pages / OPENED_A_SECOND)
    settings = {
        "FLASHSALE_MAX_EVENT_STREAMS": str(per_worker),
        "FLASHSALE_WORKER_CONNECTIONS": str(per_worker + 200),
    }
    env = {**settings, "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    # Enough that the room admits through both measurements.
    admitting_s = START_IN_S + open_budget_s + 2 * hold_s + PAGES_CLOSE_S
    tickets = int(WAITING_ADMIT_PER_MINUTE * admitting_s / 60)
    with ExitStack() as stack:
        redis = None
        if engine == "redis":
            redis = stack.enter_context(RedisServer(folder / "redis"))
            env |= redis.engine_env
        server = FlashSaleServer(folder / "waiting.db", workers=workers, env=env, repo=repo)
        stack.enter_context(server)
        api = Api(server.url, ADMIN_TOKEN)
        _waiting_sale(api, server.url, tickets)
        clients = _clients(server.port, pages)
        try:
            for client in clients:
                client.opened.wait(open_budget_s + 60)
            opened = sum(c.count.value for c in clients)
            pids = [("master", server.pid), ("allocator", server.allocator_pid())]
            pids += [("worker", pid) for pid in server.worker_pids()]
            if redis is not None:
                pids.append(("redis-server", redis.pid))
            serving_before = _until_admitting(api)
            started = time.monotonic()
            for client in clients:
                client.go.set()
            cpu = _cpu_over(pids, hold_s)
            held_s = time.monotonic() - started
            serving_after = _serving(api)
            for client in clients:
                client.stop.set()
            counts = [client.result() for client in clients]
        finally:
            for client in clients:
                client.end()
        time.sleep(PAGES_CLOSE_S)  # the server lets go of the closed connections
        idle_cpu = _cpu_over(pids, hold_s)
    events = [n for c in counts for n in c[0]]
    beats = [n for c in counts for n in c[1]]
    return WaitingFigures(
        pages=opened,
        workers=workers,
        engine=engine,
        hold_s=round(held_s, 2),
        settings=settings,
        tickets=tickets,
        serving_before=serving_before,
        serving_after=serving_after,
        cpu=cpu,
        idle_cpu=idle_cpu,
        events_per_page=_spread(events),
        heartbeats_per_page=_spread(beats),
        pages_lost=sum(c[2] for c in counts),
    )


def format_waiting(w: WaitingFigures) -> list[str]:
    settings = ", ".join(f"{k}={v}" for k, v in w.settings.items())
    per_process = ", ".join(
        f"{p.role} {p.cpu_s:.2f} ({p.user_s:.2f} user + {p.system_s:.2f} system)" for p in w.cpu
    )
    pages = max(1, w.pages)
    server, workers = w.per_minute(w.server_cpu_s), w.per_minute(w.workers_cpu_s)
    idle = w.per_minute(w.idle_cpu_s)
    idle_per_process = ", ".join(f"{p.role} {p.cpu_s:.2f}" for p in w.idle_cpu)
    return [
        f"waiting: {w.pages} pages open on {w.workers} workers ({settings}: the defaults "
        f"hold 8192 streams and 10000 connections a worker), a waiting room decided by "
        f"{'Redis' if w.engine == 'redis' else 'the allocator'} admitting "
        f"{WAITING_ADMIT_PER_MINUTE} a minute, {w.tickets} tickets joined",
        f"  over {w.hold_s:.1f} s: now serving {w.serving_before} -> {w.serving_after}",
        f"  server CPU {w.server_cpu_s:.2f} s ({per_process})",
        f"  a page got {_spread_text(w.events_per_page)} events and "
        f"{_spread_text(w.heartbeats_per_page)} heartbeats (min/max/mean); "
        f"{w.pages_lost} pages closed by the server",
        f"  a minute: server {server:.2f} s CPU, workers {workers:.2f} s"
        + (
            f"; per page-minute: {server / pages * 1e6:.1f} us (server), "
            f"{workers / pages * 1e6:.1f} us (workers)"
            if w.pages
            else ""
        ),
        f"  the same server with no page open, as long: {w.idle_cpu_s:.2f} s CPU "
        f"({idle_per_process}); a minute: {idle:.2f} s",
        f"  the pages' own cost a minute: {server - idle:.2f} s "
        f"({(server - idle) / pages * 1e6:.1f} us a page-minute)",
    ]


def _spread(values: list[int]) -> tuple[int, int, float]:
    if not values:
        return (0, 0, 0.0)
    return (min(values), max(values), round(sum(values) / len(values), 2))


def _spread_text(spread: tuple[int, int, float]) -> str:
    return f"{spread[0]}/{spread[1]}/{spread[2]}"


def _cpu_over(pids: list[tuple[str, int]], hold_s: float) -> list[ProcessCpu]:
    """Each process's CPU over `hold_s` seconds from now."""
    before = {pid: _cpu(pid) for _, pid in pids}
    time.sleep(hold_s)
    return [ProcessCpu(role, pid, *_cpu(pid, since=before[pid])) for role, pid in pids]


def _cpu(pid: int, since: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """User and system CPU seconds the process has spent (since `since`)."""
    fields = stat_fields(pid)
    if fields is None:
        return (0.0, 0.0)
    user, system = (int(fields[i]) / CLOCK_TICKS_PER_S for i in (USER_FIELD, SYSTEM_FIELD))
    return (user - since[0], system - since[1])


def _serving(api: Api) -> int:
    queue = api.status().get("queue") or {}
    return int(queue.get("serving") or 0)


def _until_admitting(api: Api) -> int:
    """Once the waiting room admits (its start has passed): "now serving"."""
    deadline = time.monotonic() + ADMITTING_TIMEOUT_S
    while time.monotonic() < deadline:
        queue = api.status().get("queue") or {}
        if queue.get("state") == "admitting" and queue.get("serving"):
            return int(queue["serving"])
        time.sleep(0.5)
    raise RuntimeError("the waiting room never started admitting")


def _waiting_sale(api: Api, base_url: str, tickets: int) -> None:
    """A sale whose waiting room starts admitting once `tickets` have joined."""
    starts_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + START_IN_S)) + "Z"
    api.start_sale(
        1000,
        1,
        starts_at=starts_at,
        queue={"admitPerMinute": WAITING_ADMIT_PER_MINUTE},
    )
    users = [f"waiting-{i}" for i in range(tickets)]
    with ThreadPoolExecutor(JOIN_THREADS) as pool:
        list(pool.map(lambda chunk: _join_all(base_url, chunk), _chunks(users, JOIN_THREADS)))


def _chunks(items: list[str], count: int) -> list[list[str]]:
    return [items[i::count] for i in range(count)]


def _join_all(base_url: str, users: list[str]) -> None:
    with requests.Session() as session:
        for user in users:
            answer = session.post(f"{base_url}/flash-sale/queue", json={"userId": user}, timeout=30)
            answer.raise_for_status()


# -- the client processes --------------------------------------------------------------
class _Client:
    """A process holding `count` pages from its own addresses until told to stop."""

    def __init__(self, port: int, first_page: int, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.opened = context.Event()
        self.go = context.Event()
        self.stop = context.Event()
        self.count = context.Value("i", 0)
        self._results = context.Queue()
        self._process = context.Process(
            target=_hold_pages,
            args=(port, first_page, count, self.opened, self.go, self.stop, self.count),
            kwargs={"results": self._results},
            daemon=True,
        )
        self._process.start()

    def result(self) -> tuple[list[int], list[int], int]:
        result: tuple[list[int], list[int], int] = self._results.get(timeout=120)
        return result

    def end(self) -> None:
        self.stop.set()
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()


def _clients(port: int, pages: int) -> list[_Client]:
    return [
        _Client(port, first, min(PAGES_PER_CLIENT, pages - first))
        for first in range(0, pages, PAGES_PER_CLIENT)
    ]


class _WaitingPage(asyncio.Protocol):
    """One page: its GET, then counts what it is pushed once counting is on."""

    __slots__ = ("answered", "beats", "counting", "events", "lost", "request")

    def __init__(self, request: bytes, answered: asyncio.Future[bool]) -> None:
        self.request = request
        self.answered = answered
        self.counting = False
        self.events = 0
        self.beats = 0
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.answered.done():
            self.answered.set_result(data.startswith(b"HTTP/1.1 200"))
        elif self.counting:
            self.events += data.count(b"event: status")
            self.beats += data.count(b": heartbeat")

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.answered.done():
            self.answered.set_result(False)


def _hold_pages(
    port: int,
    first_page: int,
    count: int,
    opened: multiprocessing.synchronize.Event,
    go: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
    open_count: Any,
    *,
    results: Any,
) -> None:
    raise_nofile_limit()
    asyncio.run(_hold(port, first_page, count, opened, go, stop, open_count, results))


async def _hold(
    port: int,
    first_page: int,
    count: int,
    opened: multiprocessing.synchronize.Event,
    go: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
    open_count: Any,
    results: Any,
) -> None:
    loop = asyncio.get_running_loop()
    request = f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    pages: list[_WaitingPage] = []
    transports: list[asyncio.Transport] = []

    async def one(index: int) -> None:
        source = _source(index)
        async with gate:
            answered: asyncio.Future[bool] = loop.create_future()
            page = _WaitingPage(request, answered)
            try:
                transport, _ = await loop.create_connection(
                    lambda: page, "127.0.0.1", port, local_addr=(source, 0)
                )
            except OSError:
                return
            try:
                ok = await asyncio.wait_for(answered, 30)
            except TimeoutError:
                ok = False
            if ok:
                pages.append(page)
                transports.append(transport)
            else:
                transport.abort()

    await asyncio.gather(*(one(i) for i in range(first_page, first_page + count)))
    open_count.value = len(pages)
    opened.set()
    await asyncio.to_thread(go.wait)
    for page in pages:
        page.counting, page.events, page.beats = True, 0, 0
    await asyncio.to_thread(stop.wait)
    results.put(
        (
            [p.events for p in pages],
            [p.beats for p in pages],
            sum(p.lost for p in pages),
        )
    )
    for transport in transports:
        transport.abort()


def _source(page: int) -> str:
    index = FIRST_SOURCE_INDEX + 1 + page // WAITING_PER_SOURCE
    return f"127.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"
