"""The gunicorn worker class: gthread, with JSON error pages and batched accepts.

Gunicorn answers some bad requests itself, before the app sees them (an
over-long request line or header, a malformed request line). It writes those
pages with `gunicorn.util.write_error` as HTML; this worker swaps in a writer
with the same status line and a JSON body, so every 4xx a client gets is JSON.

gthread accepts one connection per wake-up of its event loop, and the loop's
thread waits for the GIL behind the request threads each time. When 5,000
shoppers connect at once, the backlog then drains at a few hundred connections
a second; this worker takes its share of the waiting connections (up to
ACCEPT_BATCH) per wake-up instead. Only its share: a worker that took every
waiting connection could take all of a client's 64 keep-alive connections,
leaving the other workers (and their cores) idle while it served them alone.
"""

from __future__ import annotations

import json
import socket
import struct

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

ACCEPT_BATCH = 64
# Linux's tcp_info: for a listening socket, tcpi_unacked is the length of its accept queue.
_TCP_INFO_UNACKED = struct.Struct("24xI")


def waiting_connections(listener) -> int | None:
    """How many connections wait in the listener's accept queue (None: not TCP, unknown)."""
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_UNACKED.size)
    except OSError:
        return None
    return _TCP_INFO_UNACKED.unpack_from(info)[0]


def accept_share(waiting: int | None, workers: int) -> int:
    """How many connections one wake-up takes: an even share of those waiting."""
    if waiting is None:
        return ACCEPT_BATCH
    return max(1, min(ACCEPT_BATCH, -(-waiting // max(1, workers))))


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps({"title": reason, "description": mesg}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


class FlashSaleThreadWorker(ThreadWorker):
    def init_process(self) -> None:
        util.write_error = write_json_error
        super().init_process()

    def accept(self, listener) -> None:
        # gthread's accept takes one connection (counting it in nr_conns) or
        # returns quietly when none is waiting.
        for _ in range(accept_share(waiting_connections(listener), self.cfg.workers)):
            before = self.nr_conns
            super().accept(listener)
            if self.nr_conns == before or self.nr_conns >= self.worker_connections:
                return
