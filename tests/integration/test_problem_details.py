"""Every error answer of a running server is a problem (RFC 9457): `application/problem+json`
with `type`, `title`, `status` and `detail`, whoever writes it (Falcon's error path, the
purchase's refusals, the event streams, the serving layer, the UI's files), and each `type`
resolves to a page that says what it means.

The walk provokes every kind of problem it can on real servers; the few it cannot are
named in NOT_PROVOKED with the test that does (or why none can), and the registry may not
hold a type that is in neither.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import requests

from flashsale.api.bearer import FAILURE_LIMIT
from flashsale.api.problems import BY_SLUG, PROBLEMS
from flashsale.api.security import CONTENT_SECURITY_POLICY
from flashsale.queue_tickets import Ticket, ticket_text
from tests.support.raw_http import RawAnswer, connect, exchange, parse_answer
from tests.support.sales import start_next_sale
from tests.support.server import ServerProcess, running_server, wait_until
from tests.support.sse import ask_for_stream

ADMIN_TOKEN = "problem-walk-admin-token"
OPERATOR_TOKEN = "problem-walk-operator-token"
JWT_SECRET = "problem-walk-jwt-secret-of-32-characters"
PURCHASE = "/flash-sale/purchase"
SALE = "/flash-sale/admin/sale"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# The types no walk here provokes, and where they are checked instead.
NOT_PROVOKED = {
    "unavailable": "the breaker and the queue's bound: test_protection, test_resilience",
    "not-selling": "a journal that cannot be written: test_journal_faults",
    "starting": "only while the allocator recovers a sale",
    "internal-error": "only a bug: the handler of unexpected exceptions",
    "not-implemented": "a transfer coding gunicorn's C parser does not take",
    "exports-busy": "a worker's exports all streaming: test_orders",
}


def _http(server: ServerProcess, method: str, path: str, **kwargs) -> RawAnswer:
    answer = requests.request(method, server.url + path, timeout=10, **kwargs)
    headers = {name.lower(): value for name, value in answer.headers.items()}
    return RawAnswer(answer.status_code, headers, answer.content)


def _raw(server: ServerProcess, data: bytes, **kwargs) -> RawAnswer:
    return exchange(server.port, data, **kwargs)


def assert_problem(answer: RawAnswer, status: int, slug: str) -> dict:
    """The answer is the problem `slug` with HTTP code `status`; its members returned."""
    assert answer.status == status, (slug, answer)
    assert answer.headers.get("content-type") == "application/problem+json", (slug, answer)
    problem = json.loads(answer.body)
    kind = BY_SLUG[slug]
    assert problem["type"] == f"/problems/{slug}", problem
    assert problem["title"] == kind.title, problem
    assert problem["status"] == status == kind.status, problem
    assert isinstance(problem["detail"], str) and problem["detail"], problem
    return problem


def _buy(server: ServerProcess, user_id: str, **fields: object) -> RawAnswer:
    return _http(server, "POST", PURCHASE, json={"userId": user_id, **fields})


def _new_sale(server: ServerProcess, starts_at: str | None, ends_at: str | None) -> None:
    sale = {"stock": 1, "startsAt": starts_at, "endsAt": ends_at}
    replacing = {**ADMIN, "If-Match": "*"}  # the sale in progress, any version of it
    created = requests.post(server.url + SALE, json=sale, headers=replacing, timeout=10)
    assert created.status_code == 201, created.text


def _iso(offset_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_s))


JSON = {"Content-Type": "application/json"}
HEAD = b"Host: x\r\nContent-Type: application/json\r\n"

# (what, HTTP code, problem type, how) on a shop with one unit and a fresh sale, in order:
# no purchase is made before the sale's own steps below.
Provoke = Callable[[ServerProcess], RawAnswer]
BEFORE_ANY_SALE: list[tuple[str, int, str, Provoke]] = [
    (
        "malformed JSON",
        400,
        "invalid-json",
        lambda s: _http(s, "POST", PURCHASE, data=b"{", headers=JSON),
    ),
    ("a JSON array", 400, "invalid-body", lambda s: _http(s, "POST", PURCHASE, json=["ann"])),
    ("an empty userId", 400, "invalid-user-id", lambda s: _buy(s, "")),
    (
        "a look-up of an invalid id",
        400,
        "invalid-user-id",
        lambda s: _http(s, "GET", f"{PURCHASE}/a%07b"),
    ),
    ("a malformed sku", 400, "invalid-sku", lambda s: _buy(s, "zed", sku="not a sku")),
    (
        "a negative stock",
        400,
        "invalid-sale",
        lambda s: _http(s, "POST", SALE, json={"stock": -1}, headers=ADMIN),
    ),
    (
        "a malformed If-Modified-Since (Falcon's own 400)",
        400,
        "bad-request",
        lambda s: _http(
            s, "GET", "/flash-sale/images/aurora.svg", headers={"If-Modified-Since": "garbage"}
        ),
    ),
    ("a malformed request line", 400, "bad-request", lambda s: _raw(s, b"GARBAGE\r\n\r\n")),
    ("no Host", 400, "bad-request", lambda s: _raw(s, b"GET / HTTP/1.1\r\n\r\n")),
    ("the admin API without a token", 401, "token-required", lambda s: _http(s, "GET", SALE)),
    (
        "a wrong admin token",
        401,
        "invalid-token",
        lambda s: _http(s, "GET", SALE, headers={"Authorization": "Bearer not-the-token"}),
    ),
    (
        "a wrong operator token",
        401,
        "invalid-token",
        lambda s: _http(s, "GET", "/metrics", headers={"Authorization": "Bearer not-the-token"}),
    ),
    (
        "a WebSocket upgrade",
        403,
        "no-websocket",
        lambda s: _raw(
            s,
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ),
    ),
    ("no such API path", 404, "not-found", lambda s: _http(s, "GET", "/flash-sale/nothing")),
    ("no such picture", 404, "not-found", lambda s: _http(s, "GET", "/flash-sale/images/no.png")),
    ("no such problem type", 404, "not-found", lambda s: _http(s, "GET", "/problems/no-such")),
    ("nobody's order", 404, "no-purchase", lambda s: _http(s, "GET", f"{PURCHASE}/nobody")),
    ("an unknown product", 404, "unknown-product", lambda s: _buy(s, "zed", sku="no-such-sku")),
    (
        "DELETE on a route",
        405,
        "method-not-allowed",
        lambda s: _http(s, "DELETE", "/flash-sale/status"),
    ),
    ("PUT on a page", 405, "method-not-allowed", lambda s: _http(s, "PUT", "/dashboard")),
    (
        "POST to the event stream",
        405,
        "method-not-allowed",
        lambda s: _http(s, "POST", "/flash-sale/events"),
    ),
    (
        "a head that does not arrive",
        408,
        "request-timeout",
        lambda s: _raw(s, b"GET /flash-sale/status HTTP/1.1\r\nHo", half_close=False),
    ),
    (
        "a body that does not arrive",
        408,
        "request-timeout",
        lambda s: _raw(
            s,
            b"POST /flash-sale/purchase HTTP/1.1\r\n" + HEAD + b"Content-Length: 20\r\n\r\n{",
            half_close=False,
        ),
    ),
    (
        "a declared body too large (the serving layer)",
        413,
        "payload-too-large",
        lambda s: _raw(
            s, b"POST /flash-sale/purchase HTTP/1.1\r\n" + HEAD + b"Content-Length: 5000\r\n\r\n"
        ),
    ),
    (
        "a chunked body too large (the app)",
        413,
        "payload-too-large",
        lambda s: _raw(
            s,
            b"POST /flash-sale/purchase HTTP/1.1\r\n"
            + HEAD
            + b"Transfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % 5000
            + b"{" * 5000
            + b"\r\n0\r\n\r\n",
        ),
    ),
    (
        "a request line too long",
        414,
        "uri-too-long",
        lambda s: _raw(s, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ),
    (
        "a text body",
        415,
        "unsupported-media-type",
        lambda s: _http(s, "POST", PURCHASE, data=b"ann", headers={"Content-Type": "text/plain"}),
    ),
    (
        "a gzip body",
        415,
        "unsupported-media-type",
        lambda s: _http(
            s, "POST", PURCHASE, data=b"{}", headers={**JSON, "Content-Encoding": "gzip"}
        ),
    ),
    (
        "a header too large",
        431,
        "headers-too-large",
        lambda s: _raw(s, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"),
    ),
]


def _wrong_tokens_until_refused(server: ServerProcess) -> RawAnswer:
    guesser = {"X-Forwarded-For": "203.0.113.7"}  # behind the trusted proxy: its own count
    for n in range(FAILURE_LIMIT):
        guess = {"Authorization": f"Bearer guess-{n:04d}", **guesser}
        assert _http(server, "GET", SALE, headers=guess).status == 401
    return _http(server, "GET", SALE, headers={"Authorization": "Bearer last-guess", **guesser})


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Iterator[ServerProcess]:
    env = {
        "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
        "FLASHSALE_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "FLASHSALE_STOCK": "1",
        "FLASHSALE_RATE_LIMIT": "2",
        "FLASHSALE_HEADER_TIMEOUT_S": "1",
        "FLASHSALE_BODY_TIMEOUT_S": "1",
    }
    with running_server(
        tmp_path_factory.mktemp("shop") / "journal.db", workers=1, env=env
    ) as server:
        yield server


@pytest.mark.parametrize(
    ("what", "status", "slug", "provoke"),
    BEFORE_ANY_SALE,
    ids=[case[0] for case in BEFORE_ANY_SALE],
)
def test_each_error_of_the_app_and_the_serving_layer_is_a_problem(
    shop, what, status, slug, provoke
):
    assert_problem(provoke(shop), status, slug)


def test_each_refused_purchase_is_a_problem_with_its_outcome(shop):
    assert _buy(shop, "ann").status == 201
    refusals = [
        (_buy(shop, "ann"), 409, "already-purchased", "already_purchased"),
        (_buy(shop, "bob"), 410, "sold-out", "sold_out"),
        (_buy(shop, "ann"), 429, "rate-limited", "rate_limited"),  # ann's third of two
    ]
    _new_sale(shop, _iso(3600), None)
    refusals.append((_buy(shop, "dan"), 403, "not-started", "not_started"))
    _new_sale(shop, _iso(-7200), _iso(-3600))
    refusals.append((_buy(shop, "erin"), 403, "sale-ended", "ended"))
    for answer, status, slug, outcome in refusals:
        assert assert_problem(answer, status, slug)["outcome"] == outcome
    already = assert_problem(refusals[0][0], 409, "already-purchased")
    assert already["orderId"] and already["userId"] == "ann"
    assert refusals[2][0].headers["retry-after"]


def test_an_address_that_keeps_guessing_tokens_gets_a_problem(shop):
    assert_problem(_wrong_tokens_until_refused(shop), 429, "too-many-wrong-tokens")


def test_every_problem_type_is_a_page_that_says_what_it_means(shop):
    for problem in PROBLEMS:
        page = requests.get(shop.url + problem.uri, timeout=10)
        assert page.status_code == 200, problem.slug
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert f"<h1>{problem.title}</h1>" in page.text
        assert problem.meaning.split("`")[0][:40] in page.text


def test_the_event_streams_the_connection_bounds_and_the_missing_ui_answer_problems(
    start_server, tmp_path
):
    (tmp_path / "no-ui").mkdir()
    env = {
        "FLASHSALE_UI_DIR": str(tmp_path / "no-ui"),
        "FLASHSALE_EVENT_STREAMS_PER_ADDRESS": "1",
        "FLASHSALE_MAX_EVENT_STREAMS": "2",
        "FLASHSALE_CONNECTIONS_PER_ADDRESS": "3",
        "FLASHSALE_WORKER_CONNECTIONS": "12",
    }
    server = start_server(workers=1, env=env)
    assert_problem(_http(server, "GET", "/"), 503, "ui-not-built")
    held: list[Any] = []  # streams and sockets, each closed at the end
    try:
        held.append(ask_for_stream(server.port, "127.0.0.2"))
        second = ask_for_stream(server.port, "127.0.0.2")
        assert_problem(second.answer, 429, "too-many-event-streams")
        held.append(ask_for_stream(server.port, "127.0.0.3"))
        third = ask_for_stream(server.port, "127.0.0.4")
        assert_problem(third.answer, 503, "event-streams-full")
        connections = [_answered_connection(server, "127.0.0.5") for _ in range(3)]
        held.extend(connections)
        beyond = exchange(
            server.port, b"GET /flash-sale/status HTTP/1.1\r\nHost: x\r\n\r\n", source="127.0.0.5"
        )
        assert_problem(beyond, 429, "too-many-connections")
        # Fill the worker from other addresses until one is shed: 503 at once.
        for n in range(20):
            source = f"127.0.1.{n + 1}"
            conn = connect(server.port, source)
            held.append(conn)
            conn.sendall(b"GET /flash-sale/status HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = parse_answer(_read_head_and_body(conn))
            if answer.status != 200:
                assert_problem(answer, 503, "server-full")
                break
        else:
            raise AssertionError("no connection was shed")
    finally:
        for each in held:
            each.close()


def _answered_connection(server: ServerProcess, source: str):
    conn = connect(server.port, source)
    conn.sendall(b"GET /flash-sale/status HTTP/1.1\r\nHost: x\r\n\r\n")
    assert parse_answer(_read_head_and_body(conn)).status == 200
    return conn


def _read_head_and_body(conn) -> bytes:
    """One answer on a kept-alive connection: its head, then Content-Length bytes (or
    until the server closes, after a refusal)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = conn.recv(65536)
        if not chunk:
            return received
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        None,
    )
    while length is not None and len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _token(sub: str, **claims: object) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600, **claims}, JWT_SECRET)


