"""`python -m stress export`: what exporting a large sale's orders as CSV
(GET /flash-sale/admin/sales/{id}/orders.csv) costs a worker's memory and the
purchases it serves meanwhile, in each engine.

For each engine (`sqlite`: the embedded journal; `redis`: a redis-server of its
own) and each size of `--orders` (10,000 and 100,000 by default, to compare) it
starts a fresh server (`--workers`, the admin token set), opens a sale and fills
it with that many orders by real purchases through the API
(stress.client.fill: the allocator decides and records each one, as in a real
sale; 100,000 take 15-40 s here), then, while the sale stays open:

alone: one export by itself: its time, bytes and rows, checked row for row
    against the engine's own record of the orders (the journal, or Redis),
    and the RSS of the worker that served it (the one that spent the CPU)
    before it, at its peak (sampled every SAMPLE_S) and after it.
purchases: `--rounds` rounds, each `--seconds` of steady purchases of the same
    sale (stress.client.paced: `--rate` a second, in a client process of its
    own) without an export, then the same with exports back to back: what an
    operator does who exports while the sale runs. p50, p99 and max each way.
slow: a downloader reading `--slow-kib-s` KiB a second for `--slow-seconds`, then
    leaving: the worker holds what the socket does not take, so its RSS must not
    grow by the list.

For scale it also prints what the orders take as the records a reader returns
(tracemalloc, in this process): what a worker holding the whole list would grow by.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import socket
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import requests

from flashsale.clock import iso_from_us
from flashsale.config import Settings
from flashsale.journal import JournalReader
from flashsale.lifecycle import redis_store
from flashsale.orders_csv import COLUMNS
from flashsale.processes import ProcessUsage, usage_of
from flashsale.records import OrderRecord
from stress.api import bearer
from stress.api_client import Api, new_session
from stress.client.fill import FillOutcome, fill_by_purchases
from stress.client.paced import PacedOutcome, outcome_json, paced_purchases
from stress.runs import new_run_id
from stress.servers.gunicorn_server import FlashSaleServer
from stress.servers.redis_server import RedisServer, redis_server_binary

ENGINES = ("sqlite", "redis")
CSV_HEADER = (",".join(COLUMNS) + "\r\n").encode()
MIB = 1024 * 1024
SAMPLE_S = 0.02
SETTLE_S = 1.0
DOWNLOAD_TIMEOUT_S = 300.0
READ_CHUNK_BYTES = 64 * 1024
SLOW_RECEIVE_BUFFER_BYTES = 64 * 1024


@dataclass(frozen=True)
class ExportOptions:
    sizes: tuple[int, ...] = (10_000, 100_000)
    engines: tuple[str, ...] = ENGINES
    workers: int = 2
    rounds: int = 2
    seconds: float = 8.0
    rate: float = 200.0
    connections: int = 8
    fill_processes: int = 2
    fill_connections: int = 16
    slow_kib_s: float = 256.0
    slow_seconds: float = 5.0
    repo: Path | None = None  # the checkout whose server is measured (default: this one)

    def stock(self, orders: int) -> int:
        """Room for every purchase of the run after the orders filled in."""
        purchases = self.rate * self.seconds * self.rounds * 2
        return orders + int(purchases * 1.5) + 1000


@dataclass
class Download:
    seconds: float
    bytes: int
    rows: int
    complete: bool  # 200, the header first, the body whole, every line ended

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def mib_per_s(self) -> float:
        return self.bytes / MIB / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Memory:
    """Each worker's RSS (pid -> bytes): before, the highest sampled during, after;
    `served`: the worker that spent the most CPU meanwhile (the one streaming)."""

    before: dict[int, int]
    peak: dict[int, int]
    after: dict[int, int]
    served: int = 0

    @property
    def growth(self) -> int:
        """The serving worker's peak over its RSS before."""
        return self.peak.get(self.served, 0) - self.before.get(self.served, 0)


