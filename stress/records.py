"""What the client records: a `Record` per request a simulated shopper sent and a
`PageRecord` per open page. Both cross the process boundary as plain tuples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

# Outcome names used in figures and charts: the JSON `status` of an answer when it
# has one, else `http_<code>`, else `error` for a request that got no answer.
OUTCOME_ERROR = "error"
# A purchase lost with a kept-alive connection the server had just closed (idle
# keep-alive timeout), sent again at once on a new connection, as browsers do.
OUTCOME_RESENT = "resent"
# A record as it crosses a process boundary: its fields in order.
Row = tuple[Any, ...]


@dataclass(slots=True)
class Record:
    """One request a simulated shopper sent, and what came back.

    Times are wall-clock nanoseconds (`time.time_ns()`) so that records from
    different client processes on the same host share one time axis; latency is
    measured with the monotonic clock.
    """

    user: str
    kind: str  # "purchase" | "status" | "lookup"
    attempt: int
    send_ns: int
    latency_ns: int
    http: int  # 0 when no answer came back
    status: str  # the answer's `outcome` (a purchase's) or `state` (a status read), "" when none
    position: int | None = None
    order_id: str | None = None
    sale_id: str | None = None
    retry_after_s: float | None = None
    error: str = ""
    written_ns: int = 0  # wall clock once the request's bytes were written; 0 if unknown
    # jwt mode: the other shopper's id a bot's body named (the server must answer 403);
    # "" when the request claimed the shopper's own id or none.
    claimed_as: str = ""
    # The product the body asked for ("" for none: a sale of one product), and the
    # one the answer named (a 201's, a 409's held order, a 410's; None when none).
    asked_sku: str = ""
    sku: str | None = None
    # Which of the run's hosts (`flash --url A --url B`) the request went to, by its
    # place on the command line; 0 with a single host.
    host: int = 0

    @property
    def answer_ns(self) -> int:
        return self.send_ns + self.latency_ns

    @property
    def arrived_by_ns(self) -> int:
        """A moment by which the request had certainly reached the server's socket."""
        return self.written_ns or self.answer_ns

    @property
    def outcome(self) -> str:
        if self.http == 0:
            return OUTCOME_RESENT if self.status == OUTCOME_RESENT else OUTCOME_ERROR
        return self.status or f"http_{self.http}"

    def to_row(self) -> Row:
        """Compact tuple for crossing a process boundary."""
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Record:
        return cls(*row)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class PageRecord:
    """One watcher's stream. Times are wall-clock ns (`time.time_ns()`), 0 if never."""

    page: int
    connect_ns: int = 0  # when the page asked for the stream
    http: int = 0  # the stream's answer; 0 when none came
    first_event_ns: int = 0
    first_state: str = ""
    events: int = 0  # status events received
    heartbeats: int = 0
    last_state: str = ""
    last_sold: int | None = None
    sold_out_ns: int = 0  # the first event that showed the sale sold out
    ended_ns: int = 0  # the server ended the stream before the run did
    retry_after_s: float | None = None
    error: str = ""

    @property
    def connected(self) -> bool:
        return self.http == 200 and self.first_event_ns > 0

    def to_row(self) -> Row:
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_row(cls, row: Row) -> PageRecord:
        return cls(*row)


@dataclass(slots=True)
class AdminCall:
    """One call the toolkit's operator made during the run (a PATCH pausing or
    resuming the sale), and what the server answered. Times are wall-clock ns."""

    action: str  # "pause" | "resume"
    planned_ns: int  # when the run meant to make it
    sent_ns: int = 0
    answered_ns: int = 0
    http: int = 0  # 0 when no answer came
    state: str | None = None  # the answer's sale state
    paused_at: str | None = None  # the answer's `pausedAt` (the server's pause instant)
    version: int | None = None  # the answer's lifecycle version
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
