"""Inline SVG charts for the HTML reports (no JavaScript, no CDN)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

OUTCOME_COLOURS = {
    "confirmed": "#2e9d4a",
    "sold_out": "#7d8fa3",
    "already_purchased": "#e69b22",
    "rate_limited": "#8e5cc4",
    "unavailable": "#d9534f",
    "pending": "#f0c419",
    "not_started": "#5bc0de",
    "paused": "#e377c2",
    "ended": "#555555",
    "error": "#111111",
}
FALLBACK_COLOURS = ("#b5651d", "#ff69b4", "#008b8b", "#9acd32", "#4b0082")
LINE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 52, 48
LEGEND_Y = 28


def colour_of(name: str, index: int = 0) -> str:
    if name in OUTCOME_COLOURS:
        return OUTCOME_COLOURS[name]
    if name.startswith("http_5"):
        return "#a00000"
    return FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)]


def stacked_bars(
    title: str,
    x_labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    x_title: str,
    y_title: str,
    width: int = 1000,
    height: int = 320,
    label_every: int | None = None,
    band: tuple[float, float, str] | None = None,
) -> str:
    """Stacked bars, one stack per x position, one colour per series (with a legend);
    `band` (from, to, label) shades that span behind the bars, in x positions (bar
    widths from the left, fractions allowed)."""
    count = len(x_labels)
    totals = [sum(values[i] for values in series.values()) for i in range(count)]
    top = _nice_ceiling(max(totals, default=0) or 1)
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    bar_w = plot_w / max(count, 1)
    parts = [_frame(title, width, height), _y_axis(top, plot_h, y_title)]
    if band is not None:
        parts.append(_band(band, bar_w, count, plot_h))
    bottoms = [0.0] * count
    for index, (name, values) in enumerate(series.items()):
        colour = colour_of(name, index)
        for i, value in enumerate(values):
            if value <= 0:
                continue
            h = plot_h * value / top
            y = MARGIN_TOP + plot_h - plot_h * bottoms[i] / top - h
            parts.append(
                f'<rect x="{MARGIN_LEFT + i * bar_w + 0.5:.2f}" y="{y:.2f}" '
                f'width="{max(bar_w - 1, 0.8):.2f}" height="{h:.2f}" fill="{colour}">'
                f"<title>{escape(name)} {escape(x_labels[i])}: {value:g}</title></rect>"
            )
            bottoms[i] += value
    step = label_every or max(1, math.ceil(count / 12))
    for i in range(0, count, step):
        x = MARGIN_LEFT + i * bar_w + bar_w / 2
        parts.append(_text(x, height - MARGIN_BOTTOM + 16, x_labels[i], anchor="middle", size=11))
    parts.append(_text(MARGIN_LEFT + plot_w / 2, height - 8, x_title, anchor="middle"))
    parts.append(_legend(list(series), width))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str,
    xs: Sequence[float],
    series: dict[str, Sequence[float | None]],
    *,
    x_title: str,
    y_title: str,
    width: int = 520,
    height: int = 320,
) -> str:
    """Lines with point markers over categorical x values (e.g. worker counts)."""
    values = [v for row in series.values() for v in row if v is not None]
    top = _nice_ceiling(max(values, default=0) or 1)
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_w / max(len(xs), 1)
    parts = [_frame(title, width, height), _y_axis(top, plot_h, y_title)]
    for i, x in enumerate(xs):
        parts.append(
            _text(
                MARGIN_LEFT + step * (i + 0.5),
                height - MARGIN_BOTTOM + 16,
                f"{x:g}",
                anchor="middle",
                size=11,
            )
        )
    for index, (name, row) in enumerate(series.items()):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        points = [
            (MARGIN_LEFT + step * (i + 0.5), MARGIN_TOP + plot_h - plot_h * v / top, v)
            for i, v in enumerate(row)
            if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for x, y, v in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
                f"<title>{escape(name)}: {v:g}</title></circle>"
            )
    parts.append(_text(MARGIN_LEFT + plot_w / 2, height - 8, x_title, anchor="middle"))
    parts.append(_legend(list(series), width, colours=LINE_COLOURS))
    parts.append("</svg>")
    return "".join(parts)


def _band(band: tuple[float, float, str], bar_w: float, count: int, plot_h: float) -> str:
    """A shaded span of the plot with its label at the top, clipped to the plot."""
    start, end, label = band
    left = MARGIN_LEFT + max(0.0, min(start, count)) * bar_w
    right = MARGIN_LEFT + max(0.0, min(end, count)) * bar_w
    return (
        f'<rect class="band" x="{left:.2f}" y="{MARGIN_TOP}" width="{max(right - left, 1.0):.2f}" '
        f'height="{plot_h:.2f}" fill="#f0c419" fill-opacity="0.25" stroke="#c9a000" '
        f'stroke-dasharray="4 3"><title>{escape(label)}</title></rect>'
        + _text(left + 4, MARGIN_TOP + 14, label, size=11)
    )


def _frame(title: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
        + _text(MARGIN_LEFT, 18, title, size=14, weight="bold")
    )


def _y_axis(top: float, plot_h: float, y_title: str) -> str:
    parts = []
    for tick in range(5):
        value = top * tick / 4
        y = MARGIN_TOP + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="100%" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
        )
        parts.append(_text(MARGIN_LEFT - 6, y + 4, _short(value), anchor="end", size=11))
    parts.append(
        f'<text transform="translate(14,{MARGIN_TOP + plot_h / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_title)}</text>'
    )
    return "".join(parts)


def _legend(names: list[str], width: int, colours: Sequence[str] | None = None) -> str:
    """One row under the title, left to right."""
    parts = []
    x = MARGIN_LEFT
    for index, name in enumerate(names):
        colour = colours[index % len(colours)] if colours else colour_of(name, index)
        parts.append(f'<rect x="{x}" y="{LEGEND_Y}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, LEGEND_Y + 10, name, size=11))
        x += 7 * len(name) + 30
    return "".join(parts)


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, weight: str = "normal"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}">{escape(str(text))}</text>'
    )


def _nice_ceiling(value: float) -> float:
    exponent = math.floor(math.log10(value))
    for factor in (1, 2, 4, 5, 8, 10):  # quarters of these make round tick labels
        candidate: float = factor * 10**exponent
        if candidate >= value:
            return candidate
    top: float = 10 ** (exponent + 1)
    return top


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"