def test_the_signed_shoppers_refusals_are_problems(start_server):
    server = start_server(
        workers=1, env={"FLASHSALE_AUTH": "jwt", "FLASHSALE_JWT_SECRET": JWT_SECRET}
    )
    anonymous = _http(server, "POST", PURCHASE, json={})
    assert_problem(anonymous, 401, "token-required")
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="flashsale"'
    expired = {"Authorization": f"Bearer {_token('alice', exp=int(time.time()) - 3600)}"}
    refused = _http(server, "POST", PURCHASE, json={}, headers=expired)
    assert_problem(refused, 401, "invalid-token")
    assert refused.headers["www-authenticate"].startswith(
        'Bearer realm="flashsale", error="invalid_token", error_description="'
    )
    alice = {"Authorization": f"Bearer {_token('alice')}"}
    not_hers = _http(server, "POST", PURCHASE, json={"userId": "bob"}, headers=alice)
    assert_problem(not_hers, 403, "not-your-id")
    assert_problem(_http(server, "GET", f"{PURCHASE}/bob", headers=alice), 404, "no-purchase")


def test_each_refusal_of_the_admin_api_is_a_problem(start_server):
    server = start_server(workers=1, env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN})
    sales = "/flash-sale/admin/sales"

    def create(body: dict[str, Any], **headers: str) -> RawAnswer:
        return _http(server, "POST", sales, json=body, headers={**ADMIN, **headers})

    def patch(sale_id: int, body: dict[str, Any]) -> RawAnswer:
        return _http(server, "PATCH", f"{sales}/{sale_id}", json=body, headers=ADMIN)

    first = server.status()["saleId"]
    assert_problem(create({"stock": 2}), 409, "sale-in-progress")
    assert_problem(
        create({"stock": 2}, **{"If-Match": '"sale-999-v1"'}), 412, "precondition-failed"
    )
    assert_problem(
        create({"stock": 2}, **{"Idempotency-Key": "a b"}), 400, "invalid-idempotency-key"
    )
    made = create({"stock": 2}, **{"If-Match": "*", "Idempotency-Key": "key-1"})
    assert made.status == 201, made
    second = json.loads(made.body)["saleId"]
    reused = create({"stock": 3}, **{"If-Match": "*", "Idempotency-Key": "key-1"})
    assert_problem(reused, 422, "idempotency-key-reused")
    assert_problem(patch(first, {"state": "paused"}), 409, "sale-not-current")
    assert patch(second, {"state": "paused"}).status == 200
    assert assert_problem(_buy(server, "ann"), 503, "sale-paused")["outcome"] == "paused"
    assert patch(second, {"state": "ended"}).status == 200
    assert_problem(patch(second, {"state": "open"}), 409, "sale-already-ended")
    orders = f"{sales}/{second}/orders"
    assert_problem(
        _http(server, "GET", orders + "?limit=0", headers=ADMIN), 400, "invalid-parameter"
    )
    assert_problem(_http(server, "GET", f"{sales}/999/orders", headers=ADMIN), 404, "unknown-sale")


