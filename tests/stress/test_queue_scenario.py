"""The waiting-room scenario (`python -m stress flash --queue`) whole, client processes
and all, against tests/stress/queue_double.py: it passes against a server that keeps the
contract, and each check fails against one that breaks it the way that check is for.

The double's shuffle is a real one (SystemRandom): at 95 % a true shuffle's interval
misses 0 one run in twenty, so these runs judge the shuffle at 99.9 %."""

from __future__ import annotations

import pytest

from stress.scenarios.queue import QueueResult, format_queue, run_queue
from stress.scenarios.queue_plans import QueueOptions
from tests.stress.queue_double import QueueDouble

SHUFFLED = "the pre-queue shuffled (place not by join time)"
SKIPPERS = "queue-skippers bought nothing"
RATE = "the admission rate held"
SOLD_OUT = "nobody admitted after the sell-out; the queue closed"


def _run(url: str) -> QueueResult:
    return run_queue(
        QueueOptions(
            url=url,
            admin_token="not-checked-by-the-double",
            people=160,
            stock=60,  # 3 s of admissions at 1200/min
            admit_per_minute=1200,
            admitted_s=30,
            prequeue_s=2.0,
            later_s=2.0,
            prequeue_share=0.5,
            skippers=9,
            replays=3,
            processes=2,
            status_poll_s=0.1,
            ticket_poll_s=5.0,
            confidence=0.999,
            resamples=1000,
            progress=False,
        )
    )


@pytest.mark.timeout(120)
def test_a_server_keeping_the_contract_passes() -> None:
    with QueueDouble() as server:
        result = _run(server.url)
    assert result.ok, format_queue(result)
    figures = result.figures
    assert figures["sold"] == 60 and figures["prequeue"] == 80
    assert figures["rank"]["tickets"] == 80 and figures["rate"]["perMinute"] is not None
    answers = figures["answers"]
    assert answers["join 201"] == 160 + 3  # every person and forger once; other tabs 200
    assert answers["join 200"] > 0
    kinds = {a.split()[1] for a in answers if a.startswith("skipper")}
    assert kinds == {"no_ticket", "forged", "stolen"}
    assert "replayed 3" in next(c.detail for c in result.checks if c.name == SKIPPERS)


@pytest.mark.timeout(120)
def test_each_broken_promise_fails_its_check() -> None:
    flaws = ("no_shuffle", "any_ticket", "fast", "after_sell_out")
    with QueueDouble(flaws) as server:
        result = _run(server.url)
    failed = {check.name for check in result.checks if not check.ok}
    assert {SHUFFLED, SKIPPERS, RATE, SOLD_OUT} <= failed, format_queue(result)
    shuffle = next(c for c in result.checks if c.name == SHUFFLED)
    assert result.figures["rank"]["rho"] == pytest.approx(1.0), shuffle.detail


def test_every_tampered_ticket_is_a_forgery_to_the_service() -> None:
    """The forgers' altered tickets never verify under the service's own check. (They
    never change a part's last character: its unused base64url bits let some other
    characters decode to the very same ticket, which is no forgery.)"""
    import random

    from flashsale.queue_tickets import Ticket, ticket_text, verified_ticket
    from stress.client.queue_shopper import _random_like, _tampered

    key = b"k" * 32
    text = ticket_text(key, Ticket(1, 17, 1_765_000_000, "e9a7ed-p00058"))
    rng = random.Random(3)
    for _ in range(500):
        assert verified_ticket(key, _tampered(text, rng)) is None
        assert verified_ticket(key, _random_like(text, rng)) is None
