"""The waiting room's verdict (stress/verdicts/queue.py) and its rank statistics
(stress/verdicts/ranks.py): pure functions, no server."""

from __future__ import annotations

import random

import pytest

from stress.verdicts.queue import (
    CLOSED_SEEN_WITHIN_S,
    Arrival,
    Attempt,
    AuditTicket,
    Join,
    SoldOrder,
    admission_rate,
    admitted_in_place_order,
    later_in_arrival_order,
    nobody_admitted_after_sell_out,
    prequeue_shuffled,
    skippers_refused,
    stock_sold_exactly,
    tabs_one_ticket,
)
from stress.verdicts.ranks import average_ranks, bootstrap_interval, pearson, spearman

MS = 10**6


# -- ranks -------------------------------------------------------------------------------
def test_ties_share_their_average_rank() -> None:
    assert average_ranks([10, 30, 20, 30, 5]) == [2.0, 4.5, 3.0, 4.5, 1.0]
    assert average_ranks([]) == []


def test_spearman_of_monotone_reversed_and_known_values() -> None:
    xs = [1, 2, 3, 4, 5]
    assert spearman(xs, [v**3 for v in xs]) == pytest.approx(1.0)  # monotone, not linear
    assert spearman(xs, [-v for v in xs]) == pytest.approx(-1.0)
    # 1 - 6 * sum(d^2) / (n (n^2 - 1)) without ties: d = (0, -2, 1, -1, 2) -> 1 - 60/120
    assert spearman(xs, [1, 4, 2, 5, 3]) == pytest.approx(0.5)
    assert spearman([1, 1, 1], [1, 2, 3]) is None  # a constant side
    assert pearson([1.0], [2.0]) is None
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_the_bootstrap_interval_is_seeded_and_brackets_rho() -> None:
    rng = random.Random(7)
    xs = [rng.random() for _ in range(300)]
    ys = [x + rng.gauss(0, 0.3) for x in xs]  # correlated
    rho = spearman(xs, ys)
    interval = bootstrap_interval(xs, ys, resamples=400, seed=3)
    assert rho is not None and interval is not None
    assert interval == bootstrap_interval(xs, ys, resamples=400, seed=3)
    assert interval != bootstrap_interval(xs, ys, resamples=400, seed=4)
    low, high = interval
    assert 0 < low < rho < high < 1
    wider = bootstrap_interval(xs, ys, resamples=400, seed=3, confidence=0.99)
    assert wider is not None and wider[0] < low and wider[1] > high
    assert bootstrap_interval([], [], resamples=10) is None
    with pytest.raises(ValueError):
        bootstrap_interval(xs, ys, confidence=1.0)


# -- the pre-queue's shuffle ---------------------------------------------------------------
def _joins(places: list[int]) -> list[tuple[int, int]]:
    """The i-th joiner (join instants 10 ms apart) got places[i]."""
    return [(1_000 * MS + i * 10 * MS, place) for i, place in enumerate(places)]


def test_a_shuffled_prequeue_passes_and_prints_its_figures() -> None:
    places = list(range(1, 401))
    random.Random(11).shuffle(places)
    check, figures = prequeue_shuffled(_joins(places), resamples=300, seed=2)
    assert check.ok, check.detail
    assert "Spearman rho" in check.detail and "95 % interval" in check.detail
    low, high = figures["interval"]
    assert low <= figures["rho"] <= high and figures["tickets"] == 400


def test_a_prequeue_in_join_order_or_reversed_fails() -> None:
    in_order = list(range(1, 201))
    assert not prequeue_shuffled(_joins(in_order), resamples=200)[0].ok
    assert not prequeue_shuffled(_joins(in_order[::-1]), resamples=200)[0].ok


def test_a_prequeue_favouring_early_joiners_a_little_fails() -> None:
    """Each place drawn near the join rank plus wide noise: rho about 0.3."""
    rng = random.Random(5)
    keys = [i + rng.gauss(0, 300) for i in range(500)]
    places = [0] * 500
    for place, i in enumerate(sorted(range(500), key=keys.__getitem__), start=1):
        places[i] = place
    check, figures = prequeue_shuffled(_joins(places), resamples=300)
    assert 0.15 < figures["rho"] < 0.6
    assert not check.ok, check.detail


