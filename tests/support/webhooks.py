"""Webhooks in the tests: a secret, the server's settings for a receiver, and the outbox
read directly from the journal."""

from __future__ import annotations

import base64
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

SECRET = "whsec_" + base64.b64encode(b"flash-sale-webhook-test-key-32b!").decode()


def webhook_env(url: str, **more: str) -> dict[str, str]:
    return {"FLASHSALE_WEBHOOK_URL": url, "FLASHSALE_WEBHOOK_SECRET": SECRET, **more}


def outbox_rows(db_path: Path) -> list[dict[str, Any]]:
    """The journal's outbox, in seq order."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM webhook_outbox ORDER BY seq").fetchall()
    return [dict(row) for row in rows]


def journal_order_rows(db_path: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM orders ORDER BY sale_id, position").fetchall()
    return [dict(row) for row in rows]
