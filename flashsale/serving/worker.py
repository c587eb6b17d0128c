"""The gunicorn worker class: gunicorn 27's asgi worker, on uvloop, with our protocol.

What it changes of gunicorn's `ASGIWorker`, and why:

- gunicorn's worker hands its listening socket to `loop.create_server()`
  without a backlog, and the loop listens again with its default of 100. A
  burst of 5,000 new connections then overflows the accept queue, and the
  kernel drops the excess handshakes, which clients retry after 1 s, 3 s, 7 s.
  Our loop passes the configured `backlog` instead.
- uvloop and the C parser (`gunicorn_h1c`) are dependencies, not options: a
  worker that silently fell back to asyncio's loop or the Python parser would
  serve a third slower. Both are required at start-up. (gunicorn caches the
  parser's presence on the class that asks, and reads it from its own base
  class: for a subclass it would always read "absent". We ask on the base.)
- Each connection is our FlashSaleProtocol: read deadlines, bounds on open
  connections (per worker and per client address), JSON error pages (see
  flashsale.serving.protocol).
- Once a second, with gunicorn's heartbeat, it hands memory back to the
  system after many connections have closed (flashsale.serving.memory_return).

- When the worker begins to stop (a signal, max_requests, its master gone),
  it calls what the app registered with `when_stopping`: gunicorn waits up to
  `graceful_timeout` for every connection to end, and a live page's event
  stream would never end by itself.
- A stop signal that comes while the worker boots is not lost. Until the worker
  installs its own handlers, the master's, inherited at the fork, catch its
  signals and queue them in the master's queue (the child's copy), which nobody
  reads: the master's graceful stop would then wait `graceful_timeout` for a
  worker that never heard it. The worker reads that queue once its handlers are in.
- It calls what the app registered with `when_serving` once it is listening, so
  that health counts a worker as alive only when it can serve.
- On its way out it closes the connections idle between requests at once
  (flashsale.serving.protocol.close_idle_connections): gunicorn waits for them to
  reach their keep-alive timeout, which held every stop 5 s while a client kept one.

Gunicorn's worker timeout still watches the event loop: the worker's main
coroutine reports to the master once a second, so a loop stuck in a blocking
call stops reporting, and the master kills the worker after `timeout`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import signal
from collections.abc import Callable
from typing import Any

import uvloop
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

from flashsale.api.client_address import ClientAddress
from flashsale.config import BODY_MAX_BYTES, Settings
from flashsale.serving.address_bounds import ConnectionsByAddress
from flashsale.serving.memory_return import MemoryReturn, glibc_malloc_trim
from flashsale.serving.protocol import (
    ConnectionLimits,
    FlashSaleProtocol,
    close_idle_connections,
)


class ListenBacklogLoop(uvloop.Loop):
    """uvloop, listening with the configured backlog on the sockets it is handed."""

    def __init__(self, backlog: int) -> None:
        super().__init__()
        self.backlog = backlog

    # Ignored [override]: uvloop's server is an AbstractServer (uvloop's stub says so),
    # not the asyncio.Server that AbstractEventLoop's stub promises.
    async def create_server(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> asyncio.AbstractServer:
        kwargs.setdefault("backlog", self.backlog)
        return await super().create_server(*args, **kwargs)


# What to call when this process's worker begins to stop, and once it serves.
_on_stopping: list[Callable[[], None]] = []
_on_serving: list[Callable[[], None]] = []


def when_stopping(callback: Callable[[], None]) -> None:
    _on_stopping.append(callback)


def when_serving(callback: Callable[[], None]) -> None:
    _on_serving.append(callback)


class FlashSaleWorker(gasgi.ASGIWorker):
    # The master's signal queue as this process inherited it (given by the post_fork
    # hook): where the master's handlers put the signals that came before ours.
    masters_signal_queue: queue.SimpleQueue[int] | None = None
    _serving = False

    # gunicorn says "stop" by setting `alive` to False, from several places.
    @property
    def alive(self) -> bool:
        return self._alive

    @alive.setter
    def alive(self, value: bool) -> None:
        was_alive, self._alive = getattr(self, "_alive", False), value
        if was_alive and not value:
            for callback in _on_stopping:
                callback()

    def notify(self) -> None:
        # First called from the serving loop, once the worker listens.
        super().notify()
        self._memory_return.note_open(self.nr_conns)
        if not self._serving:
            self._serving = True
            for callback in _on_serving:
                callback()

    def init_signals(self) -> None:
        super().init_signals()
        self._act_on_signals_that_came_while_booting()

    def _act_on_signals_that_came_while_booting(self) -> None:
        caught = self.masters_signal_queue
        while caught is not None:
            try:
                signum = caught.get_nowait()
            except queue.Empty:
                return
            if signum == signal.SIGTERM:
                self.handle_exit_signal()
            elif signum in (signal.SIGINT, signal.SIGQUIT):
                self.handle_quit_signal()

    def init_process(self) -> None:
        if not (ASGIProtocol._check_h1c_protocol_available() and ASGIProtocol._h1c_has_limits):
            raise RuntimeError("gunicorn_h1c (the C HTTP parser) is required; pip install -e .")
        settings = Settings.from_env()  # validated by the master before any fork
        limits = ConnectionLimits(
            header_timeout_s=settings.header_timeout_s,
            body_timeout_s=settings.body_timeout_s,
            max_connections=self.cfg.worker_connections,
            body_max_bytes=BODY_MAX_BYTES,
            by_address=ConnectionsByAddress.create(
                settings.connections_per_address,
                ClientAddress(settings.forwarded_allow_ips).is_trusted,
            ),
        )
        self._memory_return = MemoryReturn(glibc_malloc_trim(), pid=os.getpid())
        # gunicorn's _serve() builds each connection's protocol from this
        # module-level name; this process is a worker of ours alone.
        gasgi.ASGIProtocol = functools.partial(FlashSaleProtocol, limits=limits)
        super().init_process()

    async def _shutdown(self) -> None:
        # In the same turn of the loop as the listener's close that begins gunicorn's
        # shutdown: no connection comes in between. A busy one closes after its answer.
        closed = close_idle_connections()
        if closed:
            self.log.info("Closed %d idle connections", closed)
        await super()._shutdown()

    def _setup_event_loop(self) -> None:
        self.loop = ListenBacklogLoop(self.cfg.backlog)
        asyncio.set_event_loop(self.loop)
