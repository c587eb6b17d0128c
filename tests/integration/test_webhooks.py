"""Webhooks against a real server and a real receiver (stress/servers/webhook_receiver.py),
in both engines (the journal's outbox, or a real redis-server's stream): every confirmed
order of a burst arrives, signed, exactly as the journal (or Redis) has it; a receiver
that is down for a while gets everything afterwards; a kill -9 of the sender loses
nothing; a receiver that hangs never slows a purchase; and two hosts on one Redis
deliver every event, one sender at a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
import requests

from flashsale.clock import iso_from_us
from stress.servers.redis_server import RedisServer, redis_server_binary
from stress.servers.webhook_receiver import WebhookReceiver
from tests.integration.test_burst import PATIENT
from tests.integration.test_prometheus_names import PROMTOOL
from tests.support.load import burst
from tests.support.server import ServerProcess, wait_until
from tests.support.webhooks import (
    SECRET,
    journal_order_rows,
    outbox_rows,
    redis_order_rows,
    redis_outbox_rows,
    webhook_env,
)

SETTLE_S = 60.0


class Engine:
    """Where a test's servers decide, and where its outbox and orders are read."""

    def __init__(self, redis: RedisServer | None) -> None:
        self.redis = redis

    def env(self, **more: str) -> dict[str, str]:
        if self.redis is None:
            return dict(more)
        return {
            "FLASHSALE_ENGINE": "redis",
            "FLASHSALE_REDIS_URL": self.redis.url,
            "FLASHSALE_REDIS_TIMEOUT_S": "5",
            **more,
        }

    def outbox(self, server: ServerProcess) -> list[dict[str, Any]]:
        return (
            outbox_rows(server.db_path) if self.redis is None else redis_outbox_rows(self.redis.url)
        )

    def orders(self, server: ServerProcess) -> list[dict[str, Any]]:
        if self.redis is None:
            return journal_order_rows(server.db_path)
        return redis_order_rows(self.redis.url)


