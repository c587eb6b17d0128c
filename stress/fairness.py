"""How far the granted order departs from the arrival order.

Arrival is the client's send time (wall clock, same host as the server). Client
send times of requests leaving within a few milliseconds of each other say
little about which one the server read first, so the pass/fail figure only
counts *unfair pairs* separated by more than a tolerance:
- two winners whose positions are the reverse of their send times, and
- a shopper told "sold out" although a winner sent its request later.
Plain inversion counts and the latest winner's arrival rank are reported too.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass
from typing import Any

from stress.common import Record


@dataclass(frozen=True, slots=True)
class FairnessFigures:
    winners: int
    inversions: int  # winner pairs whose positions reverse their send order
    inversion_ratio: float | None  # inversions / pairs: 0 = arrival order, 0.5 = random
    significant_inversions: int  # ... reversed by more than the tolerance
    latest_winner_rank: int | None  # rank of the latest winner's send among all senders
    senders: int
    losers: int  # told "sold out" and holding no order
    overtaken_losers: int  # losers that a winner sent after (by more than the tolerance)
    overtaken_pairs: int
    worst_overtake_ms: float | None  # latest winner send - earliest loser send, if positive
    tolerance_ms: float

    @property
    def unfair_pairs(self) -> int:
        return self.significant_inversions + self.overtaken_pairs

    def summary(self) -> str:
        ratio = "n/a" if self.inversion_ratio is None else f"{self.inversion_ratio:.3f}"
        worst = "none" if self.worst_overtake_ms is None else f"{self.worst_overtake_ms:.1f} ms"
        return (
            f"{self.winners} winners: {self.inversions} inversions (ratio {ratio}), "
            f"{self.significant_inversions} beyond {self.tolerance_ms:g} ms; latest winner sent "
            f"#{self.latest_winner_rank} of {self.senders}; {self.overtaken_losers} of "
            f"{self.losers} losers overtaken beyond the tolerance; worst overtake {worst}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unfair_pairs": self.unfair_pairs}


def fairness_figures(
    by_user: dict[str, list[Record]],
    position: dict[str, int],
    won_at_ns: dict[str, int],
    winner_users: set[str],
    tolerance_ms: float,
) -> FairnessFigures:
    tolerance_ns = int(tolerance_ms * 1e6)
    ranked = sorted((position[oid], sent) for oid, sent in won_at_ns.items() if oid in position)
    sends_in_position_order = [sent for _, sent in ranked]
    inversions = count_inversions(sends_in_position_order, 0)
    significant = count_inversions(sends_in_position_order, tolerance_ns)
    pairs = len(ranked) * (len(ranked) - 1) // 2

    arrivals = sorted(attempts[0].send_ns for attempts in by_user.values() if attempts)
    winner_sends = sorted(won_at_ns.values())
    latest_rank = bisect_right(arrivals, winner_sends[-1]) if winner_sends else None

    loser_sends = []
    for user, attempts in by_user.items():
        if user in winner_users:
            continue
        told_sold_out = [r.send_ns for r in attempts if r.status == "sold_out"]
        if told_sold_out:
            loser_sends.append(min(told_sold_out))
    overtaken_pairs = 0
    overtaken_losers = 0
    for sent in loser_sends:
        later = len(winner_sends) - bisect_right(winner_sends, sent + tolerance_ns)
        overtaken_pairs += later
        overtaken_losers += later > 0
    worst = None
    if loser_sends and winner_sends and winner_sends[-1] > min(loser_sends):
        worst = (winner_sends[-1] - min(loser_sends)) / 1e6

    return FairnessFigures(
        winners=len(won_at_ns),
        inversions=inversions,
        inversion_ratio=round(inversions / pairs, 4) if pairs else None,
        significant_inversions=significant,
        latest_winner_rank=latest_rank,
        senders=len(arrivals),
        losers=len(loser_sends),
        overtaken_losers=overtaken_losers,
        overtaken_pairs=overtaken_pairs,
        worst_overtake_ms=None if worst is None else round(worst, 2),
        tolerance_ms=tolerance_ms,
    )


def count_inversions(values: list[int], margin: int) -> int:
    """Pairs i < j with values[i] > values[j] + margin, in O(n log n) (Fenwick tree)."""
    ordered = sorted(values)
    tree = [0] * (len(ordered) + 1)
    total = 0
    for inserted, value in enumerate(values):
        # earlier values greater than value + margin = inserted - (those <= value + margin)
        rank = bisect_right(ordered, value + margin)
        seen_at_most = 0
        i = rank
        while i > 0:
            seen_at_most += tree[i]
            i -= i & -i
        total += inserted - seen_at_most
        i = bisect_left(ordered, value) + 1
        while i <= len(ordered):
            tree[i] += 1
            i += i & -i
    return total
