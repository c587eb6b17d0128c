"""The verdict's checks of a sale over several hosts of one Redis: pure functions
over the records (each naming its host), every host's look-ups and final status.

The single-host verdict (stress.verdicts.verdict) judges the whole run with the first
host's look-ups and status; these add what only several hosts can get wrong:
hosts that show different stock, a sale one host cannot see, and a person who
holds more than the limit because two hosts each sold to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from stress.records import Record
from stress.scenarios.hosts import stock_view
from stress.verdicts.check import Check, examples
from stress.verdicts.orders import LookupResult


def host_checks(
    records: list[Record],
    lookups_by_host: Sequence[dict[str, LookupResult]],
    statuses: Sequence[dict[str, Any]],
    urls: Sequence[str],
    per_user_limit: int,
) -> list[Check]:
    return [
        statuses_agree(statuses, urls),
        confirmed_on_every_host(records, lookups_by_host, urls),
        lookups_agree(lookups_by_host, urls),
        limit_across_hosts(records, lookups_by_host, per_user_limit),
    ]


def statuses_agree(statuses: Sequence[dict[str, Any]], urls: Sequence[str]) -> Check:
    """Every host shows what the first shows: sale id, sold, remaining, total, and
    each product's."""
    first = stock_view(statuses[0])
    differ = [
        f"host {i} ({urls[i]}): {_shown(status)} against host 0's {_shown(statuses[0])}"
        for i, status in enumerate(statuses)
        if stock_view(status) != first
    ]
    return Check(
        "every host's status agrees",
        not differ,
        f"{len(statuses)} hosts"
        + (
            f", {len(differ)} differ" + examples(differ)
            if differ
            else f" show {_shown(statuses[0])}"
        ),
    )


def confirmed_on_every_host(
    records: list[Record], lookups_by_host: Sequence[dict[str, LookupResult]], urls: Sequence[str]
) -> Check:
    """Each 201, whichever host answered it, is in every host's look-up of its user."""
    missing: list[str] = []
    per_host = [0] * len(lookups_by_host)
    confirmed = [r for r in records if r.kind == "purchase" and r.http == 201 and r.order_id]
    for record in confirmed:
        for index, lookups in enumerate(lookups_by_host):
            lookup = lookups.get(record.user)
            held = {order.order_id for order in lookup.held()} if lookup else set()
            if record.order_id not in held:
                per_host[index] += 1
                seen = (
                    "not looked up" if lookup is None else f"look-up {lookup.http} {sorted(held)}"
                )
                missing.append(
                    f"{record.user}: 201 {record.order_id} on host {record.host}, "
                    f"host {index} ({urls[index]}) {seen}"
                )
    counts = ", ".join(f"host {i} misses {n}" for i, n in enumerate(per_host))
    return Check(
        "every 201 in every host's look-up",
        not missing,
        f"{len(confirmed)} confirmed; {counts}" + examples(missing),
    )


def lookups_agree(lookups_by_host: Sequence[dict[str, LookupResult]], urls: Sequence[str]) -> Check:
    """Every host lists the same orders for each user (none, or the same ids)."""
    users = sorted({user for lookups in lookups_by_host for user in lookups})
    differ = []
    for user in users:
        seen = [_order_ids(lookups.get(user)) for lookups in lookups_by_host]
        if any(ids != seen[0] for ids in seen[1:]):
            differ.append(
                f"{user}: " + "; ".join(f"host {i} {sorted(ids)}" for i, ids in enumerate(seen))
            )
    return Check(
        "every host's look-ups agree",
        not differ,
        f"{len(users)} users looked up on {len(lookups_by_host)} hosts, {len(differ)} differ"
        + examples(differ),
    )


def limit_across_hosts(
    records: list[Record], lookups_by_host: Sequence[dict[str, LookupResult]], per_user_limit: int
) -> Check:
    """One person, one limit, whichever hosts sold: the orders of every 201 and of
    every host's look-up, per user."""
    held: dict[str, set[str]] = defaultdict(set)
    hosts_of: dict[str, set[int]] = defaultdict(set)
    for record in records:
        if record.kind == "purchase" and record.http == 201 and record.order_id:
            held[record.user].add(record.order_id)
            hosts_of[record.user].add(record.host)
    for lookups in lookups_by_host:
        for user, lookup in lookups.items():
            held[user] |= _order_ids(lookup)
    over = {user: ids for user, ids in held.items() if len(ids) > per_user_limit}
    return Check(
        f"nobody over the per-user limit ({per_user_limit}) across hosts",
        not over,
        f"{len(over)} users over the limit"
        + examples(
            f"{user}: {sorted(ids)} (201 from hosts {sorted(hosts_of.get(user, ()))})"
            for user, ids in over.items()
        ),
    )


def _order_ids(lookup: LookupResult | None) -> set[str]:
    return set() if lookup is None else {order.order_id for order in lookup.held()}


def _shown(status: dict[str, Any]) -> str:
    text = (
        f"sale {status.get('saleId')} sold {status.get('sold')} remaining "
        f"{status.get('remaining')} of {status.get('total')}"
    )
    products = [p for p in status.get("products") or () if isinstance(p, dict)]
    if len(products) > 1:
        text += (
            " ("
            + ", ".join(f"{p.get('sku')} {p.get('sold')}/{p.get('total')}" for p in products)
            + ")"
        )
    return text
