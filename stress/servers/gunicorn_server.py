"""Start and stop real gunicorn servers: the flash sale server (`gunicorn -c
gunicorn.conf.py`) and the trivial reference app of the benchmarks
(stress/servers/reference.conf.py: the same settings). The one launcher of both the
stress toolkit and the tests (tests/support/server.py builds on it).

Each server listens on 127.0.0.1 on a free port, with its own journal and log
and the FLASHSALE_* settings it is given over this process's environment. It is
ready when every worker has booted, polled until a generous timeout; it is
stopped with SIGTERM, then SIGKILL of its process group and a failure after a
timeout. Used as a context manager, nothing it started outlives the block.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import requests

from flashsale.processes import children_of, total_cpu_s
from stress.api import HEALTH_PATH, STATUS_PATH
from stress.api_client import decode_json, new_session

REPO_ROOT = Path(__file__).resolve().parents[2]
# Relative to the repository a server runs from (its working directory).
SERVER_CONF = Path("gunicorn.conf.py")
REFERENCE_CONF = Path("stress/servers/reference.conf.py")
READY_TIMEOUT_S = 60.0
READY_POLL_S = 0.05
STOP_TIMEOUT_S = 40.0
KILLED_REAP_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 2.0  # one readiness probe: a busy booting server may be slow
REQUEST_TIMEOUT_S = 5.0
LOG_TAIL_CHARS = 20_000


class ServerError(RuntimeError):
    """A server exited while starting, was not ready in time, or did not stop in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class FlashSaleServer:
    """One gunicorn master with its workers and allocator, on a free 127.0.0.1 port;
    ready when its health says every configured worker is alive."""

    default_conf: ClassVar[Path] = SERVER_CONF
    label: ClassVar[str] = "server"
    # What a failure to start or stop raises; the tests make it a test failure.
    failure: ClassVar[type[Exception]] = ServerError

    def __init__(
        self,
        db_path: Path,
        *,
        workers: int = 4,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        conf: Path | None = None,
        repo: Path | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.repo = repo or REPO_ROOT
        self.conf = conf or self.default_conf
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.db_path.with_suffix(f".{self.port}.log")
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
            # Last: the launcher's own address, journal and worker count.
            "FLASHSALE_BIND": f"127.0.0.1:{self.port}",
            "FLASHSALE_DB": str(self.db_path),
            "WEB_CONCURRENCY": str(workers),
        }
        # The tokens the server reads: the admin API's, and the one health's
        # detail (readiness, pids) then needs.
        self.admin_token = self.env.get("FLASHSALE_ADMIN_TOKEN")
        operator_token = self.env.get("FLASHSALE_OPERATOR_TOKEN")
        self.operator_headers = (
            {"Authorization": f"Bearer {operator_token}"} if operator_token else {}
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.kill_group()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        finally:
            self.kill_group()

    @property
    def name(self) -> str:
        return f"{self.label} on port {self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self, *, wait: bool = True) -> Self:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(self.conf)],
                cwd=self.repo,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: kill_group reaches every process
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Until `ready()`; fail at once if the master exits, or after READY_TIMEOUT_S."""
        assert self.proc is not None, "not started"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.failure(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if self.ready():
                return
            # Between probes: woken at once if the master exits.
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=READY_POLL_S)
        raise self.failure(f"{self.name} not ready after {READY_TIMEOUT_S}s:\n{self.log()}")

    def ready(self) -> bool:
        health = self.health()
        workers = (health or {}).get("workers") or {}
        return bool(health) and workers.get("alive", 0) >= workers.get("configured", 1)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM the master and wait for its exit code; on a hang, kill the group and fail."""
        if self.proc is None:
            return 0
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise self.failure(
                f"{self.name} did not stop within {timeout_s}s:\n{self.log()}"
            ) from None

    def kill_group(self) -> None:
        """SIGKILL of every process the server started: the last resort after a failure."""
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=KILLED_REAP_TIMEOUT_S)

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def log(self) -> str:
        """The end of the server's log (gunicorn's and the service's lines)."""
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except FileNotFoundError:
            return ""

    def health(self) -> dict[str, Any] | None:
        """Health with its detail; None unless it answers 200."""
        try:
            answer = self._get(HEALTH_PATH, PROBE_TIMEOUT_S)
        except requests.RequestException:
            return None
        return decode_json(answer) if answer.status_code == 200 else None

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self._get(STATUS_PATH, REQUEST_TIMEOUT_S).json()
        return status

    def allocator_pid(self) -> int:
        """The allocator's pid, also while health answers 503 (the allocator is dead)."""
        return int(self._get(HEALTH_PATH, REQUEST_TIMEOUT_S).json()["allocator"]["pid"])

    def webhook_sender_pid(self) -> int:
        """The webhook sender's pid (0: webhooks off, or none started yet)."""
        webhooks = self._get(HEALTH_PATH, REQUEST_TIMEOUT_S).json().get("webhooks")
        return int(webhooks["pid"]) if webhooks else 0

    def worker_pids(self) -> list[int]:
        others = {self.allocator_pid(), self.webhook_sender_pid()}
        return [pid for pid in children_of(self.pid) if pid not in others]

    def cpu_s(self) -> float:
        """CPU seconds its master and live children have spent so far."""
        return total_cpu_s([self.pid, *children_of(self.pid)])

    def _get(self, path: str, timeout_s: float) -> requests.Response:
        with new_session() as session:
            headers = self.operator_headers if path == HEALTH_PATH else {}
            return session.get(self.url + path, headers=headers, timeout=timeout_s)


class ReferenceServer(FlashSaleServer):
    """The trivial reference app; it has no health endpoint: ready when every
    worker has booted and it answers. `db_path` only names its log."""

    default_conf = REFERENCE_CONF
    label = "reference app"

    def ready(self) -> bool:
        if len(children_of(self.pid)) < self.workers:
            return False
        try:
            return self._get(STATUS_PATH, PROBE_TIMEOUT_S).status_code == 200
        except requests.RequestException:
            return False
