"""`python -m stress sweep`: for each worker count, start the server, run the
same scenario and the throughput ceiling (against the trivial reference app on
as many workers), stop it; then a table, a chart and a recommendation."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stress.benchmarks.ceiling import CeilingOptions, measure_ceiling
from stress.scenarios.flash import FlashOptions, run_flash
from stress.servers.gunicorn_server import FlashSaleServer

NEAR_BEST = 0.95  # within 5% of the best throughput counts as "as good"
ASCII_CHART_WIDTH = 40  # characters of the longest bar


@dataclass(frozen=True)
class SweepOptions:
    workers: list[int]
    repo: Path | None = None
    flash: FlashOptions = field(default_factory=FlashOptions)
    # The ceiling's load, measured on each server (its url and token are filled
    # in per server); None skips the ceiling.
    ceiling: CeilingOptions | None = None
    report_dir: Path | None = None


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    recommendation: str

    @property
    def ok(self) -> bool:
        return all(row["verdictOk"] and row.get("ceilingOk", True) for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "recommendation": self.recommendation, "rows": self.rows}


def run_sweep(options: SweepOptions) -> SweepResult:
    rows = []
    with tempfile.TemporaryDirectory(prefix="stress-sweep-") as scratch:
        folder = Path(scratch)
        for workers in options.workers:
            print(f"== {workers} workers", flush=True)
            stock = options.flash.stock if options.flash.stock is not None else 100
            server = FlashSaleServer(
                folder / f"sale-w{workers}.db",
                workers=workers,
                repo=options.repo,
                env={"FLASHSALE_STOCK": str(stock), "FLASHSALE_ADMIN_TOKEN": secrets.token_hex(16)},
            )
            try:
                with server:
                    rows.append(_one_setting(options, server, workers))
            finally:
                if options.report_dir is not None and server.log_path.exists():
                    # The server's log explains any 5xx the verdict reports.
                    options.report_dir.mkdir(parents=True, exist_ok=True)
                    shutil.copy(server.log_path, options.report_dir / f"server-w{workers}.log")
            print(_row_line(rows[-1]), flush=True)
    result = SweepResult(rows, recommend(rows))
    if options.report_dir is not None:
        from stress.report.html import write_sweep_report

        write_sweep_report(options.report_dir, result.to_dict())
    return result


def _one_setting(options: SweepOptions, server: FlashSaleServer, workers: int) -> dict[str, Any]:
    report = None if options.report_dir is None else options.report_dir / f"workers-{workers}"
    flash = run_flash(
        replace(options.flash, url=server.url, admin_token=server.admin_token, report_dir=report)
    )
    latency = flash.figures.get("latencyMs", {}).get("all", {})
    row: dict[str, Any] = {
        "workers": workers,
        "verdictOk": flash.verdict.ok,
        "failedChecks": [check.name for check in flash.verdict.failed()],
        "burstP99Ms": latency.get("p99"),
        "burstP50Ms": latency.get("p50"),
        "burstRequestsPerS": flash.figures.get("requestsPerS"),
        "burstAnswered": flash.figures.get("answered"),
        "clientCpuS": flash.report["run"]["clientCpuS"],
        "burstServerCpuPerRequestUs": flash.report["run"]["serverCpuPerRequestUs"],
        "hostLoadAverage1m": flash.report["run"]["hostLoadAverage1m"],
    }
    if options.ceiling is not None:
        ceiling = measure_ceiling(
            replace(
                options.ceiling, url=server.url, admin_token=server.admin_token, repo=server.repo
            )
        )
        burst = ceiling.server.burst
        row.update(
            {
                "statusPerS": ceiling.server.status.per_second,
                "purchasePerS": ceiling.server.purchase.per_second,
                "statusFraction": ceiling.status_fraction,
                "purchaseFraction": ceiling.purchase_fraction,
                "cheapBurstP99Ms": None if burst is None else burst.latency_ms(0.99),
                "cheapBurstP99Ratio": ceiling.burst_p99_ratio,
                "purchaseP99Ms": ceiling.server.purchase.p99_ms,
                "purchaseCpuUs": ceiling.server.purchase.server_cpu_per_answer_us,
                "ceilingOk": ceiling.ok,
                "ceilingLoadGenerator": ceiling.server.purchase.load_generator,
            }
        )
    return row


def recommend(rows: list[dict[str, Any]]) -> str:
    """The smallest worker count that held the invariants and came within 5% of the
    best purchase throughput (or, without a ceiling, of the best burst p99)."""
    good = [row for row in rows if row["verdictOk"] and row.get("ceilingOk", True)]
    if not good:
        return "no worker count held every invariant: fix the server before tuning it"
    if all(row.get("purchasePerS") is not None for row in good):
        best = max(row["purchasePerS"] for row in good)
        pick = min(
            (r for r in good if r["purchasePerS"] >= NEAR_BEST * best), key=lambda r: r["workers"]
        )
        figure = (
            f"{pick['purchasePerS']} purchases/s ({_num(pick.get('purchaseFraction'))} of the "
            f"trivial app's), burst p99 {pick['burstP99Ms']} ms"
        )
    else:
        best_p99 = min(row["burstP99Ms"] for row in good)
        pick = min(
            (r for r in good if r["burstP99Ms"] <= best_p99 / NEAR_BEST), key=lambda r: r["workers"]
        )
        figure = f"burst p99 {pick['burstP99Ms']} ms"
    more = [r["workers"] for r in good if r["workers"] > pick["workers"]]
    tail = (
        f"; more workers ({', '.join(map(str, more))}) gave no more than 5% on this host"
        if more
        else ""
    )
    return f"WEB_CONCURRENCY={pick['workers']}: {figure}{tail}"


def format_sweep(result: SweepResult) -> str:
    lines = [
        "",
        "SWEEP",
        "  workers verdict  p99 ms   burst/s  status/s  purchase/s  of trivial: status"
        " purchase  cheap burst p99 ms (x trivial)  µs/purchase",
    ]
    for row in result.rows:
        lines.append(_row_line(row))
    lines += ["", _ascii_chart(result.rows), "", f"RECOMMENDATION: {result.recommendation}"]
    return "\n".join(lines)


def _row_line(row: dict[str, Any]) -> str:
    verdict = "pass" if row["verdictOk"] else "FAIL"
    cheap = f"{_num(row.get('cheapBurstP99Ms'))} ({_num(row.get('cheapBurstP99Ratio'))})"
    return (
        f"  {row['workers']:>7} {verdict:>7} {_num(row.get('burstP99Ms')):>8}"
        f" {_num(row.get('burstRequestsPerS')):>9} {_num(row.get('statusPerS')):>9}"
        f" {_num(row.get('purchasePerS')):>11} {_num(row.get('statusFraction')):>18}"
        f" {_num(row.get('purchaseFraction')):>8} {cheap:>32}"
        f" {_num(row.get('purchaseCpuUs')):>12}"
        + (f"  failed: {', '.join(row['failedChecks'])}" if row["failedChecks"] else "")
    )


def _ascii_chart(rows: list[dict[str, Any]]) -> str:
    """Throughput (#) and burst p99 (=) per worker count, each scaled to its maximum."""
    width = ASCII_CHART_WIDTH
    lines = ["  purchase/s (#) and burst p99 (=) by workers, each scaled to its maximum"]
    top_rate = max((row.get("purchasePerS") or 0 for row in rows), default=0) or 1
    top_p99 = max((row.get("burstP99Ms") or 0 for row in rows), default=0) or 1
    for row in rows:
        rate = row.get("purchasePerS") or 0
        p99 = row.get("burstP99Ms") or 0
        lines.append(
            f"  {row['workers']:>3} | {'#' * round(width * rate / top_rate):<{width}} "
            f"{_num(rate)}/s"
        )
        lines.append(f"      | {'=' * round(width * p99 / top_p99):<{width}} {_num(p99)} ms")
    return "\n".join(lines)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
