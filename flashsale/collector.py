"""The garbage collector's settings for a long-lived process of the server.

A worker and the allocator build what they keep for their whole life at start-up,
and then make many small objects that outlive the young generation: a burst's
connections in a worker, every order and hold of the sale in the allocator. At
the interpreter's first threshold (700 allocations) collections ran so often that
they were a measurable part of each answer.
"""

from __future__ import annotations

import gc

# Measured: a worker spent 0.6-0.7 s collecting over three 5,000-shopper bursts,
# 0.24-0.32 s with start-up's objects frozen and this first threshold; the
# allocator, in process over a 200,000-hold sale, 2.2 µs a decision against 0.6.
YOUNG_THRESHOLD = 10_000


def settle_after_start() -> None:
    """What start-up built is never collected (frozen); young collections are rarer."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
