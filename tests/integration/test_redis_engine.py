"""Many hosts, one Redis (FLASHSALE_ENGINE=redis), with real processes: several gunicorn
servers on one real redis-server, bursts spread over them, and kill -9 and SIGSTOP
of Redis and of an allocator mid-burst."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from flashsale.redis_engine.store import RedisStore
from stress.servers.redis_server import RedisServer, redis_server_binary
from tests.integration.test_burst import PATIENT
from tests.support.load import Answer, burst
from tests.support.openapi_schema import schema_problems
from tests.support.server import GUNICORN_CONF, REPO_ROOT, ServerProcess, free_port, wait_until

pytestmark = pytest.mark.skipif(
    redis_server_binary() is None,
    reason="redis-server is not installed (test.sh installs Debian's redis-server)",
)

ADMIN_TOKEN = "admin-token-for-redis-hosts"


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hosts(start_server, redis_server) -> Callable[..., list[ServerProcess]]:
    def start(count: int, *, workers: int = 2, **env: str) -> list[ServerProcess]:
        # Patient, as PATIENT is: six workers, three allocators, Redis and the clients
        # share two cores, and these tests are about the sale, not about timeouts.
        settings = {
            "FLASHSALE_ENGINE": "redis",
            "FLASHSALE_REDIS_URL": redis_server.url,
            "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
            "FLASHSALE_REDIS_TIMEOUT_S": "5",
            **PATIENT,
            **env,
        }
        return [
            start_server(db_name=f"host-{n}.db", workers=workers, env=settings)
            for n in range(count)
        ]

    return start


def store_of(redis_server: RedisServer) -> RedisStore:
    return RedisStore(redis_server.url, tag="flashsale", timeout_s=5.0)


def buy(host: ServerProcess, user: str) -> requests.Response:
    return requests.post(f"{host.url}/flash-sale/purchase", json={"userId": user}, timeout=30)


def look_up(host: ServerProcess, user: str) -> Any:
    """The user's look-up (its JSON), or None when it is not 200."""
    answer = requests.get(f"{host.url}/flash-sale/purchase/{user}", timeout=10)
    return answer.json() if answer.status_code == 200 else None


