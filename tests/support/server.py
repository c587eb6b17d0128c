"""Start and stop a real `gunicorn -c gunicorn.conf.py` for a test.

The server listens on 127.0.0.1 on a free port, writes its journal to a path the
test owns, and is always stopped (SIGTERM, then SIGKILL and a failure) by the
test that started it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import requests

from flashsale.processes import children_of, live_processes

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO_ROOT / "gunicorn.conf.py"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout_s: float, interval_s: float = 0.02, message: str = "") -> None:
    """Poll `predicate` until it returns truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {message or predicate}")


class ServerProcess:
    """One gunicorn master with its workers and allocator, on a free port."""

    def __init__(
        self,
        db_path: Path,
        *,
        workers: int = 4,
        env: dict[str, str] | None = None,
        port: int | None = None,
        conf: Path = GUNICORN_CONF,
    ) -> None:
        self.db_path = Path(db_path)
        self.conf = conf
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.db_path.with_suffix(f".{self.port}.log")
        self.env = {
            **os.environ,
            "FLASHSALE_BIND": f"127.0.0.1:{self.port}",
            "FLASHSALE_DB": str(self.db_path),
            "WEB_CONCURRENCY": str(workers),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        token = self.env.get("FLASHSALE_OPERATOR_TOKEN")
        # What health's detail (readiness, pids) needs when the server has a token.
        self.operator_headers = {"Authorization": f"Bearer {token}"} if token else {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, *, wait: bool = True) -> ServerProcess:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(self.conf)],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready()
        return self

    def health(self) -> dict | None:
        try:
            answer = requests.get(
                f"{self.url}/flash-sale/health", headers=self.operator_headers, timeout=2
            )
        except requests.RequestException:
            return None
        return answer.json() if answer.status_code == 200 else None

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait until health is green and every configured worker has booted."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            health = self.health()
            if health and health["workers"]["alive"] >= health["workers"]["configured"]:
                return
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout_s}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except FileNotFoundError:
            return ""

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def allocator_pid(self) -> int:
        health = requests.get(
            f"{self.url}/flash-sale/health", headers=self.operator_headers, timeout=5
        )
        return health.json()["allocator"]["pid"]

    def worker_pids(self) -> list[int]:
        allocator = self.allocator_pid()
        return [pid for pid in children_of(self.pid) if pid != allocator]

    def status(self) -> dict:
        return requests.get(f"{self.url}/flash-sale/status", timeout=5).json()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM the master and wait; on a hang, kill the group and fail."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            raise AssertionError(
                f"server did not stop within {timeout_s}s:\n{self.log()}"
            ) from None

    def kill_group(self) -> None:
        """Last resort for a test that failed midway: nothing may outlive the test."""
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@contextmanager
def running_server(db_path: Path, **kwargs) -> Iterator[ServerProcess]:
    server = ServerProcess(db_path, **kwargs)
    try:
        server.start()
        yield server
        server.stop()
    finally:
        server.kill_group()


def processes_in_group(pgid: int) -> list[int]:
    return [member for member, fields in live_processes() if int(fields[2]) == pgid]
