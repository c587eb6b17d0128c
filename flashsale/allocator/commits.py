"""Group commits: decided sales wait here, in decision order, until the journal has them.

The loop decides into `next`; `advance` hands that group to the Committer
when it is free, and `complete` publishes and answers it once it is durable.
A refusal waits like a sale for the commit before it (a "sold out" must not
outlive the sales that sold out if the machine dies).

Pacing: under steady load a commit starts at most every COMMIT_INTERVAL_S,
so one fsync carries many sales (each fsync costs the machine about 0.2 ms of
CPU besides its wait); after a pause the first sale is committed at once.

A failed commit confirms nothing: its group and every group decided after it
(whose decisions counted its sales) are answered "unavailable", and the
owner of the stock book rebuilds it from the journal (`on_failure`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flashsale.allocator.committer import Committer
from flashsale.allocator.messages import FRAMED_REPLY, REPLY, Kind, checkout_unavailable
from flashsale.allocator.messages import frame as frame_of
from flashsale.allocator.peers import Peers, Replies
from flashsale.journal import Journal, Write
from flashsale.outcomes import Outcome
from flashsale.records import OrderRecord, order_id_for
from flashsale.webhooks.outbox import Outbox

# (live units, {place: (live, held, waiting, expired, cancelled)}, offers made) of a
# sale with holds.
# (state, tickets, serving, waiting, changes): flashsale.allocator.waiting_room.
QueueFigures = tuple[int, int, int, int, int]
HoldCounts = tuple[int, dict[int, tuple[int, int, int, int, int]], int]
_SOLD = (Outcome.CONFIRMED, Outcome.HELD)

COMMIT_INTERVAL_S = 0.002
# A group of this many sales is committed without waiting for the interval.
PACED_BATCH = 256


@dataclass
class CommitGroup:
    """Decided requests whose replies wait for one commit: its sales and all before them."""

    orders: list[OrderRecord] = field(default_factory=list)
    replies: Replies = field(default_factory=dict)
    # The other changes decided among them (holds, their ends, waitlists), each at its
    # index in `orders` (flashsale.journal.Write); none in a sale without holds.
    writes: list[Write] = field(default_factory=list)
    # A sale with holds: (live, {place: (live, held, ...)}, offers) after its last
    # decision, published once it is durable (units come back, so positions do not count).
    counts: HoldCounts | None = None
    # A sale with a waiting room: where its queue stands after the group's changes,
    # published once they are durable.
    queue: QueueFigures | None = None


class CommitPipeline:
    def __init__(
        self,
        journal: Journal,
        peers: Peers,
        *,
        on_durable: Callable[[CommitGroup], None],
        on_failure: Callable[[sqlite3.OperationalError], Callable[[str], bool]],
        outbox: Outbox | None = None,
    ) -> None:
        """`on_failure` rebuilds the book and returns whether an order id is in the journal.
        `outbox` (webhooks on): each commit appends its sales' events in its transaction."""
        self._committer = Committer(journal, outbox)
        self._peers = peers
        self._on_durable = on_durable
        self._on_failure = on_failure
        self.next = CommitGroup()  # decided, waiting for the committer
        self._in_flight: CommitGroup | None = None  # being made durable
        self._last_commit_s = 0.0
        self.done_fd = self._committer.done_fd  # readable when the commit in flight is over

    def wait_s(self, idle_s: float) -> float:
        """How long the loop may wait for requests before the next group is due."""
        if (self.next.orders or self.next.writes) and not self._committer.busy:
            return max(0.0, self._last_commit_s + COMMIT_INTERVAL_S - time.monotonic())
        return idle_s

    def advance(self, *, paced: bool = True) -> None:
        """Hand `next` to the committer if it is free; answer at once if it sold nothing."""
        group = self.next
        # Holds expired by the clock are written with nobody waiting for them.
        if self._committer.busy or not (group.replies or group.writes):
            return
        if not group.orders and not group.writes:
            self.next = CommitGroup()
            self._peers.send(group.replies)
            return
        now_s = time.monotonic()
        early = now_s < self._last_commit_s + COMMIT_INTERVAL_S
        if paced and early and len(group.orders) < PACED_BATCH:
            return  # the loop wakes up in time for it (wait_s)
        self._last_commit_s = now_s
        self._in_flight, self.next = group, CommitGroup()
        self._committer.start(group.orders, group.writes)

    def complete(self) -> None:
        """The commit in flight is over: publish and answer it, or refuse what it held."""
        failure = self._committer.finish()
        group, self._in_flight = self._in_flight, None
        assert group is not None
        if failure is None:
            self._on_durable(group)
            self._peers.send(group.replies)
            return
        undone, self.next = (group, self.next), CommitGroup()
        in_journal = self._on_failure(failure)
        for lost in undone:
            self._peers.send(
                {
                    peer: [_unless_durable(frame, in_journal) for frame in frames]
                    for peer, frames in lost.replies.items()
                }
            )

    def settle(self) -> None:
        """Make every decided sale durable and send every reply: before a new sale, and at exit."""
        while self._committer.busy or self.next.replies or self.next.writes:
            if self._committer.busy:
                self.complete()
            else:
                self.advance(paced=False)


def _unless_durable(frame: bytes, in_journal: Callable[[str], bool]) -> bytes:
    """A decision whose commit failed: kept if the journal has its sale anyway, else refused."""
    _, kind, outcome, _, _, seq, request_id, _, _ = FRAMED_REPLY.unpack_from(frame)
    if kind == Kind.CHECKOUT_ANSWER:  # what it decided is not durable: nothing was done
        return frame_of(checkout_unavailable(seq, request_id))
    if kind != Kind.DECISION:
        return frame
    if outcome in _SOLD and in_journal(order_id_for(request_id)):
        return frame
    return FRAMED_REPLY.pack(
        REPLY.size, Kind.DECISION, Outcome.UNAVAILABLE, 0, 0, seq, request_id, 0, 0
    )
