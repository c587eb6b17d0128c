"""The webhook sender: its own process, supervised by the master like the allocator,
never in the decision path.

It reads the outbox (source.py: the journal's table through a read-only connection,
or the Redis engine's stream), delivers each event (delivery.py) on a bounded pool
of threads in the order `Schedule` allows, and records each finished event in its
durable progress (its own file beside the journal, or keys in Redis) as the answer
comes. A kill -9 of the sender, the allocator or the whole server loses nothing:
the outbox is durable with the decisions, and a new sender starts again after the
last finished event, sending again at most the deliveries that were in flight.
At least once: receivers dedupe on `webhook-id`. With Redis, every host runs a
sender and the one holding the lease delivers; the others wait for it to lapse.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from flashsale.shm.webhook_board import WebhookBoard
from flashsale.webhooks.delivery import Deliverer, Result
from flashsale.webhooks.outbox import OutboxReader, OutboxRow
from flashsale.webhooks.progress import Progress, progress_path
from flashsale.webhooks.schedule import Schedule
from flashsale.webhooks.source import OutboxSource, OutboxUnavailable, SenderProgress

log = logging.getLogger("flashsale.webhooks")

# How often the outbox is read for new events when nothing else wakes the loop:
# a delivery starts at most this long after its decision was committed.
POLL_S = 0.05
# Events read from the outbox and not finished, at most (a receiver down for a day
# keeps a bounded part of the backlog in memory; the rest waits in the outbox).
WINDOW = 10_000
PAGE = 500
PUBLISH_S = 0.25
# Below the workers and the allocator: on a busy host a delivery waits, a purchase does not.
NICENESS = 10
# Finished events older than the max age leave the outbox this often (a Redis stream; the
# journal's table is the allocator's to write).
PRUNE_S = 60.0
# A sender that does not lead (another host's holds the lease) looks again this often.
FOLLOW_S = 0.25


@dataclass(frozen=True)
class SenderSettings:
    db_path: Path
    url: str
    secret: str
    timeout_s: float
    max_age_s: int
    concurrency: int


OpenOutbox = Callable[[], tuple[OutboxSource, SenderProgress]]


def sqlite_outbox(db_path: Path) -> OpenOutbox:
    """The journal's outbox and the sender's progress file beside it."""
    return lambda: (OutboxReader(db_path), Progress(progress_path(db_path)))


class WebhookSender:
    def __init__(
        self, settings: SenderSettings, board: WebhookBoard, open_outbox: OpenOutbox | None = None
    ) -> None:
        self.settings = settings
        self.board = board
        self._open_outbox = open_outbox or sqlite_outbox(settings.db_path)
        self._stop = threading.Event()
        # (term, row, result): a result of an earlier term is stale (see SenderProgress.term).
        self._results: queue.SimpleQueue[tuple[int, OutboxRow, Result]] = queue.SimpleQueue()

    def run(self, parent_pid: int | None = None) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master decides when we stop
        os.nice(NICENESS)
        pid = os.getpid()
        self.board.announce(pid)
        settings = self.settings
        reader, progress = self._open_outbox()
        deliverer = Deliverer(settings.url, settings.secret, settings.timeout_s)
        pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="webhook")
        self.board.mark_ready(pid)
        log.info("webhook sender %s ready: delivering to %s", pid, settings.url)
        turn: _Turn | None = None
        unavailable = False
        try:
            while not self._stop.is_set():
                try:
                    if progress.leading():
                        if turn is None or turn.term != progress.term:
                            turn = _Turn(self, progress, reader, deliverer, pool)
                        turn.once()
                    else:
                        turn = None
                        self._follow(reader)
                    unavailable = False
                except OutboxUnavailable as exc:
                    if not unavailable:
                        log.warning("webhook sender %s: %s; trying again", pid, exc)
                    unavailable = True
                    self.board.beat()  # alive, waiting for its outbox
                    self._stop.wait(FOLLOW_S)
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("webhook sender %s: master is gone, exiting", pid)
                    break
        finally:
            # In-flight deliveries are not waited for: they are sent again by the next sender.
            pool.shutdown(wait=False, cancel_futures=True)
            reader.close()
            progress.close()

    def _follow(self, reader: OutboxSource) -> None:
        """Another host's sender delivers: show the shared backlog, drop stale answers."""
        self.board.beat()
        backlog, oldest = reader.backlog_after(0, 0)
        self.board.publish(backlog=backlog, oldest_at_us=oldest, retrying=0)
        while True:
            try:
                self._results.get_nowait()
            except queue.Empty:
                break
        self._stop.wait(FOLLOW_S)

    def _deliver(self, deliverer: Deliverer, row: OutboxRow, term: int) -> None:
        try:
            result = deliverer.deliver(row)
        except Exception as exc:  # a bug must not lose the event: it is tried again
            log.exception("webhook delivery of %s failed unexpectedly", row.event_id)
            result = Result(False, f"{type(exc).__name__}: {exc}")
        self._results.put((term, row, result))