CHECKOUT_TYPES = {
    "invalid-payment-ref",
    "unknown-order",
    "payment-ref-mismatch",
    "order-confirmed",
    "hold-not-extendable",
    "hold-already-extended",
    "hold-cancelled",
    "hold-expired",
    "waitlist-closed",
}


def test_checkout_problems(tmp_path):
    """A sale's checkout: each refusal of its endpoints, provoked against a real server."""
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    with running_server(tmp_path / "checkout.db", workers=2, env=env) as server:

        def sale(**checkout: int) -> None:
            start_next_sale(server.url, ADMIN_TOKEN, stock=1, checkout=checkout)

        def buy(user: str) -> dict[str, Any]:
            answer = requests.post(server.url + PURCHASE, json={"userId": user}, timeout=10)
            assert answer.status_code == 201, answer.text
            return dict(answer.json())

        def order(held: dict[str, Any], action: str, **body: Any) -> RawAnswer:
            return _http(
                server,
                "POST",
                f"/flash-sale/orders/{held['orderId']}/{action}",
                json=body or None,
                headers={"Authorization": f"Bearer {held['checkoutToken']}"},
            )

        sale(holdSeconds=600)
        paid = buy("ana")
        assert_problem(order(paid, "confirm", paymentRef=" "), 400, "invalid-payment-ref")
        unknown = {**paid, "orderId": "00000000-0000-4000-8000-000000000000"}
        assert_problem(order(unknown, "confirm", paymentRef="p"), 404, "unknown-order")
        assert_problem(order(paid, "extend"), 409, "hold-not-extendable")
        assert order(paid, "confirm", paymentRef="p1").status == 200
        # Sold out, and no hold left to come back: nobody may wait.
        waitlist = {"userId": "ben"}
        closed = _http(server, "POST", "/flash-sale/waitlist", json=waitlist)
        assert_problem(closed, 409, "waitlist-closed")
        assert_problem(order(paid, "confirm", paymentRef="p2"), 409, "payment-ref-mismatch")
        assert_problem(order(paid, "cancel"), 409, "order-confirmed")

        sale(holdSeconds=600, extendSeconds=60)
        kept = buy("cat")
        assert order(kept, "extend").status == 200
        assert_problem(order(kept, "extend"), 409, "hold-already-extended")
        assert order(kept, "cancel").status == 200
        assert_problem(order(kept, "confirm", paymentRef="p"), 409, "hold-cancelled")

        # A hold that expires while someone waits: its unit goes to them, and its late
        # confirm is refused.
        sale(holdSeconds=2)
        late = buy("dan")
        joined = requests.post(
            server.url + "/flash-sale/waitlist", json={"userId": "eve"}, timeout=10
        )
        assert joined.status_code == 201, joined.text

        def offered() -> bool:
            look = requests.get(server.url + "/flash-sale/purchase/eve", timeout=10)
            orders = look.json().get("orders") or [] if look.status_code == 200 else []
            return bool(orders) and orders[0]["state"] == "held"

        wait_until(offered, 30, message="the unit offered to eve")
        refused = assert_problem(order(late, "confirm", paymentRef="p"), 409, "hold-expired")
        assert refused["refundRequired"] is True


