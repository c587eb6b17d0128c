"""A sale's waiting room against a real server: the pre-queue drawn at the start, the
admission at its rate, tickets that cannot be forged, replayed or skipped, the queue
closed at the sell-out, and the drawn order kept across a kill -9 of the allocator.

The 2,000-shopper run joins and buys from several processes (tests/support/queue_shoppers.py)."""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.support.engines import ENGINES, engine_settings
from tests.support.queue_shoppers import (
    audit,
    buy,
    join,
    queue_status,
    rank_correlation,
    run_shoppers,
)
from tests.support.sales import start_next_sale
from tests.support.server import running_server, wait_until

ADMIN_TOKEN = "admin-token-for-the-queue"
TIMEOUT_S = 10


def _starts_in(seconds: float) -> tuple[str, float]:
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.isoformat().replace("+00:00", "Z"), at.timestamp()


def _queue_sale(url: str, seconds: float, stock: int, **queue: Any) -> tuple[dict[str, Any], float]:
    starts_at, starts_s = _starts_in(seconds)
    sale = start_next_sale(url, ADMIN_TOKEN, stock=stock, startsAt=starts_at, queue=queue)
    return sale, starts_s


@pytest.mark.parametrize("engine", ENGINES)
def test_tickets_cannot_be_skipped_forged_or_replayed(tmp_path, engine: str) -> None:
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    with (
        engine_settings(engine, tmp_path) as (engine_env, _),
        running_server(tmp_path / "j.db", workers=3, env=env | engine_env) as server,
    ):
        url = server.url
        sale, starts_s = _queue_sale(url, 3, 4, admitPerMinute=None, admittedSeconds=60)
        assert sale["queue"]["shuffle"] is True and sale["queue"]["admitPerMinute"] is None
        users = [f"u{n}" for n in range(12)]
        tickets = {user: join(url, user) for user in users}
        assert {t["state"] for t in tickets.values()} == {"prequeue"}
        # A second tab of the same person holds the same ticket.
        second = requests.post(f"{url}/flash-sale/queue", json={"userId": "u0"}, timeout=TIMEOUT_S)
        assert second.status_code == 200 and second.json()["ticket"] == tickets["u0"]["ticket"]
        status = queue_status(url)
        assert status["state"] == "prequeue" and status["length"] == 12

        wait_until(lambda: time.time() > starts_s and queue_status(url)["state"] == "admitting", 30)
        ticket_of = {user: t["ticket"] for user, t in tickets.items()}
        # Skipping the queue: no ticket, another's, a forged one, one of another sale.
        assert buy(url, "mallory").json()["outcome"] == "not_admitted"
        assert buy(url, "mallory", ticket_of["u1"]).status_code == 403
        head, _, mac = ticket_of["u1"].rpartition(".")
        forged = f"{head}.{'A' * len(mac)}"
        assert buy(url, "u1", forged).json()["outcome"] == "not_admitted"
        read = requests.get(f"{url}/flash-sale/queue/{forged}", timeout=TIMEOUT_S)
        assert read.status_code == 403 and read.json()["type"] == "/problems/ticket-invalid"
        other_sale = ticket_of["u1"].replace(f"{sale['saleId']}.", "999.", 1)
        assert buy(url, "u1", other_sale).status_code == 403

        places = {user: join(url, user)["place"] for user in users}
        assert sorted(places.values()) == list(range(1, 13))
        first = min(users, key=places.__getitem__)
        bought = buy(url, first, ticket_of[first])
        assert bought.status_code == 201, bought.text
        # Replayed: the same ticket again (already bought), and by someone else.
        assert buy(url, first, ticket_of[first]).status_code == 409
        assert buy(url, "mallory", ticket_of[first]).status_code == 403
        assert join(url, first)["state"] == "used"

        # Everyone is admitted at once: the next three buy, and the sell-out closes the queue.
        for user in sorted(users, key=places.__getitem__)[1:4]:
            assert buy(url, user, ticket_of[user]).status_code == 201
        wait_until(lambda: queue_status(url)["state"] == "closed", 30, message="queue closed")
        last = max(users, key=places.__getitem__)
        assert join(url, last)["state"] == "closed"
        assert buy(url, last, ticket_of[last]).status_code == 410
        late = requests.post(f"{url}/flash-sale/queue", json={"userId": "late"}, timeout=TIMEOUT_S)
        assert late.status_code == 410 and late.json()["type"] == "/problems/queue-closed"
        assert server.status()["sold"] == 4


