"""A sale's orders, read by the operator (pages and CSV) and by a shopper of an earlier
sale, against real servers (the SQLite journal; the Redis engine: test_redis_orders).

Every page and every CSV row is compared with the journal's orders table, read
directly; the edges of paging, the CSV's quoting and formula defusing, the bound
on exports at once and a downloader that stops reading are tried on the wire.
"""

from __future__ import annotations

import base64
import socket
import time

import jwt
import pytest
import requests

from flashsale.api.paging import encode_cursor
from stress.servers.journal_fill import fill_journal
from tests.integration.test_burst import PATIENT
from tests.support.orders import (
    ADMIN,
    ADMIN_TOKEN,
    CSV_HEADER,
    TRICKY_USERS,
    as_in_csv,
    assert_problem,
    buy_all,
    csv_rows,
    download,
    journal_rows,
    look_up,
    orders_url,
    page,
    walk,
)
from tests.support.sales import admin_headers, start_next_sale
from tests.support.server import ServerProcess, wait_until

# -- a sale of two products, sold in part -------------------------------------------------------
SKUS = ("mug-red", "mug-blue")
TWO_PRODUCTS = [
    {"sku": SKUS[0], "name": "Red mug", "priceCents": 900, "currency": "EUR", "stock": 40},
    {"sku": SKUS[1], "name": "Blue mug", "priceCents": 900, "currency": "EUR", "stock": 40},
]
SOLD = 37  # 10 tricky ids and 27 plain ones


@pytest.fixture(scope="module")
def sold_server(tmp_path_factory):
    """Sale 1, the journal's first, with no order; sale 2 of two products, SOLD of 80 sold."""
    folder = tmp_path_factory.mktemp("orders")
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, **PATIENT}
    with ServerProcess(folder / "journal.db", workers=2, env=env) as server:
        sale = start_next_sale(server.url, ADMIN_TOKEN, products=TWO_PRODUCTS)
        assert sale["saleId"] == 2
        wait_until(lambda: server.status()["saleId"] == 2, 10, message="the new sale")
        users = [*TRICKY_USERS, *(f"plain-{i:02d}" for i in range(SOLD - len(TRICKY_USERS)))]
        buy_all(server, [(user, SKUS[i % 2]) for i, user in enumerate(users)])
        yield server


@pytest.mark.parametrize("limit", [None, 1, 7, 37, 1000])
def test_every_page_walked_is_the_journals_orders_row_for_row(sold_server, limit):
    expected = journal_rows(sold_server.db_path, 2)
    assert len(expected) == SOLD
    assert walk(sold_server, 2, limit) == expected


def test_the_csv_is_the_journals_orders_row_for_row_quoted_and_defused(sold_server):
    answer = download(sold_server, 2)

    expected = journal_rows(sold_server.db_path, 2)
    assert csv_rows(answer) == as_in_csv(expected)
    assert answer.headers["Content-Disposition"] == 'attachment; filename="sale-2-orders.csv"'
    raw = answer.content.decode("utf-8")
    # A formula is text once its first character is a quote; quotes and commas are quoted.
    for line in ("'=1+1,", "'+SUM(A1),", "'-2,", "'@here,", "'=wide,", ",plain,", ",it's,"):
        assert line in raw, line
    assert '"\'=HYPERLINK(""evil.example"",""y"")"' in raw
    assert ',"a,b",' in raw and ',"say ""hi""",' in raw


def test_a_sale_without_orders_has_an_empty_page_and_a_csv_of_its_header(sold_server):
    answer = page(sold_server, 1)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"orders": [], "next": None}
    csv_answer = download(sold_server, 1)
    assert csv_rows(csv_answer) == []
    assert csv_answer.content == CSV_HEADER


def test_the_last_page_has_no_next_and_a_cursor_goes_on_where_it_stopped(sold_server):
    expected = journal_rows(sold_server.db_path, 2)
    whole = page(sold_server, 2, limit=SOLD).json()
    assert (whole["orders"], whole["next"]) == (expected, None)  # exactly full: no next

    first = page(sold_server, 2, limit=SOLD - 1).json()
    assert first["orders"] == expected[:-1] and isinstance(first["next"], str)
    again = page(sold_server, 2, limit=SOLD - 1).json()
    assert again["next"] == first["next"]  # stable: the same page, the same cursor
    last = page(sold_server, 2, limit=5, after=first["next"]).json()
    assert last == {"orders": expected[-1:], "next": None}


def test_an_after_beyond_the_end_is_an_empty_last_page(sold_server):
    for position in (SOLD, SOLD + 1, 10**12):
        answer = page(sold_server, 2, after=encode_cursor("orders-2", position))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"orders": [], "next": None}


