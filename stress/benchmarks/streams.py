"""`python -m stress streams`: what open event streams cost a worker, what it gives
back once they close, and what one address flooding the server gets.

Each phase starts a server of its own (stress.servers.gunicorn_server) with the default
settings. Clients use loopback addresses of their own (Linux routes all of
127.0.0.0/8 to lo): 127.0.0.1 is a trusted proxy by default, so none is used.

memory: one worker; `--streams` pages open `GET /flash-sale/events` from
    127.0.1.x, `--per-source` pages an address (within the per-address bound),
    each until its first event. The worker's resident memory (RSS, /proc) is
    read before, with every page open, at once when all have closed, and
    `--settle` seconds later (the worker hands memory back on its own:
    flashsale.serving.memory_return), for `--rounds` rounds. The baseline is
    read after a warm-up round of WARM_UP_STREAMS, so that what a first
    request builds once is not counted as a stream's cost.
flood: two workers; one address (FLOODER) asks for `--flood` streams at once
    and holds what it gets, while a shopper on another address (SHOPPER) reads
    the status on a new connection every SHOPPER_PERIOD_S and buys once at the
    end: what the flooder was given and refused, and how long the shopper
    waited.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from flashsale.processes import processes_in_group, total_resident_bytes, usage_of
from stress.api import EVENTS_PATH, METRICS_PATH
from stress.benchmarks.waiting_pages import WaitingFigures, format_waiting, waiting_phase
from stress.runs import raise_nofile_limit
from stress.servers.gunicorn_server import FlashSaleServer
from stress.stats import percentile

PHASES = ("memory", "flood", "waiting")
DEFAULT_PHASES = ("memory", "flood")  # waiting only when asked for: it takes minutes
KIB = 1024
MIB = 1024 * 1024
FIRST_SOURCE = ipaddress.IPv4Address("127.0.1.1")
FLOODER = "127.0.0.3"
SHOPPER = "127.0.0.2"
OPEN_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 60.0
CONCURRENT_OPENS = 200
WARM_UP_STREAMS = 300
SHOPPER_PERIOD_S = 0.05
SHOPPER_TIMEOUT_S = 10.0
FLOOD_HOLD_S = 3.0  # the flooder holds what it got this long once every ask is answered
TRIM_LOG = "handed memory back"


@dataclass(frozen=True)
class StreamsOptions:
    phases: tuple[str, ...] = DEFAULT_PHASES
    streams: int = 8000
    rounds: int = 2
    per_source: int = 16
    settle_s: float = 12.0
    flood: int = 8000
    pages: int = 10_000  # waiting
    hold_s: float = 120.0
    workers: int = 2
    engine: str = "sqlite"  # waiting: or "redis", on a redis-server of its own
    repo: Path | None = None  # the checkout whose server is measured (default: this one)


@dataclass
class MemoryRound:
    opened: int
    refused: int
    rss_before: int
    rss_open: int
    rss_closed: int  # at once
    rss_settled: int  # `settle_s` later

    @property
    def per_stream_bytes(self) -> float:
        return (self.rss_open - self.rss_before) / max(1, self.opened)


@dataclass
class MemoryFigures:
    streams: int
    per_source: int
    baseline_rss: int
    rounds: list[MemoryRound]
    trims: list[str]  # what the worker logged when it handed memory back


@dataclass
class FloodFigures:
    asked: int
    workers: int
    answers: dict[str, int]  # what the flooder's asks got: "200", "429", "error"...
    shopper_answers: int
    shopper_failures: int  # no answer within SHOPPER_TIMEOUT_S, or not 200
    shopper_p50_ms: float | None
    shopper_max_ms: float | None
    purchase: int  # the shopper's purchase at the end: its HTTP status
    server_rss_before: int
    server_rss_flooded: int


@dataclass
class StreamsResult:
    memory: MemoryFigures | None = None
    flood: FloodFigures | None = None
    waiting: WaitingFigures | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "memory": asdict(self.memory) if self.memory else None,
            "flood": asdict(self.flood) if self.flood else None,
            "waiting": asdict(self.waiting) if self.waiting else None,
            "options": self.options,
        }


def run_streams(options: StreamsOptions) -> StreamsResult:
    raise_nofile_limit()
    result = StreamsResult(options={"streams": options.streams, "flood": options.flood})
    with tempfile.TemporaryDirectory(prefix="stress-streams-") as folder:
        if "memory" in options.phases:
            result.memory = _memory_phase(Path(folder), options)
        if "flood" in options.phases:
            result.flood = _flood_phase(Path(folder), options)
        if "waiting" in options.phases:
            result.waiting = waiting_phase(
                Path(folder),
                options.pages,
                options.hold_s,
                options.workers,
                options.repo,
                engine=options.engine,
            )
    return result


# -- memory ----------------------------------------------------------------------------
def _memory_phase(folder: Path, options: StreamsOptions) -> MemoryFigures:
    env = {}
    if options.streams > 8000:  # the defaults hold 8,192 streams and 10,000 connections
        env = {
            "FLASHSALE_MAX_EVENT_STREAMS": str(options.streams + 100),
            "FLASHSALE_WORKER_CONNECTIONS": str(options.streams + 200),
        }
    server = FlashSaleServer(folder / "memory.db", workers=1, env=env, repo=options.repo)
    with server:
        pid = _worker_pids(server)[0]
        asyncio.run(_memory_round(server, pid, WARM_UP_STREAMS, options))
        baseline = _rss(pid)
        rounds = [
            asyncio.run(_memory_round(server, pid, options.streams, options))
            for _ in range(options.rounds)
        ]
        trims = [line for line in server.log().splitlines() if TRIM_LOG in line]
    return MemoryFigures(options.streams, options.per_source, baseline, rounds, trims)


async def _memory_round(
    server: FlashSaleServer, pid: int, count: int, options: StreamsOptions
) -> MemoryRound:
    rss_before = _rss(pid)
    sources = _sources(count, options.per_source)
    opened, answers = await _ask_for_streams(server.port, sources)
    await asyncio.to_thread(_until_open_streams, server, len(opened))
    rss_open = _rss(pid)
    for transport in opened:
        transport.close()
    await asyncio.to_thread(_until_open_streams, server, 0)
    rss_closed = _rss(pid)
    await asyncio.sleep(options.settle_s)
    refused = sum(n for status, n in answers.items() if status != "200")
    return MemoryRound(len(opened), refused, rss_before, rss_open, rss_closed, _rss(pid))


def _sources(count: int, per_source: int) -> Iterator[str]:
    for i in range(count):
        yield str(FIRST_SOURCE + i // per_source)


# -- flood -----------------------------------------------------------------------------
def _flood_phase(folder: Path, options: StreamsOptions) -> FloodFigures:
    workers = 2
    server = FlashSaleServer(
        folder / "flood.db", workers=workers, env={"FLASHSALE_STOCK": "10"}, repo=options.repo
    )
    with server, ProcessPoolExecutor(max_workers=1) as pool:
        rss_before = total_resident_bytes(processes_in_group(server.pid))
        flooding = pool.submit(_flood, server.port, options.flood, server.pid)
        latencies_ms: list[float] = []
        failures = 0
        while not flooding.done():
            started = time.monotonic()
            status = _exchange(server.port, SHOPPER, b"GET /flash-sale/status HTTP/1.1\r\n\r\n")
            latencies_ms.append((time.monotonic() - started) * 1000)
            failures += status != 200
            time.sleep(SHOPPER_PERIOD_S)
        answers, rss_flooded = flooding.result()
        purchase = _exchange(
            server.port,
            SHOPPER,
            b"POST /flash-sale/purchase HTTP/1.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 23\r\n\r\n{"userId": "next-door"}',
        )
    latencies_ms.sort()
    return FloodFigures(
        asked=options.flood,
        workers=workers,
        answers=answers,
        shopper_answers=len(latencies_ms),
        shopper_failures=failures,
        shopper_p50_ms=_rounded(percentile(latencies_ms, 0.5)),
        shopper_max_ms=_rounded(latencies_ms[-1] if latencies_ms else None),
        purchase=purchase,
        server_rss_before=rss_before,
        server_rss_flooded=rss_flooded,
    )


def _flood(port: int, count: int, server_pid: int) -> tuple[dict[str, int], int]:
    """In a process of its own: ask for `count` streams from FLOODER at once, hold what
    is given for FLOOD_HOLD_S; what each ask got, and the server's RSS meanwhile."""
    raise_nofile_limit()

    async def run() -> tuple[dict[str, int], int]:
        opened, answers = await _ask_for_streams(port, (FLOODER for _ in range(count)))
        await asyncio.sleep(FLOOD_HOLD_S)
        rss = total_resident_bytes(processes_in_group(server_pid))
        for transport in opened:
            transport.close()
        return answers, rss

    return asyncio.run(run())


