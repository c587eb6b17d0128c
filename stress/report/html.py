"""Report folders: JSON with every figure, the raw records as CSV, and a
self-contained HTML page with inline SVG charts."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from stress.records import PageRecord, Record
from stress.report.pause import pause_band, pause_html
from stress.report.svg import line_chart, stacked_bars
from stress.scenarios.identity import auth_phrase
from stress.verdicts.server_usage import cpu_summary

STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1040px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
.badge { display: inline-block; padding: 4px 12px; border-radius: 4px; color: #fff;
         font-weight: bold; }
.pass { background: #2e9d4a; } .fail { background: #c9302c; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; }
.ok { color: #2e9d4a; font-weight: bold; } .bad { color: #c9302c; font-weight: bold; }
pre { background: #f6f6f6; padding: 8px; font-size: 12px; overflow-x: auto; }
"""


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_records_csv(path: Path, records: list[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The host column only for a run on several hosts: one host's file is as before.
    hosts = any(record.host for record in records)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        names = list(Record.__dataclass_fields__)
        writer.writerow(names if hosts else names[:-1])
        for record in records:
            row = record.to_row()
            writer.writerow(row if hosts else row[:-1])


def write_pages_csv(path: Path, pages: Sequence[PageRecord]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PageRecord.__dataclass_fields__)
        writer.writerows(page.to_row() for page in pages)


def write_flash_report(
    folder: Path, report: dict[str, Any], records: list[Record], pages: Sequence[PageRecord] = ()
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "report.json", report)
    write_records_csv(folder / "records.csv", records)
    if pages:
        write_pages_csv(folder / "pages.csv", pages)
    page = folder / "report.html"
    page.write_text(flash_html(report))
    return page


def flash_html(report: dict[str, Any]) -> str:
    verdict, figures, run = report["verdict"], report["figures"], report["run"]
    title = f"Flash sale stress run {run['runId']}: {run['scenario']['scenario']}"
    parts = [_head(title), f"<h1>{escape(title)}</h1>", _badge(verdict["ok"])]
    parts.append(
        f"<p>{run['users']} shoppers over {run['processes']} client processes against "
        f"<code>{escape(run['url'])}</code>, started {escape(run['startedAt'])}; "
        + (
            "every shopper there at the release had its page open, hence its connection, "
            "before the release (the page load is not a purchase: only the Buy is timed)."
            if run.get("pageOpen")
            else "each shopper's connection opened with its first purchase."
        )
        + f" Identity: {escape(auth_phrase(run.get('auth')))}."
        + "</p>"
    )
    parts.append("<h2>Verdict</h2><table><tr><th></th><th>check</th><th>detail</th></tr>")
    for check in verdict["checks"]:
        mark = '<span class="ok">ok</span>' if check["ok"] else '<span class="bad">FAIL</span>'
        parts.append(
            f"<tr><td>{mark}</td><td>{escape(check['name'])}</td>"
            f"<td>{escape(check['detail'])}</td></tr>"
        )
    parts.append("</table>")
    if verdict["warnings"]:
        parts.append(
            "<ul>" + "".join(f"<li>{escape(w)}</li>" for w in verdict["warnings"]) + "</ul>"
        )
    if verdict.get("products"):
        parts.append("<h2>Products</h2>" + _products_table(verdict["products"]))
    if figures.get("hosts"):
        parts.append(
            f"<h2>Hosts</h2><p>{escape(run['hosts']['spread'])}.</p>"
            + _hosts_table(figures["hosts"])
        )
    parts.append("<h2>Figures</h2>" + _figures_table(figures))
    parts.append(f"<p>{escape(cpu_summary(run))}</p>")
    parts.append(_latency_table(figures.get("latencyMs", {})))
    if figures.get("releaseSpread"):
        threshold = run.get("spreadWarningMs", "the threshold")
        parts.append("<h2>Release</h2>" + _spread_table(figures["releaseSpread"], threshold))
    if figures.get("pages"):
        parts.append("<h2>Open pages (event streams)</h2>" + _pages_table(figures["pages"]))
    parts.append(pause_html(figures.get("pause")))
    series = figures.get("answersPerInterval")
    if series:
        width = series["binWidthS"]
        parts.append("<h2>Answers per second over time</h2>")
        parts.append(
            stacked_bars(
                f"answers per second ({width:g} s bins), by outcome",
                [f"{s:g}" for s in series["startsS"]],
                series["perSecond"],
                x_title="seconds since the first request (by answer time)",
                y_title="answers / s",
                band=pause_band(figures.get("pause"), series),
            )
        )
    histogram = figures.get("latencyHistogram")
    if histogram:
        edges = histogram["edgesMs"]
        parts.append("<h2>Latency histogram</h2>")
        parts.append(
            stacked_bars(
                "requests per latency bin (log scale), by outcome",
                [_ms(edge) for edge in edges[:-1]],
                histogram["counts"],
                x_title="latency (ms, lower bin edge)",
                y_title="requests",
                label_every=4,
            )
        )
    if report.get("ceiling"):
        parts.append("<h2>Throughput ceiling (same server, after the scenario)</h2>")
        parts.append(_ceiling_table(report["ceiling"]))
    parts.append(
        "<h2>Fairness</h2><pre>" + escape(json.dumps(verdict["fairness"], indent=2)) + "</pre>"
    )
    parts.append(
        "<h2>Sale</h2><pre>" + escape(json.dumps(report["sale"], indent=2, default=str)) + "</pre>"
    )
    parts.append(
        "<h2>Server metrics (after the run)</h2><pre>"
        + escape(json.dumps((report.get("serverMetrics") or {}).get("after"), indent=2))
        + "</pre>"
    )
    parts.append("<h2>Run</h2><pre>" + escape(json.dumps(run, indent=2, default=str)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _products_table(rows: list[dict[str, Any]]) -> str:
    """Per product: the stock offered, the demand, what was sold and what the status says."""
    header = ("sku", "stock", "demand", "201s", "confirmed", "expected", "sold", "remaining")
    keys = ("stock", "demand", "answered_201", "confirmed", "expected", "sold", "remaining")
    parts = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = "".join(f'<td class="num">{escape(_cell(row.get(key)))}</td>' for key in keys)
        parts.append(f"<tr><td>{escape(str(row['sku']))}</td>{cells}</tr>")
    parts.append("</table>")
    return "".join(parts)


def _hosts_table(hosts: list[dict[str, Any]]) -> str:
    """Per host of a run on several: its purchases, their latency and outcomes, its CPU."""
    header = ("host", "url", "purchases", "p50 ms", "p99 ms", "server CPU s", "outcomes")
    parts = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
    for host in hosts:
        latency = host["latencyMs"]
        cells = (
            host["host"],
            host["url"],
            host["purchaseRequests"],
            latency["p50"],
            latency["p99"],
            host["serverCpuS"],
        )
        parts.append(
            "<tr>"
            + "".join(f"<td>{escape(_cell(cell))}</td>" for cell in cells)
            + f"<td>{escape(json.dumps(host['outcomes']))}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def write_sweep_report(folder: Path, sweep: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "sweep.json", sweep)
    page = folder / "sweep.html"
    page.write_text(sweep_html(sweep))
    return page


def sweep_html(sweep: dict[str, Any]) -> str:
    rows = sweep["rows"]
    title = "Flash sale worker sweep"
    parts = [_head(title), f"<h1>{title}</h1>", _badge(sweep["ok"])]
    parts.append(f"<p><b>Recommendation:</b> {escape(sweep['recommendation'])}</p>")
    header = (
        "workers",
        "verdict",
        "burst p99 ms",
        "burst req/s",
        "status req/s",
        "purchase req/s",
        "status / trivial",
        "purchase / trivial",
        "cheap burst p99 ms",
        "cheap burst p99 / trivial",
    )
    parts.append("<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = (
            row["workers"],
            "pass" if row["verdictOk"] else "FAIL",
            row.get("burstP99Ms"),
            row.get("burstRequestsPerS"),
            row.get("statusPerS"),
            row.get("purchasePerS"),
            row.get("statusFraction"),
            row.get("purchaseFraction"),
            row.get("cheapBurstP99Ms"),
            row.get("cheapBurstP99Ratio"),
        )
        parts.append(
            "<tr>" + "".join(f'<td class="num">{escape(_cell(c))}</td>' for c in cells) + "</tr>"
        )
    parts.append("</table>")
    xs = [row["workers"] for row in rows]
    parts.append(
        line_chart(
            "throughput vs workers",
            xs,
            {
                "purchase req/s": [row.get("purchasePerS") for row in rows],
                "status req/s": [row.get("statusPerS") for row in rows],
                "burst req/s": [row.get("burstRequestsPerS") for row in rows],
            },
            x_title="gunicorn workers",
            y_title="requests / s",
        )
    )
    parts.append(
        line_chart(
            "burst p99 latency vs workers",
            xs,
            {"p99 ms": [row.get("burstP99Ms") for row in rows]},
            x_title="gunicorn workers",
            y_title="ms",
        )
    )
    parts.append(
        "<h2>Details</h2><pre>"
        + escape(json.dumps(sweep, indent=2, default=str))
        + "</pre></body></html>"
    )
    return "\n".join(parts)


def _head(title: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
    )


def _badge(ok: bool) -> str:
    return (
        f'<span class="badge {"pass" if ok else "fail"}">'
        f"{'PASS: the invariants held' if ok else 'FAIL: see the verdict'}</span>"
    )


def _figures_table(figures: dict[str, Any]) -> str:
    keys = (
        "users",
        "purchaseRequests",
        "answered",
        "durationS",
        "requestsPerS",
        "salesPerS",
        "firstRequestToLastSaleS",
        "timeToSoldOutS",
        "statusPolls",
    )
    rows = "".join(
        f"<tr><td>{key}</td><td class='num'>{escape(_cell(figures.get(key)))}</td></tr>"
        for key in keys
        if key in figures
    )
    outcomes = ", ".join(f"{k}: {v}" for k, v in figures.get("outcomes", {}).items())
    return f"<table>{rows}<tr><td>outcomes</td><td>{escape(outcomes)}</td></tr></table>"


def _spread_table(spread: dict[str, Any], threshold_ms: object) -> str:
    cells = "".join(
        f"<td class='num'>{_cell(spread.get(key))}</td>"
        for key in ("firstAttempts", "spreadMs", "firstMs", "p50Ms", "p99Ms", "lastMs")
    )
    head = "".join(
        f"<th class='num'>{h}</th>"
        for h in ("first attempts", "spread (last - first)", "first", "p50", "p99", "last")
    )
    return (
        f"<p>When each shopper's first purchase left, in ms after {escape(spread['origin'])}. "
        f"A spread above {escape(str(threshold_ms))} ms is a ramp the client made, not a burst "
        "(connections opened before the release make it small: a page that is open has its "
        "connection already).</p>"
        f"<table><tr>{head}</tr><tr>{cells}</tr></table>"
    )


def _pages_table(pages: dict[str, Any]) -> str:
    rows = [
        ("pages", pages["watchers"]),
        ("connected (200 and a status event)", pages["connected"]),
        ("refused (503)", pages["refused"]),
        ("failed", pages["failed"]),
        ("streams ended early", pages["endedEarly"]),
        (
            "first event after asking, p50 / p99 ms",
            f"{_cell(pages['firstEventMs']['p50'])} / {_cell(pages['firstEventMs']['p99'])}",
        ),
        ("status events per page", pages["eventsPerPage"]),
    ]
    delay = pages.get("soldOutDelayMs")
    if delay:
        rows.append(
            (
                f"sold_out shown after {delay['from']}, p50 / p90 / p99 / max ms",
                " / ".join(_cell(delay[k]) for k in ("p50", "p90", "p99", "max")),
            )
        )
    body = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>{escape(_cell(value))}</td></tr>"
        for name, value in rows
    )
    return f"<table>{body}</table>"


def _latency_table(latency: dict[str, Any]) -> str:
    head = "".join(f"<th class='num'>{h}</th>" for h in ("count", "p50", "p95", "p99", "max"))
    rows = []
    for name, summary in latency.items():
        cells = "".join(
            f"<td class='num'>{_cell(summary.get(key))}</td>"
            for key in ("count", "p50", "p95", "p99", "max")
        )
        rows.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    return f"<table><tr><th>latency (ms)</th>{head}</tr>{''.join(rows)}</table>"


def _ceiling_table(ceiling: dict[str, Any]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "load",
            "server/s",
            "reference/s",
            "fraction",
            "p99 ms (server / ref.)",
            "server CPU µs/answer (server / ref.)",
        )
    )
    rows = []
    for key, fraction in (("status", "statusFraction"), ("purchase", "purchaseFraction")):
        ours, ref = ceiling["server"][key], ceiling["reference"][key]
        rows.append(
            f"<tr><td>{key} ({escape(ours['load_generator'])})</td>"
            f"<td class='num'>{ours['perSecond']}</td><td class='num'>{ref['perSecond']}</td>"
            f"<td class='num'>{_cell(ceiling[fraction])}</td>"
            f"<td class='num'>{_cell(ours['p99_ms'])} / {_cell(ref['p99_ms'])}</td>"
            f"<td class='num'>{_cell(ours.get('serverCpuPerAnswerUs'))} / "
            f"{_cell(ref.get('serverCpuPerAnswerUs'))}</td></tr>"
        )
    targets = "".join(
        f"<li>{escape(t['what'])}: {escape(t['figure'])}: "
        f"{'not measured' if t['met'] is None else 'met' if t['met'] else 'MISSED'}</li>"
        for t in ceiling["targets"]
    )
    return (
        f"<table><tr>{head}</tr>{''.join(rows)}</table>"
        f"<p>every purchase a durable sale: {'yes' if ceiling['durable'] else 'NO'} "
        f"(status sold +{ceiling['soldIncrease']}); burst sold {ceiling['burstSold']} of "
        f"{ceiling['burstStock']}: {'exact' if ceiling['burstExact'] else 'NOT EXACT'}</p>"
        f"<ul>{targets}</ul>"
    )


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _ms(value: float) -> str:
    return f"{value:.2g}" if value < 10 else f"{value:.0f}"
