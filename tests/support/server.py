"""Real `gunicorn -c gunicorn.conf.py` servers for the tests, from the launcher
the stress toolkit uses too (stress/servers/gunicorn_server.py).

The server listens on 127.0.0.1 on a free port, writes its journal to a path the
test owns, and is always stopped (SIGTERM, then SIGKILL and a failure) by the
test that started it. What is the tests' own: failures are AssertionErrors, and
`wait_until` polls for any other condition.
"""

from __future__ import annotations

import time
from pathlib import Path

from flashsale.processes import processes_in_group
from stress.servers.gunicorn_server import REPO_ROOT, SERVER_CONF, FlashSaleServer, free_port

__all__ = [
    "GUNICORN_CONF",
    "REPO_ROOT",
    "ServerProcess",
    "free_port",
    "processes_in_group",
    "running_server",
    "wait_until",
]

GUNICORN_CONF = REPO_ROOT / SERVER_CONF


def wait_until(predicate, timeout_s: float, interval_s: float = 0.02, message: str = "") -> None:
    """Poll `predicate` until it returns truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {message or predicate}")


class ServerProcess(FlashSaleServer):
    """One gunicorn master with its workers and allocator, on a free port; a
    server that fails to start or to stop fails the test."""

    failure = AssertionError


def running_server(db_path: Path, **kwargs) -> ServerProcess:
    """`with running_server(path, workers=..., env=...) as server:` started on
    entering, stopped on leaving, and nothing of it left behind."""
    return ServerProcess(db_path, **kwargs)
