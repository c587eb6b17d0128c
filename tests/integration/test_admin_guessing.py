"""Guessing the admin token, as an attacker would: slowed down, logged, nothing changed."""

from __future__ import annotations

import requests

from flashsale.api.bearer import FAILURE_LIMIT as ADMIN_FAILURE_LIMIT

TOKEN = "the-right-admin-token"
SALE = "/flash-sale/admin/sale"


def _start_sale(url: str, token: str, **headers: str) -> requests.Response:
    return requests.post(
        f"{url}{SALE}",
        json={"stock": 3},
        # Each replaces the sale in progress (If-Match: any version of it).
        headers={"Authorization": f"Bearer {token}", "If-Match": "*", **headers},
        timeout=10,
    )


def test_repeated_wrong_tokens_from_one_address_are_refused_with_429(start_server):
    server = start_server(workers=2, env={"FLASHSALE_ADMIN_TOKEN": TOKEN})
    guesses = [_start_sale(server.url, f"guess-{n:04d}") for n in range(ADMIN_FAILURE_LIMIT)]
    assert [g.status_code for g in guesses] == [401] * ADMIN_FAILURE_LIMIT  # over both workers
    for guess in guesses:  # RFC 6750: the token is refused, not the request
        assert (
            guess.headers["WWW-Authenticate"] == 'Bearer realm="flashsale", error="invalid_token"'
        )
        assert guess.json()["type"] == "/problems/invalid-token"

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


# The smallest rate table: 8 buckets of 8 windows, so a thousand ids evict any window
# that the limiter lets go.
SMALL_TABLE = {"FLASHSALE_RATE_TABLE_SIZE": "64"}
FLOOD = 1000


def _guess_until_refused(url: str, **headers: str) -> None:
    answers = [_start_sale(url, f"guess-{n:04d}", **headers) for n in range(ADMIN_FAILURE_LIMIT)]
    assert [a.status_code for a in answers] == [401] * ADMIN_FAILURE_LIMIT
    assert _start_sale(url, "guess-next", **headers).status_code == 429


def _buy(session: requests.Session, url: str, user_id: str) -> int:
    return session.post(
        f"{url}/flash-sale/purchase", json={"userId": user_id}, timeout=10
    ).status_code


def test_a_flood_of_distinct_shoppers_forgets_no_lockout(start_server):
    # Found by flooding: 139,000 distinct userIds evicted the guesser's window, and
    # its next wrong token was counted from 1 again (401, not 429).
    server = start_server(workers=2, env={"FLASHSALE_ADMIN_TOKEN": TOKEN, **SMALL_TABLE})
    _guess_until_refused(server.url)
    with requests.Session() as session:
        patient = [_buy(session, server.url, "patient") for _ in range(11)]
        assert patient[0] == 201 and patient[-1] == 429  # at their own limit
        answers = {_buy(session, server.url, f"flood-{n:05d}") for n in range(FLOOD)}
        assert answers <= {201, 410}, answers  # each a first attempt
        # A shopper at the limit keeps their window: flood windows go first.
        assert _buy(session, server.url, "patient") == 429
    assert _start_sale(server.url, "guess-after-flood").status_code == 429
    assert _start_sale(server.url, TOKEN).status_code == 429
    assert server.log().count("admin: wrong token from 127.0.0.1") == ADMIN_FAILURE_LIMIT


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
        assert answer.status_code == 401, (forged, answer.status_code)
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


def test_ipv6_clients_behind_a_trusted_proxy_are_counted_by_their_64(start_server):
    server = start_server(workers=1, env={"FLASHSALE_ADMIN_TOKEN": TOKEN})
    # One /64 is one client: rotating the low 64 bits gives no more guesses.
    hosts = [f"2001:db8:1:2::{n:x}" for n in range(1, ADMIN_FAILURE_LIMIT + 1)]
    for host in hosts:
        assert _start_sale(server.url, "guess", **{"X-Forwarded-For": host}).status_code == 401
    assert (
        _start_sale(server.url, "guess", **{"X-Forwarded-For": "2001:db8:1:2::ffff"}).status_code
        == 429
    )
    # Another /64, and the peer, are other clients.
    assert (
        _start_sale(server.url, TOKEN, **{"X-Forwarded-For": "2001:db8:1:3::1"}).status_code == 201
    )
    assert _start_sale(server.url, TOKEN).status_code == 201
    log = server.log()
    assert log.count("admin: wrong token from 2001:db8:1:2::") == ADMIN_FAILURE_LIMIT