class _Turn:
    """One turn of the loop: read new events, start what is due, wait, record answers."""

    def __init__(
        self,
        sender: WebhookSender,
        progress: SenderProgress,
        reader: OutboxSource,
        deliverer: Deliverer,
        pool: ThreadPoolExecutor,
    ) -> None:
        settings = sender.settings
        self.sender = sender
        self.progress = progress
        self.reader = reader
        self.schedule = Schedule(
            max_age_us=settings.max_age_s * 1_000_000,
            concurrency=settings.concurrency,
            retries=progress.retries(),
        )
        self.deliverer = deliverer
        self.pool = pool
        self.term = progress.term
        self.read_seq = progress.through_seq
        self._published_at = 0.0
        self._pruned_at = float("-inf")
        log.info("webhook sender: delivering after event %s", self.read_seq)

    def once(self) -> None:
        self.sender.board.beat()
        self._read()
        now_us = time.time_ns() // 1000
        for row in self.schedule.due(now_us):
            self.pool.submit(self.sender._deliver, self.deliverer, row, self.term)
        self._publish()
        self._prune(now_us)
        self._wait(now_us)

    def _read(self) -> None:
        schedule = self.schedule
        room = WINDOW - schedule.loaded
        while room > 0:
            rows = self.reader.after(self.read_seq, min(PAGE, room))
            for row in rows:
                self.read_seq = row.seq
                if not self.progress.is_finished(row.seq):
                    schedule.add(row)
                    room -= 1
            if len(rows) < PAGE:
                return

    def _wait(self, now_us: int) -> None:
        timeout_s = POLL_S
        due_us = self.schedule.next_due_us()
        if due_us is not None:
            timeout_s = min(timeout_s, max(due_us - now_us, 0) / 1e6)
        try:
            answer = self.sender._results.get(timeout=timeout_s)
        except queue.Empty:
            return
        self._record(*answer)
        while True:
            try:
                answer = self.sender._results.get_nowait()
            except queue.Empty:
                return
            self._record(*answer)

    def _record(self, term: int, row: OutboxRow, result: Result) -> None:
        if term != self.term:
            return  # sent under an earlier lease: this term reads and sends it again
        board = self.sender.board
        if result.ok:
            self.progress.delivered(row.seq)
            self.schedule.succeeded(row)
            board.count(delivered=1)
            return
        now_us = time.time_ns() // 1000
        failure = self.schedule.failed(row, now_us)
        if failure.next_at_us is None:
            self.progress.gave_up(
                row.seq,
                row.event_id,
                row.type,
                row.order_id,
                failure.attempts,
                result.error,
                now_us,
            )
            board.count(failed=1, gave_up=1)
            log.error(
                "webhook %s (%s) given up after %s tries: %s",
                row.event_id,
                row.type,
                failure.attempts,
                result.error,
            )
            return
        self.progress.failed(row.seq, failure.attempts, failure.next_at_us, result.error)
        board.count(failed=1)
        if failure.attempts == 1:
            log.warning(
                "webhook %s (%s) failed, trying again: %s", row.event_id, row.type, result.error
            )

    def _publish(self) -> None:
        now_s = time.monotonic()
        if now_s - self._published_at < PUBLISH_S:
            return
        self._published_at = now_s
        backlog, unread_oldest = self.reader.backlog_after(self.read_seq, self.schedule.loaded)
        oldest = self.schedule.oldest_at_us()
        self.sender.board.publish(
            backlog=backlog,
            oldest_at_us=oldest if oldest is not None else unread_oldest,
            retrying=self.schedule.retrying(),
        )

    def _prune(self, now_us: int) -> None:
        now_s = time.monotonic()
        if now_s - self._pruned_at < PRUNE_S:
            return
        self._pruned_at = now_s
        max_age_us = self.sender.settings.max_age_s * 1_000_000
        self.reader.prune(self.progress.through_seq, now_us - max_age_us)
