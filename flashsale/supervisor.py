"""Keeps one allocator process alive from the gunicorn master (and, with webhooks on,
one webhook sender: the same supervision under another name).

Gunicorn's master reaps every child with `waitpid(-1)`, so the allocator's exit
status is taken before anyone else could read it. Death is therefore detected
with a pidfd, which becomes readable when the process exits whoever reaps it.
A watch thread waits on it (with a timeout) and forks a successor at once; the
successor recovers from the journal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterable

from flashsale import log_limit

log = logging.getLogger("flashsale.supervisor")

WATCH_TIMEOUT_S = 1.0
STOP_TIMEOUT_S = 10.0  # for the allocator to exit after SIGTERM, then again after SIGKILL
# An allocator that dies before it is ready is failing to start: each such
# death in a row doubles the wait before the next try, up to MAX_BACKOFF_S (a
# journal that cannot be opened costs a try every 30 s, not a fork loop). One
# that was ready is replaced at once, unless it died within QUICK_DEATH_S
# (a crash on every first batch): then after QUICK_DEATH_BACKOFF_S.
QUICK_DEATH_S = 1.0
QUICK_DEATH_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# Signals gunicorn's master handles; the allocator takes back the defaults.
MASTER_SIGNALS = (
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
    signal.SIGCHLD,
)


class AllocatorSupervisor:
    def __init__(
        self,
        run_allocator: Callable[[], None],
        *,
        was_ready: Callable[[int], bool],
        close_in_child: Iterable[int] = (),
        on_restart: Callable[[], None] = lambda: None,
        name: str = "allocator",
    ) -> None:
        self.name = name
        self._run_allocator = run_allocator
        self._was_ready = was_ready
        self._close_in_child = list(close_in_child)
        self._on_restart = on_restart
        self.pid = 0
        self._pidfd = -1
        self._started_at = 0.0
        self._backoff_s = 0.0  # the wait after the last death
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._watch, name=f"{name}-watch", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            self._be_the_allocator()
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)
        self._started_at = time.monotonic()
        log.info("%s started (pid %s)", self.name, pid)

    def _be_the_allocator(self) -> None:
        code = 1
        try:
            for signum in MASTER_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            for fd in (*self._close_in_child, self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._run_allocator()
            code = 0
        except BaseException:
            log.exception("%s %s failed", self.name, os.getpid())
        finally:
            log_limit.flush()  # os._exit runs no atexit handler
            logging.shutdown()
            os._exit(code)

    def _watch(self) -> None:
        while not self._stopping:
            readable, _, _ = select.select([self._pidfd, self._wake_r], [], [], WATCH_TIMEOUT_S)
            if self._stopping or self._pidfd not in readable:
                continue
            lived_s = time.monotonic() - self._started_at
            os.close(self._pidfd)
            self._backoff_s = self._next_backoff_s(lived_s)
            log.error(
                "%s %s died after %.1f s; starting another in %.1f s",
                self.name,
                self.pid,
                lived_s,
                self._backoff_s,
            )
            # Waiting on the wake pipe: stop() need not wait out the backoff.
            select.select([self._wake_r], [], [], self._backoff_s)
            if self._stopping:
                return
            self._on_restart()
            self._spawn()

    def _next_backoff_s(self, lived_s: float) -> float:
        if not self._was_ready(self.pid):
            return min(max(self._backoff_s * 2, QUICK_DEATH_BACKOFF_S), MAX_BACKOFF_S)
        return QUICK_DEATH_BACKOFF_S if lived_s < QUICK_DEATH_S else 0.0

    def stop(self) -> None:
        """SIGTERM the allocator and wait for it; SIGKILL it if it does not go."""
        self._stopping = True
        os.write(self._wake_w, b"x")
        self._thread.join(STOP_TIMEOUT_S)
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        readable, _, _ = select.select([self._pidfd], [], [], STOP_TIMEOUT_S)
        if not readable:
            log.error("%s %s ignored SIGTERM; killing it", self.name, self.pid)
            os.kill(self.pid, signal.SIGKILL)
            select.select([self._pidfd], [], [], STOP_TIMEOUT_S)
        os.close(self._pidfd)

    def forget_in_child(self) -> None:
        """In a forked worker: drop the master's descriptors (the thread is not inherited)."""
        for fd in (self._pidfd, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
