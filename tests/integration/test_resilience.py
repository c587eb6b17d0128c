"""Killing, freezing and restarting processes mid-burst: the invariants hold."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest
import requests

from tests.integration.test_burst import PATIENT
from tests.support.load import Answer, burst, journal_orders
from tests.support.server import (
    GUNICORN_CONF,
    REPO_ROOT,
    ServerProcess,
    free_port,
    processes_in_group,
    wait_until,
)

pytestmark = pytest.mark.slow


def burst_while(action: Callable[[], None], url: str, users: list[str], **kwargs) -> list[Answer]:
    """Run a burst in the background and `action` in the foreground, meanwhile."""
    result: list[list[Answer]] = []
    shoppers = threading.Thread(target=lambda: result.append(burst(url, users, **kwargs)))
    shoppers.start()
    try:
        action()
    finally:
        shoppers.join(120)
    assert result, "the burst did not finish"
    return result[0]


def assert_invariants(server: ServerProcess, answers: list[Answer], stock: int) -> dict[str, str]:
    """No oversell; every 201/409 is journaled; nobody told 503 owns anything."""
    journal = journal_orders(server.db_path)
    status = server.status()
    assert status["sold"] == len(journal) <= stock
    assert status["remaining"] == stock - len(journal)
    assert all(a.status < 500 or a.status == 503 for a in answers), Counter(
        a.status for a in answers
    )
    for answer in answers:
        if answer.status in (201, 409):
            assert journal[answer.user_id] == answer.body["orderId"], answer
        if answer.status == 503:
            assert answer.user_id not in journal, f"{answer.user_id} was told 503 but owns a sale"
    for user_id in {a.user_id for a in answers if a.status == 202}:
        lookup = requests.get(f"{server.url}/flash-sale/purchase/{user_id}", timeout=5)
        assert (lookup.status_code == 200) == (user_id in journal)
    return journal


def kill_one_worker(server: ServerProcess) -> None:
    for pid in server.worker_pids():
        with suppress(ProcessLookupError):  # it died and was reaped since the listing
            os.kill(pid, signal.SIGKILL)
            return
    raise AssertionError("no live worker to kill")


def kill_the_allocator_twice(server: ServerProcess) -> None:
    """kill -9 of the allocator, 0.1 s into a burst and once more when it is back."""
    for _ in range(2):
        time.sleep(0.1)
        pid = server.allocator_pid()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda p=pid: server.allocator_pid() != p, 10, message="a new allocator")


def test_kill_9_of_workers_mid_burst_keeps_selling_and_the_invariants(start_server):
    stock = 400
    server = start_server(workers=4, env={"FLASHSALE_STOCK": str(stock)})
    all_answers: list[Answer] = []
    for round_ in range(4):
        users = [f"k{round_}-{i}" for i in range(300)]

        def kill_workers() -> None:
            for _ in range(3):
                time.sleep(0.05)
                kill_one_worker(server)

        answers = burst_while(kill_workers, server.url, users, retries=3)
        all_answers += answers
        assert_invariants(server, all_answers, stock)
        wait_until(lambda: len(server.worker_pids()) == 4, 30, message="workers replaced")
    statuses = Counter(a.status for a in all_answers)
    assert statuses[201] >= 1, statuses  # the other workers kept selling
    wait_until(lambda: server.health() is not None, 30, message="healthy after the kills")
    later = requests.post(f"{server.url}/flash-sale/purchase", json={"userId": "late"}, timeout=10)
    assert later.status_code in (201, 410)


def test_kill_9_of_the_allocator_mid_burst_loses_no_confirmed_sale(start_server):
    stock = 500
    server = start_server(workers=4, env={"FLASHSALE_STOCK": str(stock)})
    all_answers: list[Answer] = []
    for round_ in range(5):
        users = [f"a{round_}-{i}" for i in range(300)]

        answers = burst_while(lambda: kill_the_allocator_twice(server), server.url, users)
        assert not [a for a in answers if a.status == 0], "connection errors"
        all_answers += answers
        assert_invariants(server, all_answers, stock)
    health = requests.get(f"{server.url}/flash-sale/health", timeout=5).json()
    assert health["allocator"]["restarts"] == 10
    assert Counter(a.status for a in all_answers)[201] > 0


def test_a_frozen_allocator_yields_503s_that_never_become_sales(start_server):
    server = start_server(workers=2, env={"FLASHSALE_REPLY_TIMEOUT_S": "1"})
    allocator = server.allocator_pid()
    os.kill(allocator, signal.SIGSTOP)
    try:
        answers = burst(server.url, [f"frozen-{i}" for i in range(20)], processes=2)
    finally:
        os.kill(allocator, signal.SIGCONT)
    assert {a.status for a in answers} == {503}
    assert all(a.body["outcome"] == "unavailable" for a in answers)
    # Resumed, the allocator reads those requests past their deadline: no sale.
    # The breaker (opened by the silence) lets purchases through after its cool-down.
    tries = iter(range(1000))

    def a_purchase_succeeds() -> bool:
        answer = requests.post(
            f"{server.url}/flash-sale/purchase", json={"userId": f"thaw-{next(tries)}"}, timeout=5
        )
        return answer.status_code == 201

    wait_until(a_purchase_succeeds, 30, interval_s=0.2, message="selling after the thaw")
    journal = journal_orders(server.db_path)
    assert len(journal) == 1
    assert all(user.startswith("thaw-") for user in journal)
    assert server.status()["sold"] == 1


def test_sighup_mid_burst_replaces_every_worker_and_loses_nothing(start_server):
    stock = 300
    server = start_server(workers=4, env={"FLASHSALE_STOCK": str(stock), **PATIENT})
    before = set(server.worker_pids())

    def reload() -> None:
        time.sleep(0.05)
        server.signal(signal.SIGHUP)

    answers = burst_while(reload, server.url, [f"hup-{i}" for i in range(600)], retries=3)
    assert not [a for a in answers if a.status == 0], "a shopper never got an answer"
    journal = assert_invariants(server, answers, stock)
    assert Counter(a.status for a in answers) == {201: stock, 410: 300}
    assert len(journal) == stock
    wait_until(lambda: not before & set(server.worker_pids()), 30, message="old workers gone")


def test_max_requests_recycling_mid_burst_loses_nothing(start_server):
    stock = 500
    server = start_server(
        workers=4, env={"FLASHSALE_STOCK": str(stock), "FLASHSALE_MAX_REQUESTS": "60", **PATIENT}
    )
    before = set(server.worker_pids())
    answers = burst(server.url, [f"cycle-{i}" for i in range(700)], processes=4, retries=3)
    assert not [a for a in answers if a.status == 0], "a shopper never got an answer"
    assert_invariants(server, answers, stock)
    assert Counter(a.status for a in answers) == {201: stock, 410: 200}
    # 700 requests over 4 workers: at least one passed max_requests + jitter (75).
    # It leaves once its last connections close, which may be after the burst.
    wait_until(lambda: before - set(server.worker_pids()), 30, message="a worker recycled")
    later = requests.post(f"{server.url}/flash-sale/purchase", json={"userId": "z"}, timeout=10)
    assert later.status_code == 410


def test_a_restart_of_the_whole_server_keeps_the_sale(start_server, tmp_path):
    server = start_server(workers=2, env={"FLASHSALE_STOCK": "5"})
    bought = {
        user: requests.post(
            f"{server.url}/flash-sale/purchase", json={"userId": user}, timeout=5
        ).json()["orderId"]
        for user in ("r1", "r2", "r3")
    }
    before = server.status()
    server.stop()

    again = start_server(workers=2, env={"FLASHSALE_STOCK": "5"})
    after = again.status()
    for key in ("saleId", "total", "remaining", "sold", "state"):
        assert after[key] == before[key], key
    for user, order_id in bought.items():
        lookup = requests.get(f"{again.url}/flash-sale/purchase/{user}", timeout=5).json()
        assert lookup["orderId"] == order_id
    answer = requests.post(f"{again.url}/flash-sale/purchase", json={"userId": "r4"}, timeout=5)
    assert answer.json()["position"] == 4


def test_a_second_server_on_the_same_journal_is_refused(start_server):
    first = start_server(workers=1)
    second = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)],
        cwd=REPO_ROOT,
        env={**first.env, "FLASHSALE_BIND": f"127.0.0.1:{free_port()}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 3
    assert "already served by another flashsale server" in second.stderr
    assert first.health() is not None
    buy = requests.post(f"{first.url}/flash-sale/purchase", json={"userId": "one"}, timeout=5)
    assert buy.status_code == 201


def test_an_invalid_setting_stops_start_up_with_one_line_naming_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)],
        cwd=REPO_ROOT,
        env={**os.environ, "FLASHSALE_STOCK": "lots", "FLASHSALE_DB": str(tmp_path / "j.db")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "flashsale: FLASHSALE_STOCK='lots' is not an integer"
    )


def test_stopping_leaves_no_process_and_no_socket(start_server):
    server = start_server(workers=3)
    members = processes_in_group(server.pid)
    assert len(members) == 5  # master, allocator, three workers
    assert _socket_dirs_of(server.pid)
    assert server.stop() == 0
    wait_until(lambda: not processes_in_group(server.pid), 10, message="no orphans")
    assert not _socket_dirs_of(server.pid)


def test_a_master_killed_with_sigkill_is_cleaned_up_after(start_server):
    killed = start_server(workers=1)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.proc.wait(10)
    assert _socket_dirs_of(killed.pid)  # nothing could run in the killed master
    start_server(workers=1, db_name="next.db")
    assert not _socket_dirs_of(killed.pid)


def _socket_dirs_of(master_pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"flashsale-{master_pid}-*"))


def test_an_allocator_that_cannot_start_is_retried_ever_more_slowly(start_server, tmp_path):
    # A journal path that is a folder: every allocator dies opening it, before it is ready.
    (tmp_path / "folder.db").mkdir()
    server = start_server(workers=1, db_name="folder.db", wait=False)
    waits: list[float] = []

    def three_retries() -> bool:
        waits[:] = [float(w) for w in re.findall(r"starting another in ([\d.]+) s", server.log())]
        return len(waits) >= 3

    wait_until(three_retries, 60, interval_s=0.1, message="three restarts of the allocator")
    assert waits[:3] == [0.5, 1.0, 2.0]
    assert server.proc.poll() is None, "the master gave up"
