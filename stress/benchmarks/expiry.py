"""`python -m stress expiry`: what 10,000 holds expiring in the same second cost the
purchases being decided meanwhile (issue 24: their p99 within 2x of idle).

A journal is filled before its server starts (as stress.servers.journal_fill does):
a sale with a checkout window whose `holds` held orders all expire within one second,
`lead_s` after the fill, spread evenly over it. The server starts and rebuilds its
expiry heap from them. Purchases (new buyers, each a hold of its own of a unit left)
run at a steady `rate` on `connections` connections from the server's readiness to
after the holds are gone; the status is sampled to see when `held` fell. Figures:
the purchases' latency before the expiry second (idle) and from it until the status
shows the expired holds gone (during), and their ratio.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flashsale.config import Settings
from flashsale.journal import Journal
from flashsale.records import CheckoutTerms, OrderRecord, SaleTerms, order_id_for
from stress.scenarios.checkout import Client
from stress.servers.gunicorn_server import FlashSaleServer
from stress.stats import percentile

BATCH = 5000
HOLD_S = 600  # the sale's window: the benchmark's own purchases never expire in it
# The filled holds not gone this long after their second: the run stops, failed.
MAX_EXPIRY_S = 60.0


@dataclass(frozen=True)
class ExpiryOptions:
    holds: int = 10_000
    lead_s: float = 30.0  # from the fill to the expiry second: the server's boot and idle
    rate: float = 200.0  # purchases a second, in all
    connections: int = 8
    workers: int = 2
    after_s: float = 3.0  # purchases go on this long after the holds are gone


def fill(db_path: Path, holds: int, extra: int, expire_at_us: int) -> None:
    """A checkout sale of holds + extra units, `holds` of them held and expiring within
    the second from `expire_at_us`."""
    product = replace(Settings.from_env({}).first_products()[0], stock=holds + extra)
    journal = Journal(db_path)
    try:
        sale = journal.create_sale(SaleTerms((product,), 1, None, None, CheckoutTerms(HOLD_S, 0)))
        for start in range(1, holds + 1, BATCH):
            positions = range(start, min(start + BATCH, holds + 1))
            journal.record(
                [
                    OrderRecord(
                        order_id_for(os.urandom(16)),
                        sale.sale_id,
                        f"held-{p:06d}",
                        1,
                        p,
                        sale.created_at_us + p,
                        product.sku,
                        p,
                    )
                    for p in positions
                ]
            )
        spacing = 1_000_000 // max(holds, 1)
        with journal.transaction():
            journal.db.executemany(
                "UPDATE orders SET state = 'held', expires_at_us = ?, token_sha256 = ? "
                "WHERE sale_id = ? AND position = ?",
                [
                    (
                        expire_at_us + (p - 1) * spacing,
                        hashlib.sha256(os.urandom(32)).digest(),
                        sale.sale_id,
                        p,
                    )
                    for p in range(1, holds + 1)
                ],
            )
    finally:
        journal.close()


async def _load(
    url: str, options: ExpiryOptions, expire_at_s: float
) -> tuple[list[tuple[float, float, int]], list[tuple[float, int]]]:
    """(sent, latency, status) of every purchase, and (time, held) samples."""
    host, port = url.removeprefix("http://").split(":")
    records: list[tuple[float, float, int]] = []
    samples: list[tuple[float, int]] = []
    done = asyncio.Event()
    mine = [0]  # the run's own holds (201s): `held` counts them too
    deadline = expire_at_s + options.after_s + MAX_EXPIRY_S
    gap = options.connections / options.rate

    async def buyer(k: int) -> None:
        client = Client(host, int(port))
        n = 0
        next_at = time.time() + k * gap / options.connections
        try:
            while not done.is_set():
                await asyncio.sleep(max(0.0, next_at - time.time()))
                next_at += gap
                n += 1
                sent = time.time()
                answer = await client.call(
                    "POST", "/flash-sale/purchase", {"userId": f"buyer-{k}-{n}"}
                )
                records.append((sent, time.time() - sent, answer.status))
                mine[0] += answer.status == 201
        finally:
            client.close()

    async def sampler() -> None:
        client = Client(host, int(port))
        gone_at: float | None = None
        try:
            while True:
                status = (await client.call("GET", "/flash-sale/status")).json()
                now = time.time()
                held = int(status.get("held") or 0) - mine[0]  # the filled ones left
                samples.append((now, held))
                if gone_at is None and now > expire_at_s and held < options.holds // 100:
                    gone_at = now
                if (gone_at is not None and now > gone_at + options.after_s) or now > deadline:
                    done.set()
                    return
                await asyncio.sleep(0.02)
        finally:
            client.close()

    await asyncio.gather(sampler(), *(buyer(k) for k in range(options.connections)))
    return records, samples


def measure_expiry(options: ExpiryOptions) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flashsale-expiry-") as tmp:
        db = Path(tmp) / "journal.db"
        expire_at_s = float(int(time.time() + options.lead_s))  # a whole second
        extra = int(options.rate * (options.lead_s + 60)) + 1000
        fill(db, options.holds, extra, int(expire_at_s * 1_000_000))
        with FlashSaleServer(db, workers=options.workers) as server:
            ready_s = time.time()
            held_at_start = int(server.status().get("held") or 0)
            records, samples = asyncio.run(_load(server.url, options, expire_at_s))
            mine = sum(code == 201 for _, _, code in records)
            held_after = int(server.status().get("held") or 0) - mine
    gone_s = next(
        (t for t, held in samples if t > expire_at_s and held < options.holds // 100), None
    )
    idle = sorted(lat for sent, lat, _ in records if ready_s + 1 <= sent < expire_at_s - 0.5)
    end = (gone_s or expire_at_s + 1) + 0.25
    during = sorted(lat for sent, lat, _ in records if expire_at_s - 0.05 <= sent < end)
    statuses: dict[str, int] = {}
    for _, _, code in records:
        statuses[str(code)] = statuses.get(str(code), 0) + 1

    def ms(values: list[float], fraction: float) -> float | None:
        value = percentile(values, fraction)
        return None if value is None else round(value * 1000, 2)

    idle_p99, during_p99 = ms(idle, 0.99), ms(during, 0.99)
    return {
        "holds": options.holds,
        "heldAtStart": held_at_start,
        "heldAfter": held_after,
        "expiredWithinS": None if gone_s is None else round(gone_s - expire_at_s, 3),
        "rate": options.rate,
        "connections": options.connections,
        "workers": options.workers,
        "purchases": len(records),
        "statuses": statuses,
        "idle": {"n": len(idle), "p50Ms": ms(idle, 0.5), "p99Ms": idle_p99},
        "during": {
            "n": len(during),
            "p50Ms": ms(during, 0.5),
            "p99Ms": idle_p99 and during_p99,
            "maxMs": ms(during, 1.0),
        },
        "p99Ratio": (
            None if not idle_p99 or during_p99 is None else round(during_p99 / idle_p99, 2)
        ),
        "ok": bool(idle_p99 and during_p99 is not None and during_p99 <= 2 * idle_p99)
        and held_after < options.holds // 100,
    }


def format_expiry(figures: dict[str, Any]) -> str:
    idle, during = figures["idle"], figures["during"]
    return (
        f"expiry: {figures['holds']:,} holds expiring in one second "
        f"({figures['heldAtStart']:,} held at start, {figures['heldAfter']:,} after; "
        f"gone {figures['expiredWithinS']} s after the second began)\n"
        f"  purchases at {figures['rate']:g}/s on {figures['connections']} connections, "
        f"{figures['workers']} workers: {figures['purchases']:,} ({figures['statuses']})\n"
        f"  idle:   n={idle['n']} p50 {idle['p50Ms']} ms, p99 {idle['p99Ms']} ms\n"
        f"  during: n={during['n']} p50 {during['p50Ms']} ms, p99 {during['p99Ms']} ms, "
        f"max {during['maxMs']} ms\n"
        f"  p99 during / idle: {figures['p99Ratio']} (target <= 2): "
        + ("PASSED" if figures["ok"] else "FAILED")
    )
