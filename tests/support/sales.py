"""The admin calls the tests make about sales, each written once.

`start_next_sale` is the one place a test starts a sale after the current one:
today a second `POST /flash-sale/admin/sale` replaces the sale in progress; once
the admin API refuses that without `replaces` (issue 23's lifecycle), only this
function changes.
"""

from __future__ import annotations

from typing import Any

import requests

ADMIN_SALE_PATH = "/flash-sale/admin/sale"


def admin_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start_next_sale(url: str, token: str, **body: Any) -> dict[str, Any]:
    """A new sale (`body`: the admin API's fields, `{"stock": 10}` by default) after
    the current one, which ends; returns the new sale's JSON."""
    answer = requests.post(
        url + ADMIN_SALE_PATH,
        json=body or {"stock": 10},
        headers=admin_headers(token),
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    sale: dict[str, Any] = answer.json()
    return sale
