"""The allocator of the Redis engine (FLASHSALE_ENGINE=redis): the same process and loop,
deciding on Redis instead of its own journal.

Each host runs one; all of them decide on one Redis (decisions.py), so
the stock, one per person, the rate limit and a waiting room's order hold across hosts.
"""

from __future__ import annotations

from typing import Any

from flashsale.allocator.loop import HEARTBEAT_S, Allocator, Pipeline
from flashsale.allocator.messages import Kind
from flashsale.allocator.peers import Pending
from flashsale.redis_engine.decisions import RedisDecisions, SaleSettings
from flashsale.redis_engine.store import RedisStore


class RedisAllocator(Allocator):
    def __init__(self, *, store: RedisStore, sale_settings: SaleSettings, **base: Any) -> None:
        super().__init__(**base)
        self._store = store
        self._sale_settings = sale_settings

    def _open(self) -> Pipeline:
        self._redis = RedisDecisions(
            self._store, self._peers, self.board, self.store_board, self._sale_settings
        )
        return self._redis

    def _close(self) -> None:
        self._store.close()

    def _describe(self) -> str:
        return f"deciding on Redis at {self._store.url}"

    def _between_batches(self) -> None:
        pass  # probing Redis is one of its jobs (decisions.py)

    def _idle_s(self) -> float:
        """Until the heartbeat, or when the next hold falls due (Redis's expiry set)."""
        return self._redis.idle_s(HEARTBEAT_S)

    def _expire_holds(self) -> None:
        """Due holds are expired in Redis, by its clock (flashsale_expire): queued as a
        call of the Redis thread, between the batches."""
        self._redis.expire_if_due()

    def _tick_room(self, now_us: int | None = None) -> None:
        """The waiting room is drawn, admitted and closed in Redis, by its clock
        (flashsale_queue_tick): a tick queued as a call of the Redis thread when due."""
        self._redis.tick_queue_if_due()

    def _decide(self, batch: list[Pending]) -> None:
        self._redis.add([item for item in batch if item.kind == Kind.PURCHASE])
        for item in batch:
            if item.kind == Kind.ADMIN:
                self._redis.admin(item)
            elif item.kind == Kind.CHECKOUT:
                self._redis.checkout(item)
