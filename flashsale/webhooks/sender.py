"""The webhook sender: its own process, supervised by the master like the allocator,
never in the decision path.

It reads the journal's outbox through a read-only connection, delivers each event
(delivery.py) on a bounded pool of threads in the order `Schedule` allows, and
records each finished event in its own progress file (progress.py) as the answer
comes. A kill -9 of the sender, the allocator or the whole server loses nothing:
the outbox is durable with the decisions, and a new sender starts again after the
last finished event, sending again at most the deliveries that were in flight.
At least once: receivers dedupe on `webhook-id`.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from flashsale.shm.webhook_board import WebhookBoard
from flashsale.webhooks.delivery import Deliverer, Result
from flashsale.webhooks.outbox import OutboxReader, OutboxRow
from flashsale.webhooks.progress import Progress, progress_path
from flashsale.webhooks.schedule import Schedule

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


@dataclass(frozen=True)
class SenderSettings:
    db_path: Path
    url: str
    secret: str
    timeout_s: float
    max_age_s: int
    concurrency: int


class WebhookSender:
    def __init__(self, settings: SenderSettings, board: WebhookBoard) -> None:
        self.settings = settings
        self.board = board
        self._stop = threading.Event()
        self._results: queue.SimpleQueue[tuple[OutboxRow, Result]] = queue.SimpleQueue()

    def run(self, parent_pid: int | None = None) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master decides when we stop
        os.nice(NICENESS)
        pid = os.getpid()
        self.board.announce(pid)
        settings = self.settings
        progress = Progress(progress_path(settings.db_path))
        reader = OutboxReader(settings.db_path)
        schedule = Schedule(
            max_age_us=settings.max_age_s * 1_000_000,
            concurrency=settings.concurrency,
            retries=progress.retries(),
        )
        deliverer = Deliverer(settings.url, settings.secret, settings.timeout_s)
        pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="webhook")
        self.board.mark_ready(pid)
        log.info(
            "webhook sender %s ready: delivering to %s after event %s",
            pid,
            settings.url,
            progress.through_seq,
        )
        turn = _Turn(self, progress, reader, schedule, deliverer, pool)
        try:
            while not self._stop.is_set():
                turn.once()
                if parent_pid is not None and os.getppid() != parent_pid:
                    log.warning("webhook sender %s: master is gone, exiting", pid)
                    break
        finally:
            # In-flight deliveries are not waited for: they are sent again by the next sender.
            pool.shutdown(wait=False, cancel_futures=True)
            reader.close()
            progress.close()

    def _deliver(self, deliverer: Deliverer, row: OutboxRow) -> None:
        try:
            result = deliverer.deliver(row)
        except Exception as exc:  # a bug must not lose the event: it is tried again
            log.exception("webhook delivery of %s failed unexpectedly", row.event_id)
            result = Result(False, f"{type(exc).__name__}: {exc}")
        self._results.put((row, result))


class _Turn:
    """One turn of the loop: read new events, start what is due, wait, record answers."""

    def __init__(
        self,
        sender: WebhookSender,
        progress: Progress,
        reader: OutboxReader,
        schedule: Schedule,
        deliverer: Deliverer,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.sender = sender
        self.progress = progress
        self.reader = reader
        self.schedule = schedule
        self.deliverer = deliverer
        self.pool = pool
        self.read_seq = progress.through_seq
        self._published_at = 0.0

    def once(self) -> None:
        self.sender.board.beat()
        self._read()
        now_us = time.time_ns() // 1000
        for row in self.schedule.due(now_us):
            self.pool.submit(self.sender._deliver, self.deliverer, row)
        self._publish()
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

    def _record(self, row: OutboxRow, result: Result) -> None:
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
        unread, unread_oldest = self.reader.count_after(self.read_seq)
        oldest = self.schedule.oldest_at_us()
        self.sender.board.publish(
            backlog=self.schedule.loaded + unread,
            oldest_at_us=oldest if oldest is not None else unread_oldest,
            retrying=self.schedule.retrying(),
        )
