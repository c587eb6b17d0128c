"""The figures that are not plain sums of the workers' rows: the queue's high-water
mark, the current sale's own figures, and the admin actions' table."""

from __future__ import annotations

import json
import os

from flashsale.api.openapi import openapi_document
from flashsale.api.operator import metrics_json
from flashsale.api.problems import PROBLEM_ROWS
from flashsale.config import Settings
from flashsale.metrics import MetricsRecorder, MetricsSnapshot, current_sale_id, success_rate
from flashsale.observe import ServerView
from flashsale.outcomes import REPORTED_OUTCOMES, Outcome
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.slots import (
    ADMIN_ACTIONS,
    ADMIN_OUTCOMES,
    RESETTING,
    SALE_ID,
    Endpoint,
    ProcessSlots,
    sale_block,
)
from flashsale.shm.store_board import StoreBoard
from tests.support.catalogue import snapshot

PURCHASE = Endpoint.PURCHASE
# Problem types issue 23's admin API adds (flashsale.api.problems will hold them).
LIFECYCLE_PROBLEMS = {"sale-in-progress", "precondition-failed", "idempotency-key-reused"}


class Server:
    """Shared memory as the master makes it, with a recorder per worker row."""

    def __init__(self, workers: int = 2) -> None:
        self.board, self.slots = SaleBoard(), ProcessSlots()
        self.rows: list[int] = []
        self.workers: list[MetricsRecorder] = []
        for _ in range(workers):
            self.fork()

    def fork(self) -> MetricsRecorder:
        slot = self.slots.claim(os.getpid())
        assert slot is not None
        recorder = MetricsRecorder(
            self.slots.row(slot),
            queue_depth=self.slots.in_flight_total,
            sale_id=current_sale_id(self.board),
        )
        self.rows.append(slot)
        self.workers.append(recorder)
        return recorder

    def start_sale(self, sale_id: int) -> None:
        self.board.publish_sale(snapshot(sale_id, 100))

    def read(self) -> MetricsSnapshot:
        sale = self.board.sale()
        return MetricsSnapshot.read(self.slots, sale.sale_id if sale else None)


def test_the_high_water_mark_is_the_most_in_flight_on_all_rows_at_once():
    server = Server()
    a, b = server.workers
    a.queue_entered()
    a.queue_entered()
    b.queue_entered()  # 3 at once, though no row ever held more than 2
    a.queue_left()
    a.queue_left()
    b.queue_entered()  # b's own most is 2 now, and 2 are waiting
    b.queue_left()
    b.queue_left()
    read = server.read()
    # The max of each row's own most would say 2, their sum 4.
    assert (read.in_flight, read.queue_peak) == (0, 3)
    assert server.slots.in_flight_total() == 0


def test_the_current_sale_counts_from_zero_while_the_totals_go_on():
    server = Server()
    a, b = server.workers
    server.start_sale(1)
    answered = ((a, Outcome.CONFIRMED), (b, Outcome.SOLD_OUT), (b, Outcome.INVALID))
    for worker, _ in answered:  # all three wait at once
        worker.queue_entered()
    for worker, outcome in answered:
        worker.queue_left()
        worker.record(PURCHASE, outcome, 900)
    a.queue_entered()  # still waiting when the next sale starts
    first = server.read()
    assert first.sale is not None
    assert first.sale.sale_id == 1
    assert (first.sale.outcomes[Outcome.CONFIRMED], first.sale.outcomes[Outcome.SOLD_OUT]) == (1, 1)
    assert success_rate(first.sale.outcomes) == 0.5  # bad input is no decision
    # A hold is a won purchase (its checkout comes later).
    assert success_rate({**first.sale.outcomes, Outcome.HELD: 2}) == 0.75
    assert first.sale.queue_peak == first.queue_peak == 3

    server.start_sale(2)
    fresh = server.read()
    assert fresh.sale is not None
    assert (fresh.sale.sale_id, sum(fresh.sale.outcomes.values()), fresh.sale.queue_peak) == (
        2,
        0,
        0,
    )
    a.queue_left()
    b.queue_entered()  # the first of sale 2 to wait, alone
    b.record(PURCHASE, Outcome.CONFIRMED, 700)
    b.queue_left()

    read = server.read()
    assert read.sale is not None
    assert read.sale.outcomes[Outcome.CONFIRMED] == 1
    assert sum(read.sale.outcomes.values()) == 1  # a's row still counts sale 1: left out
    assert read.sale.queue_peak == 1
    assert (read.outcomes[Outcome.CONFIRMED], sum(read.outcomes.values())) == (2, 4)
    assert read.queue_peak == 3 >= read.sale.queue_peak


