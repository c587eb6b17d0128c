"""The webhook outbox of the Redis engine, as the sender reads it and records its progress.

The stream `TAG:outbox` is appended by library.lua's functions in the call that makes
each decision (outbox_add). An entry holds the event's type, order, sale, instant
(`at`, microseconds) and its data as JSON with times as integer microseconds under
keys ending in `Us`; `row_of` turns it into the payload the shop receives, the same
bytes on every delivery, with `evt_<stream id>` as its id.

Progress lives in Redis beside the stream (library.lua: flashsale_outbox_lease and
flashsale_outbox_record), so any host's sender can go on where another stopped:
one sender at a time holds `TAG:outbox:lease` (SET NX PX, renewed while it runs;
another host's takes it over once it lapses), and progress is written only by
the holder. A sender that lost the lease starts again from the durable progress
when it gets it back (what it had in flight is sent again: at least once).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import orjson
from redis.exceptions import RedisClusterException, RedisError, ResponseError

from flashsale.clock import iso_from_us
from flashsale.redis_engine.store import RedisStore
from flashsale.webhooks.events import EVENT_ID_PREFIX
from flashsale.webhooks.outbox import OutboxRow
from flashsale.webhooks.source import OutboxUnavailable

Entries = list[tuple[bytes, dict[bytes, bytes]]]  # XRANGE's answer (no decode_responses)

log = logging.getLogger("flashsale.webhooks")

# A sender silent this long (killed, stopped, cut off) loses the lease to another host's.
LEASE_MS = 5000
# Renewed this often, well inside the lease (every record renews it too).
RENEW_S = 1.0
ERROR_CHARS = 500
_SEQ_SHIFT = 64  # a stream id `ms-n` as one integer: ms << 64 | n (n is a 64-bit counter)
_N_MASK = (1 << _SEQ_SHIFT) - 1
# The payload's data fields in the order flashsale.webhooks.events writes them.
FIELD_ORDER = (
    "orderId",
    "saleId",
    "userId",
    "sku",
    "position",
    "place",
    "purchasedAt",
    "state",
    "expiresAt",
    "paymentRef",
)
INTEGER_FIELDS = frozenset({"saleId", "position", "place"})
TIME_SUFFIX = "Us"


def seq_of(stream_id: bytes | str) -> int:
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, n = text.partition("-")
    return int(ms) << _SEQ_SHIFT | int(n or 0)


def stream_id(seq: int) -> str:
    return f"{seq >> _SEQ_SHIFT}-{seq & _N_MASK}"


def event_data(stored: dict[str, Any]) -> dict[str, Any]:
    """The payload's `data` from the stored fields: `xxxUs` microseconds become `xxx` ISO
    instants (as events.py writes them), and the fields take events.py's order."""
    data: dict[str, Any] = {}
    for key, value in stored.items():
        if key.endswith(TIME_SUFFIX):
            data[key[: -len(TIME_SUFFIX)]] = iso_from_us(int(value))
        elif key in INTEGER_FIELDS:
            data[key] = int(value)
        else:
            data[key] = value
    ordered = {key: data.pop(key) for key in FIELD_ORDER if key in data}
    return ordered | dict(sorted(data.items()))


def row_of(entry_id: bytes | str, fields: dict[bytes, bytes]) -> OutboxRow:
    kind = fields[b"type"].decode()
    at_us = int(fields[b"at"])
    stored = orjson.loads(fields[b"data"])
    data = event_data(stored)
    payload = orjson.dumps({"type": kind, "timestamp": iso_from_us(at_us), "data": data})
    seq = seq_of(entry_id)
    return OutboxRow(
        seq,
        EVENT_ID_PREFIX + stream_id(seq),
        kind,
        fields[b"order"].decode() or None,
        int(fields[b"sale"]),
        at_us,
        payload.decode(),
    )


