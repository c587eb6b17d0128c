"""Flash-sale shoppers for Locust, for stress testers who spread load over several
machines with its master/worker mode. An optional extra: `pip install '.[locust]'`.

    locust -f stress/locustfile.py --headless -u 5000 -r 500 -t 60s \\
        --host http://127.0.0.1:8000 --admin-token T --stock 100 --start-in 15

Each Locust user is one shopper, like `python -m stress flash --scenario prestart`:
it opens the page (GET status; with --watch-events it also holds the page's
event stream), waits for the sale's start on the countdown (the local clock
corrected by the server's), presses Buy (again after a 429 or 503, when
Retry-After says, at most --max-retries times; again 0.1 s later while the
answer is "not started"), looks its order up, and keeps its page open until
the run ends. With --admin-token the run starts a sale of --stock items that
opens --start-in seconds later, so users spawned until then all press Buy at
the start: a burst across every worker.

Ordinary answers (sold out, already bought, rate limited, shed with 503) count
as successes in Locust's statistics; failures are 5xx other than 503, dropped
connections, and a look-up that disagrees with a 201. The shoppers' outcomes
are summed over the workers and printed at the end. Locust judges no
invariant: `python -m stress flash` does.

With --jwt-secret (a server with FLASHSALE_AUTH=jwt and that HS256 secret) each
shopper signs a token of its own (PyJWT; `sub` = its id) when it starts, sends it
as `Authorization: Bearer` with a body of `{}`, and looks its order up at
`/flash-sale/purchase/me`.

A sale of several products: each shopper asks for one of the products its page
load lists, evenly (`"sku"` in the body); a sale of one is bought without a sku.
(`python -m stress flash --products` sets a weighted mix and judges each product.)

This file imports nothing of the repository, so a worker can take it from the
master (`locust -f - --worker --master-host ...`).
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import gevent
import requests
from locust import HttpUser, constant, events, task
from locust.runners import WorkerRunner

PURCHASE_PATH = "/flash-sale/purchase"
STATUS_PATH = "/flash-sale/status"
EVENTS_PATH = "/flash-sale/events"
ADMIN_SALES_PATH = "/flash-sale/admin/sales"
MAX_RETRY_WAIT_S = 5.0
NOT_STARTED_RETRY_S = 0.1
NOT_STARTED_ATTEMPTS = 30
REQUEST_TIMEOUT_S = 30.0
TOKEN_LIFETIME_S = 6 * 3600  # longer than any run
# A shopper's ordinary purchase answers: none of them is a failure of the server.
PURCHASE_ANSWERS = {201, 202, 403, 409, 410, 429, 503}

SHOPPER_IDS = itertools.count(1)
RUN_ID = secrets.token_hex(3)  # one per process: user ids of two workers never meet
outcomes: Counter[str] = Counter()  # this process's, until sent to the master


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    parser.add_argument("--admin-token", default="", help="start a sale with this admin token")
    parser.add_argument("--stock", type=int, default=100, help="items of that sale")
    parser.add_argument(
        "--start-in", type=float, default=10.0, help="seconds from the test's start to the sale's"
    )
    parser.add_argument(
        "--watch-events", action="store_true", help="each page also holds GET /flash-sale/events"
    )
    parser.add_argument("--max-retries", type=int, default=2, help="Buy again after 429/503")
    parser.add_argument(
        "--poll-interval", type=float, default=2.0, help="status polling of a waiting page"
    )
    parser.add_argument("--jwt-secret", default="", help="jwt mode: sign HS256 shopper tokens")
    parser.add_argument("--jwt-issuer", default="", help="jwt mode: the tokens' iss")
    parser.add_argument("--jwt-audience", default="", help="jwt mode: the tokens' aud")


def mint_token(options: Any, sub: str, now_s: int | None = None) -> str:
    """A shopper's HS256 token (jwt mode): sub, iat, exp, and iss/aud when set."""
    import jwt  # PyJWT: only a jwt-mode run needs it

    issued = int(time.time()) if now_s is None else now_s
    claims: dict[str, Any] = {"sub": sub, "iat": issued, "exp": issued + TOKEN_LIFETIME_S}
    if options.jwt_issuer:
        claims["iss"] = options.jwt_issuer
    if options.jwt_audience:
        claims["aud"] = options.jwt_audience
    return jwt.encode(claims, options.jwt_secret, algorithm="HS256")


