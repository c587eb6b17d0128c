"""The operator's commands as the SQLite allocator decides them (flashsale.allocator.admin,
on flashsale.sale_lifecycle's rules), on a real journal: what each changes, refuses and
records, and what an idempotent retry answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flashsale import journal_sales
from flashsale.admin_commands import (
    AdminAnswer,
    AdminRequest,
    AuditContext,
    ChangeSale,
    CreateSale,
    RecordRefusal,
)
from flashsale.allocator.admin import AdminDesk
from flashsale.allocator.book import StockBook
from flashsale.api.problems import BY_SLUG
from flashsale.journal import Journal
from flashsale.outcomes import Outcome
from flashsale.records import Phase, SaleTerms
from flashsale.sale_lifecycle import (
    END,
    ENGINE_REFUSALS,
    PAUSE,
    RESUME,
    SET_END,
    Change,
)
from tests.support.catalogue import product

CONTEXT = AuditContext("POST", "/admin", "{}", False, "192.0.2.7", "admin:0a1b2c3d")
TERMS = SaleTerms((product(stock=4),), 1, None, None)


class Desk:
    """A journal with its first sale, its book, and the commands sent to it."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.desk = AdminDesk(journal)
        self.book = StockBook(journal.create_sale(TERMS))

    def send(self, command, context: AuditContext = CONTEXT) -> AdminAnswer:
        answer, self.book = self.desk.decide(self.book, AdminRequest(command, context))
        return answer

    def trail(self) -> list[tuple[str, str | None, int, str | None]]:
        entries = journal_sales.audit_page(self.journal.db, 0, 100)
        return [(e.action, e.attempted, e.status, e.problem) for e in entries]


@pytest.fixture
def desk(tmp_path):
    journal = Journal(tmp_path / "j.db")
    yield Desk(journal)
    journal.close()


def test_every_refusal_an_engine_decides_is_a_declared_problem_of_its_code():
    for status, slug in ENGINE_REFUSALS:
        assert BY_SLUG[slug].status == status, slug


def test_a_new_sale_is_refused_while_one_runs_unless_it_names_the_one_it_replaces(desk):
    current = desk.book.sale
    refused = desk.send(CreateSale(TERMS))
    assert (refused.status, refused.problem) == (409, "sale-in-progress")
    assert refused.extensions == {"saleId": 1, "state": "open", "etag": '"sale-1-v1"'}
    assert desk.book.sale is current  # nothing changed
    stale = desk.send(CreateSale(TERMS, replaces=7))
    assert (stale.status, stale.problem, stale.extensions["etag"]) == (
        412,
        "precondition-failed",
        '"sale-1-v1"',
    )
    assert desk.send(CreateSale(TERMS, if_match=('"sale-1-v2"',))).status == 412
    made = desk.send(CreateSale(TERMS, if_match=(current.etag,)))
    assert (made.status, made.sale and made.sale.sale_id) == (201, 2)
    old = journal_sales.read_sale(desk.journal.db, 1)
    assert old is not None and old.lifecycle.phase is Phase.ENDED
    assert old.lifecycle.ended_at_us == old.terms.ends_at_us == made.at_us
    assert desk.send(CreateSale(TERMS, replaces=2)).sale.sale_id == 3  # type: ignore[union-attr]
    assert desk.trail() == [
        ("refused", "create", 409, "sale-in-progress"),
        ("refused", "create", 412, "precondition-failed"),
        ("refused", "create", 412, "precondition-failed"),
        ("replace", "create", 201, None),
        ("replace", "create", 201, None),
    ]


def test_an_ended_sale_needs_no_replacing(desk):
    assert desk.send(ChangeSale(1, Change(END))).status == 200
    assert desk.send(CreateSale(TERMS)).status == 201
    assert desk.trail()[-1] == ("create", "create", 201, None)


