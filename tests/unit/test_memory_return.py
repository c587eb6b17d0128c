"""When a worker hands memory back: after a large drop in open connections, once they
stop falling, and not more often than its interval."""

from __future__ import annotations

import os

from flashsale.serving.memory_return import MemoryReturn, glibc_malloc_trim


def _memory(trims: list[str], now: list[float]) -> MemoryReturn:
    return MemoryReturn(
        lambda: trims.append("trim"),
        pid=os.getpid(),
        collect=lambda: trims.append("collect"),
        after_drop=1000,
        min_interval_s=10.0,
        clock=lambda: now[0],
    )


def test_memory_is_handed_back_once_a_large_drop_has_stopped_falling():
    trims: list[str] = []
    now = [0.0]
    memory = _memory(trims, now)
    for open_now in (10, 5000, 8000, 7500, 7001, 7001):  # a rise, then a drop short of 1,000
        assert not memory.note_open(open_now)
    assert not memory.note_open(6000)  # 2,000 fewer than the peak, and still falling
    assert memory.note_open(6100)
    assert trims == ["trim"]  # thousands still open: no collection over all of them


def test_with_few_connections_left_it_collects_first_and_waits_its_interval():
    trims: list[str] = []
    now = [0.0]
    memory = _memory(trims, now)
    for open_now in (3000, 200):
        memory.note_open(open_now)
    assert memory.note_open(200)
    assert trims == ["collect", "trim"]
    for open_now in (5000, 100, 100):  # another drop, within the interval
        assert not memory.note_open(open_now)
    now[0] += 10.0
    assert memory.note_open(100)
    now[0] += 60.0
    for open_now in (500, 1400, 300, 300):  # the peak counts from the last trim on
        memory.note_open(open_now)
    assert len(trims) == 6


def test_without_malloc_trim_nothing_is_tried():
    memory = MemoryReturn(None, pid=os.getpid(), after_drop=1)
    for open_now in (5, 0, 0):
        assert not memory.note_open(open_now)


def test_glibc_has_malloc_trim():
    trim = glibc_malloc_trim()
    assert trim is not None
    trim()
