"""Every kind of bad input gets a 4xx with a JSON body, and changes nothing."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.load import journal_orders
from tests.support.raw_http import exchange
from tests.support.server import running_server

PURCHASE = "/flash-sale/purchase"
JSON = {"Content-Type": "application/json"}
TOKEN = "admin-token-for-tests"

# (name, method, path, headers, body, expected status)
CASES = [
    ("malformed JSON", "POST", PURCHASE, JSON, b'{"userId": "a"', 400),
    ("empty body", "POST", PURCHASE, JSON, b"", 400),
    ("whitespace body", "POST", PURCHASE, JSON, b"  \n ", 400),
    ("JSON array", "POST", PURCHASE, JSON, b'["userId"]', 400),
    ("JSON string", "POST", PURCHASE, JSON, b'"alice"', 400),
    ("JSON null", "POST", PURCHASE, JSON, b"null", 400),
    ("JSON number", "POST", PURCHASE, JSON, b"7", 400),
    ("missing userId", "POST", PURCHASE, JSON, b"{}", 400),
    ("empty userId", "POST", PURCHASE, JSON, b'{"userId": ""}', 400),
    ("number userId", "POST", PURCHASE, JSON, b'{"userId": 42}', 400),
    ("object userId", "POST", PURCHASE, JSON, b'{"userId": {"id": "a"}}', 400),
    ("list userId", "POST", PURCHASE, JSON, b'{"userId": ["a"]}', 400),
    ("null userId", "POST", PURCHASE, JSON, b'{"userId": null}', 400),
    ("boolean userId", "POST", PURCHASE, JSON, b'{"userId": true}', 400),
    ("duplicate userId keys", "POST", PURCHASE, JSON, b'{"userId": "a", "userId": "b"}', 400),
    ("NaN userId", "POST", PURCHASE, JSON, b'{"userId": NaN}', 400),
    ("Infinity userId", "POST", PURCHASE, JSON, b'{"userId": -Infinity}', 400),
    (
        "deeply nested userId",
        "POST",
        PURCHASE,
        JSON,
        b'{"userId": ' + b"[" * 1500 + b"]" * 1500 + b"}",
        400,
    ),
    (
        "deeply nested extra field",
        "POST",
        PURCHASE,
        JSON,
        b'{"userId": "a", "x": ' + b'{"a":' * 600 + b"1" + b"}" * 600 + b"}",
        400,
    ),
    ("unknown field", "POST", PURCHASE, JSON, b'{"userId": "a", "quantity": 2}', 400),
    (
        "userId of 65 characters",
        "POST",
        PURCHASE,
        JSON,
        json.dumps({"userId": "x" * 65}).encode(),
        400,
    ),
    (
        "userId of 65 emoji",
        "POST",
        PURCHASE,
        JSON,
        json.dumps({"userId": "\U0001f600" * 65}).encode(),
        400,
    ),
    ("control character", "POST", PURCHASE, JSON, b'{"userId": "a\\u0007b"}', 400),
    ("NUL", "POST", PURCHASE, JSON, b'{"userId": "a\\u0000b"}', 400),
    ("newline", "POST", PURCHASE, JSON, b'{"userId": "a\\nb"}', 400),
    ("lone surrogate", "POST", PURCHASE, JSON, b'{"userId": "\\ud800"}', 400),
    ("right-to-left override", "POST", PURCHASE, JSON, b'{"userId": "a\\u202eb"}', 400),
    ("slash", "POST", PURCHASE, JSON, b'{"userId": "a/b"}', 400),
    ("backslash", "POST", PURCHASE, JSON, b'{"userId": "a\\\\b"}', 400),
    ("dot-dot", "POST", PURCHASE, JSON, b'{"userId": ".."}', 400),
    ("padded", "POST", PURCHASE, JSON, b'{"userId": " alice "}', 400),
    ("invalid UTF-8", "POST", PURCHASE, JSON, b'{"userId": "\xff\xfe"}', 400),
    (
        "body over 4 KiB",
        "POST",
        PURCHASE,
        JSON,
        json.dumps({"userId": "a", "pad": "x" * 5000}).encode(),
        413,
    ),
    ("no Content-Type", "POST", PURCHASE, {}, b'{"userId": "a"}', 415),
    ("text/plain", "POST", PURCHASE, {"Content-Type": "text/plain"}, b'{"userId": "a"}', 415),
    (
        "form encoded",
        "POST",
        PURCHASE,
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"userId=a",
        415,
    ),
    (
        "latin-1 charset",
        "POST",
        PURCHASE,
        {"Content-Type": "application/json; charset=latin-1"},
        b'{"userId": "a"}',
        415,
    ),
    ("unknown path", "GET", "/flash-sale/nothing-here", {}, b"", 404),
    ("unknown API root", "POST", "/flash-sale", JSON, b"{}", 404),
    ("GET on purchase", "GET", PURCHASE, {}, b"", 405),
    ("DELETE on status", "DELETE", "/flash-sale/status", {}, b"", 405),
    ("PUT on look-up", "PUT", f"{PURCHASE}/alice", JSON, b"{}", 405),
    ("look-up with encoded slash", "GET", f"{PURCHASE}/a%2Fb", {}, b"", 404),
    ("look-up with encoded dots", "GET", f"{PURCHASE}/%2e%2e", {}, b"", 400),
    ("look-up with NUL", "GET", f"{PURCHASE}/a%00b", {}, b"", 400),
    ("look-up of 65 characters", "GET", f"{PURCHASE}/{'y' * 65}", {}, b"", 400),
    ("look-up with control character", "GET", f"{PURCHASE}/a%07b", {}, b"", 400),
    # WSGI decodes the path as latin-1: a printable id that bought nothing.
    ("look-up with non-UTF-8 encoding", "GET", f"{PURCHASE}/%ff%fe", {}, b"", 404),
    ("admin without token header", "GET", "/flash-sale/admin/sale", {}, b"", 401),
    (
        "admin with wrong token",
        "GET",
        "/flash-sale/admin/sale",
        {"Authorization": "Bearer wrong-token-value"},
        b"",
        401,
    ),
    (
        "admin with basic auth",
        "GET",
        "/flash-sale/admin/sale",
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        b"",
        401,
    ),
    (
        "admin negative stock",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": -1}',
        400,
    ),
    (
        "admin string stock",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": "100"}',
        400,
    ),
    (
        "admin boolean stock",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": true}',
        400,
    ),
    (
        "admin bad startsAt",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": 1, "startsAt": "soon"}',
        400,
    ),
    (
        "admin end before start",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": 1, "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"}',
        400,
    ),
    # Times the server cannot hold: it once made the sale, then answered 500.
    (
        "admin startsAt in year 1",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": 5, "startsAt": "0001-01-01T00:00:00+14:00"}',
        400,
    ),
    (
        "admin startsAt just before the epoch",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": 5, "startsAt": "1969-12-31T23:59:59.999999Z"}',
        400,
    ),
    (
        "admin endsAt after year 9999",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": 5, "endsAt": "9999-12-31T23:59:59.999999-01:00"}',
        400,
    ),
    (
        "admin end equal to a start at the epoch",
        "POST",
        "/flash-sale/admin/sale",
        {**JSON, "Authorization": f"Bearer {TOKEN}"},
        b'{"stock": 5, "startsAt": "1970-01-01T00:00:00Z", "endsAt": "1970-01-01T00:00:00Z"}',
        400,
    ),
]

# Requests gunicorn itself refuses before the app sees them: sent raw.
RAW_CASES = [
    ("over-long request line", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("over-long header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    ("look-up of ..", b"GET /flash-sale/purchase/.. HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (
        "chunked userId too long",
        b"POST /flash-sale/purchase HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"52\r\n" + b'{"userId": "' + b"x" * 68 + b'"}' + b"\r\n0\r\n\r\n",
        400,
    ),
    (
        "too many headers",
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(60))
        + b"\r\n",
        431,
    ),
    ("malformed request line", b"BUY\r\n\r\n", 400),
    (
        "non-numeric Content-Length",
        b"POST /flash-sale/purchase HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: lots\r\n\r\n",
        400,
    ),
    (
        "bad chunk size",
        b"POST /flash-sale/purchase HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n",
        400,
    ),
    (
        "over-long chunked body",
        b"POST /flash-sale/purchase HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % 5000
        + b"{" * 5000
        + b"\r\n0\r\n\r\n",
        413,
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(
        tmp_path_factory.mktemp("bad-input") / "journal.db",
        workers=2,
        env={"FLASHSALE_ADMIN_TOKEN": TOKEN, "FLASHSALE_STOCK": "10"},
    ) as server:
        yield server


def assert_json_error(status: int, content_type: str, body: bytes, expected: int) -> None:
    assert status == expected
    assert content_type == "application/problem+json", content_type
    error = json.loads(body)
    assert error["title"] and error["detail"]  # what is wrong, in words
    assert error["type"].startswith("/problems/") and error["status"] == expected


@pytest.mark.parametrize(
    ("name", "method", "path", "headers", "body", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_request_gets_a_json_4xx(server, name, method, path, headers, body, expected):
    answer = requests.request(method, server.url + path, headers=headers, data=body, timeout=10)
    assert_json_error(
        answer.status_code, answer.headers.get("Content-Type", ""), answer.content, expected
    )


@pytest.mark.parametrize(("name", "raw", "expected"), RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_malformed_http_gets_a_json_4xx(server, name, raw, expected):
    answer = exchange(server.port, raw)
    assert answer.status is not None, "closed without an answer"
    assert_json_error(answer.status, answer.headers.get("content-type", ""), answer.body, expected)


def test_bad_input_changed_nothing(server):
    # Runs after the parametrized cases (file order): still nothing sold.
    status = server.status()
    assert (status["sold"], status["remaining"], status["saleId"]) == (0, 10, 1)
    assert journal_orders(server.db_path) == {}
    metrics = requests.get(f"{server.url}/flash-sale/metrics", timeout=5).json()
    assert metrics["outcomes"]["confirmed"] == 0
    assert metrics["outcomes"]["invalid"] >= 30
    assert server.health() is not None


def test_admin_is_off_without_a_token(start_server):
    plain = start_server(workers=1)
    for method in ("GET", "POST"):
        answer = requests.request(
            method,
            f"{plain.url}/flash-sale/admin/sale",
            headers={**JSON, "Authorization": "Bearer anything-at-all"},
            data=b'{"stock": 1}',
            timeout=5,
        )
        assert answer.status_code == 404
        assert answer.json()["title"]


def test_a_sale_at_the_calendars_edge_is_held_and_shown_across_a_restart(start_server):
    server = start_server(workers=2, env={"FLASHSALE_ADMIN_TOKEN": TOKEN})
    body = {"stock": 5, "startsAt": "1970-01-01T00:00:00Z", "endsAt": "9999-12-31T23:59:59.999999Z"}
    created = requests.post(
        f"{server.url}/flash-sale/admin/sale",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    for _ in range(2):  # as served, then as recovered from the journal
        status = server.status()
        assert (status["saleId"], status["state"]) == (2, "open")
        assert status["startsAt"] == "1970-01-01T00:00:00.000Z"
        assert status["endsAt"] == "9999-12-31T23:59:59.999Z"
        server.stop()
        server.start()
    assert "Traceback" not in server.log()
