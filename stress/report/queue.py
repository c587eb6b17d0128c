"""The waiting-room run's report: report.json and a self-contained report.html (the
checks with their figures, and the queue over the run: now serving, waiting, sold)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from stress.report.verdict_page import series_chart, write_verdict_report

if TYPE_CHECKING:
    from stress.scenarios.queue import QueueResult

LINES = (("serving", "#06c"), ("waiting", "#e80"), ("sold", "#090"))


def write_queue_report(directory: Path, result: QueueResult) -> None:
    write_verdict_report(
        directory,
        result,
        title="Waiting-room flash sale",
        chart_title="The queue over the run (status samples)",
        chart=_chart(result.figures.get("series")),
    )


def _chart(series: Any) -> str:
    """Serving, waiting and sold over seconds since the release."""
    if not isinstance(series, dict) or not series.get("t"):
        return "<p>no samples</p>"
    top = max(1, *(max(series[name], default=0) for name, _ in LINES))
    return series_chart(
        series["t"],
        [(series[name], colour) for name, colour in LINES],
        top,
        "blue: now serving (highest place admitted), orange: tickets waiting, "
        f"green: sold; top {top}",
    )
