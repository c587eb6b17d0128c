"""`python -m stress flash`: prepare the sale, run a scenario, look up every
order, judge and write the report (its terminal page: stress.report.summary)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stress.api import iso_to_ns, parse_iso, str_or_none
from stress.api_client import Api, ApiError
from stress.benchmarks.ceiling import CeilingOptions, CeilingResult, measure_ceiling
from stress.client.load import LoadResult, run_load
from stress.runs import new_run_id
from stress.scenarios.hosts import (
    host_figures,
    servers_cpu_s,
    settled_statuses,
    spread_over_hosts,
    spread_phrase,
    wait_for_sale,
)
from stress.scenarios.identity import Minter, SigningKey
from stress.scenarios.lookups import lookup_all
from stress.scenarios.operator import Operator, PausePlan
from stress.scenarios.plans import ScenarioOptions, UserPlan, build_plans
from stress.scenarios.products import ProductDemand, demand_for, sale_products, with_skus
from stress.verdicts.figures import compute_figures
from stress.verdicts.host_verdict import host_checks
from stress.verdicts.orders import LookupResult
from stress.verdicts.pages import SOLD_OUT_WITHIN_MS, last_sale, page_checks, page_figures
from stress.verdicts.pause import judge_pause
from stress.verdicts.product_verdict import products_of_status
from stress.verdicts.server_usage import per_request_us, server_cpu_s
from stress.verdicts.spread import AT_ONE_INSTANT, SPREAD_WARNING_MS, not_a_burst, release_spread
from stress.verdicts.verdict import SaleFacts, Verdict, judge

SETTLE_AFTER_PENDING_S = 1.0


@dataclass(frozen=True)
class FlashOptions:
    url: str = "http://127.0.0.1:8000"
    users: int = 5000
    stock: int | None = 100
    # Shoppers' client processes: measured on 2 cores, 4 released 5,000 shoppers
    # within 55-84 ms, 2 within 68-98 ms and 8 within 51-119 ms.
    processes: int = 4
    admin_token: str | None = None
    report_dir: Path | None = None
    scenario: ScenarioOptions = field(default_factory=ScenarioOptions)
    per_user_limit: int = 1
    timeout_s: float = 30.0
    # Every shopper there at the release has its page open, hence its connection.
    page_open: bool = True
    watchers: int = 0  # open pages holding an event stream through the run
    watcher_processes: int = 2  # client processes of their own (0: the shoppers')
    concurrency: int | None = None
    poll_interval_s: float = 2.0
    start_lead_s: float = 5.0
    rate_limit_per_min: int = 10
    fairness_tolerance_ms: float = 1000.0
    spread_warning_ms: float = SPREAD_WARNING_MS  # first attempts spread wider: "not a burst"
    sold_out_within_ms: float = SOLD_OUT_WITHIN_MS  # every page shows sold_out this soon
    progress: bool = True
    ceiling: CeilingOptions | None = None  # measure the ceiling on the same server after
    # jwt mode (FLASHSALE_AUTH=jwt): sign one token per shopper with this key
    signing: SigningKey | None = None
    # The demand mix over the sale's products (stress.scenarios.products); () for the default:
    # no sku to a sale of one product, the products evenly to a sale of several.
    products: tuple[ProductDemand, ...] = ()
    seed: int = 1  # of the draw of each shopper's sku
    # Several hosts of one Redis (FLASHSALE_ENGINE=redis): every host's URL, `url`
    # first (the admin calls go there); () for `url` alone. Shoppers are spread
    # over them (stress.scenarios.hosts); `two_hosts_each`: each buys on two hosts at once.
    hosts: tuple[str, ...] = ()
    two_hosts_each: bool = False
    # The operator pauses the sale this long after the release and resumes it
    # (stress.scenarios.operator; needs admin_token); None: no pause.
    pause: PausePlan | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        return self.hosts or (self.url,)


@dataclass
class FlashResult:
    verdict: Verdict
    figures: dict[str, Any]
    report: dict[str, Any]
    ceiling: CeilingResult | None = None

    @property
    def ok(self) -> bool:
        return self.verdict.ok and (self.ceiling is None or self.ceiling.ok)


def run_flash(options: FlashOptions) -> FlashResult:
    run_id = new_run_id()
    urls = options.urls
    several = len(urls) > 1
    api = Api(urls[0], options.admin_token)
    # The other hosts: only read (status, metrics, look-ups); the sale is made on the first.
    apis = [api, *(Api(url) for url in urls[1:])]
    try:
        status_before = api.status()
        auth_mode = _auth_mode(status_before, options.signing)
        metrics_before_all = [one.metrics() for one in apis]
        metrics_before = metrics_before_all[0]
        sale, facts = _prepare_sale(api, options, status_before)
        facts = replace(facts, auth_mode=auth_mode)
        if several:  # each host follows Redis within a second: release on one sale
            wait_for_sale(apis, facts.sale_id)
        # Before the release: a sku the sale does not have stops the run here.
        mix = demand_for(options.products, [product.sku for product in facts.products])
        scenario = replace(
            options.scenario, users=options.users, bots_claim_others=options.signing is not None
        )
        # Tokens are minted here, before any client process starts: never on the clock.
        plans = with_skus(build_plans(scenario, run_id), mix, options.seed)
        plans, tokens = _signed(plans, options.signing)
        plans = spread_over_hosts(plans, len(urls), two_each=options.two_hosts_each)
        operator = _operator(options, facts)
        started_at = datetime.now(UTC).isoformat()
        load_before = os.getloadavg()[0]
        opened: list[list[dict[str, Any] | None]] = []
        try:
            load = run_load(
                list(urls),
                plans,
                processes=options.processes,
                pages=options.watchers,
                page_processes=options.watcher_processes,
                concurrency=options.concurrency,
                timeout_s=options.timeout_s,
                page_open=options.page_open,
                poll_interval_s=options.poll_interval_s,
                progress=options.progress,
                before_release=lambda: opened.append([one.metrics() for one in apis]),
                on_release=operator.start if operator else None,
                extra_s=options.pause.span_s if options.pause else 0.0,
            )
        except BaseException:
            if operator is not None:  # no call the run will not judge
                operator.cancel()
            raise
        finally:
            calls = operator.finish() if operator else []
        metrics_opened_all = opened[0] if opened else metrics_before_all
        metrics_opened = metrics_opened_all[0]
        # Before the look-ups add their own load.
        metrics_loaded_all = [one.metrics() for one in apis]
        metrics_loaded = metrics_loaded_all[0]
        if any(r.http == 202 for r in load.records):
            time.sleep(SETTLE_AFTER_PENDING_S)  # let in-flight purchases settle before looking up
        buyers = sorted({r.user for r in load.records if r.kind == "purchase"})
        lookups_by_host = [lookup_all(url, buyers, tokens) for url in urls]
        lookups = lookups_by_host[0]
        statuses = settled_statuses(apis) if several else [api.status()]
        status_after = statuses[0]
        metrics_after = api.metrics()
        # The server's record, read after the look-ups: every order and the audit trail.
        server_orders = api.orders(facts.sale_id) if operator and facts.sale_id else []
        audit = api.audit() if operator else []
    finally:
        for one in apis:
            one.close()

    facts = replace(facts, status_after=status_after)
    verdict = judge(load.records, lookups, facts)
    if several:
        verdict.checks += host_checks(
            load.records, lookups_by_host, statuses, urls, facts.per_user_limit
        )
    verdict.warnings.extend(f"client: {note}" for note in load.notes)
    figures = compute_figures(load.records)
    _judge_release(options, facts, load, verdict, figures)
    _judge_pages(options, load, lookups, status_after, verdict, figures)
    if operator is not None:
        _judge_operator(load, calls, audit, server_orders, facts, verdict, figures)
    # From the release on: opening the pages and connections is counted apart.
    server_cpu = server_cpu_s(metrics_opened, metrics_loaded)
    opening_cpu = server_cpu_s(metrics_before, metrics_opened)
    if several:  # the server is every host
        figures["hosts"] = host_figures(load.records, urls, metrics_opened_all, metrics_loaded_all)
        server_cpu = servers_cpu_s(metrics_opened_all, metrics_loaded_all)
        opening_cpu = servers_cpu_s(metrics_before_all, metrics_opened_all)
    report: dict[str, Any] = {
        "run": {
            "runId": run_id,
            "startedAt": started_at,
            "url": urls[0],
            "scenario": asdict(scenario),
            "auth": options.signing.describe() if options.signing else {"mode": "open"},
            "users": options.users,
            "demand": {
                "products": [{"sku": p.sku, "weight": p.weight} for p in mix],
                "seed": options.seed,
                # weights: --products; even: over a sale's several products; none: no sku
                "mix": "weights" if options.products else "even" if mix else "none",
            },
            "processes": load.processes,
            "client": "asyncio on uvloop, stress/client/wire.py (httptools)",
            "shoppersPerProcess": load.shoppers_per_process,
            "pagesPerProcess": load.pages_per_process,
            "pageOpen": options.page_open,
            "watchers": options.watchers,
            "openBeforeReleaseS": load.open_s,
            "spreadWarningMs": options.spread_warning_ms,
            "soldOutWithinMs": options.sold_out_within_ms,
            "concurrency": options.concurrency,
            "timeoutS": options.timeout_s,
            "clientNotes": load.notes,
            "clientCpuS": round(load.client_cpu_s, 2),
            "clientCpuPerRequestUs": per_request_us(load.client_cpu_s, len(load.records)),
            "serverCpuS": server_cpu,
            "serverCpuPerRequestUs": per_request_us(server_cpu, len(load.records)),
            "serverCpuOpeningS": opening_cpu,
            "loadWallS": round((load.finished_ns - load.release_ns) / 1e9, 2),
            # Other work on the host skews every figure: say how busy it was.
            "hostLoadAverage1m": {
                "before": round(load_before, 2),
                "after": round(os.getloadavg()[0], 2),
                "cores": os.cpu_count(),
            },
        },
        "sale": {
            "created": sale,
            "statusBefore": status_before,
            "statusAfter": status_after,
            "facts": {k: v for k, v in asdict(facts).items() if k != "status_after"},
        },
        "verdict": verdict.to_dict(),
        "figures": figures,
        "serverMetrics": {"before": metrics_before, "after": metrics_after},
    }
    if several:
        report["run"]["hosts"] = {
            "urls": list(urls),
            "spread": spread_phrase(len(urls), options.two_hosts_each),
            "twoHostsEach": options.two_hosts_each,
        }
        report["sale"]["statusAfterByHost"] = statuses
    ceiling = None
    if options.ceiling is not None:
        ceiling = measure_ceiling(
            replace(options.ceiling, url=urls[0], admin_token=options.admin_token)
        )
        report["ceiling"] = ceiling.to_dict()
    if options.report_dir is not None:
        from stress.report.html import write_flash_report

        write_flash_report(options.report_dir, report, load.records, load.pages)
    return FlashResult(verdict, figures, report, ceiling)


def _judge_release(
    options: FlashOptions,
    facts: SaleFacts,
    load: LoadResult,
    verdict: Verdict,
    figures: dict[str, Any],
) -> None:
    """The spread of the first attempts, for scenarios whose shoppers press Buy at once."""
    name = options.scenario.scenario
    if name not in AT_ONE_INSTANT:
        return
    if name == "prestart" and facts.starts_at_ns is not None:
        spread = release_spread(load.records, facts.starts_at_ns, "the sale's start")
    else:
        spread = release_spread(load.records, load.release_ns, "the release instant")
    figures["releaseSpread"] = spread
    warning = not_a_burst(spread, options.spread_warning_ms)
    if warning:
        verdict.warnings.append(warning)


def _operator(options: FlashOptions, facts: SaleFacts) -> Operator | None:
    """The operator who pauses the sale mid-run, when asked to."""
    if options.pause is None:
        return None
    if not options.admin_token or facts.sale_id is None:
        raise ApiError("--pause-at needs --admin-token (the pause is an admin PATCH)")
    return Operator(options.urls[0], options.admin_token, facts.sale_id, options.pause)


def _judge_operator(
    load: LoadResult,
    calls: list[Any],
    audit: list[dict[str, Any]],
    server_orders: list[dict[str, Any]],
    facts: SaleFacts,
    verdict: Verdict,
    figures: dict[str, Any],
) -> None:
    """The pause's checks and figures, with where its window falls on the timeline."""
    sold = (facts.status_after or {}).get("sold")
    judged = judge_pause(
        calls,
        audit,
        server_orders,
        load.records,
        str(facts.sale_id),
        sold if isinstance(sold, int) else None,
    )
    verdict.checks.extend(judged.checks)
    verdict.warnings.extend(judged.warnings)
    pause = judged.figures
    # The charts count seconds from the first purchase sent, on the host's wall clock,
    # which the server (on the same host) shares: the window as the server recorded it.
    sends = [r.send_ns for r in load.records if r.kind == "purchase"]
    if sends and pause["pausedAtMs"] is not None:
        origin_ms = min(sends) / 1e6
        pause["chartFromS"] = round((pause["pausedAtMs"] - origin_ms) / 1000, 3)
        resumed = pause["resumedAtMs"]
        pause["chartToS"] = None if resumed is None else round((resumed - origin_ms) / 1000, 3)
    pause["releaseNs"] = load.release_ns
    figures["pause"] = pause