def spread_burst(hosts: list[ServerProcess], users: list[str]) -> list[Answer]:
    """Shopper i presses Buy on host i and host i+1 at once (mod the hosts)."""
    shares: list[list[str]] = [[] for _ in hosts]
    for i, user in enumerate(users):
        shares[i % len(hosts)].append(user)
        shares[(i + 1) % len(hosts)].append(user)
    results: list[list[Answer]] = [[] for _ in hosts]
    threads = [
        threading.Thread(
            target=lambda n=n: results[n].extend(burst(hosts[n].url, shares[n], processes=2))
        )
        for n in range(len(hosts))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return [answer for share in results for answer in share]


def burst_until_first_sales(
    hosts: list[ServerProcess], users: list[str]
) -> tuple[threading.Thread, list[Answer]]:
    """A spread burst in the background, returned once the first sales are made:
    what a test does next happens mid-burst. Join the thread for the answers."""
    result: list[Answer] = []
    shoppers = threading.Thread(target=lambda: result.extend(spread_burst(hosts, users)))
    shoppers.start()
    wait_until(
        lambda: hosts[0].status()["sold"] > 0, 60, interval_s=0.005, message="the first sales"
    )
    return shoppers, result


def sold_in_redis(redis_server: RedisServer, sale_id: int) -> dict[str, str]:
    """user -> order id of every order Redis holds for the sale (one each, checked)."""
    store = store_of(redis_server)
    try:
        orders = store.orders_of_sale(sale_id)
    finally:
        store.close()
    users = [order.user_id for order in orders]
    assert len(users) == len(set(users)), "someone holds two orders"
    assert [order.position for order in orders] == list(range(1, len(orders) + 1))
    return {order.user_id: order.order_id for order in orders}


def assert_no_ghost_and_no_loss(answers: list[Answer], orders: dict[str, str]) -> None:
    """Every 201/409 is in Redis; nobody told 503 owns anything."""
    assert all(a.status < 500 or a.status == 503 for a in answers), Counter(
        a.status for a in answers
    )
    for answer in answers:
        if answer.status in (201, 409):
            assert orders[answer.user_id] == answer.body["orderId"], answer
    # A shopper on two hosts may hear 503 on one and buy on the other (or hear 202).
    told_503 = {a.user_id for a in answers if a.status == 503}
    told_else = {a.user_id for a in answers if a.status in (201, 202, 409)}
    assert not (told_503 - told_else) & set(orders), "a shopper told only 503 owns a sale"


def every_host_sells_again(hosts: list[ServerProcess]) -> None:
    """By itself, within Redis's probe interval: a new shopper buys on each host."""
    for n, host in enumerate(hosts):
        wait_until(
            lambda h=host, n=n: buy(h, f"again-{n}-{time.monotonic_ns()}").status_code == 201,
            30,
            message=f"host {n} selling again",
        )


def hosts_agree(hosts: list[ServerProcess], sold: int) -> bool:
    return all(host.status()["sold"] == sold for host in hosts)


@pytest.mark.slow
def test_three_hosts_sell_exactly_the_stock_one_per_person_across_hosts(hosts, redis_server):
    servers = hosts(3, FLASHSALE_STOCK="60", FLASHSALE_RATE_LIMIT="50")
    users = [f"shopper-{i:04d}" for i in range(450)]

    answers = spread_burst(servers, users)

    assert len(answers) == 900
    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {201, 409, 410}, statuses
    winners = [a.user_id for a in answers if a.status == 201]
    assert len(winners) == len(set(winners)) == 60  # nobody twice, whichever hosts they used
    orders = sold_in_redis(redis_server, servers[0].status()["saleId"])
    assert set(orders) == set(winners)
    assert_no_ghost_and_no_loss(answers, orders)
    wait_until(lambda: hosts_agree(servers, 60), 10, message="every host's status sold out")
    assert all(host.status()["state"] == "sold_out" for host in servers)
    for user in winners[:20]:  # every sale is visible through every host
        assert {look_up(host, user)["orderId"] for host in servers} == {orders[user]}


@pytest.mark.slow
def test_kill_9_of_redis_mid_burst_loses_nothing_confirmed_and_every_host_sells_again(
    hosts, redis_server
):
    servers = hosts(2, FLASHSALE_STOCK="1000")
    sale_id = servers[0].status()["saleId"]
    users = [f"k-{i:04d}" for i in range(600)]
    shoppers, result = burst_until_first_sales(servers, users)
    redis_server.kill()
    refused = requests.get(f"{servers[0].url}/flash-sale/purchase/k-0000", timeout=10)
    assert refused.status_code == 503 and refused.headers["Retry-After"], refused.text
    time.sleep(1.0)
    redis_server.start()  # the same folder: its append-only file is replayed
    shoppers.join(180)
    assert result, "the burst did not finish"

    statuses = Counter(answer.status for answer in result)
    assert statuses[201] > 0 and statuses[503] + statuses[202] > 0, statuses  # killed mid-burst
    orders = sold_in_redis(redis_server, sale_id)
    assert_no_ghost_and_no_loss(result, orders)
    for user in {a.user_id for a in result if a.status == 202}:  # the look-up says the truth
        assert (look_up(servers[0], user) is not None) == (user in orders), user
    every_host_sells_again(servers)
    wait_until(lambda: hosts_agree(servers, len(orders) + 2), 10, message="hosts agree")


@pytest.mark.slow
def test_kill_9_of_one_host_s_allocator_mid_burst_makes_no_ghost_sale(hosts, redis_server):
    servers = hosts(2, FLASHSALE_STOCK="500")
    sale_id = servers[0].status()["saleId"]
    users = [f"a-{i:04d}" for i in range(300)]
    shoppers, result = burst_until_first_sales(servers, users)
    victim = servers[0].allocator_pid()
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: servers[0].allocator_pid() != victim, 15, message="a new allocator")
    shoppers.join(180)

    orders = sold_in_redis(redis_server, sale_id)
    assert_no_ghost_and_no_loss(result, orders)
    for user in {a.user_id for a in result if a.status == 202}:
        assert (look_up(servers[1], user) is not None) == (user in orders), user
    assert Counter(a.status for a in result)[201] > 0


