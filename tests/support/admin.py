"""The admin API as the tests call it: sales made, changed and read, the audit trail
walked page by page, and what an engine recorded (the journal, or Redis), read directly."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import requests

from flashsale.records import OrderRecord
from flashsale.redis_engine.store import RedisStore

SALES = "/flash-sale/admin/sales"
TIMEOUT_S = 30


class Admin:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}

    def create(self, body: Mapping[str, Any], **headers: str) -> requests.Response:
        return requests.post(
            self.url + SALES,
            json=body,
            headers={**self.headers, **_headers(headers)},
            timeout=TIMEOUT_S,
        )

    def patch(self, sale_id: int | str, body: Any, **headers: str) -> requests.Response:
        return requests.patch(
            f"{self.url}{SALES}/{sale_id}",
            json=body,
            headers={**self.headers, **_headers(headers)},
            timeout=TIMEOUT_S,
        )

    def sale(self, sale_id: int | str) -> requests.Response:
        return requests.get(f"{self.url}{SALES}/{sale_id}", headers=self.headers, timeout=TIMEOUT_S)

    def sales(self) -> list[dict[str, Any]]:
        answer = requests.get(self.url + SALES, headers=self.headers, timeout=TIMEOUT_S)
        assert answer.status_code == 200, answer.text
        sales: list[dict[str, Any]] = answer.json()["sales"]
        return sales

    def current(self) -> dict[str, Any]:
        answer = requests.get(
            self.url + "/flash-sale/admin/sale", headers=self.headers, timeout=TIMEOUT_S
        )
        assert answer.status_code == 200, answer.text
        current: dict[str, Any] = answer.json()
        return current

    def fresh_sale(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new sale that replaces the current one (If-Match with its ETag)."""
        made = self.create(body, if_match=self.current()["etag"])
        assert made.status_code == 201, made.text
        sale: dict[str, Any] = made.json()
        return sale

    def audit(self, limit: int = 3) -> list[dict[str, Any]]:
        """The whole trail, walked `limit` entries a page."""
        entries: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor is not None:
                params["after"] = cursor
            answer = requests.get(
                f"{self.url}/flash-sale/admin/audit",
                params=params,
                headers=self.headers,
                timeout=TIMEOUT_S,
            )
            assert answer.status_code == 200, answer.text
            page = answer.json()
            assert len(page["entries"]) <= limit
            entries += page["entries"]
            cursor = page["next"]
            if cursor is None:
                return entries


def _headers(named: Mapping[str, str]) -> dict[str, str]:
    """if_match="x" -> {"If-Match": "x"}."""
    return {
        "-".join(part.title() for part in key.split("_")): value for key, value in named.items()
    }


class Recorded:
    """What an engine holds of a sale: its orders and the instants of its changes."""

    def __init__(self, db_path: Path, redis_url: str | None) -> None:
        self.db_path = db_path
        self.redis_url = redis_url

    def orders(self, sale_id: int) -> list[OrderRecord]:
        if self.redis_url is not None:
            store = RedisStore(self.redis_url, tag="flashsale", timeout_s=5.0)
            try:
                return store.orders_of_sale(sale_id)
            finally:
                store.close()
        with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT order_id, sale_id, user_id, unit, position, purchased_at_us, sku, "
                "sku_position FROM orders WHERE sale_id = ? ORDER BY position",
                (sale_id,),
            ).fetchall()
        return [OrderRecord(*row) for row in rows]

    def changes(self, sale_id: int) -> list[tuple[int, int, str]]:
        """(version, at_us, action) of each change of the sale, in order."""
        if self.redis_url is not None:
            store = RedisStore(self.redis_url, tag="flashsale", timeout_s=5.0)
            try:
                lines = store._client.lrange(f"{{flashsale}}:sale:{sale_id}:changes", 0, -1)
            finally:
                store.close()
            fields = [_text(line).split("\t") for line in lines]  # type: ignore[union-attr]
            return [(int(f[0]), int(f[1]), f[2]) for f in fields]
        with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT version, at_us, action FROM sale_changes WHERE sale_id = ? "
                "ORDER BY version",
                (sale_id,),
            ).fetchall()
        return [(version, at_us, action) for version, at_us, action in rows]


def _text(line: bytes | str) -> str:
    return line.decode() if isinstance(line, bytes) else line
