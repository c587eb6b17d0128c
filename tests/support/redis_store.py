"""The Redis engine's store over a real redis-server, for the tests that call its
functions directly (test_redis_store, test_redis_holds, test_redis_outbox)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from flashsale.redis_engine.store import RedisStore
from stress.servers.redis_server import redis_server_binary

REQUIRES_REDIS = pytest.mark.skipif(
    redis_server_binary() is None,
    reason="redis-server is not installed (test.sh installs Debian's redis-server)",
)


@contextmanager
def fresh_store(url: str) -> Iterator[RedisStore]:
    """A store on an emptied Redis, its function library loaded; closed after."""
    raw = redis.Redis.from_url(url)
    raw.flushall()
    raw.close()
    client = RedisStore(url, tag="flashsale", timeout_s=5.0)
    client.load_library()
    try:
        yield client
    finally:
        client.close()