def test_a_negligible_rho_passes_even_when_its_interval_misses_zero() -> None:
    """10,000 tickets with a slight bias: significant, yet below the negligible bound."""
    rng = random.Random(9)
    keys = [i + rng.gauss(0, 45_000) for i in range(10_000)]
    places = [0] * 10_000
    for place, i in enumerate(sorted(range(10_000), key=keys.__getitem__), start=1):
        places[i] = place
    check, figures = prequeue_shuffled(_joins(places), resamples=100)
    low, high = figures["interval"]
    assert not low <= 0 <= high and abs(figures["rho"]) <= 0.1
    assert check.ok and "negligible" in check.detail


def test_too_few_prequeue_tickets_fail() -> None:
    assert not prequeue_shuffled(_joins([3, 1, 2]), resamples=50)[0].ok


# -- later arrivals, admission order -----------------------------------------------------
def _arrival(user: str, sent_ms: int, answered_ms: int, place: int, joined_ms: int) -> Arrival:
    return Arrival(user, sent_ms * MS, answered_ms * MS, joined_ms, place)


def test_later_arrivals_in_order_pass() -> None:
    arrivals = [
        _arrival("a", 0, 5, 11, 1),
        _arrival("b", 1, 4, 12, 2),  # sent during a's join: either order is right
        _arrival("c", 10, 12, 13, 11),
    ]
    check = later_in_arrival_order(arrivals, range(1, 11))
    assert check.ok, check.detail


def test_a_later_arrival_overtaking_one_answered_before_it_was_sent_fails() -> None:
    arrivals = [_arrival("a", 0, 5, 12, 1), _arrival("b", 10, 12, 11, 1)]  # same server ms
    check = later_in_arrival_order(arrivals, range(1, 11))
    assert not check.ok and "answered before b was sent" in check.detail


def test_places_against_the_servers_join_times_and_behind_the_prequeue() -> None:
    swapped = [_arrival("a", 0, 5, 12, 1), _arrival("b", 0, 5, 11, 3)]  # concurrent sends
    assert not later_in_arrival_order(swapped, range(1, 11)).ok
    inside = [_arrival("a", 0, 5, 9, 1)]
    assert not later_in_arrival_order(inside, range(1, 11)).ok


def _ticket(
    place: int | None,
    *,
    joined: int | None = 0,
    admitted: int | None = None,
    used: int | None = None,
    state: str = "waiting",
    user: str | None = None,
) -> AuditTicket:
    number = place or 0
    return AuditTicket(place, number, user or f"u{number}", joined, admitted, used, state)


def test_admission_in_place_order() -> None:
    good = [
        _ticket(1, admitted=100, state="used"),
        _ticket(2, admitted=100, state="lapsed"),
        _ticket(3, admitted=200, state="admitted"),
        _ticket(4),
        _ticket(None, state="prequeue"),
    ]
    check = admitted_in_place_order(good)
    assert check.ok, check.detail
    skipped = [_ticket(1, admitted=100), _ticket(2), _ticket(3, admitted=200)]
    assert not admitted_in_place_order(skipped).ok
    backwards = [_ticket(1, admitted=200), _ticket(2, admitted=100)]
    assert not admitted_in_place_order(backwards).ok
    holes = [_ticket(1, admitted=100), _ticket(3)]
    assert not admitted_in_place_order(holes).ok


