"""Client process: runs simulated shoppers, one thread and one HTTP session each.

Every shopper has its own `requests.Session`, hence its own TCP connection, as a
browser tab would. All threads of all client processes wait for one release
instant (a wall-clock timestamp chosen by the parent once every process reported
ready) and then follow their plan. Records go back to the parent as tuples.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import resource
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import requests

from stress.common import (
    FINAL_PURCHASE_STATUSES,
    JSON_HEADERS,
    OUTCOME_RESENT,
    PURCHASE_PATH,
    STATUS_PATH,
    Record,
    decode_json,
    iso_to_ns,
    last_written_ns,
    new_session,
    parse_retry_after,
    raise_nofile_limit,
    str_or_none,
)
from stress.scenarios import MAX_RETRY_WAIT_S, UserPlan

THREAD_STACK_BYTES = 512 * 1024
READY_TIMEOUT_S = 300.0
GO_TIMEOUT_S = 600.0
PROGRESS_PUBLISH_S = 0.1
POLL_JITTER = 0.25


@dataclass(frozen=True, slots=True)
class ClientSettings:
    base_url: str
    threads: int  # shopper threads in this process
    timeout_s: float  # per request
    warmup: bool  # open each connection (GET status) before the release
    poll_interval_s: float  # prestart: status polling period
    deadline_s: float  # hard bound on this process's run after the release


def client_main(
    index: int,
    settings: ClientSettings,
    plan_rows: list[tuple],
    ready_queue: Any,
    go_event: Any,
    release_ns: Any,
    users_done: Any,
    requests_done: Any,
    result_queue: Any,
) -> None:
    """Entry point of one client process (see `stress.load`)."""
    raise_nofile_limit()
    threading.stack_size(THREAD_STACK_BYTES)
    plans = deque(UserPlan.from_row(row) for row in plan_rows)
    records: list[Record] = []
    user_counter = itertools.count(1)
    request_counter = itertools.count(1)
    counts = {"users": 0, "requests": 0}
    release = threading.Event()
    threads_count = max(1, min(settings.threads, len(plans)))
    ready = threading.Barrier(threads_count + 1)
    start_ns_box: list[int] = []

    def on_request(record: Record) -> None:
        records.append(record)  # list.append is atomic under the GIL
        counts["requests"] = next(request_counter)

    def shopper_thread() -> None:
        try:
            plan: UserPlan | None = plans.popleft()
        except IndexError:
            plan = None
        if plan is not None:
            # Everything a browser has before the click: the session, the request,
            # and with warm-up the open connection.
            session, prepared = open_shopper(settings, plan)
            if settings.warmup:
                _warm(session, settings)
        try:
            ready.wait(READY_TIMEOUT_S)
        except threading.BrokenBarrierError:
            return
        release.wait()
        start_ns = start_ns_box[0]
        hard_stop_ns = start_ns + int(settings.deadline_s * 1e9)
        while plan is not None:
            _sleep_until_ns(start_ns + int(plan.offset_s * 1e9))
            run_shopper(session, prepared, settings, plan, hard_stop_ns, on_request)
            session.close()
            counts["users"] = next(user_counter)
            try:
                plan = plans.popleft()
            except IndexError:
                break
            session, prepared = open_shopper(settings, plan)

    workers = [
        threading.Thread(target=shopper_thread, name=f"shopper-{n}", daemon=True)
        for n in range(threads_count)
    ]
    for worker in workers:
        worker.start()
    ready.wait(READY_TIMEOUT_S)
    ready_queue.put(index)
    if not go_event.wait(GO_TIMEOUT_S):
        result_queue.put((index, [], "never released", 0.0))
        return
    start_ns = int(release_ns.value)
    start_ns_box.append(start_ns)
    _sleep_until_ns(start_ns)
    release.set()
    cpu_at_release_s = _cpu_s()

    deadline = time.monotonic() + settings.deadline_s + 5.0
    while any(worker.is_alive() for worker in workers) and time.monotonic() < deadline:
        users_done[index] = counts["users"]
        requests_done[index] = counts["requests"]
        for worker in workers:
            worker.join(PROGRESS_PUBLISH_S)
            if worker.is_alive():
                break
    users_done[index] = counts["users"]
    requests_done[index] = counts["requests"]
    stuck = sum(worker.is_alive() for worker in workers)
    note = f"{stuck} shopper threads still running at the deadline" if stuck else ""
    rows = [record.to_row() for record in list(records)]
    result_queue.put((index, rows, note, _cpu_s() - cpu_at_release_s))


def _cpu_s() -> float:
    """CPU seconds this process used so far; the run reports the part after the
    release, which shows when the client rather than the server was the bottleneck."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def open_shopper(
    settings: ClientSettings, plan: UserPlan
) -> tuple[requests.Session, requests.PreparedRequest]:
    """A shopper's own session (own connection) and its purchase request, built once."""
    session = new_session(timed=True)
    body = json.dumps({"userId": plan.user}).encode()
    prepared = session.prepare_request(
        requests.Request("POST", settings.base_url + PURCHASE_PATH, data=body, headers=JSON_HEADERS)
    )
    return session, prepared


