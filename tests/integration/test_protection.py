"""Breaker, rate limits and load shedding against a real gunicorn with several workers."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from flashsale.processes import total_resident_bytes
from tests.integration.test_resilience import assert_invariants
from tests.support.load import Answer, burst, journal_orders
from tests.support.server import ServerProcess, processes_in_group, wait_until

PURCHASE = "/flash-sale/purchase"


def health_json(server: ServerProcess) -> dict:
    return requests.get(f"{server.url}/flash-sale/health", timeout=5).json()


def timed_buy(server: ServerProcess, user: str) -> tuple[Answer, float]:
    started = time.monotonic()
    answer = requests.post(f"{server.url}{PURCHASE}", json={"userId": user}, timeout=30)
    retry_after = answer.headers.get("Retry-After")
    return Answer(user, answer.status_code, answer.json(), retry_after=retry_after), (
        time.monotonic() - started
    )


@pytest.mark.slow
def test_a_frozen_allocator_opens_the_breaker_and_it_recovers(start_server):
    server = start_server(
        workers=4,
        env={
            "FLASHSALE_STOCK": "1000",
            "FLASHSALE_REPLY_TIMEOUT_S": "4",
            "FLASHSALE_BREAKER_COOLDOWN_S": "1",
        },
    )
    answers: list[Answer] = []
    allocator = server.allocator_pid()
    stop = threading.Event()

    def shoppers() -> None:  # a steady stream of buyers across the whole episode
        with ThreadPoolExecutor(16) as pool:
            n = 0
            while not stop.is_set():
                batch = [f"s{n + i}" for i in range(16)]
                n += 16
                answers.extend(a for a, _ in pool.map(lambda u: timed_buy(server, u), batch))

    stream = threading.Thread(target=shoppers)
    stream.start()
    try:
        opened_after_s = _freeze_and_thaw(server, allocator, answers)
    finally:
        stop.set()
        stream.join(60)
    print(f"breaker opened {opened_after_s:.2f} s after the freeze")
    assert opened_after_s < 2  # far below gunicorn's 30 s worker timeout
    assert health_json(server)["breaker"]["trips"] >= 1
    assert "WORKER TIMEOUT" not in server.log()
    statuses = Counter(a.status for a in answers)
    assert set(statuses) <= {201, 202, 503}, statuses
    assert_invariants(server, answers, 1000)


def _freeze_and_thaw(server: ServerProcess, allocator: int, answers: list[Answer]) -> float:
    """SIGSTOP the allocator until the breaker opens, then SIGCONT it and wait for
    the breaker to close again; returns how long the breaker took to open."""
    wait_until(lambda: len(answers) > 50, 30, message="sales before the freeze")
    os.kill(allocator, signal.SIGSTOP)
    try:
        frozen_at = datetime.now(UTC)
        wait_until(
            lambda: health_json(server)["breaker"]["state"] == "open",
            10,
            message="the breaker to open",
        )
        since = health_json(server)["breaker"]["since"].replace("Z", "+00:00")
        opened_after_s = (datetime.fromisoformat(since) - frozen_at).total_seconds()
        health = requests.get(f"{server.url}/flash-sale/health", timeout=5)
        assert health.status_code == 503
        assert health.json()["breaker"]["lastReason"] == "allocator silent"
        # Once open, nobody waits for the 4 s reply timeout.
        refused = [timed_buy(server, f"during-{i}") for i in range(10)]
        assert all(a.status == 503 for a, _ in refused)
        assert all(int(a.retry_after or 0) >= 1 for a, _ in refused)
        assert max(seconds for _, seconds in refused) < 2
        answers.extend(a for a, _ in refused)
    finally:
        os.kill(allocator, signal.SIGCONT)
    wait_until(
        lambda: health_json(server)["breaker"]["state"] == "closed",
        30,
        message="half-open probes to close the breaker",
    )
    sold_before = server.status()["sold"]
    wait_until(lambda: server.status()["sold"] > sold_before, 30, message="selling again")
    return opened_after_s


def test_one_user_hammering_four_workers_gets_exactly_the_limit_per_window(start_server):
    server = start_server(
        workers=4, env={"FLASHSALE_RATE_LIMIT": "10", "FLASHSALE_RATE_WINDOW_S": "3"}
    )
    answers = burst(server.url, ["hammer"] * 40, processes=4)
    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 1, 409: 9, 429: 30}, statuses
    limited = next(a for a in answers if a.status == 429)
    assert limited.body["outcome"] == "rate_limited"
    assert 1 <= int(limited.retry_after or 0) <= 3

    time.sleep(3.1)  # the window itself is what is under test
    again = requests.post(f"{server.url}{PURCHASE}", json={"userId": "hammer"}, timeout=5)
    assert again.status_code == 409
    # draft-ietf-httpapi-ratelimit-headers-10: the policy, and this window's count
    assert again.headers["RateLimit-Policy"] == '"purchase";q=10;w=3'
    assert again.headers["RateLimit"] == '"purchase";r=9;t=3'


def test_each_counted_attempt_says_so_in_the_ratelimit_fields_and_no_other_answer_does(
    start_server,
):
    server = start_server(
        workers=1,
        env={"FLASHSALE_RATE_LIMIT": "3", "FLASHSALE_IP_RATE_LIMIT": "100", "FLASHSALE_STOCK": "1"},
    )
    policy = '"purchase";q=3;w=60, "address";q=100;w=60'

    def buy(body: Any, **headers: str) -> requests.Response:
        return requests.post(f"{server.url}{PURCHASE}", json=body, headers=headers, timeout=10)

    # Refused before anything is counted: no RateLimit fields, and no attempt spent.
    uncounted = [
        buy(["ann"]),
        buy({"userId": "ann", "sku": "no-such-sku"}),
        requests.post(f"{server.url}{PURCHASE}", data=b"ann", timeout=10),
    ]
    assert [a.status_code for a in uncounted] == [400, 404, 415]
    for answer in uncounted:
        assert "RateLimit" not in answer.headers and "RateLimit-Policy" not in answer.headers

    counted = [buy({"userId": "ann"}) for _ in range(3)]
    assert [a.status_code for a in counted] == [201, 409, 409]
    for n, answer in enumerate(counted):
        assert answer.headers["RateLimit-Policy"] == policy
        assert re.fullmatch(
            rf'"purchase";r={2 - n};t=\d+, "address";r={99 - n};t=\d+',
            answer.headers["RateLimit"],
        ), answer.headers["RateLimit"]
    limited = buy({"userId": "ann"})
    assert limited.status_code == 429
    assert limited.headers["RateLimit-Policy"] == policy
    # The shopper's window refused it: the address's was not counted.
    assert re.fullmatch(r'"purchase";r=0;t=\d+', limited.headers["RateLimit"])
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    sold_out = buy({"userId": "bob"})
    assert sold_out.status_code == 410
    assert re.fullmatch(
        r'"purchase";r=2;t=\d+, "address";r=96;t=\d+', sold_out.headers["RateLimit"]
    )


def test_many_distinct_users_do_not_limit_each_other(start_server):
    server = start_server(workers=4, env={"FLASHSALE_RATE_LIMIT": "3", "FLASHSALE_STOCK": "1000"})
    # 300 shoppers, 3 attempts each in turn (900 client threads at once would
    # starve the server's threads of CPU on 2 cores and turn the test into a flood).
    users = [f"crowd-{i}" for i in range(300)]
    statuses = Counter(a.status for a in burst(server.url, users, processes=4, attempts=3))
    assert statuses == {201: 300, 409: 600}, statuses


def test_a_client_address_limit_and_who_may_forward_addresses(start_server):
    trusted = start_server(workers=2, env={"FLASHSALE_IP_RATE_LIMIT": "5"})

    def buy(server, user, forwarded=None):
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return requests.post(
            f"{server.url}{PURCHASE}", json={"userId": user}, headers=headers, timeout=5
        ).status_code

    assert [buy(trusted, f"ip-{i}") for i in range(7)] == [201] * 5 + [429] * 2
    # 127.0.0.1 is a trusted proxy by default: each forwarded client has its own count.
    assert [buy(trusted, f"fwd-{i}", f"198.51.100.{i}") for i in range(7)] == [201] * 7

    untrusted = start_server(
        db_name="other.db",
        workers=2,
        env={"FLASHSALE_IP_RATE_LIMIT": "5", "FLASHSALE_FORWARDED_ALLOW_IPS": "10.1.2.3"},
    )
    spoofed = [buy(untrusted, f"sp-{i}", f"203.0.113.{i}") for i in range(7)]
    assert spoofed == [201] * 5 + [429] * 2


def _server_rss_mib(server: ServerProcess) -> float:
    return total_resident_bytes(processes_in_group(server.pid)) / (1 << 20)


@pytest.mark.slow
def test_a_flood_beyond_the_queue_is_shed_and_every_request_answered(start_server):
    stock = 1000
    server = start_server(
        workers=4,
        env={"FLASHSALE_STOCK": str(stock), "FLASHSALE_QUEUE_CAPACITY": "4"},
    )
    rss_before = _server_rss_mib(server)
    peak = [rss_before]
    done = threading.Event()

    def sample_memory() -> None:
        while not done.wait(0.1):
            peak.append(_server_rss_mib(server))

    sampler = threading.Thread(target=sample_memory)
    sampler.start()
    try:
        answers = burst(server.url, [f"flood-{i}" for i in range(3000)], processes=4)
    finally:
        done.set()
        sampler.join(10)
    statuses = Counter(a.status for a in answers)
    print(
        f"flood: {dict(statuses)}; server RSS {rss_before:.0f} MiB before, "
        f"{max(peak):.0f} MiB at peak"
    )
    assert not [a for a in answers if a.status == 0], "a request went unanswered"
    assert set(statuses) <= {201, 202, 410, 503}, statuses
    assert statuses[503] > 0, "the queue bound never shed anything"
    assert all(a.body["outcome"] == "unavailable" for a in answers if a.status == 503)
    assert max(peak) < 1024  # MiB, for master, allocator and four workers together
    assert "WORKER TIMEOUT" not in server.log()
    journal = assert_invariants(server, answers, stock)
    assert len(journal) == statuses[201] + sum(
        1 for a in answers if a.status == 202 and a.user_id in journal
    )
    assert journal_orders(server.db_path) == journal
