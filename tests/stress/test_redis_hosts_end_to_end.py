"""The Redis engine end to end, as a user runs the toolkit: two real gunicorn hosts
on one real redis-server (started here, stopped after), `python -m stress flash`
with every shopper buying on both hosts at once; and `python -m stress redis`
with tiny sizes.

Asserts the invariants and that the figures are printed, never the speed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stress.servers.redis_server import RedisServer, redis_server_binary
from tests.support.command_line import command_line
from tests.support.server import running_server

pytestmark = pytest.mark.skipif(
    redis_server_binary() is None,
    reason="redis-server is not installed (apt-get install redis-server)",
)

TOKEN = "stress-redis-e2e-token"
USERS = 400
STOCK = 40


@pytest.mark.timeout(120)
def test_shoppers_on_two_hosts_at_once_buy_exactly_the_stock(tmp_path):
    with RedisServer(tmp_path / "redis") as redis:
        env = {
            "FLASHSALE_ENGINE": "redis",
            "FLASHSALE_REDIS_URL": redis.url,
            "FLASHSALE_ADMIN_TOKEN": TOKEN,
        }
        with (
            running_server(tmp_path / "a.db", workers=1, env=env) as a,
            running_server(tmp_path / "b.db", workers=1, env=env) as b,
        ):
            done = subprocess.run(
                command_line(
                    [sys.executable, "-m", "stress", "flash", "--url", a.url, "--url", b.url],
                    {
                        "--two-hosts-each": None,
                        "--users": USERS,
                        "--stock": STOCK,
                        "--admin-token": TOKEN,
                        "--processes": 2,
                        "--fairness-tolerance-ms": 5000,
                        "--no-progress": None,
                        "--report": tmp_path / "report",
                    },
                ),
                capture_output=True,
                text=True,
                timeout=100,
                check=False,
            )
            sold = (a.status()["sold"], b.status()["sold"])

    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERDICT: PASS" in done.stdout and "HOSTS (shopper i buys on hosts" in done.stdout
    assert sold == (STOCK, STOCK)
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    verdict = report["verdict"]
    assert verdict["ok"] and verdict["confirmed"] == STOCK
    checks = {check["name"]: check["ok"] for check in verdict["checks"]}
    assert checks["every host's status agrees"]
    assert checks["every 201 in every host's look-up"]
    assert checks["every host's look-ups agree"]
    assert checks["nobody over the per-user limit (1) across hosts"]
    hosts = report["figures"]["hosts"]
    assert [host["url"] for host in hosts] == [a.url, b.url]
    # Every shopper pressed Buy on both hosts: each host got one attempt per shopper.
    assert [host["purchaseRequests"] for host in hosts] == [USERS, USERS]
    assert sum(host["outcomes"].get("confirmed", 0) for host in hosts) == STOCK
    # A winner's other attempt was told it holds its order already (or sold out).
    outcomes = report["figures"]["outcomes"]
    assert outcomes["confirmed"] == STOCK and sum(outcomes.values()) == 2 * USERS
    assert "host" in (tmp_path / "report" / "records.csv").read_text().splitlines()[0]


@pytest.mark.timeout(120)
def test_the_redis_figures_print_their_tables_with_tiny_sizes(tmp_path):
    done = subprocess.run(
        command_line(
            [sys.executable, "-m", "stress", "redis"],
            {
                "--batches": "1,8",
                "--decide-seconds": 0.2,
                "--hosts": 1,
                "--seconds": 1,
                "--connections": 8,
                "--burst-users": 40,
                "--burst-stock": 4,
                "--burst-hosts": 1,
                "--redis-dir": tmp_path,
                "--report": tmp_path / "report",
            },
        ),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "appendfsync always" in out
    assert "DECISIONS" in out and "decisions/s" in out and "Redis CPU µs/decision" in out
    assert "PURCHASES" in out and "purchases/s" in out and "redis-server" in out
    assert "BURST: 40 shoppers" in out and "sold 4 of 4: exact" in out
    figures = json.loads((tmp_path / "report" / "redis.json").read_text())
    assert figures["ok"]
    assert [row["batch"] for row in figures["decide"]] == [1, 8]
    assert all(row["allConfirmed"] and row["decisionsPerS"] > 0 for row in figures["decide"])
    (purchases,) = figures["purchases"]
    assert purchases["hosts"] == 1 and purchases["durable"] and purchases["purchasesPerS"] > 0
    assert figures["burst"]["exact"] and figures["burst"]["burst"]["codes"]["201"] == 4
    # Nothing of the redis-servers is left in the folder it was given.
    assert [path.name for path in tmp_path.iterdir()] == ["report"]