@dataclass
class Round:
    without: PacedOutcome
    during: PacedOutcome
    exports: list[Download]
    memory: Memory


@dataclass
class SlowDownload:
    seconds: float
    bytes: int
    memory: Memory


@dataclass
class SizeResult:
    """One engine, one sale size: a server of its own."""

    engine: str
    orders: int
    fill: FillOutcome | None = None
    list_bytes: int = 0  # the orders as records, tracemalloc
    alone: Download | None = None
    # None when the export is the engine's orders row for row, else what differs.
    mismatch: str | None = "not checked"
    alone_memory: Memory | None = None
    rounds: list[Round] = field(default_factory=list)
    slow: SlowDownload | None = None

    @property
    def ok(self) -> bool:
        downloads = [self.alone, *(d for r in self.rounds for d in r.exports)]
        whole = all(d is not None and d.complete and d.rows >= self.orders for d in downloads)
        sold = all(
            set(outcome.codes) == {"201"} and outcome.errors == 0
            for r in self.rounds
            for outcome in (r.without, r.during)
        )
        filled = self.fill is not None and self.fill.exact
        return filled and self.mismatch is None and whole and sold

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "orders": self.orders,
            "fill": asdict(self.fill) | {"perSecond": self.fill.per_second} if self.fill else None,
            "listBytes": self.list_bytes,
            "alone": asdict(self.alone) if self.alone else None,
            "mismatch": self.mismatch,
            "aloneMemory": _memory_json(self.alone_memory),
            "rounds": [
                {
                    "without": outcome_json(r.without),
                    "during": outcome_json(r.during),
                    "exports": [asdict(d) for d in r.exports],
                    "memory": _memory_json(r.memory),
                }
                for r in self.rounds
            ],
            "slow": (asdict(self.slow) | {"memory": _memory_json(self.slow.memory)})
            if self.slow
            else None,
            "ok": self.ok,
        }


@dataclass
class ExportResult:
    options: ExportOptions
    sizes: list[SizeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.sizes) and all(size.ok for size in self.sizes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options) | {"repo": str(self.options.repo or "")},
            "sizes": [size.to_dict() for size in self.sizes],
            "ok": self.ok,
        }


def available_engines(engines: tuple[str, ...]) -> tuple[str, ...]:
    """The engines asked for that can run here (redis needs redis-server)."""
    return tuple(e for e in engines if e != "redis" or redis_server_binary() is not None)


def run_export(options: ExportOptions) -> ExportResult:
    result = ExportResult(options)
    for engine in options.engines:
        for orders in options.sizes:
            result.sizes.append(_measure_size(options, engine, orders))
    return result


@dataclass
class _Served:
    server: FlashSaleServer
    api: Api
    sale_id: int
    settings: Settings  # as the server's own (the Redis store's url and tag)


@contextmanager
def _server(options: ExportOptions, engine: str, orders: int, folder: Path) -> Iterator[_Served]:
    token = secrets.token_hex(16)
    env = {"FLASHSALE_ADMIN_TOKEN": token}
    with ExitStack() as stack:
        if engine == "redis":
            redis = stack.enter_context(RedisServer(folder / "redis"))
            env |= redis.engine_env
        server = FlashSaleServer(
            folder / "journal.db", workers=options.workers, env=env, repo=options.repo
        )
        stack.enter_context(server)
        api = Api(server.url, token)
        stack.callback(api.close)
        sale = api.start_sale(options.stock(orders))
        yield _Served(server, api, int(sale["saleId"]), Settings.from_env(server.env))


