"""Start, stop, kill and freeze a real `redis-server` for the Redis engine's tests and figures.

On 127.0.0.1, a free port, and a folder of its own (its append-only file lives
there, so a server started again on the same folder finds every write it
fsynced). By default as the engine wants it: `appendonly yes`, `appendfsync
always`, no RDB snapshots. Ready when it answers PING; used as a context
manager, it is stopped (or killed) at the end of the block. RedisClusterNodes
makes several of them one Redis Cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from stress.servers.gunicorn_server import free_port

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class RedisServerError(RuntimeError):
    """redis-server is missing, exited while starting, or did not answer in time."""


def redis_server_binary() -> str | None:
    """The redis-server to run, or None when it is not installed (Debian: redis-server)."""
    return shutil.which("redis-server")


class RedisServer:
    def __init__(
        self,
        folder: Path,
        *,
        port: int | None = None,
        appendfsync: str = "always",
        cluster: bool = False,
    ) -> None:
        """`cluster`: a node of a Redis Cluster (RedisClusterNodes makes them one)."""
        self.folder = Path(folder)
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.cluster = cluster
        self.bus_port = free_port() if cluster else 0
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

    @property
    def engine_env(self) -> dict[str, str]:
        """The settings that make a server decide in this Redis."""
        return {"FLASHSALE_ENGINE": "redis", "FLASHSALE_REDIS_URL": self.url}

    def start(self) -> Self:
        """Start it (again, on the same folder after a kill: the AOF is replayed)."""
        binary = redis_server_binary()
        if binary is None:
            raise RedisServerError("redis-server is not installed (apt-get install redis-server)")
        self.folder.mkdir(parents=True, exist_ok=True)
        config = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "dir": str(self.folder),
            "appendonly": "yes",
            "appendfsync": self.appendfsync,
            "save": "",
            "logfile": str(self.log_path),
            "daemonize": "no",
        }
        if self.cluster:
            # The bus port defaults to port + 10000, past 65535 for a high free port.
            config |= {
                "cluster-enabled": "yes",
                "cluster-config-file": "nodes.conf",
                "cluster-port": str(self.bus_port),
            }
        args = [binary, *_options(config)]
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

    def cluster_ok(self) -> bool:
        return b"cluster_state:ok" in self._ask(b"CLUSTER INFO\r\n")

    def _answers(self) -> bool:
        return self._ask(b"PING\r\n").startswith(b"+PONG")

    def _ask(self, command: bytes) -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(command)
                return conn.recv(4096)
        except OSError:
            return b""


def _options(config: Mapping[str, str]) -> list[str]:
    """redis-server's command line for `config`: `--name value`, in the mapping's order."""
    return [part for name, value in config.items() for part in (f"--{name}", value)]


class RedisClusterNodes:
    """A Redis Cluster of `count` primaries (no replicas) on 127.0.0.1, each node a
    RedisServer in its own folder, made one cluster by `redis-cli --cluster create`."""

    def __init__(self, folder: Path, count: int = 3) -> None:
        self.nodes = [RedisServer(folder / f"node-{n}", cluster=True) for n in range(count)]
        self.url = self.nodes[0].url  # any node: clients learn the others from it

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RedisServerError("redis-cli is not installed (apt-get install redis-tools)")
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        made = subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT_S,
        )
        if made.returncode != 0:
            self.stop()
            raise RedisServerError(f"redis-cli --cluster create failed: {made.stdout}{made.stderr}")
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(node.cluster_ok() for node in self.nodes):
            if time.monotonic() > deadline:
                self.stop()
                raise RedisServerError("the cluster did not reach cluster_state:ok")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
