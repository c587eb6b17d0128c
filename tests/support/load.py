"""Bursts of shoppers from several client processes, all released at once, and
streams of purchases over a few keep-alive connections (`keep_buying`)."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from stress.api import PURCHASE_PATH
from stress.client.wire import WIRE_ERRORS, HttpConnection, connect, json_post

RELEASE_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 30

_barrier = None


@dataclass(frozen=True)
class Answer:
    user_id: str
    status: int  # 0 when the connection failed
    body: Any  # the answer's JSON, as the server wrote it; None when it was not JSON
    error: str | None = None
    sku: str | None = None  # the product asked for, if any
    retry_after: str | None = None  # the header, if the answer had one
    sent_s: float | None = None  # time.monotonic() as it was sent (keep_buying's answers)


def _remember_barrier(barrier) -> None:
    global _barrier
    _barrier = barrier


def _shop(
    url: str,
    user_ids: Sequence[str],
    attempts: int,
    retries: int,
    tokens: Mapping[str, str],
    skus: Mapping[str, Sequence[str]],
) -> list[Answer]:
    """One shopper per thread, each with its own connection, like browsers."""
    release = threading.Event()

    def one_shopper(user_id: str, sku: str | None) -> list[Answer]:
        with requests.Session() as session:
            release.wait(RELEASE_TIMEOUT_S)
            token = tokens.get(user_id)
            return [_buy(session, url, user_id, retries, token, sku) for _ in range(attempts)]

    # A user listed several times tries the products skus names for them in turn.
    seen: dict[str, int] = {}
    chosen: list[str | None] = []
    for user_id in user_ids:
        options, turn = skus.get(user_id), seen.get(user_id, 0)
        seen[user_id] = turn + 1
        chosen.append(options[turn % len(options)] if options else None)
    with ThreadPoolExecutor(max_workers=len(user_ids)) as pool:
        futures = [pool.submit(one_shopper, *pair) for pair in zip(user_ids, chosen, strict=True)]
        assert _barrier is not None, "not in a burst's process (see _remember_barrier)"
        _barrier.wait(RELEASE_TIMEOUT_S)
        release.set()
        return [answer for future in futures for answer in future.result()]


def _buy(
    session: requests.Session,
    url: str,
    user_id: str,
    retries: int,
    token: str | None,
    sku: str | None,
) -> Answer:
    """One purchase (as the token's sub, if a token is given; of `sku`, if given); a
    shopper whose connection broke presses Buy again `retries` times."""
    body: dict[str, str] = {} if token else {"userId": user_id}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if sku is not None:
        body["sku"] = sku
    for attempt in range(retries + 1):
        try:
            answer = session.post(
                f"{url}/flash-sale/purchase", json=body, headers=headers, timeout=REQUEST_TIMEOUT_S
            )
            break
        except requests.RequestException as exc:
            if attempt == retries:
                # The whole message: refused, reset or closed without an answer differ.
                return Answer(user_id, 0, None, f"{type(exc).__name__}: {exc}"[:300], sku)
    try:
        answered = answer.json()
    except ValueError:
        answered = None
    return Answer(
        user_id,
        answer.status_code,
        answered,
        sku=sku,
        retry_after=answer.headers.get("Retry-After"),
    )


def burst(
    url: str,
    user_ids: Sequence[str],
    *,
    processes: int = 4,
    attempts: int = 1,
    retries: int = 0,
    tokens: Mapping[str, str] | None = None,
    skus: Mapping[str, Sequence[str]] | None = None,
) -> list[Answer]:
    """Every user buys `attempts` times (with their token from `tokens`, in jwt mode;
    one of the products `skus` names for them, if any); returns every answer."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes)
    shares = [list(user_ids[i::processes]) for i in range(processes)]
    with ProcessPoolExecutor(
        processes, mp_context=context, initializer=_remember_barrier, initargs=(barrier,)
    ) as pool:
        futures = [
            pool.submit(_shop, url, share, attempts, retries, tokens or {}, skus or {})
            for share in shares
        ]
        return [answer for future in futures for answer in future.result()]


def keep_buying(
    url: str,
    user_ids: Sequence[str],
    *,
    processes: int = 2,
    connections: int = 16,
    within_s: float = 120.0,
) -> list[Answer]:
    """Every user buys once, as fast as the server answers: each process keeps
    `connections` keep-alive connections busy, one purchase in flight on each.
    Bounded concurrency, so a full queue never explains a refusal; bounded in
    time: a user whose turn comes after `within_s` gets status 0, not sent."""
    context = multiprocessing.get_context("fork")
    shares = [list(user_ids[i::processes]) for i in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [pool.submit(_keep_buying, url, share, connections, within_s) for share in shares]
        return [answer for future in futures for answer in future.result()]


def _keep_buying(url: str, user_ids: list[str], connections: int, within_s: float) -> list[Answer]:
    import uvloop

    return uvloop.run(_buy_on_connections(url, user_ids, connections, within_s))


async def _buy_on_connections(
    url: str, user_ids: list[str], connections: int, within_s: float
) -> list[Answer]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    users = iter(user_ids)  # shared by the connections: one event loop, no lock needed
    answers: list[Answer] = []

    async def one_connection() -> None:
        connection: HttpConnection | None = None
        for user_id in users:
            left_s = min(deadline - loop.time(), REQUEST_TIMEOUT_S)
            if left_s <= 0:
                answers.append(Answer(user_id, 0, None, "not sent: the run's time was up"))
                continue
            request = json_post(PURCHASE_PATH, host, {"userId": user_id})
            sent_s = time.monotonic()  # one clock for every process of the machine
            try:
                async with asyncio.timeout(left_s):
                    if connection is None or not connection.is_open:
                        connection = await connect(host, port)
                    answer = await connection.exchange(request)
            except WIRE_ERRORS as exc:
                answers.append(Answer(user_id, 0, None, f"{type(exc).__name__}: {exc}"[:300]))
                if connection is not None:
                    connection.close()
                connection = None
                continue
            body, retry_after = answer.json() or None, answer.headers.get("retry-after")
            answers.append(
                Answer(user_id, answer.status, body, retry_after=retry_after, sent_s=sent_s)
            )
        if connection is not None:
            connection.close()

    await asyncio.gather(*(one_connection() for _ in range(min(connections, len(user_ids)))))
    return answers


def journal_orders(db_path: Path, sale_id: int | None = None) -> dict[str, str]:
    """user_id -> order_id of the journal's latest (or given) sale, read directly."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        if sale_id is None:
            sale_id = db.execute("SELECT max(sale_id) FROM sales").fetchone()[0]
        rows = db.execute(
            "SELECT user_id, order_id FROM orders WHERE sale_id = ?", (sale_id,)
        ).fetchall()
    users = [user for user, _ in rows]
    assert len(users) == len(set(users)), "a user holds two orders"
    return dict(rows)


def journal_products(db_path: Path, sale_id: int | None = None) -> dict[str, list[str]]:
    """sku -> the users who bought it, in the sale's order, read directly from the journal."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        if sale_id is None:
            sale_id = db.execute("SELECT max(sale_id) FROM sales").fetchone()[0]
        rows = db.execute(
            "SELECT sku, user_id FROM orders WHERE sale_id = ? ORDER BY position", (sale_id,)
        ).fetchall()
    bought: dict[str, list[str]] = {}
    for sku, user_id in rows:
        bought.setdefault(sku, []).append(user_id)
    return bought