@pytest.mark.parametrize("engine", ENGINES)
def test_the_drawn_order_survives_a_kill_9_of_the_allocator(tmp_path, engine: str) -> None:
    """Killed between the draw and the admissions: the next allocator admits in the
    same order, from where the first one stopped. In the Redis engine Redis is killed -9
    too while no allocator runs, and restarted from its append-only file."""
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    with (
        engine_settings(engine, tmp_path) as (engine_env, redis_server),
        running_server(tmp_path / "j.db", workers=2, env=env | engine_env) as server,
    ):
        url = server.url
        sale, _ = _queue_sale(url, 3, 50, admitPerMinute=60)
        for n in range(40):
            join(url, f"u{n}")
        wait_until(lambda: queue_status(url)["state"] == "admitting", 30, message="the draw")
        drawn = audit(url, ADMIN_TOKEN, sale["saleId"])
        order = [row["userId"] for row in drawn["tickets"]]
        assert [row["place"] for row in drawn["tickets"]] == list(range(1, 41))

        pid = server.allocator_pid()
        os.kill(pid, signal.SIGKILL)
        try:
            if redis_server is not None:
                redis_server.kill()  # only what its AOF fsynced is left
            wait_until(lambda: server.allocator_pid() != pid, 30, message="a new allocator")
        finally:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if redis_server is not None:
            redis_server.start()  # from its AOF
        wait_until(lambda: queue_status(url)["serving"] >= 4, 60, message="admissions go on")
        after = audit(url, ADMIN_TOKEN, sale["saleId"])
        assert [row["userId"] for row in after["tickets"]] == order
        assert after["shuffledAt"] == drawn["shuffledAt"]
        admitted = [row for row in after["tickets"] if row["admittedAt"] is not None]
        assert [row["place"] for row in admitted] == list(range(1, len(admitted) + 1))
        times = [row["admittedAt"] for row in admitted]
        assert times == sorted(times)


@pytest.mark.parametrize("engine", ENGINES)
def test_two_thousand_shoppers_are_served_exactly_fairly_and_at_the_rate(
    tmp_path, engine: str
) -> None:
    """1,500 join the pre-queue over its last seconds, 500 more after the start; a
    hundred are admitted a second, each buys once admitted. Exactly the stock is sold, to
    admitted tickets only; the draw is not correlated with how early anyone joined; later
    arrivals are served in arrival order; the admissions keep the rate."""
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    stock, rate = 1_200, 6_000
    with (
        engine_settings(engine, tmp_path) as (engine_env, _),
        running_server(tmp_path / "j.db", workers=3, env=env | engine_env) as server,
    ):
        url = server.url
        # The pre-queue's shoppers get 12 s to join: enough on a busy machine.
        sale, starts_s = _queue_sale(url, 15, stock, admitPerMinute=rate, admittedSeconds=120)
        outcome = run_shoppers(
            url,
            early=1_500,
            late=500,
            starts_at_s=starts_s,
            prequeue_s=12,
            processes=4,
            timeout_s=180,
        )
        wait_until(lambda: queue_status(url)["state"] == "closed", 60, message="sold out")
        rows: list[dict[str, Any]] = []
        page = audit(url, ADMIN_TOKEN, sale["saleId"])
        rows += page["tickets"]
        while page["next"]:
            page = audit(url, ADMIN_TOKEN, sale["saleId"], after=page["next"])
            rows += page["tickets"]
        assert len(rows) == 2_000 and {row["place"] for row in rows} == set(range(1, 2_001))

        # Exact: the stock and no more, one each, to admitted tickets only.
        assert server.status()["sold"] == stock
        assert len(outcome.bought) == stock and len(set(outcome.bought)) == stock
        by_user = {row["userId"]: row for row in rows}
        for user in outcome.bought:
            assert by_user[user]["admittedAt"] is not None and by_user[user]["usedAt"]
        assert outcome.other_statuses == {}, outcome.other_statuses

        # Fair: the pre-queue's places are not correlated with when its shoppers joined.
        drawn_at = _instant(page["shuffledAt"])
        early = [row for row in rows if _instant(row["joinedAt"]) < drawn_at]
        assert 1_000 <= len(early) <= 1_500  # the rest came late: the machine was slow
        rho = rank_correlation([row["number"] for row in early], [row["place"] for row in early])
        assert abs(rho) < 0.15, rho  # random: about 0 +- 0.026; in arrival order: 1
        # Later arrivals in arrival order, after the whole pre-queue.
        late = sorted((row for row in rows if row not in early), key=lambda row: row["number"])
        assert [row["place"] for row in late] == list(range(len(early) + 1, 2_001))

        # The rate: admissions over the span the queue was not empty, within 5 %.
        admitted = sorted(row["admittedAt"] for row in rows if row["admittedAt"])
        span_s = (_instant(admitted[-1]) - _instant(admitted[0])).total_seconds()
        per_minute = (len(admitted) - 1) / span_s * 60
        assert abs(per_minute - rate) <= rate * 0.05, (per_minute, len(admitted), span_s)
        # Nobody admitted after the sell-out.
        closed_at = _instant(page["closedAt"])
        assert all(_instant(at) <= closed_at for at in admitted)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
