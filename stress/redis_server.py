"""Start, stop, kill and freeze a real `redis-server` for the Redis engine's tests and figures.

On 127.0.0.1, a free port, and a folder of its own (its append-only file lives
there, so a server started again on the same folder finds every write it
fsynced). By default as the engine wants it: `appendonly yes`, `appendfsync
always`, no RDB snapshots. Ready when it answers PING; used as a context
manager, it is stopped (or killed) at the end of the block.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from stress.server import free_port

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class RedisServerError(RuntimeError):
    """redis-server is missing, exited while starting, or did not answer in time."""


def redis_server_binary() -> str | None:
    """The redis-server to run, or None when it is not installed (Debian: redis-server)."""
    return shutil.which("redis-server")


class RedisServer:
    def __init__(
        self, folder: Path, *, port: int | None = None, appendfsync: str = "always"
    ) -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = self.folder / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def start(self) -> Self:
        """Start it (again, on the same folder after a kill: the AOF is replayed)."""
        binary = redis_server_binary()
        if binary is None:
            raise RedisServerError("redis-server is not installed (apt-get install redis-server)")
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
            "--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", "",
            "--logfile", str(self.log_path), "--daemonize", "no",
        ]  # fmt: skip
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers():
            if self._proc.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited with {self._proc.returncode}: {self.log()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RedisServerError(
                    f"redis-server not ready in {READY_TIMEOUT_S} s: {self.log()}"
                )
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """SIGTERM (it writes nothing more: the AOF is already fsynced), then SIGKILL."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self.resume()
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9: whatever it fsynced survives, as after a crash."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self.pid, signal.SIGCONT)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False
