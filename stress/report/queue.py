"""The waiting-room run's report: report.json and a self-contained report.html (the
checks with their figures, and "now serving", waiting and sold over the run)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stress.scenarios.queue import QueueResult

WIDTH, HEIGHT = 720, 200
LINES = (("serving", "#06c"), ("waiting", "#e80"), ("sold", "#090"))


def write_queue_report(directory: Path, result: QueueResult) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    report = {
        "ok": result.ok,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks],
        "figures": result.figures,
    }
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (directory / "report.html").write_text(_page(result))


def _page(result: QueueResult) -> str:
    rows = "".join(
        f"<tr><td>{'ok' if c.ok else '<b>FAIL</b>'}</td><td>{html.escape(c.name)}</td>"
        f"<td>{html.escape(c.detail)}</td></tr>"
        for c in result.checks
    )
    figures = {k: v for k, v in result.figures.items() if k != "series"}
    listed = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(_text(v))}</td></tr>"
        for k, v in figures.items()
    )
    verdict = "PASSED" if result.ok else "FAILED"
    return (
        "<!doctype html><meta charset=utf-8><title>waiting-room flash sale</title>"
        "<style>body{font:14px system-ui;margin:2em}td,th{padding:2px 8px;text-align:left;"
        "vertical-align:top}</style>"
        f"<h1>Waiting-room flash sale: {verdict}</h1>"
        f"<h2>Checks</h2><table>{rows}</table>"
        f"<h2>The queue over the run (status samples)</h2>{_chart(result.figures.get('series'))}"
        f"<h2>Figures</h2><table>{listed}</table>"
    )


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _chart(series: Any) -> str:
    """Serving, waiting and sold over seconds since the release, as polylines."""
    if not isinstance(series, dict) or not series.get("t"):
        return "<p>no samples</p>"
    t = series["t"]
    span = max(t[-1], 1e-9)
    top = max(1, *(max(series[name], default=0) for name, _ in LINES))

    def line(values: list[int], colour: str) -> str:
        points = " ".join(
            f"{x / span * WIDTH:.1f},{HEIGHT - v / top * HEIGHT:.1f}"
            for x, v in zip(t, values, strict=True)
        )
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'

    polylines = "".join(line(series[name], colour) for name, colour in LINES)
    return (
        f'<svg width="{WIDTH}" height="{HEIGHT + 20}" viewBox="0 -5 {WIDTH} {HEIGHT + 25}">'
        f"{polylines}"
        f'<text x="0" y="{HEIGHT + 15}">0 s</text>'
        f'<text x="{WIDTH - 60}" y="{HEIGHT + 15}">{span:.1f} s</text></svg>'
        "<p>blue: now serving (highest place admitted), orange: tickets waiting, "
        f"green: sold; top {top}</p>"
    )
