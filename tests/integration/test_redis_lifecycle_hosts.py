"""The operator's sale on two hosts of one Redis, against two real servers (gunicorn, two
workers each) on one real redis-server: Redis decides every command, so what one host
did holds on the other at once (a 409, a replace, an idempotent retry), and a pause or
an end made on one host stops selling on every host within the interval hosts follow
the store at. The audit trail, read on either host, lists both hosts' actions in order,
across restarts of both and a kill -9 of Redis; the orders pages of both hosts are
Redis's orders list row for row."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from flashsale.redis_engine.decisions import FOLLOW_INTERVAL_S
from stress.servers.redis_server import RedisServer, redis_server_binary
from tests.integration.test_burst import PATIENT
from tests.integration.test_redis_orders import redis_rows
from tests.support.admin import Admin, Recorded
from tests.support.load import Answer, keep_buying
from tests.support.orders import ADMIN_TOKEN, walk
from tests.support.server import ServerProcess, wait_until

pytestmark = pytest.mark.skipif(
    redis_server_binary() is None,
    reason="redis-server is not installed (test.sh installs Debian's redis-server)",
)

# How long another host may take to show a change: the interval it follows the store at,
# and room for a busy machine (a follow that never came, or came seconds late, fails).
FOLLOWED_WITHIN_S = FOLLOW_INTERVAL_S + 5.0


@dataclass
class Hosts:
    a: ServerProcess
    b: ServerProcess
    redis: RedisServer
    folder: Path

    @property
    def both(self) -> tuple[ServerProcess, ServerProcess]:
        return self.a, self.b

    def recorded(self) -> Recorded:
        return Recorded(self.folder / "unused.db", self.redis.url)


@pytest.fixture
def hosts(start_server, tmp_path) -> Iterator[Hosts]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    settings = {
        "FLASHSALE_ENGINE": "redis",
        "FLASHSALE_REDIS_URL": server.url,
        "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
        "FLASHSALE_REDIS_TIMEOUT_S": "5",
        **PATIENT,
    }
    a, b = (start_server(db_name=f"host-{n}.db", workers=2, env=settings) for n in "ab")
    yield Hosts(a, b, server, tmp_path)
    server.stop()


def buy(host: ServerProcess, user: str) -> requests.Response:
    return requests.post(f"{host.url}/flash-sale/purchase", json={"userId": user}, timeout=30)


def outcome(answer: requests.Response) -> tuple[int, str]:
    return answer.status_code, answer.json().get("outcome")


def state_of(host: ServerProcess) -> str:
    state: str = host.status()["state"]
    return state


def follows(host: ServerProcess, sale_id: int, state: str) -> None:
    """Until `host` shows sale `sale_id` in `state`, within FOLLOWED_WITHIN_S."""
    wait_until(
        lambda: (host.status()["saleId"], state_of(host)) == (sale_id, state),
        FOLLOWED_WITHIN_S,
        interval_s=0.01,
        message=f"{host.name} to show sale {sale_id} {state}",
    )


def test_a_sale_made_on_one_host_is_refused_on_the_other_unless_replaced_with_its_etag(hosts):
    a, b = hosts.both
    admin_a, admin_b = Admin(a.url, ADMIN_TOKEN), Admin(b.url, ADMIN_TOKEN)
    made = admin_a.fresh_sale({"stock": 5})
    sale_id = made["saleId"]
    follows(b, sale_id, "open")
    # B reads what A sold from Redis, not from its own shared memory, not followed yet.
    for sold, user in enumerate(["ann", "bea", "cy"], start=1):
        assert outcome(buy(a, user)) == (201, "confirmed")
        assert admin_b.sale(sale_id).json()["sold"] == sold
        assert admin_b.sales()[0]["sold"] == sold

    # At once, not after B follows: Redis decides the command.
    refused = admin_b.create({"stock": 4})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["type"], problem["saleId"], problem["state"], problem["etag"]) == (
        "/problems/sale-in-progress",
        sale_id,
        "open",
        made["etag"],
    )
    read_on_b = admin_b.sale(sale_id)
    assert read_on_b.status_code == 200 and read_on_b.json()["sold"] == 3, read_on_b.text
    etag = read_on_b.headers["ETag"]
    assert etag == made["etag"]

    replaced = admin_b.create({"stock": 4}, if_match=etag)
    assert replaced.status_code == 201, replaced.text
    new = replaced.json()
    assert new["saleId"] == sale_id + 1 and new["etag"] == f'"sale-{sale_id + 1}-v1"'
    old = admin_a.sale(sale_id).json()
    assert (old["state"], old["phase"], old["version"], old["sold"]) == ("ended", "ended", 2, 3)
    stale = admin_a.create({"stock": 3}, if_match=etag)  # A's operator, a moment late
    assert stale.status_code == 412 and stale.json()["etag"] == new["etag"], stale.text
    assert admin_a.create({"stock": 3, "replaces": sale_id}).status_code == 412

    follows(a, new["saleId"], "open")
    assert [sale["saleId"] for sale in admin_a.sales()][:2] == [new["saleId"], sale_id]
    assert admin_a.sales() == admin_b.sales()
    assert outcome(buy(a, "ann")) == (201, "confirmed")  # a new sale: ann may buy again
    assert requests.get(f"{b.url}/flash-sale/purchase/ann", timeout=10).status_code == 200


def test_an_idempotency_key_sent_to_one_host_and_retried_on_the_other_makes_one_sale(hosts):
    a, b = hosts.both
    admin_a, admin_b = Admin(a.url, ADMIN_TOKEN), Admin(b.url, ADMIN_TOKEN)
    etag = admin_a.current()["etag"]
    body = {"stock": 9, "perUserLimit": 1}

    first = admin_a.create(body, if_match=etag, idempotency_key="launch-7")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers, first.text
    retried = admin_b.create(body, if_match=etag, idempotency_key="launch-7")
    assert retried.status_code == 201, retried.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    for header in ("Location", "ETag"):
        assert retried.headers[header] == first.headers[header]
    made = first.json()["saleId"]
    assert [sale["saleId"] for sale in admin_b.sales()][:2] == [made, made - 1]
    reused = admin_b.create({"stock": 10}, if_match=etag, idempotency_key="launch-7")
    assert reused.status_code == 422, reused.text
    assert reused.json()["type"] == "/problems/idempotency-key-reused"

    # Retries racing on both hosts at once, two workers each: one sale.
    current = admin_b.sale(made).headers["ETag"]
    answers: list[requests.Response] = []

    def send(admin: Admin) -> None:
        answers.append(admin.create(body, if_match=current, idempotency_key="launch-8"))

    racers = [threading.Thread(target=send, args=(admin,)) for admin in [admin_a, admin_b] * 4]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    assert [answer.status_code for answer in answers] == [201] * 8, [a.text for a in answers]
    assert len({answer.json()["saleId"] for answer in answers}) == 1
    replayed = [answer.headers.get("Idempotent-Replayed") for answer in answers]
    assert sorted(replayed, key=str) == [None] + ["true"] * 7
    assert [sale["saleId"] for sale in admin_a.sales()][:2] == [made + 1, made]
    for host in hosts.both:
        follows(host, made + 1, "open")


@pytest.mark.slow
def test_a_pause_on_one_host_mid_burst_stops_selling_on_both_and_a_resume_on_the_other(
    hosts,
):
    a, b = hosts.both
    admin_a, admin_b = Admin(a.url, ADMIN_TOKEN), Admin(b.url, ADMIN_TOKEN)
    sale_id = admin_a.fresh_sale({"stock": 1100})["saleId"]
    follows(b, sale_id, "open")
    users = {
        host.url: [f"{name}-{i:03d}" for i in range(500)]
        for host, name in zip(hosts.both, "ab", strict=True)
    }
    answers: dict[str, list[Answer]] = {a.url: [], b.url: []}
    shoppers = [
        threading.Thread(
            target=lambda url=url: answers[url].extend(
                keep_buying(url, users[url], processes=1, connections=8)
            )
        )
        for url in users
    ]
    for shopper in shoppers:
        shopper.start()

    def bought_on_both() -> bool:
        """Each host has confirmed some (read in Redis itself)."""
        by_host = Counter(order.user_id[0] for order in hosts.recorded().orders(sale_id))
        return by_host["a"] >= 40 and by_host["b"] >= 40

    wait_until(bought_on_both, 60, interval_s=0.01, message="sales on both hosts")
    paused = admin_a.patch(sale_id, {"state": "paused"})
    answered_s = time.monotonic()
    assert paused.status_code == 200, paused.text
    assert paused.json()["pausedAt"] is not None

    # Whatever B is sent from now on is refused: Redis holds the pause already.
    late = [buy(b, f"late-b-{i}") for i in range(10)]
    assert [outcome(answer) for answer in late] == [(503, "paused")] * 10
    assert all(answer.headers["Retry-After"] == "5" for answer in late)
    follows(b, sale_id, "paused")  # and B's own workers say so, without asking Redis
    followed_s = time.monotonic() - answered_s
    for shopper in shoppers:
        shopper.join(180)
    print(f"B showed the pause {followed_s:.3f} s after A's PATCH answered")

    changes = hosts.recorded().changes(sale_id)
    assert [action for _, _, action in changes] == ["create", "pause"]
    paused_at_us = changes[1][1]  # Redis's clock
    orders = hosts.recorded().orders(sale_id)
    assert orders and max(order.purchased_at_us for order in orders) < paused_at_us
    every = answers[a.url] + answers[b.url]
    confirmed = {answer.user_id: answer.body["orderId"] for answer in every if answer.status == 201}
    assert {order.user_id: order.order_id for order in orders} == confirmed  # nothing lost
    for url, name in ((a.url, "A"), (b.url, "B")):
        got = answers[url]
        outcomes = Counter(answer.body and answer.body.get("outcome") for answer in got)
        assert len(got) == 500 and set(outcomes) == {"confirmed", "paused"}, (name, outcomes)
        assert all(
            (answer.status, answer.retry_after) == (503, "5")
            for answer in got
            if answer.body["outcome"] == "paused"
        ), name
        assert all(answer.status == 201 for answer in got if answer.body["outcome"] == "confirmed")
    # Sent to either host once A's PATCH had answered: none confirmed.
    sent_after = [answer for answer in every if (answer.sent_s or 0) >= answered_s]
    assert sent_after and all(answer.status == 503 for answer in sent_after), Counter(
        answer.status for answer in sent_after
    )

    resumed = admin_b.patch(sale_id, {"state": "open"})
    assert resumed.status_code == 200 and resumed.json()["pausedAt"] is None, resumed.text
    assert outcome(buy(b, "after-b")) == (201, "confirmed")
    follows(a, sale_id, "open")
    assert outcome(buy(a, "after-a")) == (201, "confirmed")
    assert [action for _, _, action in hosts.recorded().changes(sale_id)] == [
        "create",
        "pause",
        "resume",
    ]

    # The orders, across the pause and both hosts, read on either: Redis's, row for row.
    expected = redis_rows(hosts.redis, sale_id)
    assert len(expected) == len(orders) + 2
    assert [row["position"] for row in expected] == list(range(1, len(expected) + 1))
    assert walk(a, sale_id, 97) == walk(b, sale_id, 250) == expected
    assert walk(b, sale_id, None) == expected


def test_an_end_now_on_one_host_ends_the_sale_on_the_other(hosts):
    a, b = hosts.both
    admin_b = Admin(b.url, ADMIN_TOKEN)
    sale_id = Admin(a.url, ADMIN_TOKEN).fresh_sale({"stock": 20})["saleId"]
    follows(b, sale_id, "open")
    assert outcome(buy(a, "ann")) == (201, "confirmed")

    ended = admin_b.patch(sale_id, {"state": "ended"})
    assert ended.status_code == 200 and ended.json()["state"] == "ended", ended.text
    assert outcome(buy(a, "bob")) == (403, "ended")  # at once: Redis refuses it
    follows(a, sale_id, "ended")
    assert outcome(buy(a, "cid")) == (403, "ended")
    assert outcome(buy(b, "dan")) == (403, "ended")
    again = Admin(a.url, ADMIN_TOKEN).patch(sale_id, {"state": "open"})
    assert again.status_code == 409 and again.json()["type"] == "/problems/sale-already-ended"
    assert [order.user_id for order in hosts.recorded().orders(sale_id)] == ["ann"]


def test_the_trail_read_on_one_host_lists_both_hosts_actions_after_restarts_and_a_redis_kill_9(
    hosts,
):
    a, b = hosts.both
    admin_a, admin_b = Admin(a.url, ADMIN_TOKEN), Admin(b.url, ADMIN_TOKEN)
    sent: list[tuple[str, str, int]] = []  # (host, action, status)

    def sent_as(host: str, answer: requests.Response, action: str) -> None:
        sent.append((host, action, answer.status_code))

    made = admin_a.create({"stock": 50}, if_match=admin_a.current()["etag"])
    sent_as("a", made, "replace")
    sale_id = made.json()["saleId"]
    sent_as("b", admin_b.create({"stock": 40}), "refused")  # 409
    sent_as("a", admin_a.patch(sale_id, {"state": "paused"}), "pause")
    sent_as("b", admin_b.patch(sale_id, {"state": "paused"}), "pause")  # already: audited
    sent_as("b", admin_b.patch(sale_id, {"state": "open"}), "resume")
    sent_as("a", admin_a.patch(sale_id, {"endsAt": "2999-01-01T00:00:00Z"}), "set_end")
    sent_as("b", admin_b.patch(sale_id + 3, {"state": "ended"}), "refused")  # 404
    sent_as("a", admin_a.patch(sale_id, {"state": "paused"}), "pause")
    assert [status for _, _, status in sent] == [201, 409, 200, 200, 200, 200, 404, 200]
    before = admin_b.audit(limit=3)
    assert len(before) == len(sent)

    for host in hosts.both:
        follows(host, sale_id, "paused")  # each host's own view, before Redis goes

    # Redis killed under both hosts (its append-only file is fsynced before each answer):
    # each host sees it gone, then back.
    hosts.redis.kill()
    for host in hosts.both:
        wait_until(lambda host=host: host.health() is None, 30, message=f"{host.name} sees")
    hosts.redis.start()
    for host in hosts.both:
        wait_until(lambda host=host: host.health() is not None, 30, message=f"{host.name} back")
        assert outcome(buy(host, "paused-probe")) == (503, "paused")
    for host in hosts.both:
        host.stop()
    for host in hosts.both:
        host.start()

    entries = admin_b.audit(limit=3)
    assert entries == before == admin_a.audit(limit=5)
    assert [e["seq"] for e in entries] == list(range(1, len(sent) + 1))
    assert [(e["action"], e["status"]) for e in entries] == [(act, st) for _, act, st in sent]
    assert [e["request"]["method"] for e in entries] == ["POST", "POST"] + ["PATCH"] * 6
    assert entries[5]["request"]["body"] == '{"endsAt": "2999-01-01T00:00:00Z"}'
    assert [e["outcome"] for e in entries if e["status"] >= 400] == [
        "/problems/sale-in-progress",
        "/problems/not-found",
    ]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)

    for host in hosts.both:
        assert (host.status()["saleId"], state_of(host)) == (sale_id, "paused")
        assert outcome(buy(host, "after-restart")) == (503, "paused")
        sale = Admin(host.url, ADMIN_TOKEN).sale(sale_id).json()
        assert (sale["phase"], sale["version"], sale["endsAt"]) == (
            "paused",
            5,
            "2999-01-01T00:00:00.000Z",
        )
    assert [action for _, _, action in hosts.recorded().changes(sale_id)] == [
        "create",
        "pause",
        "resume",
        "set_end",
        "pause",
    ]
    assert hosts.recorded().orders(sale_id) == []