def _exchange(port: int, source: str, head: bytes) -> int:
    """One request on a new connection from `source`: its status, 0 for no answer."""
    request = head.replace(b"\r\n", b"\r\nHost: x\r\nConnection: close\r\n", 1)
    try:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=SHOPPER_TIMEOUT_S, source_address=(source, 0)
        ) as conn:
            conn.sendall(request)
            reply = conn.recv(65536)
    except OSError:
        return 0
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


# -- pages -----------------------------------------------------------------------------
class _Page(asyncio.Protocol):
    """One page: sends its GET, then notes its status (200 once its first event
    came); reads and drops whatever follows (heartbeats, status events)."""

    def __init__(self, request: bytes, answered: asyncio.Future[str]) -> None:
        self._request = request
        self._answered = answered
        self._head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self._answered.done():
            return
        self._head += data
        if not self._head.startswith(b"HTTP/1.1 200"):
            if b"\r\n" in self._head:
                self._answered.set_result(self._head.split(b" ", 2)[1].decode("latin-1"))
        elif b"event: status" in self._head:
            self._head = b""
            self._answered.set_result("200")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._answered.done():
            self._answered.set_result("closed")


async def _ask_for_streams(
    port: int, sources: Iterator[str]
) -> tuple[list[asyncio.Transport], dict[str, int]]:
    """Ask for a stream from each source; the transports of those given one, and
    how many asks got each answer ("200", "429", "503", "closed", "error")."""
    loop = asyncio.get_running_loop()
    request = f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    gate = asyncio.Semaphore(CONCURRENT_OPENS)
    opened: list[asyncio.Transport] = []
    answers: dict[str, int] = {}

    async def one(source: str) -> None:
        async with gate:
            answered: asyncio.Future[str] = loop.create_future()
            try:
                transport, _ = await loop.create_connection(
                    lambda: _Page(request, answered), "127.0.0.1", port, local_addr=(source, 0)
                )
            except OSError:
                answers["error"] = answers.get("error", 0) + 1
                return
            try:
                answer = await asyncio.wait_for(answered, OPEN_TIMEOUT_S)
            except TimeoutError:
                answer = "timeout"
            answers[answer] = answers.get(answer, 0) + 1
            if answer == "200":
                opened.append(transport)
            else:
                transport.abort()

    await asyncio.gather(*(one(source) for source in sources))
    return opened, answers