def _judge_pages(
    options: FlashOptions,
    load: LoadResult,
    lookups: dict[str, LookupResult],
    status_after: dict[str, Any],
    verdict: Verdict,
    figures: dict[str, Any],
) -> None:
    if not load.pages:
        return
    last = last_sale(load.records, lookups)
    figures["pages"] = page_figures(load.pages, last, status_after.get("state"))
    checks, warnings = page_checks(load.pages, last, status_after, options.sold_out_within_ms)
    verdict.checks.extend(checks)
    verdict.warnings.extend(warnings)


def _auth_mode(status: dict[str, Any], signing: SigningKey | None) -> str:
    """The mode the run uses: jwt with a signing key. A server that says it is in
    the other mode would make every answer meaningless: stop before the run."""
    mode = "jwt" if signing is not None else "open"
    auth = status.get("auth")
    served = auth.get("mode") if isinstance(auth, dict) else None
    if served == "jwt" and signing is None:
        raise ApiError(
            "the server takes the buyer from a signed token (auth mode jwt): "
            "pass --jwt-secret or --jwt-key-file"
        )
    if served == "open" and signing is not None:
        raise ApiError("the server is in open mode (the body names the buyer): drop --jwt-*")
    return mode


def _signed(
    plans: list[UserPlan], signing: SigningKey | None
) -> tuple[list[UserPlan], dict[str, str] | None]:
    """The plans with a token each (jwt mode), and the tokens by user for the look-ups."""
    if signing is None:
        return plans, None
    tokens = Minter(signing).mint_all([plan.user for plan in plans])
    return [replace(plan, token=tokens[plan.user]) for plan in plans], tokens


