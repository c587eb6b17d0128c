"""Issue 24's done-when runs against a real gunicorn with several workers, in both engines
(the SQLite journal; a real redis-server with appendfsync always).

- 300 shoppers for 50 units held 5 s (the shortest hold a sale takes): a third abandon
  their hold, a tenth pay late, the rest pay; refused shoppers join the waitlist and
  pay when offered. Sampled through the run, the status and the journal never show
  more live (held + confirmed) units than the stock; every unit ends confirmed or
  released; a late payer whose unit went to the waitlist is refused (409
  hold_expired, refundRequired) and one whose unit is still free is accepted; the
  waitlist is served in the order it joined.
- A kill -9 of the allocator while holds fall due: the new allocator expires them
  before it decides any purchase, and offers their units to the waitlist in order.
  In the Redis engine the allocator is killed, then Redis (kill -9: only its AOF is
  left), the holds fall due while both are down, and Redis restarted from its AOF has
  lost no hold: the new allocator expires them at its start, by Redis's clock.

What the store holds is read by a view of each engine (the journal's tables, or
Redis's keys as library.lua writes them).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import redis
import requests

from stress.api import iso_to_ns
from stress.servers.redis_server import RedisServer
from stress.servers.webhook_receiver import WebhookReceiver
from tests.support.engines import ENGINES, engine_settings
from tests.support.sales import start_next_sale
from tests.support.server import running_server, wait_until
from tests.support.webhooks import SECRET, outbox_rows, webhook_env

ADMIN_TOKEN = "admin-token-for-done-when"
TIMEOUT_S = 30
HOLD_S = 2
STOCK = 50
SHOPPERS = 300
WAIT_FOR_OFFER_S = 120.0


def _post(url: str, path: str, body: Any, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(url + path, json=body, headers=headers, timeout=TIMEOUT_S)


def _confirm(url: str, order_id: str, token: str, ref: str) -> requests.Response:
    return _post(url, f"/flash-sale/orders/{order_id}/confirm", {"paymentRef": ref}, token)


def _until(expires_at: str, after_s: float) -> None:
    due_ns = iso_to_ns(expires_at)
    assert due_ns is not None
    time.sleep(max(0.0, (due_ns - time.time_ns()) / 1e9 + after_s))


@dataclass
class Journey:
    """What one shopper did and was answered."""

    user: str
    bought: int = 0  # the purchase's status
    order_id: str | None = None
    confirmed: list[str] = field(default_factory=list)  # order ids answered 200
    late: dict[str, Any] | None = None  # a late payer's confirm answer (status, body)
    place: int | None = None  # on the waitlist
    entry_state: str | None = None  # the waitlist entry's last state seen


def _shop(url: str, index: int) -> Journey:
    """Shopper `index`: every third abandons its hold, every tenth pays late, the rest
    pay at once; every third refused one joins the waitlist and pays when offered
    (unless it is an abandoner)."""
    user = f"shopper-{index:03d}"
    journey = Journey(user)
    abandons, late = index % 3 == 0, index % 10 == 1
    answer = _post(url, "/flash-sale/purchase", {"userId": user})
    journey.bought = answer.status_code
    body = answer.json()
    if answer.status_code == 201:
        assert body["outcome"] == "held", body
        journey.order_id = body["orderId"]
        if abandons:
            return journey
        if late:
            _until(body["expiresAt"], 0.5)
            paid = _confirm(url, body["orderId"], body["checkoutToken"], f"late-{index}")
            journey.late = {"status": paid.status_code, "body": paid.json()}
            if paid.status_code == 200:
                journey.confirmed.append(body["orderId"])
            return journey
        paid = _confirm(url, body["orderId"], body["checkoutToken"], f"pay-{index}")
        assert paid.status_code == 200, paid.text
        journey.confirmed.append(body["orderId"])
        return journey
    assert answer.status_code == 410, answer.text
    if index % 3 != 2 or not body.get("waitlist", {}).get("open"):
        return journey
    joined = _post(url, "/flash-sale/waitlist", {"userId": user})
    if joined.status_code == 409:  # closed meanwhile (nothing held any more)
        return journey
    assert joined.status_code == 201, joined.text
    entry = joined.json()
    journey.place, journey.entry_state = entry["place"], entry["state"]
    auth = {"Authorization": f"Bearer {entry['waitlistToken']}"}
    deadline = time.monotonic() + WAIT_FOR_OFFER_S
    while time.monotonic() < deadline:
        seen = requests.get(f"{url}/flash-sale/waitlist/{entry['sku']}", headers=auth, timeout=30)
        assert seen.status_code == 200, seen.text
        state = seen.json()
        journey.entry_state = state["state"]
        if state["state"] == "closed":
            return journey
        if state["state"] == "offered":
            hold = state["hold"]
            journey.order_id = hold["orderId"]
            if index % 5 != 0:  # a fifth of those offered abandon too
                paid = _confirm(url, hold["orderId"], hold["checkoutToken"], f"offer-{index}")
                if paid.status_code == 200:
                    journey.confirmed.append(hold["orderId"])
                else:  # polled too late: its offered hold had expired
                    assert paid.json()["outcome"] == "hold_expired", paid.text
            return journey
        time.sleep(1.0)
    raise AssertionError(f"{user} waited {WAIT_FOR_OFFER_S} s on the waitlist")


def _journal(db_path: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, params).fetchall()


class StoreView(Protocol):
    """A sale's orders and waitlist as the engine stores them, as journal rows read."""

    def orders(self, sale_id: int) -> list[dict[str, Any]]: ...

    def waitlist(self, sale_id: int) -> list[dict[str, Any]]: ...


