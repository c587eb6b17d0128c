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
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, ResponseError
from redis.retry import Retry

from flashsale.admin_commands import (
    AdminAnswer,
    AdminRequest,
    AuditContext,
    ChangeSale,
    CreateSale,
    attempted_action,
)
from flashsale.catalogue import Product
from flashsale.errors import Unavailable
from flashsale.journal import CheckoutRow, WaitlistRow
from flashsale.journal_queue import QueueRow, TicketRow
from flashsale.journal_sales import IDEMPOTENCY_KEY_TTL_S, AuditEntry
from flashsale.outcomes import Outcome
from flashsale.records import (
    CheckoutTerms,
    Lifecycle,
    ListedOrder,
    OrderRecord,
    Phase,
    QueueTerms,
    SaleRecord,
    SaleTerms,
)
from flashsale.redis_engine import waiting_room

LIBRARY = (Path(__file__).parent / "library.lua").read_text(encoding="utf-8")
NO_TIME = -1
WHOLE_SALE = b"#"  # the sold hash's field for the whole sale
# FCALL takes its arguments on Lua's stack; the allocator cuts larger batches.
MAX_BATCH = 512
EXPIRE_BATCH = 250  # library.lua's: holds expired per flashsale_expire call (a few ms each)


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
    """What Redis decided for one purchase, and the order it names, if any (a held
    order's expiry too)."""

    outcome: Outcome
    order: OrderRecord | None
    expires_at_us: int | None = None


# A sale's hold counts (library.lua's counts hash): field -> value, e.g. b"held:SKU".
Counts = dict[bytes, int]


@dataclass(frozen=True)
class Expired:
    """One flashsale_expire call: how many holds expired, when the next falls due
    (Redis's clock; None: none held), and the sale's sold counts and hold counts."""

    sale_id: int
    expired: int
    next_due_us: int | None
    sold: dict[str, int]
    counts: Counts


@dataclass(frozen=True)
class CheckoutDone:
    """One flashsale_checkout call: its answer (library.lua's JSON) and the sale's
    counts after it."""

    answer: dict[str, Any]
    sale_id: int
    sold: dict[str, int]
    counts: Counts


@dataclass(frozen=True)
class BatchResult:
    sale_id: int
    sold: dict[str, int]  # by sku, and "" for the whole sale
    decisions: list[Decided]
    version: int  # the sale's lifecycle version when they were decided
    counts: Counts  # a sale with holds: its hold counts (else empty)


