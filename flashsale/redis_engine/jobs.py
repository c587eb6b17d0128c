"""The Redis engine's calls, made one at a time on a thread of their own.

The allocator loop never waits for Redis: it queues jobs (decide a batch,
start a sale, follow the store, probe it) and hears of each one's end through
`done_fd`, as it does of the SQLite committer's. One job at a time, in order,
so a batch read before a new sale is decided before it, and purchases that
arrive while a call is in flight join the next batch (the group commit).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisClusterException, RedisError

from flashsale.redis_engine.store import as_redis_error


@dataclass
class Job:
    """One call to make; `run` happens on the thread, its result or error comes back here."""

    run: Callable[[], Any]
    kind: str
    payload: Any = None  # what the loop needs back to answer it
    result: Any = None
    error: RedisError | None = None
    tries: int = 0  # calls made: more than one for a batch sent again after a lost reply


class RedisJobs:
    def __init__(self) -> None:
        self._todo: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self.done_fd, self._done_w = os.pipe()
        self._done: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self.busy = False
        threading.Thread(target=self._work_forever, name="redis", daemon=True).start()

    def start(self, job: Job) -> None:
        if self.busy:
            raise RuntimeError("a Redis call is already being made")
        self.busy = True
        job.tries += 1
        self._todo.put(job)

    def finish(self) -> Job:
        """The job `done_fd` announced, with its result or its error."""
        os.read(self.done_fd, 1)  # blocks until it is over
        self.busy = False
        return self._done.get_nowait()

    def _work_forever(self) -> None:
        while True:
            job = self._todo.get()
            try:
                job.result, job.error = job.run(), None
            except (RedisError, RedisClusterException) as exc:  # unknown outcome, or refused
                job.error = as_redis_error(exc)
            self._done.put(job)
            os.write(self._done_w, b"d")
