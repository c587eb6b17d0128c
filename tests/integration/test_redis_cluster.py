"""The Redis engine on a real Redis Cluster of three primaries: every key in one slot,
the hosts pointed at a node that does not own it and redirected there."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
from redis.cluster import RedisCluster

from flashsale.redis_engine.store import RedisStore
from stress.servers.redis_server import RedisClusterNodes, redis_server_binary
from tests.integration.test_burst import PATIENT
from tests.integration.test_redis_engine import ADMIN_TOKEN, buy, spread_burst
from tests.support.server import wait_until

pytestmark = pytest.mark.skipif(
    redis_server_binary() is None,
    reason="redis-server is not installed (test.sh installs Debian's redis-server)",
)


@pytest.fixture
def cluster(tmp_path):
    with RedisClusterNodes(tmp_path / "cluster") as nodes:
        yield nodes


def test_two_hosts_on_a_redis_cluster_sell_exactly_the_stock(start_server, cluster):
    client = RedisCluster.from_url(cluster.url)
    home = client.get_node_from_key("{flashsale}:current")
    client.close()
    elsewhere = next(node for node in cluster.nodes if node.port != home.port)
    env = {
        "FLASHSALE_ENGINE": "redis",
        "FLASHSALE_REDIS_CLUSTER": "yes",
        "FLASHSALE_REDIS_URL": elsewhere.url,  # not the slot's node: redirected
        "FLASHSALE_REDIS_TIMEOUT_S": "5",
        "FLASHSALE_STOCK": "40",
        "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
        **PATIENT,
    }
    hosts = [start_server(db_name=f"host-{n}.db", workers=1, env=env) for n in range(2)]
    users = [f"c-{i:03d}" for i in range(200)]

    answers = spread_burst(hosts, users)

    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {201, 409, 410}, statuses
    winners = [a.user_id for a in answers if a.status == 201]
    assert len(winners) == len(set(winners)) == 40
    store = RedisStore(cluster.url, tag="flashsale", timeout_s=5.0, cluster=True)
    try:
        orders = store.orders_of_sale(hosts[0].status()["saleId"])
    finally:
        store.close()
    assert sorted(o.user_id for o in orders) == sorted(winners)
    wait_until(lambda: all(h.status()["sold"] == 40 for h in hosts), 10, message="hosts agree")

    started = requests.post(
        f"{hosts[1].url}/flash-sale/admin/sale",
        json={"stock": 3},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "If-Match": "*"},
        timeout=10,
    )
    assert started.status_code == 201, started.text
    wait_until(
        lambda: hosts[0].status()["saleId"] == started.json()["saleId"],
        5,
        message="the first host follows the new sale",
    )
    assert buy(hosts[0], "new-buyer").status_code == 201
    health = requests.get(f"{hosts[0].url}/flash-sale/health", timeout=5).json()
    assert (health["engine"]["appendfsync"], health["engine"]["weaker"]) == ("always", None)