@events.test_start.add_listener
def start_sale(environment: Any, **_: Any) -> None:
    """The master (or a single process) starts the sale; workers do not."""
    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or not options or not options.admin_token:
        return
    starts_at = datetime.now(UTC) + timedelta(seconds=options.start_in)
    answer = requests.post(
        environment.host.rstrip("/") + ADMIN_SALES_PATH,
        json={"stock": options.stock, "perUserLimit": 1, "startsAt": starts_at.isoformat()},
        # Replaces the current sale, even one in progress (If-Match: any version).
        headers={"Authorization": f"Bearer {options.admin_token}", "If-Match": "*"},
        timeout=REQUEST_TIMEOUT_S,
    )
    answer.raise_for_status()
    print(f"sale {answer.json().get('saleId')} of {options.stock} items opens at {starts_at}")


@events.report_to_master.add_listener
def send_outcomes(client_id: str, data: dict[str, Any]) -> None:
    data["shopperOutcomes"] = dict(outcomes)
    outcomes.clear()


@events.worker_report.add_listener
def add_outcomes(client_id: str, data: dict[str, Any]) -> None:
    outcomes.update(data.get("shopperOutcomes", {}))


@events.quitting.add_listener
def print_outcomes(environment: Any, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        print(f"shopper outcomes: {dict(sorted(outcomes.items()))}")


def local_start_s(status: dict[str, Any], asked_at_s: float, answered_at_s: float) -> float | None:
    """The sale's start on this machine's clock, as a countdown page computes it:
    the server's clock is taken to read serverTime mid-request."""
    starts, server = _epoch_s(status.get("startsAt")), _epoch_s(status.get("serverTime"))
    if starts is None:
        return None
    skew_s = 0.0 if server is None else server - (asked_at_s + answered_at_s) / 2
    return starts - skew_s


def pick_sku(status: dict[str, Any], rng: random.Random) -> str | None:
    """The product a shopper asks for: one of a sale of several, evenly; None for
    a sale of one product (or a server without products), which needs no sku."""
    products = status.get("products")
    if not isinstance(products, list):
        return None
    skus = [p["sku"] for p in products if isinstance(p, dict) and p.get("sku")]
    return rng.choice(skus) if len(skus) > 1 else None


def pause_after(http: int, status: str, retry_after: str | None, retries_left: int) -> float | None:
    """Seconds before pressing Buy again, or None when the shopper is done."""
    if status == "not_started":
        return NOT_STARTED_RETRY_S
    if http in (429, 503) and retries_left > 0:
        try:
            wait_s = float(retry_after) if retry_after is not None else 1.0
        except ValueError:
            wait_s = 1.0
        return min(max(wait_s, 0.0), MAX_RETRY_WAIT_S)
    return None


def status_events(lines: list[str]) -> list[dict[str, Any]]:
    """The `status` events among whole SSE lines (blank line ends an event)."""
    found: list[dict[str, Any]] = []
    # The event being read: its name and its data lines.
    name = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if name == "status" and data:
                found.append(json.loads("\n".join(data)))
            name, data = "", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return found


class Shopper(HttpUser):
    wait_time = constant(1)  # once done, the page stays open: an idle task a second

    def on_start(self) -> None:
        self.user_id = f"locust-{RUN_ID}-{next(SHOPPER_IDS)}"
        self.done = False
        self.page: dict[str, Any] = {}
        self.etag: str | None = None
        self.stream: gevent.Greenlet | None = None
        options = self.environment.parsed_options
        # jwt mode: the token names the buyer, the body nobody.
        self.headers: dict[str, str] = {}
        self.body: dict[str, str] = {"userId": self.user_id}
        self.lookup_path = f"{PURCHASE_PATH}/{quote(self.user_id, safe='')}"
        if options is not None and options.jwt_secret:
            self.headers = {"Authorization": f"Bearer {mint_token(options, self.user_id)}"}
            self.body, self.lookup_path = {}, f"{PURCHASE_PATH}/me"

    def on_stop(self) -> None:
        if self.stream is not None:
            self.stream.kill(block=False)

    @task
    def shop(self) -> None:
        if self.done:
            return
        self.done = True
        options = self.environment.parsed_options
        self.open_page(options)
        self.wait_for_start(options)
        order_id = self.buy(options)
        self.look_up(order_id)

    def open_page(self, options: Any) -> None:
        asked = time.time()
        answer = self.client.get(STATUS_PATH, name="GET status (page load)")
        if answer.status_code == 200:
            self.page = answer.json()
            self.page["_localStart"] = local_start_s(self.page, asked, time.time())
            self.etag = answer.headers.get("ETag")
            sku = pick_sku(self.page, random.Random(self.user_id))
            if sku is not None:
                self.body = {**self.body, "sku": sku}
        if options.watch_events:
            self.stream = gevent.spawn(self.watch)

    def watch(self) -> None:
        """The page's event stream: the latest status, until the run ends. Locust
        times the stream's opening; a stream the server ends is not reopened."""
        answer = self.client.get(
            EVENTS_PATH,
            name="GET events (stream open)",
            stream=True,
            timeout=(REQUEST_TIMEOUT_S, None),
        )
        lines: list[str] = []
        try:
            if answer.status_code != 200:
                return
            for line in answer.iter_lines(decode_unicode=True):
                lines.append(line or "")
                if not line:
                    for status in status_events(lines):
                        self.page.update(status)
                    lines = []
        except (requests.RequestException, ValueError):
            return
        finally:
            answer.close()

    def wait_for_start(self, options: Any) -> None:
        """The countdown: poll the status (If-None-Match) until the start."""
        while self.page.get("state") == "upcoming":
            start = self.page.get("_localStart")
            now = time.time()
            if start is None or start <= now:
                return
            if start - now <= options.poll_interval:
                gevent.sleep(start - now)
                return
            gevent.sleep(options.poll_interval)
            asked = time.time()
            headers = {"If-None-Match": self.etag} if self.etag else {}
            answer = self.client.get(STATUS_PATH, headers=headers, name="GET status (countdown)")
            if answer.status_code == 200:
                self.page.update(answer.json())
                self.page["_localStart"] = local_start_s(self.page, asked, time.time())
                self.etag = answer.headers.get("ETag")

    def buy(self, options: Any) -> str | None:
        """Press Buy until a final answer; the order id of a 201 or 409."""
        retries_left = options.max_retries
        for _ in range(NOT_STARTED_ATTEMPTS + options.max_retries):
            with self.client.post(
                PURCHASE_PATH,
                json=self.body,
                headers=self.headers,
                name="POST purchase",
                catch_response=True,
            ) as answer:
                body = _json(answer)
                status = str(body.get("outcome") or f"http_{answer.status_code}")
                if answer.status_code in PURCHASE_ANSWERS:
                    answer.success()
                else:
                    answer.failure(f"{answer.status_code}: {body.get('title') or status}")
            outcomes[status] += 1
            if answer.status_code in (201, 409):
                return body.get("orderId")
            pause = pause_after(
                answer.status_code, status, answer.headers.get("Retry-After"), retries_left
            )
            if pause is None:
                return None
            if answer.status_code in (429, 503):
                retries_left -= 1
            gevent.sleep(pause)
        return None

    def look_up(self, order_id: str | None) -> None:
        with self.client.get(
            self.lookup_path,
            headers=self.headers,
            name="GET purchase/[userId]",
            catch_response=True,
        ) as answer:
            found = _json(answer).get("orderId") if answer.status_code == 200 else None
            if answer.status_code not in (200, 404):
                answer.failure(f"look-up answered {answer.status_code}")
            elif order_id is not None and found != order_id:
                answer.failure(f"bought order {order_id}, the look-up has {found}")
            else:
                answer.success()


def _json(answer: Any) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _epoch_s(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
