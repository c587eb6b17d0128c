"""Shoppers of a sale with a waiting room, for the tests: join, read the queue, buy with a
ticket, and a crowd of them in several processes (each joins at its own instant, reads
its place once after the start, follows "now serving" and buys once admitted)."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

TIMEOUT_S = 10
POLL_S = 0.05


def join(url: str, user: str, session: requests.Session | None = None) -> dict[str, Any]:
    """This person's ticket (a first join or a later one)."""
    answer = (session or requests).post(
        f"{url}/flash-sale/queue", json={"userId": user}, timeout=TIMEOUT_S
    )
    assert answer.status_code in (200, 201), answer.text
    ticket: dict[str, Any] = answer.json()
    return ticket


def buy(
    url: str, user: str, ticket: str | None = None, session: requests.Session | None = None
) -> requests.Response:
    headers = {"Flash-Sale-Ticket": ticket} if ticket is not None else {}
    return (session or requests).post(
        f"{url}/flash-sale/purchase", json={"userId": user}, headers=headers, timeout=TIMEOUT_S
    )


def queue_status(url: str, session: requests.Session | None = None) -> dict[str, Any]:
    status = (session or requests).get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()
    queue: dict[str, Any] = status["queue"]
    return queue


def audit(url: str, token: str, sale_id: int, after: str | None = None) -> dict[str, Any]:
    """A page of the operators' record of the queue."""
    params = {"limit": "1000"}
    if after:
        params["after"] = after
    answer = requests.get(
        f"{url}/flash-sale/admin/sales/{sale_id}/queue",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_S,
    )
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


def rank_correlation(xs: list[int], ys: list[int]) -> float:
    """Spearman's rho of two lists of distinct values."""
    n = len(xs)
    rank_x = {x: r for r, x in enumerate(sorted(xs))}
    rank_y = {y: r for r, y in enumerate(sorted(ys))}
    d2 = sum((rank_x[x] - rank_y[y]) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


@dataclass
class CrowdOutcome:
    bought: list[str] = field(default_factory=list)
    # Answers to purchases other than 201 and 410 (sold out), by status: none expected.
    other_statuses: dict[int, int] = field(default_factory=dict)


def run_shoppers(
    url: str,
    *,
    early: int,
    late: int,
    starts_at_s: float,
    prequeue_s: float,
    processes: int,
    timeout_s: float,
) -> CrowdOutcome:
    """`early` shoppers join over the pre-queue's last seconds (from `prequeue_s` before
    the start until 2 s before it: a shopper whose turn has passed joins at once), `late`
    ones over the two seconds after it; each buys once admitted."""
    spread_s = prequeue_s - 2
    plan = [(f"e{n}", starts_at_s - prequeue_s + spread_s * n / early) for n in range(early)]
    plan += [(f"l{n}", starts_at_s + 0.5 + 2 * n / late) for n in range(late)]
    slices = [plan[k::processes] for k in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(_shop, [(url, part, starts_at_s, timeout_s) for part in slices])
    outcome = CrowdOutcome()
    others: Counter[int] = Counter()
    for bought, statuses in results:
        outcome.bought += bought
        others.update(statuses)
    outcome.other_statuses = dict(others)
    return outcome


def _shop(
    url: str, plan: list[tuple[str, float]], starts_at_s: float, timeout_s: float
) -> tuple[list[str], dict[int, int]]:
    session = requests.Session()
    deadline = time.time() + timeout_s
    tickets: dict[str, str] = {}
    for user, at_s in plan:  # in join order
        time.sleep(max(0.0, at_s - time.time()))
        tickets[user] = join(url, user, session)["ticket"]
    while time.time() < starts_at_s:
        time.sleep(POLL_S)
    places: dict[str, int] = {}
    bought: list[str] = []
    others: Counter[int] = Counter()
    while tickets and time.time() < deadline:
        queue = queue_status(url, session)
        for user, ticket in list(tickets.items()):
            if user not in places:
                place = join(url, user, session)["place"]
                if place is None:
                    continue  # not drawn yet
                places[user] = place
            if queue["state"] == "closed" or places[user] > queue["serving"]:
                continue
            answer = buy(url, user, ticket, session)
            del tickets[user]
            if answer.status_code == 201:
                bought.append(user)
            elif answer.status_code != 410:
                others[answer.status_code] += 1
        if queue["state"] == "closed":
            break
        time.sleep(POLL_S)
    return bought, dict(others)