class RedisOutboxSource:
    """The sender's reads of the stream (flashsale.webhooks.source.OutboxSource)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._key = f"{store.key_tag}:outbox"

    def after(self, seq: int, limit: int) -> list[OutboxRow]:
        with _unavailable(self._store):
            entries = self._range(seq, limit)
        return [row_of(entry_id, fields) for entry_id, fields in entries]

    def _range(self, seq: int, limit: int) -> Entries:
        found = self._store.client.xrange(self._key, f"({stream_id(seq)}", "+", count=limit)
        return cast(Entries, found or [])

    def backlog_after(self, seq: int, loaded: int) -> tuple[int, int | None]:
        """Every event not finished (added to the stream, less those finished: O(1)),
        and the instant of the first one after `seq` or the durable position."""
        client = self._store.client
        with _unavailable(self._store):
            pipe = client.pipeline(transaction=False)
            pipe.get(f"{self._key}:finished_count")
            pipe.get(f"{self._key}:through")
            finished, through = pipe.execute()
            try:
                added = int(client.xinfo_stream(self._key)["entries-added"])
            except ResponseError:  # no stream yet: nothing was ever added
                return 0, None
            first = self._range(max(seq, seq_of(through) if through else 0), 1)
        oldest = int(first[0][1][b"at"]) if first else None
        return max(added - int(finished or 0), loaded, 0), oldest

    def prune(self, through_seq: int, before_us: int) -> None:
        """Trim the stream of finished events older than `before_us` (XTRIM MINID)."""
        keep_from = min(through_seq + 1, (before_us // 1000) << _SEQ_SHIFT)
        if keep_from > 1:
            with _unavailable(self._store):
                self._store.client.xtrim(self._key, minid=stream_id(keep_from), approximate=False)

    def close(self) -> None:
        pass  # the store is the progress's too, which closes it


class RedisProgress:
    """The sender's progress in Redis (flashsale.webhooks.source.SenderProgress), kept
    only while this sender holds the lease."""

    def __init__(self, store: RedisStore, host_id: str | None = None) -> None:
        self._store = store
        self._key = f"{store.key_tag}:outbox"
        self.host_id = host_id or new_host_id()
        self.through_seq = 0
        self._finished: set[int] = set()
        self._retries: dict[int, tuple[int, int]] = {}
        self._term = 0
        self._leading = False
        self._renewed_at_s = float("-inf")

    @property
    def term(self) -> int:
        return self._term

    def leading(self) -> bool:
        now_s = time.monotonic()
        if self._leading and now_s - self._renewed_at_s < RENEW_S:
            return True
        try:
            held = int(self._store.call("flashsale_outbox_lease", self.host_id, LEASE_MS)) == 1
            if held and not self._leading:
                self._load()
                self._term += 1
                log.info("webhook sender %s leads, after event %s", self.host_id, self._through)
        except (RedisError, RedisClusterException) as exc:
            if self._leading:
                log.warning("webhook sender %s: Redis does not answer: %s", self.host_id, exc)
            held = False
        self._leading, self._renewed_at_s = held, now_s
        return held

    @property
    def _through(self) -> str:
        return stream_id(self.through_seq)

    def _load(self) -> None:
        pipe = self._store.client.pipeline(transaction=False)
        pipe.get(f"{self._key}:through")
        pipe.smembers(f"{self._key}:finished")
        pipe.hgetall(f"{self._key}:retrying")
        through, finished, retrying = pipe.execute()
        self.through_seq = seq_of(through) if through else 0
        self._finished = {seq_of(member) for member in finished}
        self._retries = {}
        for member, value in retrying.items():
            attempts, next_at, _ = value.decode().split("\t", 2)
            self._retries[seq_of(member)] = (int(attempts), int(next_at))

    def is_finished(self, seq: int) -> bool:
        return seq <= self.through_seq or seq in self._finished

    def retries(self) -> dict[int, tuple[int, int]]:
        return dict(self._retries)

    def delivered(self, seq: int) -> None:
        self._record("delivered", seq)

    def failed(self, seq: int, attempts: int, next_at_us: int, error: str) -> None:
        self._record("failed", seq, attempts, next_at_us, error[:ERROR_CHARS])

    def gave_up(
        self,
        seq: int,
        event_id: str,
        kind: str,
        order_id: str | None,
        attempts: int,
        error: str,
        at_us: int,
    ) -> None:
        record = {
            "eventId": event_id,
            "type": kind,
            "orderId": order_id,
            "attempts": attempts,
            "lastError": error[:ERROR_CHARS],
            "gaveUpAtUs": at_us,
        }
        self._record("gave_up", seq, orjson.dumps(record).decode())

    def given_up_count(self) -> int:
        return int(self._store.client.hlen(f"{self._key}:given_up"))

    def _record(self, what: str, seq: int, *more: Any) -> None:
        """A Redis that fails or a lease lost: not leading any more; the next leader
        (maybe this sender again) goes on from what is durable."""
        try:
            through = self._store.call(
                "flashsale_outbox_record", self.host_id, LEASE_MS, what, stream_id(seq), *more
            )
        except (RedisError, RedisClusterException) as exc:
            log.warning("webhook sender %s: progress not recorded: %s", self.host_id, exc)
            self._leading = False
            return
        if through == 0:
            log.warning("webhook sender %s lost the lease to another host's", self.host_id)
            self._leading = False
            return
        self.through_seq = max(self.through_seq, seq_of(through))
        self._renewed_at_s = time.monotonic()

    def close(self) -> None:
        if self._leading:
            # If the lease is still this sender's, it goes now: another host's goes on.
            with contextlib.suppress(RedisError, RedisClusterException):
                self._store.call("flashsale_outbox_lease", self.host_id, 0)
        self._store.close()


def redis_outbox(store: RedisStore) -> Callable[[], tuple[RedisOutboxSource, RedisProgress]]:
    """What the sender opens in the Redis engine: the stream and the progress beside it."""
    return lambda: (RedisOutboxSource(store), RedisProgress(store))


def new_host_id() -> str:
    """This sender process, among every host's (a restarted one is another)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


@contextlib.contextmanager
def _unavailable(store: RedisStore) -> Iterator[None]:
    try:
        yield
    except (RedisError, RedisClusterException) as exc:
        raise OutboxUnavailable(f"Redis at {store.url} does not answer: {exc}") from None
