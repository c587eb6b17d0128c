"""Client processes released together: started one by one, let go at one wall-clock instant.

Each child is `target(*args, ready, go, release_at, results)`: it prepares, puts
anything on `ready`, waits for `go`, reads the instant from `release_at.value`,
sleeps until then, works, and puts its one result on `results`. Processes come
from the `multiprocess` package (spawn), so a child starts with nothing of the
parent but its arguments.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from typing import Any

import multiprocess

READY_TIMEOUT_S = 60.0
# Time between the last child saying ready and the release: every child has
# read the instant and is sleeping until it by then.
START_LEAD_S = 0.5


def release_together(
    target: Callable[..., None],
    args_per_child: Sequence[tuple[Any, ...]],
    *,
    work_timeout_s: float,
    what: str,
    lead_s: float = START_LEAD_S,
) -> list[Any]:
    """Run one child per argument tuple, all released at once; their results, in the
    order the children finish."""
    context = multiprocess.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    release_at = context.Value("d", 0.0, lock=False)  # written once, before `go` is set
    children = [
        context.Process(target=target, args=(*args, ready, go, release_at, results), daemon=True)
        for args in args_per_child
    ]
    for child in children:
        child.start()
    try:
        for _ in children:
            ready.get(timeout=READY_TIMEOUT_S)
        release_at.value = time.time() + lead_s
        go.set()
        return [results.get(timeout=lead_s + work_timeout_s) for _ in children]
    except queue.Empty:
        raise RuntimeError(f"{what} client processes did not answer in time") from None
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()