# Extension members of an admin answer that are integers (Lua answers them as text).
_INTEGER_EXTENSIONS = frozenset({"saleId", "currentSaleId", "endedAtUs"})


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

    def enable_outbox(self) -> None:
        """Webhooks on: from now on every decision appends its events to the outbox stream
        (library.lua's outbox_add), whichever host makes it."""
        self._client.set(f"{self._tag}:outbox:on", 1)

    @property
    def client(self) -> redis.Redis | RedisCluster:
        """The connection, for the webhook sender's reads (flashsale.redis_engine.outbox)."""
        return self._client

    @property
    def key_tag(self) -> str:
        """`{flashsale}`: what every key of the engine starts with."""
        return self._tag

    def call(self, function: str, *args: Any, read_only: bool = False) -> Any:
        """A function of the library by name (loaded first if the server has none)."""
        return self._call(function, *args, read_only=read_only)

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
        sale_id, sold, decisions, version, counts = self._call("flashsale_decide", *args)
        sale = int(sale_id)
        decided = [_decided(sale, text) for text in decisions]
        return BatchResult(sale, _sold(sold), decided, int(version), _counts(counts))

    def expire(self) -> Expired:
        """Expire at most a batch of the current sale's holds due by Redis's clock (each
        unit offered to its waitlist); call again while a whole batch expired."""
        sale_id, expired, next_due, sold, counts = self._call("flashsale_expire")
        return Expired(
            int(sale_id),
            int(expired),
            int(next_due) if next_due else None,
            _sold(sold),
            _counts(counts),
        )

    def expire_all(self) -> Expired:
        """Every hold due now, a batch per call."""
        total = 0
        while True:
            done = self.expire()
            total += done.expired
            if done.expired < EXPIRE_BATCH:
                return replace(done, expired=total)

    def checkout(self, command: dict[str, Any]) -> CheckoutDone:
        """A buyer's confirm, cancel, extend or waitlist join (library.lua's
        flashsale_checkout reads `command`)."""
        answer, sale_id, sold, counts = self._call(
            "flashsale_checkout", json.dumps(command, ensure_ascii=False)
        )
        return CheckoutDone(json.loads(answer), int(sale_id), _sold(sold), _counts(counts))

    def checkout_key(self) -> bytes:
        """The secret checkout tokens are MACs under: made once, by whichever host's
        allocator comes first, and kept in Redis (as the journal keeps it in `meta`)."""
        return self._secret("checkout_key")

    def ticket_key(self) -> bytes:
        """The secret the waiting room's tickets are signed with (flashsale.queue_tickets),
        kept in Redis as the checkout key is: a ticket issued on one host verifies on all."""
        return self._secret("ticket_key")

    def _secret(self, name: str) -> bytes:
        key = f"{self._tag}:{name}"
        self._client.set(key, secrets.token_bytes(32), nx=True)
        value = self._client.get(key)
        return _raw(value)

    def admin(self, request: AdminRequest) -> AdminAnswer:
        """An operator's command, decided, recorded and audited in one FCALL (library.lua)."""
        command = request.command
        args: list[Any] = [
            json.dumps(_command_json(request), ensure_ascii=False),
            json.dumps(request.context.to_json(), ensure_ascii=False),
        ]
        if isinstance(command, CreateSale):
            args += _sale_args(command.terms)
        status, problem, sale_id, replayed, at_us, extensions, fields, sold, changes = self._call(
            "flashsale_admin", *args
        )
        sale = None
        if int(sale_id):
            sale = _sale_of(int(sale_id), _fields(fields))
            if int(status) == 201:  # as it was created: its first answer's, also on a replay
                sale = _as_created(sale, changes[0])
        return AdminAnswer(
            int(status),
            problem.decode() or None,
            _extensions(extensions),
            sale,
            {} if int(status) == 201 else _sold(sold),
            sale.created_at_us if sale is not None and int(status) == 201 else int(at_us),
            bool(int(replayed)),
        )

    def state(self) -> tuple[int | None, dict[str, int], int]:
        """The current sale's id (None: none yet), its sold counts and lifecycle version."""
        sale_id, sold, version, _ = self.state_with_counts()
        return sale_id, sold, version

    def state_with_counts(self) -> tuple[int | None, dict[str, int], int, Counts]:
        """`state`, and the sale's hold counts (empty without holds)."""
        sale_id, sold, version, counts = self._call("flashsale_state", read_only=True)
        return (int(sale_id) if sale_id else None), _sold(sold), int(version), _counts(counts)

    def sale(self, sale_id: int) -> SaleRecord:
        fields: dict[bytes, bytes] = self._client.hgetall(f"{self._tag}:sale:{sale_id}")  # type: ignore[assignment]
        return _sale_of(sale_id, fields)

    # -- look-ups (workers): a Redis that fails them is a 503, as a journal's would be ----
    def orders_of_user(self, sale_id: int, user_id: str) -> list[OrderRecord]:
        """Live orders first (by unit), then released ones (a sale with holds), by
        position: as the journal's."""
        base = f"{self._tag}:sale:{sale_id}"
        with _unavailable_if_failing(self.url):
            pipe = self._client.pipeline(transaction=False)
            pipe.hget(f"{base}:buyers", user_id)
            pipe.hget(f"{base}:released", user_id)
            live, released = pipe.execute()
        orders = sorted(_orders(sale_id, live), key=lambda order: order.unit)
        return orders + sorted(_orders(sale_id, released), key=lambda order: order.position)

    def checkout_of_user(self, sale_id: int, user_id: str) -> list[CheckoutRow]:
        """The hold columns of a buyer's orders (a sale with holds)."""
        orders = self.orders_of_user(sale_id, user_id)
        if not orders:
            return []
        base = f"{self._tag}:sale:{sale_id}"
        with _unavailable_if_failing(self.url):
            pipe = self._client.pipeline(transaction=False)
            for order in orders:
                pipe.hmget(f"{base}:hold:{order.order_id}", "state", "exp", "ext", "dig", "ref")
            found = pipe.execute()
        rows = []
        for order, (state, exp, ext, dig, ref) in zip(orders, found, strict=True):
            if state is not None:
                rows.append(
                    CheckoutRow(
                        order.order_id,
                        order.position,
                        _raw(state).decode(),
                        int(exp),
                        ext == b"1",
                        bytes.fromhex(_raw(dig).decode()) if dig else None,
                        _raw(ref).decode() if ref is not None else None,
                    )
                )
        return rows

    def waitlist_of_user(self, sale_id: int, user_id: str) -> list[WaitlistRow]:
        base = f"{self._tag}:sale:{sale_id}"
        with _unavailable_if_failing(self.url):
            text = self._client.hget(f"{base}:wlusers", user_id)
            places = [_raw(line).split(b"\t") for line in _raw(text).split(b"\n")] if text else []
            rows = [self._entry(base, sku.decode(), int(place)) for sku, place in places]
        return sorted(rows, key=lambda row: row.sku)

    def waitlist_entry(self, sale_id: int, sku: str, token_sha256: bytes) -> WaitlistRow | None:
        base = f"{self._tag}:sale:{sale_id}"
        with _unavailable_if_failing(self.url):
            found = self._client.hget(f"{base}:wltokens", token_sha256.hex())
            if found is None:
                return None
            found_sku, place = _raw(found).split(b"\t")
            if found_sku.decode() != sku:
                return None
            return self._entry(base, sku, int(place))

    def _entry(self, base: str, sku: str, place: int) -> WaitlistRow:
        fields = [f"{place}:{name}" for name in ("user", "state", "order", "dig", "offer")]
        user, state, order, dig, offer = self._client.hmget(f"{base}:wl:{sku}", fields)
        return WaitlistRow(
            sku,
            place,
            _raw(user).decode(),
            _raw(state).decode(),
            _raw(order).decode() if order else None,
            bytes.fromhex(_raw(dig).decode()),
            bytes.fromhex(_raw(offer).decode()),
        )

    def orders_of_sale(self, sale_id: int) -> list[OrderRecord]:
        with _unavailable_if_failing(self.url):
            lines = self._client.lrange(f"{self._tag}:sale:{sale_id}:orders", 0, -1)
        return [_order(sale_id, _raw(line)) for line in lines]

    # -- the admin API's reads (workers) ------------------------------------------------
    def all_sales(self) -> list[tuple[SaleRecord, dict[str, int]]]:
        """Every sale with its sold counts, newest first."""
        client = self._client
        with _unavailable_if_failing(self.url):
            last = int(client.get(f"{self._tag}:next_sale") or 0)
            pipe = client.pipeline(transaction=False)
            for sale_id in range(last, 0, -1):
                pipe.hgetall(f"{self._tag}:sale:{sale_id}")
                pipe.hgetall(f"{self._tag}:sale:{sale_id}:sold")
            found = pipe.execute()
        sales = []
        for place, sale_id in enumerate(range(last, 0, -1)):
            fields, sold = found[2 * place], found[2 * place + 1]
            if fields:
                sales.append((_sale_of(sale_id, fields), _sold_of(sold)))
        return sales

    def one_sale(self, sale_id: int) -> tuple[SaleRecord, dict[str, int]] | None:
        client = self._client
        with _unavailable_if_failing(self.url):
            pipe = client.pipeline(transaction=False)
            pipe.hgetall(f"{self._tag}:sale:{sale_id}")
            pipe.hgetall(f"{self._tag}:sale:{sale_id}:sold")
            fields, sold = pipe.execute()
        return (_sale_of(sale_id, fields), _sold_of(sold)) if fields else None

    def audit_page(self, after: int, limit: int) -> list[AuditEntry]:
        """Up to `limit` entries after seq `after` (an entry's seq is its place, from 1)."""
        with _unavailable_if_failing(self.url):
            lines = self._client.lrange(f"{self._tag}:audit", after, after + limit - 1)
        return [_audit_entry(after + n + 1, _raw(line)) for n, line in enumerate(lines)]

    def sale_exists(self, sale_id: int) -> bool:
        with _unavailable_if_failing(self.url):
            return bool(self._client.exists(f"{self._tag}:sale:{sale_id}"))

    def queue_after(
        self, sale_id: int, after: int, limit: int
    ) -> tuple[list[TicketRow], QueueRow | None]:
        """A page of a sale's waiting room in queue order, and where it stands (as
        JournalReader.queue_after): one read-only call, so the page and the room agree."""
        with _unavailable_if_failing(self.url):
            return waiting_room.page(self, sale_id, after, limit)

    def orders_after(self, sale_id: int, position: int, limit: int) -> list[ListedOrder]:
        """At most `limit` orders of the sale after `position`, in position order, with
        their state and payment reference: one LRANGE of the sale's orders list, never
        the whole list, and for a sale with holds one pipeline of the page's hold hashes.

        flashsale_decide appends each order at the end of the list as it gives
        out the next position, 1, 2, 3... with none skipped, so the order of
        position p is at index p - 1, and those after `position` start at its index.
        """
        base = f"{self._tag}:sale:{sale_id}"
        with _unavailable_if_failing(self.url):
            pipe = self._client.pipeline(transaction=False)
            pipe.lrange(f"{base}:orders", position, position + limit - 1)
            pipe.hexists(base, "hold_s")  # a checkout sale: every order has a hold hash
            lines, holds = pipe.execute()
            orders = [_order(sale_id, _raw(line)) for line in lines]
            if not holds or not orders:
                return [ListedOrder(*order, "confirmed", None) for order in orders]
            pipe = self._client.pipeline(transaction=False)
            for order in orders:
                pipe.hmget(f"{base}:hold:{order.order_id}", "state", "ref")
            found = pipe.execute()
        return [
            ListedOrder(
                *order,
                _raw(state).decode() if state is not None else "confirmed",
                _raw(ref).decode() if ref is not None else None,
            )
            for order, (state, ref) in zip(orders, found, strict=True)
        ]

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


