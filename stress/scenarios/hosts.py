"""A flash sale over several hosts of one Redis (FLASHSALE_ENGINE=redis): which
host each shopper buys on, waiting until every host shows the sale, every
host's final status, and each host's own figures.

Spreading is fixed, not drawn: shopper i (in the order of the plans) buys on
host i mod N, the hosts numbered in the order of `--url` on the command line.
With `--two-hosts-each` shopper i buys on hosts i mod N and (i + 1) mod N at
the same instant: two attempts of one person racing each other through two
allocators, of which Redis must let at most the per-user limit win.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from stress.api_client import Api, ApiError
from stress.records import Record
from stress.scenarios.plans import UserPlan
from stress.stats import latency_summary_ms
from stress.verdicts.server_usage import server_cpu_s

# Each host follows Redis every 0.2 s (flashsale/redis_engine/decisions.py):
# a second is five chances, and these bounds leave room for a loaded machine.
SALE_VISIBLE_TIMEOUT_S = 10.0
STATUS_SETTLE_TIMEOUT_S = 5.0
POLL_S = 0.05


def spread_over_hosts(plans: list[UserPlan], hosts: int, *, two_each: bool) -> list[UserPlan]:
    """The plans with the hosts each shopper buys on: shopper i on host i mod `hosts`,
    and with `two_each` also on host (i + 1) mod `hosts`, at once."""
    if hosts < 1:
        raise ValueError("at least one host")
    if two_each and hosts < 2:
        raise ValueError("buying on two hosts at once needs at least two hosts")
    if hosts == 1:
        return plans
    spread = []
    for i, plan in enumerate(plans):
        mine = (i % hosts, (i + 1) % hosts) if two_each else (i % hosts,)
        spread.append(replace(plan, hosts=mine))
    return spread


def spread_phrase(hosts: int, two_each: bool) -> str:
    if two_each:
        return f"shopper i buys on hosts i mod {hosts} and i+1 mod {hosts} at once"
    return f"shopper i buys on host i mod {hosts}"


def wait_for_sale(apis: Sequence[Api], sale_id: str | None) -> list[dict[str, Any]]:
    """Until every host's status shows the same sale (`sale_id` when known); the
    statuses. ApiError when they still differ after SALE_VISIBLE_TIMEOUT_S."""
    deadline = time.monotonic() + SALE_VISIBLE_TIMEOUT_S
    while True:
        statuses = [api.status() for api in apis]
        seen = [_text(status.get("saleId")) for status in statuses]
        wanted = sale_id if sale_id is not None else seen[0]
        if all(one == wanted for one in seen):
            return statuses
        if time.monotonic() > deadline:
            raise ApiError(
                f"the hosts do not show one sale after {SALE_VISIBLE_TIMEOUT_S:g} s: "
                + ", ".join(
                    f"{api.base_url} sale {one}" for api, one in zip(apis, seen, strict=True)
                )
            )
        time.sleep(POLL_S)


def settled_statuses(apis: Sequence[Api]) -> list[dict[str, Any]]:
    """Every host's status, once they all show the same sold counts (or after
    STATUS_SETTLE_TIMEOUT_S: the verdict then says where they differ)."""
    deadline = time.monotonic() + STATUS_SETTLE_TIMEOUT_S
    while True:
        statuses = [api.status() for api in apis]
        if len({stock_view(status) for status in statuses}) == 1:
            return statuses
        if time.monotonic() > deadline:
            return statuses
        time.sleep(POLL_S)


def stock_view(status: dict[str, Any]) -> tuple[Any, ...]:
    """What every host of one Redis must show alike: the sale, its totals, each product's."""
    products = tuple(
        (p.get("sku"), p.get("sold"), p.get("remaining"), p.get("total"))
        for p in status.get("products") or ()
        if isinstance(p, dict)
    )
    return (
        _text(status.get("saleId")),
        status.get("sold"),
        status.get("remaining"),
        status.get("total"),
        products,
    )


def host_figures(
    records: list[Record],
    urls: Sequence[str],
    metrics_before: Sequence[dict[str, Any] | None],
    metrics_after: Sequence[dict[str, Any] | None],
) -> list[dict[str, Any]]:
    """Per host: its purchase requests, their outcomes and latency, its server's CPU."""
    figures = []
    for index, url in enumerate(urls):
        purchases = [r for r in records if r.kind == "purchase" and r.host == index]
        outcomes: dict[str, int] = {}
        for record in purchases:
            outcomes[record.outcome] = outcomes.get(record.outcome, 0) + 1
        figures.append(
            {
                "host": index,
                "url": url,
                "purchaseRequests": len(purchases),
                "requests": sum(1 for r in records if r.host == index),
                "outcomes": dict(sorted(outcomes.items())),
                "latencyMs": latency_summary_ms(r.latency_ns for r in purchases),
                "serverCpuS": server_cpu_s(metrics_before[index], metrics_after[index]),
            }
        )
    return figures


def servers_cpu_s(
    before: Sequence[dict[str, Any] | None], after: Sequence[dict[str, Any] | None]
) -> float | None:
    """CPU seconds of every host's processes between the readings; None if one is unknown."""
    spent = [server_cpu_s(b, a) for b, a in zip(before, after, strict=True)]
    if any(one is None for one in spent):
        return None
    return round(sum(one for one in spent if one is not None), 2)


def host_lines(hosts: list[dict[str, Any]], phrase: str) -> list[str]:
    lines = [
        f"HOSTS ({phrase})",
        "  host url                         requests    p50 ms    p99 ms  server CPU s  outcomes",
    ]
    for host in hosts:
        latency = host["latencyMs"]
        cpu = host["serverCpuS"]
        lines.append(
            f"  {host['host']:>4} {host['url']:<26} {host['purchaseRequests']:>9} "
            f"{_num(latency['p50']):>9} {_num(latency['p99']):>9} {_num(cpu):>13}  "
            f"{host['outcomes']}"
        )
    return lines


def _num(value: object) -> str:
    return "-" if value is None else str(value)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
