"""Settings: the one place that reads the environment.

Every knob is a `FLASHSALE_*` variable (plus gunicorn's own `WEB_CONCURRENCY`),
declared once below: its field, variable, default, bounds and doc line
(`flashsale.setting`). docs/configuration.md's table is written from them
(`python scripts/settings_doc.py --write`). An invalid value stops start-up
with one line naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flashsale.breaker import BreakerSettings
from flashsale.catalogue import (
    MAX_PRICE_CENTS,
    SKU_RULE,
    Product,
    ProductSettings,
    parse_products,
    valid_currency,
    valid_image_url,
    valid_sku,
)
from flashsale.errors import ConfigError, InvalidInput
from flashsale.setting import (
    DECLARATION,
    AddressList,
    Choice,
    FilePath,
    Instant,
    Integer,
    Number,
    Setting,
    Text,
    Token,
    declarations,
    group,
    optional,
    read,
    setting,
)
from flashsale.setting import parse_instant as parse_instant

REPO_ROOT = Path(__file__).resolve().parent.parent
S = TypeVar("S", bound=Setting[Any])

# One event-loop worker per core (docs/operations.md, "Tuning workers and limits").
DEFAULT_WORKERS = 2
MAX_WORKERS = 32
# Settings of earlier versions that no longer mean anything, with what replaced them.
RETIRED_SETTINGS = {
    "FLASHSALE_THREADS": "workers are event loops now and use no threads; "
    "FLASHSALE_WORKER_CONNECTIONS bounds what one worker serves at once",
}
USER_ID_MAX_CHARS = 64
BODY_MAX_BYTES = 4096


def _valid_bind(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(host and sep and port.isdigit() and 0 < int(port) < 65536) or value.startswith(
        "unix:"
    )


JWT_SECRET_MIN_CHARS = 32  # HS256 wants a key at least as long as its hash (RFC 7518 3.2)
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)


def _algorithm_list(value: str) -> bool:
    """Known algorithms of one family: HS* alone, or RS*/PS*/ES* (never `none`)."""
    names = {name.strip() for name in value.split(",") if name.strip()}
    return bool(names) and (names <= HMAC_ALGORITHMS or names <= PUBLIC_KEY_ALGORITHMS)


def _redis_url(value: str) -> bool:
    return value.startswith(("redis://", "rediss://", "unix://"))


def _key_tag(value: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_-]{1,32}", value) is not None


def _webhook_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# Standard Webhooks: a symmetric secret is `whsec_` + base64 of 24 to 64 random bytes.
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET_BYTES = (24, 64)
# Retried for three days by default: a weekend's outage at the shop's side loses nothing.
WEBHOOK_MAX_AGE_S = 3 * 86_400


def webhook_key(secret: str) -> bytes | None:
    """The key of a `whsec_` secret; None if it is not one (never echo it: it is a secret)."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        return None
    try:
        key = base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
    except (ValueError, binascii.Error):
        return None
    low, high = WEBHOOK_SECRET_BYTES
    return key if low <= len(key) <= high else None


def _cookie_name(value: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value) is not None


