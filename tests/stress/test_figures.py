"""Figures, scenario plans and the HTML report, from synthetic records."""

from __future__ import annotations

from stress.records import Record
from stress.report.html import flash_html
from stress.scenarios.plans import ScenarioOptions, build_plans
from stress.stats import percentile
from stress.verdicts.figures import compute_figures
from tests.support.report_charts import bar_totals, charts

T0 = 1_700_000_000 * 10**9
MS = 10**6


def record(user, send_ms, latency_ms, http, status):
    return Record(user, "purchase", 1, T0 + send_ms * MS, latency_ms * MS, http, status)


def sample():
    records = [record(f"u{i}", i, 10 + i, 201, "confirmed") for i in range(10)]
    records += [record(f"v{i}", 5, 2, 410, "sold_out") for i in range(90)]
    return records


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([], 0.5) is None


def test_figures_of_a_burst():
    figures = compute_figures(sample())
    assert figures["purchaseRequests"] == 100
    assert figures["outcomes"] == {"confirmed": 10, "sold_out": 90}
    assert figures["latencyMs"]["confirmed"]["max"] == 19.0
    assert figures["latencyMs"]["sold_out"]["p99"] == 2.0
    assert figures["firstRequestToLastSaleS"] == 0.028  # sent at 9 ms, answered 19 ms later
    assert figures["timeToSoldOutS"] == 0.007
    series = figures["answersPerInterval"]
    total = sum(sum(row) for row in series["perSecond"].values()) * series["binWidthS"]
    assert round(total) == 100
    assert sum(sum(row) for row in figures["latencyHistogram"]["counts"].values()) == 100


def test_plans_of_each_scenario():
    burst = build_plans(ScenarioOptions("burst", users=10), "r")
    assert len(burst) == 10 and all(plan.offset_s == 0 for plan in burst)
    bots = build_plans(ScenarioOptions("bots", users=10, bots=3, bot_attempts=25), "r")
    assert sum(plan.persistent for plan in bots) == 3
    assert max(plan.attempts for plan in bots) == 25
    ramp = build_plans(ScenarioOptions("ramp", users=100, duration_s=10), "r")
    offsets = [plan.offset_s for plan in ramp]
    assert offsets == sorted(offsets) and offsets[-1] < 10
    # a linear ramp: the second half of the time holds three quarters of the arrivals
    assert sum(offset >= 5 for offset in offsets) == 75
    prestart = build_plans(ScenarioOptions("prestart", users=5), "r")
    assert all(plan.wait_for_start for plan in prestart)
    assert len({plan.user for plan in burst}) == 10


def test_the_html_report_renders_thecharts():
    figures = compute_figures(sample())
    report = {
        "run": {
            "runId": "abc",
            "scenario": {"scenario": "burst"},
            "users": 100,
            "processes": 2,
            "url": "http://127.0.0.1:1",
            "startedAt": "now",
            "pageOpen": True,
            "clientCpuS": 1.5,
            "serverCpuS": 0.5,
            "serverCpuPerRequestUs": 5000,
            "loadWallS": 2.0,
            "hostLoadAverage1m": {"before": 0.1, "after": 0.5, "cores": 2},
        },
        "verdict": {
            "ok": True,
            "checks": [{"name": "no oversell", "ok": True, "detail": "10 <= 10"}],
            "warnings": [],
            "fairness": {},
        },
        "figures": figures,
        "sale": {},
        "serverMetrics": {},
    }
    page = flash_html(report)
    rates, histogram = charts(page)
    # The charts carry the run's data: every answer is in a bar of its outcome.
    assert bar_totals(histogram) == {"confirmed": 10, "sold_out": 90}
    bin_s = figures["answersPerInterval"]["binWidthS"]
    assert {k: round(v * bin_s) for k, v in bar_totals(rates).items()} == {
        "confirmed": 10,
        "sold_out": 90,
    }
    assert "PASS" in page and "no oversell" in page
    assert "server CPU 0.5 s (5000 µs per request)" in page


