"""The verdict on an operator's pause (`flash --pause-at --resume-after`): pure
functions over the operator's calls, the audit trail, the server's orders and the
shoppers' records; no network.

Every instant compared is the server's: each order's `purchasedAt` (its decision
instant) from `GET /flash-sale/admin/sales/{id}/orders`, the pause and resume as
the audit trail recorded them, the pause's `pausedAt` as the PATCH answered. The
server writes milliseconds, truncated. The allocator takes a pause strictly after
every sale it decided before it and decides nothing until the resume, so an order
decided inside the window [pausedAt, resumedAt) can only show a millisecond
strictly between the two; an order in the pause's own millisecond was decided
before it, one in the resume's own millisecond after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stress.api import OUTCOME_PAUSED, iso_to_ms
from stress.records import AdminCall, Record
from stress.verdicts.check import Check, examples

PAUSE, RESUME, END = "pause", "resume", "end"
OK_STATUS = 200


@dataclass(frozen=True, slots=True)
class PauseWindow:
    """A paused span of the sale as the audit trail recorded it (ms since the epoch)."""

    paused_ms: int
    resumed_ms: int | None  # None: still paused at the end of the run
    closed_by: str = RESUME  # resume, or end (an ended sale decides nothing either)

    def holds(self, at_ms: int) -> bool:
        """An order at `at_ms` was certainly decided inside the window."""
        return self.paused_ms < at_ms and (self.resumed_ms is None or at_ms < self.resumed_ms)

    @property
    def span_s(self) -> float | None:
        if self.resumed_ms is None:
            return None
        return round((self.resumed_ms - self.paused_ms) / 1000, 3)


@dataclass
class PauseVerdict:
    checks: list[Check]
    warnings: list[str]
    figures: dict[str, Any] = field(default_factory=dict)


def paused_windows(entries: Sequence[dict[str, Any]], sale_id: str) -> list[PauseWindow]:
    """The sale's paused spans from its audit entries that succeeded, in `seq` order: a
    pause opens one (a pause of a paused sale changes nothing), a resume or an end
    closes it."""
    windows: list[PauseWindow] = []
    opened: int | None = None
    for entry in sorted(entries, key=lambda e: int(e.get("seq") or 0)):
        if str(entry.get("saleId")) != sale_id or entry.get("status") != OK_STATUS:
            continue
        at_ms = iso_to_ms(entry.get("at"))
        action = entry.get("action")
        if at_ms is None:
            continue
        if action == PAUSE and opened is None:
            opened = at_ms
        elif action in (RESUME, END) and opened is not None:
            windows.append(PauseWindow(opened, at_ms, str(action)))
            opened = None
    if opened is not None:
        windows.append(PauseWindow(opened, None))
    return windows


def judge_pause(
    calls: Sequence[AdminCall],
    entries: Sequence[dict[str, Any]],
    orders: Sequence[dict[str, Any]],
    records: Sequence[Record],
    sale_id: str,
    sold_after: int | None,
) -> PauseVerdict:
    """The pause's checks, warnings and figures (`sold_after`: the final status's sold)."""
    purchases = [r for r in records if r.kind == "purchase"]
    windows = paused_windows(entries, sale_id)
    pause = next((c for c in calls if c.action == PAUSE), None)
    window = _operators_window(pause, windows)
    checks = [
        _check_calls(calls),
        _check_recorded(pause, window, windows),
        _check_none_inside(orders, windows),
        _check_paused_answers(purchases),
        _check_nothing_lost(purchases, orders, sold_after),
    ]
    paused = [r for r in purchases if r.status == OUTCOME_PAUSED]
    warnings = []
    if window is not None and not paused:
        warnings.append(
            "no shopper met the pause (none was buying while it held): the paused window "
            "was not put to the test; pause earlier or spread the arrivals (ramp, soak)"
        )
    figures = pause_figures(calls, windows, window, orders, paused)
    return PauseVerdict(checks, warnings, figures)


def _operators_window(
    pause: AdminCall | None, windows: Sequence[PauseWindow]
) -> PauseWindow | None:
    """The window the operator's pause opened: the one starting at its answer's
    `pausedAt`; else the first (a pause answered without it)."""
    answered_ms = iso_to_ms(pause.paused_at) if pause is not None else None
    for window in windows:
        if window.paused_ms == answered_ms:
            return window
    return windows[0] if windows else None


def _check_calls(calls: Sequence[AdminCall]) -> Check:
    by_action = {call.action: call for call in calls}
    pause, resume = by_action.get(PAUSE), by_action.get(RESUME)
    problems = []
    if pause is None:
        problems.append("no pause was made")
    elif pause.http != OK_STATUS or pause.state != "paused" or pause.paused_at is None:
        problems.append(f"pause answered {pause.http} {pause.state} ({pause.error or 'no error'})")
    if resume is None:
        problems.append("no resume was made")
    elif resume.http != OK_STATUS or resume.state in (None, "paused", "ended"):
        problems.append(
            f"resume answered {resume.http} {resume.state} ({resume.error or 'no error'})"
        )
    detail = "; ".join(problems) or (
        f"pause 200 (pausedAt {pause.paused_at if pause else '-'}), "
        f"resume 200 ({resume.state if resume else '-'})"
    )
    return Check("the operator paused and resumed the sale (PATCH 200)", not problems, detail)


def _check_recorded(
    pause: AdminCall | None, window: PauseWindow | None, windows: Sequence[PauseWindow]
) -> Check:
    name = "the audit trail records the pause as answered, and its resume"
    if window is None:
        return Check(name, False, "no pause of this sale in the audit trail")
    answered = iso_to_ms(pause.paused_at) if pause is not None else None
    problems = []
    if answered != window.paused_ms:
        problems.append(f"the PATCH answered pausedAt {pause.paused_at if pause else None}")
    if window.resumed_ms is None:
        problems.append("no resume after it")
    return Check(
        name,
        not problems,
        f"paused {_iso(window.paused_ms)}, {window.closed_by} {_iso(window.resumed_ms)} "
        f"({window.span_s} s); {len(windows)} paused window(s) of the sale"
        + ("; " + "; ".join(problems) if problems else ""),
    )


def _check_none_inside(orders: Sequence[dict[str, Any]], windows: Sequence[PauseWindow]) -> Check:
    name = "no purchase confirmed inside the paused window (server's purchasedAt)"
    if not windows:
        return Check(name, False, "no paused window recorded: nothing to compare")
    inside, edges, unknown = [], 0, []
    for order in orders:
        at_ms = iso_to_ms(order.get("purchasedAt"))
        if at_ms is None:
            unknown.append(str(order.get("orderId")))
            continue
        if any(window.holds(at_ms) for window in windows):
            inside.append(f"{order.get('orderId')} at {order.get('purchasedAt')}")
        elif any(at_ms in (w.paused_ms, w.resumed_ms) for w in windows):
            edges += 1
    detail = (
        f"{len(inside)} of {len(orders)} orders decided inside "
        + ", ".join(f"[{_iso(w.paused_ms)}, {_iso(w.resumed_ms)})" for w in windows)
        + f"; {edges} in the pause's or the resume's own millisecond (outside it)"
        + (f"; {len(unknown)} orders without purchasedAt" + examples(unknown) if unknown else "")
        + examples(inside)
    )
    return Check(name, not inside and not unknown, detail)


def _check_paused_answers(purchases: Sequence[Record]) -> Check:
    paused = [r for r in purchases if r.status == OUTCOME_PAUSED]
    wrong = [r for r in paused if r.http != 503 or r.retry_after_s is None]
    return Check(
        "paused answers are 503 with Retry-After",
        not wrong,
        f"{len(paused)} paused answers, {len(wrong)} without 503 and Retry-After"
        + examples(f"{r.user}: {r.http} retry-after {r.retry_after_s}" for r in wrong),
    )


def _check_nothing_lost(
    purchases: Sequence[Record], orders: Sequence[dict[str, Any]], sold_after: int | None
) -> Check:
    """Every 201 is an order of the server's list, of the same buyer, and every order
    of the list was answered to its buyer (a 201, or a 409 naming it), unless the
    buyer's answer was lost (no answer, 202 pending, a 5xx other than paused): the
    look-ups settle those, as the main verdict's look-up check does."""
    server = {str(order.get("orderId")): str(order.get("userId")) for order in orders}
    confirmed = {r.order_id: r.user for r in purchases if r.http == 201 and r.order_id}
    named = {r.order_id for r in purchases if r.http == 409 and r.order_id}
    uncertain = {
        r.user
        for r in purchases
        if r.http in (0, 202) or (r.http >= 500 and r.status != OUTCOME_PAUSED)
    }
    missing = [f"{user}: {oid}" for oid, user in confirmed.items() if oid not in server]
    other_buyer = [
        f"{oid}: 201 to {user}, listed for {server[oid]}"
        for oid, user in confirmed.items()
        if oid in server and server[oid] != user
    ]
    unanswered = [oid for oid in server if oid not in confirmed and oid not in named]
    told_otherwise = [oid for oid in unanswered if server[oid] not in uncertain]
    counted = sold_after is None or sold_after == len(server)
    detail = (
        f"{len(confirmed)} 201s, {len(server)} orders listed by the server"
        + ("" if sold_after is None else f", status sold {sold_after}")
        + f"; {len(missing)} 201s missing from the list, {len(other_buyer)} of another buyer, "
        f"{len(told_otherwise)} orders whose buyer was told otherwise, "
        f"{len(unanswered) - len(told_otherwise)} settled by the look-ups"
        + examples(missing + other_buyer + told_otherwise)
    )
    ok = not missing and not other_buyer and not told_otherwise and counted
    name = "nothing lost: every 201 is a listed order and every order was answered"
    return Check(name, ok, detail)