BAD_LIMITS = ("0", "1001", "-1", "abc", "1.5", "", " 5", "+5", "1e2", "\uff15", "9" * 20)


@pytest.mark.parametrize("limit", BAD_LIMITS)
def test_a_limit_outside_1_to_1000_is_a_400_naming_it(sold_server, limit):
    assert_problem(page(sold_server, 2, limit=limit), 400, "invalid-parameter", "limit")


def test_a_limit_given_twice_is_a_400(sold_server):
    answer = requests.get(
        orders_url(sold_server, 2) + "?limit=5&limit=6", headers=ADMIN, timeout=30
    )
    assert_problem(answer, 400, "invalid-parameter", "limit")


def forged(text: str) -> str:
    """A cursor's form (base64url, unpadded) around what the server never writes."""
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


MALFORMED_CURSORS = {
    "empty": "",
    "not base64url": "!!!!",
    "base64 of nothing we wrote": "YWJj",
    "padded": encode_cursor("orders-2", 5) + "=",
    "another sale's": encode_cursor("orders-1", 5),
    "the audit's": encode_cursor("audit", 5),
    "a negative position": forged("orders-2:-5"),
    "a leading zero": forged("orders-2:05"),
    "no position": forged("orders-2:"),
    "a huge position": forged("orders-2:" + "9" * 30),
    "not UTF-8": base64.urlsafe_b64encode(b"\xff\xfe:5").rstrip(b"=").decode(),
    "long": "A" * 1000,
}


@pytest.mark.parametrize("case", MALFORMED_CURSORS)
def test_a_malformed_cursor_is_a_400_naming_after(sold_server, case):
    answer = page(sold_server, 2, after=MALFORMED_CURSORS[case])
    assert_problem(answer, 400, "invalid-parameter", "after")


@pytest.mark.parametrize("sale_id", ["3", "999", "0", "-1", "01", "1.0", "abc", "9" * 30])
def test_an_unknown_sale_is_a_404_for_its_pages_and_its_csv(sold_server, sale_id):
    assert_problem(page(sold_server, sale_id), 404, "unknown-sale")
    assert_problem(download(sold_server, sale_id), 404, "unknown-sale")


def test_the_orders_need_the_admin_token(sold_server):
    for url in (orders_url(sold_server, 2), orders_url(sold_server, 2) + ".csv"):
        none = requests.get(url, timeout=30)
        assert_problem(none, 401, "token-required")
        assert none.headers["WWW-Authenticate"] == 'Bearer realm="flashsale"'
        wrong = requests.get(url, headers=admin_headers("not-the-admin-token"), timeout=30)
        assert_problem(wrong, 401, "invalid-token")
        assert wrong.headers["WWW-Authenticate"].endswith('error="invalid_token"')


def test_without_an_admin_token_the_orders_are_not_there(start_server):
    server = start_server(workers=1)
    for url in (orders_url(server, 1), orders_url(server, 1) + ".csv"):
        assert_problem(requests.get(url, headers=ADMIN, timeout=30), 404, "not-found")


# -- a shopper's earlier sale --------------------------------------------------------------
def test_an_earlier_sales_buyer_finds_their_order_with_its_sale_id(start_server):
    server = start_server(workers=2, env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, **PATIENT})
    bought = requests.post(
        f"{server.url}/flash-sale/purchase", json={"userId": "alice"}, timeout=30
    ).json()
    assert bought["saleId"] == 1

    start_next_sale(server.url, ADMIN_TOKEN, stock=5)
    wait_until(lambda: server.status()["saleId"] == 2, 10, message="the new sale")

    assert_problem(look_up(server, "alice"), 404, "no-purchase")  # the current sale by default
    earlier = look_up(server, "alice", saleId="1")
    assert earlier.status_code == 200, earlier.text
    found = earlier.json()
    assert (found["orderId"], found["saleId"], found["units"]) == (bought["orderId"], 1, 1)
    (order,) = found["orders"]
    assert order["state"] == "confirmed"  # the look-up says each order's state
    assert {k: v for k, v in order.items() if k in bought} == {
        k: bought[k] for k in order if k in bought
    }
    assert_problem(look_up(server, "alice", saleId="2"), 404, "no-purchase")
    assert_problem(look_up(server, "alice", saleId="3"), 404, "unknown-sale")
    for malformed in ("", "abc", "0", "-1", "01", "1.5", " 1", "\uff11", "9" * 30):
        assert_problem(look_up(server, "alice", saleId=malformed), 400, "invalid-parameter")

    # The current sale, asked for by its id or not; and the earlier sale's orders stay listed.
    requests.post(f"{server.url}/flash-sale/purchase", json={"userId": "bob"}, timeout=30)
    assert look_up(server, "bob").json()["saleId"] == 2
    assert look_up(server, "bob", saleId="2").json()["saleId"] == 2
    assert [order["userId"] for order in walk(server, 1, None)] == ["alice"]
    assert [order["userId"] for order in csv_rows(download(server, 1))] == ["alice"]