class JournalView:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def orders(self, sale_id: int) -> list[dict[str, Any]]:
        rows = _journal(self.db_path, "SELECT * FROM orders WHERE sale_id = ?", sale_id)
        return [dict(row) for row in rows]

    def waitlist(self, sale_id: int) -> list[dict[str, Any]]:
        rows = _journal(
            self.db_path, "SELECT * FROM waitlist WHERE sale_id = ? ORDER BY place", sale_id
        )
        return [dict(row) for row in rows]


class RedisView:
    """library.lua's keys, read as the journal's columns (one product: its waitlist)."""

    TAG = "{flashsale}"

    def __init__(self, url: str) -> None:
        self.url = url

    def orders(self, sale_id: int) -> list[dict[str, Any]]:
        base = f"{self.TAG}:sale:{sale_id}"
        with closing(_redis(self.url)) as client:
            lines = client.lrange(f"{base}:orders", 0, -1)
            pipe = client.pipeline(transaction=False)
            records = [line.decode().split("\t") for line in lines]
            for record in records:
                pipe.hmget(f"{base}:hold:{record[0]}", "state", "changed", "exp")
            holds = pipe.execute()
        rows = []
        for (order_id, user, sku, position, *_, at), (state, changed, exp) in zip(
            records, holds, strict=True
        ):
            rows.append(
                {
                    "order_id": order_id,
                    "user_id": user,
                    "sku": sku,
                    "position": int(position),
                    "purchased_at_us": int(at),
                    "state": state.decode(),
                    "changed_at_us": int(changed),
                    "expires_at_us": int(exp),
                }
            )
        return rows

    def waitlist(self, sale_id: int) -> list[dict[str, Any]]:
        base = f"{self.TAG}:sale:{sale_id}"
        with closing(_redis(self.url)) as client:
            (key,) = client.keys(f"{base}:wl:*") or [None]
            if key is None:
                return []
            fields = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
        return [
            {
                "place": place,
                "user_id": fields[f"{place}:user"],
                "state": fields[f"{place}:state"],
                "order_id": fields.get(f"{place}:order"),
            }
            for place in range(1, int(fields.get("n", "0")) + 1)
        ]


def _redis(url: str) -> Any:
    """A client whose answers (bytes) the views read as they come."""
    return redis.Redis.from_url(url, socket_timeout=10)


def _view(engine: str, db_path: Path, redis_server: RedisServer | None) -> StoreView:
    if engine == "sqlite":
        return JournalView(db_path)
    assert redis_server is not None
    return RedisView(redis_server.url)


class Sampler:
    """Reads the status and the store over and over while the run goes on: live units
    (held + confirmed) never exceed the stock in either."""

    def __init__(self, url: str, view: StoreView, sale_id: int) -> None:
        self.url, self.view, self.sale_id = url, view, sale_id
        self.samples = 0
        self.worst: list[tuple[str, int, int]] = []  # (where, confirmed, held) over the stock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            status = requests.get(f"{self.url}/flash-sale/status", timeout=TIMEOUT_S).json()
            if status["saleId"] == self.sale_id:
                held, sold = status["held"], status["sold"]
                if sold > STOCK or held > sold:  # live = confirmed + held
                    self.worst.append(("status", sold - held, held))
            states = [row["state"] for row in self.view.orders(self.sale_id)]
            confirmed, held = states.count("confirmed"), states.count("held")
            if confirmed > STOCK or confirmed + held > STOCK:
                self.worst.append(("store", confirmed, held))
            self.samples += 1
            self._stop.wait(0.05)


