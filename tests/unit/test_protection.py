"""The breaker and the rate limiter on real shared memory and real fcntl locks."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time

import pytest

from flashsale.breaker import Admission, BreakerSettings, CircuitBreaker
from flashsale.ratelimit import RateLimiter
from flashsale.shm.breaker_board import BreakerBoard
from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import NUM_STRIPES, RateTable

FORK = multiprocessing.get_context("fork")


class Allocator:
    """The two readings the breaker takes of the allocator, set by the test."""

    def __init__(self) -> None:
        self.silence_s = 0.0
        self.failures = 0
        self.store_failing = False

    def failures_since(self, since_s: float, window_s: int) -> int:
        return self.failures


@pytest.fixture
def allocator():
    return Allocator()


@pytest.fixture
def breaker(tmp_path, allocator):
    return CircuitBreaker(
        BreakerBoard(),
        RangeLocks(tmp_path / "breaker.lock", 1),
        BreakerSettings(failure_threshold=3, cooldown_s=0.05, probes=2, silence_s=0.5),
        allocator_silence_s=lambda: allocator.silence_s,
        failures_since=allocator.failures_since,
        store_failing=lambda: allocator.store_failing,
    )


def test_failures_over_the_threshold_open_it(breaker, allocator):
    allocator.failures = 2
    breaker.record(Admission.ALLOW, ok=False)
    assert breaker.state() == "closed"
    allocator.failures = 3
    breaker.record(Admission.ALLOW, ok=False)
    assert breaker.state() == "open"
    assert breaker.admit() is Admission.REJECT
    assert breaker.as_json()["trips"] == 1
    assert breaker.as_json()["lastReason"] == "reply failures"


def test_after_the_cool_down_a_probe_success_closes_it(breaker, allocator):
    allocator.silence_s = 1.0
    assert breaker.admit() is Admission.REJECT
    assert breaker.state() == "open"
    allocator.silence_s = 0.0
    time.sleep(0.06)
    probes = [breaker.admit() for _ in range(3)]
    assert probes == [Admission.PROBE, Admission.PROBE, Admission.REJECT]
    assert breaker.state() == "half_open"
    breaker.record(Admission.PROBE, ok=True)
    assert breaker.state() == "closed"
    assert breaker.admit() is Admission.ALLOW


def test_a_probe_failure_opens_it_again(breaker, allocator):
    allocator.silence_s = 1.0
    breaker.admit()
    allocator.silence_s = 0.0
    time.sleep(0.06)
    assert breaker.admit() is Admission.PROBE
    breaker.record(Admission.PROBE, ok=False)
    assert breaker.state() == "open"
    assert breaker.as_json()["trips"] == 2
    assert breaker.retry_after_s() >= 1


def test_a_journal_that_cannot_be_written_keeps_it_open_until_it_can(breaker, allocator):
    allocator.store_failing = True
    assert breaker.admit() is Admission.REJECT
    assert breaker.as_json()["lastReason"] == "journal cannot be written"
    time.sleep(0.06)  # past the cool-down, but the journal still fails: no probes
    assert [breaker.admit() for _ in range(3)] == [Admission.REJECT] * 3
    assert breaker.state() == "open"
    assert breaker.retry_after_s() >= 1
    allocator.store_failing = False
    assert breaker.admit() is Admission.PROBE
    breaker.record(Admission.PROBE, ok=True)
    assert breaker.state() == "closed"


def test_a_queue_full_for_the_saturation_time_opens_it(tmp_path, allocator):
    breaker = CircuitBreaker(
        BreakerBoard(),
        RangeLocks(tmp_path / "b.lock", 1),
        BreakerSettings(saturation_s=0.1),
        allocator_silence_s=lambda: 0.0,
        failures_since=allocator.failures_since,
        store_failing=lambda: False,
    )
    breaker.note_queue(True)
    breaker.note_queue(False)  # drained: the clock starts again
    breaker.note_queue(True)
    assert breaker.state() == "closed"
    time.sleep(0.12)
    breaker.note_queue(True)
    assert breaker.state() == "open"


@pytest.fixture
def limiter(tmp_path):
    return RateLimiter(RateTable(1024), RangeLocks(tmp_path / "rates.lock", NUM_STRIPES))


def hit(limiter: RateLimiter, key: str, *, limit: int, window_s: int, now_s: int):
    return asyncio.run(limiter.hit(key, limit=limit, window_s=window_s, now_s=now_s))


def test_exactly_the_limit_per_window_then_a_fresh_window(limiter):
    answers = [hit(limiter, "user:a", limit=3, window_s=60, now_s=1000) for _ in range(5)]
    assert [a.allowed for a in answers] == [True, True, True, False, False]
    assert [a.remaining for a in answers] == [2, 1, 0, 0, 0]
    assert answers[-1].reset_s == 60
    assert hit(limiter, "user:a", limit=3, window_s=60, now_s=1059).reset_s == 1
    assert hit(limiter, "user:a", limit=3, window_s=60, now_s=1060).allowed


def test_keys_do_not_limit_each_other(limiter):
    async def everyone_once() -> list[bool]:
        return [
            (await limiter.hit(f"user:{n}", limit=1, window_s=60, now_s=5)).allowed
            for n in range(500)
        ]

    assert all(asyncio.run(everyone_once()))


def _hold_range_until_killed(path, index: int, holding) -> None:
    locks = RangeLocks(path, 4)
    assert locks.try_lock(index)
    holding.set()
    while True:
        signal.pause()


def _holder(path, index: int):
    """A process holding range `index` until it is killed (no Event to set
    afterwards: setting one whose waiter was killed blocks for ever)."""
    holding = FORK.Event()
    holder = FORK.Process(target=_hold_range_until_killed, args=(path, index, holding))
    holder.start()
    assert holding.wait(30)
    return holder


def test_range_locks_exclude_other_processes_and_die_with_their_holder(tmp_path):
    path = tmp_path / "ranges.lock"
    locks = RangeLocks(path, 4)
    holder = _holder(path, 2)
    try:
        assert not locks.try_lock(2)  # held by the other process
        assert locks.try_lock(3)  # another range is free
        locks.unlock(3)
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(30)
        assert locks.try_lock(2)  # the kernel released the dead holder's range
        locks.unlock(2)
    finally:
        holder.kill()
        holder.join(30)


def test_a_stopped_holder_makes_a_waiter_give_up_at_its_deadline(tmp_path):
    # The holder is frozen (as by SIGSTOP): the waiter's event loop keeps
    # running and the wait ends at its deadline, never in the kernel.
    path = tmp_path / "ranges.lock"
    locks = RangeLocks(path, 4)
    holder = _holder(path, 1)
    try:
        os.kill(holder.pid, signal.SIGSTOP)

        async def wait_while_the_loop_ticks() -> tuple[bool, int, float]:
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.create_task(tick())
            started = time.monotonic()
            got = await locks.lock(1, timeout_s=0.3)
            ticker.cancel()
            return got, ticks, time.monotonic() - started

        got, ticks, waited_s = asyncio.run(wait_while_the_loop_ticks())
        assert not got
        assert 0.3 <= waited_s < 5
        assert ticks >= 5  # the loop ran other work meanwhile
        with locks.attempt(1) as held:
            assert not held
    finally:
        holder.kill()
        holder.join(30)
    assert asyncio.run(locks.lock(1, timeout_s=1))  # released with its holder
    locks.unlock(1)
