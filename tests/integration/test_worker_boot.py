"""A worker's boot against real gunicorn servers: a stop signal that comes while it
boots is obeyed, and health counts it alive only once it serves.

tests/support/paused_boot.conf.py holds the first worker's boot in the window
between gunicorn's fork and the worker's own signal handlers until the test
releases it (a file).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.support.server import REPO_ROOT, wait_until

PAUSED_BOOT_CONF = REPO_ROOT / "tests" / "support" / "paused_boot.conf.py"


def _paused_worker(boot_dir: Path) -> int:
    marker = boot_dir / "paused"
    wait_until(lambda: marker.exists() and marker.read_text(), 60, message="a worker paused")
    return int(marker.read_text())


def _gone(pid: int) -> bool:
    """Exited (a zombie until its master reaps it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_a_stop_signal_that_comes_while_a_worker_boots_is_obeyed(start_server, tmp_path):
    # As gunicorn's master stops its workers: SIGTERM, then up to graceful_timeout
    # (20 s) before SIGKILL. Lost, it left a stop waiting those 20 s.
    env = {"FLASHSALE_TEST_BOOT_DIR": str(tmp_path)}
    server = start_server(workers=1, conf=PAUSED_BOOT_CONF, env=env, wait=False)
    pid = _paused_worker(tmp_path)
    os.kill(pid, signal.SIGTERM)  # pending at once: caught in the window when it runs
    (tmp_path / "release").touch()
    wait_until(lambda: _gone(pid), 15, message=f"worker {pid} obeyed the SIGTERM")
    # The master, which did not ask, boots another, and the server serves.
    server.wait_ready()
    assert server.status()["remaining"] == 100


def test_health_counts_a_worker_alive_once_it_serves(start_server, tmp_path):
    env = {"FLASHSALE_TEST_BOOT_DIR": str(tmp_path)}
    server = start_server(workers=2, conf=PAUSED_BOOT_CONF, env=env, wait=False)
    _paused_worker(tmp_path)
    # The other worker answers; the paused one has been forked but cannot serve.
    wait_until(lambda: server.health() is not None, 60, message="health answers")
    health = server.health()
    assert health is not None
    assert health["workers"] == {"alive": 1, "configured": 2}
    (tmp_path / "release").touch()
    wait_until(server.ready, 60, message="both workers alive")
