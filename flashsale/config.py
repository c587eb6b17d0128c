"""Settings: the one place that reads the environment.

Every knob is a `FLASHSALE_*` variable (plus gunicorn's own `WEB_CONCURRENCY`).
An invalid value stops start-up with one line naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from flashsale.breaker import BreakerSettings
from flashsale.clock import RANGE_TEXT, instant_us, representable
from flashsale.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

# One event-loop worker per core (README, "Tuning workers and limits").
DEFAULT_WORKERS = 2
MAX_WORKERS = 32
# Settings of earlier versions that no longer mean anything, with what replaced them.
RETIRED_SETTINGS = {
    "FLASHSALE_THREADS": "workers are event loops now and use no threads; "
    "FLASHSALE_WORKER_CONNECTIONS bounds what one worker serves at once",
}
BREAKER = BreakerSettings()  # the breaker's defaults live with the breaker
USER_ID_MAX_CHARS = 64
BODY_MAX_BYTES = 4096


@dataclass(frozen=True)
class Settings:
    bind: str = "127.0.0.1:8000"
    workers: int = DEFAULT_WORKERS
    # Open connections per worker; beyond it a connection gets 503 at once.
    worker_connections: int = 10000
    backlog: int = 4096
    # How long a client may take to send a request's head, then its body.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    # Live pages (/flash-sale/events) per worker; beyond it a 503, and pages poll.
    max_event_streams: int = 8192
    # A comment on every idle event stream this often keeps it (and proxies) open.
    events_heartbeat_s: float = 15.0
    stock: int = 100
    per_user_limit: int = 1
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    db_path: Path = Path("var/flashsale.db")
    admin_token: str | None = None
    # Guards metrics, /metrics and health's detail; unset: they are open.
    operator_token: str | None = None
    ui_dir: Path = REPO_ROOT / "webui" / "dist"
    # How long a worker waits for the allocator's answer before it answers
    # 503 (request never read) or 202 pending (read, outcome not yet known).
    reply_timeout_s: float = 2.0
    # The part of the reply timeout kept for the journal's commit: the
    # allocator sells nothing to a request with less time than this left.
    commit_budget_s: float = 0.5
    queue_capacity: int = 2048
    # Recycle a worker after this many requests (0: never), as gunicorn's max_requests.
    max_requests: int = 0
    log_level: str = "info"
    # Protection (README, "Protection"): rate limits, breaker, queue.
    rate_limit: int = 10
    rate_window_s: int = 60
    ip_rate_limit: int = 0  # 0: off (load tests and proxies share one address)
    rate_table_size: int = 65536
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    breaker: BreakerSettings = BREAKER  # frozen, so one shared default is safe

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        for name, why in RETIRED_SETTINGS.items():
            if env.get(name, "").strip():
                raise ConfigError(f"{name} is no longer used: {why}")
        read = _Reader(env)
        settings = cls(
            bind=read.text("FLASHSALE_BIND", cls.bind, check=_valid_bind),
            workers=read.integer("WEB_CONCURRENCY", DEFAULT_WORKERS, low=1, high=MAX_WORKERS),
            worker_connections=read.integer(
                "FLASHSALE_WORKER_CONNECTIONS", cls.worker_connections, low=1, high=100_000
            ),
            backlog=read.integer("FLASHSALE_BACKLOG", cls.backlog, low=16, high=65_535),
            header_timeout_s=read.number(
                "FLASHSALE_HEADER_TIMEOUT_S", cls.header_timeout_s, low=0.5, high=300.0
            ),
            body_timeout_s=read.number(
                "FLASHSALE_BODY_TIMEOUT_S", cls.body_timeout_s, low=0.5, high=300.0
            ),
            max_event_streams=read.integer(
                "FLASHSALE_MAX_EVENT_STREAMS", cls.max_event_streams, low=0, high=100_000
            ),
            events_heartbeat_s=read.number(
                "FLASHSALE_EVENTS_HEARTBEAT_S", cls.events_heartbeat_s, low=0.5, high=300.0
            ),
            stock=read.integer("FLASHSALE_STOCK", cls.stock, low=0, high=10_000_000),
            per_user_limit=read.integer(
                "FLASHSALE_PER_USER_LIMIT", cls.per_user_limit, low=1, high=1000
            ),
            starts_at=read.instant("FLASHSALE_STARTS_AT"),
            ends_at=read.instant("FLASHSALE_ENDS_AT"),
            db_path=Path(read.text("FLASHSALE_DB", str(cls.db_path))),
            admin_token=read.text("FLASHSALE_ADMIN_TOKEN", "") or None,
            operator_token=read.text("FLASHSALE_OPERATOR_TOKEN", "") or None,
            ui_dir=Path(read.text("FLASHSALE_UI_DIR", str(cls.ui_dir))),
            reply_timeout_s=read.number(
                "FLASHSALE_REPLY_TIMEOUT_S", cls.reply_timeout_s, low=0.2, high=20.0
            ),
            commit_budget_s=read.number(
                "FLASHSALE_COMMIT_BUDGET_S", cls.commit_budget_s, low=0.05, high=10.0
            ),
            queue_capacity=read.integer(
                "FLASHSALE_QUEUE_CAPACITY", cls.queue_capacity, low=1, high=1_000_000
            ),
            max_requests=read.integer(
                "FLASHSALE_MAX_REQUESTS", cls.max_requests, low=0, high=10_000_000
            ),
            log_level=read.text(
                "FLASHSALE_LOG_LEVEL", cls.log_level, check=_one_of("debug info warning error")
            ),
            rate_limit=read.integer("FLASHSALE_RATE_LIMIT", cls.rate_limit, low=1, high=10**6),
            rate_window_s=read.integer(
                "FLASHSALE_RATE_WINDOW_S", cls.rate_window_s, low=1, high=86_400
            ),
            ip_rate_limit=read.integer(
                "FLASHSALE_IP_RATE_LIMIT", cls.ip_rate_limit, low=0, high=10**7
            ),
            rate_table_size=read.integer(
                "FLASHSALE_RATE_TABLE_SIZE", cls.rate_table_size, low=64, high=16_777_216
            ),
            forwarded_allow_ips=tuple(
                ip.strip()
                for ip in read.text(
                    "FLASHSALE_FORWARDED_ALLOW_IPS",
                    ",".join(cls.forwarded_allow_ips),
                    check=_ip_list,
                ).split(",")
                if ip.strip()
            ),
            breaker=BreakerSettings(
                failure_threshold=read.integer(
                    "FLASHSALE_BREAKER_FAILURES", BREAKER.failure_threshold, low=1, high=10**6
                ),
                window_s=read.integer(
                    "FLASHSALE_BREAKER_WINDOW_S", BREAKER.window_s, low=1, high=60
                ),
                silence_s=read.number(
                    "FLASHSALE_BREAKER_SILENCE_S", BREAKER.silence_s, low=0.1, high=60.0
                ),
                saturation_s=read.number(
                    "FLASHSALE_BREAKER_SATURATION_S", BREAKER.saturation_s, low=0.1, high=60.0
                ),
                cooldown_s=read.number(
                    "FLASHSALE_BREAKER_COOLDOWN_S", BREAKER.cooldown_s, low=0.1, high=600.0
                ),
                probes=read.integer("FLASHSALE_BREAKER_PROBES", BREAKER.probes, low=1, high=1000),
            ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ConfigError("FLASHSALE_ENDS_AT must be later than FLASHSALE_STARTS_AT")
        if self.commit_budget_s >= self.reply_timeout_s:
            raise ConfigError(
                "FLASHSALE_COMMIT_BUDGET_S must be smaller than FLASHSALE_REPLY_TIMEOUT_S"
            )
        for name, token in (
            ("FLASHSALE_ADMIN_TOKEN", self.admin_token),
            ("FLASHSALE_OPERATOR_TOKEN", self.operator_token),
        ):
            if token is not None and len(token) < 8:
                raise ConfigError(f"{name} must be at least 8 characters")


def parse_instant(text: str) -> datetime:
    """ISO-8601 with a zone (or `Z`); a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _valid_bind(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(host and sep and port.isdigit() and 0 < int(port) < 65536) or value.startswith(
        "unix:"
    )


def _ip_list(value: str) -> bool:
    """Comma-separated addresses or networks, or '*': what gunicorn's forwarded_allow_ips takes."""
    try:
        for item in value.split(","):
            if item.strip() and item.strip() != "*":
                ipaddress.ip_network(item.strip(), strict=False)
    except ValueError:
        return False
    return True


def _one_of(words: str) -> Callable[[str], bool]:
    return lambda value: value in words.split()


class _Reader:
    """Typed reads of the environment; each failure names its variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def _raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def text(self, name: str, default: str, check: Callable[[str], bool] | None = None) -> str:
        value = self._raw(name)
        if value is None:
            return default
        if check and not check(value):
            raise ConfigError(f"{name}={value!r} is not valid")
        return value

    def _parsed(self, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
        value = self._raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not {what}") from None

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        number = self._parsed(name, default, int, "an integer")
        if not low <= number <= high:
            raise ConfigError(f"{name}={number} is out of range [{low}, {high}]")
        return number

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        number = self._parsed(name, default, float, "a number")
        if not low <= number <= high:
            raise ConfigError(f"{name}={number} is out of range [{low}, {high}]")
        return number

    def instant(self, name: str) -> datetime | None:
        moment = self._parsed(name, None, parse_instant, "an ISO-8601 time")
        if moment is not None and not representable(instant_us(moment)):
            raise ConfigError(f"{name}={moment.isoformat()} is not {RANGE_TEXT}")
        return moment
