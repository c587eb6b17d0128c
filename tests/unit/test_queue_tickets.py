"""A waiting room's tickets: any holder of the key verifies one, and nothing else passes."""

from __future__ import annotations

import pytest

from flashsale.queue_tickets import Ticket, ticket_text, verified_ticket

KEY = bytes(range(32))
TICKET = Ticket(sale_id=3, number=17, issued_at_s=1_796_578_242, user_id="alice é")


def test_a_ticket_verifies_under_its_key_and_names_its_holder() -> None:
    text = ticket_text(KEY, TICKET)
    assert verified_ticket(KEY, text) == TICKET
    assert ticket_text(KEY, TICKET) == text  # derived: the same every time


def test_another_key_refuses_it() -> None:
    assert verified_ticket(bytes(32), ticket_text(KEY, TICKET)) is None


@pytest.mark.parametrize(
    "altered",
    [
        TICKET._replace(sale_id=4),
        TICKET._replace(number=18),
        TICKET._replace(issued_at_s=1),
        TICKET._replace(user_id="mallory"),
    ],
)
def test_a_ticket_with_any_part_changed_is_refused(altered: Ticket) -> None:
    mac = ticket_text(KEY, TICKET).rpartition(".")[2]
    forged_parts = ticket_text(KEY, altered).split(".")[:4]
    assert verified_ticket(KEY, ".".join([*forged_parts, mac])) is None


@pytest.mark.parametrize(
    "text",
    ["", "x", "1.2.3.4", "1.2.3.4.5.6", "a.b.c.d.e", "1.2.3.!!.xx", "1.2.3.YQ.é", "9" * 2000],
)
def test_malformed_text_is_refused_without_an_exception(text: str) -> None:
    assert verified_ticket(KEY, text) is None


def test_only_the_spelling_issued_is_taken() -> None:
    """base64url's last character may carry unused bits: another spelling of the same
    bytes is not the ticket issued."""
    text = ticket_text(KEY, TICKET)
    head, _, mac = text.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spellings = [f"{head}.{mac[:-1]}{c}" for c in alphabet if c != mac[-1]]
    assert all(verified_ticket(KEY, spelling) is None for spelling in spellings)
    assert verified_ticket(KEY, "0" + text) is None  # a sale id with a leading zero