def pause_figures(
    calls: Sequence[AdminCall],
    windows: Sequence[PauseWindow],
    window: PauseWindow | None,
    orders: Sequence[dict[str, Any]],
    paused: Sequence[Record],
) -> dict[str, Any]:
    """The pause as recorded, the paused answers and the confirmations either side."""
    times = [t for t in (iso_to_ms(o.get("purchasedAt")) for o in orders) if t is not None]
    before = after = 0
    first_after: int | None = None
    if window is not None:
        before = sum(1 for t in times if t <= window.paused_ms)
        if window.resumed_ms is not None:
            later = [t for t in times if t >= window.resumed_ms]
            after = len(later)
            first_after = min(later, default=None)
    resumed = None if window is None else window.resumed_ms
    return {
        "pausedAt": None if window is None else _iso(window.paused_ms),
        "resumedAt": _iso(resumed),
        "pausedAtMs": None if window is None else window.paused_ms,
        "resumedAtMs": resumed,
        "recordedPauseS": None if window is None else window.span_s,
        "windows": len(windows),
        "pausedAnswers": len(paused),
        "pausedShoppers": len({r.user for r in paused}),
        "serverOrders": len(orders),
        "confirmedBeforePause": before,
        "confirmedAfterResume": after,
        "firstConfirmationAfterResumeMs": (
            None if first_after is None or resumed is None else first_after - resumed
        ),
        "calls": [call.to_dict() for call in calls],
    }


def _iso(at_ms: int | None) -> str | None:
    if at_ms is None:
        return None
    moment = datetime.fromtimestamp(at_ms // 1000, UTC).replace(microsecond=at_ms % 1000 * 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
