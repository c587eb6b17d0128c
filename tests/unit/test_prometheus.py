"""/metrics as Prometheus reads it: the exposition parsed back by prometheus_client."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from flashsale.config import Settings
from flashsale.metrics import MetricsRecorder, current_sale_id
from flashsale.observe import ServerView
from flashsale.outcomes import Outcome
from flashsale.prometheus import SALE_STATES, registry_for
from flashsale.shm.sale_board import SaleBoard, SaleSnapshot
from flashsale.shm.slots import ADMIN_ACTIONS, Endpoint, ProcessSlots
from flashsale.shm.store_board import StoreBoard
from tests.support.catalogue import snapshot

# Live processes for /proc to read: this one stands for a worker, its parent
# for the master or another worker.
PID, PARENT_PID = os.getpid(), os.getppid()


def _scrape(view: ServerView) -> dict[str, tuple[str, list[Sample]]]:
    """Family name -> (type, samples), as a scraper parses the text."""
    breaker = {"state": "closed", "trips": 0}
    text = generate_latest(registry_for(view, lambda: breaker)).decode()
    return {f.name: (f.type, f.samples) for f in text_string_to_metric_families(text)}


def _labels(samples: list[Sample]) -> list[dict[str, str]]:
    return [sample.labels for sample in samples]


def test_the_exposition_parses_back_into_the_families_it_names():
    board, slots = SaleBoard(), ProcessSlots()
    board.publish_sale(snapshot(7, 100))
    board.publish_sold(40, batch=40, product_sold={0: 40})
    slot = slots.claim(PID)
    families = _scrape(ServerView(Settings(), board, slots, StoreBoard(), master_pid=PARENT_PID))

    types = {name: kind for name, (kind, _) in families.items()}
    assert types["flashsale_http_requests"] == "counter"
    assert types["flashsale_purchase_latency_seconds"] == "histogram"
    assert types["flashsale_stock_remaining_items"] == "gauge"
    assert types["flashsale_process_cpu_seconds"] == "counter"
    assert types["flashsale_process_resident_memory_bytes"] == "gauge"
    # The classic text format has no info type: an info metric is a gauge of 1
    # named *_info, as Prometheus's own target_info is.
    assert types["flashsale_process_info"] == "gauge"
    assert types["flashsale_sale_info"] == "gauge"
    assert "flashsale_sale_id" not in types  # an id is a label, not a value

    (sale,) = families["flashsale_sale_info"][1]
    assert (sale.name, sale.labels, sale.value) == ("flashsale_sale_info", {"sale_id": "7"}, 1)
    (remaining,) = families["flashsale_stock_remaining_items"][1]
    assert remaining.value == 60

    # No allocator has announced itself: the master and the one worker.
    processes = [{"role": "master", "slot": ""}, {"role": "worker", "slot": str(slot)}]
    _, cpu = families["flashsale_process_cpu_seconds"]
    assert [s.name for s in cpu] == ["flashsale_process_cpu_seconds_total"] * 2
    assert _labels(cpu) == processes
    assert all(s.value >= 0 for s in cpu)
    _, memory = families["flashsale_process_resident_memory_bytes"]
    assert _labels(memory) == processes
    assert all(s.value > 0 for s in memory)
    _, info = families["flashsale_process_info"]
    assert _labels(info) == [
        {"role": "master", "slot": "", "pid": str(PARENT_PID)},
        {"role": "worker", "slot": str(slot), "pid": str(PID)},
    ]
    assert {s.value for s in info} == {1}


def test_a_recycled_worker_keeps_its_slots_series_and_changes_only_its_pid():
    board, slots = SaleBoard(), ProcessSlots()
    view = ServerView(Settings(), board, slots, StoreBoard())
    first = slots.claim(PID)
    assert first is not None
    before = _scrape(view)
    slots.release(first)
    assert slots.claim(PARENT_PID) == first  # the new worker takes the row it left
    after = _scrape(view)

    for family in ("flashsale_process_cpu_seconds", "flashsale_process_resident_memory_bytes"):
        assert _labels(before[family][1]) == _labels(after[family][1])
        assert _labels(after[family][1]) == [{"role": "worker", "slot": str(first)}]
    assert _labels(before["flashsale_process_info"][1]) == [
        {"role": "worker", "slot": str(first), "pid": str(PID)}
    ]
    assert _labels(after["flashsale_process_info"][1]) == [
        {"role": "worker", "slot": str(first), "pid": str(PARENT_PID)}
    ]


def test_a_worker_still_being_forked_has_no_series_yet():
    slots = ProcessSlots()
    slots.claim()  # the master claims the row before fork; the pid comes later
    families = _scrape(ServerView(Settings(), SaleBoard(), slots, StoreBoard()))
    assert families["flashsale_process_cpu_seconds"][1] == []
    assert families["flashsale_process_info"][1] == []


def test_the_build_is_an_info_metric_of_its_version_python_and_engine():
    families = _scrape(ServerView(Settings(), SaleBoard(), ProcessSlots(), StoreBoard()))
    kind, (build,) = families["flashsale_build_info"]
    assert kind == "gauge"
    assert build.labels == {
        "version": version("flashsale"),
        "python": platform.python_version(),
        "engine": "sqlite",
    }
    assert build.value == 1


def test_the_sale_s_state_is_one_series_per_state_1_for_the_current_one():
    board = SaleBoard()
    view = ServerView(Settings(), board, ProcessSlots(), StoreBoard())
    assert "flashsale_sale_state" not in _scrape(view)  # no sale yet
    board.publish_sale(snapshot(3, 10, ends=1))  # ended long ago
    kind, samples = _scrape(view)["flashsale_sale_state"]
    assert kind == "gauge"
    assert {s.labels["state"]: s.value for s in samples} == {
        "upcoming": 0,
        "open": 0,
        "paused": 0,
        "sold_out": 0,
        "ended": 1,
    }


def test_a_state_the_exposition_does_not_list_gets_its_series(monkeypatch):
    board = SaleBoard()
    board.publish_sale(snapshot(3, 10))
    monkeypatch.setattr(SaleSnapshot, "state", lambda sale, now_us: "halted")
    _, samples = _scrape(ServerView(Settings(), board, ProcessSlots(), StoreBoard()))[
        "flashsale_sale_state"
    ]
    assert [s.labels["state"] for s in samples if s.value == 1] == ["halted"]
    assert len(samples) == len(SALE_STATES) + 1


def test_the_current_sale_s_figures_carry_its_id_and_the_peaks_are_gauges():
    board, slots = SaleBoard(), ProcessSlots()
    slot = slots.claim(PID)
    assert slot is not None
    worker = MetricsRecorder(
        slots.row(slot), queue_depth=slots.in_flight_total, sale_id=current_sale_id(board)
    )
    board.publish_sale(snapshot(4, 10))
    worker.queue_entered()
    worker.queue_entered()
    worker.queue_left()
    worker.queue_left()
    worker.record(Endpoint.PURCHASE, Outcome.SOLD_OUT, 800)
    board.publish_sale(snapshot(5, 10))
    worker.queue_entered()
    worker.queue_left()
    worker.record(Endpoint.PURCHASE, Outcome.CONFIRMED, 800)
    families = _scrape(ServerView(Settings(), board, slots, StoreBoard()))

    kind, purchases = families["flashsale_sale_purchases"]
    assert kind == "counter"
    assert {s.labels["sale_id"] for s in purchases} == {"5"}
    counted = {s.labels["outcome"]: s.value for s in purchases if s.name.endswith("_total")}
    assert counted["confirmed"] == 1
    assert counted["sold_out"] == 0  # sale 4's
    (success,) = families["flashsale_sale_success_ratio"][1]
    assert (success.labels, success.value) == ({"sale_id": "5"}, 1.0)
    assert families["flashsale_queue_depth_peak"][0] == "gauge"
    (since_start,) = families["flashsale_queue_depth_peak"][1]
    (this_sale,) = families["flashsale_sale_queue_depth_peak"][1]
    assert (since_start.value, this_sale.value, this_sale.labels) == (2, 1, {"sale_id": "5"})


def test_admin_actions_are_a_counter_by_action_and_outcome():
    slots = ProcessSlots()
    slot = slots.claim(PID)
    assert slot is not None
    admin = MetricsRecorder(slots.row(slot))
    admin.record_admin("create", "ok")
    admin.record_admin("create", "sale-in-progress")
    kind, samples = _scrape(ServerView(Settings(), SaleBoard(), slots, StoreBoard()))[
        "flashsale_admin_actions"
    ]
    assert kind == "counter"
    counted = {
        (s.labels["action"], s.labels["outcome"]): s.value
        for s in samples
        if s.name == "flashsale_admin_actions_total"
    }
    # Each action's "ok" is there from the start, at 0; other outcomes once counted.
    assert counted == {
        **{(action, "ok"): 0 for action in ADMIN_ACTIONS if action != "other"},
        ("create", "ok"): 1,
        ("create", "sale-in-progress"): 1,
    }