@pytest.mark.parametrize("engine", ENGINES)
def test_300_shoppers_for_50_units_with_holds_waitlist_and_late_payers(
    tmp_path, engine: str
) -> None:
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    with (
        engine_settings(engine, tmp_path) as (engine_env, redis_server),
        running_server(tmp_path / "j.db", workers=4, env=env | engine_env) as server,
    ):
        url = server.url
        view = _view(engine, server.db_path, redis_server)
        sale = start_next_sale(
            url, ADMIN_TOKEN, stock=STOCK, checkout={"holdSeconds": HOLD_S, "extendSeconds": 0}
        )
        sale_id = sale["saleId"]
        with Sampler(url, view, sale_id) as sampler, ThreadPoolExecutor(SHOPPERS) as pool:
            journeys = list(pool.map(lambda i: _shop(url, i), range(SHOPPERS)))
            wait_until(
                lambda: (
                    requests.get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()["held"] == 0
                ),
                timeout_s=120,
                message="holds outstanding after every shopper was done",
            )
        assert sampler.samples > 20 and sampler.worst == [], sampler.worst

        orders = view.orders(sale_id)
        by_id = {row["order_id"]: row for row in orders}
        # Every unit ends confirmed or released; the confirmed are exactly those told 200.
        assert {row["state"] for row in orders} <= {"confirmed", "expired", "cancelled"}
        confirmed = {row["order_id"] for row in orders if row["state"] == "confirmed"}
        told = {order_id for j in journeys for order_id in j.confirmed}
        assert confirmed == told
        assert 0 < len(confirmed) <= STOCK
        status = requests.get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()
        assert (status["sold"], status["remaining"]) == (len(confirmed), STOCK - len(confirmed))
        assert sum(j.bought == 201 for j in journeys) >= STOCK  # every unit was held

        # The waitlist was served first come, first served: the offered places are the
        # first ones, and their holds were made in the order of their places.
        entries = view.waitlist(sale_id)
        assert entries, "nobody joined the waitlist"
        states = [row["state"] for row in entries]
        offered = [row for row in entries if row["state"] == "offered"]
        assert offered, "no unit was offered to the waitlist"
        assert states == ["offered"] * len(offered) + ["closed"] * (len(states) - len(offered))
        positions = [by_id[row["order_id"]]["position"] for row in offered]
        assert positions == sorted(positions)

        # Late payers: refused when their unit had gone to the waitlist at their expiry.
        offered_at = {by_id[row["order_id"]]["purchased_at_us"] for row in offered}
        late = [j for j in journeys if j.late is not None]
        # Shoppers were waiting when the first holds fell due: some late unit went to them.
        assert any(j.late["status"] == 409 for j in late if j.late is not None)
        for journey in late:
            assert journey.late is not None and journey.order_id is not None
            row = by_id[journey.order_id]
            if journey.late["status"] == 200:
                assert row["state"] == "confirmed"
                continue
            body = journey.late["body"]
            assert journey.late["status"] == 409, body
            assert (body["outcome"], body["refundRequired"]) == ("hold_expired", True)
            assert row["state"] == "expired"
            assert row["changed_at_us"] in offered_at  # its unit was offered at its expiry

        # A late payer whose unit is still free (nobody waiting) is accepted.
        start_next_sale(url, ADMIN_TOKEN, stock=2, checkout={"holdSeconds": HOLD_S})
        held = _post(url, "/flash-sale/purchase", {"userId": "free-late"}).json()
        _until(held["expiresAt"], 0.5)
        wait_until(
            lambda: requests.get(f"{url}/flash-sale/status", timeout=TIMEOUT_S).json()["held"] == 0,
            timeout_s=30,
            message="the hold never expired",
        )
        paid = _confirm(url, held["orderId"], held["checkoutToken"], "late-but-free")
        assert paid.status_code == 200, paid.text
        assert paid.json()["state"] == "confirmed"


