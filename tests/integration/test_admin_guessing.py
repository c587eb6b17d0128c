"""Guessing the admin token, as an attacker would: slowed down, logged, nothing changed."""

from __future__ import annotations

import requests

from flashsale.api.bearer import FAILURE_LIMIT as ADMIN_FAILURE_LIMIT

TOKEN = "the-right-admin-token"
SALE = "/flash-sale/admin/sale"


def _start_sale(url: str, token: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{url}{SALE}", json={"stock": 3},
        headers={"Authorization": f"Bearer {token}", **headers}, timeout=10,
    )  # fmt: skip


def test_repeated_wrong_tokens_from_one_address_are_refused_with_429(start_server):
    server = start_server(workers=2, env={"FLASHSALE_ADMIN_TOKEN": TOKEN})
    guesses = [_start_sale(server.url, f"guess-{n:04d}") for n in range(ADMIN_FAILURE_LIMIT)]
    assert [g.status_code for g in guesses] == [403] * ADMIN_FAILURE_LIMIT  # over both workers

    refused = _start_sale(server.url, "guess-next")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.json()["title"] == "Too many wrong tokens"
    # Even the right token: a lucky guess cannot be told from the owner.
    assert _start_sale(server.url, TOKEN).status_code == 429
    # Another client (behind the trusted proxy at 127.0.0.1) is not held up.
    other = _start_sale(server.url, TOKEN, **{"X-Forwarded-For": "203.0.113.9"})
    assert other.status_code == 201, other.text

    assert server.status()["saleId"] == 2  # only the other client's sale was made
    log = server.log()
    assert log.count("admin: wrong token from 127.0.0.1") == ADMIN_FAILURE_LIMIT
    assert log.count("admin: 127.0.0.1 refused for") == 1
    assert "Traceback" not in log


FORGED = (
    "not-an-address",
    "<script>alert(1)</script>",
    "203.0.113.7\t[2030-01-01 00:00:00 +0000] [1] [INFO] flashsale.admin: sale 9 started",
    "fe80::1%<b>",
    "203.0.113.7:8080",
    "198.51.100.1, 203.0.113.900",
)


def test_an_unparsable_forwarded_for_is_not_an_address(start_server):
    # Found by rotating X-Forwarded-For from a trusted peer (127.0.0.1): 12 admin
    # guesses and no 429, and the log wrote the header as "the address".
    server = start_server(workers=2, env={"FLASHSALE_ADMIN_TOKEN": TOKEN})
    for n in range(ADMIN_FAILURE_LIMIT):
        forged = FORGED[n % len(FORGED)]
        answer = _start_sale(server.url, f"guess-{n:04d}", **{"X-Forwarded-For": forged})
        assert answer.status_code == 403, (forged, answer.status_code)
    assert (
        _start_sale(server.url, "guess-next", **{"X-Forwarded-For": "garbage"}).status_code == 429
    )
    # Counted as the peer that sent them: the peer itself is refused too.
    assert _start_sale(server.url, "guess-plain").status_code == 429

    log = server.log()
    assert log.count("admin: wrong token from 127.0.0.1 ") == ADMIN_FAILURE_LIMIT
    for forged in FORGED:  # no part of any: not even the addresses left of a bad hop
        for part in forged.replace(",", "\t").split("\t"):
            assert part.strip() not in log, part
    assert "<" not in log
