"""The operator's commands, decided by the SQLite allocator in its loop, in order with
the purchases.

The loop first makes every purchase decided before the command durable and
answered (CommitPipeline.settle); then the command is decided against the stock
book (flashsale.sale_lifecycle's rules), and what it changes, the idempotency
key it uses and its audit entry are written in one synced transaction before
the loop publishes the sale and answers. So a pause is exact: each purchase
decided before it is durable, and every purchase decided after it sees the
paused book. A refused command changes nothing and is audited the same way.
(The Redis engine decides the same commands inside Redis: redis_engine/library.lua.)
"""

from __future__ import annotations

import time

from flashsale import journal_sales
from flashsale.admin_commands import (
    CREATE,
    REFUSED,
    REPLACE,
    AdminAnswer,
    AdminRequest,
    ChangeSale,
    CreateSale,
    RecordRefusal,
    attempted_action,
)
from flashsale.allocator.book import StockBook
from flashsale.journal import Journal
from flashsale.journal_sales import AuditEntry
from flashsale.records import SaleRecord
from flashsale.sale_lifecycle import (
    IDEMPOTENCY_KEY_REUSED,
    Refusal,
    apply_change,
    refuse_creation,
    refuse_other_sale,
    replaced,
)

CREATED, DONE = 201, 200


class AdminDesk:
    """Decides one command at a time on the journal; the loop owns the book it returns."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def decide(self, book: StockBook, request: AdminRequest) -> tuple[AdminAnswer, StockBook]:
        """The answer, and the book that decides purchases from now on. Raises
        sqlite3.OperationalError when the journal cannot be written: nothing changed."""
        # Never before a sale already decided: the pause's instant follows them all.
        now_us = max(time.time_ns() // 1000, book.last_sold_at_us + 1)
        command = request.command
        if isinstance(command, CreateSale):
            return self._create(book, command, request, now_us)
        if isinstance(command, ChangeSale):
            return self._change(book, command, request, now_us), book
        return self._refused_elsewhere(command, request, now_us), book

    # -- a new sale -------------------------------------------------------------------------
    def _create(
        self, book: StockBook, command: CreateSale, request: AdminRequest, now_us: int
    ) -> tuple[AdminAnswer, StockBook]:
        db = self.journal.db
        key = command.idempotency_key
        if key is not None:
            known = journal_sales.known_key(db, key, now_us)
            if known is not None:
                return self._replay(book, command, request, known, now_us), book
        current = book.sale
        refusal = refuse_creation(
            current,
            book.remaining,
            replaces=command.replaces,
            if_match=command.if_match,
            now_us=now_us,
        )
        if refusal is not None:
            return self._refuse(refusal, request, current.sale_id, now_us), book
        with self.journal.transaction():
            old = replaced(current, now_us)
            if old is not None:
                journal_sales.record_change(db, old, journal_sales.REPLACED, now_us)
            sale = journal_sales.insert_sale(db, command.terms, now_us)
            if key is not None and command.fingerprint is not None:
                journal_sales.remember_key(db, key, command.fingerprint, sale.sale_id, now_us)
            self._audit(
                request, REPLACE if old is not None else CREATE, sale.sale_id, CREATED, now_us
            )
        return _created(sale), StockBook(sale, token_key=self.journal.token_key)

    def _replay(
        self,
        book: StockBook,
        command: CreateSale,
        request: AdminRequest,
        known: tuple[str, int],
        now_us: int,
    ) -> AdminAnswer:
        fingerprint, sale_id = known
        if fingerprint != command.fingerprint:
            refusal = Refusal(*IDEMPOTENCY_KEY_REUSED, {"saleId": sale_id})
            return self._refuse(refusal, request, sale_id, now_us)
        sale = journal_sales.sale_as_created(self.journal.db, sale_id)
        if sale is None:  # a key names a sale of its journal
            raise RuntimeError(f"idempotency key of unknown sale {sale_id}")
        with self.journal.transaction():
            self._audit(request, CREATE, sale_id, CREATED, now_us, replayed=True)
        return _created(sale, replayed=True)

    # -- a change of the current sale ----------------------------------------------------
    def _change(
        self, book: StockBook, command: ChangeSale, request: AdminRequest, now_us: int
    ) -> AdminAnswer:
        current = book.sale
        refusal = refuse_other_sale(command.sale_id, current.sale_id)
        result = refusal or apply_change(
            current, command.change, if_match=command.if_match, now_us=now_us
        )
        if isinstance(result, Refusal):
            return self._refuse(result, request, command.sale_id, now_us)
        action = command.change.action
        with self.journal.transaction():
            if result is not None:
                journal_sales.record_change(self.journal.db, result, action, now_us)
            self._audit(request, action, current.sale_id, DONE, now_us)
        if result is not None:
            book.change(result)
        return AdminAnswer(DONE, sale=book.sale, sold=book.sold_by_sku(), at_us=now_us)

    # -- refusals ---------------------------------------------------------------------------
    def _refused_elsewhere(
        self, command: RecordRefusal, request: AdminRequest, now_us: int
    ) -> AdminAnswer:
        """A worker refused it (a 400, a wrong token): only the trail learns of it."""
        refusal = Refusal(command.status, command.problem, {})
        return self._refuse(refusal, request, command.sale_id, now_us)

    def _refuse(
        self, refusal: Refusal, request: AdminRequest, sale_id: int | None, now_us: int
    ) -> AdminAnswer:
        with self.journal.transaction():
            self._audit(request, REFUSED, sale_id, refusal.status, now_us, problem=refusal.problem)
        return AdminAnswer(refusal.status, refusal.problem, refusal.extensions, at_us=now_us)

    def _audit(
        self,
        request: AdminRequest,
        action: str,
        sale_id: int | None,
        status: int,
        now_us: int,
        *,
        problem: str | None = None,
        replayed: bool = False,
    ) -> None:
        entry = AuditEntry(
            seq=0,
            at_us=now_us,
            action=action,
            attempted=attempted_action(request.command),
            sale_id=sale_id,
            status=status,
            problem=problem,
            replayed=replayed,
            context=request.context,
        )
        journal_sales.append_audit(self.journal.db, entry)


def _created(sale: SaleRecord, *, replayed: bool = False) -> AdminAnswer:
    """A new sale's answer: the sale as created, at its creation (the same on a replay)."""
    return AdminAnswer(CREATED, sale=sale, at_us=sale.created_at_us, replayed=replayed)