def _prepare_sale(
    api: Api, options: FlashOptions, status: dict[str, Any]
) -> tuple[dict[str, Any] | None, SaleFacts]:
    """Start a new sale with the admin token, else take the sale as it stands."""
    name = options.scenario.scenario
    rate_limit = options.rate_limit_per_min if name == "bots" else None
    if options.admin_token:
        starts_at = None
        if name == "prestart":
            server_now = parse_iso(status.get("serverTime")) or datetime.now(UTC)
            starts_at = (server_now + timedelta(seconds=options.start_lead_s)).isoformat()
        stock = options.stock if options.stock is not None else 100
        products = sale_products(options.products, options.stock) if options.products else []
        if products:
            stock = sum(product["stock"] for product in products)
        sale = api.start_sale(stock, options.per_user_limit, starts_at=starts_at, products=products)
        fresh = api.status()
        facts = SaleFacts(
            stock=stock,
            per_user_limit=int(fresh.get("perUserLimit") or options.per_user_limit),
            sale_id=_sale_id(sale, fresh),
            sold_before=int(fresh.get("sold") or 0),
            starts_at_ns=iso_to_ns(fresh.get("startsAt") or starts_at),
            rate_limit_per_min=rate_limit,
            fairness_tolerance_ms=options.fairness_tolerance_ms,
            products=products_of_status(fresh),
        )
        return sale, facts
    if name == "prestart":
        raise ApiError(
            "the prestart scenario creates a sale that starts later: it needs --admin-token"
        )
    facts = SaleFacts(
        stock=int(status.get("remaining") or 0),
        per_user_limit=int(status.get("perUserLimit") or options.per_user_limit),
        sale_id=str_or_none(status.get("saleId")),
        sold_before=int(status.get("sold") or 0),
        starts_at_ns=None,
        rate_limit_per_min=rate_limit,
        fairness_tolerance_ms=options.fairness_tolerance_ms,
        products=products_of_status(status),
    )
    return None, facts


def _sale_id(sale: dict[str, Any], status: dict[str, Any]) -> str | None:
    value = sale.get("saleId") or status.get("saleId")
    return None if value is None else str(value)