def test_a_kill_9_of_the_allocator_while_holds_fall_due(tmp_path) -> None:
    """Frozen, then killed: the holds fall due while no allocator runs. The next one
    expires them before any purchase and offers their units to the waitlist in order."""
    with (
        WebhookReceiver(SECRET) as receiver,
        running_server(
            tmp_path / "j.db",
            workers=3,
            env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN, **webhook_env(receiver.url)},
        ) as server,
    ):
        url, db_path = server.url, server.db_path
        sale = start_next_sale(url, ADMIN_TOKEN, stock=3, checkout={"holdSeconds": HOLD_S})
        holds = [_post(url, "/flash-sale/purchase", {"userId": f"h{i}"}).json() for i in range(3)]
        assert [h["outcome"] for h in holds] == ["held"] * 3
        places = [_post(url, "/flash-sale/waitlist", {"userId": f"w{i}"}) for i in range(2)]
        assert [p.json()["place"] for p in places] == [1, 2], [p.text for p in places]

        pid = server.allocator_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            _until(max(h["expiresAt"] for h in holds), 0.5)  # all due while it is frozen
            # A purchase sent during the outage is decided by the next allocator.
            with ThreadPoolExecutor(1) as pool:
                during = pool.submit(_post, url, "/flash-sale/purchase", {"userId": "during"})
                time.sleep(0.3)  # given to the worker before the kill (not needed for truth)
                os.kill(pid, signal.SIGKILL)
                wait_until(lambda: server.allocator_pid() != pid, 30, message="a new allocator")
                bought = during.result(timeout=60)
        finally:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

        def orders_now() -> dict[str, Any]:
            rows = _journal(db_path, "SELECT * FROM orders WHERE sale_id = ?", sale["saleId"])
            return {row["user_id"]: row for row in rows}

        # The new allocator may not have recovered yet when the purchase's answer came
        # (an `unavailable` is answered at once): wait for its start-up's expiries.
        wait_until(
            lambda: all(orders_now()[f"h{i}"]["state"] == "expired" for i in range(3)),
            60,
            message="the new allocator expired the holds due while none ran",
        )
        orders = orders_now()
        expired = [orders[f"h{i}"] for i in range(3)]
        last_expiry = max(row["changed_at_us"] for row in expired)
        # Offered in waitlist order, at the restart, with full holds.
        w0, w1 = orders["w0"], orders["w1"]
        # Held, or already expired: a 2 s hold may run out before this read on a busy machine.
        assert {w0["state"], w1["state"]} <= {"held", "expired"}
        assert w0["position"] < w1["position"]
        assert w0["purchased_at_us"] == w1["purchased_at_us"] == last_expiry
        assert w0["expires_at_us"] == last_expiry + HOLD_S * 1_000_000
        # The purchase sent during the outage came after: it got the unit left over.
        if bought.status_code == 201:
            assert orders["during"]["purchased_at_us"] >= last_expiry
            assert orders["during"]["position"] > w1["position"]
        else:
            # Answered while no allocator ran: "unavailable", or "sold out" from shared
            # memory (the holds were due but not expired yet: no allocator had run). Resend.
            assert bought.status_code in (410, 503), bought.text
            assert "during" not in orders
            # The workers may still say busy until they see the new allocator ready.
            answers: list[requests.Response] = []

            def decided() -> bool:
                answers.append(_post(url, "/flash-sale/purchase", {"userId": "during"}))
                return answers[-1].status_code not in (410, 503)

            wait_until(decided, 30, interval_s=0.2, message="the resent purchase decided")
            assert answers[-1].status_code == 201, answers[-1].text
        for i, who in enumerate(("w0", "w1")):
            seen = _journal(
                db_path,
                "SELECT state, order_id FROM waitlist WHERE sale_id = ? AND place = ?",
                sale["saleId"],
                i + 1,
            )[0]
            assert (seen["state"], seen["order_id"]) == ("offered", orders[who]["order_id"])
        assert "holds fell due while stopped: expired" in server.log()

        # Their events were written at the restart, in that order, and delivered.
        names = {row["order_id"]: user for user, row in orders.items()}
        outbox = [row for row in outbox_rows(db_path) if row["sale_id"] == sale["saleId"]]
        after = [
            (row["type"], names.get(row["order_id"]))
            for row in outbox
            if row["at_us"] == last_expiry or row["type"] == "order.expired"
        ]
        # Expired in the order they fell due (h0, h1, h2 were held in that order), each
        # unit to the next waiting: the third goes back to stock.
        assert after == [
            ("order.expired", "h0"),
            ("order.held", "w0"),
            ("waitlist.offered", "w0"),
            ("order.expired", "h1"),
            ("order.held", "w1"),
            ("waitlist.offered", "w1"),
            ("order.expired", "h2"),
        ]
        ids = {row["event_id"] for row in outbox}
        wait_until(
            lambda: ids <= {a.webhook_id for a in receiver.received()},
            timeout_s=60,
            message="every event delivered",
        )


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "sqlite"])
def test_a_kill_9_of_the_allocator_then_of_redis_while_holds_fall_due(
    tmp_path, engine: str
) -> None:
    """The Redis engine: the allocator frozen and killed, then Redis killed -9; the holds
    fall due while both are down. Redis restarted from its AOF has every hold; the new
    allocator expires them (by Redis's clock) before any purchase and offers their units
    to the waitlist in order, each event in the outbox stream in that order."""
    with (
        engine_settings(engine, tmp_path) as (engine_env, redis_server),
        running_server(
            tmp_path / "j.db", workers=3, env={"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN} | engine_env
        ) as server,
    ):
        assert redis_server is not None
        url, view = server.url, RedisView(redis_server.url)
        with closing(_redis(redis_server.url)) as client:
            client.set(f"{RedisView.TAG}:outbox:on", 1)  # as a host with webhooks on does
        sale = start_next_sale(url, ADMIN_TOKEN, stock=3, checkout={"holdSeconds": HOLD_S})
        holds = [_post(url, "/flash-sale/purchase", {"userId": f"h{i}"}).json() for i in range(3)]
        assert [h["outcome"] for h in holds] == ["held"] * 3
        places = [_post(url, "/flash-sale/waitlist", {"userId": f"w{i}"}) for i in range(2)]
        assert [p.json()["place"] for p in places] == [1, 2], [p.text for p in places]

        pid = server.allocator_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            os.kill(pid, signal.SIGKILL)
            redis_server.kill()  # only what its AOF fsynced is left
            wait_until(lambda: server.allocator_pid() != pid, 30, message="a new allocator")
            _until(max(h["expiresAt"] for h in holds), 0.5)  # all due while Redis is down
        finally:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        redis_server.start()  # from its AOF
        wait_until(
            lambda: [row["state"] for row in view.orders(sale["saleId"])][:3] == ["expired"] * 3,
            60,
            interval_s=0.2,
            message="the holds that fell due expired once Redis was back",
        )
        orders = {row["user_id"]: row for row in view.orders(sale["saleId"])}
        expired = [orders[f"h{i}"] for i in range(3)]
        last_expiry = max(row["changed_at_us"] for row in expired)
        w0, w1 = orders["w0"], orders["w1"]
        assert {w0["state"], w1["state"]} <= {"held", "expired"}
        assert w0["position"] < w1["position"]
        assert w0["purchased_at_us"] == w1["purchased_at_us"] == last_expiry
        assert w0["expires_at_us"] == last_expiry + HOLD_S * 1_000_000
        assert [(e["state"], e["order_id"]) for e in view.waitlist(sale["saleId"])] == [
            ("offered", w0["order_id"]),
            ("offered", w1["order_id"]),
        ]
        assert "holds fell due while stopped: expired" in server.log()

        # The third unit went back to stock: the next purchase gets it, after the offers.
        answers: list[requests.Response] = []

        def decided() -> bool:
            answers.append(_post(url, "/flash-sale/purchase", {"userId": "after"}))
            return answers[-1].status_code not in (202, 503)

        wait_until(decided, 30, interval_s=0.2, message="a purchase decided after the restart")
        assert answers[-1].status_code == 201, answers[-1].text
        after = {row["user_id"]: row for row in view.orders(sale["saleId"])}["after"]
        assert after["position"] > w1["position"]

        # The events, in the stream in decision order.
        names = {row["order_id"]: user for user, row in orders.items()}
        with closing(_redis(redis_server.url)) as client:
            stream = client.xrange(f"{RedisView.TAG}:outbox")
        events = [
            (fields[b"type"].decode(), names.get(fields[b"order"].decode()))
            for _, fields in stream
            if int(fields[b"sale"]) == sale["saleId"]
        ]
        assert events[events.index(("order.expired", "h0")) :][:7] == [
            ("order.expired", "h0"),
            ("order.held", "w0"),
            ("waitlist.offered", "w0"),
            ("order.expired", "h1"),
            ("order.held", "w1"),
            ("waitlist.offered", "w1"),
            ("order.expired", "h2"),
        ]
        assert events[:4] == [
            ("order.held", "h0"),
            ("order.held", "h1"),
            ("order.held", "h2"),
            ("sale.sold_out", None),
        ]
