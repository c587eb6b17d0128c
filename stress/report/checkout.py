"""The checkout run's report: report.json and a self-contained report.html (the checks
with their figures, the answers counted, and held / live units over the run)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stress.scenarios.checkout import CheckoutResult

WIDTH, HEIGHT = 720, 200


def write_checkout_report(directory: Path, result: CheckoutResult) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    report = {
        "ok": result.ok,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks],
        "figures": result.figures,
    }
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (directory / "report.html").write_text(_page(result))


def _page(result: CheckoutResult) -> str:
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
        "<!doctype html><meta charset=utf-8><title>checkout flash sale</title>"
        "<style>body{font:14px system-ui;margin:2em}td,th{padding:2px 8px;text-align:left;"
        "vertical-align:top}</style>"
        f"<h1>Checkout flash sale: {verdict}</h1>"
        f"<h2>Checks</h2><table>{rows}</table>"
        f"<h2>Held and live units (status samples)</h2>{_chart(result.figures.get('series'))}"
        f"<h2>Figures</h2><table>{listed}</table>"
    )


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _chart(series: Any) -> str:
    """Live (sold) and held over seconds since the release, as two polylines."""
    if not isinstance(series, dict) or not series.get("t"):
        return "<p>no samples</p>"
    t, sold, held, stock = series["t"], series["sold"], series["held"], series["stock"]
    span = max(t[-1], 1e-9)
    top = max(stock, *sold, 1)

    def line(values: list[int], colour: str) -> str:
        points = " ".join(
            f"{x / span * WIDTH:.1f},{HEIGHT - v / top * HEIGHT:.1f}"
            for x, v in zip(t, values, strict=True)
        )
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'

    stock_y = HEIGHT - stock / top * HEIGHT
    return (
        f'<svg width="{WIDTH}" height="{HEIGHT + 20}" viewBox="0 -5 {WIDTH} {HEIGHT + 25}">'
        f'<line x1="0" x2="{WIDTH}" y1="{stock_y:.1f}" y2="{stock_y:.1f}" stroke="#c00" '
        f'stroke-dasharray="4"/>{line(sold, "#06c")}{line(held, "#e80")}'
        f'<text x="0" y="{HEIGHT + 15}">0 s</text>'
        f'<text x="{WIDTH - 60}" y="{HEIGHT + 15}">{span:.1f} s</text></svg>'
        "<p>blue: live (held + confirmed), orange: held, red dashes: stock</p>"
    )
