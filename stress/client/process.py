"""One client process of a flash run: its shoppers and open pages on one
uvloop event loop, released with the other processes (see stress.client.load).

Phases (stress.client.release.PhaseGate): `pages` opens this process's event streams;
`shoppers` loads the page of every shopper there from the start, which opens
its connection; then the release. Connections are opened before the instant
and in that order so that none sits idle long enough for the server's
keep-alive timeout (5 s) to close it. Records go back to the parent as tuples.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from stress.client.release import STARTED, PhaseGate
from stress.client.shopper import Shopper, ShopperSettings, sleep_until_ns
from stress.client.watcher import PageWatcher, events_request
from stress.records import Record, Row
from stress.runs import raise_nofile_limit
from stress.scenarios.plans import UserPlan

T = TypeVar("T")

PHASES = ("pages", "shoppers")
PHASE_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 3600.0
# Connections one process opens at once: more would overflow the server's
# accept backlog, and a dropped SYN comes back only after a second.
OPENING_AT_ONCE = 256


@dataclass(frozen=True, slots=True)
class ProcessSettings:
    shoppers: tuple[ShopperSettings, ...]  # one per host, in the order of the run's URLs
    page_open: bool  # load the page of every shopper present at the release, before it
    deadline_s: float  # hard bound on the shoppers' run after the release
    concurrency: int | None  # shoppers of this process active at once (None: all)


@dataclass(frozen=True, slots=True)
class SharedProgress:
    """Shared arrays; slot i of each is written only by client process i."""

    users: Any  # shoppers done
    requests: Any  # requests recorded
    pages: Any  # streams open with their first event
    sold_out: Any  # streams that showed the sale sold out
    finished: Any  # 1 once the process's shoppers are done

    @classmethod
    def create(cls, context: Any, processes: int) -> SharedProgress:
        return cls(*(context.Array("q", processes, lock=False) for _ in range(5)))


def client_main(
    index: int,
    settings: ProcessSettings,
    plan_rows: list[Row],
    pages: tuple[int, int],  # (first page number, how many)
    gate: PhaseGate,
    progress: SharedProgress,
    stop: Any,  # multiprocess Event: the parent ends the run (closes the pages)
    results: Any,  # multiprocess Queue: one (index, rows, page rows, note, cpu s) at the end
) -> None:
    """Entry point of one client process."""
    import uvloop

    raise_nofile_limit()
    uvloop.run(_run(index, settings, plan_rows, pages, gate, progress, stop, results))


async def _run(
    index: int,
    settings: ProcessSettings,
    plan_rows: list[Row],
    pages: tuple[int, int],
    gate: PhaseGate,
    progress: SharedProgress,
    stop: Any,
    results: Any,
) -> None:
    client = _ClientProcess(index, settings, plan_rows, pages, progress)
    gate.report(index, STARTED)
    if not await _wait(gate.wait, "pages", PHASE_TIMEOUT_S):
        return
    await client.open_pages()
    gate.report(index, "pages")
    if not await _wait(gate.wait, "shoppers", PHASE_TIMEOUT_S):
        return
    await client.open_shoppers_pages()
    gate.report(index, "shoppers")
    release_ns = await _wait(gate.release_ns, PHASE_TIMEOUT_S)
    if release_ns is None:
        return
    note = await client.shop(release_ns)
    progress.finished[index] = 1
    if client.watchers:
        await _wait(stop.wait, STOP_TIMEOUT_S)
        client.close_pages()
    results.put(client.result(note))


class _ClientProcess:
    """This process's shoppers and pages, and what they recorded."""

    def __init__(
        self,
        index: int,
        settings: ProcessSettings,
        plan_rows: list[Row],
        pages: tuple[int, int],
        progress: SharedProgress,
    ) -> None:
        self.index, self.settings, self.progress = index, settings, progress
        hosts = settings.shoppers
        self.records: list[Record] = []
        plans = [UserPlan.from_row(row) for row in plan_rows]
        # A shopper on two hosts at once is two Shoppers of one plan (stress.scenarios.hosts).
        self.shoppers = [
            Shopper(plan, hosts[host], self._on_record, host)
            for plan in plans
            for host in plan.hosts
        ]
        first_page, count = pages
        self.watchers = [_watcher(first_page + n, hosts, self._on_sold_out) for n in range(count)]
        # Shoppers there at the release: their page is open, their first Buy is fired.
        self.early = [shopper for shopper in self.shoppers if _opens_early(shopper, settings)]
        self.cpu_at_release_s = 0.0

    def _on_record(self, record: Record) -> None:
        self.records.append(record)
        self.progress.requests[self.index] += 1

    def _on_sold_out(self) -> None:
        self.progress.sold_out[self.index] += 1

    async def open_pages(self) -> None:
        timeout_s = self.settings.shoppers[0].timeout_s
        await _bounded(watcher.open(timeout_s) for watcher in self.watchers)
        self.progress.pages[self.index] = sum(w.record.connected for w in self.watchers)

    async def open_shoppers_pages(self) -> None:
        await _bounded(shopper.open_page() for shopper in self.early)

    async def shop(self, release_ns: int) -> str:
        """Run every shopper from the release; a note when some did not finish."""
        released = asyncio.Event()
        settings = self.settings
        hard_stop_ns = release_ns + int(settings.deadline_s * 1e9)
        limit = asyncio.Semaphore(settings.concurrency) if settings.concurrency else None
        tasks = [
            asyncio.create_task(self._shop(shopper, released, release_ns, hard_stop_ns, limit))
            for shopper in self.shoppers
        ]
        # A collection over every shopper's objects would stall the sends for
        # milliseconds; a bounded run frees its garbage by reference counting.
        gc.freeze()
        gc.disable()
        try:
            await sleep_until_ns(release_ns)
            self.cpu_at_release_s = _cpu_s()
            for shopper in self.early:
                shopper.fire()
            released.set()
            if not tasks:
                return ""
            _, stuck = await asyncio.wait(tasks, timeout=settings.deadline_s + 5.0)
        finally:
            gc.enable()
        for task in stuck:
            task.cancel()
        return f"{len(stuck)} shoppers still running at the deadline" if stuck else ""

    async def _shop(
        self,
        shopper: Shopper,
        released: asyncio.Event,
        release_ns: int,
        hard_stop_ns: int,
        limit: asyncio.Semaphore | None,
    ) -> None:
        await released.wait()
        if shopper.plan.offset_s:
            await sleep_until_ns(release_ns + int(shopper.plan.offset_s * 1e9))
        async with limit or contextlib.nullcontext():
            await shopper.run(hard_stop_ns)
        self.progress.users[self.index] += 1

    def close_pages(self) -> None:
        for watcher in self.watchers:
            watcher.finish()

    def result(self, note: str) -> tuple[int, list[Row], list[Row], str, float]:
        return (
            self.index,
            [record.to_row() for record in self.records],
            [watcher.record.to_row() for watcher in self.watchers],
            note,
            _cpu_s() - self.cpu_at_release_s,
        )