QUEUE_TYPES = {
    "no-queue",
    "queue-not-open",
    "queue-closed",
    "ticket-invalid",
    "unknown-ticket",
    "not-admitted",
    "proof-of-work-required",
    "proof-of-work-invalid",
}


def test_queue_problems(tmp_path):
    """A sale's waiting room: each refusal of its endpoints, provoked against a real server."""
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    with running_server(tmp_path / "queue.db", workers=2, env=env) as server:

        def join(**body: Any) -> RawAnswer:
            return _http(server, "POST", "/flash-sale/queue", json={"userId": "ana", **body})

        def sale(seconds: float, **queue: Any) -> None:
            start_next_sale(server.url, ADMIN_TOKEN, stock=1, startsAt=_iso(seconds), queue=queue)

        start_next_sale(server.url, ADMIN_TOKEN, stock=1)
        assert_problem(join(), 404, "no-queue")
        sale(600, opensAt=_iso(300))
        assert_problem(join(), 409, "queue-not-open")
        sale(600, proofOfWork=True)
        assert_problem(join(), 403, "proof-of-work-required")
        assert_problem(join(altcha="eyJ4IjogMX0="), 403, "proof-of-work-invalid")

        sale(2)
        ticket = json.loads(join().body)["ticket"]
        sale_id, number, rest = ticket.split(".", 2)
        forged = f"{sale_id}.{number}.{rest[:-4]}AAAA"
        assert_problem(_http(server, "GET", f"/flash-sale/queue/{forged}"), 403, "ticket-invalid")
        wait_until(
            lambda: (
                requests.get(server.url + "/flash-sale/status", timeout=10).json()["state"]
                == "open"
            ),
            30,
        )
        skipped = _http(server, "POST", PURCHASE, json={"userId": "ben"})
        assert_problem(skipped, 403, "not-admitted")
        bought = _http(
            server, "POST", PURCHASE, json={"userId": "ana"}, headers={"Flash-Sale-Ticket": ticket}
        )
        assert bought.status == 201, bought
        wait_until(
            lambda: (
                requests.get(server.url + "/flash-sale/status", timeout=10).json()["queue"]["state"]
                == "closed"
            ),
            30,
        )
        assert_problem(join(userId="cat"), 410, "queue-closed")
        # A ticket of this sale whose number was never issued (signed like one).
        sale(600)
        first = json.loads(join().body)["ticket"]
        read = _http(server, "GET", f"/flash-sale/queue/{first}")
        assert read.status == 200
        stale = _http(server, "GET", f"/flash-sale/queue/{ticket}")  # the previous sale's
        assert_problem(stale, 403, "ticket-invalid")
        assert_unknown_ticket(server)


