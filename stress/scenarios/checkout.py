"""`python -m stress flash --hold-seconds S`: a flash sale with checkout holds.

The toolkit makes the sale with `checkout` (admin token), releases every shopper at
once, and each one plays a buyer's part on a connection of its own (asyncio, one
process: a few thousand shoppers mostly wait):
- a winner (201, outcome held) waits its payment delay and confirms with its
  checkoutToken, or abandons (never pays), or pays late (after expiresAt + a delay);
- a sold-out shopper (410) joins the waitlist while it is open and polls its entry
  (GET /flash-sale/waitlist/{sku} with its waitlistToken); an offered hold is then
  paid, abandoned or paid late as a winner's.
Meanwhile the status is sampled (held, sold). The run settles when no hold is left
and no shopper is paying; then every shopper is looked up for its orders' final states
and waitlist entries, the webhooks (with --webhook-receiver) are awaited, and
stress.verdicts.checkout judges.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from stress.api import iso_to_ns
from stress.client.wire import WIRE_ERRORS, Answer, HttpConnection, connect, request_bytes
from stress.runs import new_run_id
from stress.scenarios.pay_delay import PayDelay
from stress.stats import percentile
from stress.verdicts.check import Check
from stress.verdicts.checkout import (
    Delivery,
    FinalOrder,
    Payment,
    Sample,
    WaitEntry,
    confirmed_within_stock,
    every_unit_settled,
    live_within_stock,
    payments_answered,
    waitlist_in_order,
    webhooks_complete,
)

SAMPLE_EVERY_S = 0.05
WAITLIST_POLL_S = 0.5
REQUEST_TIMEOUT_S = 15.0
# After the last hold settled, webhooks still on their way get this long to arrive.
WEBHOOK_SETTLE_S = 30.0


@dataclass(frozen=True)
class CheckoutOptions:
    url: str
    admin_token: str
    users: int = 300
    stock: int = 50
    hold_s: int = 5
    extend_s: int = 0
    pay_delay: PayDelay = field(default_factory=lambda: PayDelay("fixed", 1.0))
    abandon_rate: float = 0.33
    late_rate: float = 0.1
    seed: int = 1
    max_run_s: float = 300.0  # the whole run, bounded
    webhook_secret: str | None = None  # with a receiver: its key (whsec_...)
    webhook_port: int = 0


@dataclass
class Shopper:
    user: str
    rng: random.Random
    outcome: str = ""  # of its purchase: held, sold_out, ...
    joined: bool = False
    offered: bool = False
    behaviour: list[str] = field(default_factory=list)  # per hold: pay, abandon, late


@dataclass
class CheckoutResult:
    checks: list[Check]
    figures: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


class Client:
    """One shopper's keep-alive connection; a new one when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.hostport = f"{host}:{port}"
        self._conn: HttpConnection | None = None

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> Answer:
        import orjson

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = orjson.dumps(body)
        request = request_bytes(method, path, self.hostport, body=payload, headers=headers)
        for attempt in range(2):
            if self._conn is None or not self._conn.is_open:
                self._conn = await connect(self.host, self.port)
            try:
                return await asyncio.wait_for(self._conn.exchange(request), REQUEST_TIMEOUT_S)
            except WIRE_ERRORS:
                self._conn.abort()
                self._conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class Run:
    def __init__(self, options: CheckoutOptions) -> None:
        self.options = options
        parts = urlsplit(options.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.run_id = new_run_id()
        self.release = asyncio.Event()
        self.stop = asyncio.Event()
        self.paying = 0  # shoppers holding a unit and not done with it
        self.payments: list[Payment] = []
        self.samples: list[Sample] = []
        self.answers: Counter[str] = Counter()
        self.delays: list[float] = []
        self.started = 0.0

    def client(self) -> Client:
        return Client(self.host, self.port)

    async def shopper(self, shopper: Shopper) -> None:
        client = self.client()
        try:
            await self.release.wait()
            answer = await client.call("POST", "/flash-sale/purchase", {"userId": shopper.user})
            body = answer.json()
            shopper.outcome = str(body.get("outcome") or answer.status)
            self.answers[f"purchase {answer.status} {shopper.outcome}"] += 1
            if answer.status == 201 and body.get("checkoutToken"):
                await self.hold(client, shopper, body)
            elif answer.status == 410 and (body.get("waitlist") or {}).get("open"):
                await self.wait_in_line(client, shopper, str(body.get("sku") or ""))
        finally:
            client.close()

    async def hold(self, client: Client, shopper: Shopper, hold: dict[str, Any]) -> None:
        """Pay, abandon or pay late, as drawn for this hold."""
        self.paying += 1
        try:
            draw = shopper.rng.random()
            options = self.options
            kind = (
                "abandon"
                if draw < options.abandon_rate
                else "late"
                if draw < options.abandon_rate + options.late_rate
                else "pay"
            )
            shopper.behaviour.append(kind)
            if kind == "abandon":
                return
            delay = options.pay_delay.draw(shopper.rng)
            self.delays.append(delay)
            expires_s = (iso_to_ns(hold.get("expiresAt")) or 0) / 1e9
            at = time.time() + delay if kind == "pay" else expires_s + delay
            await asyncio.sleep(max(0.0, at - time.time()))
            order_id = str(hold["orderId"])
            sent = time.time()
            answer = await client.call(
                "POST",
                f"/flash-sale/orders/{order_id}/confirm",
                {"paymentRef": f"pay-{order_id[:40]}"},
                token=str(hold["checkoutToken"]),
            )
            body = answer.json()
            self.answers[f"confirm {kind} {answer.status}"] += 1
            self.payments.append(
                Payment(
                    order_id,
                    str(hold.get("sku") or ""),
                    sent,
                    expires_s,
                    answer.status,
                    body.get("type") if answer.status != 200 else None,
                    bool(body.get("refundRequired")),
                )
            )
        finally:
            self.paying -= 1

    async def wait_in_line(self, client: Client, shopper: Shopper, sku: str) -> None:
        body: dict[str, Any] = {"userId": shopper.user, **({"sku": sku} if sku else {})}
        joined = await client.call("POST", "/flash-sale/waitlist", body)
        entry = joined.json()
        self.answers[f"waitlist join {joined.status}"] += 1
        if joined.status not in (200, 201):
            return
        shopper.joined = True
        token, sku = str(entry["waitlistToken"]), str(entry["sku"])
        while not self.stop.is_set():
            seen = await client.call("GET", f"/flash-sale/waitlist/{sku}", token=token)
            state = seen.json()
            if state.get("state") == "offered" and isinstance(state.get("hold"), dict):
                shopper.offered = True
                self.answers["waitlist offered"] += 1
                hold = {"sku": sku, **state["hold"]}
                if hold.get("state") == "held" and hold.get("checkoutToken"):
                    await self.hold(client, shopper, hold)
                return
            if state.get("state") == "closed":
                self.answers["waitlist closed"] += 1
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), WAITLIST_POLL_S)

    async def sample(self) -> None:
        client = self.client()
        try:
            while not self.stop.is_set():
                answer = await client.call("GET", "/flash-sale/status")
                status = answer.json()
                self.samples.append(
                    Sample(
                        time.monotonic() - self.started,
                        int(status.get("sold") or 0),
                        int(status.get("held") or 0),
                    )
                )
                await asyncio.sleep(SAMPLE_EVERY_S)
        finally:
            client.close()

    async def play(self, shoppers: list[Shopper]) -> float:
        """Release everyone; return the seconds until the run settled."""
        tasks = [asyncio.create_task(self.shopper(s)) for s in shoppers]
        await asyncio.sleep(0.5)  # every coroutine waits on the release
        self.started = time.monotonic()
        sampler = asyncio.create_task(self.sample())
        self.release.set()
        deadline = self.started + self.options.max_run_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            settled = all(s.outcome for s in shoppers) and self.paying == 0
            if settled and self.samples and self.samples[-1].held == 0:
                break
        wall = time.monotonic() - self.started
        self.stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(SAMPLE_EVERY_S * 2)  # one sample after the stop
        await sampler
        return wall