@pytest.mark.slow
def test_a_frozen_redis_gives_fast_503s_and_pending_answers_that_never_become_ghosts(
    hosts, redis_server
):
    servers = hosts(2, FLASHSALE_STOCK="100", FLASHSALE_REDIS_TIMEOUT_S="0.5")
    sale_id = servers[0].status()["saleId"]
    redis_server.freeze()
    try:
        attempts = [(f"frozen-{n}-{i}", host) for i in range(3) for n, host in enumerate(servers)]
        answers = {user: buy(host, user) for user, host in attempts}
        health = requests.get(f"{servers[0].url}/flash-sale/health", timeout=10)
    finally:
        redis_server.resume()
    statuses = Counter(answer.status_code for answer in answers.values())
    assert set(statuses) <= {202, 503}, statuses
    assert statuses[503] >= 3  # once Redis is known to fail, refused at once
    assert health.status_code == 503
    assert "Redis at" in health.json()["problems"][0]
    refused = [a for a in answers.values() if a.status_code == 503]
    assert all(a.headers.get("Retry-After") for a in refused)

    every_host_sells_again(servers)
    orders = sold_in_redis(redis_server, sale_id)
    for user, answer in answers.items():
        if answer.status_code == 503:
            assert user not in orders, f"{user} was told 503 but owns a sale"
        else:  # 202: whatever Redis decided, the look-up says it
            assert (look_up(servers[0], user) is not None) == (user in orders)


def test_a_new_sale_started_on_one_host_is_served_by_every_host(hosts):
    first, second = hosts(2, workers=1)
    started = requests.post(
        f"{second.url}/flash-sale/admin/sale",
        json={"stock": 7},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "If-Match": "*"},
        timeout=10,
    )
    assert started.status_code == 201, started.text
    sale_id = started.json()["saleId"]
    wait_until(lambda: first.status()["saleId"] == sale_id, 5, message="the first host follows")
    assert buy(first, "ann").json()["saleId"] == sale_id
    assert buy(second, "ann").status_code == 409  # one per person, on either host
    wait_until(lambda: second.status()["sold"] == 1, 5, message="the second host learns the sale")


def test_the_rate_limit_counts_a_shopper_s_attempts_on_every_host(hosts):
    first, second = hosts(2, workers=1, FLASHSALE_RATE_LIMIT="3", FLASHSALE_STOCK="10")
    answers = [buy(host, "eager") for _ in range(3) for host in (first, second)]
    # Three attempts reach Redis (one sale, two 409s); the rest are refused wherever sent.
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 429, 429, 429]
    refused = [a for a in answers if a.status_code == 429]
    assert all(1 <= int(a.headers["Retry-After"]) <= 60 for a in refused)
    assert all(a.json()["outcome"] == "rate_limited" for a in refused)


def _start_refused(tmp_path: Path, redis_url: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "FLASHSALE_ENGINE": "redis",
        "FLASHSALE_REDIS_URL": redis_url,
        "FLASHSALE_DB": str(tmp_path / "refused.db"),
        "FLASHSALE_BIND": f"127.0.0.1:{free_port()}",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_redis_that_does_not_fsync_every_write_is_refused_unless_accepted(tmp_path, start_server):
    with RedisServer(tmp_path / "everysec", appendfsync="everysec") as weak:
        refused = _start_refused(tmp_path, weak.url)
        assert refused.returncode == 2, refused.stderr
        lines = [line for line in refused.stderr.splitlines() if line.startswith("flashsale:")]
        assert len(lines) == 1
        assert "appendfsync is 'everysec', not 'always'" in lines[0]
        assert "FLASHSALE_REDIS_DURABILITY=accept-weaker" in lines[0]

        accepted = start_server(
            workers=1,
            env={
                "FLASHSALE_ENGINE": "redis",
                "FLASHSALE_REDIS_URL": weak.url,
                "FLASHSALE_REDIS_DURABILITY": "accept-weaker",
            },
        )
        health = requests.get(f"{accepted.url}/flash-sale/health", timeout=5).json()
        assert health["engine"]["weaker"] == "appendfsync is 'everysec', not 'always'"
        # The UI's EngineInfo is this schema (webui/src/lib/types.ts).
        assert schema_problems(health, "Health") == []
        assert buy(accepted, "ann").status_code == 201
        accepted.stop()


def test_an_unreachable_redis_at_start_is_one_line_and_exit_2(tmp_path):
    refused = _start_refused(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    assert refused.returncode == 2
    assert "flashsale: cannot reach Redis at" in refused.stderr
