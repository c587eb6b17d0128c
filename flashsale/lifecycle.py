"""What gunicorn's hooks call: shared state and the allocator before the workers
fork, a metrics row per worker, the allocator's supervision, and the clean-up.

The state lives in this module, not in gunicorn.conf.py, because gunicorn
re-executes its config file on SIGHUP while this module stays imported.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from flashsale.allocator.client import AllocatorClient
from flashsale.allocator.loop import Allocator
from flashsale.api.client_address import ClientAddress
from flashsale.api.events import EventStreams
from flashsale.api.guard import PurchaseGuard
from flashsale.api.identity import Identity, identity_for
from flashsale.app import AppDeps, create_app
from flashsale.breaker import JOURNAL, REDIS, CircuitBreaker
from flashsale.clock import instant_us
from flashsale.config import Settings
from flashsale.errors import ConfigError, JournalLocked
from flashsale.journal import JournalLock, JournalReader
from flashsale.journal_sales import SalesReader
from flashsale.log_limit import install as limit_repeated_log_records
from flashsale.lookups import OrderLookups
from flashsale.metrics import MetricsRecorder, current_sale_id, failures_since
from flashsale.observe import ServerView
from flashsale.ratelimit import RateLimiter
from flashsale.records import SaleTerms
from flashsale.redis_engine.allocator import RedisAllocator
from flashsale.redis_engine.decisions import SaleSettings
from flashsale.redis_engine.durability import Durability, NotDurable, check_durability
from flashsale.redis_engine.outbox import redis_outbox
from flashsale.redis_engine.store import RedisStore
from flashsale.serving.worker import FlashSaleWorker, when_serving, when_stopping
from flashsale.shm.breaker_board import BreakerBoard
from flashsale.shm.file_lock import RangeLocks
from flashsale.shm.rate_table import NUM_STRIPES, RateTable
from flashsale.shm.sale_board import SaleBoard
from flashsale.shm.slots import ProcessSlots
from flashsale.shm.store_board import StoreBoard
from flashsale.shm.webhook_board import WebhookBoard
from flashsale.supervisor import AllocatorSupervisor
from flashsale.webhooks.sender import SenderSettings, WebhookSender

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

log = logging.getLogger("flashsale.lifecycle")

WORKER_CONNECT_TIMEOUT_S = 5.0
# The master's private folder for the allocator's socket and lock files.
SOCKET_DIR_PREFIX = "flashsale-"


@dataclass
class Runtime:
    settings: Settings
    board: SaleBoard
    slots: ProcessSlots
    lock: JournalLock
    socket_dir: Path
    authkey: bytes
    breaker_board: BreakerBoard
    store_board: StoreBoard
    rate_table: RateTable
    # Wrong tokens by client address, apart from rate_table: no flood of userIds reaches it.
    auth_table: RateTable
    identity: Identity
    # The Redis engine's promise, as Redis stated it at start-up (None: the SQLite engine).
    durability: Durability | None = None
    supervisor: AllocatorSupervisor | None = None
    # The webhook sender's figures (always mapped: health reads them) and its supervisor.
    webhook_board: WebhookBoard = field(default_factory=WebhookBoard)
    sender_supervisor: AllocatorSupervisor | None = None
    slot: int | None = None  # in a worker: its metrics row

    @property
    def address(self) -> str:
        return str(self.socket_dir / "allocator.sock")


_runtime: Runtime | None = None


def settings_or_exit() -> Settings:
    """Settings from the environment, or one line naming the bad variable and exit 2."""
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(f"flashsale: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else instant_us(moment)


def _remove_dead_masters_socket_dirs() -> None:
    """A master killed with SIGKILL cannot clean up: its successor does."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SOCKET_DIR_PREFIX}*-*"):
        pid = folder.name[len(SOCKET_DIR_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _raise_open_file_limit() -> None:
    # 5,000 shoppers means 5,000 sockets: take the hard limit, not the default.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the master ------------------------------------------------------------------------
def on_starting(server: Arbiter) -> None:
    global _runtime
    settings = settings_or_exit()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Before anything forks: the allocator and the workers inherit the limits.
    limit_repeated_log_records()
    lock = JournalLock(settings.db_path)
    try:
        lock.acquire()
    except JournalLocked as exc:
        print(f"flashsale: {exc}", file=sys.stderr)
        raise SystemExit(3) from None
    _raise_open_file_limit()
    _remove_dead_masters_socket_dirs()
    _runtime = Runtime(
        settings=settings,
        board=SaleBoard(),
        slots=ProcessSlots(),
        lock=lock,
        socket_dir=Path(tempfile.mkdtemp(prefix=f"{SOCKET_DIR_PREFIX}{os.getpid()}-")),
        authkey=os.urandom(32),
        breaker_board=BreakerBoard(),
        store_board=StoreBoard(),
        rate_table=RateTable(settings.rate_table_size),
        auth_table=RateTable(settings.auth_table_size),
        identity=_identity_or_exit(settings),
        durability=_durability_or_exit(settings),
    )
    _runtime.board.mark_server_started()


def redis_store(settings: Settings) -> RedisStore:
    """A client of the Redis engine's store; each process makes its own (after the fork)."""
    return RedisStore(
        settings.redis_url,
        tag=settings.redis_key_tag,
        timeout_s=settings.redis_timeout_s,
        cluster=settings.redis_cluster == "yes",
    )


def _durability_or_exit(settings: Settings) -> Durability | None:
    if settings.engine != "redis":
        return None
    store = redis_store(settings)
    try:
        durability = check_durability(
            store, accept_weaker=settings.redis_durability == "accept-weaker"
        )
    except NotDurable as exc:
        print(f"flashsale: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        store.close()
    if durability.weaker:
        log.warning("Redis durability is weaker than promised: %s", durability.weaker)
    return durability


def _identity_or_exit(settings: Settings) -> Identity:
    try:
        return identity_for(settings)
    except (OSError, ValueError, jwt.PyJWKError) as exc:
        print(f"flashsale: FLASHSALE_JWT_JWKS_FILE cannot be used: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def on_reload(server: Arbiter) -> None:
    """SIGHUP: read the JWKS file again for the workers about to fork; a file that
    cannot be read keeps the keys in use."""
    runtime = _require_runtime()
    limit_repeated_log_records()  # gunicorn made new handlers for its loggers
    if runtime.settings.jwt_jwks_file is None:
        return
    try:
        runtime.identity = identity_for(runtime.settings)
    except (OSError, ValueError, jwt.PyJWKError) as exc:
        log.error("FLASHSALE_JWT_JWKS_FILE not read again, the keys in use stay: %s", exc)
        return
    log.info("FLASHSALE_JWT_JWKS_FILE read again for the new workers")


def when_ready(server: Arbiter) -> None:
    """Start the allocator after the listeners exist and before any worker forks."""
    runtime = _require_runtime()
    runtime.supervisor = AllocatorSupervisor(
        lambda: _run_allocator(runtime, master_pid=os.getppid()),
        was_ready=runtime.board.was_ready,
        close_in_child=[listener.fileno() for listener in server.LISTENERS],
        on_restart=runtime.board.count_restart,
    )
    runtime.supervisor.start()
    if runtime.settings.webhooks_on:
        # After the allocator: it creates the outbox of a journal that had none.
        runtime.sender_supervisor = AllocatorSupervisor(
            lambda: _run_sender(runtime, master_pid=os.getppid()),
            was_ready=runtime.webhook_board.was_ready,
            close_in_child=[listener.fileno() for listener in server.LISTENERS],
            on_restart=runtime.webhook_board.count_restart,
            name="webhook sender",
        )
        runtime.sender_supervisor.start()


def _run_sender(runtime: Runtime, master_pid: int) -> None:
    settings = runtime.settings
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    sender = SenderSettings(
        db_path=settings.db_path,
        url=settings.webhook_url,
        secret=settings.webhook_secret,
        timeout_s=settings.webhook_timeout_s,
        max_age_s=settings.webhook_max_age_s,
        concurrency=settings.webhook_concurrency,
    )
    outbox = redis_outbox(redis_store(settings)) if settings.engine == "redis" else None
    WebhookSender(sender, runtime.webhook_board, outbox).run(parent_pid=master_pid)


def _run_allocator(runtime: Runtime, master_pid: int) -> None:
    settings = runtime.settings
    first = SaleTerms(
        products=settings.first_products(),
        per_user_limit=settings.per_user_limit,
        starts_at_us=_us(settings.starts_at),
        ends_at_us=_us(settings.ends_at),
    )
    common: dict[str, Any] = {
        "address": runtime.address,
        "authkey": runtime.authkey,
        "db_path": settings.db_path,
        "first_sale": first,
        "board": runtime.board,
        "store_board": runtime.store_board,
        "lock": runtime.lock,
    }
    if settings.engine == "redis":
        sale = SaleSettings(
            first, settings.rate_limit, settings.rate_window_s, webhooks=settings.webhooks_on
        )
        RedisAllocator(store=redis_store(settings), sale_settings=sale, **common).run(
            parent_pid=master_pid
        )
    else:
        Allocator(
            **common, webhooks=settings.webhooks_on, webhook_keep_s=settings.webhook_max_age_s
        ).run(parent_pid=master_pid)


def pre_fork(server: Arbiter, worker: Worker) -> None:
    runtime = _require_runtime()
    worker.flashsale_slot = runtime.slots.claim()
    if worker.flashsale_slot is None:
        log.error("no free metrics row for a new worker; its requests will not be counted")


def child_exit(server: Arbiter, worker: Worker) -> None:
    slot = getattr(worker, "flashsale_slot", None)
    if slot is not None:
        _require_runtime().slots.release(slot)


def on_exit(server: Arbiter) -> None:
    runtime = _runtime
    if runtime is None:
        return
    # The sender first: it reads what the allocator wrote, and writes nothing it needs.
    if runtime.sender_supervisor is not None:
        runtime.sender_supervisor.stop()
    if runtime.supervisor is not None:
        runtime.supervisor.stop()
    runtime.lock.release()
    shutil.rmtree(runtime.socket_dir, ignore_errors=True)


# -- a worker --------------------------------------------------------------------------
def post_fork(server: Arbiter, worker: Worker) -> None:
    runtime = _require_runtime()
    limit_repeated_log_records()  # inherited; a no-op unless a handler is new
    runtime.slot = worker.flashsale_slot
    if runtime.slot is not None:
        # Counted alive (health, metrics) once it listens, not while it boots.
        slot, pid = runtime.slot, os.getpid()
        when_serving(lambda: runtime.slots.set_pid(slot, pid))
    if isinstance(worker, FlashSaleWorker):
        worker.masters_signal_queue = server.SIG_QUEUE
    runtime.lock.forget_in_child()
    if runtime.supervisor is not None:
        runtime.supervisor.forget_in_child()
    if runtime.sender_supervisor is not None:
        runtime.sender_supervisor.forget_in_child()


def worker_app() -> EventStreams:
    """The Falcon app of one worker, wired to the state its master created.

    It connects to the allocator in its lifespan start-up, on the worker's loop.
    """
    runtime = _require_runtime()
    settings = runtime.settings
    board, slots = runtime.board, runtime.slots
    row = slots.row(runtime.slot) if runtime.slot is not None else None
    recorder = MetricsRecorder(
        row, queue_depth=slots.in_flight_total, sale_id=current_sale_id(board)
    )
    client = AllocatorClient(
        runtime.address,
        runtime.authkey,
        slot=runtime.slot,
        metrics=recorder,
        reply_timeout_s=settings.reply_timeout_s,
        commit_budget_s=settings.commit_budget_s,
    )
    breaker = CircuitBreaker(
        runtime.breaker_board,
        RangeLocks(runtime.socket_dir / "breaker.lock", 1),
        settings.breaker,
        allocator_silence_s=board.heartbeat_age_s,
        failures_since=lambda since_s, window_s: failures_since(slots, since_s, window_s),
        store_failing=runtime.store_board.failing,
        store_reason=REDIS if settings.engine == "redis" else JOURNAL,
    )
    # This runs in a worker, whose parent is gunicorn's master.
    view = ServerView(
        settings,
        board,
        slots,
        runtime.store_board,
        master_pid=os.getppid(),
        engine=_engine_json(runtime),
        webhooks=runtime.webhook_board if settings.webhooks_on else None,
    )
    guard = PurchaseGuard(
        settings=settings,
        limiter=RateLimiter(
            runtime.rate_table, RangeLocks(runtime.socket_dir / "rates.lock", NUM_STRIPES)
        ),
        breaker=breaker,
        queue_depth=view.queue_depth,
        addresses=ClientAddress(settings.forwarded_allow_ips),
        store=runtime.store_board,
    )
    store = redis_store(settings) if settings.engine == "redis" else None
    deps = AppDeps(
        view=view,
        allocator=client,
        lookups=OrderLookups(store or JournalReader(settings.db_path)),
        sales=store or SalesReader(settings.db_path),
        recorder=recorder,
        guard=guard,
        identity=runtime.identity,
        auth_failures=RateLimiter(
            runtime.auth_table, RangeLocks(runtime.socket_dir / "auth.lock", NUM_STRIPES)
        ),
        connect_timeout_s=WORKER_CONNECT_TIMEOUT_S,
        when_stopping=when_stopping,
    )
    return create_app(deps)


def _engine_json(runtime: Runtime) -> dict[str, Any]:
    """Where the stock is decided, for health: Redis's durability as it stated it."""
    durability = runtime.durability
    if durability is None:
        return {"name": "sqlite"}
    return {"name": "redis", "url": runtime.settings.redis_url, **durability.as_json()}


def _require_runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("flashsale runs under gunicorn -c gunicorn.conf.py")
    return _runtime
