"""A flash run with an operator's pause against a real gunicorn server: 300
shoppers arriving over 3 s (soak) for 300 items, the sale paused 1 s after the
release and resumed 1.5 s later. Shoppers told "paused" come back after
Retry-After and buy; the verdict compares the orders' purchasedAt with the pause
and resume as the server recorded them. Asserts the invariants, never the speed.
"""

from __future__ import annotations

import json

import pytest

from stress.api import iso_to_ms
from stress.api_client import Api
from stress.report.summary import format_summary
from stress.scenarios.flash import FlashOptions, run_flash
from stress.scenarios.operator import PausePlan
from stress.scenarios.plans import ScenarioOptions
from tests.support.server import running_server

USERS = STOCK = 300
TOKEN = "stress-pause-token"


@pytest.mark.timeout(240)
def test_a_pause_mid_run_confirms_nothing_inside_it_and_loses_nothing(tmp_path):
    env = {"FLASHSALE_ADMIN_TOKEN": TOKEN}
    with running_server(tmp_path / "sale.db", workers=2, env=env) as server:
        result = run_flash(
            FlashOptions(
                url=server.url,
                users=USERS,
                stock=STOCK,
                processes=2,
                admin_token=TOKEN,
                report_dir=tmp_path / "report",
                scenario=ScenarioOptions("soak", users=USERS, duration_s=3.0),
                pause=PausePlan(pause_at_s=1.0, resume_after_s=1.5),
                fairness_tolerance_ms=5000.0,
                progress=False,
            )
        )
        api = Api(server.url, TOKEN)
        try:
            orders = api.orders(str(result.report["sale"]["facts"]["sale_id"]))
        finally:
            api.close()

    verdict = result.verdict
    assert verdict.ok, "\n".join(f"{c.name}: {c.detail}" for c in verdict.failed())
    assert verdict.confirmed == STOCK
    pause = result.figures["pause"]
    assert pause["pausedAnswers"] > 0  # shoppers arrived while it held
    assert pause["recordedPauseS"] >= 1.5
    assert pause["confirmedBeforePause"] > 0 and pause["confirmedAfterResume"] > 0
    # Independently of the verdict: no order of the server's list inside the window.
    inside = [
        o
        for o in orders
        if pause["pausedAtMs"] < iso_to_ms(o["purchasedAt"]) < pause["resumedAtMs"]
    ]
    assert len(orders) == STOCK and inside == []
    names = {check.name for check in verdict.checks}
    assert "no purchase confirmed inside the paused window (server's purchasedAt)" in names
    written = json.loads((tmp_path / "report" / "report.json").read_text())
    assert written["figures"]["pause"]["pausedAt"] == pause["pausedAt"]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "The operator's pause" in html and 'class="band"' in html
    assert "PAUSE" in format_summary(result)
