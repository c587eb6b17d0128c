"""Read-only views of the shared state, for the status, health and metrics endpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flashsale.clock import iso_from_us
from flashsale.config import Settings
from flashsale.processes import ProcessUsage, usage_of_all
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.slots import ProcessSlots
from flashsale.shm.store_board import StoreBoard


@dataclass(frozen=True)
class ServerView:
    settings: Settings
    board: SaleBoard
    slots: ProcessSlots
    store: StoreBoard
    master_pid: int = 0
    # Where the stock is decided: {"name": "sqlite"} or Redis's, with its durability.
    engine: dict[str, Any] = field(default_factory=lambda: {"name": "sqlite"})

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

    def workers_json(self) -> dict[str, int]:
        # Counted by pid: a worker still being forked is not alive yet.
        return {"alive": len(self.slots.live_pids()), "configured": self.settings.workers}

    def processes(self) -> list[ProcessUsage]:
        """CPU and memory of the master, the allocator and every worker alive."""
        pids = [("master", self.master_pid), ("allocator", self.board.allocator().pid)]
        pids += [("worker", pid) for pid in self.slots.live_pids()]
        return usage_of_all(pids)

    def processes_json(self) -> list[dict[str, object]]:
        return [usage.to_json() for usage in self.processes()]

    def uptime_s(self) -> float:
        started = self.board.server_started_at_us
        return round(max(time.time() - started / 1e6, 0.0), 3) if started else 0.0
