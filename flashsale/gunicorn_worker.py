"""The gunicorn worker class: gthread, with gunicorn's own error pages in JSON.

Gunicorn answers some bad requests itself, before the app sees them (an
over-long request line or header, a malformed request line). It writes those
pages with `gunicorn.util.write_error` as HTML; this worker swaps in a writer
with the same status line and a JSON body, so every 4xx a client gets is JSON.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps({"title": reason, "description": mesg}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


class JsonErrorThreadWorker(ThreadWorker):
    def init_process(self) -> None:
        util.write_error = write_json_error
        super().init_process()
