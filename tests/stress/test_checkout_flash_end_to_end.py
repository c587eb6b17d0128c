"""The checkout flash scenario (`python -m stress flash --hold-seconds`) against a real
server: 300 shoppers for 30 units held 5 s (the least the API takes), a third
abandoning and a tenth paying late, the sold-out ones on the waitlist; the verdict
passes. With the toolkit's webhook receiver, every event the orders' final states
imply must arrive signed."""

from __future__ import annotations

import pytest

from stress.scenarios.checkout import CheckoutOptions, format_checkout, run_checkout
from stress.scenarios.pay_delay import parse_pay_delay
from stress.servers.gunicorn_server import free_port
from tests.support.server import running_server
from tests.support.webhooks import SECRET, webhook_env

ADMIN_TOKEN = "admin-token-for-checkout-stress"


def _options(url: str, **more: object) -> CheckoutOptions:
    return CheckoutOptions(
        url=url,
        admin_token=ADMIN_TOKEN,
        users=300,
        stock=30,
        hold_s=2,  # the 2 s holds
        pay_delay=parse_pay_delay("uniform:0.2-1.5"),
        abandon_rate=0.33,
        late_rate=0.1,
        max_run_s=120,
        **more,  # type: ignore[arg-type]
    )


@pytest.mark.timeout(240)
def test_the_checkout_flash_verdict_passes(tmp_path) -> None:
    env = {"FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN}
    with running_server(tmp_path / "j.db", workers=2, env=env) as server:
        result = run_checkout(_options(server.url))
    assert result.ok, format_checkout(result)
    figures = result.figures
    # The scenario did what it is for: holds expired, offers were made and taken.
    assert figures["orders"].get("expired", 0) > 0, figures
    assert figures["waitlist"].get("offered", 0) > 0, figures
    assert figures["orders"]["confirmed"] <= 30


@pytest.mark.timeout(240)
def test_every_webhook_of_a_checkout_flash_arrives(tmp_path) -> None:
    port = free_port()
    env = {
        "FLASHSALE_ADMIN_TOKEN": ADMIN_TOKEN,
        **webhook_env(f"http://127.0.0.1:{port}/webhooks"),
    }
    with running_server(tmp_path / "j.db", workers=2, env=env) as server:
        result = run_checkout(_options(server.url, webhook_secret=SECRET, webhook_port=port))
    assert result.ok, format_checkout(result)
