"""The operator runs the sale, against real servers (several workers), in both engines:
a second sale is refused while one runs unless it names the one it replaces; an
Idempotency-Key makes one sale however often it is sent; a pause is exact, also across
a kill -9 of the allocator; end now and moving the end; and the audit trail lists every
action, refused ones included, after a restart."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from stress.servers.redis_server import RedisServer, redis_server_binary
from tests.integration.test_burst import PATIENT
from tests.support.admin import Admin, Recorded
from tests.support.load import Answer, keep_buying
from tests.support.server import ServerProcess, wait_until

TOKEN = "admin-token-of-the-lifecycle-tests"
ENGINES = ["sqlite", "redis"]


@dataclass
class Engine:
    """Servers on one engine: `start` another (on the same journal or Redis)."""

    name: str
    start: Callable[..., ServerProcess]
    redis: RedisServer | None
    db_path: Path

    def recorded(self) -> Recorded:
        return Recorded(self.db_path, self.redis.url if self.redis else None)


@pytest.fixture(params=ENGINES)
def engine(request, start_server, tmp_path) -> Iterator[Engine]:
    env = {"FLASHSALE_ADMIN_TOKEN": TOKEN, **PATIENT}
    redis = None
    if request.param == "redis":
        if redis_server_binary() is None:
            pytest.skip("redis-server is not installed")
        redis = RedisServer(tmp_path / "redis")
        redis.start()
        env |= {
            "FLASHSALE_ENGINE": "redis",
            "FLASHSALE_REDIS_URL": redis.url,
            "FLASHSALE_REDIS_TIMEOUT_S": "5",
        }

    def start(workers: int = 2, db_name: str = "journal.db", **more: str) -> ServerProcess:
        return start_server(workers=workers, db_name=db_name, env={**env, **more})

    yield Engine(request.param, start, redis, tmp_path / "journal.db")
    if redis is not None:
        redis.stop()


def buy(server: ServerProcess, user: str) -> requests.Response:
    return requests.post(f"{server.url}/flash-sale/purchase", json={"userId": user}, timeout=30)


def test_a_second_sale_is_refused_while_one_runs_and_made_when_it_names_the_one_it_replaces(
    engine,
):
    server = engine.start()
    admin = Admin(server.url, TOKEN)
    first = admin.current()
    assert buy(server, "ann").status_code == 201

    refused = admin.create({"stock": 5})  # a double click, a retried request
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert (problem["type"], problem["saleId"], problem["state"], problem["etag"]) == (
        "/problems/sale-in-progress",
        first["saleId"],
        "open",
        first["etag"],
    )
    legacy = requests.post(
        f"{server.url}/flash-sale/admin/sale", json={"stock": 5}, headers=admin.headers, timeout=10
    )
    assert legacy.status_code == 409, legacy.text
    assert admin.current()["saleId"] == first["saleId"]
    assert requests.get(f"{server.url}/flash-sale/purchase/ann", timeout=10).status_code == 200

    stale = admin.create({"stock": 5}, if_match='"sale-1-v7"')
    assert stale.status_code == 412 and stale.json()["etag"] == first["etag"], stale.text
    assert admin.create({"stock": 5, "replaces": 99}).status_code == 412

    made = admin.create({"stock": 5}, if_match=first["etag"])
    assert made.status_code == 201, made.text
    second = made.json()
    assert made.headers["Location"] == f"/flash-sale/admin/sales/{second['saleId']}"
    assert made.headers["ETag"] == second["etag"] == f'"sale-{second["saleId"]}-v1"'
    assert (second["state"], second["phase"], second["version"], second["total"]) == (
        "open",
        "active",
        1,
        5,
    )
    old = admin.sale(first["saleId"]).json()
    assert (old["state"], old["phase"], old["version"]) == ("ended", "ended", 2)
    assert old["endedAt"] == old["endsAt"] and old["sold"] == 1

    # The same with `replaces`, through the old endpoint.
    third = requests.post(
        f"{server.url}/flash-sale/admin/sale",
        json={"stock": 3, "replaces": second["saleId"]},
        headers=admin.headers,
        timeout=10,
    )
    assert third.status_code == 201, third.text
    assert third.json()["stock"] == 3
    listed = admin.sales()
    assert [sale["saleId"] for sale in listed] == [
        third.json()["saleId"],
        second["saleId"],
        first["saleId"],
    ]
    assert [sale["state"] for sale in listed] == ["open", "ended", "ended"]


def test_an_idempotency_key_makes_one_sale_however_often_and_wherever_it_is_sent(engine):
    server = engine.start(workers=4)
    admin = Admin(server.url, TOKEN)
    etag = admin.current()["etag"]
    body = {"stock": 9, "perUserLimit": 1}
    answers: list[requests.Response] = []

    def send() -> None:
        answers.append(admin.create(body, if_match=etag, idempotency_key="launch-42"))

    racers = [threading.Thread(target=send) for _ in range(8)]  # on four workers at once
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)

    assert [answer.status_code for answer in answers] == [201] * 8, [a.text for a in answers]
    assert len({answer.content for answer in answers}) == 1  # the first answer, each time
    replayed = [answer.headers.get("Idempotent-Replayed") for answer in answers]
    assert sorted(replayed, key=str) == [None] + ["true"] * 7
    assert {answer.headers["Location"] for answer in answers} == {answers[0].headers["Location"]}
    made = answers[0].json()
    assert [sale["saleId"] for sale in admin.sales()][:2] == [made["saleId"], made["saleId"] - 1]

    # Spaced and ordered differently, it is the same body; a sale since changes nothing.
    assert buy(server, "ann").status_code == 201
    again = admin.create(
        {"perUserLimit": 1, "stock": 9}, if_match=etag, idempotency_key="launch-42"
    )
    assert again.status_code == 201 and again.json() == made
    reused = admin.create({"stock": 10}, if_match=etag, idempotency_key="launch-42")
    assert reused.status_code == 422, reused.text
    assert reused.json()["type"] == "/problems/idempotency-key-reused"
    assert admin.create(body, idempotency_key="k" * 256).status_code == 400
    assert admin.current()["saleId"] == made["saleId"]


def test_end_now_and_moving_the_end(engine):
    server = engine.start()
    admin = Admin(server.url, TOKEN)
    sale = admin.fresh_sale({"stock": 5})
    sale_id = sale["saleId"]

    past = admin.patch(sale_id, {"endsAt": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and past.json()["field"] == "endsAt", past.text
    later = admin.patch(sale_id, {"endsAt": "2999-01-01T00:00:00Z"}, if_match=sale["etag"])
    assert later.status_code == 200, later.text
    assert (later.json()["endsAt"], later.json()["version"]) == ("2999-01-01T00:00:00.000Z", 2)
    assert admin.patch(sale_id, {"endsAt": None}, if_match=sale["etag"]).status_code == 412
    assert admin.patch(sale_id, {"state": "sold_out"}).status_code == 400
    assert admin.patch(sale_id, {"state": "paused", "endsAt": None}).status_code == 400
    assert admin.patch(sale_id - 1, {"state": "ended"}).status_code == 409
    assert admin.patch(sale_id + 1, {"state": "ended"}).status_code == 404
    assert admin.patch("nine", {"state": "ended"}).status_code == 404
    assert buy(server, "ann").status_code == 201

    ended = admin.patch(sale_id, {"state": "ended"})
    assert ended.status_code == 200, ended.text
    assert (ended.json()["state"], ended.json()["endedAt"]) == ("ended", ended.json()["endsAt"])
    refused = buy(server, "bob")
    assert (refused.status_code, refused.json()["outcome"]) == (403, "ended")
    assert server.status()["state"] == "ended"
    for change in ({"state": "open"}, {"state": "ended"}, {"endsAt": "2999-01-01T00:00:00Z"}):
        again = admin.patch(sale_id, change)
        assert again.status_code == 409, again.text
        assert again.json()["type"] == "/problems/sale-already-ended"
    assert admin.create({"stock": 2}).status_code == 201  # an ended sale needs no replacing


@pytest.mark.slow
def test_a_pause_mid_burst_confirms_nothing_decided_after_it_and_holds_across_kill_9(engine):
    server = engine.start(workers=4)
    admin = Admin(server.url, TOKEN)
    sale = admin.fresh_sale({"stock": 2000})
    sale_id = sale["saleId"]
    users = [f"shopper-{i:04d}" for i in range(2000)]
    result: list[Answer] = []
    shoppers = threading.Thread(
        target=lambda: result.extend(keep_buying(server.url, users, connections=8))
    )
    shoppers.start()
    wait_until(lambda: server.status()["sold"] >= 200, 60, interval_s=0.005, message="sales")
    paused = admin.patch(sale_id, {"state": "paused"})
    shoppers.join(180)
    assert paused.status_code == 200, paused.text
    assert paused.json()["pausedAt"] is not None

    changes = engine.recorded().changes(sale_id)
    assert [action for _, _, action in changes] == ["create", "pause"]
    paused_at_us = changes[1][1]
    orders = engine.recorded().orders(sale_id)
    assert orders and max(order.purchased_at_us for order in orders) < paused_at_us
    statuses = Counter(answer.status for answer in result)
    outcomes = Counter(answer.body and answer.body.get("outcome") for answer in result)
    assert len(result) == 2000 and set(statuses) <= {201, 503}, statuses
    assert outcomes["paused"] > 0 and outcomes["confirmed"] > 0, outcomes  # mid-burst
    confirmed = {a.user_id: a.body["orderId"] for a in result if a.status == 201}
    assert {order.user_id: order.order_id for order in orders} == confirmed  # nothing lost
    assert all(a.retry_after == "5" for a in result if a.body.get("outcome") == "paused")

    victim = server.allocator_pid()
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: server.health() is not None and server.allocator_pid() != victim,
        30,
        message="a new allocator",
    )
    assert server.status()["state"] == "paused"
    assert admin.sale(sale_id).json()["phase"] == "paused"
    late = buy(server, "late-shopper")
    assert (late.status_code, late.json()["outcome"]) == (503, "paused"), late.text
    assert len(engine.recorded().orders(sale_id)) == len(orders)

    resumed = admin.patch(sale_id, {"state": "open"})
    assert resumed.status_code == 200 and resumed.json()["pausedAt"] is None
    assert buy(server, "late-shopper").status_code == 201
    assert [action for _, _, action in engine.recorded().changes(sale_id)] == [
        "create",
        "pause",
        "resume",
    ]


def test_the_audit_trail_lists_every_action_refused_ones_included_after_a_restart(engine):
    server = engine.start()
    admin = Admin(server.url, TOKEN)
    sale = admin.fresh_sale({"stock": 5})
    sale_id = sale["saleId"]
    sent: list[tuple[str, int]] = []

    def sent_as(answer: requests.Response, action: str) -> None:
        sent.append((action, answer.status_code))

    sent_as(admin.create({"stock": 4}), "refused")  # 409
    sent_as(admin.create({"stock": 4}, if_match='"stale"'), "refused")  # 412
    sent_as(admin.create({"stock": "four"}), "refused")  # 400
    sent_as(admin.patch(sale_id, {"state": "paused"}), "pause")
    sent_as(admin.patch(sale_id, {"state": "paused"}), "pause")  # what already is: audited
    sent_as(admin.patch(sale_id, {"state": "open"}), "resume")
    sent_as(admin.patch(sale_id, {"endsAt": "2999-01-01T00:00:00Z"}), "set_end")
    sent_as(admin.patch(sale_id + 5, {"state": "ended"}), "refused")  # 404
    sent_as(
        requests.patch(
            f"{server.url}/flash-sale/admin/sales/{sale_id}",
            json={"state": "ended"},
            headers={"Authorization": f"Bearer wrong-{TOKEN}"},
            timeout=10,
        ),
        "refused",
    )  # 401
    sent_as(admin.patch(sale_id, {"state": "ended"}), "end")
    sent_as(admin.create({"stock": 4}, idempotency_key="k-1"), "create")
    sent_as(admin.create({"stock": 4}, idempotency_key="k-1"), "create")  # replayed
    sent_as(admin.create({"stock": 3}, idempotency_key="k-1"), "refused")  # 422
    expected = (409, 412, 400, 200, 200, 200, 200, 404, 401, 200, 201, 201, 422)
    assert tuple(status for _, status in sent) == expected
    server.stop()

    again = engine.start()
    entries = Admin(again.url, TOKEN).audit(limit=4)
    ours = entries[-len(sent) :]  # after fresh_sale's own
    assert [(e["action"], e["status"]) for e in ours] == sent
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert [e["outcome"] for e in ours if e["status"] >= 400] == [
        "/problems/sale-in-progress",
        "/problems/precondition-failed",
        "/problems/invalid-sale",
        "/problems/not-found",
        "/problems/invalid-token",
        "/problems/idempotency-key-reused",
    ]
    attempted = ("create", "create", "create", "end", None, "create")
    assert tuple(e["attempted"] for e in ours if e["action"] == "refused") == attempted
    assert [e["replayed"] for e in ours[-3:]] == [False, True, False]
    wrong, right = ours[8], ours[9]
    assert wrong["token"] != right["token"] and right["token"].startswith("admin:")
    assert (right["request"]["method"], right["request"]["path"], right["address"]) == (
        "PATCH",
        f"/flash-sale/admin/sales/{sale_id}",
        "127.0.0.1",
    )
    assert ours[2]["request"]["body"] == '{"stock": "four"}'
    assert ours[1]["request"]["ifMatch"] == '"stale"'
    assert ours[-1]["request"]["idempotencyKey"] == "k-1"
    assert TOKEN not in str(entries) and f"wrong-{TOKEN}" not in str(entries)


def _sale_states(answer: dict[str, Any]) -> tuple[str, ...]:
    return (answer["state"], *(product["state"] for product in answer["products"]))


def test_the_shopper_sees_paused_in_the_status_its_etag_and_each_product(engine):
    server = engine.start()
    admin = Admin(server.url, TOKEN)
    sale = admin.fresh_sale({"stock": 5})
    before = requests.get(f"{server.url}/flash-sale/status", timeout=10)
    assert _sale_states(before.json()) == ("open", "open")
    assert admin.patch(sale["saleId"], {"state": "paused"}).status_code == 200
    paused = requests.get(
        f"{server.url}/flash-sale/status", headers={"If-None-Match": before.headers["ETag"]}
    )
    assert paused.status_code == 200 and paused.headers["ETag"] != before.headers["ETag"]
    assert _sale_states(paused.json()) == ("paused", "paused")
    refused = buy(server, "ann")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert (refused.json()["type"], refused.json()["outcome"]) == (
        "/problems/sale-paused",
        "paused",
    )
    assert "RateLimit" not in refused.headers  # no attempt counted
