"""The admin calls the tests make about sales, each written once.

`start_next_sale` is the one place a test starts a sale after the current one: it
replaces the sale in progress (`If-Match: *`, any version of it), which the admin
API otherwise refuses (409).
"""

from __future__ import annotations

from typing import Any

import requests

ADMIN_SALES_PATH = "/flash-sale/admin/sales"


def admin_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start_next_sale(url: str, token: str, **body: Any) -> dict[str, Any]:
    """A new sale (`body`: the admin API's fields, `{"stock": 10}` by default) after
    the current one, which ends; returns the new sale's JSON."""
    answer = requests.post(
        url + ADMIN_SALES_PATH,
        json=body or {"stock": 10},
        headers={**admin_headers(token), "If-Match": "*"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    sale: dict[str, Any] = answer.json()
    return sale
