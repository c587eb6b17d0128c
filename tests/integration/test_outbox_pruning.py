"""The journal's outbox is pruned by the allocator (its one writer), against a real
server: events the sender has finished and older than the webhooks' max age are
deleted; newer ones, and any the sender has not finished, stay.

The journal is prepared before the server starts: an outbox with finished events
two days old and an hour old, and the sender's progress past them. The allocator
prunes once at its start, then every minute (flashsale.webhooks.pruning).
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import requests

from flashsale.webhooks.progress import Progress, progress_path
from flashsale.webhooks.pruning import PRUNE_AT_MOST
from stress.servers.webhook_receiver import WebhookReceiver
from tests.support.server import running_server, wait_until
from tests.support.webhooks import SECRET, outbox_rows, webhook_env

DAY_US = 86_400 * 1_000_000
OLD, RECENT = 1_200, 30


def _prepare(db_path: Path) -> None:
    """Finished events: OLD of two days ago, then RECENT of an hour ago."""
    now_us = time.time_ns() // 1000
    at = [now_us - 2 * DAY_US] * OLD + [now_us - DAY_US // 24] * RECENT
    with closing(sqlite3.connect(db_path)) as db, db:
        db.executemany(
            "INSERT INTO webhook_outbox (event_id, type, order_id, sale_id, at_us, payload) "
            "VALUES (?, 'order.confirmed', NULL, 1, ?, '{}')",
            [(f"evt_prepared{i:012d}", at_us) for i, at_us in enumerate(at)],
        )
        (last,) = db.execute("SELECT max(seq) FROM webhook_outbox").fetchone()
    progress = Progress(progress_path(db_path))
    progress.close()
    with closing(sqlite3.connect(progress_path(db_path))) as db, db:
        db.execute("UPDATE progress SET through_seq = ? WHERE id = 1", (last,))


def test_finished_events_older_than_the_max_age_are_pruned(tmp_path) -> None:
    assert OLD <= PRUNE_AT_MOST  # one prune takes them all
    db_path = tmp_path / "j.db"
    with WebhookReceiver(SECRET) as receiver:
        # Max age one day (the outbox table is made by the first start).
        env = webhook_env(receiver.url, FLASHSALE_WEBHOOK_MAX_AGE_S="86400")
        with running_server(db_path, workers=1, env=env):
            pass
        _prepare(db_path)
        with running_server(db_path, workers=1, env=env) as server:
            wait_until(
                lambda: len(outbox_rows(db_path)) == RECENT, 60, message="the old events pruned"
            )
            # What is new is kept, delivered or not.
            bought = requests.post(
                f"{server.url}/flash-sale/purchase", json={"userId": "after"}, timeout=10
            )
            assert bought.status_code == 201, bought.text
            wait_until(lambda: receiver.received, 30, message="the new event delivered")
    rows = outbox_rows(db_path)
    assert [row["event_id"] for row in rows[:RECENT]] == [
        f"evt_prepared{i:012d}" for i in range(OLD, OLD + RECENT)
    ]
    assert [row["type"] for row in rows[RECENT:]] == ["order.confirmed"]
