"""The webhook sender's liveness and figures, for health and the metrics.

Layout (int64 words):

  word  field               written by
  0     pid                 the sender, as it starts
  1     ready_pid           the sender, once it has read its progress
  2     heartbeat_ns        the sender, each turn of its loop (CLOCK_MONOTONIC)
  3     restarts            the master's supervisor thread
  4     backlog             the sender: events not yet delivered nor given up
  5     delivered           the sender: events delivered (a 2xx), since the server started
  6     failed              the sender: deliveries that failed (to be tried again)
  7     gave_up             the sender: events given up after the max age
  8     oldest_at_us        the sender: when the oldest undelivered event happened (0: none)
  9     retrying            the sender: events waiting for their next try

One writer per word; each word is read on its own (a figure one turn older than
its neighbour is fine for a gauge). The master's mapping outlives any sender, so
the counters go on across a sender's restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flashsale.shm.segment import Words

(
    _PID,
    _READY_PID,
    _HEARTBEAT,
    _RESTARTS,
    _BACKLOG,
    _DELIVERED,
    _FAILED,
    _GAVE_UP,
    _OLDEST,
    _RETRYING,
    _WORDS,
) = range(11)


@dataclass(frozen=True)
class SenderFigures:
    pid: int
    ready: bool
    heartbeat_age_s: float
    restarts: int
    backlog: int
    delivered: int
    failed: int
    gave_up: int
    oldest_at_us: int | None
    retrying: int

    def alive(self, stale_after_s: float) -> bool:
        return self.ready and self.heartbeat_age_s < stale_after_s

    def oldest_age_s(self, now_us: int) -> float:
        return 0.0 if self.oldest_at_us is None else max(now_us - self.oldest_at_us, 0) / 1e6


class WebhookBoard:
    def __init__(self) -> None:
        self._words = Words(_WORDS)

    # -- the sender's side ----------------------------------------------------
    def announce(self, pid: int) -> None:
        self._words[_PID] = pid
        self.beat()

    def mark_ready(self, pid: int) -> None:
        self._words[_READY_PID] = pid

    def was_ready(self, pid: int) -> bool:
        return self._words[_READY_PID] == pid

    def beat(self) -> None:
        self._words[_HEARTBEAT] = time.monotonic_ns()

    def publish(self, *, backlog: int, oldest_at_us: int | None, retrying: int) -> None:
        words = self._words
        words[_BACKLOG] = backlog
        words[_OLDEST] = oldest_at_us or 0
        words[_RETRYING] = retrying

    def count(self, *, delivered: int = 0, failed: int = 0, gave_up: int = 0) -> None:
        words = self._words
        words[_DELIVERED] += delivered
        words[_FAILED] += failed
        words[_GAVE_UP] += gave_up

    # -- the master's side ----------------------------------------------------
    def count_restart(self) -> None:
        self._words[_RESTARTS] += 1

    # -- every reader ---------------------------------------------------------
    def figures(self) -> SenderFigures:
        words = self._words
        pid = words[_PID]
        return SenderFigures(
            pid=pid,
            ready=pid != 0 and words[_READY_PID] == pid,
            heartbeat_age_s=(time.monotonic_ns() - words[_HEARTBEAT]) / 1e9,
            restarts=words[_RESTARTS],
            backlog=words[_BACKLOG],
            delivered=words[_DELIVERED],
            failed=words[_FAILED],
            gave_up=words[_GAVE_UP],
            oldest_at_us=words[_OLDEST] or None,
            retrying=words[_RETRYING],
        )