def start_checkout_sale(options: CheckoutOptions) -> dict[str, Any]:
    from stress.api_client import Api, ApiError

    api = Api(options.url, options.admin_token)
    try:
        import json

        from stress.api import ADMIN_SALES_PATH, JSON_HEADERS, REPLACE_CURRENT_SALE

        body = {
            "stock": options.stock,
            "perUserLimit": 1,
            "checkout": {"holdSeconds": options.hold_s, "extendSeconds": options.extend_s},
        }
        answer = api.session.post(
            api.base_url + ADMIN_SALES_PATH,
            data=json.dumps(body),
            headers={
                **JSON_HEADERS,
                **REPLACE_CURRENT_SALE,
                "Authorization": f"Bearer {options.admin_token}",
            },
            timeout=10,
        )
        if answer.status_code not in (200, 201):
            raise ApiError(f"POST {ADMIN_SALES_PATH}: {answer.status_code} {answer.text[:300]}")
        sale: dict[str, Any] = answer.json()
        return sale
    finally:
        api.close()


async def _lookups(run: Run, users: list[str]) -> list[dict[str, Any]]:
    client = run.client()
    found = []
    try:
        for user in users:
            answer = await client.call("GET", f"/flash-sale/purchase/{user}")
            if answer.status == 200:
                found.append(answer.json())
    finally:
        client.close()
    return found


def run_checkout(options: CheckoutOptions) -> CheckoutResult:
    receiver = None
    if options.webhook_secret:
        from stress.servers.webhook_receiver import WebhookReceiver

        receiver = WebhookReceiver(options.webhook_secret, port=options.webhook_port)
        receiver.start()
    try:
        return _run(options, receiver)
    finally:
        if receiver is not None:
            receiver.stop()