@dataclass(frozen=True)
class Settings:
    """Every setting, in the documented order; each field is its own declaration.

    `setting`, `optional` and `group` return a `dataclasses.field` (which RUF009
    cannot see): nothing is called per instance.
    """

    bind: str = setting(
        "127.0.0.1:8000",
        Text(
            "FLASHSALE_BIND",
            "address to listen on",
            check=_valid_bind,
            form="`host:port` or `unix:path`",
        ),
    )
    workers: int = setting(
        DEFAULT_WORKERS,
        Integer(
            "WEB_CONCURRENCY",
            "gunicorn workers, see [Tuning](operations.md#tuning-workers-and-limits)",
            low=1,
            high=MAX_WORKERS,
        ),
    )
    stock: int = setting(
        100,
        Integer(
            "FLASHSALE_STOCK", "stock of the first sale of a new journal", low=0, high=10_000_000
        ),
    )
    per_user_limit: int = setting(
        1, Integer("FLASHSALE_PER_USER_LIMIT", "units one user may buy", low=1, high=1000)
    )
    starts_at: datetime | None = optional(  # noqa: RUF009
        Instant("FLASHSALE_STARTS_AT", "start of the first sale", unset="open now")
    )
    ends_at: datetime | None = optional(  # noqa: RUF009
        Instant("FLASHSALE_ENDS_AT", "end of the first sale", unset="never ends")
    )
    # The first sale's one product (docs/api.md, "Products"), unless a catalogue file names several.
    product: ProductSettings = group(  # noqa: RUF009
        ProductSettings,
        sku=Text(
            "FLASHSALE_PRODUCT_SKU",
            "sku of the first sale's one product",
            check=valid_sku,
            form=SKU_RULE,
        ),
        name=Text("FLASHSALE_PRODUCT_NAME", "that product's name on the shop page"),
        description=Text("FLASHSALE_PRODUCT_DESCRIPTION", "its description, under the name"),
        price_cents=Integer(
            "FLASHSALE_PRODUCT_PRICE_CENTS",
            "its price in the currency's minor unit (cents; yen for JPY)",
            low=0,
            high=MAX_PRICE_CENTS,
        ),
        currency=Text(
            "FLASHSALE_PRODUCT_CURRENCY",
            "its price's currency",
            check=valid_currency,
            form="ISO 4217",
        ),
        image_url=Text(
            "FLASHSALE_PRODUCT_IMAGE_URL",
            "its picture on the shop page",
            check=valid_image_url,
            form="an https URL or `/flash-sale/images/<file>`",
        ),
    )
    catalogue_file: Path | None = optional(  # noqa: RUF009
        FilePath(
            "FLASHSALE_CATALOGUE_FILE",
            'JSON file `{"products": [...]}` (as the admin API takes them) of the first '
            "sale; `FLASHSALE_STOCK` and `FLASHSALE_PRODUCT_*` then do not apply",
            unset="one product, from the settings above",
        )
    )
    images_dir: Path = setting(  # noqa: RUF009
        REPO_ROOT / "flashsale" / "product_images",
        FilePath("FLASHSALE_IMAGES_DIR", "folder served at `/flash-sale/images/`"),
    )
    db_path: Path = setting(  # noqa: RUF009
        Path("var/flashsale.db"), FilePath("FLASHSALE_DB", "the journal (SQLite)")
    )
    # Where the stock is decided (docs/many-hosts.md).
    engine: str = setting(
        "sqlite",
        Choice(
            "FLASHSALE_ENGINE",
            "`sqlite`: this host's journal; `redis`: one Redis that every host decides on, "
            "see [Many hosts](many-hosts.md)",
            words=("sqlite", "redis"),
        ),
    )
    redis_url: str = setting(
        "redis://127.0.0.1:6379/0",
        Text(
            "FLASHSALE_REDIS_URL",
            "the Redis of the `redis` engine",
            check=_redis_url,
            form="`redis://`, `rediss://` or `unix://`",
        ),
    )
    redis_cluster: str = setting(
        "no",
        Choice(
            "FLASHSALE_REDIS_CLUSTER",
            "`yes`: FLASHSALE_REDIS_URL names a node of a Redis Cluster (the engine's keys "
            "share one slot)",
            words=("no", "yes"),
        ),
    )
    redis_key_tag: str = setting(
        "flashsale",
        Text(
            "FLASHSALE_REDIS_KEY_TAG",
            "hash tag of every key: one cluster slot; two services on one Redis need two",
            check=_key_tag,
            form="1-32 of A-Z, a-z, 0-9, `_` and `-`",
        ),
    )
    redis_timeout_s: float = setting(
        1.0,
        Number(
            "FLASHSALE_REDIS_TIMEOUT_S",
            "a Redis call unanswered this long counts as Redis failing (its batch is sent "
            "again once Redis answers, with the same outcomes)",
            low=0.05,
            high=30.0,
        ),
    )
    redis_durability: str = setting(
        "strict",
        Choice(
            "FLASHSALE_REDIS_DURABILITY",
            "`strict`: refuse to start on a Redis without `appendonly yes` and "
            "`appendfsync always`; `accept-weaker`: sell anyway, and health says so",
            words=("strict", "accept-weaker"),
        ),
    )
    admin_token: str | None = optional(
        Token("FLASHSALE_ADMIN_TOKEN", "bearer token of the admin API", unset="admin API off")
    )
    checkout_token: str | None = optional(
        Token(
            "FLASHSALE_CHECKOUT_TOKEN",
            "bearer token of the shop's backend: confirms, cancels and extends any hold "
            "(`/flash-sale/orders/{orderId}/...`)",
            unset="only each buyer's own checkout token",
        )
    )
    operator_token: str | None = optional(
        Token(
            "FLASHSALE_OPERATOR_TOKEN",
            "bearer token that `/flash-sale/metrics`, `/metrics` and health's detail then need, "
            "see [Protection](operations.md#protection)",
            unset="operator figures open",
        )
    )
    # Who the buyer is (docs/identity.md): the body's userId, or a verified JWT's sub.
    auth: str = setting(
        "open",
        Choice(
            "FLASHSALE_AUTH",
            "`open`: the buyer is the body's `userId`; `jwt`: the `sub` of a signed token, "
            "see [Identity](identity.md)",
            words=("open", "jwt"),
        ),
    )
    jwt_secret: str | None = optional(
        Token(
            "FLASHSALE_JWT_SECRET",
            "HS256 secret that signs shoppers' tokens (jwt mode)",
            unset="no secret",
            min_chars=JWT_SECRET_MIN_CHARS,
        )
    )
    jwt_jwks_file: Path | None = optional(  # noqa: RUF009
        FilePath(
            "FLASHSALE_JWT_JWKS_FILE",
            "JWKS file of the RS256/ES256 public keys that verify tokens, chosen by `kid`; "
            "read again when gunicorn gets SIGHUP (jwt mode)",
            unset="no key file",
        )
    )
    jwt_algorithms: str | None = optional(
        Text(
            "FLASHSALE_JWT_ALGORITHMS",
            "accepted algorithms, comma-separated; never `none`, never HS with RS/ES",
            check=_algorithm_list,
            form="e.g. `RS256,ES256`",
            unset="`HS256` with a secret, `RS256,ES256` with a key file",
        )
    )
    jwt_issuer: str | None = optional(
        Text("FLASHSALE_JWT_ISSUER", "the `iss` every token must have", unset="not checked")
    )
    jwt_audience: str | None = optional(
        Text("FLASHSALE_JWT_AUDIENCE", "the `aud` every token must have", unset="not checked")
    )
    jwt_leeway_s: float = setting(
        30.0,
        Number(
            "FLASHSALE_JWT_LEEWAY_S",
            "clock difference allowed when checking `exp`, `nbf` and `iat`",
            low=0.0,
            high=300.0,
        ),
    )
    # A shop's login issues tokens for minutes or hours; a day still covers a
    # shopper who signs in in the morning for an evening sale. A longer-lived token
    # (an `exp` of 10^30) is one nobody can take back.
    jwt_max_lifetime_s: float = setting(
        86400.0,
        Number(
            "FLASHSALE_JWT_MAX_LIFETIME_S",
            "longest a token may live: `exp` at most this long after its `iat`, "
            "and after now (plus the leeway)",
            low=60.0,
            high=31_536_000.0,
        ),
    )
    jwt_cookie: str = setting(
        "flashsale_token",
        Text(
            "FLASHSALE_JWT_COOKIE",
            "cookie the shop page reads the shopper's token from (or a `#token=` link)",
            check=_cookie_name,
            form="a cookie name",
        ),
    )
    # How long a worker waits for the allocator's answer before it answers
    # 503 (request never read) or 202 pending (read, outcome not yet known).
    reply_timeout_s: float = setting(
        2.0,
        Number(
            "FLASHSALE_REPLY_TIMEOUT_S",
            "how long a purchase waits for the allocator",
            low=0.2,
            high=20.0,
        ),
    )
    commit_budget_s: float = setting(
        0.5,
        Number(
            "FLASHSALE_COMMIT_BUDGET_S",
            "part of that time kept for the journal's commit: "
            "nothing is sold to a request with less left",
            low=0.05,
            high=10.0,
        ),
    )
    queue_capacity: int = setting(
        2048,
        Integer(
            "FLASHSALE_QUEUE_CAPACITY",
            "most purchases waiting for the allocator at once",
            low=1,
            high=1_000_000,
        ),
    )
    max_requests: int = setting(
        0,
        Integer(
            "FLASHSALE_MAX_REQUESTS",
            "recycle a worker after this many requests "
            "(gunicorn's `max_requests`, with 25 % jitter); `0`: never",
            low=0,
            high=10_000_000,
        ),
    )
    worker_connections: int = setting(
        10000,
        Integer(
            "FLASHSALE_WORKER_CONNECTIONS",
            "open connections per worker; beyond it a connection gets `503` "
            "with `Retry-After` at once",
            low=1,
            high=100_000,
        ),
    )
    # Per-address bounds (docs/operations.md, "Protection"): counted by each worker on its own.
    connections_per_address: int = setting(
        512,
        Integer(
            "FLASHSALE_CONNECTIONS_PER_ADDRESS",
            "open connections one client address (an IPv6 one: its /64) may hold in one "
            "worker; beyond it `429` with `Retry-After` at once; a trusted proxy's are not "
            "counted; `0`: no bound",
            low=0,
            high=100_000,
        ),
    )
    backlog: int = setting(
        4096, Integer("FLASHSALE_BACKLOG", "listen backlog", low=16, high=65_535)
    )
    max_event_streams: int = setting(
        8192,
        Integer(
            "FLASHSALE_MAX_EVENT_STREAMS",
            "open event streams (live pages) per worker; beyond it `503` and the page polls; "
            "`0` turns streams off",
            low=0,
            high=100_000,
        ),
    )
    event_streams_per_address: int = setting(
        128,
        Integer(
            "FLASHSALE_EVENT_STREAMS_PER_ADDRESS",
            "event streams one client address may hold in one worker (behind a trusted proxy: "
            "the address it forwards); beyond it `429` and the page polls; `0`: no bound",
            low=0,
            high=100_000,
        ),
    )
    # Under the 55-60 s idle timeouts of common proxies (nginx's proxy_read_timeout,
    # AWS's load balancers, Heroku's router); each write to every open page costs
    # (docs/operations.md).
    events_heartbeat_s: float = setting(
        45.0,
        Number(
            "FLASHSALE_EVENTS_HEARTBEAT_S",
            "the longest an event stream goes without a write (a comment if nothing "
            "else), which keeps it open through proxies: keep it under their idle timeout",
            low=0.5,
            high=300.0,
        ),
    )
    exports_per_worker: int = setting(
        2,
        Integer(
            "FLASHSALE_EXPORTS_PER_WORKER",
            "order exports (`orders.csv`) one worker streams at once; beyond it `503` with "
            "`Retry-After`",
            low=1,
            high=64,
        ),
    )
    export_stall_s: float = setting(
        60.0,
        Number(
            "FLASHSALE_EXPORT_STALL_S",
            "an export whose client takes nothing of it for this long is cut off (the "
            "connection closed), so that no client holds an export by not reading",
            low=1.0,
            high=3600.0,
        ),
    )
    header_timeout_s: float = setting(
        10.0,
        Number(
            "FLASHSALE_HEADER_TIMEOUT_S",
            "time a new connection has to send its first request's head: `408` "
            "(or a quiet close if it sent nothing)",
            low=0.5,
            high=300.0,
        ),
    )
    body_timeout_s: float = setting(
        10.0,
        Number(
            "FLASHSALE_BODY_TIMEOUT_S",
            "time a request has to send its body after its head: `408`",
            low=0.5,
            high=300.0,
        ),
    )
    # Protection (docs/operations.md, "Protection"): rate limits, breaker, queue.
    rate_limit: int = setting(
        10,
        Integer(
            "FLASHSALE_RATE_LIMIT",
            "purchase attempts per user per window, counted across all workers",
            low=1,
            high=10**6,
        ),
    )
    rate_window_s: int = setting(
        60, Integer("FLASHSALE_RATE_WINDOW_S", "the rate-limit window", low=1, high=86_400)
    )
    ip_rate_limit: int = setting(
        0,
        Integer(
            "FLASHSALE_IP_RATE_LIMIT",
            "attempts per client address per window; `0`: off "
            "(the default: load tests and proxies share one address)",
            low=0,
            high=10**7,
        ),
    )
    rate_table_size: int = setting(
        65536,
        Integer(
            "FLASHSALE_RATE_TABLE_SIZE",
            "rate-limit windows kept in shared memory (fixed size)",
            low=64,
            high=16_777_216,
        ),
    )
    auth_table_size: int = setting(
        16384,
        Integer(
            "FLASHSALE_AUTH_TABLE_SIZE",
            "wrong-token counts kept in shared memory by client address (fixed size), "
            "apart from the purchase windows: no flood of userIds evicts them",
            low=64,
            high=16_777_216,
        ),
    )
    forwarded_allow_ips: tuple[str, ...] = setting(
        ("127.0.0.1", "::1"),
        AddressList(
            "FLASHSALE_FORWARDED_ALLOW_IPS",
            "proxies whose `X-Forwarded-For` is believed (also gunicorn's `forwarded_allow_ips`)",
        ),
    )
    # The breaker's defaults live with the breaker (BreakerSettings); frozen, so
    # one shared default is safe.
    breaker: BreakerSettings = group(  # noqa: RUF009
        BreakerSettings,
        failure_threshold=Integer(
            "FLASHSALE_BREAKER_FAILURES",
            "allocator failures (replies not in time) within the window that open the breaker",
            low=1,
            high=10**6,
        ),
        window_s=Integer("FLASHSALE_BREAKER_WINDOW_S", "that window", low=1, high=60),
        silence_s=Number(
            "FLASHSALE_BREAKER_SILENCE_S",
            "allocator heartbeat silence that opens the breaker (and makes health 503)",
            low=0.5,  # the allocator beats every 0.2 s when idle (allocator/loop.py)
            high=60.0,
        ),
        saturation_s=Number(
            "FLASHSALE_BREAKER_SATURATION_S",
            "a queue full for this long opens the breaker",
            low=0.1,
            high=60.0,
        ),
        cooldown_s=Number(
            "FLASHSALE_BREAKER_COOLDOWN_S", "time open before half-open", low=0.1, high=600.0
        ),
        probes=Integer(
            "FLASHSALE_BREAKER_PROBES",
            "purchases half-open lets through to test the allocator",
            low=1,
            high=1000,
        ),
    )
    # Webhooks (docs/operations.md, "Webhooks"): off unless a URL is set.
    webhook_url: str | None = optional(
        Text(
            "FLASHSALE_WEBHOOK_URL",
            "where the shop's backend receives the sale's events, signed per Standard Webhooks",
            check=_webhook_url,
            form="an `http://` or `https://` URL",
            unset="webhooks off: nothing is written to the outbox",
        )
    )
    webhook_secret: str | None = optional(
        Token(
            "FLASHSALE_WEBHOOK_SECRET",
            "the key that signs them: `whsec_` and the base64 of 24 to 64 random bytes",
            unset="none (needed with a webhook URL)",
            min_chars=len(WEBHOOK_SECRET_PREFIX) + 32,
        )
    )
    webhook_timeout_s: float = setting(
        10.0,
        Number(
            "FLASHSALE_WEBHOOK_TIMEOUT_S",
            "a delivery unanswered this long failed, and is tried again later",
            low=0.5,
            high=120.0,
        ),
    )
    webhook_max_age_s: int = setting(
        WEBHOOK_MAX_AGE_S,
        Integer(
            "FLASHSALE_WEBHOOK_MAX_AGE_S",
            "an event still undelivered this long after it happened is given up "
            "(recorded and counted); retries back off from 1 s to 1 h",
            low=60,
            high=30 * 86_400,
        ),
    )
    webhook_concurrency: int = setting(
        8,
        Integer(
            "FLASHSALE_WEBHOOK_CONCURRENCY",
            "deliveries in flight at once (each order's events still go one at a time, in order)",
            low=1,
            high=64,
        ),
    )
    ui_dir: Path = setting(  # noqa: RUF009
        REPO_ROOT / "webui" / "dist", FilePath("FLASHSALE_UI_DIR", "the built UI")
    )
    log_level: str = setting(
        "info",
        Choice("FLASHSALE_LOG_LEVEL", "log level", words=("debug", "info", "warning", "error")),
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        for name, why in RETIRED_SETTINGS.items():
            if env.get(name, "").strip():
                raise ConfigError(f"{name} is no longer used: {why}")
        settings = read(cls, env)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Checks across settings, and of settings built without from_env."""
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ConfigError(f"{_env('ends_at')} must be later than {_env('starts_at')}")
        if self.commit_budget_s >= self.reply_timeout_s:
            raise ConfigError(
                f"{_env('commit_budget_s')} must be smaller than {_env('reply_timeout_s')}"
            )
        self._validate_jwt()
        self._validate_webhooks()
        self.first_products()
        for item in fields(self):
            token = item.metadata[DECLARATION]
            value = getattr(self, item.name)
            if isinstance(token, Token) and value is not None and len(value) < token.min_chars:
                raise ConfigError(f"{token.env} must be at least {token.min_chars} characters")

    def _validate_jwt(self) -> None:
        if self.auth != "jwt":
            return
        if (self.jwt_secret is None) == (self.jwt_jwks_file is None):
            raise ConfigError(
                f"FLASHSALE_AUTH=jwt needs exactly one of {_env('jwt_secret')} "
                f"and {_env('jwt_jwks_file')}"
            )
        family = HMAC_ALGORITHMS if self.jwt_secret is not None else PUBLIC_KEY_ALGORITHMS
        if not set(self.accepted_algorithms()) <= family:
            raise ConfigError(
                f"{_env('jwt_algorithms')}={self.jwt_algorithms} does not suit "
                + ("a secret (HS*)" if self.jwt_secret is not None else "a key file (RS*, ES*)")
            )

    def _validate_webhooks(self) -> None:
        secret = _env("webhook_secret")
        if self.webhook_secret is not None and webhook_key(self.webhook_secret) is None:
            low, high = WEBHOOK_SECRET_BYTES
            raise ConfigError(
                f"{secret} must be `{WEBHOOK_SECRET_PREFIX}` followed by the base64 of {low} "
                f"to {high} random bytes (e.g. `{WEBHOOK_SECRET_PREFIX}$(head -c 32 /dev/urandom "
                "| base64)`)"
            )
        if self.webhook_url is None:
            return
        if self.webhook_secret is None:
            raise ConfigError(f"{_env('webhook_url')} needs {secret} (the key that signs them)")

    @property
    def webhooks_on(self) -> bool:
        return self.webhook_url is not None

    def first_products(self) -> tuple[Product, ...]:
        """The products of a new journal's first sale; raises ConfigError naming the fault."""
        stock = declared("stock", Integer)
        try:
            if self.catalogue_file is None:
                return (self.product.product(self.stock),)
            try:
                document = json.loads(self.catalogue_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{_env('catalogue_file')}: cannot read it ({exc})") from None
            if not isinstance(document, dict) or set(document) != {"products"}:
                raise ConfigError(f'{_env("catalogue_file")} must hold {{"products": [...]}}')
            return parse_products(
                document["products"], max_stock=stock.high, sale_limit=self.per_user_limit
            )
        except InvalidInput as exc:
            where = _env("catalogue_file") if self.catalogue_file else "FLASHSALE_PRODUCT_*"
            raise ConfigError(f"{where}: {exc.description}") from None

    def accepted_algorithms(self) -> list[str]:
        """The JWT algorithms tokens may use: from the settings, never from a token."""
        if self.jwt_algorithms is not None:
            return sorted({name.strip() for name in self.jwt_algorithms.split(",") if name.strip()})
        return ["HS256"] if self.jwt_secret is not None else ["ES256", "RS256"]


def declared(name: str, kind: type[S]) -> S:
    """The declaration of setting `name` (an attribute path: `stock`, `breaker.probes`)."""
    for path, declaration, _default in declarations(Settings):
        if path == name and isinstance(declaration, kind):
            return declaration
    raise LookupError(f"no {kind.__name__} setting {name!r}")


def _env(name: str) -> str:
    return declared(name, Setting).env