def test_the_sweep_recommends_the_smallest_worker_count_near_the_best():
    from stress.benchmarks.sweep import recommend

    def row(workers, ok, purchases, fraction, p99):
        return {
            "workers": workers,
            "verdictOk": ok,
            "purchasePerS": purchases,
            "purchaseFraction": fraction,
            "burstP99Ms": p99,
        }

    rows = [
        row(1, True, 500.0, 0.2, 900.0),
        row(2, True, 980.0, 0.35, 800.0),
        row(4, True, 1000.0, 0.36, 850.0),
        row(8, False, 2000.0, 0.5, 700.0),
    ]
    assert recommend(rows) == (
        "WEB_CONCURRENCY=2: 980.0 purchases/s (0.35 of the trivial app's), burst p99 800.0 ms; "
        "more workers (4) gave no more than 5% on this host"
    )
    assert "held every invariant" in recommend([{**rows[0], "verdictOk": False}])


def _measured(target, code, count, seconds=10.0):
    from stress.benchmarks.closed_loop import Measurement

    return Measurement(target, "wrk", seconds, {str(code): count}, 0, 1.0, 2.0, 3.0, code)


def _ceiling(server_purchases=15000, sold_increase=15100, burst=None, burst_sold=None):
    from stress.benchmarks.ceiling import CeilingResult, Side

    server = Side(_measured("status", 200, 17500), _measured("purchase", 201, server_purchases))
    reference = Side(_measured("status", 200, 25000), _measured("purchase", 201, 30000))
    server.burst, reference.burst = burst
    return CeilingResult(
        server,
        reference,
        sold_increase,
        burst_sold=burst_sold,
        burst_stock=100,
        connections=64,
        rounds=2,
    )


def _burst(p99_s, codes, shoppers=5000):
    from stress.client.burst import BurstResult

    answered = sum(codes.values())
    latencies = [0.1] * (answered - 100) + [p99_s] * 100  # the slowest 2%: the p99
    return BurstResult(shoppers, codes, latencies, 0.0, 0.2, 0.5)


def test_the_ceiling_reports_fractions_of_the_reference_and_its_targets():
    burst = (_burst(0.9, {"201": 100, "410": 4900}), _burst(0.75, {"201": 5000}))
    result = _ceiling(burst=burst, burst_sold=100)
    assert (result.status_fraction, result.purchase_fraction) == (0.7, 0.5)
    assert result.burst_p99_ratio == 1.2
    assert [met for _, _, met in result.targets()] == [True, True, True, True]
    assert result.ok
    slow = _ceiling(burst=(_burst(1.2, {"201": 100, "410": 4900}), burst[1]), burst_sold=100)
    assert [met for _, _, met in slow.targets()] == [True, True, False, False]
    assert slow.ok  # a missed target is a figure, not a failure
    assert [met for _, _, met in _ceiling(burst=(None, None)).targets()][2:] == [None, None]


def test_the_ceiling_accepts_only_sales_in_flight_as_extra():
    assert _ceiling(sold_increase=15100, burst=(None, None)).durable
    assert not _ceiling(sold_increase=14999, burst=(None, None)).durable
    assert not _ceiling(sold_increase=15129, burst=(None, None)).durable


def test_a_burst_is_exact_only_if_everyone_answered_and_exactly_the_stock_sold():
    reference = _burst(0.7, {"201": 5000})
    exact = _burst(0.9, {"201": 100, "410": 4900})
    assert _ceiling(burst=(exact, reference), burst_sold=100).burst_exact
    assert not _ceiling(burst=(exact, reference), burst_sold=101).burst_exact
    unanswered = _burst(0.9, {"201": 100, "410": 4890})
    assert not _ceiling(burst=(unanswered, reference), burst_sold=100).ok