def _measure_size(options: ExportOptions, engine: str, orders: int) -> SizeResult:
    result = SizeResult(engine, orders)
    with (
        tempfile.TemporaryDirectory(prefix="stress-export-") as folder,
        _server(options, engine, orders, Path(folder)) as served,
    ):
        server, sale_id = served.server, served.sale_id
        result.fill = fill_by_purchases(
            server.url,
            orders=orders,
            processes=options.fill_processes,
            connections=options.fill_connections,
            prefix=f"f{new_run_id()}",
        )
        recorded = _recorded_orders(served)
        result.list_bytes = _list_bytes(served)
        url = f"{server.url}/flash-sale/admin/sales/{sale_id}/orders.csv"
        token = served.api.admin_token or ""
        workers = server.worker_pids()
        with _Sampler(workers) as sampler:
            result.alone, body = _download(url, token, keep=True)
        result.alone_memory = sampler.memory
        result.mismatch = csv_mismatch(body, recorded, orders)
        del body, recorded
        # Spawned, not forked: this process runs threads (the sampler).
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as shoppers:
            for _ in range(options.rounds):
                result.rounds.append(_round(server, url, token, workers, shoppers, options))
        result.slow = _slow_download(server, sale_id, token, workers, options)
    return result


def _recorded_orders(served: _Served) -> list[OrderRecord]:
    """The sale's orders as the engine recorded them: the journal's rows, or Redis'."""
    if served.settings.engine == "redis":
        store = redis_store(served.settings)
        try:
            return store.orders_of_sale(served.sale_id)
        finally:
            store.close()
    return JournalReader(served.server.db_path).orders_of_sale(served.sale_id)


def _list_bytes(served: _Served) -> int:
    """What the sale's orders take as the list of records a reader returns."""
    tracemalloc.start()
    try:
        orders = _recorded_orders(served)
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del orders
    return size


def csv_mismatch(body: bytes, recorded: list[OrderRecord], orders: int) -> str | None:
    """None when the CSV holds exactly the recorded orders, row for row in position
    order (each field as recorded; user ids are the fill's, so never defused; the
    benchmark's sale has no checkout, so every order is confirmed, without a payment
    reference); else the first difference."""
    if len(recorded) != orders:
        return f"the engine holds {len(recorded)} orders, not the {orders} filled"
    rows = csv.reader(io.StringIO(body.decode()))
    if next(rows, None) != list(COLUMNS):
        return "no header line"
    found = list(rows)
    for count, (row, order) in enumerate(zip(found, recorded, strict=False), 1):
        expected = [
            order.order_id,
            order.user_id,
            order.sku,
            str(order.position),
            iso_from_us(order.purchased_at_us),
            "confirmed",
            "",
        ]
        if row != expected:
            return f"row {count}: {row} where the engine has {expected}"
    if len(found) != len(recorded):
        return f"{len(found)} rows for {len(recorded)} orders"
    return None


def _round(
    server: FlashSaleServer,
    url: str,
    token: str,
    workers: list[int],
    shoppers: ProcessPoolExecutor,
    options: ExportOptions,
) -> Round:
    without = _paced(server, shoppers, options).result()
    window = _paced(server, shoppers, options)
    exports: list[Download] = []
    with _Sampler(workers) as sampler:
        while not window.done():  # back to back for the whole window
            exports.append(_download(url, token)[0])
    return Round(without, window.result(), exports, sampler.memory)


def _paced(server: FlashSaleServer, shoppers: ProcessPoolExecutor, options: ExportOptions) -> Any:
    return shoppers.submit(
        paced_purchases,
        server.url,
        rate=options.rate,
        connections=options.connections,
        seconds=options.seconds,
        prefix=f"p{new_run_id()}",
    )


def _download(url: str, token: str, *, keep: bool = False) -> tuple[Download, bytes]:
    """One export, read as fast as it comes: its time to the last byte, its shape,
    and (`keep`) its body for the check, kept after the clock stops."""
    started = time.perf_counter()
    total, lines, head, tail = 0, 0, b"", b""
    kept: list[bytes] = []
    complete = True
    with new_session() as session:
        try:
            with session.get(
                url, headers=bearer(token), stream=True, timeout=DOWNLOAD_TIMEOUT_S
            ) as answer:
                complete = answer.status_code == 200
                for chunk in answer.iter_content(READ_CHUNK_BYTES):
                    if not head:
                        head = chunk[: len(CSV_HEADER)]
                    total += len(chunk)
                    # A CRLF split between two chunks is counted by the second's b"\n".
                    lines += chunk.count(b"\n")
                    tail = (tail + chunk)[-2:]
                    if keep:
                        kept.append(chunk)
        except requests.RequestException:
            complete = False
    seconds = time.perf_counter() - started
    complete = complete and head == CSV_HEADER and tail == b"\r\n"
    return Download(round(seconds, 3), total, max(lines - 1, 0), complete), b"".join(kept)