def assert_unknown_ticket(server: ServerProcess) -> None:
    """A well-signed ticket of the current sale that the allocator never issued: only the
    journal's key could sign one, so it is made with it here."""
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        (key,) = db.execute("SELECT value FROM meta WHERE name = 'queue_ticket_key'").fetchone()
    sale_id = requests.get(server.url + "/flash-sale/status", timeout=10).json()["saleId"]
    never = ticket_text(bytes(key), Ticket(sale_id, 999, 0, "ana"))
    assert_problem(_http(server, "GET", f"/flash-sale/queue/{never}"), 404, "unknown-ticket")


def _walked() -> set[str]:
    """The types the tests above provoke."""
    return (
        {slug for _, _, slug, _ in BEFORE_ANY_SALE}
        | CHECKOUT_TYPES
        | QUEUE_TYPES
        | {
            "already-purchased",
            "sold-out",
            "rate-limited",
            "not-started",
            "sale-ended",
            "too-many-wrong-tokens",
            "ui-not-built",
            "too-many-event-streams",
            "event-streams-full",
            "too-many-connections",
            "server-full",
            "token-required",
            "invalid-token",
            "not-your-id",
            "no-purchase",
            "sale-in-progress",
            "precondition-failed",
            "invalid-idempotency-key",
            "idempotency-key-reused",
            "sale-not-current",
            "sale-paused",
            "sale-already-ended",
            "invalid-parameter",
            "unknown-sale",
        }
    )


def test_the_walk_covers_every_declared_type():
    declared = {problem.slug for problem in PROBLEMS}
    assert _walked() | set(NOT_PROVOKED) == declared
    assert not _walked() & set(NOT_PROVOKED)
