"""Every kind of bad input gets a 4xx with a JSON body, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support.load import journal_orders
from tests.support.raw_http import exchange
from tests.support.server import running_server

PURCHASE = "/flash-sale/purchase"
ADMIN_SALE = "/flash-sale/admin/sale"
JSON = {"Content-Type": "application/json"}
TOKEN = "admin-token-for-tests"
AS_ADMIN = {**JSON, "Authorization": f"Bearer {TOKEN}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LATIN_1 = {"Content-Type": "application/json; charset=latin-1"}
NESTED_USER_ID = b'{"userId": ' + b"[" * 1500 + b"]" * 1500 + b"}"
NESTED_FIELD = b'{"userId": "a", "x": ' + b'{"a":' * 600 + b"1" + b"}" * 600 + b"}"

# (name, method, path, headers, body, expected status)
Case = tuple[str, str, str, dict[str, str], bytes, int]


def purchase_case(name: str, body: bytes, status: int, headers: dict[str, str] = JSON) -> Case:
    return (name, "POST", PURCHASE, headers, body, status)


def admin_get_case(name: str, status: int, authorization: str | None = None) -> Case:
    headers = {} if authorization is None else {"Authorization": authorization}
    return (name, "GET", ADMIN_SALE, headers, b"", status)


def admin_sale_case(name: str, body: bytes, status: int) -> Case:
    """A new sale, sent with the admin token."""
    return (name, "POST", ADMIN_SALE, AS_ADMIN, body, status)


def user_id(value: str) -> bytes:
    return json.dumps({"userId": value}).encode()


CASES = [
    purchase_case("malformed JSON", b'{"userId": "a"', 400),
    purchase_case("empty body", b"", 400),
    purchase_case("whitespace body", b"  \n ", 400),
    purchase_case("JSON array", b'["userId"]', 400),
    purchase_case("JSON string", b'"alice"', 400),
    purchase_case("JSON null", b"null", 400),
    purchase_case("JSON number", b"7", 400),
    purchase_case("missing userId", b"{}", 400),
    purchase_case("empty userId", b'{"userId": ""}', 400),
    purchase_case("number userId", b'{"userId": 42}', 400),
    purchase_case("object userId", b'{"userId": {"id": "a"}}', 400),
    purchase_case("list userId", b'{"userId": ["a"]}', 400),
    purchase_case("null userId", b'{"userId": null}', 400),
    purchase_case("boolean userId", b'{"userId": true}', 400),
    purchase_case("duplicate userId keys", b'{"userId": "a", "userId": "b"}', 400),
    purchase_case("NaN userId", b'{"userId": NaN}', 400),
    purchase_case("Infinity userId", b'{"userId": -Infinity}', 400),
    purchase_case("deeply nested userId", NESTED_USER_ID, 400),
    purchase_case("deeply nested extra field", NESTED_FIELD, 400),
    purchase_case("unknown field", b'{"userId": "a", "quantity": 2}', 400),
    purchase_case("userId of 65 characters", user_id("x" * 65), 400),
    purchase_case("userId of 65 emoji", user_id("\U0001f600" * 65), 400),
    purchase_case("control character", b'{"userId": "a\\u0007b"}', 400),
    purchase_case("NUL", b'{"userId": "a\\u0000b"}', 400),
    purchase_case("newline", b'{"userId": "a\\nb"}', 400),
    purchase_case("lone surrogate", b'{"userId": "\\ud800"}', 400),
    purchase_case("right-to-left override", b'{"userId": "a\\u202eb"}', 400),
    purchase_case("slash", b'{"userId": "a/b"}', 400),
    purchase_case("backslash", b'{"userId": "a\\\\b"}', 400),
    purchase_case("dot-dot", b'{"userId": ".."}', 400),
    purchase_case("padded", b'{"userId": " alice "}', 400),
    purchase_case("invalid UTF-8", b'{"userId": "\xff\xfe"}', 400),
    purchase_case("body over 4 KiB", json.dumps({"userId": "a", "pad": "x" * 5000}).encode(), 413),
    purchase_case("no Content-Type", b'{"userId": "a"}', 415, headers={}),
    purchase_case("text/plain", b'{"userId": "a"}', 415, headers={"Content-Type": "text/plain"}),
    purchase_case("form encoded", b"userId=a", 415, headers=FORM),
    purchase_case("latin-1 charset", b'{"userId": "a"}', 415, headers=LATIN_1),
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
    admin_get_case("admin without token header", 401),
    admin_get_case("admin with wrong token", 401, "Bearer wrong-token-value"),
    admin_get_case("admin with basic auth", 401, "Basic YWRtaW46YWRtaW4="),
    admin_sale_case("admin negative stock", b'{"stock": -1}', 400),
    admin_sale_case("admin string stock", b'{"stock": "100"}', 400),
    admin_sale_case("admin boolean stock", b'{"stock": true}', 400),
    admin_sale_case("admin bad startsAt", b'{"stock": 1, "startsAt": "soon"}', 400),
    admin_sale_case(
        "admin end before start",
        b'{"stock": 1, "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"}',
        400,
    ),
    # Times the server cannot hold: it once made the sale, then answered 500.
    admin_sale_case(
        "admin startsAt in year 1", b'{"stock": 5, "startsAt": "0001-01-01T00:00:00+14:00"}', 400
    ),
    admin_sale_case(
        "admin startsAt just before the epoch",
        b'{"stock": 5, "startsAt": "1969-12-31T23:59:59.999999Z"}',
        400,
    ),
    admin_sale_case(
        "admin endsAt after year 9999",
        b'{"stock": 5, "endsAt": "9999-12-31T23:59:59.999999-01:00"}',
        400,
    ),
    admin_sale_case(
        "admin end equal to a start at the epoch",
        b'{"stock": 5, "startsAt": "1970-01-01T00:00:00Z", "endsAt": "1970-01-01T00:00:00Z"}',
        400,
    ),
]

RAW_POST = b"POST /flash-sale/purchase HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
RAW_CHUNKED = RAW_POST + b"Transfer-Encoding: chunked\r\n\r\n"
SIXTY_HEADERS = b"".join(b"X-H%d: v\r\n" % i for i in range(60))


def chunked(body: bytes) -> bytes:
    """A purchase whose body is sent in one chunk, then the last (empty) one."""
    return RAW_CHUNKED + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


# Requests gunicorn itself refuses before the app sees them: sent raw.
RAW_CASES = [
    ("over-long request line", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("over-long header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    ("look-up of ..", b"GET /flash-sale/purchase/.. HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("chunked userId too long", chunked(b'{"userId": "' + b"x" * 68 + b'"}'), 400),
    ("too many headers", b"GET / HTTP/1.1\r\nHost: x\r\n" + SIXTY_HEADERS + b"\r\n", 431),
    ("malformed request line", b"BUY\r\n\r\n", 400),
    ("non-numeric Content-Length", RAW_POST + b"Content-Length: lots\r\n\r\n", 400),
    ("bad chunk size", RAW_CHUNKED + b"zz\r\n{}\r\n0\r\n\r\n", 400),
    ("over-long chunked body", chunked(b"{" * 5000), 413),
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
    body: dict[str, Any] = {
        "stock": 5,
        "startsAt": "1970-01-01T00:00:00Z",
        "endsAt": "9999-12-31T23:59:59.999999Z",
    }
    created = requests.post(
        f"{server.url}/flash-sale/admin/sale",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}", "If-Match": "*"},
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