def _slow_download(
    server: FlashSaleServer, sale_id: int, token: str, workers: list[int], options: ExportOptions
) -> SlowDownload:
    """A client reading `slow_kib_s` KiB a second for `slow_seconds`, then leaving."""
    request = (
        f"GET /flash-sale/admin/sales/{sale_id}/orders.csv HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    per_read = max(1, int(options.slow_kib_s * 1024 * SAMPLE_S * 5))
    received = 0
    with _Sampler(workers) as sampler:
        conn = socket.socket()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RECEIVE_BUFFER_BYTES)
        conn.settimeout(30)
        started = time.perf_counter()
        try:
            conn.connect(("127.0.0.1", server.port))
            conn.sendall(request)
            while (elapsed := time.perf_counter() - started) < options.slow_seconds:
                got = len(conn.recv(per_read))
                if not got:
                    break  # the whole export came (a small sale)
                received += got
                # Ahead of the pace: wait until it has caught up.
                ahead_s = received / (options.slow_kib_s * 1024) - elapsed
                if ahead_s > 0:
                    time.sleep(ahead_s)
        finally:
            conn.close()
        seconds = time.perf_counter() - started
    return SlowDownload(round(seconds, 2), received, sampler.memory)


class _Sampler:
    """Each worker's RSS before a block, its highest every SAMPLE_S during, and after
    it has settled (SETTLE_S); the worker that spent the most CPU in the block."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._stop = threading.Event()
        self._before: dict[int, int] = {}
        self._peak: dict[int, int] = {}
        self._cpu: dict[int, float] = {}
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.memory = Memory({}, {}, {})

    def __enter__(self) -> _Sampler:
        self._before = _rss(self.pids)
        self._cpu = _cpu(self.pids)
        self._peak = dict(self._before)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        spent = {pid: cpu - self._cpu[pid] for pid, cpu in _cpu(self.pids).items()}
        time.sleep(SETTLE_S)
        served = max(spent, key=lambda pid: spent[pid])
        self.memory = Memory(self._before, self._peak, _rss(self.pids), served)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            for pid, rss in _rss(self.pids).items():
                self._peak[pid] = max(self._peak[pid], rss)


def _rss(pids: list[int]) -> dict[int, int]:
    return {pid: _usage(pid).resident_bytes for pid in pids}


def _cpu(pids: list[int]) -> dict[int, float]:
    return {pid: _usage(pid).cpu_s for pid in pids}


def _usage(pid: int) -> ProcessUsage:
    usage = usage_of("worker", pid)
    if usage is None:
        raise RuntimeError(f"the worker {pid} is gone")
    return usage


def _memory_json(memory: Memory | None) -> dict[str, Any] | None:
    if memory is None:
        return None
    return asdict(memory) | {"growth": memory.growth}


# -- the report ------------------------------------------------------------------------
def _mib(value: float) -> str:
    return f"{value / MIB:.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))

    return [line(head), line(["-" * width for width in widths]), *map(line, rows)]


def format_export(result: ExportResult) -> str:
    options = result.options
    lines = [
        f"export: {options.workers} workers; purchases {options.rate:g}/s over "
        f"{options.connections} connections, {options.rounds} rounds of {options.seconds:g} s "
        "each way (without, then during exports back to back)",
        "",
        "the export alone (RSS of the worker that served it, MiB)",
    ]
    head = [
        "engine",
        "orders",
        "filled/s",
        "CSV MiB",
        "list MiB",
        "seconds",
        "rows/s",
        "rows",
        "vs engine",
        "RSS before",
        "peak",
        "growth",
        "slow peak growth",
    ]
    rows = []
    for size in result.sizes:
        alone, memory, slow = size.alone, size.alone_memory, size.slow
        rows.append(
            [
                size.engine,
                f"{size.orders:,}",
                f"{size.fill.per_second:,.0f}" if size.fill else "-",
                _mib(alone.bytes) if alone else "-",
                _mib(size.list_bytes),
                f"{alone.seconds:.2f}" if alone else "-",
                f"{alone.rows_per_s:,.0f}" if alone else "-",
                f"{alone.rows:,}" if alone else "-",
                "same" if size.mismatch is None else "DIFFERS",
                _mib(memory.before[memory.served]) if memory else "-",
                _mib(memory.peak[memory.served]) if memory else "-",
                _mib(memory.growth) if memory else "-",
                _mib(slow.memory.growth) if slow else "-",
            ]
        )
    lines += _table(head, rows)
    lines += ["", "purchases of the same sale, without an export and during exports (ms)"]
    head = [
        "engine",
        "orders",
        "round",
        "p50 without",
        "p50 during",
        "p99 without",
        "p99 during",
        "max without",
        "max during",
        "exports",
        "export s",
        "RSS growth",
    ]
    rows = []
    for size in result.sizes:
        for i, r in enumerate(size.rounds, 1):
            times = sorted(d.seconds for d in r.exports) or [0.0]
            rows.append(
                [
                    size.engine,
                    f"{size.orders:,}",
                    str(i),
                    _ms(r.without.p50_ms),
                    _ms(r.during.p50_ms),
                    _ms(r.without.p99_ms),
                    _ms(r.during.p99_ms),
                    _ms(r.without.max_ms),
                    _ms(r.during.max_ms),
                    str(len(r.exports)),
                    f"{times[len(times) // 2]:.2f}",
                    _mib(r.memory.growth),
                ]
            )
    lines += _table(head, rows)
    lines += _growth_lines(result)
    for size in result.sizes:
        lines += _problems(size)
    verdict = (
        "every sale filled exactly, every export whole and the engine's orders row for row, "
        "every purchase 201"
        if result.ok
        else "FAILED"
    )
    lines += ["", f"verdict: {verdict}"]
    return "\n".join(lines)


def _growth_lines(result: ExportResult) -> list[str]:
    """The serving worker's growth by size, beside what the whole list would take."""
    lines = []
    for engine in result.options.engines:
        sizes = [s for s in result.sizes if s.engine == engine and s.alone_memory is not None]
        if len(sizes) > 1:
            each = ", ".join(
                f"{_mib(s.alone_memory.growth)} MiB at {s.orders:,} (the list: "
                f"{_mib(s.list_bytes)} MiB)"
                for s in sizes
                if s.alone_memory is not None
            )
            lines.append(f"{engine}: the serving worker grew {each}")
    return ["", *lines] if lines else []


def _problems(size: SizeResult) -> list[str]:
    """What made a size fail, in words."""
    where = f"{size.engine} {size.orders:,}:"
    found = []
    if size.fill is None or not size.fill.exact:
        found.append(f"{where} the fill gave up on users ({size.fill})")
    if size.mismatch is not None:
        found.append(f"{where} the export is not the engine's orders: {size.mismatch}")
    for d in [size.alone, *(d for r in size.rounds for d in r.exports)]:
        if d is None or not d.complete or d.rows < size.orders:
            found.append(f"{where} an export incomplete: {d}")
    for r in size.rounds:
        for outcome in (r.without, r.during):
            if set(outcome.codes) != {"201"} or outcome.errors:
                found.append(f"{where} purchases {outcome.codes}, {outcome.errors} errors")
    return found


def write_report(result: ExportResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "export.json"
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return path
