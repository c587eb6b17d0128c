"""Figures, scenario plans and the HTML report, from synthetic records."""

from __future__ import annotations

from stress.common import Record, percentile
from stress.figures import compute_figures
from stress.report import flash_html
from stress.scenarios import ScenarioOptions, build_plans

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


def test_the_html_report_renders_the_charts():
    figures = compute_figures(sample())
    report = {
        "run": {
            "runId": "abc",
            "scenario": {"scenario": "burst"},
            "users": 100,
            "processes": 2,
            "url": "http://127.0.0.1:1",
            "startedAt": "now",
            "warmup": False,
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
    assert page.count("<svg") == 2
    assert "PASS" in page and "no oversell" in page
    assert "server CPU 0.5 s (5000 µs per request)" in page


def test_the_sweep_recommends_the_smallest_worker_count_near_the_best():
    from stress.sweep import recommend

    rows = [
        {
            "workers": 1,
            "threads": 4,
            "verdictOk": True,
            "purchasePerS": 500.0,
            "ratio": 0.3,
            "burstP99Ms": 900.0,
        },
        {
            "workers": 2,
            "threads": 4,
            "verdictOk": True,
            "purchasePerS": 980.0,
            "ratio": 0.5,
            "burstP99Ms": 800.0,
        },
        {
            "workers": 4,
            "threads": 4,
            "verdictOk": True,
            "purchasePerS": 1000.0,
            "ratio": 0.5,
            "burstP99Ms": 850.0,
        },
        {
            "workers": 8,
            "threads": 4,
            "verdictOk": False,
            "purchasePerS": 2000.0,
            "ratio": 0.9,
            "burstP99Ms": 700.0,
        },
    ]
    assert recommend(rows).startswith("WEB_CONCURRENCY=2 FLASHSALE_THREADS=4")
    assert "held every invariant" in recommend([{**rows[0], "verdictOk": False}])


def test_the_ceiling_accepts_only_sales_in_flight_as_extra():
    from stress.ceiling import CeilingResult, Measurement

    def measured(target, code, count):
        return Measurement(target, "wrk", 10.0, {str(code): count}, 0, 1.0, 2.0, 3.0, code)

    status, purchase = measured("status", 200, 20000), measured("purchase", 201, 15000)
    result = CeilingResult(status, purchase, 15100, connections=64, rounds=2)
    assert result.durable and result.ok and result.ratio == 0.75
    assert not CeilingResult(status, purchase, 14999, connections=64, rounds=2).durable
    assert not CeilingResult(status, purchase, 15129, connections=64, rounds=2).durable