def test_an_idempotency_key_makes_one_sale_and_answers_it_again(desk):
    first = desk.send(CreateSale(TERMS, replaces=1, idempotency_key="k-1", fingerprint="f1"))
    assert first.status == 201 and not first.replayed
    desk.send(ChangeSale(2, Change(PAUSE)))  # the sale changes meanwhile
    again = desk.send(CreateSale(TERMS, replaces=1, idempotency_key="k-1", fingerprint="f1"))
    assert again.replayed and replace(again, replayed=False) == first  # its first answer
    reused = desk.send(CreateSale(TERMS, replaces=2, idempotency_key="k-1", fingerprint="f2"))
    assert (reused.status, reused.problem, reused.extensions) == (
        422,
        "idempotency-key-reused",
        {"saleId": 2},
    )
    assert desk.book.sale.sale_id == 2
    entries = journal_sales.audit_page(desk.journal.db, 0, 100)
    assert [(e.action, e.replayed) for e in entries] == [
        ("replace", False),
        ("pause", False),
        ("create", True),
        ("refused", False),
    ]


def test_pause_resume_and_end_change_the_book_and_record_each_version(desk):
    paused = desk.send(ChangeSale(1, Change(PAUSE), if_match=('"sale-1-v1"',)))
    assert paused.status == 200 and paused.sale is not None
    assert (paused.sale.lifecycle.phase, paused.sale.lifecycle.version) == (Phase.PAUSED, 2)
    assert paused.sale.lifecycle.paused_at_us == paused.at_us
    assert desk.book.decide("ann", "item", b"r" * 16, paused.at_us + 1, False, 0)[0] is (
        Outcome.PAUSED
    )
    again = desk.send(ChangeSale(1, Change(PAUSE)))  # what already is: nothing recorded
    assert again.status == 200 and again.sale == paused.sale
    assert desk.send(ChangeSale(1, Change(RESUME), if_match=('"sale-1-v1"',))).status == 412
    resumed = desk.send(ChangeSale(1, Change(RESUME)))
    assert resumed.sale is not None and resumed.sale.lifecycle.phase is Phase.ACTIVE
    ended = desk.send(ChangeSale(1, Change(END)))
    assert ended.sale is not None and ended.sale.lifecycle.version == 4
    refused = desk.send(ChangeSale(1, Change(RESUME)))
    assert (refused.status, refused.problem) == (409, "sale-already-ended")
    assert refused.extensions["endedAtUs"] == ended.at_us
    versions = desk.journal.db.execute(
        "SELECT version, action, phase FROM sale_changes WHERE sale_id = 1 ORDER BY version"
    ).fetchall()
    assert versions == [
        (1, "create", "active"),
        (2, "pause", "paused"),
        (3, "resume", "active"),
        (4, "end", "ended"),
    ]
    assert [entry[:3] for entry in desk.trail()] == [
        ("pause", "pause", 200),
        ("pause", "pause", 200),
        ("refused", "resume", 412),
        ("resume", "resume", 200),
        ("end", "end", 200),
        ("refused", "resume", 409),
    ]


def test_the_end_moves_forward_but_never_into_the_past_and_only_of_the_current_sale(desk):
    now = desk.send(ChangeSale(1, Change(PAUSE))).at_us
    past = desk.send(ChangeSale(1, Change(SET_END, now - 1)))
    assert (past.status, past.problem, past.extensions["field"]) == (400, "invalid-sale", "endsAt")
    later = desk.send(ChangeSale(1, Change(SET_END, now + 60_000_000)))
    assert later.sale is not None and later.sale.terms.ends_at_us == now + 60_000_000
    assert desk.send(ChangeSale(1, Change(SET_END, None))).sale.terms.ends_at_us is None  # type: ignore[union-attr]
    desk.send(CreateSale(TERMS, replaces=1))
    earlier = desk.send(ChangeSale(1, Change(PAUSE)))
    assert (earlier.status, earlier.problem) == (409, "sale-not-current")
    unknown = desk.send(ChangeSale(3, Change(PAUSE)))
    assert (unknown.status, unknown.problem, unknown.extensions) == (
        404,
        "not-found",
        {"saleId": 3},
    )


def test_a_refusal_a_worker_decided_is_only_recorded(desk):
    wrong = replace(CONTEXT, token="admin:ffffffff", body="")
    answer = desk.send(RecordRefusal(401, "invalid-token"), wrong)
    assert (answer.status, answer.problem, answer.sale) == (401, "invalid-token", None)
    (entry,) = journal_sales.audit_page(desk.journal.db, 0, 10)
    assert (entry.action, entry.status, entry.problem, entry.context) == (
        "refused",
        401,
        "invalid-token",
        wrong,
    )
