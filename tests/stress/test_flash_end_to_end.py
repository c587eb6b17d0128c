"""One small flash sale end to end: 500 shoppers, 50 items, a real gunicorn server.

Asserts the invariants, never the speed. Fairness is judged with a wide tolerance
because client send times on a loaded CI machine are only a rough arrival order.
"""

from __future__ import annotations

import json

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
