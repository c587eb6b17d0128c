"""A scenario's verdict as report.json and a self-contained report.html: its checks, its
figures, and a chart of status samples over the run (the checkout and waiting-room
runs write theirs with these)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from stress.verdicts.check import Check

WIDTH, HEIGHT = 720, 200


class Verdict(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def checks(self) -> Sequence[Check]: ...

    @property
    def figures(self) -> dict[str, Any]: ...


def write_verdict_report(
    directory: Path, result: Verdict, *, title: str, chart_title: str, chart: str
) -> None:
    """report.json (the checks and figures) and report.html in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    report = {
        "ok": result.ok,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks],
        "figures": result.figures,
    }
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (directory / "report.html").write_text(_page(result, title, chart_title, chart))


def _page(result: Verdict, title: str, chart_title: str, chart: str) -> str:
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
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title.lower())}</title>"
        "<style>body{font:14px system-ui;margin:2em}td,th{padding:2px 8px;text-align:left;"
        "vertical-align:top}</style>"
        f"<h1>{html.escape(title)}: {verdict}</h1>"
        f"<h2>Checks</h2><table>{rows}</table>"
        f"<h2>{html.escape(chart_title)}</h2>{chart}"
        f"<h2>Figures</h2><table>{listed}</table>"
    )


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def series_chart(
    t: list[float],
    lines: Sequence[tuple[list[int], str]],
    top: int,
    legend: str,
    *,
    level: int | None = None,
) -> str:
    """Each (values, colour) of `lines` over seconds since the release `t`, as
    polylines scaled to `top`; `level` (the stock) as a red dashed line."""
    span = max(t[-1], 1e-9)

    def line(values: list[int], colour: str) -> str:
        points = " ".join(
            f"{x / span * WIDTH:.1f},{HEIGHT - v / top * HEIGHT:.1f}"
            for x, v in zip(t, values, strict=True)
        )
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'

    marked = ""
    if level is not None:
        y = HEIGHT - level / top * HEIGHT
        marked = (
            f'<line x1="0" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c00" '
            'stroke-dasharray="4"/>'
        )
    return (
        f'<svg width="{WIDTH}" height="{HEIGHT + 20}" viewBox="0 -5 {WIDTH} {HEIGHT + 25}">'
        f"{marked}{''.join(line(values, colour) for values, colour in lines)}"
        f'<text x="0" y="{HEIGHT + 15}">0 s</text>'
        f'<text x="{WIDTH - 60}" y="{HEIGHT + 15}">{span:.1f} s</text></svg>'
        f"<p>{legend}</p>"
    )
