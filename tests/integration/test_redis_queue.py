"""The Redis engine's waiting room, library.lua called through its client against a real
redis-server: the terms kept with the sale, one ticket a person, the draw applied once
and only to the pre-queue it was drawn from, admission at the rate by Redis's clock, the
purchase's gate inside flashsale_decide (admitted, within its time, once), closing at
the sell-out, and the operators' pages in queue order."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
import requests

from flashsale.admin_commands import AdminRequest, AuditContext, ChangeSale
from flashsale.checkout_commands import QUEUE_JOIN, QUEUE_READ, CheckoutRequest
from flashsale.outcomes import Outcome
from flashsale.records import QueueTerms, SaleTerms
from flashsale.redis_engine import waiting_room
from flashsale.redis_engine.store import BatchPurchase, RedisStore
from flashsale.redis_engine.waiting_room import Answered, RoomCall
from flashsale.sale_lifecycle import END, PAUSE, RESUME, Change
from stress.servers.redis_server import RedisServer
from tests.support.catalogue import product
from tests.support.queue_shoppers import audit, buy, join, queue_status
from tests.support.redis_store import REQUIRES_REDIS, fresh_store
from tests.support.sales import start_next_sale
from tests.support.server import ServerProcess, wait_until

pytestmark = REQUIRES_REDIS

S = 1_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis")) as running:
        yield running


@pytest.fixture
def store(server):
    with fresh_store(server.url) as client:
        yield client


def _sale(store: RedisStore, *, stock: int, in_s: float, **queue: object) -> int:
    """A sale with a waiting room, starting `in_s` from now (Redis's clock: this host's)."""
    starts_us = time.time_ns() // 1000 + int(in_s * S)
    terms = QueueTerms(**{"opens_at_us": None, **queue})  # type: ignore[arg-type]
    sale = SaleTerms((product("k", stock),), 1, starts_us, None, None, terms)
    return store.start_sale(sale).sale_id


def _buy(store: RedisStore, user: str) -> Outcome:
    (decided,) = store.decide([BatchPurchase(os.urandom(16), user, "k", False)], 0, 1).decisions
    return decided.outcome


def _join(store: RedisStore, *users: str) -> list[Answered]:
    """Their joins, in one call."""
    call = waiting_room.commands(store, [CheckoutRequest(QUEUE_JOIN, user_id=u) for u in users])
    return list(call.answers)


def _read(store: RedisStore, number: int, user: str) -> Answered:
    request = CheckoutRequest(QUEUE_READ, order_id=str(number), user_id=user)
    (answered,) = waiting_room.commands(store, [request]).answers
    return answered


def _started(store: RedisStore) -> RoomCall:
    """Ticked until the start has drawn the pre-queue."""
    calls: list[RoomCall] = []

    def drawn() -> bool:
        calls.append(waiting_room.tick(store))
        return calls[-1].stands is not None and calls[-1].stands.shuffled_at_us is not None

    wait_until(drawn, 30, interval_s=0.05, message="the draw")
    return calls[-1]


def test_the_terms_are_kept_with_the_sale(store) -> None:
    sale_id = _sale(store, stock=3, in_s=60, opens_at_us=5, admit_per_minute=90, admitted_s=30)
    assert store.sale(sale_id).terms.queue == QueueTerms(5, True, 90, 30, False)
    (listed, _), *_ = store.all_sales()
    assert listed.terms.queue == QueueTerms(5, True, 90, 30, False)
    plain = store.start_sale(SaleTerms((product("k", 1),), 1, None, None))
    assert store.sale(plain.sale_id).terms.queue is None
    assert waiting_room.commands(store, [CheckoutRequest(QUEUE_JOIN, user_id="ann")]).status == 404
    key = store.ticket_key()
    assert len(key) == 32 and store.ticket_key() == key != store.checkout_key()


def test_one_ticket_a_person_and_the_draw_applied_once_to_its_own_prequeue(store) -> None:
    sale_id = _sale(store, stock=50, in_s=1.5)
    joined = _join(store, *(f"u{n}" for n in range(10))) + [
        _join(store, f"u{n}")[0] for n in range(10, 20)
    ]
    assert [answer.status for answer in joined] == [201] * 20
    assert [answer.ticket.number for answer in joined if answer.ticket] == list(range(1, 21))
    assert all(answer.ticket and answer.ticket.place is None for answer in joined)
    # One ticket a person: again in the same call, or in a later one.
    twice = _join(store, "new", "u3", "new")
    assert [answer.status for answer in twice] == [201, 200, 200]
    assert twice[0].ticket == twice[2].ticket and twice[1].ticket == joined[3].ticket
    joined.append(twice[0])

    # Redis's clock reaches the start: a tick asks for the draw (status 0), draws nothing.
    wait_until(lambda: store.call("flashsale_queue_tick", "")[0] == 0, 30, interval_s=0.05)
    # A draw of another pre-queue (20 tickets, not 21) is not applied: Redis asks again.
    stale = store.call("flashsale_queue_tick", sale_id, 20, ",".join(map(str, range(1, 21))))
    assert stale[0] == 0 and stale[4][1] == b""  # status 0: draw first; not drawn
    with pytest.raises(redis.ResponseError, match="malformed order"):
        store.call("flashsale_queue_tick", sale_id, 21, ",".join(["1"] * 21))
    order = list(range(21, 0, -1))
    drawn = store.call("flashsale_queue_tick", sale_id, 21, ",".join(map(str, order)))
    assert drawn[0] == 200 and drawn[4][1] != b""
    # Another host's draw, a moment late, changes nothing.
    late = store.call("flashsale_queue_tick", sale_id, 21, ",".join(map(str, range(1, 22))))
    assert late[0] == 200 and late[4][1] == drawn[4][1]
    rows, stands = store.queue_after(sale_id, 0, 100)
    assert [row.number for row in rows] == order
    assert [row.place for row in rows] == list(range(1, 22))
    assert stands is not None and stands.serving == 21  # all at once: no rate
    # Later arrivals go to the end, in arrival order.
    late_ones = _join(store, "late0", "late1", "late2")
    assert [answer.ticket.place for answer in late_ones if answer.ticket] == [22, 23, 24]


def test_admission_keeps_the_rate_by_redis_clock(store) -> None:
    sale_id = _sale(store, stock=100, in_s=0.5, admit_per_minute=600)  # 10 a second
    assert {answer.status for answer in _join(store, *(f"u{n}" for n in range(60)))} == {201}
    first = _started(store)
    assert first.stands is not None and first.stands.serving <= 10  # at most a second's worth
    time.sleep(2.0)
    call = waiting_room.tick(store)
    assert call.stands is not None and call.stands.shuffled_at_us is not None
    elapsed_s = (call.now_us - call.stands.shuffled_at_us) / S
    # Admitted from the start at 10 a second (the start is counted from startsAt).
    assert 10 * elapsed_s - 12 <= call.stands.serving <= 10 * (elapsed_s + 0.5) + 1
    assert call.next_change_us is not None and call.next_change_us > call.now_us - S
    rows, _ = store.queue_after(sale_id, 0, 100)
    admitted = [row for row in rows if row.admitted_at_us is not None]
    assert [row.place for row in admitted] == list(range(1, call.stands.serving + 1))
    assert [row.admitted_at_us for row in admitted] == sorted(r.admitted_at_us for r in admitted)  # type: ignore[type-var]


def test_the_purchase_gate_admitted_once_and_closed_at_the_sell_out(store) -> None:
    sale_id = _sale(store, stock=2, in_s=0.5, admitted_s=60)
    _join(store, "ann", "bob", "cyd")
    assert _buy(store, "ann") is Outcome.NOT_STARTED
    _started(store)
    assert _buy(store, "mallory") is Outcome.NOT_ADMITTED  # no ticket
    assert _buy(store, "ann") is Outcome.CONFIRMED
    rows = {row.user_id: row for row in store.queue_after(sale_id, 0, 10)[0]}
    assert rows["ann"].used_at_us is not None and rows["bob"].used_at_us is None
    (ann_ticket,) = [row for row in rows.values() if row.user_id == "ann"]
    used = _read(store, ann_ticket.number, "ann")
    assert used.ticket is not None and used.ticket.used_at_us is not None
    assert _read(store, ann_ticket.number, "bob").problem == "unknown-ticket"
    assert _read(store, 99, "ann").problem == "unknown-ticket"
    assert _buy(store, "bob") is Outcome.CONFIRMED  # the last unit: the room closes
    call = waiting_room.tick(store)
    assert call.figures is not None and call.figures[0] == 2 and call.figures[3] == 0
    assert _buy(store, "cyd") is Outcome.SOLD_OUT
    assert [(a.status, a.problem) for a in _join(store, "late", "cyd")] == [
        (410, "queue-closed"),
        (200, None),  # their ticket, still readable
    ]


def test_an_admission_lapses_after_its_admitted_seconds(store) -> None:
    _sale(store, stock=5, in_s=0.5, admitted_s=1)
    _join(store, "ann")
    _started(store)
    time.sleep(1.2)
    assert _buy(store, "ann") is Outcome.NOT_ADMITTED


def _change(store: RedisStore, sale_id: int, action: str) -> None:
    context = AuditContext("PATCH", f"/sales/{sale_id}", "{}", False, "127.0.0.1", "none")
    answer = store.admin(AdminRequest(ChangeSale(sale_id, Change(action)), context))
    assert answer.status == 200, answer


def test_a_pause_admits_nobody_saves_up_no_burst_and_an_end_closes_the_room(store) -> None:
    sale_id = _sale(store, stock=100, in_s=0.3, admit_per_minute=600)  # 10 a second
    _join(store, *(f"u{n}" for n in range(60)))
    _started(store)
    _change(store, sale_id, PAUSE)
    paused = waiting_room.tick(store).stands
    assert paused is not None
    time.sleep(1.5)
    assert waiting_room.tick(store).stands == paused  # nobody admitted, nothing written
    _change(store, sale_id, RESUME)
    resumed = waiting_room.tick(store).stands
    # The paused 1.5 s saved up nothing (a second's worth, 10, would come at once).
    assert resumed is not None and resumed.serving <= paused.serving + 1
    time.sleep(0.6)
    later = waiting_room.tick(store).stands
    assert later is not None and resumed.serving + 3 <= later.serving <= resumed.serving + 8
    _change(store, sale_id, END)
    ended = waiting_room.tick(store)
    assert ended.figures is not None and ended.figures[0] == 2 and ended.figures[3] == 0
    assert _join(store, "late")[0].problem == "queue-closed"


def test_the_pages_list_the_prequeue_by_number_before_the_draw(store) -> None:
    sale_id = _sale(store, stock=5, in_s=60)
    assert store.queue_after(sale_id, 0, 10) == ([], None)
    _join(store, *(f"u{n}" for n in range(5)))
    first, stands = store.queue_after(sale_id, 0, 3)
    assert [(row.number, row.place) for row in first] == [(1, None), (2, None), (3, None)]
    assert stands is not None and stands.shuffled_at_us is None and stands.serving == 0
    rest, _ = store.queue_after(sale_id, 1_000_000_000_000 + 3, 3)
    assert [row.user_id for row in rest] == ["u3", "u4"]


# -- two hosts on one Redis -----------------------------------------------------------------
TOKEN = "admin-token-for-two-hosts"


@pytest.fixture
def hosts(start_server, tmp_path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with RedisServer(tmp_path / "redis") as shared:
        settings = {
            "FLASHSALE_ENGINE": "redis",
            "FLASHSALE_REDIS_URL": shared.url,
            "FLASHSALE_ADMIN_TOKEN": TOKEN,
            "FLASHSALE_REDIS_TIMEOUT_S": "5",
        }
        a, b = (start_server(db_name=f"host-{n}.db", workers=2, env=settings) for n in "ab")
        yield a, b
        a.stop()
        b.stop()


def _figures(host: ServerProcess) -> tuple[str, int, int, int]:
    queue = queue_status(host.url)
    return queue["state"], queue["length"], queue["serving"], queue["waiting"]


def test_two_hosts_admit_the_same_people_in_the_same_order(hosts) -> None:
    """Shoppers join through either host; Redis decides the order and the admissions by
    its clock, however many hosts tick it: both hosts show the same "now serving", the
    same recorded order, and gate a purchase alike, whichever host issued the ticket."""
    a, b = hosts
    starts_at = datetime.now(UTC) + timedelta(seconds=4)
    sale = start_next_sale(
        a.url,
        TOKEN,
        stock=30,
        startsAt=starts_at.isoformat().replace("+00:00", "Z"),
        queue={"admitPerMinute": 120, "admittedSeconds": 60},  # two a second
    )
    wait_until(lambda: b.status()["saleId"] == sale["saleId"], 10, message="B follows the sale")
    users = [f"u{n}" for n in range(40)]
    tickets = {user: join((a, b)[n % 2].url, user) for n, user in enumerate(users)}
    assert [t["number"] for t in tickets.values()] == list(range(1, 41))
    # The other host knows the same person's ticket: a second tab, on another host.
    for n, user in enumerate(users[:6]):
        again = join((b, a)[n % 2].url, user)
        assert again["ticket"] == tickets[user]["ticket"] and again["state"] == "prequeue"
        read = requests.get(f"{(b, a)[n % 2].url}/flash-sale/queue/{again['ticket']}", timeout=10)
        assert read.status_code == 200 and read.json()["number"] == again["number"], read.text
    wait_until(lambda: _figures(a) == _figures(b) == ("prequeue", 40, 0, 40), 10)

    # Both hosts tick the room; Redis admits two a second from the start, not four.
    wait_until(lambda: _figures(a)[2] >= 6, 30, message="admissions")
    wait_until(lambda: _figures(a) == _figures(b), 10, interval_s=0.005, message="same serving")
    page_a, page_b = (audit(host.url, TOKEN, sale["saleId"]) for host in (a, b))
    order = [row["userId"] for row in page_a["tickets"]]
    assert [row["place"] for row in page_a["tickets"]] == list(range(1, 41))
    assert [row["userId"] for row in page_b["tickets"]] == order
    assert page_a["shuffledAt"] == page_b["shuffledAt"]
    for row_a, row_b in zip(page_a["tickets"], page_b["tickets"], strict=True):
        # Read a moment apart: an admission may come between, never a different one.
        assert row_a["admittedAt"] in (None, row_b["admittedAt"]), (row_a, row_b)
    drawn_at = _instant(page_a["shuffledAt"])
    admitted = sorted(_instant(r["admittedAt"]) for r in page_a["tickets"] if r["admittedAt"])
    for count, at in enumerate(admitted, start=1):  # never ahead of the rate
        assert count <= (at - starts_at).total_seconds() * 2 + 2, (count, at, drawn_at)

    # Gated alike on both hosts, whoever issued the ticket.
    first, last = order[0], order[-1]
    for host in (a, b):
        assert buy(host.url, last, tickets[last]["ticket"]).json()["outcome"] == "not_admitted"
        assert buy(host.url, "mallory").json()["outcome"] == "not_admitted"
    issued_by = a if users.index(first) % 2 == 0 else b
    other = b if issued_by is a else a
    bought = buy(other.url, first, tickets[first]["ticket"])
    assert bought.status_code == 201, bought.text
    assert buy(issued_by.url, first, tickets[first]["ticket"]).status_code == 409
    wait_until(lambda: join(issued_by.url, first)["state"] == "used", 10)
    assert join(other.url, order[1])["state"] == "admitted"
    assert buy(issued_by.url, order[1], tickets[order[1]]["ticket"]).status_code == 201
    assert a.status()["sold"] == 2 or b.status()["sold"] == 2


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
