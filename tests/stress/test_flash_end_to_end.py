"""One small flash sale end to end: 500 shoppers, 50 items, a real gunicorn server.

Asserts the invariants, never the speed. Fairness is judged with a wide tolerance
because client send times on a loaded CI machine are only a rough arrival order.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stress.flash import FlashOptions, run_flash
from stress.scenarios import ScenarioOptions
from tests.support.server import GUNICORN_CONF, running_server

pytestmark = pytest.mark.skipif(
    not GUNICORN_CONF.exists(), reason="the backend (gunicorn.conf.py) is not in this checkout"
)

USERS = 500
STOCK = 50
TOKEN = "stress-e2e-token"


@pytest.mark.timeout(240)
def test_a_500_shopper_burst_for_50_items_behaves(tmp_path):
    env = {"FLASHSALE_ADMIN_TOKEN": TOKEN, "FLASHSALE_STOCK": str(STOCK)}
    with running_server(tmp_path / "sale.db", workers=2, env=env) as server:
        result = run_flash(
            FlashOptions(
                url=server.url,
                users=USERS,
                stock=STOCK,
                processes=3,
                admin_token=TOKEN,
                report_dir=tmp_path / "report",
                scenario=ScenarioOptions("burst", users=USERS),
                fairness_tolerance_ms=5000.0,
                progress=False,
            )
        )

    verdict = result.verdict
    assert verdict.ok, "\n".join(f"{c.name}: {c.detail}" for c in verdict.failed())
    assert verdict.confirmed == STOCK
    assert result.figures["outcomes"].get("confirmed") == STOCK
    assert result.figures["purchaseRequests"] >= USERS
    # The server's own CPU over the load, read from its metrics before and after.
    assert result.report["run"]["serverCpuS"] > 0
    written = json.loads((tmp_path / "report" / "report.json").read_text())
    assert written["verdict"]["ok"] is True
    assert (tmp_path / "report" / "report.html").read_text().count("<svg") == 2


@pytest.mark.timeout(240)
def test_the_ceiling_starts_the_reference_app_and_compares_both(tmp_path):
    env = {"FLASHSALE_ADMIN_TOKEN": TOKEN}
    with running_server(tmp_path / "ceiling.db", workers=2, env=env) as server:
        done = subprocess.run(
            [sys.executable, "-m", "stress", "ceiling", "--url", server.url, "--admin-token",
             TOKEN, "--seconds", "2", "--rounds", "1", "--connections", "16",
             "--burst-users", "400", "--burst-stock", "25", "--report", str(tmp_path)],
            capture_output=True, text=True, timeout=200, check=False,
        )  # fmt: skip
        sold = server.status()["sold"]
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads((tmp_path / "ceiling.json").read_text())
    assert figures["durable"] and figures["burstExact"] and sold == 25
    assert figures["reference"]["status"]["perSecond"] > 0
    assert figures["reference"]["burst"]["answered"] == 400
    assert figures["server"]["burst"]["codes"] == {"201": 25, "410": 375}
    assert figures["statusFraction"] > 0 and figures["purchaseFraction"] > 0
    assert "TARGETS" in done.stdout and "of the reference" in done.stdout