# -- the server ------------------------------------------------------------------------
def _metrics(server: FlashSaleServer) -> dict[str, Any]:
    answer = requests.get(
        f"{server.url}{METRICS_PATH}", headers=server.operator_headers, timeout=10
    )
    answer.raise_for_status()
    metrics: dict[str, Any] = answer.json()
    return metrics


def _worker_pids(server: FlashSaleServer) -> list[int]:
    return [int(p["pid"]) for p in _metrics(server)["processes"] if p["role"] == "worker"]


def _rss(pid: int) -> int:
    usage = usage_of("worker", pid)
    if usage is None:
        raise RuntimeError(f"the worker {pid} is gone")
    return usage.resident_bytes


def _until_open_streams(server: FlashSaleServer, count: int) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while _metrics(server)["openEventStreams"] != count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server never counted {count} open streams")
        time.sleep(0.1)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# -- the report ------------------------------------------------------------------------
def format_streams(result: StreamsResult) -> str:
    lines: list[str] = []
    memory = result.memory
    if memory is not None:
        addresses = -(-memory.streams // memory.per_source)
        lines += [
            f"memory: {memory.streams} event streams a round on one worker, from {addresses} "
            f"addresses ({memory.per_source} each)",
            f"  worker RSS after a warm-up of {WARM_UP_STREAMS} streams: "
            f"{memory.baseline_rss / MIB:.1f} MiB",
        ]
        for i, r in enumerate(memory.rounds, 1):
            lines.append(
                f"  round {i}: {r.opened} open ({r.refused} refused): "
                f"{r.rss_before / MIB:.1f} -> {r.rss_open / MIB:.1f} MiB, "
                f"{r.per_stream_bytes / KIB:.1f} KiB a stream; all closed: "
                f"{r.rss_closed / MIB:.1f} MiB at once, {r.rss_settled / MIB:.1f} MiB later "
                f"({(r.rss_settled - memory.baseline_rss) / MIB:+.1f} MiB on the baseline)"
            )
        lines += [f"  the worker: {line.split('] ')[-1]}" for line in memory.trims]
    flood = result.flood
    if flood is not None:
        answers = ", ".join(f"{n} {status}" for status, n in sorted(flood.answers.items()))
        lines += [
            f"flood: one address asked for {flood.asked} streams at once "
            f"({flood.workers} workers): {answers}",
            f"  another address meanwhile: {flood.shopper_answers} status reads, "
            f"{flood.shopper_failures} not answered 200, p50 {flood.shopper_p50_ms} ms, "
            f"max {flood.shopper_max_ms} ms; its purchase after: {flood.purchase}",
            f"  server RSS {flood.server_rss_before / MIB:.0f} MiB before, "
            f"{flood.server_rss_flooded / MIB:.0f} MiB while flooded",
        ]
    if result.waiting is not None:
        lines += format_waiting(result.waiting)
    return "\n".join(lines)


def write_report(result: StreamsResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "streams.json"
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return path
