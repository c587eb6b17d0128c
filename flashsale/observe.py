"""Read-only views of the shared state, for the status, health and metrics endpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flashsale.clock import iso_from_us, now_us
from flashsale.config import Settings
from flashsale.processes import ProcessUsage, usage_of_all
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.slots import ProcessSlots
from flashsale.shm.store_board import StoreBoard
from flashsale.shm.webhook_board import SenderFigures, WebhookBoard

# A sender silent this long is not alive (it beats at least every 50 ms, more
# rarely only while SQLite waits on its progress file's disk).
SENDER_SILENCE_S = 5.0


@dataclass(frozen=True)
class ServerView:
    settings: Settings
    board: SaleBoard
    slots: ProcessSlots
    store: StoreBoard
    master_pid: int = 0
    # Where the stock is decided: {"name": "sqlite"} or Redis's, with its durability.
    engine: dict[str, Any] = field(default_factory=lambda: {"name": "sqlite"})
    # The webhook sender's board; None while webhooks are off.
    webhooks: WebhookBoard | None = None

    def queue_depth(self) -> int:
        return self.slots.in_flight_total()

    def allocator_alive(self) -> bool:
        # The allocator beats every 50 ms; the breaker's silence limit is the
        # one notion of "dead or frozen" for health and breaker alike.
        return self.board.allocator().alive(self.settings.breaker.silence_s)

    def problems(self) -> list[str]:
        """What keeps purchases from being sold; none when healthy."""
        found = [] if self.allocator_alive() else ["the allocator is not alive"]
        if self.store.failing():
            error = self.store.status().error
            # The Redis engine's errors name Redis (redis_engine.decisions.RedisHealth).
            if self.engine["name"] == "redis":
                found.append(error or "Redis cannot be reached")
            else:
                found.append(f"the journal cannot be written: {error}")
        return found

    def store_json(self) -> dict[str, Any]:
        status = self.store.status()
        return {
            "writable": status.writable,
            "failingSince": iso_from_us(status.failing_since_us),
            # The last error, also after the journal recovered from it.
            "lastError": status.error,
            "writeErrors": status.errors,
        }

    def allocator_json(self) -> dict[str, Any]:
        liveness = self.board.allocator()
        return {
            "alive": liveness.alive(self.settings.breaker.silence_s),
            "pid": liveness.pid,
            "heartbeatAgeMs": round(liveness.heartbeat_age_s * 1000, 1),
            "restarts": liveness.restarts,
            # Group commit at work: sales per fsync of the journal.
            "commits": liveness.commits,
            "salesPerCommit": round(liveness.committed_sales / liveness.commits, 2)
            if liveness.commits
            else 0.0,
        }

    def webhook_figures(self) -> SenderFigures | None:
        return None if self.webhooks is None else self.webhooks.figures()

    def webhooks_json(self) -> dict[str, Any] | None:
        """The sender and its backlog; a dead sender is reported here, and never stops
        the selling (health stays 200: the outbox keeps every event for the next one)."""
        figures = self.webhook_figures()
        if figures is None:
            return None
        return {
            "alive": figures.alive(SENDER_SILENCE_S),
            "pid": figures.pid,
            "restarts": figures.restarts,
            "backlog": figures.backlog,
            "retrying": figures.retrying,
            "oldestUndeliveredAgeSeconds": round(figures.oldest_age_s(now_us()), 3),
            "deliveries": {
                "delivered": figures.delivered,
                "failed": figures.failed,
                "gaveUp": figures.gave_up,
            },
        }

    def workers_json(self) -> dict[str, int]:
        # Counted by pid: a worker still being forked is not alive yet.
        return {"alive": len(self.slots.live_pids()), "configured": self.settings.workers}

    def processes(self) -> list[ProcessUsage]:
        """CPU and memory of the master, the allocator and every worker alive."""
        pids = [("master", self.master_pid), ("allocator", self.board.allocator().pid)]
        figures = self.webhook_figures()
        if figures is not None:
            pids.append(("webhook_sender", figures.pid))
        pids += [("worker", pid) for pid in self.slots.live_pids()]
        return usage_of_all(pids)

    def processes_json(self) -> list[dict[str, object]]:
        return [usage.to_json() for usage in self.processes()]

    def uptime_s(self) -> float:
        started = self.board.server_started_at_us
        return round(max(time.time() - started / 1e6, 0.0), 3) if started else 0.0
