"""Redis decisions per second by batch size: `RedisStore.decide` called directly,
as the allocator's Redis thread calls it, with no HTTP and no allocator.

A redis-server of its own (stress/servers/redis_server.py: appendonly yes, appendfsync
always, so each FCALL is fsynced before it answers), one sale far larger than
the load, and batches of distinct users, each batch built before its call is
timed. The figures: decisions/s and µs per decision over the time inside
`decide` (the round trip, Redis's work and fsync, and parsing the answer),
and Redis's own CPU per decision from /proc (flashsale.processes).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flashsale.catalogue import ProductSettings
from flashsale.config import Settings
from flashsale.processes import usage_of
from flashsale.records import SaleTerms
from flashsale.redis_engine.store import MAX_BATCH, BatchPurchase, RedisStore
from stress.runs import new_run_id
from stress.servers.redis_server import RedisServer

DECIDE_STOCK = 100_000_000  # no batch of the run sells out
STORE_TIMEOUT_S = 30.0
KEY_TAG = "stress"
# What the allocator sends: the server's own default rate limit (counted in Redis).
DEFAULTS = Settings()
RATE_LIMIT, RATE_WINDOW_S = DEFAULTS.rate_limit, DEFAULTS.rate_window_s


def decide_figures(
    folder: Path, batch_sizes: Sequence[int], seconds_per_size: float
) -> list[dict[str, Any]]:
    """One row per batch size: decisions, decisions/s, µs per decision, Redis CPU."""
    for size in batch_sizes:
        if not 1 <= size <= MAX_BATCH:
            raise ValueError(f"batch size {size}: from 1 to {MAX_BATCH}")
    rows = []
    with RedisServer(folder) as redis:
        store = RedisStore(redis.url, tag=KEY_TAG, timeout_s=STORE_TIMEOUT_S)
        try:
            store.load_library()
            product = ProductSettings().product(DECIDE_STOCK)
            store.start_sale(SaleTerms((product,), 1, None, None))
            for size in batch_sizes:
                rows.append(_one_size(store, redis.pid, product.sku, size, seconds_per_size))
        finally:
            store.close()
    return rows


def _one_size(
    store: RedisStore, redis_pid: int, sku: str, size: int, seconds: float
) -> dict[str, Any]:
    prefix = f"d{new_run_id()}-{size}"
    outcomes: Counter[str] = Counter()
    inside_s = 0.0
    calls = decisions = 0
    redis_before = _cpu_s(redis_pid)
    ours_before = time.process_time()
    started = time.monotonic()
    while calls == 0 or time.monotonic() - started < seconds:
        batch = [
            BatchPurchase(os.urandom(16), f"{prefix}-{decisions + i}", sku, False)
            for i in range(size)
        ]
        began = time.perf_counter()
        result = store.decide(batch, RATE_LIMIT, RATE_WINDOW_S)
        inside_s += time.perf_counter() - began
        outcomes.update(decided.outcome.name for decided in result.decisions)
        calls += 1
        decisions += size
    redis_cpu_s = _cpu_s(redis_pid) - redis_before
    ours_s = time.process_time() - ours_before
    return {
        "batch": size,
        "calls": calls,
        "decisions": decisions,
        "decisionsPerS": round(decisions / inside_s) if inside_s > 0 else None,
        "usPerDecision": round(inside_s * 1e6 / decisions, 1),
        "usPerCall": round(inside_s * 1e6 / calls),
        "redisCpuUsPerDecision": round(redis_cpu_s * 1e6 / decisions, 1),
        # The caller's CPU (building the batch, redis-py, parsing the answer).
        "callerCpuUsPerDecision": round(ours_s * 1e6 / decisions, 1),
        "redisCpuShare": round(redis_cpu_s / inside_s, 2) if inside_s > 0 else None,
        "outcomes": dict(outcomes),
        "allConfirmed": set(outcomes) == {"CONFIRMED"},
    }


def _cpu_s(pid: int) -> float:
    usage = usage_of("redis-server", pid)
    return 0.0 if usage is None else usage.cpu_s


def decide_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "  batch    calls  decisions  decisions/s  µs/decision  µs/call  "
        "Redis CPU µs/decision  caller CPU µs/decision  Redis busy",
    ]
    for row in rows:
        share = row["redisCpuShare"]
        lines.append(
            f"  {row['batch']:>5} {row['calls']:>8} {row['decisions']:>10} "
            f"{row['decisionsPerS']:>12,} {row['usPerDecision']:>12} {row['usPerCall']:>8} "
            f"{row['redisCpuUsPerDecision']:>22} {row['callerCpuUsPerDecision']:>23} "
            f"{'-' if share is None else f'{share:.0%}':>11}"
            + ("" if row["allConfirmed"] else f"  NOT ALL CONFIRMED: {row['outcomes']}")
        )
    return lines