def _watcher(
    page: int, hosts: tuple[ShopperSettings, ...], on_sold_out: Callable[[], None]
) -> PageWatcher:
    """Open page number `page`, on host `page` mod the hosts (one host: all on it)."""
    host = hosts[page % len(hosts)]
    return PageWatcher(page, host.host, host.port, events_request(host.host), on_sold_out)


def _opens_early(shopper: Shopper, settings: ProcessSettings) -> bool:
    """A shopper there at the release has its page open; later arrivals open
    their connection with their first request, and a capped run keeps to its cap."""
    return settings.page_open and not shopper.plan.offset_s and settings.concurrency is None


async def _bounded(openings: Iterable[Awaitable[None]]) -> None:
    limit = asyncio.Semaphore(OPENING_AT_ONCE)

    async def one(opening: Awaitable[None]) -> None:
        async with limit:
            await opening

    await asyncio.gather(*(one(opening) for opening in openings))


async def _wait(blocking: Callable[..., T], *args: Any) -> T:
    """A blocking wait on the parent (a multiprocess Event) off the loop, so the
    streams already open keep being read meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(None, blocking, *args)


def _cpu_s() -> float:
    """CPU seconds this process used so far; the run reports the part after the
    release, which shows when the client rather than the server was the bottleneck."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
