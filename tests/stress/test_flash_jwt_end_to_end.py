"""Flash sales end to end in jwt mode, against a real gunicorn server started with
FLASHSALE_AUTH=jwt: every shopper holds a token of its own (sub = its id), the
body names nobody, and the look-ups ask for `/flash-sale/purchase/me`.

Asserts the invariants, never the speed (see test_flash_end_to_end.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stress.report.summary import format_summary
from stress.scenarios.flash import FlashOptions, run_flash
from stress.scenarios.identity import SigningKey
from stress.scenarios.plans import ScenarioOptions
from tests.support.command_line import command_line
from tests.support.server import running_server

TOKEN = "stress-e2e-token"
SECRET = "stress-e2e-jwt-secret-of-32-bytes-or-more"
ENV = {"FLASHSALE_ADMIN_TOKEN": TOKEN, "FLASHSALE_AUTH": "jwt", "FLASHSALE_JWT_SECRET": SECRET}


def failures(result) -> str:
    return "\n".join(f"{c.name}: {c.detail}" for c in result.verdict.failed())


def signing() -> SigningKey:
    key = SigningKey.from_options(secret=SECRET)
    assert key is not None
    return key


@pytest.mark.timeout(240)
def test_a_signed_burst_sells_exactly_the_stock_and_bots_cannot_buy_as_others(tmp_path):
    users, stock = 300, 40
    with running_server(tmp_path / "sale.db", workers=2, env=ENV) as server:
        assert server.status()["auth"]["mode"] == "jwt"
        burst = run_flash(
            FlashOptions(
                url=server.url,
                users=users,
                stock=stock,
                processes=2,
                admin_token=TOKEN,
                scenario=ScenarioOptions("burst", users=users),
                fairness_tolerance_ms=5000.0,
                progress=False,
                signing=signing(),
            )
        )
        bots = run_flash(
            FlashOptions(
                url=server.url,
                users=120,
                stock=30,
                processes=2,
                admin_token=TOKEN,
                scenario=ScenarioOptions("bots", users=120, bots=20, bot_attempts=12),
                fairness_tolerance_ms=5000.0,
                progress=False,
                signing=signing(),
                report_dir=tmp_path / "bots",
            )
        )

    assert burst.verdict.ok, failures(burst)
    assert burst.verdict.confirmed == stock
    assert burst.figures["outcomes"].get("confirmed") == stock
    assert burst.report["run"]["auth"]["algorithm"] == "HS256"
    assert burst.verdict.identity["tokensRefused"] == 0

    assert bots.verdict.ok, failures(bots)
    identity = bots.verdict.identity
    assert identity["botTokens"] == 20 and identity["refusedAsAnotherId"] > 0
    assert identity["acceptedAsAnotherId"] == 0 and identity["mostOrdersOfABotToken"] <= 1
    written = json.loads((tmp_path / "bots" / "report.json").read_text())
    assert written["verdict"]["identity"]["refusedAsAnotherId"] == identity["refusedAsAnotherId"]
    assert SECRET not in (tmp_path / "bots" / "report.json").read_text()
    assert (
        "jwt mode: one HS256 token per shopper" in (tmp_path / "bots" / "report.html").read_text()
    )
    assert "refused as another id (403)" in format_summary(bots)
    claimed = (tmp_path / "bots" / "records.csv").read_text()
    assert "claimed_as" in claimed.splitlines()[0]


@pytest.mark.timeout(120)
def test_the_command_refuses_a_mode_the_server_is_not_in(tmp_path):
    with running_server(tmp_path / "sale.db", workers=1, env=ENV) as server:
        done = subprocess.run(
            command_line(
                [sys.executable, "-m", "stress", "flash"],
                {"--url": server.url, "--users": 5, "--admin-token": TOKEN, "--no-progress": None},
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert "pass --jwt-secret or --jwt-key-file" in done.stderr
