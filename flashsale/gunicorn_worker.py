"""The gunicorn worker class: gthread, with JSON error pages and batched accepts.

Gunicorn answers some bad requests itself, before the app sees them (an
over-long request line or header, a malformed request line). It writes those
pages with `gunicorn.util.write_error` as HTML; this worker swaps in a writer
with the same status line and a JSON body, so every 4xx a client gets is JSON.

gthread accepts one connection per wake-up of its event loop, and the loop's
thread waits for the GIL behind the request threads each time. When 5,000
shoppers connect at once, the backlog then drains at a few hundred connections
a second; this worker takes every waiting connection (up to ACCEPT_BATCH) per
wake-up instead.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

ACCEPT_BATCH = 64


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
        for _ in range(ACCEPT_BATCH):
            before = self.nr_conns
            super().accept(listener)
            if self.nr_conns == before or self.nr_conns >= self.worker_connections:
                return
