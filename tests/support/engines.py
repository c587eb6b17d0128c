"""Both engines for tests that must pass in each: the settings of a server deciding on
its own SQLite journal, or on a real redis-server (appendonly, appendfsync always) that
the test starts in its folder and always stops."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stress.servers.redis_server import RedisServer, redis_server_binary

ENGINES = (
    "sqlite",
    pytest.param(
        "redis",
        marks=pytest.mark.skipif(
            redis_server_binary() is None, reason="redis-server is not installed"
        ),
    ),
)


@contextmanager
def engine_settings(
    engine: str, folder: Path
) -> Iterator[tuple[dict[str, str], RedisServer | None]]:
    """The settings a server needs for `engine`, and its Redis (None for SQLite)."""
    if engine == "sqlite":
        yield {}, None
        return
    with RedisServer(folder / "redis") as redis:
        yield {**redis.engine_env, "FLASHSALE_REDIS_TIMEOUT_S": "5"}, redis