@pytest.fixture(params=["sqlite", "redis"])
def engine(request, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield Engine(None)
        return
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (test.sh installs Debian's redis-server)")
    with RedisServer(tmp_path / "redis") as redis:
        yield Engine(redis)


def _webhooks(server: ServerProcess) -> dict:
    health = requests.get(f"{server.url}/flash-sale/health", timeout=10).json()
    return health["webhooks"]


def _expected(rows: list[dict[str, Any]]) -> dict[str, dict]:
    """order id -> the order.confirmed data the journal's (or Redis's) orders imply."""
    return {
        row["order_id"]: {
            "orderId": row["order_id"],
            "saleId": row["sale_id"],
            "userId": row["user_id"],
            "sku": row["sku"],
            "position": row["position"],
            "purchasedAt": iso_from_us(row["purchased_at_us"]),
            "state": "confirmed",
        }
        for row in rows
    }


def _assert_everything_arrived(
    server: ServerProcess, receiver: WebhookReceiver, engine: Engine
) -> None:
    """Every outbox event arrived (once, as the receiver dedupes), and the confirmed
    orders are exactly the journal's (or Redis's), each with one order.confirmed."""
    outbox = engine.outbox(server)
    wait_until(
        lambda: len(receiver.received()) >= len(outbox),
        SETTLE_S,
        interval_s=0.1,
        message=f"{len(outbox)} webhooks",
    )
    arrived = receiver.received()
    assert sorted(a.webhook_id for a in arrived) == sorted(row["event_id"] for row in outbox)
    confirmed = {a.data["orderId"]: a.data for a in arrived if a.type == "order.confirmed"}
    assert confirmed == _expected(engine.orders(server))
    assert Counter(a.type for a in arrived)["order.confirmed"] == len(confirmed)
    assert receiver.counts.get("forged", 0) == receiver.counts.get("stale", 0) == 0
    # In order per order: an order's events arrive in outbox order.
    seq_of = {row["event_id"]: row["seq"] for row in outbox}
    by_order: dict[str, list[int]] = {}
    for arrival in arrived:
        if arrival.type.startswith("order."):
            by_order.setdefault(arrival.data["orderId"], []).append(seq_of[arrival.webhook_id])
    assert all(seqs == sorted(seqs) for seqs in by_order.values())
    wait_until(lambda: _webhooks(server)["backlog"] == 0, SETTLE_S, message="an empty backlog")


def test_every_confirmed_order_of_a_burst_arrives_signed_as_in_the_journal(engine, start_server):
    with WebhookReceiver(SECRET) as receiver:
        server = start_server(
            workers=4,
            env=engine.env(FLASHSALE_STOCK="60", **PATIENT, **webhook_env(receiver.url)),
        )
        answers = burst(server.url, [f"shopper-{i:03d}" for i in range(200)], processes=4)
        assert Counter(a.status for a in answers) == {201: 60, 410: 140}

        _assert_everything_arrived(server, receiver, engine)
        sold_out = [a for a in receiver.received() if a.type == "sale.sold_out"]
        assert [a.data for a in sold_out] == [{"saleId": 1, "sku": sold_out[0].data["sku"]}]
        webhooks = _webhooks(server)
        assert webhooks["alive"] is True
        assert webhooks["deliveries"] == {"delivered": 61, "failed": 0, "gaveUp": 0}

        scrape = requests.get(f"{server.url}/metrics", timeout=10).text
        assert "flashsale_webhook_backlog 0.0" in scrape
        assert 'flashsale_webhook_deliveries_total{outcome="delivered"} 61.0' in scrape
        if PROMTOOL is not None:
            check = subprocess.run(
                [PROMTOOL, "check", "metrics"], input=scrape, capture_output=True, text=True
            )
            assert (check.returncode, check.stdout + check.stderr) == (0, ""), scrape


def test_webhooks_off_write_no_outbox_and_report_nothing(engine, start_server):
    server = start_server(workers=2, env=engine.env(FLASHSALE_STOCK="3"))
    burst(server.url, [f"u{i}" for i in range(5)], processes=1)
    assert server.status()["sold"] == 3
    assert engine.outbox(server) == []
    assert _webhooks(server) is None
    assert "flashsale_webhook" not in requests.get(f"{server.url}/metrics", timeout=10).text


def test_a_receiver_down_for_part_of_the_run_gets_every_event_afterwards(engine, start_server):
    with WebhookReceiver(SECRET) as receiver:
        receiver.down()  # connections refused
        server = start_server(
            workers=2,
            env=engine.env(FLASHSALE_STOCK="20", **PATIENT, **webhook_env(receiver.url)),
        )
        burst(server.url, [f"early-{i}" for i in range(10)], processes=2)
        wait_until(lambda: _webhooks(server)["deliveries"]["failed"] >= 10, SETTLE_S)
        # The figures are published a few times a second (the failures are counted at once:
        # the backlog and retrying published with them may be a turn older).
        wait_until(
            lambda: (_webhooks(server)["backlog"], _webhooks(server)["retrying"]) == (10, 10),
            SETTLE_S,
            message="a backlog, every event retrying",
        )
        down = _webhooks(server)
        assert down["retrying"] == 10 and down["oldestUndeliveredAgeSeconds"] > 0
        assert requests.get(f"{server.url}/flash-sale/health", timeout=10).status_code == 200

        receiver.start()
        receiver.fail_for(2.0)  # then 500s for a while
        burst(server.url, [f"late-{i}" for i in range(15)], processes=2)
        _assert_everything_arrived(server, receiver, engine)
        assert receiver.counts["failing"] >= 1
        assert len(receiver.received()) == 21  # 20 orders and the sold-out


def test_a_kill_9_of_the_sender_mid_delivery_loses_nothing(engine, start_server):
    with WebhookReceiver(SECRET) as receiver:
        receiver.hang_for(600)
        server = start_server(
            workers=2,
            env=engine.env(
                FLASHSALE_STOCK="30",
                **PATIENT,
                **webhook_env(receiver.url, FLASHSALE_WEBHOOK_TIMEOUT_S="60"),
            ),
        )
        burst(server.url, [f"buyer-{i}" for i in range(30)], processes=2)
        wait_until(lambda: receiver.requests >= 8, SETTLE_S, message="deliveries in flight")
        sender = _webhooks(server)["pid"]
        os.kill(sender, signal.SIGKILL)
        wait_until(
            lambda: _webhooks(server)["pid"] not in (0, sender) and _webhooks(server)["alive"],
            SETTLE_S,
            message="a new sender",
        )
        receiver.hang_for(0)
        receiver._release.set()
        _assert_everything_arrived(server, receiver, engine)
        assert _webhooks(server)["restarts"] == 1


def test_a_kill_9_of_the_whole_server_loses_nothing(engine, start_server):
    with WebhookReceiver(SECRET) as receiver:
        receiver.down()
        env = engine.env(FLASHSALE_STOCK="15", **PATIENT, **webhook_env(receiver.url))
        server = start_server(workers=2, env=env)
        burst(server.url, [f"k{i}" for i in range(15)], processes=2)
        server.kill_group()
        receiver.start()
        again = start_server(workers=2, env=env)
        _assert_everything_arrived(again, receiver, engine)
        assert len(receiver.received()) == 16


@pytest.mark.slow
def test_a_receiver_that_hangs_never_slows_a_purchase(engine, start_server):
    with WebhookReceiver(SECRET) as receiver:
        receiver.hang_for(600)
        server = start_server(
            workers=4,
            env=engine.env(
                FLASHSALE_STOCK="200",
                **PATIENT,
                **webhook_env(receiver.url, FLASHSALE_WEBHOOK_TIMEOUT_S="120"),
            ),
        )
        started = time.monotonic()
        answers = burst(server.url, [f"h{i:03d}" for i in range(400)], processes=4)
        # Every purchase was decided (no 202 pending, no 503) while no delivery was answered.
        assert Counter(a.status for a in answers) == {201: 200, 410: 200}
        assert receiver.requests >= 1 and receiver.received() == []
        assert time.monotonic() - started < 120  # long before any delivery's timeout
        wait_until(lambda: _webhooks(server)["backlog"] == 201, SETTLE_S, message="a backlog")
        receiver.hang_for(0)
        receiver._release.set()
        _assert_everything_arrived(server, receiver, engine)


def _lease_pid(redis: RedisServer) -> int | None:
    """The pid of the sender holding the outbox lease (its host id: host/pid/random)."""
    client = redis_client.Redis.from_url(redis.url)
    try:
        holder = client.get("{flashsale}:outbox:lease")
    finally:
        client.close()
    return int(holder.decode().split("/")[1]) if isinstance(holder, bytes) else None


@pytest.mark.skipif(redis_server_binary() is None, reason="redis-server is not installed")
def test_two_hosts_on_one_redis_deliver_every_event_one_sender_at_a_time(start_server, tmp_path):
    with RedisServer(tmp_path / "redis") as redis, WebhookReceiver(SECRET) as receiver:
        engine = Engine(redis)
        env = engine.env(FLASHSALE_STOCK="60", **PATIENT, **webhook_env(receiver.url))
        hosts = [start_server(db_name=f"host-{n}.db", workers=2, env=env) for n in range(2)]
        for n, host in enumerate(hosts):
            burst(host.url, [f"first-{n}-{i}" for i in range(20)], processes=2)
        _assert_everything_arrived(hosts[0], receiver, engine)
        # One sender delivered it all: nothing twice, and the hosts' counts add up.
        assert len(receiver.received()) == receiver.requests == 40
        assert receiver.counts.get("duplicate", 0) == 0
        # A sender counts a delivery once it reads the receiver's 2xx, just after the
        # receiver has recorded it: wait for the counts rather than read them at once.
        wait_until(
            lambda: sum(_webhooks(host)["deliveries"]["delivered"] for host in hosts) >= 40,
            SETTLE_S,
            message="40 deliveries counted",
        )
        figures = [_webhooks(host) for host in hosts]
        assert all(f["alive"] for f in figures)
        assert sorted(f["deliveries"]["delivered"] for f in figures) == [0, 40]
        leader = _lease_pid(redis)
        assert leader is not None and leader in {f["pid"] for f in figures}

        # The leader's sender is killed mid-delivery: the other host's (or its restarted
        # one) takes the lease once it lapses and sends everything, at least once.
        receiver.hang_for(600)
        for n, host in enumerate(hosts):
            burst(host.url, [f"then-{n}-{i}" for i in range(10)], processes=2)
        wait_until(lambda: receiver.requests >= 44, SETTLE_S, message="deliveries in flight")
        os.kill(leader, signal.SIGKILL)
        wait_until(
            lambda: _lease_pid(redis) not in (None, leader), SETTLE_S, message="a new lease holder"
        )
        receiver.hang_for(0)
        receiver._release.set()
        _assert_everything_arrived(hosts[1], receiver, engine)
        assert len(receiver.received()) == 61  # 60 orders and the sold-out
        wait_until(lambda: _webhooks(hosts[0])["backlog"] == 0, SETTLE_S, message="no backlog")
