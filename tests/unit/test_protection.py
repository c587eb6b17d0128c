"""The breaker and the rate limiter on real shared memory and real fcntl locks."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import threading
import time

import pytest

from flashsale.breaker import Admission, BreakerSettings, CircuitBreaker
from flashsale.ratelimit import RateLimiter
from flashsale.shm.breaker_board import BreakerBoard
from flashsale.shm.file_lock import RangeLocks, _flock
from flashsale.shm.rate_table import BUCKET_SLOTS, NUM_STRIPES, RateTable

FORK = multiprocessing.get_context("fork")


class Allocator:
    """The two readings the breaker takes of the allocator, set by the test."""

    def __init__(self) -> None:
        self.silence_s = 0.0
        self.failures = 0

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


def test_a_queue_full_for_the_saturation_time_opens_it(tmp_path, allocator):
    breaker = CircuitBreaker(
        BreakerBoard(), RangeLocks(tmp_path / "b.lock", 1), BreakerSettings(saturation_s=0.1),
        allocator_silence_s=lambda: 0.0, failures_since=allocator.failures_since,
    )  # fmt: skip
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


def test_exactly_the_limit_per_window_then_a_fresh_window(limiter):
    answers = [limiter.hit("user:a", limit=3, window_s=60, now_s=1000) for _ in range(5)]
    assert [a.allowed for a in answers] == [True, True, True, False, False]
    assert [a.remaining for a in answers] == [2, 1, 0, 0, 0]
    assert answers[-1].reset_s == 60
    assert limiter.hit("user:a", limit=3, window_s=60, now_s=1059).reset_s == 1
    assert limiter.hit("user:a", limit=3, window_s=60, now_s=1060).allowed


def test_keys_do_not_limit_each_other(limiter):
    for n in range(500):
        assert limiter.hit(f"user:{n}", limit=1, window_s=60, now_s=5).allowed


def test_a_full_bucket_evicts_the_oldest_window_and_memory_stays_fixed(tmp_path):
    table = RateTable(BUCKET_SLOTS)  # one bucket: every key collides
    limiter = RateLimiter(table, RangeLocks(tmp_path / "rates.lock", NUM_STRIPES))
    size = table.words.count
    for n in range(BUCKET_SLOTS):
        limiter.hit(f"k{n}", limit=1, window_s=60, now_s=100 + n)
    assert not limiter.hit("k3", limit=1, window_s=60, now_s=120).allowed
    assert limiter.hit("newcomer", limit=1, window_s=60, now_s=120).allowed  # k0 evicted
    assert limiter.hit("k0", limit=1, window_s=60, now_s=121).allowed  # k0 starts over
    assert table.words.count == size


def test_range_locks_exclude_other_processes_and_die_with_their_holder(tmp_path):
    locks = RangeLocks(tmp_path / "ranges.lock", 4)
    holding, release = FORK.Event(), FORK.Event()

    def hold_then_wait() -> None:
        with locks.hold(2):
            holding.set()
            release.wait(30)

    holder = FORK.Process(target=hold_then_wait)
    holder.start()
    assert holding.wait(30)
    fd = os.open(tmp_path / "ranges.lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):  # range 2 is held by the other process
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_WRLCK, 2))
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_WRLCK, 3))  # another range is free
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_UNLCK, 3))
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(30)
        with locks.hold(2):  # the kernel released the dead holder's range
            pass
    finally:
        os.close(fd)


def test_threads_taking_a_range_at_once_at_first_use_release_it(tmp_path, monkeypatch):
    # The descriptor is opened lazily; threads racing to open it must end up
    # locking and unlocking through one descriptor, or a range stays held.
    # A slow open() holds the race window open.
    real_open = os.open

    def slow_open(*args, **kwargs):
        time.sleep(0.01)
        return real_open(*args, **kwargs)

    monkeypatch.setattr("flashsale.shm.file_lock.os.open", slow_open)
    locks = RangeLocks(tmp_path / "ranges.lock", 16)
    start = threading.Barrier(16)

    def take(index: int) -> None:
        start.wait(30)
        with locks.hold(index):
            pass

    threads = [threading.Thread(target=take, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    fd = os.open(tmp_path / "ranges.lock", os.O_RDWR)
    try:
        for index in range(16):  # raises BlockingIOError if a range is still held
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_WRLCK, index))
    finally:
        os.close(fd)
