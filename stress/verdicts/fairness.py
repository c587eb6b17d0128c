"""How far the granted order departs from the arrival order.

The client knows two moments per request: its send time (taken just before the
request is handed to `requests`), and a moment by which the request had
certainly reached the server's socket: the time its bytes were written, or
failing that its answer time. On a saturated client the two can be seconds
apart, because a thread may wait for the GIL between them. So:

- pass/fail counts only *certain* unfairness beyond a tolerance:
  - a shopper told "sold out" whose request had certainly arrived more than
    the tolerance before a winner's request was even sent;
  - a winner granted a later position than another winner whose request was
    sent more than the tolerance after the first one had certainly arrived.
- The reported figures are by send time: the inversions among winners, the
  latest winner's arrival rank, and the worst overtake.

In a sale of several products positions run over the whole sale, so winners are
compared across products; a loser is overtaken only by a winner of the product
it asked for (another product's winner took nothing it could have had).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from stress.records import Record


@dataclass(frozen=True, slots=True)
class Entry:
    """A request that decided a shopper's outcome."""

    send_ns: int
    arrived_by_ns: int


@dataclass(frozen=True, slots=True)
class FairnessFigures:
    winners: int
    inversions: int  # winner pairs whose positions reverse their send order
    inversion_ratio: float | None  # inversions / pairs: 0 = arrival order, 0.5 = random
    latest_winner_rank: int | None  # rank of the latest winner's send among all senders
    senders: int
    losers: int  # told "sold out" and holding no order
    worst_send_overtake_ms: float | None  # latest winner send - earliest loser send
    unfair_winner_pairs: int  # certain reversals beyond the tolerance
    overtaken_losers: int  # losers certainly overtaken beyond the tolerance
    overtaken_pairs: int
    tolerance_ms: float

    @property
    def unfair_pairs(self) -> int:
        return self.unfair_winner_pairs + self.overtaken_pairs

    def summary(self) -> str:
        ratio = "n/a" if self.inversion_ratio is None else f"{self.inversion_ratio:.3f}"
        worst = (
            "none"
            if self.worst_send_overtake_ms is None
            else (f"{self.worst_send_overtake_ms:.1f} ms")
        )
        return (
            f"{self.unfair_pairs} certainly unfair pairs ({self.unfair_winner_pairs} among "
            f"winners, {self.overtaken_losers} of {self.losers} losers overtaken); by send time: "
            f"{self.winners} winners with {self.inversions} inversions (ratio {ratio}), "
            f"latest winner sent #{self.latest_winner_rank} of {self.senders}, "
            f"worst overtake {worst}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unfair_pairs": self.unfair_pairs}


def fairness_figures(
    by_user: dict[str, list[Record]],
    position: dict[str, int],
    won_by: dict[str, Entry],
    winner_users: set[str],
    tolerance_ms: float,
    product_of_order: Mapping[str, str | None] | None = None,
    product_of_user: Mapping[str, str | None] | None = None,
) -> FairnessFigures:
    """`won_by`: order id -> the request that won it; `position`: order id -> position;
    with `product_of_order` and `product_of_user` (several products), a loser is
    compared with the winners of its own product only."""
    tolerance_ns = int(tolerance_ms * 1e6)
    ranked = sorted((position[oid], entry) for oid, entry in won_by.items() if oid in position)
    in_position_order = [entry for _, entry in ranked]
    sends = [entry.send_ns for entry in in_position_order]
    inversions = count_pairs(sends, sends, 0)
    # Granted earlier (i) although sent after j had certainly arrived, beyond the tolerance.
    unfair_winner_pairs = count_pairs(
        sends, [entry.arrived_by_ns for entry in in_position_order], tolerance_ns
    )
    pairs = len(ranked) * (len(ranked) - 1) // 2

    arrivals = sorted(attempts[0].send_ns for attempts in by_user.values() if attempts)
    winner_sends = sorted(entry.send_ns for entry in won_by.values())
    latest_rank = bisect_right(arrivals, winner_sends[-1]) if winner_sends else None

    losers: list[Record] = []
    for user, attempts in by_user.items():
        if user in winner_users:
            continue
        told_sold_out = [r for r in attempts if r.status == "sold_out"]
        if told_sold_out:
            losers.append(min(told_sold_out, key=lambda r: r.send_ns))
    rivals = _winner_sends_by_product(won_by, product_of_order)
    overtaken_pairs = 0
    overtaken_losers = 0
    for loser in losers:
        product = None if product_of_user is None else product_of_user.get(loser.user)
        sends_of_rivals = winner_sends if product_of_order is None else rivals.get(product, [])
        later = len(sends_of_rivals) - bisect_right(
            sends_of_rivals, loser.arrived_by_ns + tolerance_ns
        )
        overtaken_pairs += later
        overtaken_losers += later > 0
    worst = None
    if losers and winner_sends:
        earliest_loser = min(loser.send_ns for loser in losers)
        if winner_sends[-1] > earliest_loser:
            worst = round((winner_sends[-1] - earliest_loser) / 1e6, 2)

    return FairnessFigures(
        winners=len(won_by),
        inversions=inversions,
        inversion_ratio=round(inversions / pairs, 4) if pairs else None,
        latest_winner_rank=latest_rank,
        senders=len(arrivals),
        losers=len(losers),
        worst_send_overtake_ms=worst,
        unfair_winner_pairs=unfair_winner_pairs,
        overtaken_losers=overtaken_losers,
        overtaken_pairs=overtaken_pairs,
        tolerance_ms=tolerance_ms,
    )


def _winner_sends_by_product(
    won_by: dict[str, Entry], product_of_order: Mapping[str, str | None] | None
) -> dict[str | None, list[int]]:
    """Send times of the winners of each product, ascending ({} for one product)."""
    if product_of_order is None:
        return {}
    sends: dict[str | None, list[int]] = defaultdict(list)
    for order_id, entry in won_by.items():
        sends[product_of_order.get(order_id)].append(entry.send_ns)
    return {product: sorted(times) for product, times in sends.items()}


def count_pairs(first: list[int], second: list[int], margin: int) -> int:
    """Pairs i < j with first[i] > second[j] + margin, in O(n log n) (Fenwick tree)."""
    ordered = sorted(first)
    tree = [0] * (len(ordered) + 1)
    total = 0
    for inserted, (value, probe) in enumerate(zip(first, second, strict=True)):
        # earlier firsts above probe + margin = inserted - (those <= probe + margin)
        i = bisect_right(ordered, probe + margin)
        at_most = 0
        while i > 0:
            at_most += tree[i]
            i -= i & -i
        total += inserted - at_most
        i = bisect_left(ordered, value) + 1
        while i <= len(ordered):
            tree[i] += 1
            i += i & -i
    return total


def count_inversions(values: list[int], margin: int) -> int:
    """Pairs i < j with values[i] > values[j] + margin."""
    return count_pairs(values, values, margin)
