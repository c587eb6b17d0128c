"""The pause's verdict (stress.verdicts.pause) from synthetic calls, audit entries,
orders and records: it fails an order decided inside the window, a 201 the server
does not list, an order nobody was told of, and a pause the trail does not show."""

from __future__ import annotations

from datetime import datetime

from stress.records import AdminCall, Record
from stress.verdicts.pause import PauseWindow, judge_pause, paused_windows

SALE = "7"
PAUSED = "2026-12-06T08:15:38.174Z"
RESUMED = "2026-12-06T08:15:40.189Z"


def entry(seq, action, at, sale=7, status=200):
    return {"seq": seq, "at": at, "action": action, "saleId": sale, "status": status}


TRAIL = [
    entry(1, "create", "2026-12-06T08:15:30.000Z"),
    entry(2, "pause", PAUSED),
    entry(3, "pause", "2026-12-06T08:15:39.000Z"),  # again: changes nothing
    entry(4, "refused", "2026-12-06T08:15:39.500Z", status=409),
    entry(5, "resume", RESUMED),
]
CALLS = [
    AdminCall("pause", 0, 1, 2, 200, "paused", PAUSED, 2),
    AdminCall("resume", 0, 3, 4, 200, "open", None, 3),
]


def order(oid, user, at):
    return {"orderId": oid, "userId": user, "position": 1, "purchasedAt": at}


def answer(user, http, status, oid=None, retry_after=None):
    return Record(user, "purchase", 1, 0, 1, http, status, order_id=oid, retry_after_s=retry_after)


def ms(iso):
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def judged(orders, records, calls=CALLS, trail=TRAIL, sold=None):
    """The checks by their first two words, and the whole verdict."""
    sold = len(orders) if sold is None else sold
    verdict = judge_pause(calls, trail, orders, records, SALE, sold)
    return {" ".join(c.name.split(" ")[:2]): c for c in verdict.checks}, verdict


def good_run():
    orders = [
        order("a", "u1", "2026-12-06T08:15:38.100Z"),
        order("b", "u2", PAUSED),  # the pause's own millisecond: decided before it
        order("c", "u3", RESUMED),  # the resume's own millisecond: after it
        order("d", "u4", "2026-12-06T08:15:41.000Z"),
    ]
    records = [
        answer("u1", 201, "confirmed", "a"),
        answer("u2", 201, "confirmed", "b"),
        answer("u3", 503, "paused", retry_after=5.0),
        answer("u3", 201, "confirmed", "c"),
        answer("u4", 201, "confirmed", "d"),
    ]
    return orders, records


def test_the_window_is_the_first_pause_to_the_resume_of_this_sale():
    windows = paused_windows([*TRAIL, entry(6, "pause", RESUMED, sale=8)], SALE)
    paused_ms, resumed_ms = ms(PAUSED), ms(RESUMED)
    assert windows == [PauseWindow(paused_ms, resumed_ms)]
    assert windows[0].span_s == 2.015
    assert not windows[0].holds(paused_ms) and windows[0].holds(paused_ms + 1)
    assert windows[0].holds(resumed_ms - 1) and not windows[0].holds(resumed_ms)
    still = paused_windows(TRAIL[:3], SALE)
    assert still[0].resumed_ms is None and still[0].holds(resumed_ms + 10**6)


def test_a_clean_pause_passes_with_its_figures():
    checks, verdict = judged(*good_run())
    assert all(check.ok for check in verdict.checks), [c.detail for c in verdict.checks]
    figures = verdict.figures
    assert figures["pausedAnswers"] == 1 and figures["recordedPauseS"] == 2.015
    assert (figures["confirmedBeforePause"], figures["confirmedAfterResume"]) == (2, 2)
    assert "2 in the pause's or the resume's own millisecond" in checks["no purchase"].detail
    assert not verdict.warnings


def test_an_order_decided_inside_the_window_fails():
    orders, records = good_run()
    orders.append(order("e", "u5", "2026-12-06T08:15:38.175Z"))
    records.append(answer("u5", 201, "confirmed", "e"))
    checks, _ = judged(orders, records)
    assert not checks["no purchase"].ok
    assert "e at 2026-12-06T08:15:38.175Z" in checks["no purchase"].detail


def test_a_201_missing_from_the_list_or_an_order_nobody_was_told_of_fails():
    orders, records = good_run()
    records.append(answer("u6", 201, "confirmed", "ghost"))
    checks, _ = judged(orders, records)
    assert not checks["nothing lost:"].ok and "u6: ghost" in checks["nothing lost:"].detail

    orders, records = good_run()
    orders.append(order("f", "u7", "2026-12-06T08:15:42.000Z"))
    records.append(answer("u7", 410, "sold_out"))
    checks, _ = judged(orders, records)
    assert not checks["nothing lost:"].ok and "1 orders whose buyer was told otherwise" in (
        checks["nothing lost:"].detail
    )
    # ...but a buyer whose answer was lost (no answer) is settled by the look-ups.
    records[-1] = answer("u7", 0, "")
    checks, _ = judged(orders, records)
    assert checks["nothing lost:"].ok


def test_the_status_must_count_the_listed_orders():
    orders, records = good_run()
    checks, _ = judged(orders, records, sold=5)
    assert not checks["nothing lost:"].ok


def test_a_pause_the_trail_does_not_show_or_a_refused_resume_fails():
    orders, records = good_run()
    checks, _ = judged(orders, records, trail=TRAIL[:1])
    assert not checks["the audit"].ok and not checks["no purchase"].ok
    refused = [CALLS[0], AdminCall("resume", 0, 3, 4, 409, None, None, None, "409: sale ended")]
    checks, _ = judged(orders, records, calls=refused)
    assert not checks["the operator"].ok and "resume answered 409" in checks["the operator"].detail


def test_a_paused_answer_without_retry_after_fails_and_no_paused_answer_warns():
    orders, records = good_run()
    records[2] = answer("u3", 503, "paused")
    checks, _ = judged(orders, records)
    assert not checks["paused answers"].ok
    _, verdict = judged(orders, [r for r in records if r.status != "paused"])
    assert any("no shopper met the pause" in warning for warning in verdict.warnings)
