"""The circuit breaker, one state for every worker (kept in a BreakerBoard).

Closed -> open when the allocator's replies fail (timeouts, unanswered
requests) `failure_threshold` times within `window_s`, when its heartbeat is
older than `silence_s` (dead or frozen), when the queue stays full for
`saturation_s`, or when the allocator reports that the journal cannot be
written. Open: purchases are refused at once with Retry-After, without
touching the queue. After `cooldown_s`, and once the journal can be written
again: half-open, letting `probes` purchases through; the first to succeed
closes it, a failure opens it again.

Transitions take the board's lock without waiting (its holder may be stopped,
and a worker's event loop never waits for it). When another worker holds it,
that worker is making a transition itself, and this one is skipped: a
purchase is then refused, never let through; a skipped opening or half-opening
is made by a later call; a probe's result that could not be recorded is lost
like a probe that never came back (half-open reopens after the cool-down).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flashsale.clock import iso_from_us
from flashsale.shm.breaker_board import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    PROBES_LEFT,
    REASON,
    REASONS,
    SATURATED_SINCE_NS,
    SINCE_NS,
    SINCE_US,
    STATE,
    STATE_NAMES,
    TRIPS,
    BreakerBoard,
)
from flashsale.shm.file_lock import RangeLocks

log = logging.getLogger("flashsale.breaker")

FAILURES, SILENT, SATURATED, PROBE_FAILED, JOURNAL, REDIS = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int = 20
    window_s: int = 10
    silence_s: float = 1.0
    saturation_s: float = 1.0
    cooldown_s: float = 2.0
    probes: int = 3


class Admission(Enum):
    ALLOW = "allow"
    PROBE = "probe"
    REJECT = "reject"


class CircuitBreaker:
    def __init__(
        self,
        board: BreakerBoard,
        lock: RangeLocks,
        settings: BreakerSettings,
        *,
        allocator_silence_s: Callable[[], float],
        failures_since: Callable[[float, int], int],
        store_failing: Callable[[], bool],
        store_reason: int = JOURNAL,
    ) -> None:
        """`store_failing`: the store cannot take sales: the journal, or Redis
        (`store_reason` says which, for the breaker's reason)."""
        self.words = board.words
        self.lock = lock
        self.settings = settings
        self.allocator_silence_s = allocator_silence_s
        self.failures_since = failures_since
        self.store_failing = store_failing
        self.store_reason = store_reason

    # -- the purchase path ------------------------------------------------------------
    def admit(self) -> Admission:
        state = self.words[STATE]
        if state == CLOSED:
            return Admission.ALLOW if self._allocator_can_sell() else Admission.REJECT
        if state == OPEN and (self._age_s() < self.settings.cooldown_s or self.store_failing()):
            return Admission.REJECT
        with self.lock.attempt(0) as held:
            if not held:
                return Admission.REJECT
            words = self.words
            if words[STATE] == OPEN and self._age_s() >= self.settings.cooldown_s:
                self._set(HALF_OPEN)
                log.info(
                    "circuit breaker half-open: letting %s probes through", self.settings.probes
                )
                words[PROBES_LEFT] = self.settings.probes
            if words[STATE] == HALF_OPEN:
                if words[PROBES_LEFT] > 0:
                    words[PROBES_LEFT] -= 1
                    return Admission.PROBE
                if self._age_s() >= self.settings.cooldown_s:
                    # The probes never came back (their workers died): try again later.
                    self._open(PROBE_FAILED)
            return Admission.REJECT if words[STATE] != CLOSED else Admission.ALLOW

    def record(self, admission: Admission, *, ok: bool) -> None:
        """The allocator answered (ok) or failed a purchase that `admit` let through."""
        if admission is Admission.PROBE:
            with self.lock.attempt(0) as held:
                if held and self.words[STATE] == HALF_OPEN:
                    if ok:
                        self._set(CLOSED)
                        log.warning("circuit breaker closed: a probe purchase succeeded")
                    else:
                        self._open(PROBE_FAILED)
            return
        if not ok and self.words[STATE] == CLOSED:
            since_s = self.words[SINCE_US] / 1e6
            if (
                self.failures_since(since_s, self.settings.window_s)
                >= self.settings.failure_threshold
            ):
                self._trip(FAILURES, expect=CLOSED)

    def note_queue(self, full: bool) -> None:
        """Called when a purchase finds the queue full, and once when it drains."""
        words = self.words
        if not full and words[SATURATED_SINCE_NS] == 0:
            return
        with self.lock.attempt(0) as held:
            if not held:
                return
            if not full:
                words[SATURATED_SINCE_NS] = 0
                return
            now = time.monotonic_ns()
            if words[SATURATED_SINCE_NS] == 0:
                words[SATURATED_SINCE_NS] = now
            elif (now - words[SATURATED_SINCE_NS]) / 1e9 >= self.settings.saturation_s:
                words[SATURATED_SINCE_NS] = 0
                if words[STATE] == CLOSED:
                    self._open(SATURATED)

    def retry_after_s(self) -> int:
        if self.words[STATE] == OPEN:
            return max(int(self.settings.cooldown_s - self._age_s() + 0.999), 1)
        return 1

    def _allocator_can_sell(self) -> bool:
        """False, after opening the breaker, when the allocator has been silent too long
        or cannot write its journal."""
        if self.store_failing():
            self._trip(self.store_reason, expect=CLOSED)
            return False
        if self.allocator_silence_s() <= self.settings.silence_s:
            return True
        self._trip(SILENT, expect=CLOSED)
        return False

    # -- what operators see -----------------------------------------------------------------
    # Reading applies the silence and journal rules too, so health and status never
    # show a closed breaker in front of a frozen allocator while no purchase arrives.
    def state(self) -> str:
        if self.words[STATE] == CLOSED:
            self._allocator_can_sell()
        return STATE_NAMES[self.words[STATE]]

    def as_json(self) -> dict[str, Any]:
        self.state()
        words = self.words
        since_us = words[SINCE_US]
        return {
            "state": self.state(),
            "since": iso_from_us(since_us) if since_us else None,
            "trips": words[TRIPS],
            "lastReason": REASONS.get(words[REASON]),
            "probesLeft": words[PROBES_LEFT] if words[STATE] == HALF_OPEN else 0,
        }

    # -- transitions, under the lock ----------------------------------------------------------
    def _trip(self, reason: int, *, expect: int) -> None:
        with self.lock.attempt(0) as held:
            if held and self.words[STATE] == expect:
                self._open(reason)

    def _open(self, reason: int) -> None:
        self._set(OPEN)
        self.words[TRIPS] += 1
        self.words[REASON] = reason
        log.warning("circuit breaker opened: %s", REASONS[reason])

    def _set(self, state: int) -> None:
        words = self.words
        words[SINCE_NS] = time.monotonic_ns()
        words[SINCE_US] = time.time_ns() // 1000
        words[STATE] = state

    def _age_s(self) -> float:
        return (time.monotonic_ns() - self.words[SINCE_NS]) / 1e9
