"""Parent side of a load run: spread the shoppers' plans and the open pages over
client processes (the `multiprocess` package, each an event loop: stress.client.process),
step them through opening their connections, release them at one instant,
show progress and gather the records.

The release: once every process has opened its pages, then its shoppers'
connections, the parent writes a wall-clock instant RELEASE_LEAD_S ahead and
lets them go; each process sleeps until then and sets its shoppers off at once.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import multiprocess

from stress.client.process import PHASES, ProcessSettings, SharedProgress, client_main
from stress.client.progress import ProgressBar
from stress.client.release import STARTED, PhaseGate, ReleaseError
from stress.client.shopper import ShopperSettings
from stress.records import PageRecord, Record, Row
from stress.runs import raise_nofile_limit
from stress.scenarios.plans import MAX_RETRY_WAIT_S, UserPlan

RELEASE_LEAD_S = 0.3
RESULT_GRACE_S = 30.0
# After the last shopper: time for the pages to get the sale's last event
# (the server sends one at most every 0.5 s, polling shared memory every 0.1 s).
PAGES_SETTLE_S = 2.0


@dataclass
class LoadResult:
    records: list[Record]
    release_ns: int
    finished_ns: int
    processes: int
    shoppers_per_process: list[int]
    pages: list[PageRecord] = field(default_factory=list)
    pages_per_process: list[int] = field(default_factory=list)
    open_s: float = 0.0  # opening the pages and the shoppers' connections, before the release
    notes: list[str] = field(default_factory=list)
    client_cpu_s: float = 0.0  # CPU time of all client processes after the release


class LoadError(RuntimeError):
    pass


def run_load(
    base_url: str | Sequence[str],
    plans: list[UserPlan],
    *,
    processes: int,
    pages: int = 0,
    page_processes: int = 0,
    concurrency: int | None = None,
    timeout_s: float = 30.0,
    page_open: bool = True,
    poll_interval_s: float = 2.0,
    progress: bool = True,
    before_release: Callable[[], None] | None = None,
    on_release: Callable[[int], None] | None = None,
    extra_s: float = 0.0,
) -> LoadResult:
    """Run `plans` over `processes` client processes, with `pages` open pages on
    `page_processes` processes of their own (0: on the shoppers' processes);
    `concurrency` caps the simultaneous shoppers (None: every shopper at once);
    `before_release` runs once every connection is open (a metrics reading);
    `on_release` is told the release instant (wall-clock ns) as soon as it is set
    (the operator's pause counts from it); `extra_s` lengthens the run's deadline
    (a pause holds shoppers back that long).
    With several URLs (hosts), each plan's `hosts` say where its shopper buys and
    open page n is on host n mod their count."""
    raise_nofile_limit()
    processes = max(1, min(processes, len(plans) or 1))
    shares: list[list[UserPlan]] = [plans[i::processes] for i in range(processes)]
    page_shares = _spread(pages, processes, page_processes)
    shares += [[] for _ in range(len(page_shares) - len(shares))]
    cap = None if concurrency is None else max(1, -(-concurrency // processes))
    urls = [base_url] if isinstance(base_url, str) else list(base_url)
    hosts = tuple(_shopper_settings(url, timeout_s, poll_interval_s) for url in urls)
    deadline_s = _deadline_s(plans, timeout_s, poll_interval_s) + max(0.0, extra_s)
    settings = ProcessSettings(hosts, page_open, deadline_s, cap)
    # Shoppers of all processes: one per plan and host it buys on.
    shoppers = sum(len(plan.hosts) for plan in plans)

    context = multiprocess.get_context("spawn")
    gate = PhaseGate(context, PHASES)
    shared = SharedProgress.create(context, len(shares))
    stop, results = context.Event(), context.Queue()
    children = []
    first_page = 0
    for index, share in enumerate(shares):
        plan_rows = [plan.to_row() for plan in share]
        its_pages = (first_page, page_shares[index])  # (first page number, how many)
        child = context.Process(
            target=client_main,
            args=(index, settings, plan_rows, its_pages, gate, shared, stop, results),
            name=f"stress-client-{index}",
            daemon=True,
        )
        first_page += page_shares[index]
        child.start()
        children.append(child)

    try:
        try:
            gate.collect(STARTED, children)
            opening = time.monotonic()
            for phase in PHASES:
                gate.step(phase, children)
            open_s = time.monotonic() - opening
        except ReleaseError as exc:
            raise LoadError(str(exc)) from None
        if before_release is not None:
            before_release()
        release_ns = gate.release(RELEASE_LEAD_S)
        if on_release is not None:
            on_release(release_ns)
        rows, page_rows, notes, cpu_s = _collect(
            children, results, shared, stop, shoppers, pages, settings.deadline_s, progress
        )
    finally:
        stop.set()
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
    records = [Record.from_row(row) for row in rows]
    records.sort(key=lambda record: record.send_ns)
    page_records = sorted((PageRecord.from_row(row) for row in page_rows), key=lambda p: p.page)
    return LoadResult(
        records=records,
        release_ns=release_ns,
        finished_ns=time.time_ns(),
        processes=len(children),
        shoppers_per_process=[len(s) for s in shares],
        pages=page_records,
        pages_per_process=page_shares,
        open_s=round(open_s, 2),
        notes=notes,
        client_cpu_s=cpu_s,
    )


def _shopper_settings(url: str, timeout_s: float, poll_interval_s: float) -> ShopperSettings:
    parts = urlsplit(url)
    return ShopperSettings(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout_s, poll_interval_s
    )


def _spread(pages: int, processes: int, page_processes: int) -> list[int]:
    """Pages per client process: over the first `processes` (the shoppers') when
    `page_processes` is 0, else over that many processes after them."""
    if pages <= 0:
        return [0] * processes
    if page_processes <= 0:
        return [pages // processes + (i < pages % processes) for i in range(processes)]
    own = [pages // page_processes + (i < pages % page_processes) for i in range(page_processes)]
    return [0] * processes + own


def _deadline_s(plans: list[UserPlan], timeout_s: float, poll_interval_s: float) -> float:
    """An upper bound on one process's run: the last arrival plus every attempt's
    timeout and longest wait (and, for prestart, the wait for the start)."""
    if not plans:
        return 1.0
    last_offset = max(plan.offset_s for plan in plans)
    attempts = max(plan.attempts for plan in plans)
    per_attempt = timeout_s + max(MAX_RETRY_WAIT_S, max(plan.gap_s for plan in plans))
    start_wait = 600.0 if any(plan.wait_for_start for plan in plans) else 0.0
    return min(last_offset + start_wait + attempts * per_attempt + poll_interval_s, 3600.0)


def _collect(
    children: list[Any],  # multiprocess Processes
    results: Any,  # multiprocess Queue: one tuple per child (stress.client.process)
    shared: SharedProgress,
    stop: Any,  # multiprocess Event
    total_users: int,
    pages: int,
    deadline_s: float,
    progress: bool,
) -> tuple[list[Row], list[Row], list[str], float]:
    bar = ProgressBar(total_users, "shoppers", enabled=progress)
    rows: list[Row] = []
    page_rows: list[Row] = []
    notes: list[str] = []
    received = 0
    cpu_s = 0.0
    started = time.monotonic()
    deadline = started + deadline_s + PAGES_SETTLE_S + RESULT_GRACE_S
    settle_until: float | None = None
    while received < len(children):
        if settle_until is None and all(shared.finished):
            settle_until = time.monotonic() + (PAGES_SETTLE_S if pages else 0.0)
        if settle_until is not None and (
            time.monotonic() >= settle_until or sum(shared.sold_out) >= sum(shared.pages)
        ):
            stop.set()  # every shopper is done; the pages saw the end or had time to
        try:
            index, part, page_part, note, child_cpu_s = results.get(timeout=0.2)
            rows.extend(part)
            page_rows.extend(page_part)
            cpu_s += child_cpu_s
            received += 1
            if note:
                notes.append(f"client {index}: {note}")
        except queue.Empty:
            if time.monotonic() > deadline:
                notes.append(f"{len(children) - received} client processes sent no results")
                break
            dead = [c for c in children if c.exitcode not in (None, 0)]
            if dead and len(dead) >= len(children) - received:
                notes.append(
                    f"{len(dead)} client processes died: {[(c.name, c.exitcode) for c in dead]}"
                )
                break
        answered = sum(shared.requests)
        elapsed = max(time.monotonic() - started, 1e-6)
        extra = f"requests {answered} ({answered / elapsed:,.0f}/s)"
        if pages:
            extra += f", pages open {sum(shared.pages)}/{pages}"
        bar.update(sum(shared.users), extra)
    bar.close(sum(shared.users), f"requests {sum(shared.requests)}")
    return rows, page_rows, notes, cpu_s