def _command_json(request: AdminRequest) -> dict[str, Any]:
    """The command as library.lua's flashsale_admin reads it (instants as text: Lua's
    numbers are doubles, exact but printed in exponent form)."""
    command = request.command
    value: dict[str, Any] = {"attempted": attempted_action(command)}
    if isinstance(command, CreateSale):
        return value | {
            "kind": "create",
            "replaces": command.replaces,
            "ifMatch": command.if_match,
            "idempotencyKey": command.idempotency_key,
            "fingerprint": command.fingerprint,
            "keyTtlMs": IDEMPOTENCY_KEY_TTL_S * 1000,
        }
    if isinstance(command, ChangeSale):
        ends = command.change.ends_at_us
        return value | {
            "kind": "change",
            "saleId": command.sale_id,
            "action": command.change.action,
            "endsAtUs": None if ends is None else str(ends),
            "ifMatch": command.if_match,
        }
    return value | {
        "kind": "refusal",
        "status": command.status,
        "problem": command.problem,
        "saleId": command.sale_id,
    }


def _sold_of(fields: dict[bytes, bytes]) -> dict[str, int]:
    return {
        ("" if key == WHOLE_SALE else key.decode()): int(value) for key, value in fields.items()
    }


def _audit_entry(seq: int, line: bytes) -> AuditEntry:
    value = json.loads(line)
    return AuditEntry(
        seq,
        value["atUs"],
        value["action"],
        value["attempted"],
        value["saleId"],
        value["status"],
        value["problem"],
        value["replayed"],
        AuditContext.from_json(value["context"]),
    )


