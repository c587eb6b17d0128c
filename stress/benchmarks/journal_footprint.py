"""`python -m stress journal`: the disk a sale's journal needs, measured.

Sales are recorded straight into a temporary journal (WAL, synchronous=FULL,
the autocheckpoint as in production), in commits of a given size, by buyers
whose ids are short and in order or UUIDs in random order (the buyers' index
then takes them all over its pages). Printed: the database's bytes per order
once checkpointed, and the largest the WAL and its index (-shm) grew between
checkpoints. A sale of N orders needs about N times the first plus the second.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from flashsale.catalogue import ProductSettings
from flashsale.journal import Journal, OrderRecord, order_id_for
from flashsale.journal_room import MIB, file_bytes

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


def measure(*, orders: int, per_commit: int, ids: str, journal_dir: Path) -> dict:
    path = journal_dir / "journal.db"
    journal = Journal(path)
    try:
        sale = journal.create_sale([PRODUCT.product(orders)], 1, None, None)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress journal", description=__doc__)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--per-commit", type=int, default=20, help="sales a commit")
    parser.add_argument(
        "--ids",
        choices=ID_KINDS,
        default="uuid",
        help="buyers' ids: short and in order, or UUIDs in random order",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flashsale-journal-") as tmp:
        figures = measure(
            orders=args.orders, per_commit=args.per_commit, ids=args.ids, journal_dir=Path(tmp)
        )
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"journal: {figures['orders']:,} orders ({figures['ids']} ids, "
            f"{figures['perCommit']} a commit): {figures['bytesPerOrder']} bytes an order "
            f"({figures['databaseBytes'] / MIB:.1f} MiB); WAL at most "
            f"{figures['walPeakBytes'] / MIB:.1f} MiB between checkpoints, its index "
            f"{figures['shmPeakBytes'] / 1024:.0f} KiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