def test_a_worker_that_exits_leaves_its_current_sale_figures_and_peak_behind():
    server = Server(workers=3)
    a, b, c = server.workers
    server.start_sale(1)
    c.record(PURCHASE, Outcome.CONFIRMED, 500)  # c counts for sale 1, then stops counting
    server.start_sale(2)
    for worker in (a, b, a):
        worker.queue_entered()
    for worker in (a, b, a):
        worker.queue_left()
        worker.record(PURCHASE, Outcome.SOLD_OUT, 500)
    server.slots.release(server.rows[0])  # a exits: its 2 answers move to the retired row
    server.slots.release(server.rows[2])  # c's block is of a sale that is over
    read = server.read()
    assert read.sale is not None
    assert (read.sale.outcomes[Outcome.SOLD_OUT], read.sale.queue_peak) == (3, 3)
    assert read.sale.outcomes[Outcome.CONFIRMED] == 0
    assert (read.outcomes[Outcome.CONFIRMED], read.queue_peak) == (1, 3)

    d = server.fork()  # a's successor takes its row, from zero
    d.record(PURCHASE, Outcome.SOLD_OUT, 500)
    read = server.read()
    assert read.sale is not None
    assert read.sale.outcomes[Outcome.SOLD_OUT] == 4


def test_a_block_being_reset_is_not_read_as_any_sale_s():
    server = Server(workers=1)
    server.start_sale(5)
    server.workers[0].record(PURCHASE, Outcome.CONFIRMED, 500)
    row = server.slots.row(server.rows[0])
    assert sale_block(row, 5) is not None
    row[SALE_ID] = RESETTING  # as its writer does first, before zeroing it
    assert sale_block(row, 5) is None
    read = server.read()
    assert read.sale is not None
    assert sum(read.sale.outcomes.values()) == 0


def test_only_rows_ever_claimed_are_summed_for_the_queue_depth():
    server = Server(workers=3)
    for worker in server.workers:
        worker.queue_entered()
    assert server.slots.in_flight_total() == 3
    server.workers[1].queue_left()
    server.slots.release(server.rows[1])
    assert server.slots.in_flight_total() == 2
    assert server.slots.claim() == server.rows[1]  # reused: still under the rows used
    assert server.slots.in_flight_total() == 2


def test_admin_actions_are_counted_by_action_and_outcome():
    server = Server()
    a, b = server.workers
    a.record_admin("create", "ok")
    b.record_admin("create", "ok")
    b.record_admin("create", "sale-in-progress")
    a.record_admin("pause", "ok")
    a.record_admin("teleport", "ok")  # names the table does not list: "other"
    a.record_admin("end", "a-new-problem")
    server.slots.release(server.rows[0])  # and they survive a worker's exit
    assert server.read().admin_actions == {
        ("create", "ok"): 2,
        ("create", "sale-in-progress"): 1,
        ("pause", "ok"): 1,
        ("other", "ok"): 1,
        ("end", "other"): 1,
    }


def test_admin_outcomes_are_problem_types_the_service_answers_with():
    registered = {row[0] for row in PROBLEM_ROWS} | LIFECYCLE_PROBLEMS
    assert set(ADMIN_OUTCOMES) - {"ok", "other"} <= registered
    assert ADMIN_ACTIONS[-1] == ADMIN_OUTCOMES[-1] == "other"


def test_the_metrics_json_has_the_current_sale_s_figures_and_the_admin_actions():
    server = Server(workers=1)
    (worker,) = server.workers
    view = ServerView(Settings(), server.board, server.slots, StoreBoard(), master_pid=os.getppid())
    before = metrics_json(view, {"state": "closed"})
    assert (before["currentSale"], before["queueHighWater"]) == (None, 0)
    assert before["adminActions"] == {action: {} for action in ADMIN_ACTIONS}

    server.start_sale(3)
    worker.queue_entered()
    worker.queue_left()
    worker.record(PURCHASE, Outcome.CONFIRMED, 500)
    worker.record(PURCHASE, Outcome.RATE_LIMITED, 500)
    worker.record_admin("create", "ok")
    after = metrics_json(view, {"state": "closed"})
    assert after["queueHighWater"] == 1
    assert after["currentSale"] == {
        "saleId": 3,
        "outcomes": {
            o.word: int(o in (Outcome.CONFIRMED, Outcome.RATE_LIMITED)) for o in REPORTED_OUTCOMES
        },
        "successRate": 0.5,
        "queueHighWater": 1,
    }
    assert after["adminActions"]["create"] == {"ok": 1}


def test_the_openapi_document_names_the_admin_actions_and_outcomes_counted():
    schemas = json.loads(openapi_document())["components"]["schemas"]
    assert tuple(schemas["AdminActions"]["required"]) == ADMIN_ACTIONS
    assert tuple(schemas["AdminOutcomeCounts"]["propertyNames"]["enum"]) == ADMIN_OUTCOMES
