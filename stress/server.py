"""Start and stop real gunicorn servers for the benchmarks: the flash sale server
(`gunicorn -c gunicorn.conf.py`, with its own port, journal and admin token)
and the trivial reference app (stress/reference.conf.py: the same settings).

Each is ready when every worker has booted; each is stopped with SIGTERM, then
SIGKILL of its process group after a timeout.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import requests

from flashsale.processes import children_of, usage_of_all
from stress.common import STATUS_PATH, Api

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 40.0
SERVER_CONF = "gunicorn.conf.py"
REFERENCE_CONF = "stress/reference.conf.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def default_repo() -> Path:
    return Path(__file__).resolve().parent.parent


class LaunchedServer:
    """The flash sale server, ready when its health says every worker is alive."""

    conf = SERVER_CONF
    name = "server"

    def __init__(self, repo: Path, folder: Path, *, workers: int, stock: int = 100) -> None:
        self.repo = repo
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.workers = workers
        self.log_path = folder / f"{self.name}-w{workers}-{self.port}.log"
        self.env = {
            **os.environ,
            "WEB_CONCURRENCY": str(workers),
            "FLASHSALE_BIND": f"127.0.0.1:{self.port}",
            "FLASHSALE_DB": str(folder / f"sale-w{workers}-{self.port}.db"),
            "FLASHSALE_ADMIN_TOKEN": self.token,
            "FLASHSALE_STOCK": str(stock),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", self.conf],
                cwd=self.repo,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        api = Api(self.url)
        deadline = time.monotonic() + READY_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}: {self.tail()}")
                if self._ready(api):
                    return
                time.sleep(0.1)
        finally:
            api.close()
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT_S}s: {self.tail()}")

    def _ready(self, api: Api) -> bool:
        health = api.health()
        workers = (health or {}).get("workers") or {}
        return bool(health) and workers.get("alive", 0) >= workers.get("configured", 1)

    def cpu_s(self) -> float:
        """CPU seconds its master and children have spent so far (from /proc)."""
        assert self.proc is not None
        pids = [("master", self.proc.pid)] + [("child", pid) for pid in children_of(self.proc.pid)]
        return sum(usage.cpu_s for usage in usage_of_all(pids))

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout=10)

    def tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return ""


class ReferenceServer(LaunchedServer):
    """The trivial reference app; it has no health endpoint: ready when it answers
    and every worker has booted."""

    conf = REFERENCE_CONF
    name = "reference"

    def _ready(self, api: Api) -> bool:
        assert self.proc is not None
        if len(children_of(self.proc.pid)) < self.workers:
            return False
        try:
            return requests.get(self.url + STATUS_PATH, timeout=2).status_code == 200
        except requests.RequestException:
            return False