# -- the admission rate ------------------------------------------------------------------
def _admitted_every(
    count: int, every_ms: float, per_batch: int = 1, start: int = 10_000
) -> list[AuditTicket]:
    return [
        _ticket(i + 1, admitted=start + int((i // per_batch) * every_ms), state="used")
        for i in range(count)
    ]


def test_the_rate_of_batched_admissions_is_exact() -> None:
    """600/min in batches of 5 every 0.5 s: the first batch is not counted over the span."""
    check, figures = admission_rate(_admitted_every(100, 500, per_batch=5), 600)
    assert check.ok, check.detail
    assert figures["perMinute"] == pytest.approx(600.0)
    assert figures["firstBatch"] == 5


@pytest.mark.parametrize(("every_ms", "ok"), [(104.0, True), (96.0, True), (110.0, False)])
def test_the_rate_within_five_percent(every_ms: float, ok: bool) -> None:
    check, _ = admission_rate(_admitted_every(200, every_ms), 600)
    assert check.ok is ok, check.detail


def test_the_rate_window_ends_when_the_queue_ran_empty() -> None:
    """Places 1..50 at 600/min; place 51 joined after place 50 was admitted, and from
    there on admissions follow the arrivals (slower): they are not the rate's."""
    tickets = _admitted_every(50, 100)
    last = tickets[-1].admitted_ms or 0
    tickets += [
        _ticket(51 + i, joined=last + 1000 * (i + 1), admitted=last + 1000 * (i + 1) + 5)
        for i in range(20)
    ]
    check, figures = admission_rate(tickets, 600)
    assert check.ok, check.detail
    assert figures["inWindow"] == 50


def test_too_short_a_window_fails_rather_than_passes() -> None:
    check, _ = admission_rate(_admitted_every(5, 100), 600)
    assert not check.ok and "too few" in check.detail


def test_without_a_rate_everyone_is_admitted_at_the_start() -> None:
    at_once = [_ticket(i, admitted=5_000 + i) for i in range(1, 50)]
    at_once.append(_ticket(50, joined=9_000, admitted=9_020))  # a later arrival, at its join
    assert admission_rate(at_once, None)[0].ok
    assert not admission_rate(_admitted_every(50, 100), None)[0].ok
    kept_waiting = [*at_once, _ticket(51, joined=9_000, admitted=11_000)]
    assert not admission_rate(kept_waiting, None)[0].ok


# -- skippers, the stock, the sell-out, tabs -----------------------------------------------
def test_skippers_refused_pass_only_on_403_not_admitted() -> None:
    attempts = [
        Attempt("no_ticket", "bot1", 403, "not_admitted"),
        Attempt("forged", "bot2", 403, "not_admitted"),
        Attempt("stolen", "bot3", 403, "not_admitted"),
        Attempt("replayed", "u7", 403, "not_admitted"),
        Attempt("replayed", "u8", 409, "already_purchased"),  # its own order, again
    ]
    skippers = {"bot1", "bot2", "bot3"}
    check = skippers_refused(attempts, {"u7"}, skippers, [403, 404], {"u9": "confirmed"})
    assert check.ok, check.detail
    # A skipper told already_purchased was not refused for its ticket: only a replay may be.
    own_order = [*attempts, Attempt("stolen", "bot3", 409, "already_purchased")]
    assert not skippers_refused(own_order, set(), skippers, [], {}).ok
    bought = [*attempts, Attempt("stolen", "bot3", 201, "confirmed")]
    assert not skippers_refused(bought, {"u7", "bot3"}, skippers, [], {}).ok
    limited = [*attempts, Attempt("no_ticket", "bot1", 429, "rate_limited")]
    assert not skippers_refused(limited, set(), skippers, [], {}).ok
    assert not skippers_refused(attempts, {"bot2"}, skippers, [], {}).ok
    assert not skippers_refused(attempts, set(), skippers, [200], {}).ok
    assert not skippers_refused(attempts, set(), skippers, [], {"u9": "not_admitted"}).ok
    assert skippers_refused(attempts, set(), skippers, [], {"u9": "sold_out"}).ok
    assert not skippers_refused([], set(), skippers, [], {}).ok


def test_a_skipper_told_sold_out_only_after_the_last_sale() -> None:
    before = Attempt("no_ticket", "bot1", 410, "sold_out", answered_ns=5 * MS)
    after = Attempt("no_ticket", "bot1", 410, "sold_out", answered_ns=9 * MS)
    check = skippers_refused([after], set(), {"bot1"}, [], {}, sold_out_ns=8 * MS)
    assert check.ok and "1 of them sold_out after the last sale" in check.detail
    assert not skippers_refused([before], set(), {"bot1"}, [], {}, sold_out_ns=8 * MS).ok
    assert not skippers_refused([after], set(), {"bot1"}, [], {}).ok  # never sold out


def test_the_stock_sold_exactly_once_per_person_by_its_ticket() -> None:
    tickets = [_ticket(i, admitted=1, used=2, state="used") for i in range(1, 4)]
    orders = [SoldOrder(f"u{i}", 2) for i in range(1, 4)]
    assert stock_sold_exactly(orders, 3, tickets, expect_sell_out=True).ok
    assert not stock_sold_exactly(orders[:2], 3, tickets, expect_sell_out=True).ok
    assert stock_sold_exactly(orders[:2], 3, tickets, expect_sell_out=False).ok
    assert not stock_sold_exactly(orders, 2, tickets, expect_sell_out=False).ok
    twice = [*orders[:2], SoldOrder("u1", 3)]
    assert not stock_sold_exactly(twice, 3, tickets, expect_sell_out=False).ok
    stranger = [*orders[:2], SoldOrder("bot", 3)]
    assert not stock_sold_exactly(stranger, 3, tickets, expect_sell_out=True).ok


def test_nobody_admitted_after_the_sell_out_and_the_queue_closed() -> None:
    tickets = [
        _ticket(1, admitted=100, used=150, state="used"),
        _ticket(2, admitted=200, used=250, state="used"),
        _ticket(3, state="closed"),
    ]
    orders = [SoldOrder("u1", 150), SoldOrder("u2", 250)]
    check, figures = nobody_admitted_after_sell_out(tickets, orders, 2, 0.3)
    assert check.ok, check.detail
    assert figures["admittedAfter"] == 0
    late = [*tickets[:2], _ticket(3, admitted=300, state="lapsed")]
    assert not nobody_admitted_after_sell_out(late, orders, 2, 0.3)[0].ok
    still_waiting = [*tickets[:2], _ticket(3, state="waiting")]
    assert not nobody_admitted_after_sell_out(still_waiting, orders, 2, 0.3)[0].ok
    slow = CLOSED_SEEN_WITHIN_S + 1
    assert not nobody_admitted_after_sell_out(tickets, orders, 2, slow)[0].ok
    assert not nobody_admitted_after_sell_out(tickets, orders, 2, None)[0].ok
    never_sold_out = nobody_admitted_after_sell_out(tickets, orders[:1], 2, None)[0]
    assert never_sold_out.ok and "never sold out" in never_sold_out.detail


def test_the_records_closed_at_and_tickets_of_unknown_state() -> None:
    """closedAt, when recorded, is the sell-out's; a ticket whose state nobody read is
    counted, not failed."""
    tickets = [
        _ticket(1, admitted=100, used=150, state="used"),
        _ticket(2, admitted=200, used=250, state="used"),
        AuditTicket(3, 3, "u3", 0, None, None, None),
    ]
    orders = [SoldOrder("u1", 150), SoldOrder("u2", 250)]
    check, figures = nobody_admitted_after_sell_out(tickets, orders, 2, 0.3, 260)
    assert check.ok and "1 unread" in check.detail, check.detail
    assert figures["closedAtAfterS"] == pytest.approx(0.01)
    assert not nobody_admitted_after_sell_out(tickets, orders, 2, 0.3, 240)[0].ok  # before
    late = 250 + int(CLOSED_SEEN_WITHIN_S * 1000) + 1
    assert not nobody_admitted_after_sell_out(tickets, orders, 2, 0.3, late)[0].ok


def test_every_tab_holds_the_same_ticket_one_told_201() -> None:
    joins = [
        Join("a", 0, 0, 1, 201, "T-a"),
        Join("a", 1, 0, 1, 200, "T-a"),
        Join("a", 2, 5, 6, 200, "T-a"),
        Join("b", 0, 0, 1, 201, "T-b"),
        Join("c", 0, 9, 10, 410),  # closed: no ticket, no failure
    ]
    check = tabs_one_ticket(joins)
    assert check.ok, check.detail
    assert "2 with several tabs" not in check.detail and "without a ticket: 410 1" in check.detail
    assert not tabs_one_ticket([*joins, Join("a", 3, 7, 8, 201, "T-a2")]).ok
    assert not tabs_one_ticket([*joins, Join("b", 1, 0, 1, 201, "T-b")]).ok
