"""The allocator's restarts: a start-up crash loop backs off, a death after serving does not."""

from __future__ import annotations

from flashsale.supervisor import MAX_BACKOFF_S, QUICK_DEATH_BACKOFF_S, AllocatorSupervisor


def _supervisor(ready: bool) -> AllocatorSupervisor:
    return AllocatorSupervisor(lambda: None, was_ready=lambda pid: ready)


def test_deaths_before_ready_double_the_wait_up_to_the_most():
    supervisor = _supervisor(ready=False)
    waits = []
    for _ in range(10):
        supervisor._backoff_s = supervisor._next_backoff_s(lived_s=0.01)
        waits.append(supervisor._backoff_s)
    assert waits[:4] == [QUICK_DEATH_BACKOFF_S * 2**n for n in range(4)]
    assert waits[-1] == MAX_BACKOFF_S


def test_an_allocator_that_served_is_replaced_at_once_and_resets_the_wait():
    supervisor = _supervisor(ready=True)
    supervisor._backoff_s = MAX_BACKOFF_S
    assert supervisor._next_backoff_s(lived_s=60.0) == 0.0
    assert supervisor._next_backoff_s(lived_s=0.2) == QUICK_DEATH_BACKOFF_S
