"""The sale in Redis (FLASHSALE_ENGINE=redis): one store every host's allocator decides on.

A thin, blocking client of the `flashsale` function library (library.lua), used
on threads only: by the allocator's decider thread and the workers' look-up
pool. Every key shares one hash tag (`{flashsale}`), so on a Redis Cluster
(`cluster`) all of them live on the node that owns its slot: the client
follows the cluster's redirects there, loads the library on every primary, and
asks that node (its "home") for PING and its durability. A library missing
from the server (a fresh server, a FUNCTION FLUSH) is loaded again and the
call retried once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, ResponseError
from redis.retry import Retry

from flashsale.catalogue import Product
from flashsale.errors import Unavailable
from flashsale.outcomes import Outcome
from flashsale.records import OrderRecord, SaleRecord, SaleTerms

LIBRARY = (Path(__file__).parent / "library.lua").read_text(encoding="utf-8")
NO_TIME = -1
WHOLE_SALE = b"#"  # the sold hash's field for the whole sale
# FCALL takes its arguments on Lua's stack; the allocator cuts larger batches.
MAX_BATCH = 512


@dataclass(frozen=True)
class BatchPurchase:
    """One purchase of a batch Redis decides (flashsale.api.validation's Purchase is what
    a shopper's body asks for)."""

    request_id: bytes
    user_id: str
    sku: str
    expired: bool


@dataclass(frozen=True)
class Decided:
    """What Redis decided for one purchase, and the order it names, if any."""

    outcome: Outcome
    order: OrderRecord | None


@dataclass(frozen=True)
class BatchResult:
    sale_id: int
    sold: dict[str, int]  # by sku, and "" for the whole sale
    decisions: list[Decided]


class RedisStore:
    def __init__(self, url: str, *, tag: str, timeout_s: float, cluster: bool = False) -> None:
        self.url = url
        # No retries of redis-py's own (its default makes 10): a failed call's
        # outcome is the allocator's to find out, by sending the batch again.
        options: dict[str, Any] = {
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
            "retry": Retry(NoBackoff(), 0),
        }
        self._options = options
        self._cluster: RedisCluster | None = None  # made at first use: it connects at once
        self._plain: redis.Redis | None = None if cluster else redis.Redis.from_url(url, **options)
        self._current = f"{{{tag}}}:current"
        self._tag = f"{{{tag}}}"

    @property
    def _client(self) -> redis.Redis | RedisCluster:
        if self._plain is not None:
            return self._plain
        if self._cluster is None:
            self._cluster = RedisCluster.from_url(self.url, **self._options)
        return self._cluster

    def close(self) -> None:
        for client in (self._plain, self._cluster):
            if client is not None:
                client.close()

    # -- the allocator's side -----------------------------------------------------------
    def load_library(self) -> None:
        self._client.function_load(LIBRARY, replace=True)

    def ping(self) -> None:
        client = self._client
        if isinstance(client, RedisCluster):
            client.ping(target_nodes=self._home(client))
        else:
            client.ping()

    def durability(self) -> tuple[str, str]:
        """(appendonly, appendfsync) as the server (the home node) says; raises
        ResponseError when CONFIG is not allowed (a managed Redis may rename it)."""
        client = self._client
        if isinstance(client, RedisCluster):
            found = client.config_get("append*", target_nodes=self._home(client))
        else:
            found = client.config_get("append*")
        return str(found.get("appendonly", "")), str(found.get("appendfsync", ""))

    def _home(self, cluster: RedisCluster) -> ClusterNode:
        """The cluster node that owns the tag's slot: every key of the engine is there."""
        node: ClusterNode = cluster.get_node_from_key(self._current)  # type: ignore[no-untyped-call]
        return node

    def first_sale(self, terms: SaleTerms) -> int:
        """The current sale's id, after creating the first one if the store has none."""
        sale_id, _ = self._call("flashsale_first_sale", *_sale_args(terms))
        return int(sale_id)

    def start_sale(self, terms: SaleTerms) -> SaleRecord:
        sale_id, created = self._call("flashsale_start_sale", *_sale_args(terms))
        return SaleRecord(int(sale_id), terms.stock, terms, int(created))

    def decide(
        self, purchases: Sequence[BatchPurchase], rate_limit: int, window_s: int
    ) -> BatchResult:
        """One FCALL for at most MAX_BATCH purchases: decided, durable (with appendfsync
        always) and answered. Raises a redis error when the outcome is unknown."""
        args: list[Any] = [rate_limit, window_s * 1000]
        for purchase in purchases:
            args += [purchase.request_id, purchase.user_id, purchase.sku, int(purchase.expired)]
        sale_id, sold, decisions = self._call("flashsale_decide", *args)
        sale = int(sale_id)
        return BatchResult(sale, _sold(sold), [_decided(sale, text) for text in decisions])

    def state(self) -> tuple[int | None, dict[str, int]]:
        """The current sale's id (None: none yet) and its sold counts."""
        sale_id, sold = self._call("flashsale_state", read_only=True)
        return (int(sale_id) if sale_id else None), _sold(sold)

    def sale(self, sale_id: int) -> SaleRecord:
        fields: dict[bytes, bytes] = self._client.hgetall(f"{self._tag}:sale:{sale_id}")  # type: ignore[assignment]
        catalogue = json.loads(fields[b"catalogue"])
        terms = SaleTerms(
            tuple(Product.from_spec(spec) for spec in catalogue),
            int(fields[b"limit"]),
            _instant(fields[b"starts"]),
            _instant(fields[b"ends"]),
        )
        return SaleRecord(sale_id, int(fields[b"stock"]), terms, int(fields[b"created"]))

    # -- look-ups (workers): a Redis that fails them is a 503, as a journal's would be ----
    def orders_of_user(self, sale_id: int, user_id: str) -> list[OrderRecord]:
        with _unavailable_if_failing(self.url):
            text = self._client.hget(f"{self._tag}:sale:{sale_id}:buyers", user_id)
        if text is None:
            return []
        return [_order(sale_id, line) for line in _raw(text).split(b"\n")]

    def orders_of_sale(self, sale_id: int) -> list[OrderRecord]:
        with _unavailable_if_failing(self.url):
            lines = self._client.lrange(f"{self._tag}:sale:{sale_id}:orders", 0, -1)
        return [_order(sale_id, _raw(line)) for line in lines]

    def sale_exists(self, sale_id: int) -> bool:
        with _unavailable_if_failing(self.url):
            return bool(self._client.exists(f"{self._tag}:sale:{sale_id}"))

    def orders_after(self, sale_id: int, position: int, limit: int) -> list[OrderRecord]:
        """At most `limit` orders of the sale after `position`, in position order: one
        LRANGE of the sale's orders list, never the whole list.

        flashsale_decide appends each order at the end of the list as it gives
        out the next position, 1, 2, 3... with none skipped, so the order of
        position p is at index p - 1, and those after `position` start at its index.
        """
        key = f"{self._tag}:sale:{sale_id}:orders"
        with _unavailable_if_failing(self.url):
            lines = self._client.lrange(key, position, position + limit - 1)
        return [_order(sale_id, _raw(line)) for line in lines]

    def _call(self, function: str, *args: Any, read_only: bool = False) -> Any:
        call = self._client.fcall_ro if read_only else self._client.fcall
        try:
            return call(function, 1, self._current, *args)
        except ResponseError as exc:
            if "Function not found" not in str(exc):
                raise
        self.load_library()  # a fresh or flushed server: nothing ran, so once more
        return call(function, 1, self._current, *args)


@contextmanager
def _unavailable_if_failing(url: str) -> Iterator[None]:
    try:
        yield
    except (RedisError, RedisClusterException) as exc:
        raise Unavailable(f"Redis at {url} did not answer the look-up ({exc})") from None


def as_redis_error(exc: Exception) -> RedisError:
    """A cluster client's own failures (no node reachable) are not RedisErrors; the
    allocator treats them as a connection that failed."""
    if isinstance(exc, RedisError):
        return exc
    failed = RedisConnectionError(str(exc))
    failed.__cause__ = exc
    return failed


def _sale_args(terms: SaleTerms) -> list[Any]:
    products = terms.products
    catalogue = json.dumps([product.spec_json() for product in products], ensure_ascii=False)
    args: list[Any] = [
        terms.per_user_limit,
        NO_TIME if terms.starts_at_us is None else terms.starts_at_us,
        NO_TIME if terms.ends_at_us is None else terms.ends_at_us,
        catalogue,
    ]
    for product in products:
        limit = "" if product.per_user_limit is None else product.per_user_limit
        args += [product.sku, product.stock, limit]
    return args


def _raw(value: bytes | str) -> bytes:
    """redis-py's answers are bytes here (no decode_responses); its types allow str."""
    assert isinstance(value, bytes)
    return value


def _instant(raw: bytes) -> int | None:
    value = int(raw)
    return None if value == NO_TIME else value


def _sold(flat: list[bytes]) -> dict[str, int]:
    pairs = zip(flat[::2], flat[1::2], strict=True)
    return {("" if key == WHOLE_SALE else key.decode()): int(value) for key, value in pairs}


def _order(sale_id: int, line: bytes) -> OrderRecord:
    order_id, user, sku, position, sku_position, unit, at = line.decode().split("\t")
    return OrderRecord(
        order_id, sale_id, user, int(unit), int(position), int(at), sku, int(sku_position)
    )


def _decided(sale_id: int, text: bytes) -> Decided:
    outcome, _, record = text.partition(b"\t")
    return Decided(Outcome(int(outcome)), _order(sale_id, record) if record else None)
