"""The checkout and waiting-room runs' reports: report.json with the checks and figures,
report.html with the checks, the chart of the run and the figures."""

from __future__ import annotations

import json
from pathlib import Path

from stress.report.checkout import write_checkout_report
from stress.report.queue import write_queue_report
from stress.scenarios.checkout import CheckoutResult
from stress.scenarios.queue import QueueResult
from stress.verdicts.check import Check

CHECKS = [Check("exactly the stock sold", True, "100 of 100"), Check("<rate>", False, "-7 %")]


def test_the_checkout_report(tmp_path: Path) -> None:
    series = {"t": [0.0, 1.0, 2.0], "sold": [0, 60, 100], "held": [0, 40, 10], "stock": 100}
    write_checkout_report(tmp_path, CheckoutResult(CHECKS, {"sold": 100, "series": series}))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] is False and report["checks"][0]["name"] == "exactly the stock sold"
    page = (tmp_path / "report.html").read_text()
    assert "<h1>Checkout flash sale: FAILED</h1>" in page
    assert "&lt;rate&gt;" in page and "<b>FAIL</b>" in page  # escaped, and marked
    assert page.count("<polyline") == 2 and 'stroke-dasharray="4"' in page  # the stock


def test_the_waiting_room_report(tmp_path: Path) -> None:
    series = {"t": [0.0, 5.0], "serving": [0, 50], "waiting": [90, 40], "sold": [0, 45]}
    write_queue_report(tmp_path, QueueResult(CHECKS[:1], {"sold": 45, "series": series}))
    page = (tmp_path / "report.html").read_text()
    assert "<h1>Waiting-room flash sale: PASSED</h1>" in page
    assert page.count("<polyline") == 3 and "top 90" in page
    assert "<th>sold</th><td>45</td>" in page and "<th>series</th>" not in page
    write_queue_report(tmp_path, QueueResult(CHECKS[:1], {"series": {"t": []}}))
    assert "<p>no samples</p>" in (tmp_path / "report.html").read_text()
