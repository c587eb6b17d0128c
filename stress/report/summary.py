"""The terminal page of a flash run (`python -m stress flash`): the verdict, its
checks and warnings, the products and the figures, from the run's result."""

from __future__ import annotations

from typing import Any

from stress.report.pause import pause_lines
from stress.scenarios.flash import FlashResult
from stress.scenarios.hosts import host_lines
from stress.scenarios.identity import auth_phrase
from stress.verdicts.product_verdict import format_rows
from stress.verdicts.server_usage import cpu_summary


def release_lines(spread: dict[str, Any] | None, run: dict[str, Any]) -> list[str]:
    if spread is None:
        return []
    opened = (
        f"pages (and connections) opened {run['openBeforeReleaseS']} s before"
        if run["pageOpen"]
        else "connections opened at the release"
    )
    return [
        f"  release spread of first attempts             {spread['spreadMs']} ms "
        f"(p50 {spread['p50Ms']}, p99 {spread['p99Ms']}, last {spread['lastMs']} ms after "
        f"{spread['origin']}; {opened})"
    ]


def page_lines(pages: dict[str, Any] | None) -> list[str]:
    if not pages:
        return []
    lines = [
        f"  open pages: {pages['connected']} of {pages['watchers']} connected, "
        f"{pages['refused']} refused (503), {pages['failed']} failed; first event "
        f"p50 {pages['firstEventMs']['p50']} ms, p99 {pages['firstEventMs']['p99']} ms"
    ]
    delay = pages.get("soldOutDelayMs")
    if delay:
        lines.append(
            f"  sold_out shown after the last sale (ms): p50 {delay['p50']}, p90 {delay['p90']}, "
            f"p99 {delay['p99']}, max {delay['max']} ({delay['count']} pages; from "
            f"{delay['from']})"
        )
    return lines


def _mix_phrase(demand: dict[str, Any]) -> str:
    mix, seed = demand.get("mix"), demand.get("seed")
    if mix == "weights":
        return f"each shopper asked for one sku, drawn by the --products weights, seed {seed}"
    if mix == "even":
        return f"each shopper asked for one sku, drawn evenly over the sale's, seed {seed}"
    return "no sku sent: a sale of one product"


def _where(run: dict[str, Any]) -> str:
    hosts = run.get("hosts")
    if not hosts:
        return f"url {run['url']}"
    return f"{len(hosts['urls'])} hosts {', '.join(hosts['urls'])} (sale made on the first)"


def format_summary(result: FlashResult) -> str:
    """The verdict and figures as a terminal page."""
    verdict, figures = result.verdict, result.figures
    run = result.report["run"]
    lines = [
        f"scenario {run['scenario']['scenario']}: {run['users']} users over {run['processes']} "
        f"processes, {_where(run)}; {auth_phrase(run.get('auth'))}",
        "",
        "VERDICT: " + ("PASS - the sale behaved" if verdict.ok else "FAIL"),
    ]
    for check in verdict.checks:
        lines.append(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    for warning in verdict.warnings:
        lines.append(f"  [warn] {warning}")
    if verdict.products:
        lines += ["", f"PRODUCTS ({_mix_phrase(run.get('demand') or {})})"]
        lines += format_rows(verdict.products)
    lines += ["", "FIGURES"]
    for key, label in (
        ("purchaseRequests", "purchase requests"),
        ("answered", "answered"),
        ("requestsPerS", "requests/s"),
        ("salesPerS", "sales/s"),
        ("firstRequestToLastSaleS", "first request -> last sale (s)"),
        ("timeToSoldOutS", "first request -> first sold-out answer (s)"),
        ("statusPolls", "status polls"),
    ):
        if figures.get(key) is not None:
            lines.append(f"  {label:<44} {figures[key]}")
    lines += release_lines(figures.get("releaseSpread"), run)
    lines += page_lines(figures.get("pages"))
    host = run["hostLoadAverage1m"]
    lines.append(f"  {cpu_summary(run)}")
    lines.append(
        f"  host load average {host['before']} before, {host['after']} after "
        f"({host['cores']} cores; a busy host skews every figure)"
    )
    lines.append(f"  outcomes: {figures.get('outcomes', {})}")
    lines.append("  latency ms        count      p50      p95      p99      max")
    for name, summary in figures.get("latencyMs", {}).items():
        lines.append(
            f"  {name:<16} {summary['count']:>6} "
            + " ".join(
                f"{summary[p]:>8}" if summary[p] is not None else "       -"
                for p in ("p50", "p95", "p99", "max")
            )
        )
    if figures.get("hosts"):
        lines += ["", *host_lines(figures["hosts"], run["hosts"]["spread"])]
    server = (result.report.get("serverMetrics") or {}).get("after")
    if server:
        lines.append(
            f"  server metrics: throughput {server.get('throughput')}, "
            f"latencyMs {server.get('latencyMs')}"
        )
    lines += pause_lines(figures.get("pause"))
    return "\n".join(lines)