def _fields(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _sale_of(sale_id: int, fields: dict[bytes, bytes]) -> SaleRecord:
    """A sale from its hash (one a version before lifecycles lacks them: active, 1;
    one without hold_s has no checkout window)."""
    catalogue = json.loads(fields[b"catalogue"])
    hold_s = fields.get(b"hold_s")
    queue = fields.get(b"queue")
    terms = SaleTerms(
        tuple(Product.from_spec(spec) for spec in catalogue),
        int(fields[b"limit"]),
        _instant(fields[b"starts"]),
        _instant(fields[b"ends"]),
        None if hold_s is None else CheckoutTerms(int(hold_s), int(fields[b"extend_s"])),
        None if queue is None else QueueTerms.from_spec(json.loads(queue)),
    )
    lifecycle = Lifecycle(
        Phase.of_word(fields.get(b"phase", b"active").decode()),
        int(fields.get(b"version", b"1")),
        _instant(fields.get(b"paused", b"-1")),
        _instant(fields.get(b"ended", b"-1")),
    )
    return SaleRecord(sale_id, int(fields[b"stock"]), terms, int(fields[b"created"]), lifecycle)


def _as_created(sale: SaleRecord, first_change: bytes) -> SaleRecord:
    """`sale` as its creation left it: its first change holds the end it was made with."""
    ends = _instant(first_change.split(b"\t")[4])
    return SaleRecord(
        sale.sale_id, sale.stock, replace(sale.terms, ends_at_us=ends), sale.created_at_us
    )


def _extensions(flat: list[bytes | int]) -> dict[str, Any]:
    extensions: dict[str, Any] = {}
    for name, value in zip(flat[::2], flat[1::2], strict=True):
        key = _raw(name).decode() if not isinstance(name, int) else str(name)
        text = value.decode() if isinstance(value, bytes) else str(value)
        extensions[key] = int(text) if key in _INTEGER_EXTENSIONS else text
    return extensions


def _sale_args(terms: SaleTerms) -> list[Any]:
    products = terms.products
    catalogue = json.dumps([product.spec_json() for product in products], ensure_ascii=False)
    args: list[Any] = [
        terms.per_user_limit,
        NO_TIME if terms.starts_at_us is None else terms.starts_at_us,
        NO_TIME if terms.ends_at_us is None else terms.ends_at_us,
        catalogue,
        "" if terms.checkout is None else terms.checkout.hold_s,
        "" if terms.checkout is None else terms.checkout.extend_s,
        "" if terms.queue is None else json.dumps(terms.queue.spec_json()),
    ]
    for product in products:
        limit = "" if product.per_user_limit is None else product.per_user_limit
        args += [product.sku, product.stock, limit]
    return args


def _raw(value: bytes | str | None) -> bytes:
    """redis-py's answers are bytes here (no decode_responses); its types allow str (and
    None where the key was there when read)."""
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
    if not record:
        return Decided(Outcome(int(outcome)), None)
    record, _, expires = record.partition(b"\n")  # a hold's expiry follows its record
    return Decided(
        Outcome(int(outcome)), _order(sale_id, record), int(expires) if expires else None
    )


def _orders(sale_id: int, text: bytes | None) -> list[OrderRecord]:
    if not text:
        return []
    return [_order(sale_id, line) for line in _raw(text).split(b"\n")]


def _counts(flat: list[bytes]) -> Counts:
    return {key: int(value) for key, value in zip(flat[::2], flat[1::2], strict=True)}