def _run(options: CheckoutOptions, receiver: Any) -> CheckoutResult:
    sale = start_checkout_sale(options)
    run = Run(options)
    rng = random.Random(options.seed)

    async def main() -> tuple[float, list[dict[str, Any]]]:
        shoppers = [
            Shopper(f"{run.run_id}-s{i:05d}", random.Random(rng.random()))
            for i in range(options.users)
        ]
        wall = await run.play(shoppers)
        users = [s.user for s in shoppers if s.outcome == "held" or s.joined]
        return wall, await _lookups(run, users)

    wall, looked = asyncio.run(main())
    orders, entries = _final_states(looked)
    stock = {str(p.get("sku")): int(p.get("stock") or 0) for p in sale.get("products") or []}
    if not stock:
        stock = {orders[0].sku if orders else "": options.stock}
    states = {order.order_id: order.state for order in orders}
    final = run.samples[-1] if run.samples else None
    checks = [
        confirmed_within_stock(orders, stock),
        live_within_stock(run.samples, sum(stock.values())),
        every_unit_settled(orders, final),
        payments_answered(run.payments, states),
        waitlist_in_order(entries, {order.order_id: order.position for order in orders}),
    ]
    figures: dict[str, Any] = {
        "saleId": sale.get("saleId"),
        "shoppers": options.users,
        "stock": sum(stock.values()),
        "holdSeconds": options.hold_s,
        "payDelay": options.pay_delay.describe(),
        "settledAfterS": round(wall, 2),
        "answers": dict(sorted(run.answers.items())),
        "orders": dict(Counter(order.state for order in orders)),
        "waitlist": dict(Counter(entry.state for entry in entries)),
        "peakHeld": max((s.held for s in run.samples), default=0),
        "samples": len(run.samples),
        "series": {
            "t": [round(s.at_s, 3) for s in run.samples],
            "sold": [s.sold for s in run.samples],
            "held": [s.held for s in run.samples],
            "stock": sum(stock.values()),
        },
        "payDelayS": {
            "p50": _round(percentile(sorted(run.delays), 0.5)),
            "p90": _round(percentile(sorted(run.delays), 0.9)),
            "max": _round(max(run.delays, default=None)),
        },
    }
    if receiver is not None:
        offered = [entry for entry in entries if entry.state == "offered"]
        deliveries = _await_webhooks(receiver, orders, offered)
        check, webhook_figures = webhooks_complete(deliveries, orders, offered, receiver.counts)
        checks.append(check)
        figures["webhooks"] = webhook_figures
    return CheckoutResult(checks, figures)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _await_webhooks(
    receiver: Any, orders: list[FinalOrder], offered: list[WaitEntry]
) -> list[Delivery]:
    """What arrived, once every implied event did or WEBHOOK_SETTLE_S passed."""
    deadline = time.monotonic() + WEBHOOK_SETTLE_S
    while True:
        deliveries = [
            Delivery(a.webhook_id, a.type, a.data.get("orderId")) for a in receiver.received()
        ]
        check, _ = webhooks_complete(deliveries, orders, offered, receiver.counts)
        if check.ok or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.2)


def _final_states(looked: list[dict[str, Any]]) -> tuple[list[FinalOrder], list[WaitEntry]]:
    orders: list[FinalOrder] = []
    entries: list[WaitEntry] = []
    for one in looked:
        user = str(one.get("userId"))
        for order in one.get("orders") or []:
            orders.append(
                FinalOrder(
                    str(order["orderId"]),
                    user,
                    str(order.get("sku")),
                    int(order.get("position") or 0),
                    str(order.get("state") or "confirmed"),
                )
            )
        for entry in one.get("waitlist") or []:
            entries.append(
                WaitEntry(
                    user,
                    str(entry.get("sku")),
                    int(entry.get("place") or 0),
                    str(entry.get("state")),
                    entry.get("orderId"),
                )
            )
    return orders, entries


def format_checkout(result: CheckoutResult) -> str:
    lines = ["checkout flash sale: " + ("PASSED" if result.ok else "FAILED")]
    for check in result.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    f = result.figures
    lines.append(
        f"  {f['shoppers']} shoppers, stock {f['stock']}, holds {f['holdSeconds']} s, "
        f"pay delay {f['payDelay']}; settled after {f['settledAfterS']} s; "
        f"peak held {f['peakHeld']}"
    )
    lines.append("  orders: " + ", ".join(f"{n} {k}" for k, n in sorted(f["orders"].items())))
    lines.append("  waitlist: " + ", ".join(f"{n} {k}" for k, n in sorted(f["waitlist"].items())))
    lines.append("  answers: " + ", ".join(f"{k}: {n}" for k, n in f["answers"].items()))
    if "webhooks" in f:
        lines.append("  webhooks: " + ", ".join(f"{k} {n}" for k, n in f["webhooks"].items()))
    return "\n".join(lines)
