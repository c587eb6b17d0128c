"""The allocator measured without HTTP (`python -m stress allocator`): a real
allocator process on a temporary journal as in production, and client processes
that keep a window of requests, encoded before the clock starts, in flight.
Optionally a sale with a checkout window (every sale a hold) and webhooks on (each
decision's events written to the outbox), to price them against the plain path."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from collections import Counter
from contextlib import closing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from flashsale.allocator.client import connect_blocking
from flashsale.allocator.loop import Allocator
from flashsale.allocator.messages import NO_SLOT, FrameBuffer, Kind, Request, frame, purchase_body
from flashsale.catalogue import ProductSettings
from flashsale.journal import JournalLock
from flashsale.outcomes import Outcome
from flashsale.processes import usage_of
from flashsale.records import CheckoutTerms, SaleTerms
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.store_board import StoreBoard

FORK = multiprocessing.get_context("fork")
DEADLINE_NS = 60 * 10**9
READY_TIMEOUT_S = 30
PRODUCT = ProductSettings()  # the sale of one product every purchase asks for
SKU = PRODUCT.sku


def _client(
    address: str,
    authkey: bytes,
    prefix: str,
    count: int,
    window: int,
    start: Barrier,
    results: Queue[tuple[float, float, dict[str, int]]],
) -> None:
    far = time.monotonic_ns() + DEADLINE_NS
    frames = [_purchase_frame(prefix, i, far) for i in range(count)]
    sock = connect_blocking(address, authkey)
    sock.settimeout(30)
    frames_in = FrameBuffer()
    outcomes: Counter[str] = Counter()
    sent = received = 0
    start.wait()
    began = time.perf_counter()
    while received < count:
        if sent < count and sent - received < window:
            upto = min(count, received + window)
            sock.sendall(b"".join(frames[sent:upto]))
            sent = upto
        for payload in frames_in.feed(sock.recv(1 << 20)):
            if payload[0] == Kind.ACK:
                continue  # how many frames the allocator has read: not a reply
            outcomes[Outcome(payload[1]).name] += 1  # REPLY's second byte: the outcome
            received += 1
    results.put((began, time.perf_counter(), dict(outcomes)))
    sock.close()


def _purchase_frame(prefix: str, i: int, far: int) -> bytes:
    """Purchase i of a client, framed as a worker sends it, to be sold by `far`."""
    arrival_ns = far - DEADLINE_NS + i
    body = purchase_body(f"{prefix}-{i}", SKU)
    request = Request(Kind.PURCHASE, 0, NO_SLOT, i + 1, os.urandom(16), arrival_ns, far, body)
    return frame(request.encode())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the allocator: its cost, whatever else runs on the machine."""
    usage = usage_of("allocator", pid)
    if usage is None:
        raise RuntimeError(f"the allocator (pid {pid}) is gone")
    return usage.cpu_s


def measure(
    *,
    purchases: int,
    clients: int,
    window: int,
    journal_dir: Path,
    hold_s: int | None = None,
    webhooks: bool = False,
) -> dict[str, Any]:
    """`hold_s`: the sale holds each unit that long (None: every sale final); `webhooks`:
    the allocator writes each decision's events to the outbox (no sender reads them)."""
    board = SaleBoard()
    checkout = None if hold_s is None else CheckoutTerms(hold_s, 0)
    address, authkey = str(journal_dir / "allocator.sock"), os.urandom(32)
    db_path = journal_dir / "journal.db"
    allocator = FORK.Process(
        target=Allocator(
            address=address,
            authkey=authkey,
            db_path=db_path,
            first_sale=SaleTerms((PRODUCT.product(purchases),), 1, None, None, checkout),
            board=board,
            store_board=StoreBoard(),
            lock=JournalLock(db_path),
            webhooks=webhooks,
        ).run,
    )
    allocator.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not board.allocator().ready:
            if time.monotonic() > deadline:
                raise RuntimeError("the allocator did not start")
            time.sleep(0.01)
        start, results = FORK.Barrier(clients + 1), FORK.Queue()
        share = purchases // clients
        workers = [
            FORK.Process(
                target=_client, args=(address, authkey, f"c{n}", share, window, start, results)
            )
            for n in range(clients)
        ]
        for worker in workers:
            worker.start()
        assert allocator.pid is not None  # set by start()
        cpu_before = _cpu_seconds(allocator.pid)
        start.wait(READY_TIMEOUT_S)
        runs = [results.get(timeout=300) for _ in workers]
        cpu_s = _cpu_seconds(allocator.pid) - cpu_before
        for worker in workers:
            worker.join(30)
        liveness = board.allocator()
    finally:
        allocator.terminate()
        allocator.join(30)
    elapsed = max(end for _, end, _ in runs) - min(began for began, _, _ in runs)
    outcomes = sum((Counter(o) for _, _, o in runs), Counter())
    with closing(sqlite3.connect(db_path)) as db:
        journaled = db.execute("SELECT count(*) FROM orders").fetchone()[0]
        events = db.execute("SELECT count(*) FROM webhook_outbox").fetchone()[0]
    decided = share * clients
    return {
        "purchases": decided,
        "clients": clients,
        "window": window,
        "holdSeconds": hold_s,
        "webhooks": webhooks,
        "seconds": round(elapsed, 3),
        "decisionsPerSecond": round(decided / elapsed),
        # Per second of the allocator's own CPU: the figure on a machine with a
        # core to spare for it, unaffected by what else runs here.
        "allocatorCpuSeconds": round(cpu_s, 3),
        "decisionsPerCpuSecond": round(decided / cpu_s) if cpu_s else None,
        "outcomes": dict(outcomes),
        "journaled": journaled,
        "outboxEvents": events,
        "commits": liveness.commits,
        "salesPerCommit": round(liveness.committed_sales / max(liveness.commits, 1), 1),
    }
