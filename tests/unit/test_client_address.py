"""Whose address a request is counted under: X-Forwarded-For hops are addresses or nothing."""

from __future__ import annotations

import pytest

from flashsale.api.client_address import ClientAddress, counted_as, parse_ip

PROXIES = ClientAddress(("127.0.0.1", "10.0.0.0/8"))


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the rightmost untrusted hop
        ("203.0.113.9, 10.1.2.3", "203.0.113.9"),  # through a second trusted proxy
        (" 203.0.113.9 ,\t10.1.2.3 ", "203.0.113.9"),  # blanks around hops
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:DB8:0:0::1", "2001:db8::1"),  # logged in its canonical form
        ("10.1.2.3", "10.1.2.3"),  # every hop trusted: the first of them
        # An unparsable hop: nothing left of it is believed, the last trusted one is the client.
        ("<script>", "127.0.0.1"),
        ("203.0.113.9\t[INFO] forged line", "127.0.0.1"),
        ("203.0.113.9:443", "127.0.0.1"),
        ("fe80::1%eth0", "127.0.0.1"),
        ("unknown", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("203.0.113.9, ", "127.0.0.1"),
        ("203.0.113.9, garbage, 10.1.2.3", "10.1.2.3"),
        ("198.51.100.1, 203.0.113.900", "127.0.0.1"),
        ("a" * 8000, "127.0.0.1"),
    ],
)
def test_the_client_behind_a_trusted_peer(forwarded, client):
    assert PROXIES.client_of("127.0.0.1", forwarded) == client


def test_only_ip_addresses_parse():
    assert str(parse_ip("192.0.2.1")) == "192.0.2.1"
    assert str(parse_ip("::ffff:192.0.2.1")) == "192.0.2.1"
    for text in ("", "192.0.2.1 ", "192.0.2", "01.2.3.4", "fe80::1%<b>", "[::1]", "::1:80x"):
        assert parse_ip(text) is None, text


def test_ipv6_clients_are_counted_by_their_64():
    assert (
        counted_as("2001:db8:1:2::1") == counted_as("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert counted_as("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert counted_as("203.0.113.9") == "203.0.113.9"
    assert counted_as("::ffff:203.0.113.9") == "203.0.113.9"
    assert counted_as("") == ""  # a peer with no address (a unix socket)


def test_trust_needs_a_parsed_address():
    assert PROXIES.is_trusted("10.9.9.9") and not PROXIES.is_trusted("203.0.113.9")
    assert not PROXIES.is_trusted("10.9.9.9:80") and not PROXIES.is_trusted("")
    assert ClientAddress(("*",)).is_trusted("203.0.113.9")