def test_an_earlier_sales_buyer_finds_their_own_order_with_a_signed_token(start_server):
    secret = "a-test-secret-that-is-32-chars-long!"
    server = start_server(
        workers=1,
        env={
            "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
            "FLASHSALE_AUTH": "jwt",
            "FLASHSALE_JWT_SECRET": secret,
        },
    )

    def token(sub: str) -> dict[str, str]:
        claims = {"sub": sub, "iat": int(time.time()), "exp": int(time.time()) + 600}
        return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}

    bought = requests.post(
        f"{server.url}/flash-sale/purchase", json={}, headers=token("carol"), timeout=30
    ).json()
    start_next_sale(server.url, ADMIN_TOKEN, stock=5)
    wait_until(lambda: server.status()["saleId"] == 2, 10, message="the new sale")

    mine = look_up(server, "me", token("carol"), saleId="1")
    assert mine.status_code == 200, mine.text
    assert (mine.json()["orderId"], mine.json()["saleId"]) == (bought["orderId"], 1)
    assert_problem(look_up(server, "me", token("carol")), 404, "no-purchase")
    assert_problem(look_up(server, "me", token("carol"), saleId="7"), 404, "unknown-sale")
    assert_problem(look_up(server, "me", token("carol"), saleId="x"), 400, "invalid-parameter")
    # Someone else's order of the earlier sale stays theirs.
    assert_problem(look_up(server, "carol", token("dave"), saleId="1"), 404, "no-purchase")


# -- many orders: the export's bound, and a downloader that stops reading -------------------------
FILLED = 100_000


def test_exports_beyond_the_bound_get_503_and_a_stalled_one_lets_go_once_closed(
    start_server, tmp_path
):
    sale = fill_journal(tmp_path / "journal.db", orders=FILLED, stock=FILLED + 100)
    server = start_server(
        workers=1,
        env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, "FLASHSALE_EXPORTS_PER_WORKER": "1", **PATIENT},
    )
    stalled = _stalled_download(server, sale.sale_id)
    try:
        refused = download(server, sale.sale_id)
        assert_problem(refused, 503, "exports-busy")
        assert int(refused.headers["Retry-After"]) >= 1
        # The worker serves everything else meanwhile: a page of orders, a purchase.
        assert page(server, sale.sale_id, limit=3).status_code == 200
        bought = requests.post(
            f"{server.url}/flash-sale/purchase", json={"userId": "meanwhile"}, timeout=30
        )
        assert bought.status_code == 201, bought.text
    finally:
        stalled.close()

    def exported() -> bool:
        return download(server, sale.sale_id).status_code == 200

    wait_until(exported, 30, interval_s=0.5, message="the export slot let go")
    rows = csv_rows(download(server, sale.sale_id))
    assert len(rows) == FILLED + 1
    assert [row["position"] for row in rows] == list(range(1, FILLED + 2))
    assert rows[-1]["userId"] == "meanwhile"


def test_an_export_whose_client_takes_nothing_is_cut_off_and_its_slot_let_go(
    start_server, tmp_path
):
    sale = fill_journal(tmp_path / "journal.db", orders=FILLED, stock=FILLED)
    server = start_server(
        workers=1,
        env={
            "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
            "FLASHSALE_EXPORTS_PER_WORKER": "1",
            "FLASHSALE_EXPORT_STALL_S": "2",
        },
    )
    stalled = _stalled_download(server, sale.sale_id)
    try:
        assert_problem(download(server, sale.sale_id), 503, "exports-busy")
        # Still open, never read again: the server closes it once the stall is over.
        wait_until(
            lambda: download(server, sale.sale_id).status_code == 200,
            30,
            interval_s=0.5,
            message="the stalled export cut off",
        )
        assert "cut off: its client took nothing for 2 s" in server.log()
        # The connection was closed before the answer's end: a client sees it cut short.
        assert not _read_until_closed(stalled).endswith(b"\r\n0\r\n\r\n")
    finally:
        stalled.close()


def _read_until_closed(conn: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := conn.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _stalled_download(server: ServerProcess, sale_id: int) -> socket.socket:
    """A download that reads its answer's head and stops reading, its receive window
    small: the server cannot finish it, so it holds its export slot."""
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.settimeout(30)
    conn.connect(("127.0.0.1", server.port))
    conn.sendall(
        f"GET /flash-sale/admin/sales/{sale_id}/orders.csv HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n".encode()
    )
    head = conn.recv(1024)
    assert head.startswith(b"HTTP/1.1 200"), head
    return conn