def run_shopper(
    session: requests.Session,
    prepared: requests.PreparedRequest,
    settings: ClientSettings,
    plan: UserPlan,
    hard_stop_ns: int,
    on_request: Any,
) -> None:
    """Follow one shopper's plan: wait for the start if asked, then buy."""
    if plan.wait_for_start:
        _wait_for_opening(session, settings, plan, hard_stop_ns, on_request)
    reused = settings.warmup or plan.wait_for_start
    for attempt in range(1, plan.attempts + 1):
        if time.time_ns() >= hard_stop_ns:
            return
        record = purchase(session, prepared, settings, plan.user, attempt)
        if reused and _stale_connection(record):
            record.status = OUTCOME_RESENT
            on_request(record)
            record = purchase(session, prepared, settings, plan.user, attempt)
        on_request(record)
        reused = True
        pause = _pause_after(record, plan)
        if pause is None:
            return
        if pause > 0:
            time.sleep(pause)


def _pause_after(record: Record, plan: UserPlan) -> float | None:
    """Seconds to wait before the next attempt, or None when the shopper stops."""
    if plan.persistent:
        if record.http == 0:
            return None  # a bot that lost its connection gives up
        return plan.gap_s
    if record.http == 0 or record.status in FINAL_PURCHASE_STATUSES:
        return None
    if record.status == "not_started":
        return plan.gap_s if plan.wait_for_start else None
    if record.http in (429, 503) and plan.honour_retry_after:
        return min(record.retry_after_s or 1.0, MAX_RETRY_WAIT_S)
    return None  # pending (202), invalid input or anything unexpected: stop and look up later


def purchase(
    session: requests.Session,
    prepared: requests.PreparedRequest,
    settings: ClientSettings,
    user: str,
    attempt: int,
) -> Record:
    send_ns = time.time_ns()
    started = time.perf_counter_ns()
    written_before = last_written_ns()
    try:
        answer = session.send(prepared, timeout=settings.timeout_s)
    except requests.RequestException as exc:
        written = last_written_ns()
        return Record(
            user,
            "purchase",
            attempt,
            send_ns,
            time.perf_counter_ns() - started,
            0,
            "",
            error=_describe(exc),
            written_ns=written if written != written_before else 0,
        )
    latency = time.perf_counter_ns() - started
    written = last_written_ns()
    payload = decode_json(answer)
    position = payload.get("position")
    return Record(
        user=user,
        kind="purchase",
        attempt=attempt,
        send_ns=send_ns,
        latency_ns=latency,
        http=answer.status_code,
        status=str(payload.get("status") or ""),
        position=position if isinstance(position, int) else None,
        order_id=str_or_none(payload.get("orderId")),
        sale_id=str_or_none(payload.get("saleId")),
        retry_after_s=parse_retry_after(answer.headers.get("Retry-After")),
        # What a server error said, for the report (its JSON title, else raw text).
        error=_server_error_text(answer, payload) if answer.status_code >= 500 else "",
        written_ns=written if written != written_before else 0,
    )


