"""The toolkit's receiver catches what a shop's backend must refuse: a forged signature,
a replayed delivery, a stale timestamp (and accepts a genuine one, once)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import requests

from stress.servers.webhook_receiver import WebhookReceiver, sign_for_test
from tests.support.webhooks import SECRET

BODY = json.dumps(
    {"type": "order.confirmed", "timestamp": "2025-01-01T00:00:00Z", "data": {"orderId": "o-1"}}
)
OTHER_SECRET = "whsec_" + base64.b64encode(b"not-the-shop-s-key-at-all-32byte").decode()


def test_a_genuine_delivery_is_accepted_and_recorded():
    receiver = WebhookReceiver(SECRET)
    verdict = receiver.receive(BODY.encode(), sign_for_test(SECRET, "evt_1", BODY))
    assert (verdict.status, verdict.reason) == (200, "accepted")
    assert [(a.webhook_id, a.type, a.data) for a in receiver.received()] == [
        ("evt_1", "order.confirmed", {"orderId": "o-1"})
    ]


def test_a_forged_signature_is_caught():
    receiver = WebhookReceiver(SECRET)
    forged = sign_for_test(OTHER_SECRET, "evt_1", BODY)
    assert receiver.receive(BODY.encode(), forged).reason == "forged"
    # A genuine signature over another body: the body was tampered with.
    tampered = sign_for_test(SECRET, "evt_1", BODY)
    assert receiver.receive(BODY.replace("o-1", "o-2").encode(), tampered).status == 400
    # Another message's signature under this id.
    moved = sign_for_test(SECRET, "evt_2", BODY) | {"webhook-id": "evt_1"}
    assert receiver.receive(BODY.encode(), moved).reason == "forged"
    assert receiver.received() == []


def test_a_replayed_delivery_is_caught_by_its_id():
    receiver = WebhookReceiver(SECRET)
    headers = sign_for_test(SECRET, "evt_1", BODY)
    assert receiver.receive(BODY.encode(), headers).reason == "accepted"
    replay = receiver.receive(BODY.encode(), headers)
    assert (replay.status, replay.reason) == (200, "duplicate")
    assert len(receiver.received()) == 1


def test_a_stale_or_future_timestamp_is_refused():
    receiver = WebhookReceiver(SECRET, tolerance_s=60)
    old = sign_for_test(SECRET, "evt_1", BODY, datetime.now(UTC) - timedelta(minutes=2))
    assert receiver.receive(BODY.encode(), old).reason == "stale"
    ancient = sign_for_test(SECRET, "evt_1", BODY, datetime.now(UTC) - timedelta(hours=1))
    assert receiver.receive(BODY.encode(), ancient).reason == "stale"
    future = sign_for_test(SECRET, "evt_1", BODY, datetime.now(UTC) + timedelta(hours=1))
    assert receiver.receive(BODY.encode(), future).reason == "stale"
    assert receiver.received() == []


def test_on_the_wire_it_fails_on_purpose_then_accepts():
    with WebhookReceiver(SECRET) as receiver:
        receiver.fail_for(60)
        headers = sign_for_test(SECRET, "evt_1", BODY)
        assert requests.post(receiver.url, data=BODY, headers=headers, timeout=5).status_code == 500
        receiver.fail_for(0)
        assert requests.post(receiver.url, data=BODY, headers=headers, timeout=5).status_code == 200
        assert [a.webhook_id for a in receiver.received()] == ["evt_1"]
