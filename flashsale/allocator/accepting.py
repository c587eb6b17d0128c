"""Accepting worker connections, on a thread of its own.

The HMAC handshake runs here with timeouts, so a worker frozen halfway
through it delays nobody's decision; the loop takes the authenticated
connections when `ready_fd` becomes readable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection, Listener

from flashsale.allocator.messages import authenticate

log = logging.getLogger("flashsale.allocator")

BACKLOG = 512


class Acceptor:
    def __init__(self, address: str, authkey: bytes) -> None:
        self._address = address
        self._authkey = authkey
        self._accepted: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self.ready_fd, self._ready_w = os.pipe()
        self._closing = False
        self._listener: Listener | None = None

    def start(self) -> None:
        # A killed allocator leaves its socket file behind; nobody else may use
        # this path because we hold the journal lock.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._address)
        # No authkey here: the handshake runs in _accept_forever, with timeouts.
        self._listener = Listener(self._address, family="AF_UNIX", backlog=BACKLOG)
        threading.Thread(
            target=self._accept_forever, args=(self._listener,), name="accept", daemon=True
        ).start()

    def take(self) -> list[Connection]:
        """The connections authenticated since the last call."""
        os.read(self.ready_fd, 4096)
        taken: list[Connection] = []
        while True:
            try:
                taken.append(self._accepted.get_nowait())
            except queue.Empty:
                return taken

    def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            self._listener.close()

    def _accept_forever(self, listener: Listener) -> None:
        while True:
            try:
                conn = listener.accept()
            except OSError:
                if self._closing:
                    return
                log.warning("allocator: accept failed", exc_info=True)
                continue
            try:
                authenticate(conn, self._authkey, accepting=True)
            except (OSError, EOFError, AuthenticationError) as exc:
                log.warning("allocator: a worker failed the handshake (%s)", exc)
                conn.close()
                continue
            self._accepted.put(conn)
            os.write(self._ready_w, b"c")
