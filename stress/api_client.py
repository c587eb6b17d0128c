"""The toolkit's own calls to the service over `requests` (not the shoppers'
traffic): the sale it starts, the status, metrics and health it reads, and the
sessions its look-ups and launchers use."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import requests

from stress.api import (
    ADMIN_SALES_PATH,
    AUDIT_PATH,
    HEALTH_PATH,
    JSON_HEADERS,
    METRICS_PATH,
    REPLACE_CURRENT_SALE,
    STATUS_PATH,
    orders_path,
    queue_audit_path,
    sale_path,
)

API_TIMEOUT_S = 10.0
# The largest page the admin API gives (orders and the audit trail alike).
PAGE_LIMIT = 1000


def decode_json(answer: requests.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def new_session() -> requests.Session:
    """A session for loopback load: no proxy or netrc look-up per request, which
    costs a third of requests' CPU time per call and changes nothing on 127.0.0.1."""
    session = requests.Session()
    session.trust_env = False
    return session


class ApiError(RuntimeError):
    """The server answered an API call of the toolkit itself unexpectedly."""


class Api:
    """The toolkit's own calls to the service (not the shoppers' traffic)."""

    def __init__(self, base_url: str, admin_token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self.session = new_session()
        # A server with an operator token shows its figures only with it: the
        # toolkit takes it from the same variable the server reads.
        operator_token = os.environ.get("FLASHSALE_OPERATOR_TOKEN")
        self._operator = {"Authorization": f"Bearer {operator_token}"} if operator_token else {}

    def close(self) -> None:
        self.session.close()

    def _get_json(self, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        answer = self.session.get(self.base_url + path, headers=headers, timeout=API_TIMEOUT_S)
        if answer.status_code != 200:
            raise ApiError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        return decode_json(answer)

    def status(self) -> dict[str, Any]:
        return self._get_json(STATUS_PATH)

    def metrics(self) -> dict[str, Any] | None:
        try:
            return self._get_json(METRICS_PATH, self._operator)
        except (ApiError, requests.RequestException):
            return None

    def health(self) -> dict[str, Any] | None:
        try:
            answer = self.session.get(
                self.base_url + HEALTH_PATH, headers=self._operator, timeout=API_TIMEOUT_S
            )
        except requests.RequestException:
            return None
        return decode_json(answer) if answer.status_code == 200 else None

    def start_sale(
        self,
        stock: int,
        per_user_limit: int = 1,
        starts_at: str | None = None,
        products: Sequence[dict[str, Any]] = (),
        checkout: dict[str, int] | None = None,
        queue: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new sale of `stock` items of the default product, or of `products`
        (the admin API's product objects, each with its stock) when given, with the
        `checkout` window given (None: final sales) and the waiting room's `queue`
        term (None: no queue); it replaces the current sale, even one in progress."""
        if not self.admin_token:
            raise ApiError("starting a sale needs --admin-token")
        body: dict[str, Any] = {"perUserLimit": per_user_limit, "startsAt": starts_at}
        if checkout is not None:
            body["checkout"] = checkout
        if queue is not None:
            body["queue"] = queue
        if products:
            body["products"] = list(products)
        else:
            body["stock"] = stock
        answer = self.session.post(
            self.base_url + ADMIN_SALES_PATH,
            data=json.dumps(body),
            headers={
                **JSON_HEADERS,
                **REPLACE_CURRENT_SALE,
                "Authorization": f"Bearer {self.admin_token}",
            },
            timeout=API_TIMEOUT_S,
        )
        if answer.status_code not in (200, 201):
            raise ApiError(
                f"POST {ADMIN_SALES_PATH} answered {answer.status_code}: {answer.text[:300]}"
            )
        return decode_json(answer)

    def _admin(self) -> dict[str, str]:
        if not self.admin_token:
            raise ApiError("the admin API needs --admin-token")
        return {"Authorization": f"Bearer {self.admin_token}"}

    def change_sale(self, sale_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """PATCH the sale (pause, resume): the status and the answer, whatever they are."""
        answer = self.session.patch(
            self.base_url + sale_path(sale_id),
            data=json.dumps(body),
            headers={**JSON_HEADERS, **self._admin()},
            timeout=API_TIMEOUT_S,
        )
        return answer.status_code, decode_json(answer)

    def orders(self, sale_id: str) -> list[dict[str, Any]]:
        """Every order of the sale as the server recorded it, in position order."""
        return self._pages(orders_path(sale_id), "orders")

    def queue_record(self, sale_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The recorded order of the sale's queue (every ticket, by place), and the
        record's other fields (shuffledAt, serving) as its last page gave them."""
        last: dict[str, Any] = {}
        tickets = self._pages(queue_audit_path(sale_id), "tickets", last)
        return tickets, {k: v for k, v in last.items() if k not in ("tickets", "next")}

    def audit(self) -> list[dict[str, Any]]:
        """The whole audit trail, oldest first."""
        return self._pages(AUDIT_PATH, "entries")

    def _pages(
        self, path: str, key: str, last: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a cursor-paged admin list (`{key: [...], "next": cursor}`);
        `last`, when given, is filled with the last page."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_LIMIT}
            if cursor is not None:
                params["after"] = cursor
            answer = self.session.get(
                self.base_url + path, params=params, headers=self._admin(), timeout=API_TIMEOUT_S
            )
            if answer.status_code != 200:
                raise ApiError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
            page = decode_json(answer)
            if last is not None:
                last.clear()
                last.update(page)
            found = page.get(key)
            items += found if isinstance(found, list) else []
            following = page.get("next")
            if not isinstance(following, str) or not following:
                return items
            cursor = following
