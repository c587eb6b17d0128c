"""Parent side of a load run: spread plans over client processes (the
`multiprocess` package), release them at one instant, show progress and gather
the records.

Release protocol: each client process starts its shopper threads (each opens its
connection first when warm-up is on), reports ready on a queue, and waits on an
event. Once all are ready the parent writes a wall-clock release time 300 ms
ahead into shared memory and sets the event; every process sleeps until that
instant and opens its gate, so the first requests of all processes leave within
about a millisecond of each other (then the GIL and the two cores decide).
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field

import multiprocess

from stress.common import Record, raise_nofile_limit
from stress.progress import ProgressBar
from stress.scenarios import MAX_RETRY_WAIT_S, UserPlan
from stress.shopper import ClientSettings, client_main

RELEASE_LEAD_S = 0.3
READY_TIMEOUT_S = 300.0
RESULT_GRACE_S = 30.0


@dataclass
class LoadResult:
    records: list[Record]
    release_ns: int
    finished_ns: int
    processes: int
    threads_per_process: list[int]
    notes: list[str] = field(default_factory=list)
    client_cpu_s: float = 0.0  # CPU time of all client processes after the release


class LoadError(RuntimeError):
    pass


def run_load(
    base_url: str,
    plans: list[UserPlan],
    *,
    processes: int,
    concurrency: int | None = None,
    timeout_s: float = 30.0,
    warmup: bool = False,
    poll_interval_s: float = 2.0,
    progress: bool = True,
) -> LoadResult:
    """Run `plans` over `processes` client processes; `concurrency` caps the
    simultaneous shoppers (None: every shopper at once)."""
    raise_nofile_limit()
    processes = max(1, min(processes, len(plans) or 1))
    shares: list[list[UserPlan]] = [plans[i::processes] for i in range(processes)]
    per_process_cap = None if concurrency is None else max(1, -(-concurrency // processes))
    threads = [
        len(share) if per_process_cap is None else min(len(share), per_process_cap)
        for share in shares
    ]
    deadline_s = _deadline_s(plans, timeout_s, poll_interval_s)

    context = multiprocess.get_context("spawn")
    ready_queue = context.Queue()
    result_queue = context.Queue()
    go_event = context.Event()
    release_value = context.Value("q", 0, lock=False)  # written once, before go_event is set
    users_done = context.Array("q", processes, lock=False)  # slot i written only by process i
    requests_done = context.Array("q", processes, lock=False)

    children = []
    for index, share in enumerate(shares):
        settings = ClientSettings(
            base_url.rstrip("/"),
            max(1, threads[index]),
            timeout_s,
            warmup,
            poll_interval_s,
            deadline_s,
        )
        child = context.Process(
            target=client_main,
            args=(
                index,
                settings,
                [plan.to_row() for plan in share],
                ready_queue,
                go_event,
                release_value,
                users_done,
                requests_done,
                result_queue,
            ),
            name=f"stress-client-{index}",
            daemon=True,
        )
        child.start()
        children.append(child)

    try:
        _wait_ready(ready_queue, children)
        release_ns = time.time_ns() + int(RELEASE_LEAD_S * 1e9)
        release_value.value = release_ns
        go_event.set()
        rows, notes, cpu_s = _collect(
            children, result_queue, users_done, requests_done, len(plans), deadline_s, progress
        )
    finally:
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
    records = [Record.from_row(row) for row in rows]
    records.sort(key=lambda record: record.send_ns)
    return LoadResult(records, release_ns, time.time_ns(), processes, threads, notes, cpu_s)


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


def _wait_ready(ready_queue, children) -> None:
    pending = len(children)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending:
        if time.monotonic() > deadline:
            raise LoadError(f"{pending} client processes not ready after {READY_TIMEOUT_S}s")
        try:
            ready_queue.get(timeout=0.5)
            pending -= 1
        except queue.Empty:
            dead = [child.name for child in children if child.exitcode not in (None, 0)]
            if dead:
                raise LoadError(f"client processes died before the release: {dead}") from None


def _collect(
    children, result_queue, users_done, requests_done, total_users, deadline_s, progress
) -> tuple[list[tuple], list[str], float]:
    bar = ProgressBar(total_users, "shoppers", enabled=progress)
    rows: list[tuple] = []
    notes: list[str] = []
    received = 0
    cpu_s = 0.0
    started = time.monotonic()
    deadline = started + deadline_s + RESULT_GRACE_S
    while received < len(children):
        try:
            index, part, note, child_cpu_s = result_queue.get(timeout=0.2)
            rows.extend(part)
            cpu_s += child_cpu_s
            received += 1
            if note:
                notes.append(f"client {index}: {note}")
        except queue.Empty:
            if time.monotonic() > deadline:
                notes.append(f"{len(children) - received} client processes sent no results")
                break
            if any(child.exitcode not in (None, 0) for child in children):
                lost = len(children) - received
                dead = [c for c in children if c.exitcode not in (None, 0)]
                if len(dead) >= lost:
                    notes.append(
                        f"{len(dead)} client processes died: {[(c.name, c.exitcode) for c in dead]}"
                    )
                    break
        done = sum(users_done)
        answered = sum(requests_done)
        elapsed = max(time.monotonic() - started, 1e-6)
        bar.update(done, f"requests {answered} ({answered / elapsed:,.0f}/s)")
    bar.close(sum(users_done), f"requests {sum(requests_done)}")
    return rows, notes, cpu_s
