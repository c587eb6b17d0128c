"""The disk a sale's journal needs (`python -m stress journal`): sales recorded
straight into a temporary journal in commits of a given size; the bytes an order
once checkpointed and the WAL's and its index's peaks between checkpoints."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from flashsale.catalogue import ProductSettings
from flashsale.journal import Journal
from flashsale.journal_room import file_bytes
from flashsale.records import OrderRecord, SaleTerms, order_id_for

PRODUCT = ProductSettings()
ID_KINDS = ("short", "uuid")


def user_ids(kind: str, count: int) -> list[str]:
    if kind == "short":
        return [f"user-{n:07d}" for n in range(count)]
    return [str(uuid.uuid4()) for _ in range(count)]


def _order(sale_id: int, position: int, buyer: str) -> OrderRecord:
    now_us = time.time_ns() // 1000
    return OrderRecord(
        order_id_for(os.urandom(16)), sale_id, buyer, 1, position, now_us, PRODUCT.sku, position
    )


def measure(*, orders: int, per_commit: int, ids: str, journal_dir: Path) -> dict[str, Any]:
    path = journal_dir / "journal.db"
    journal = Journal(path)
    try:
        sale = journal.create_sale(SaleTerms((PRODUCT.product(orders),), 1, None, None))
        journal.checkpoint()
        empty_bytes = file_bytes(path)
        buyers = user_ids(ids, orders)
        wal_peak = shm_peak = 0
        for start in range(0, orders, per_commit):
            ends = min(start + per_commit, orders)
            batch = [_order(sale.sale_id, n + 1, buyers[n]) for n in range(start, ends)]
            journal.record(batch)
            wal_peak = max(wal_peak, file_bytes(Path(f"{path}-wal")))
            shm_peak = max(shm_peak, file_bytes(Path(f"{path}-shm")))
        journal.checkpoint()
        db_bytes = file_bytes(path)
    finally:
        journal.close()
    return {
        "orders": orders,
        "perCommit": per_commit,
        "ids": ids,
        "databaseBytes": db_bytes,
        "bytesPerOrder": round((db_bytes - empty_bytes) / orders),
        "walPeakBytes": wal_peak,
        "shmPeakBytes": shm_peak,
    }
