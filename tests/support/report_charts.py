"""The charts of a stress report's HTML, read back as a reader of the page would."""

from __future__ import annotations

import re

BAR = re.compile(r"<title>(\w+) [^<:]*: ([0-9.e+-]+)</title></rect>")


def charts(page: str) -> list[str]:
    charts = re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL)
    assert len(charts) == 2, "answers over time, and the latency histogram"
    return charts


def bar_totals(chart: str) -> dict[str, float]:
    """The sum of the bars' values per series, read back from their titles."""
    totals: dict[str, float] = {}
    for name, value in BAR.findall(chart):
        totals[name] = totals.get(name, 0.0) + float(value)
    return totals
