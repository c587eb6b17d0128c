"""The checkout run's report: report.json and a self-contained report.html (the checks
with their figures, the answers counted, and held / live units over the run)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from stress.report.verdict_page import series_chart, write_verdict_report

if TYPE_CHECKING:
    from stress.scenarios.checkout import CheckoutResult


def write_checkout_report(directory: Path, result: CheckoutResult) -> None:
    write_verdict_report(
        directory,
        result,
        title="Checkout flash sale",
        chart_title="Held and live units (status samples)",
        chart=_chart(result.figures.get("series")),
    )


def _chart(series: Any) -> str:
    """Live (sold) and held over seconds since the release."""
    if not isinstance(series, dict) or not series.get("t"):
        return "<p>no samples</p>"
    sold, held, stock = series["sold"], series["held"], series["stock"]
    return series_chart(
        series["t"],
        [(sold, "#06c"), (held, "#e80")],
        max(stock, *sold, 1),
        "blue: live (held + confirmed), orange: held, red dashes: stock",
        level=stock,
    )
