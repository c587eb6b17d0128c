"""A sale's lifecycle: its derived state, and the rules by which the operator's commands
change it (or are refused). Pure logic, no I/O.

Stored per sale (flashsale.records.Lifecycle): a phase (active, paused, ended;
ended is final), a version (+1 on every change) and the instants of its pause
and end; its `endsAt` may be moved. Derived, at an instant: `ended` (phase
ended, or past endsAt) > `paused` > `scheduled` (before startsAt) >
`sold_out` > `open`. Shoppers call `scheduled` `upcoming`.

The SQLite allocator decides with these functions (flashsale.allocator.admin); the
Redis engine decides the same rules inside Redis (redis_engine/library.lua), and
the integration tests run both. A refusal names its problem type by slug and
HTTP code (the API's registry, flashsale.api.problems, holds them; a unit test
checks they agree) with the data its answer shows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from flashsale.records import Lifecycle, Phase, SaleRecord

UPCOMING, OPEN, PAUSED, SOLD_OUT, ENDED = "upcoming", "open", "paused", "sold_out", "ended"
# The admin resource's word for a sale that has not started.
SCHEDULED = "scheduled"


def sale_state(
    phase: Phase,
    starts_at_us: int | None,
    ends_at_us: int | None,
    remaining: int,
    now_us: int,
) -> str:
    """The state a shopper sees (`upcoming` for the admin's `scheduled`)."""
    if phase is Phase.ENDED or (ends_at_us is not None and now_us >= ends_at_us):
        return ENDED
    if phase is Phase.PAUSED:
        return PAUSED
    if starts_at_us is not None and now_us < starts_at_us:
        return UPCOMING
    if remaining <= 0:
        return SOLD_OUT
    return OPEN


def admin_state(shopper_state: str) -> str:
    return SCHEDULED if shopper_state == UPCOMING else shopper_state


def has_ended(sale: SaleRecord, now_us: int) -> bool:
    ends = sale.terms.ends_at_us
    return sale.lifecycle.phase is Phase.ENDED or (ends is not None and now_us >= ends)


class Refusal(NamedTuple):
    """A command refused: nothing changed. `problem` is a slug of flashsale.api.problems."""

    status: int
    problem: str
    extensions: dict[str, Any]


# The refusals the engines decide, by slug: (HTTP code, slug).
SALE_IN_PROGRESS = (409, "sale-in-progress")
PRECONDITION_FAILED = (412, "precondition-failed")
IDEMPOTENCY_KEY_REUSED = (422, "idempotency-key-reused")
SALE_NOT_CURRENT = (409, "sale-not-current")
SALE_ALREADY_ENDED = (409, "sale-already-ended")
NO_SUCH_SALE = (404, "not-found")
INVALID_CHANGE = (400, "invalid-sale")
ENGINE_REFUSALS = (
    SALE_IN_PROGRESS,
    PRECONDITION_FAILED,
    IDEMPOTENCY_KEY_REUSED,
    SALE_NOT_CURRENT,
    SALE_ALREADY_ENDED,
    NO_SUCH_SALE,
    INVALID_CHANGE,
)


def _refused(kind: tuple[int, str], **extensions: Any) -> Refusal:
    return Refusal(kind[0], kind[1], extensions)


def if_match_holds(tags: tuple[str, ...] | None, sale: SaleRecord) -> bool:
    """RFC 9110's If-Match against the sale's ETag (strong comparison; `*`: any)."""
    return tags is None or "*" in tags or sale.etag in tags


def refuse_creation(
    current: SaleRecord | None,
    remaining: int,
    *,
    replaces: int | None,
    if_match: tuple[str, ...] | None,
    now_us: int,
) -> Refusal | None:
    """Why a new sale may not be made now, or None (then a current sale still in
    progress is ended by it: `replaced`)."""
    if current is None:
        return None
    stale = (replaces is not None and replaces != current.sale_id) or not if_match_holds(
        if_match, current
    )
    if stale:
        return _refused(PRECONDITION_FAILED, saleId=current.sale_id, etag=current.etag)
    if replaces is None and if_match is None and not has_ended(current, now_us):
        state = admin_state(_state_of(current, remaining, now_us))
        return _refused(SALE_IN_PROGRESS, saleId=current.sale_id, state=state, etag=current.etag)
    return None


def replaced(current: SaleRecord, now_us: int) -> SaleRecord | None:
    """The current sale ended by a new one; None when it had ended already."""
    if has_ended(current, now_us):
        return None
    return _end(current, now_us)


class Change(NamedTuple):
    """What a PATCH asks: `state` paused/open/ended, or a new `endsAt`."""

    action: str  # pause, resume, end, set_end
    ends_at_us: int | None = None  # set_end's (None: no end)


PAUSE, RESUME, END, SET_END = "pause", "resume", "end", "set_end"


def refuse_other_sale(sale_id: int, current_id: int) -> Refusal | None:
    """Only the current sale changes: an earlier one is refused, an unknown one is not
    found (sale ids are given in order, from 1)."""
    if not 1 <= sale_id <= current_id:
        return _refused(NO_SUCH_SALE, saleId=sale_id)
    if sale_id != current_id:
        return _refused(SALE_NOT_CURRENT, saleId=sale_id, currentSaleId=current_id)
    return None


def apply_change(
    sale: SaleRecord, change: Change, *, if_match: tuple[str, ...] | None, now_us: int
) -> Refusal | SaleRecord | None:
    """The current `sale` after `change` (version + 1), None when it asks for what
    already is (nothing is recorded), or why it is refused."""
    if not if_match_holds(if_match, sale):
        return _refused(PRECONDITION_FAILED, saleId=sale.sale_id, etag=sale.etag)
    lifecycle = sale.lifecycle
    if has_ended(sale, now_us):
        ended_at = lifecycle.ended_at_us or sale.terms.ends_at_us
        return _refused(SALE_ALREADY_ENDED, saleId=sale.sale_id, endedAtUs=ended_at)
    if change.action == PAUSE:
        if lifecycle.phase is Phase.PAUSED:
            return None
        return _changed(sale, replace(lifecycle, phase=Phase.PAUSED, paused_at_us=now_us))
    if change.action == RESUME:
        if lifecycle.phase is Phase.ACTIVE:
            return None
        return _changed(sale, replace(lifecycle, phase=Phase.ACTIVE, paused_at_us=None))
    if change.action == END:
        return _end(sale, now_us)
    ends = change.ends_at_us
    if ends is not None and ends <= now_us:
        return _refused(INVALID_CHANGE, field="endsAt", reason="past")
    starts = sale.terms.starts_at_us
    if ends is not None and starts is not None and ends <= starts:
        return _refused(INVALID_CHANGE, field="endsAt", reason="not_after_start")
    if ends == sale.terms.ends_at_us:
        return None
    return _changed(replace(sale, terms=replace(sale.terms, ends_at_us=ends)), lifecycle)


def _end(sale: SaleRecord, now_us: int) -> SaleRecord:
    """Ended now: final, and its endsAt brought forward to now if it was later."""
    ends = sale.terms.ends_at_us
    terms = (
        sale.terms
        if ends is not None and ends <= now_us
        else replace(sale.terms, ends_at_us=now_us)
    )
    lifecycle = replace(sale.lifecycle, phase=Phase.ENDED, ended_at_us=now_us, paused_at_us=None)
    return _changed(replace(sale, terms=terms), lifecycle)


def _changed(sale: SaleRecord, lifecycle: Lifecycle) -> SaleRecord:
    return replace(sale, lifecycle=replace(lifecycle, version=sale.lifecycle.version + 1))


def _state_of(sale: SaleRecord, remaining: int, now_us: int) -> str:
    terms = sale.terms
    return sale_state(sale.lifecycle.phase, terms.starts_at_us, terms.ends_at_us, remaining, now_us)
