"""What the webhook sender reads from and records in, whichever engine made the events:
the journal's outbox table and a progress file of its own (SQLite), or the outbox
stream and its progress keys (Redis, flashsale.redis_engine.outbox).

A row's `seq` is its place in the outbox: the table's seq, or the stream id as one
integer (flashsale.redis_engine.outbox.seq_of); rows are read in seq order.
"""

from __future__ import annotations

from typing import Protocol

from flashsale.webhooks.outbox import OutboxRow


class OutboxUnavailable(Exception):
    """The outbox could not be read now (Redis does not answer): the sender tries again."""


class OutboxSource(Protocol):
    def after(self, seq: int, limit: int) -> list[OutboxRow]:
        """At most `limit` events after `seq`, in seq order."""
        ...

    def backlog_after(self, seq: int, loaded: int) -> tuple[int, int | None]:
        """Events not finished (`loaded` of them read and in the sender's hands, the rest
        after `seq`), and the `at_us` of the oldest event after `seq`."""
        ...

    def prune(self, through_seq: int, before_us: int) -> None:
        """Forget finished events (at or before `through_seq`) that happened before `before_us`."""
        ...

    def close(self) -> None: ...


class SenderProgress(Protocol):
    """The sender's durable progress. `through_seq`: every event up to it is finished."""

    through_seq: int

    def leading(self) -> bool:
        """Whether this sender may deliver now (one sender at a time across hosts);
        called every turn, cheap when nothing changed."""
        ...

    @property
    def term(self) -> int:
        """+1 each time this sender (again) starts leading: what it knew before is stale."""
        ...

    def is_finished(self, seq: int) -> bool: ...

    def retries(self) -> dict[int, tuple[int, int]]:
        """seq -> (attempts, next_at_us) of the events that failed before."""
        ...

    def delivered(self, seq: int) -> None: ...

    def failed(self, seq: int, attempts: int, next_at_us: int, error: str) -> None: ...

    def gave_up(
        self,
        seq: int,
        event_id: str,
        kind: str,
        order_id: str | None,
        attempts: int,
        error: str,
        at_us: int,
    ) -> None: ...

    def close(self) -> None: ...