def _wait_for_opening(
    session: requests.Session,
    settings: ClientSettings,
    plan: UserPlan,
    hard_stop_ns: int,
    on_request: Any,
) -> None:
    """Poll the status like the countdown page does; return at the sale's start.

    Like the browser, the poll is conditional (If-None-Match): an unchanged sale
    answers 304 and the countdown runs on the local clock corrected by the skew
    measured on the last full answer."""
    url = settings.base_url + STATUS_PATH
    etag: str | None = None
    local_start_ns: int | None = None
    while time.time_ns() < hard_stop_ns:
        send_ns = time.time_ns()
        started = time.perf_counter_ns()
        headers = {"If-None-Match": etag} if etag else None
        try:
            answer = session.get(url, headers=headers, timeout=settings.timeout_s)
        except requests.RequestException as exc:
            on_request(
                Record(plan.user, "status", 0, send_ns, time.perf_counter_ns() - started, 0, "",
                       error=_describe(exc))
            )  # fmt: skip
            time.sleep(settings.poll_interval_s)
            continue
        latency = time.perf_counter_ns() - started
        payload = decode_json(answer) if answer.status_code == 200 else {}
        state = str(payload.get("state") or ("not_modified" if answer.status_code == 304 else ""))
        on_request(Record(plan.user, "status", 0, send_ns, latency, answer.status_code, state))
        if answer.status_code == 200:
            etag = answer.headers.get("ETag")
            if payload.get("state") != "upcoming":
                return
            starts_ns = iso_to_ns(payload.get("startsAt"))
            if starts_ns is None:
                return
            server_ns = iso_to_ns(payload.get("serverTime"))
            # Same clock correction a countdown page makes: server time ~ mid-request.
            skew_ns = 0 if server_ns is None else server_ns - (send_ns + latency // 2)
            local_start_ns = starts_ns - skew_ns
        elif answer.status_code != 304 or local_start_ns is None:
            etag = None
            time.sleep(settings.poll_interval_s)
            continue
        wait_s = (local_start_ns - time.time_ns()) / 1e9
        if wait_s <= settings.poll_interval_s:
            _sleep_until_ns(local_start_ns)
            return
        time.sleep(settings.poll_interval_s * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER))


def _server_error_text(answer: requests.Response, payload: dict[str, Any]) -> str:
    title = payload.get("title") or payload.get("description")
    return f"{answer.status_code}: {title or answer.text[:200]}"


def _stale_connection(record: Record) -> bool:
    """Whether a request died with its kept-alive connection before any answer: the
    server closed the idle connection as the request went out. Browsers resend then."""
    return record.http == 0 and "Connection aborted" in record.error


def _warm(session: requests.Session, settings: ClientSettings) -> None:
    """Open the shopper's connection before the release (a page load)."""
    # On failure the purchase opens a fresh connection and records any error.
    with contextlib.suppress(requests.RequestException):
        session.get(settings.base_url + STATUS_PATH, timeout=settings.timeout_s).close()


def _sleep_until_ns(target_ns: int) -> None:
    # Sleep coarsely, then spin the last millisecond for a sharp release.
    while True:
        remaining = (target_ns - time.time_ns()) / 1e9
        if remaining <= 0:
            return
        time.sleep(remaining - 0.001 if remaining > 0.002 else 0)


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"timeout: {type(exc).__name__}"
    if isinstance(exc, requests.ConnectionError):
        return f"connection: {str(exc)[:160]}"
    return f"{type(exc).__name__}: {str(exc)[:160]}"
