"""Bursts of shoppers from several client processes, all released at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import requests

RELEASE_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 30

_barrier = None


@dataclass(frozen=True)
class Answer:
    user_id: str
    status: int  # 0 when the connection failed
    body: dict | None
    error: str | None = None
    sku: str | None = None  # the product asked for, if any


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
    body, headers = (
        ({}, {"Authorization": f"Bearer {token}"}) if token else ({"userId": user_id}, {})
    )
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
        body = answer.json()
    except ValueError:
        body = None
    return Answer(user_id, answer.status_code, body, sku=sku)


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
