"""A delivery on the wire, to the toolkit's receiver: signed so that it verifies, kept
alive across deliveries, and failed (never raised) when the receiver fails."""

from __future__ import annotations

from flashsale.webhooks.delivery import Deliverer
from flashsale.webhooks.outbox import OutboxRow
from stress.servers.webhook_receiver import WebhookReceiver
from tests.support.webhooks import SECRET

PAYLOAD = '{"type":"order.confirmed","timestamp":"2026-01-01T00:00:00Z","data":{"orderId":"o"}}'


def _row(seq: int) -> OutboxRow:
    return OutboxRow(seq, f"evt_{seq:024x}", "order.confirmed", "o", 1, 0, PAYLOAD)


def test_deliveries_verify_and_a_receiver_that_restarted_is_reached_on_a_new_connection():
    with WebhookReceiver(SECRET) as receiver:
        deliverer = Deliverer(receiver.url, SECRET, timeout_s=5)
        assert deliverer.deliver(_row(1)).ok and deliverer.deliver(_row(2)).ok
        receiver.down()
        refused = deliverer.deliver(_row(3))
        assert not refused.ok and "ConnectionRefused" in refused.error
        receiver.start()
        assert deliverer.deliver(_row(3)).ok
        receiver.fail_for(60)
        assert deliverer.deliver(_row(4)).error == "HTTP 500"
        assert [a.webhook_id for a in receiver.received()] == [_row(n).event_id for n in (1, 2, 3)]
        assert receiver.counts.get("forged", 0) == 0
        deliverer.close()


def test_a_kept_connection_closed_by_the_receiver_is_tried_once_more():
    with WebhookReceiver(SECRET) as receiver:
        deliverer = Deliverer(receiver.url, SECRET, timeout_s=5)
        assert deliverer.deliver(_row(1)).ok
        receiver.down()
        receiver.start()  # the same port; the kept connection is dead
        assert deliverer.deliver(_row(2)).ok
        deliverer.close()
