"""What a Redis must promise before the redis engine sells on it, checked at start.

A sale is confirmed once Redis has answered its batch. With `appendonly yes`
and `appendfsync always`, Redis writes the batch to its append-only file and
fsyncs it before it answers, so a confirmed sale survives Redis's own crash or
a power cut of its machine. Anything weaker can lose the last second of sales
(`everysec`) or everything since the last snapshot (no AOF): the server then
refuses to start, unless FLASHSALE_REDIS_DURABILITY=accept-weaker says the
operator knows, and health says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import RedisClusterException, RedisError, ResponseError

from flashsale.redis_engine.store import RedisStore

PROMISED = ("yes", "always")


@dataclass(frozen=True)
class Durability:
    """What the Redis at start-up promised; `weaker` names what it lacks, or is None."""

    appendonly: str
    appendfsync: str
    weaker: str | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "appendonly": self.appendonly,
            "appendfsync": self.appendfsync,
            "weaker": self.weaker,
        }


class NotDurable(Exception):
    """One line for the operator: which setting of which Redis, or why it is unknown."""


def check_durability(store: RedisStore, *, accept_weaker: bool) -> Durability:
    """Raises NotDurable unless Redis fsyncs every write before it answers (or
    `accept_weaker`); raises NotDurable also when Redis cannot be reached."""
    try:
        store.ping()
    except (RedisError, RedisClusterException) as exc:
        raise NotDurable(f"cannot reach Redis at {store.url}: {exc}") from None
    try:
        appendonly, appendfsync = store.durability()
    except ResponseError as exc:  # CONFIG renamed or refused (a managed Redis)
        appendonly = appendfsync = "unknown"
        why = f"CONFIG GET is refused ({exc}), so its durability is unknown"
    else:
        lacking = _lacking(appendonly, appendfsync)
        if lacking is None:
            return Durability(appendonly, appendfsync, None)
        why = lacking
    if not accept_weaker:
        raise NotDurable(
            f"Redis at {store.url}: {why}; confirmed sales could be lost. Set appendonly yes "
            "and appendfsync always, or FLASHSALE_REDIS_DURABILITY=accept-weaker"
        )
    return Durability(appendonly, appendfsync, why)


def _lacking(appendonly: str, appendfsync: str) -> str | None:
    if appendonly != "yes":
        return f"appendonly is {appendonly!r}, not 'yes'"
    if appendfsync != "always":
        return f"appendfsync is {appendfsync!r}, not 'always'"
    return None
